/// The order of a list (Graph `$orderby`). Ties break on `id` ascending.
public enum ListOrder: String, WireNumberedEnum {
    case createdAscending = "createdDateTime asc"
    case createdDescending = "createdDateTime desc"
    case riskEventAscending = "riskEventDateTime asc"
    case riskEventDescending = "riskEventDateTime desc"

    public var isDescending: Bool { self == .createdDescending || self == .riskEventDescending }

    /// The explicit `identityrisk.v1.OrderBy` number (0 on the wire means the default, created ascending).
    public var wireNumber: UInt32 {
        switch self {
        case .createdAscending: 1
        case .createdDescending: 2
        case .riskEventAscending: 3
        case .riskEventDescending: 4
        }
    }

    public init?(wireNumber number: UInt32) {
        guard let found = Self.allCases.first(where: { $0.wireNumber == number }) else { return nil }
        self = found
    }

    /// The instant this order sorts `event` by.
    public func sortKey(_ event: IdentityRiskEvent) -> Int64 {
        switch self {
        case .createdAscending, .createdDescending: event.createdDateTime.instantTicks
        case .riskEventAscending, .riskEventDescending: event.riskEventDateTime.instantTicks
        }
    }
}

/// Where the previous page ended: keyset pagination on (sort key, id), so a
/// page boundary stays correct while new events arrive.
public struct ListCursor: Sendable, Hashable {
    public var sortKey: Int64
    public var id: String

    public init(sortKey: Int64, id: String) {
        self.sortKey = sortKey
        self.id = id
    }

    /// Whether `event` comes strictly after this cursor in `order`.
    public func precedes(_ event: IdentityRiskEvent, in order: ListOrder) -> Bool {
        let key = order.sortKey(event)
        if key != sortKey { return order.isDescending ? key < sortKey : key > sortKey }
        return event.id > id
    }
}

/// A list request after parsing: filter, order, page size and position.
public struct ListQuery: Sendable, Hashable {
    public static let defaultTop = 100
    public static let maxTop = 1000

    public var filter: FilterExpression?
    public var order: ListOrder
    /// 1 ... ``maxTop``.
    public var top: Int
    public var after: ListCursor?

    public init(filter: FilterExpression? = nil, order: ListOrder = .createdAscending, top: Int = ListQuery.defaultTop, after: ListCursor? = nil) {
        self.filter = filter
        self.order = order
        self.top = top
        self.after = after
    }
}

/// One page of a list.
public struct ListPage: Sendable, Hashable {
    public var events: [IdentityRiskEvent]
    /// Where the next page starts; `nil` when this is the last page.
    public var next: ListCursor?
    /// The change-log cursor this page is consistent with: it reflects every
    /// change up to it and none after (a store that cannot read both at one
    /// snapshot returns the latest cursor read *before* the page, so a watch
    /// after it misses nothing; see the store's documentation).
    public var cursor: ChangeCursor

    public init(events: [IdentityRiskEvent], next: ListCursor?, cursor: ChangeCursor = .zero) {
        self.events = events
        self.next = next
        self.cursor = cursor
    }
}
