/// The list use case (Graph `GET /identityRiskEvents?$filter&$orderby&$top`),
/// with opaque page tokens (Graph's `@odata.nextLink`).
public struct ListEvents: Sendable {
    public let store: any EventStore

    public init(store: any EventStore) {
        self.store = store
    }

    /// A list request as it arrives: `$filter` text, order, page size (0 = default), token.
    public struct Request: Sendable, Hashable {
        public var filter: String
        public var order: ListOrder
        public var top: Int
        public var pageToken: String

        public init(filter: String = "", order: ListOrder = .createdAscending, top: Int = 0, pageToken: String = "") {
            self.filter = filter
            self.order = order
            self.top = top
            self.pageToken = pageToken
        }
    }

    public struct Response: Sendable, Hashable {
        public var events: [IdentityRiskEvent]
        /// Empty on the last page.
        public var nextPageToken: String
        /// The change-log cursor the page is consistent with (``ListPage/cursor``):
        /// watch after it to follow on.
        public var cursor: ChangeCursor

        public init(events: [IdentityRiskEvent], nextPageToken: String, cursor: ChangeCursor = .zero) {
            self.events = events
            self.nextPageToken = nextPageToken
            self.cursor = cursor
        }
    }

    public func callAsFunction(_ request: Request) async throws(IdentityRiskError) -> Response {
        let query = try Self.query(for: request)
        let page = try await store.list(query)
        let token = page.next.map { PageToken(order: request.order, filter: request.filter, cursor: $0).encoded } ?? ""
        return Response(events: page.events, nextPageToken: token, cursor: page.cursor)
    }

    /// Parses and checks a request into a store query.
    public static func query(for request: Request) throws(IdentityRiskError) -> ListQuery {
        guard request.top >= 0, request.top <= ListQuery.maxTop else {
            throw IdentityRiskError.invalid([FieldViolation(
                field: "top", description: "is \(request.top); allowed: 1 ... \(ListQuery.maxTop) (0 means the default, \(ListQuery.defaultTop))")])
        }
        let filter = request.filter.allSatisfy(\.isWhitespace) ? nil : try ODataFilter.parse(request.filter)
        var cursor: ListCursor?
        if !request.pageToken.isEmpty {
            cursor = try PageToken.decode(request.pageToken, order: request.order, filter: request.filter)
        }
        return ListQuery(filter: filter, order: request.order, top: request.top == 0 ? ListQuery.defaultTop : request.top, after: cursor)
    }
}

/// The continuation token: `1.<order>.<filter hash>.<sort key>.<id>`.
/// Clients treat it as opaque; the server refuses one issued for another
/// filter or order.
struct PageToken {
    var order: ListOrder
    var filter: String
    var cursor: ListCursor

    var encoded: String {
        let orderIndex = ListOrder.allCases.firstIndex(of: order)!
        return "1.\(orderIndex).\(String(Self.fnv1a(filter), radix: 16)).\(cursor.sortKey).\(cursor.id)"
    }

    static func decode(_ token: String, order: ListOrder, filter: String) throws(IdentityRiskError) -> ListCursor {
        func bad(_ why: String) -> IdentityRiskError {
            IdentityRiskError.invalid([FieldViolation(field: "pageToken", description: why)])
        }
        let parts = token.split(separator: ".", maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "1", let orderIndex = Int(parts[1]),
            ListOrder.allCases.indices.contains(orderIndex), let hash = UInt64(parts[2], radix: 16),
            let key = Int64(parts[3]), !parts[4].isEmpty, EventValidator.idProblem(String(parts[4])) == nil
        else {
            throw bad("is not a token this server issued; pass next_page_token from the previous page unchanged")
        }
        guard ListOrder.allCases[orderIndex] == order, hash == fnv1a(filter) else {
            throw bad("was issued for a different filter or order; send the same filter and order as the first page")
        }
        return ListCursor(sortKey: key, id: String(parts[4]))
    }

    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return hash
    }
}
