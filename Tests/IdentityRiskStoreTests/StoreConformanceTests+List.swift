import IdentityRiskCore
import IdentityRiskStore
import IdentityRiskTestSupport
import Testing

/// `list`: filters, orders and keyset paging, against a reference computed
/// from ``FilterExpression/matches(_:)`` and the order's sort.
extension StoreConformanceTests {
    @Test("list pages through every filter and order exactly as the reference, after updates and deletes", arguments: StoreFactory.all)
    func listMatchesReference(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            var generator = SplitMix64(seed: 2024)
            let created = (0 ..< 300).map { Fixture.varied($0, using: &generator) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for e in created { group.addTask { _ = try await store.create(e) } }
                try await group.waitForAll()
            }
            // Change every 11th record and delete every 13th, so that lists
            // see replaced values and never a deleted record.
            var current = Dictionary(uniqueKeysWithValues: created.map { ($0.id, $0) })
            for (index, e) in created.enumerated() {
                if index % 13 == 5 {
                    #expect(try await store.delete(id: e.id, expectedVersion: 1) == 1)
                    current[e.id] = nil
                } else if index % 11 == 3 {
                    var changed = Fixture.varied(index, using: &generator)
                    changed.createdDateTime = e.createdDateTime
                    changed.version = 2
                    current[e.id] = try await store.replace(changed, expectedVersion: 1)
                }
            }
            #expect(current.count == 300 - 23)
            #expect(current.values.filter { $0.version == 2 }.count > 20)

            var nonEmpty = 0
            for (index, filter) in try Fixture.filters().enumerated() {
                let top = [7, 3, 50, 1000][index % 4]
                for order in ListOrder.allCases {
                    let expected = Fixture.reference(current.values, filter: filter, order: order)
                    if !expected.isEmpty { nonEmpty += 1 }
                    let context = "filter \(filter.map(ODataFilter.describe) ?? "none"), \(order.rawValue), top \(top)"
                    var collected: [IdentityRiskEvent] = []
                    var cursor: ListCursor?
                    repeat {
                        let page = try await store.list(ListQuery(filter: filter, order: order, top: top, after: cursor))
                        let want = Array(expected.dropFirst(collected.count).prefix(top))
                        #expect(page.events.map(\.id) == want.map(\.id), "\(context), after \(collected.count)")
                        if page.events.map(\.id) == want.map(\.id) { #expect(page.events == want, "\(context)") }
                        let wantNext = collected.count + want.count < expected.count
                            ? want.last.map { ListCursor(sortKey: order.sortKey($0), id: $0.id) } : nil
                        #expect(page.next == wantNext, "\(context), after \(collected.count)")
                        collected += page.events
                        cursor = page.next
                    } while cursor != nil && collected.count <= expected.count
                    #expect(collected == expected, "paging reproduces the full result: \(context)")
                }
            }
            #expect(nonEmpty > 200, "the filters must select something to compare")
        }
    }

    @Test("a cursor stays correct while events are created between pages", arguments: StoreFactory.all)
    func cursorStableUnderInserts(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            var generator = SplitMix64(seed: 11)
            var stored: [IdentityRiskEvent] = []
            for i in 0 ..< 60 {
                let e = Fixture.varied(i, using: &generator)
                _ = try await store.create(e)
                stored.append(e)
            }
            for (orderIndex, order) in ListOrder.allCases.enumerated() {
                let tag = "late\(orderIndex)"
                var cursor: ListCursor?
                var seen: [IdentityRiskEvent] = []
                var inserted = 0
                repeat {
                    let page = try await store.list(ListQuery(order: order, top: 7, after: cursor))
                    let remaining = Fixture.reference(stored, filter: nil, order: order).filter { cursor?.precedes($0, in: order) ?? true }
                    #expect(page.events == Array(remaining.prefix(7)))
                    #expect((page.next == nil) == (remaining.count <= 7))
                    seen += page.events
                    cursor = page.next
                    if let cursor {
                        // One event sorting before the cursor (never listed), one after (listed later).
                        for delta: Int64 in [-1_000_000, 1_000_000] {
                            var e = Fixture.varied(1000 + inserted, using: &generator)
                            e.id = "\(tag)-\(inserted)"
                            let key = cursor.sortKey + (order.isDescending ? -delta : delta)
                            let dt = try DateTimeOffset(utcInstantTicks: key)
                            if order == .createdAscending || order == .createdDescending {
                                e.createdDateTime = dt
                            } else {
                                e.riskEventDateTime = dt
                                e.closedDateTime = nil
                            }
                            inserted += 1
                            _ = try await store.create(e)
                            stored.append(e)
                        }
                    }
                } while cursor != nil
                #expect(Set(seen.map(\.id)).count == seen.count, "no duplicates")
                let keys = seen.map { order.sortKey($0) }
                for (a, b) in zip(keys, keys.dropFirst()) {
                    #expect(order.isDescending ? a >= b : a <= b, "page boundaries keep the order")
                }
                // Odd numbers were inserted after the cursor, even ones before it.
                let late = seen.filter { $0.id.hasPrefix(tag + "-") }.map { String($0.id.dropFirst(tag.count + 1)) }
                #expect(inserted >= 8)
                #expect(late.count == inserted / 2, "exactly the events after the cursor are picked up")
                #expect(late.allSatisfy { Int($0).map { !$0.isMultiple(of: 2) } ?? false })
            }
        }
    }

    @Test("list validates top", arguments: StoreFactory.all)
    func listTopValidation(_ factory: StoreFactory) async throws {
        try await factory.withStore { store in
            for top in [0, -1, ListQuery.maxTop + 1] {
                let error = await attempt { try await store.list(ListQuery(top: top)) }.failure
                #expect(error?.code == .invalidArgument)
                #expect(error?.target == "top")
            }
            let page = try await store.list(ListQuery(top: ListQuery.maxTop))
            #expect(page.events.isEmpty)
        }
    }
}
