import Foundation
import GRDB
import IdentityRiskCore
@testable import IdentityRiskStore
import Testing

/// What SQLite's planner does with the statements the store sends: every get,
/// every order and every filter on an indexed property is answered from an
/// index, never by a scan of the table or a sort of every row.
///
/// "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY" is allowed: the index gives the
/// order and SQLite sorts only rows with equal timestamps by id (the index runs
/// backwards for a descending order, the tie-break by id stays ascending), so
/// it stops after `top + 1` rows like a plain index scan.
@Suite("SQLite query plans")
struct SQLiteQueryPlanTests {
    static func plan(_ db: Database, _ sql: String, _ arguments: [DatabaseValue]) throws -> [String] {
        try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: StatementArguments(arguments)).map { $0["detail"] as String }
    }

    static func withSchema(_ body: (DatabaseQueue) throws -> Void) async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/events.sqlite"
            let store = try SQLiteEventStore(path: path)
            await store.close()
            let queue = try DatabaseQueue(path: path)
            defer { try? queue.close() }
            try body(queue)
        }
    }

    /// Fails unless the plan uses `index` and sorts at most ties.
    static func expectIndexed(_ plan: [String], _ index: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(plan.contains { $0.contains("USING INDEX \(index)") || $0.contains("USING COVERING INDEX \(index)") },
                "\(what): expected \(index), plan: \(plan)", sourceLocation: sourceLocation)
        #expect(!plan.contains { $0.hasPrefix("SCAN identity_risk_events") && !$0.contains("INDEX") },
                "\(what): scans the table, plan: \(plan)", sourceLocation: sourceLocation)
        #expect(!plan.contains { $0.contains("TEMP B-TREE FOR ORDER BY") },
                "\(what): sorts every matching row, plan: \(plan)", sourceLocation: sourceLocation)
    }

    static func orderIndex(_ order: ListOrder) -> String {
        switch order {
        case .createdAscending, .createdDescending: "identity_risk_events_created"
        case .riskEventAscending, .riskEventDescending: "identity_risk_events_risk_event"
        }
    }

    @Test("get, update's version check and delete find the record by its id's index")
    func byID() async throws {
        try await Self.withSchema { queue in
            try queue.read { db in
                for sql in [SQLiteSchema.selectByIDSQL, SQLiteSchema.selectVersionSQL] {
                    let plan = try Self.plan(db, sql, ["some-id".databaseValue])
                    #expect(plan.count == 1 && plan[0].hasPrefix("SEARCH identity_risk_events USING INDEX sqlite_autoindex_identity_risk_events_1 (id=?)"),
                            "\(sql): \(plan)")
                }
            }
        }
    }

    @Test("every order, on its first page and on a later one, walks its timestamp's index", arguments: ListOrder.allCases)
    func orders(_ order: ListOrder) async throws {
        try await Self.withSchema { queue in
            try queue.read { db in
                for after in [nil, ListCursor(sortKey: 638_000_000_000_000_000, id: "0190b1f6-0000-7000-8000-000000000000")] {
                    let statement = try SQLiteListStatement(ListQuery(order: order, top: 25, after: after))
                    let plan = try Self.plan(db, statement.sql, statement.arguments)
                    Self.expectIndexed(plan, Self.orderIndex(order), "\(order.rawValue), after \(after == nil ? "none" : "a cursor")")
                    if after != nil {
                        #expect(plan.contains { $0.hasPrefix("SEARCH") }, "a later page starts at its key, not at the first row: \(plan)")
                    }
                }
            }
        }
    }

    @Test("eq on each indexed property, in created order, on every page, is a search of that property's index", arguments: [
        (EventProperty.userId, FilterValue.string("u-1"), "identity_risk_events_user_id"),
        (.userPrincipalName, .string("alex@contoso.com"), "identity_risk_events_upn"),
        (.riskLevel, .riskLevel(.high), "identity_risk_events_level"),
        (.riskEventStatus, .riskEventStatus(.active), "identity_risk_events_status"),
        (.riskEventType, .string("leakedCredentials"), "identity_risk_events_type"),
    ])
    func filters(_ property: EventProperty, _ value: FilterValue, _ index: String) async throws {
        try await Self.withSchema { queue in
            try queue.read { db in
                for order in [ListOrder.createdAscending, .createdDescending] {
                    for after in [nil, ListCursor(sortKey: 638_000_000_000_000_000, id: "0190b1f6-0000-7000-8000-000000000000")] {
                        let query = ListQuery(filter: .comparison(FilterComparison(property: property, op: .eq, value: value)),
                                              order: order, top: 25, after: after)
                        let statement = try SQLiteListStatement(query)
                        let plan = try Self.plan(db, statement.sql, statement.arguments)
                        Self.expectIndexed(plan, index, "\(property.rawValue) eq, \(order.rawValue), after \(after == nil ? "none" : "a cursor")")
                        #expect(plan.contains { $0.hasPrefix("SEARCH identity_risk_events USING INDEX \(index) (\(Self.column(property))=?") },
                                "searched by the value, not scanned: \(plan)")
                    }
                }
            }
        }
    }

    @Test("a range on a timestamp, in that timestamp's order, is a search of its index", arguments: [
        (EventProperty.createdDateTime, ListOrder.createdAscending),
        (.createdDateTime, .createdDescending),
        (.riskEventDateTime, .riskEventAscending),
        (.riskEventDateTime, .riskEventDescending),
    ])
    func ranges(_ property: EventProperty, _ order: ListOrder) async throws {
        try await Self.withSchema { queue in
            try queue.read { db in
                let since = try DateTimeOffset(parsing: "2017-06-01T00:00:00Z")
                let query = ListQuery(filter: .comparison(FilterComparison(property: property, op: .ge, value: .dateTime(since))),
                                      order: order, top: 20)
                let statement = try SQLiteListStatement(query)
                let plan = try Self.plan(db, statement.sql, statement.arguments)
                Self.expectIndexed(plan, Self.orderIndex(order), "\(property.rawValue) ge, \(order.rawValue)")
                #expect(plan.contains { $0.hasPrefix("SEARCH") }, "starts at the bound: \(plan)")
            }
        }
    }

    static func column(_ property: EventProperty) -> String {
        SQLiteColumnLayout(property).comparisonColumn
    }
}
