@testable import IdentityRiskCore
import IdentityRiskTestSupport
import Testing

@Suite("ListEvents: page tokens and requests")
struct PageTokenTests {
    static let filter = "riskLevel eq 'high'"

    func refusal(_ token: String, order: ListOrder = .createdAscending, filter: String = PageTokenTests.filter,
                 sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        do {
            let cursor = try PageToken.decode(token, order: order, filter: filter)
            Issue.record("\(token) was accepted as \(cursor)", sourceLocation: sourceLocation)
            return nil
        } catch {
            #expect(error.code == .invalidArgument, sourceLocation: sourceLocation)
            #expect(error.violations.map(\.field) == ["pageToken"], sourceLocation: sourceLocation)
            return error.violations.first?.description
        }
    }

    /// Published FNV-1a 64-bit test vectors.
    @Test func filterHashIsFNV1a64() {
        #expect(PageToken.fnv1a("") == 0xcbf2_9ce4_8422_2325)
        #expect(PageToken.fnv1a("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(PageToken.fnv1a("foobar") == 0x8594_4171_f739_67e8)
    }

    @Test("a token decodes to the cursor it was made from", arguments: ListOrder.allCases)
    func roundTrip(order: ListOrder) throws {
        for cursor in [ListCursor(sortKey: 14_832_180_607_804_275, id: "e1"),
                       ListCursor(sortKey: -621_355_968_000_000_000, id: "a.b.c"),  // dots in the id, negative key
                       ListCursor(sortKey: 0, id: "9953902a-902a-4953-aa90-53992a905399"),
                       ListCursor(sortKey: .max, id: String(repeating: "~", count: 128))] {
            for filter in ["", Self.filter, "userId eq 'a.b' and closedDateTime eq null"] {
                let token = PageToken(order: order, filter: filter, cursor: cursor).encoded
                #expect(token.hasPrefix("1.\(ListOrder.allCases.firstIndex(of: order)!)."))
                #expect(try PageToken.decode(token, order: order, filter: filter) == cursor)
            }
        }
    }

    @Test func tokenForAnotherFilterOrOrderIsRefused() throws {
        let token = PageToken(order: .createdAscending, filter: Self.filter, cursor: ListCursor(sortKey: 5, id: "e1")).encoded
        for (order, filter) in [(ListOrder.createdDescending, Self.filter), (.riskEventAscending, Self.filter),
                                (.createdAscending, "riskLevel eq 'low'"), (.createdAscending, ""),
                                (.createdAscending, "riskLevel eq  'high'")] {
            let why = try #require(refusal(token, order: order, filter: filter))
            #expect(why.contains("different filter or order"), "\(why)")
        }
    }

    @Test("structurally damaged tokens are refused", arguments: [
        "", "garbage", "1", "1.0.0.0", "2.0.{hash}.5.e1", "1.9.{hash}.5.e1", "1.-1.{hash}.5.e1", "1.x.{hash}.5.e1",
        "1.0.zz.5.e1", "1.0..5.e1", "1.0.{hash}.five.e1", "1.0.{hash}.5.", "1.0.{hash}.5.bad id", "1.0.{hash}.5.é",
        "1.0.{hash}.99999999999999999999.e1", "1.0.1{hash}.5.e1", "1.0.{hash}.5.\(String(repeating: "x", count: 129))",
    ])
    func damagedTokens(template: String) throws {
        let token = template.replacing("{hash}", with: String(PageToken.fnv1a(Self.filter), radix: 16))
        let why = try #require(refusal(token))
        #expect(why.contains("is not a token this server issued"), "\(why)")
    }

    @Test func tamperedHashIsRefused() throws {
        let token = PageToken(order: .createdAscending, filter: Self.filter, cursor: ListCursor(sortKey: 5, id: "e1")).encoded
        var parts = token.split(separator: ".").map(String.init)
        parts[2] = String(PageToken.fnv1a(Self.filter) ^ 1, radix: 16)
        #expect(refusal(parts.joined(separator: ".")) != nil)
    }

    @Test("top is 0 (default) or 1 ... 1000", arguments: [(0, 100), (1, 1), (100, 100), (999, 999), (1000, 1000)])
    func acceptedTop(top: Int, effective: Int) throws {
        #expect(try ListEvents.query(for: .init(top: top)).top == effective)
    }

    @Test("top out of range is refused", arguments: [-1, -1000, 1001, Int.max, Int.min])
    func refusedTop(top: Int) {
        do {
            let query = try ListEvents.query(for: .init(top: top))
            Issue.record("accepted \(query)")
        } catch {
            #expect(error.violations.map(\.field) == ["top"])
            #expect(error.violations.first?.description.contains("1 ... 1000") == true)
        }
    }

