import IdentityRiskCore
import IdentityRiskStore
import Logging
import Testing

@Suite("StoreSpec")
struct StoreSpecTests {
    @Test("parses memory, sqlite and sqlite:PATH")
    func parses() throws {
        let memory = try StoreSpec(parsing: "memory", defaultSQLitePath: "/var/lib/irisk/events.sqlite")
        #expect(memory.kind == .memory)
        #expect(memory.description == "memory")
        #expect(!memory.isDurable)

        let plain = try StoreSpec(parsing: "sqlite", defaultSQLitePath: "/var/lib/irisk/events.sqlite")
        #expect(plain.kind == .sqlite(path: "/var/lib/irisk/events.sqlite"))
        #expect(plain.description == "sqlite:/var/lib/irisk/events.sqlite")
        #expect(plain.isDurable)

        let explicit = try StoreSpec(parsing: "sqlite:relative/dir/e.db", defaultSQLitePath: "/unused")
        #expect(explicit.kind == .sqlite(path: "relative/dir/e.db"))
        #expect(explicit.isDurable)
        #expect(try StoreSpec(parsing: explicit.description, defaultSQLitePath: "/unused") == explicit, "description parses back")
        #expect(try StoreSpec(parsing: "sqlite:sqlite:x", defaultSQLitePath: "/unused").kind == .sqlite(path: "sqlite:x"))
    }

    @Test("anything else is invalidArgument for store, listing the accepted forms")
    func refuses() {
        for text in ["", "Memory", "sqlite:", "sqlite3", "sqlite/x", " memory", "file:/tmp/x", "memory:"] {
            let error = #expect(throws: IdentityRiskError.self, "\(text)") {
                try StoreSpec(parsing: text, defaultSQLitePath: "/default.sqlite")
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.target == "store")
            for form in ["'memory'", "'sqlite'", "'sqlite:PATH'"] {
                #expect(error?.message.contains(form) == true, "\(error?.message ?? "")")
            }
            #expect(error?.message.contains("'\(text)'") == true, "names what was given")
        }
    }

    @Test("open gives a working store of the named kind")
    func opens() async throws {
        let logger = Logger(label: "StoreSpecTests")
        let memory = try StoreSpec(parsing: "memory", defaultSQLitePath: "/unused").open(logger: logger)
        #expect(memory.kind == "memory")
        #expect(memory is MemoryEventStore)
        try await withTemporaryDirectory { directory in
            let path = directory + "/sub/events.sqlite"
            let spec = try StoreSpec(parsing: "sqlite", defaultSQLitePath: path)
            let store = try spec.open(logger: logger, sqliteConfiguration: .init(maxQueuedWrites: 4))
            #expect(store.kind == "sqlite")
            let sqlite = try #require(store as? SQLiteEventStore)
            #expect(sqlite.path == path)
            #expect(sqlite.configuration.maxQueuedWrites == 4)
            let e = try Fixture.event("spec-1")
            #expect(try await store.create(e).event == e)
            await sqlite.close()
        }
    }

    @Test("an SQLite path that cannot be opened is the store's unavailable error")
    func openFails() throws {
        try withTemporaryDirectoryBlocking { directory in
            let spec = StoreSpec(kind: .sqlite(path: directory))  // a directory is not a database file
            let error = #expect(throws: IdentityRiskError.self) { try spec.open(logger: Logger(label: "StoreSpecTests")) }
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains(directory) == true)
        }
    }

    private func withTemporaryDirectoryBlocking(_ body: (String) throws -> Void) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try body(directory.path)
    }
}
