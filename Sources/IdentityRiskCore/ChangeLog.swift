/// A position in a store's change log: every create, update and delete gets the
/// next one, in commit order, in the same transaction as the change itself.
///
/// Clients treat cursors as opaque: the only meaningful comparison is "later
/// than" (a greater cursor committed later). ``zero`` is "before every change".
public struct ChangeCursor: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    public var rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// Before every change: "after zero" is the whole history, if it is still retained.
    public static let zero = ChangeCursor(0)

    public static func < (lhs: ChangeCursor, rhs: ChangeCursor) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { String(rawValue) }
}

/// What a change did.
public enum ChangeKind: String, WireNumberedEnum {
    case created
    case updated
    case deleted

    /// `identityrisk.v1.ChangeKind` numbers (0 is unset; 4 is a bookmark on the wire).
    public var wireNumber: UInt32 {
        switch self {
        case .created: 1
        case .updated: 2
        case .deleted: 3
        }
    }

    public init?(wireNumber: UInt32) {
        switch wireNumber {
        case 1: self = .created
        case 2: self = .updated
        case 3: self = .deleted
        default: return nil
        }
    }
}

/// One entry of the change log.
public struct Change: Sendable, Hashable {
    public var cursor: ChangeCursor
    public var kind: ChangeKind
    /// The record as this change left it. For a delete: the record as it was
    /// when deleted (its id and last version, and its last content, so that
    /// filters match deletes as they match the record).
    public var event: IdentityRiskEvent

    public init(cursor: ChangeCursor, kind: ChangeKind, event: IdentityRiskEvent) {
        self.cursor = cursor
        self.kind = kind
        self.event = event
    }
}

/// What part of the log a watcher can still resume from.
public struct ChangeLogBounds: Sendable, Hashable {
    /// The oldest cursor a watch may start *after* with nothing missing: the
    /// cursor just before the oldest retained change (or ``latest`` when
    /// retention has pruned everything). "After" anything older is expired.
    public var earliestResumable: ChangeCursor
    /// The cursor of the last committed change (``ChangeCursor/zero`` if none ever).
    public var latest: ChangeCursor

    public init(earliestResumable: ChangeCursor, latest: ChangeCursor) {
        self.earliestResumable = earliestResumable
        self.latest = latest
    }

    /// Whether "after `cursor`" can be served with no gap.
    public func canResume(after cursor: ChangeCursor) -> Bool {
        cursor >= earliestResumable && cursor <= latest
    }
}

/// How much of the change log a store keeps. A change is pruned once it is
/// older than ``maxAge`` *or* beyond the newest ``maxCount`` (whichever keeps
/// fewer); `nil` disables that bound. Pruning runs in the background.
public struct ChangeRetention: Sendable, Hashable {
    public var maxAge: Duration?
    public var maxCount: Int?

    public init(maxAge: Duration? = .seconds(7 * 24 * 3600), maxCount: Int? = 1_000_000) {
        self.maxAge = maxAge
        self.maxCount = maxCount
    }

    /// 7 days and 1,000,000 changes.
    public static let `default` = ChangeRetention()
}

extension IdentityRiskError {
    /// A watch asked to resume after a cursor whose successors were pruned
    /// (compare etcd's "required revision has been compacted", Kubernetes' 410 Gone).
    public static func cursorExpired(_ cursor: ChangeCursor, bounds: ChangeLogBounds) -> IdentityRiskError {
        IdentityRiskError(
            code: .failedPrecondition,
            message: "cursor \(cursor) has expired: changes after it were pruned by retention "
                + "(the oldest resumable cursor is \(bounds.earliestResumable)); list again and watch from the list's cursor",
            target: "cursor",
            innerCode: "CursorExpired"
        )
    }

    /// A cursor later than the store's latest change: from another database, or made up.
    public static func cursorAhead(_ cursor: ChangeCursor, bounds: ChangeLogBounds) -> IdentityRiskError {
        IdentityRiskError(
            code: .invalidArgument,
            message: "cursor \(cursor) is later than this store's latest change (\(bounds.latest)); "
                + "cursors come from this server's list and watch answers",
            target: "cursor",
            innerCode: "CursorAhead"
        )
    }

    /// Whether this is ``cursorExpired(_:bounds:)``: the client must re-list.
    public var isCursorExpired: Bool { code == .failedPrecondition && innerCode == "CursorExpired" }
}
