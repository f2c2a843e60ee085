public import IdentityRiskCore

/// Who gets which ``Permission`` (iriskd `--grant read:gid=1001 --grant readWrite:uid=1000`),
/// decided per connection from the peer's credentials (SO_PEERCRED).
public struct PermissionGrant: Sendable, Hashable, CustomStringConvertible {
    public enum Subject: Sendable, Hashable {
        case uid(UInt32)
        case gid(UInt32)
    }

    public var permission: Permission
    public var subject: Subject

    public init(_ permission: Permission, to subject: Subject) {
        self.permission = permission
        self.subject = subject
    }

    /// Parses `read:uid=1000`, `readWrite:gid=1001`.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, let permission = Permission(rawValue: parts[0]) else { return nil }
        let subject = parts[1].split(separator: "=", maxSplits: 1).map(String.init)
        guard subject.count == 2, let id = UInt32(subject[1]) else { return nil }
        switch subject[0] {
        case "uid": self.init(permission, to: .uid(id))
        case "gid": self.init(permission, to: .gid(id))
        default: return nil
        }
    }

    public static let format = "PERMISSION:uid=N or PERMISSION:gid=N, PERMISSION one of read, readWrite (e.g. read:gid=1001)"

    public var description: String {
        switch subject {
        case .uid(let uid): "\(permission.rawValue):uid=\(uid)"
        case .gid(let gid): "\(permission.rawValue):gid=\(gid)"
        }
    }

    public func applies(to peer: PeerIdentity) -> Bool {
        switch subject {
        case .uid(let uid): peer.uid == uid
        case .gid(let gid): peer.gid == gid
        }
    }
}

/// The grants of one server. Without any grant every peer that can open the
/// socket gets `readWrite` (the socket file's mode decides who can); with
/// grants, the server's own uid gets `readWrite` and everyone else only what a
/// grant gives them, by uid or primary gid; nothing at all otherwise.
public struct PermissionGrants: Sendable, Hashable {
    public var grants: [PermissionGrant]
    /// The uid the server runs as: always `readWrite`.
    public var serverUID: UInt32

    public init(_ grants: [PermissionGrant] = [], serverUID: UInt32) {
        self.grants = grants
        self.serverUID = serverUID
    }

    /// What `peer` may do; `nil`: nothing. An unknown peer (no credentials) gets
    /// `readWrite` only when there are no grants.
    public func permission(for peer: PeerIdentity?) -> Permission? {
        if grants.isEmpty { return .readWrite }
        guard let peer else { return nil }
        if peer.uid == serverUID { return .readWrite }
        let matching = grants.filter { $0.applies(to: peer) }.map(\.permission)
        if matching.contains(.readWrite) { return .readWrite }
        return matching.isEmpty ? nil : .read
    }

    /// The refusal of a call of `method` by `peer`, or `nil` if it is allowed.
    public func refusal(of method: MethodDescriptor, by peer: PeerIdentity?, holding granted: Permission?) -> IdentityRiskError? {
        if let granted, granted.allows(method.permission) { return nil }
        let who = peer.map { "uid \($0.uid) (gid \($0.gid))" } ?? "a peer without credentials"
        let has = granted.map { "it has \($0.rawValue) only" } ?? "it has no permission"
        return IdentityRiskError(
            code: .permissionDenied,
            message: "\(method.name) needs the \(method.permission.rawValue) permission; \(who) is not granted it (\(has)); "
                + "the server's operator grants it with iriskd --grant \(method.permission.rawValue):uid=\(peer.map { String($0.uid) } ?? "N")",
            target: "permission",
            innerCode: method.permission == .readWrite ? "ReadWriteRequired" : "ReadRequired")
    }
}
