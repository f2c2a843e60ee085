#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskStore
import IdentityRiskTestSupport
import Testing

/// A request that reached its handler is answered before the connection-level
/// error and the close, even when its answer comes later (SQLite commits it
/// from its writer thread): found by a client written from PROTOCOL.md alone,
/// whose create was stored but never answered.
@Suite("Calls in flight when the byte stream breaks")
struct BrokenFrameAnswerTests {
    enum Break: String, CaseIterable, CustomTestStringConvertible {
        case oversizeLength, truncatedThenEOF
        var testDescription: String { rawValue }
    }

    @Test("PROTOCOL.md's create, then a broken frame in the same write: the create is answered, then the call-id-0 error, then EOF", arguments: Break.allCases)
    func answeredBeforeTheFinalFrame(broken: Break) async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteEventStore(path: directory + "/events.sqlite")
        try await withTestServer(store: store) { server in
            let raw = try await openRaw(server)
            var bytes = RawRequest.create(callID: 1, seedDraft(id: "answered-\(broken.rawValue)")).frame
            switch broken {
            case .oversizeLength: bytes += [0x00, 0x01, 0x11, 0x70]  // 70,000 > 65,536
            case .truncatedThenEOF: bytes += Array(RawRequest.health(callID: 2).frame.prefix(5))
            }
            raw.send(bytes)
            if broken == .truncatedThenEOF { shutdown(raw.fd, Int32(SHUT_WR)) }
            let first = try #require(try await raw.readResponse())
            #expect(first.callID == 1, "the create is answered first: \(first)")
            #expect(first.created?.event.id == "answered-\(broken.rawValue)")
            let final = try #require(try await raw.readResponse())
            #expect(final.callID == 0, "then the connection-level error: \(final)")
            #expect(final.failure != nil)
            #expect(try await raw.readToEOF() == [], "then the close")
            #expect(try await store.get(id: "answered-\(broken.rawValue)") != nil, "and what was answered is stored")
        }
        await store.close()
    }
}
