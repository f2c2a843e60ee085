import Foundation
import GRDB
import IdentityRiskCore
import Logging
@testable import IdentityRiskStore
import Testing

/// The SQLite schema: migrations from databases older versions wrote, and the
/// column layout derived from ``EventProperty``.
@Suite("SQLite schema")
struct SQLiteSchemaTests {
    @Test("a database written by schema v1 opens, migrates to the current schema and reads its rows back at version 1")
    func migratesV1() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/events.sqlite"
            do {
                // As version 1 of this program left it: only the v1 migration, one row.
                let queue = try DatabaseQueue(path: path)
                var v1 = DatabaseMigrator()
                v1.registerMigration("v1") { db in try db.execute(sql: SQLiteSchema.v1) }
                try v1.migrate(queue)
                try await queue.write { db in
                    try db.execute(sql: """
                        INSERT INTO identity_risk_events (
                            id, user_display_name, user_principal_name,
                            risk_event_ticks, risk_event_offset, risk_event_digits, risk_event_z,
                            risk_event_type, risk_level, risk_event_status,
                            closed_ticks, closed_offset, closed_digits, closed_z,
                            created_ticks, created_offset, created_digits, created_z, user_id)
                        VALUES ('old-1', 'Old Timer', 'old@example.com',
                            14832180607804275, 180, 7, 0,
                            'leakedCredentials', 'medium', 'active',
                            NULL, NULL, NULL, NULL,
                            17000000000000000, 0, 7, 1, 'user-9')
                        """)
                }
                try queue.close()
            }

            let store = try SQLiteEventStore(path: path)
            let old = try #require(try await store.get(id: "old-1"))
            let expected = IdentityRiskEvent(
                id: "old-1", userDisplayName: "Old Timer", userPrincipalName: "old@example.com",
                riskEventDateTime: try DateTimeOffset(parsing: "2017-01-01T00:01:00.7804275+03:00"),
                riskEventType: "leakedCredentials", riskLevel: .medium, riskEventStatus: .active,
                closedDateTime: nil, createdDateTime: try DateTimeOffset(utcInstantTicks: 17_000_000_000_000_000),
                userId: "user-9", version: 1)
            #expect(old == expected)
            #expect(old.version == 1)

            var updated = old
            updated.riskEventStatus = .dismissedAsFixed
            updated.version = 2
            #expect(try await store.replace(updated, expectedVersion: 1) == updated)
            #expect(try await store.delete(id: "old-1", expectedVersion: 2) == 2)
            #expect(await attempt { try await store.create(old) }.failure?.innerCode == "DeletedID", "the tombstone table exists")
            await store.close()

