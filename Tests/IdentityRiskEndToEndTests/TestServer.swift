import Foundation
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskServer
import IdentityRiskStore
import Logging

/// A real server on a temporary Unix socket, for one test.
struct TestServer: Sendable {
    let server: IdentityRiskServer
    let socketPath: String
    let directory: String
}

/// Runs `body` with a real ``IdentityRiskServer`` listening on a fresh temporary
/// socket, then shuts it down and removes the directory (Hummingbird's
/// `testServer { }` shape).
func withTestServer<R: Sendable>(
    store: any EventStore = MemoryEventStore(),
    configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: @Sendable (TestServer) async throws -> R
) async throws -> R {
    var logger = Logger(label: "test-server")
    logger.logLevel = ProcessInfo.processInfo.environment["IRISK_TEST_LOG"] == nil ? .critical : .debug
    return try await withLoggingTestServer(store: store, logger: logger, configure: configure, body)
}

/// A new directory under /tmp (socket paths must stay under 108 bytes).
func makeTemporaryDirectory() throws -> String {
    let path = "/tmp/irisk-test-\(UUID().uuidString.prefix(8).lowercased())"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Where the package's executables are built (next to the test bundle).
func productPath(_ name: String) -> String {
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    while url.path != "/" {
        let candidate = url.deletingLastPathComponent().appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        url = url.deletingLastPathComponent()
    }
    // `swift test` from the package root: .build/debug
    return FileManager.default.currentDirectoryPath + "/.build/debug/" + name
}