    @Test func requestsParseTheirFilterAndToken() throws {
        #expect(try ListEvents.query(for: .init(filter: "")).filter == nil)
        #expect(try ListEvents.query(for: .init(filter: " \t ")).filter == nil)
        #expect(try ListEvents.query(for: .init(filter: Self.filter)).filter == cmp(.riskLevel, .eq, .riskLevel(.high)))

        let cursor = ListCursor(sortKey: 42, id: "e7")
        let token = PageToken(order: .riskEventDescending, filter: Self.filter, cursor: cursor).encoded
        let query = try ListEvents.query(for: .init(filter: Self.filter, order: .riskEventDescending, top: 7, pageToken: token))
        #expect(query == ListQuery(filter: cmp(.riskLevel, .eq, .riskLevel(.high)), order: .riskEventDescending, top: 7, after: cursor))

        do {
            _ = try ListEvents.query(for: .init(filter: "riskLevel equals 'high'"))
            Issue.record("a bad filter was accepted")
        } catch {
            #expect(error.target == "filter")
            #expect(error.violations.first?.description.hasPrefix("syntax error at position 11") == true)
        }
    }
}

@Suite("Use cases with a test store")
struct UseCaseTests {
    /// 25 events; createdDateTime ticks in minutes with two pairs of ties, broken by id.
    static func events() -> [IdentityRiskEvent] {
        (0..<25).map { i in
            let minute = i == 7 || i == 15 ? i - 1 : i
            return event(id: "e\(String(i).count == 1 ? "0" : "")\(i)",
                         riskEventDateTime: "2017-01-01T00:\(minute < 10 ? "0" : "")\(minute):00+01:00",
                         riskLevel: i % 3 == 0 ? .high : .low,
                         createdDateTime: "2017-02-01T00:\(minute < 10 ? "0" : "")\(minute):00Z")
        }
    }

    func collect(_ list: ListEvents, filter: String = "", order: ListOrder, top: Int) async throws -> (ids: [String], pages: Int) {
        var ids: [String] = [], pages = 0, token = ""
        repeat {
            let response = try await list(.init(filter: filter, order: order, top: top, pageToken: token))
            ids += response.events.map(\.id)
            pages += 1
            token = response.nextPageToken
        } while !token.isEmpty && pages < 100
        return (ids, pages)
    }

    @Test func pagingVisitsEveryEventOnceInOrder() async throws {
        let list = ListEvents(store: TestEventStore(Self.events()))
        let all = (0..<25).map { "e\($0 < 10 ? "0" : "")\($0)" }
        let ascending = try await collect(list, order: .createdAscending, top: 10)
        #expect(ascending.ids == all)  // ids ascend with time; ties (e06/e07, e14/e15) break on id
        #expect(ascending.pages == 3)
        let descending = try await collect(list, order: .riskEventDescending, top: 4)
        // Descending time, but ties still ascend by id.
        var expected = all.reversed().map { $0 }
        expected.swapAt(expected.firstIndex(of: "e07")!, expected.firstIndex(of: "e06")!)
        expected.swapAt(expected.firstIndex(of: "e15")!, expected.firstIndex(of: "e14")!)
        #expect(descending.ids == expected)
        #expect(descending.pages == 7)
        let high = try await collect(list, filter: "riskLevel eq 'high'", order: .createdAscending, top: 2)
        #expect(high.ids == ["e00", "e03", "e06", "e09", "e12", "e15", "e18", "e21", "e24"])
    }

    @Test func nextPageTokenIsBoundToItsRequest() async throws {
        let store = TestEventStore(Self.events())
        let list = ListEvents(store: store)
        let first = try await list(.init(filter: "riskLevel eq 'low'", order: .createdDescending, top: 3))
        #expect(!first.nextPageToken.isEmpty)
        await #expect(throws: IdentityRiskError.self) {
            try await list(.init(filter: "riskLevel eq 'high'", order: .createdDescending, top: 3, pageToken: first.nextPageToken))
        }
        await #expect(throws: IdentityRiskError.self) {
            try await list(.init(filter: "riskLevel eq 'low'", order: .createdAscending, top: 3, pageToken: first.nextPageToken))
        }
        let second = try await list(.init(filter: "riskLevel eq 'low'", order: .createdDescending, top: 3, pageToken: first.nextPageToken))
        #expect(Set(first.events.map(\.id)).isDisjoint(with: second.events.map(\.id)))
        let last = try #require(first.events.last)
        #expect(store.queries.last?.after == ListCursor(sortKey: last.createdDateTime.instantTicks, id: last.id))
    }

    @Test func createAssignsIDAndClockTimeAndGetFindsIt() async throws {
        let store = TestEventStore()
        let clock = FixedClock(instant: dt("2024-05-01T12:00:00.1234567Z"))
        let outcome = try await CreateEvent(store: store, clock: clock)(seedDraft())
        #expect(!outcome.alreadyExisted)
        #expect(isLowercaseUUID(outcome.event.id, version: "7"))
        #expect(outcome.event.createdDateTime == clock.instant)
        #expect(try await GetEvent(store: store)(id: outcome.event.id) == outcome.event)
    }

    @Test("get refuses empty and malformed ids and reports missing ones", arguments: [
        ("", "invalidArgument"), ("bad id", "invalidArgument"), ("e/1", "invalidArgument"), ("missing", "notFound"),
    ])
    func getErrors(id: String, code: String) async {
        do {
            let found = try await GetEvent(store: TestEventStore())(id: id)
            Issue.record("found \(found)")
        } catch {
            #expect(error.code.description == code)
            #expect(error.target == "id")
        }
    }
}