            let queue = try DatabaseQueue(path: path)
            let applied = try await queue.read { db in try SQLiteSchema.migrator.appliedIdentifiers(db) }
            #expect(applied == ["v1", "v2", "v3", "v4"])
            try queue.close()
        }
    }

    @Test("a v3 database migrates to v4: its indexes lose the id, the rebuild is logged, and ties still list by id on every page")
    func migratesV3() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/events.sqlite"
            // Equal timestamps, inserted in descending id order: the rows' seq
            // order is the reverse of the order a list must give them.
            func tied(_ id: String) throws -> IdentityRiskEvent {
                try Fixture.event(id, created: "2024-01-01T00:00:00Z")
            }
            let old = try ["v3-z", "v3-m", "v3-a"].map(tied)
            do {
                // As version 3 of this program left it: migrations v1 to v3.
                let queue = try DatabaseQueue(path: path)
                var v3 = DatabaseMigrator()
                v3.registerMigration("v1") { db in try db.execute(sql: SQLiteSchema.v1) }
                v3.registerMigration("v2") { db in try db.execute(sql: SQLiteSchema.v2) }
                v3.registerMigration("v3") { db in try db.execute(sql: SQLiteSchema.v3) }
                try v3.migrate(queue)
                try await queue.write { db in
                    for e in old { _ = try SQLiteBinding.insert(e, with: db.makeStatement(sql: SQLiteSchema.insertSQL), in: db) }
                }
                try queue.close()
            }
            let capture = NoticeCapture()
            let store = try SQLiteEventStore(path: path, logger: Logger(label: "schema-test") { _ in capture })
            #expect(capture.messages.contains { $0.contains("schema v4") && $0.contains("records=3") },
                    "the rebuild is announced with the record count: \(capture.messages)")
            for e in try ["v4-y", "v4-b"].map(tied) { _ = try await store.create(e) }
            let ids = ["v3-a", "v3-m", "v3-z", "v4-b", "v4-y"]
            for order in ListOrder.allCases {
                var collected: [String] = []
                var cursor: ListCursor?
                repeat {
                    let page = try await store.list(ListQuery(order: order, top: 2, after: cursor))
                    collected += page.events.map(\.id)
                    cursor = page.next
                } while cursor != nil && collected.count <= ids.count
                #expect(collected == ids, "\(order.rawValue): ties by id ascending, in pages of 2")
                let filtered = try await store.list(ListQuery(
                    filter: .comparison(FilterComparison(property: .userId, op: .eq, value: .string("user-1"))), order: order, top: 3))
                #expect(filtered.events.map(\.id) == Array(ids.prefix(3)), "\(order.rawValue), userId eq")
            }
            await store.close()

            let queue = try DatabaseQueue(path: path)
            let (applied, indexColumns) = try await queue.read { db in
                let names = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name", arguments: [SQLiteSchema.table])
                return (try SQLiteSchema.migrator.appliedIdentifiers(db),
                        try names.map { name in (name, try String.fetchAll(db, sql: "SELECT name FROM pragma_index_info(?)", arguments: [name])) })
            }
            try queue.close()
            #expect(applied == ["v1", "v2", "v3", "v4"])
            #expect(indexColumns.count == 7)
            for (name, columns) in indexColumns {
                #expect(!columns.contains("id") && columns.last?.hasSuffix("_ticks") == true, "\(name): \(columns)")
            }
        }
    }

    /// Keeps the messages logged at notice and above.
    final class NoticeCapture: LogHandler, @unchecked Sendable {
        private let lock = NSLock()
        private var kept: [String] = []
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .notice

        var messages: [String] { lock.withLock { kept } }

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let fields = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            lock.withLock { kept.append((["\(event.message)"] + fields).joined(separator: " ")) }
        }
    }

    @Test("a database with a migration this code does not know is refused, naming it")
    func newerSchema() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/events.sqlite"
            let created = try SQLiteEventStore(path: path)
            await created.close()
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99')") }
            try queue.close()
            let error = #expect(throws: IdentityRiskError.self) { try SQLiteEventStore(path: path) }
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains("v99") == true)
        }
    }

    @Test("the table's columns are the layout's: every property mapped, names as v1 created them, plus version")
    func columnsMatchTheTable() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/events.sqlite"
            let created = try SQLiteEventStore(path: path)
            await created.close()
            let queue = try DatabaseQueue(path: path)
            let table = try await queue.read { db in
                try Row.fetchAll(db, sql: "PRAGMA table_info(identity_risk_events)").map { $0["name"] as String }
            }
            try queue.close()
            #expect(table == ["seq"] + SQLiteSchema.columns, "same names, same order")
            #expect(SQLiteSchema.columns.count == 20)
            #expect(SQLiteColumnLayout.all.map(\.property) == EventProperty.allCases)
            let dateColumns = SQLiteColumnLayout.all.filter { $0.property.kind == .dateTime }.flatMap(\.columns)
            #expect(dateColumns.count == 12)
            #expect(SQLiteSchema.updatableLayout.map(\.property) == EventProperty.allCases.filter(\.isUpdatable))
            #expect(!SQLiteSchema.replaceSQL.contains("created_ticks"), "an update never writes createdDateTime")
        }
    }

    @Test("enum comparisons admit members by wire number")
    func enumRanksByWireNumber() throws {
        let statement = try SQLiteListStatement(ListQuery(filter: Fixture.comparison(.riskLevel, .gt, .riskLevel(.medium))))
        let admitted = statement.arguments.compactMap { String.fromDatabaseValue($0) }
        #expect(admitted == RiskLevel.allCases.filter { $0.wireNumber > RiskLevel.medium.wireNumber }.map(\.rawValue))
        let none = try SQLiteListStatement(ListQuery(filter: Fixture.comparison(.riskEventStatus, .lt, .riskEventStatus(.active))))
        #expect(none.sql.contains("(0)"), "no member below the first: matches nothing")
    }
}
