/// Who is calling: the peer's credentials as the kernel reports them
/// (`SO_PEERCRED` on a Unix socket).
public struct PeerIdentity: Sendable, Hashable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    public var description: String { "pid=\(pid) uid=\(uid) gid=\(gid)" }
}

/// What a handler knows about the call it serves, whatever the transport.
public struct CallContext: Sendable {
    public let method: MethodDescriptor
    /// The peer, when the transport can tell.
    public let peer: PeerIdentity?
    /// When the call must be over; `nil`: no deadline. A call whose deadline
    /// passed before it started is answered `deadlineExceeded` without running.
    public let deadline: ContinuousClock.Instant?

    public init(method: MethodDescriptor, peer: PeerIdentity?, deadline: ContinuousClock.Instant?) {
        self.method = method
        self.peer = peer
        self.deadline = deadline
    }
}
