import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// iriskd's settings from a configuration file and the environment, under its flags.
@Suite("iriskd settings: file, environment, flags", .serialized)
struct DaemonConfigurationTests {
    /// Runs iriskd until it logs that it listens (or exits), then stops it; its stderr.
    func start(_ arguments: [String], environment: [String: String], directory: String) async throws -> (status: Int32?, log: String) {
        let log = directory + "/run-\(UUID().uuidString.prefix(6)).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: productPath("iriskd"))
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("IRISKD_") }.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try process.run()
        let deadline = ContinuousClock.now + .seconds(20)
        func text() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        while process.isRunning, !text().contains(" listening "), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        while process.isRunning, ContinuousClock.now < deadline + .seconds(10) { try await Task.sleep(for: .milliseconds(20)) }
        return (process.isRunning ? nil : process.terminationStatus, text())
    }

    @Test("a configuration file sets what flags set; IRISKD_* variables override it; flags override both; unknown names are refused with the line")
    func precedence() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/iriskd.conf"
        try """
            # iriskd settings
            store = memory
            socket = \(directory)/d.sock
            log-level info
            max-streams = 5
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let fromFile = try await start(["--config", file], environment: [:], directory: directory)
        #expect(fromFile.log.contains("maxStreams=5") && fromFile.log.contains("store=memory"), "\(fromFile.log)")
        #expect(fromFile.status == 0)
        let fromEnvironment = try await start([], environment: ["IRISKD_CONFIG": file, "IRISKD_MAX_STREAMS": "9"], directory: directory)
        #expect(fromEnvironment.log.contains("maxStreams=9"), "\(fromEnvironment.log)")
        let fromFlag = try await start(["--max-streams", "11"], environment: ["IRISKD_CONFIG": file, "IRISKD_MAX_STREAMS": "9"], directory: directory)
        #expect(fromFlag.log.contains("maxStreams=11"), "\(fromFlag.log)")

        try "store = memory\nmax-stream = 5\n".write(toFile: file, atomically: true, encoding: .utf8)
        let badName = try await start(["--config", file], environment: [:], directory: directory)
        #expect(badName.status == 64)
        #expect(badName.log.contains("\(file):2: iriskd has no setting 'max-stream'"), "\(badName.log)")
        let badVariable = try await start(["--store", "memory"], environment: ["IRISKD_MAX_STREEMS": "3"], directory: directory)
        #expect(badVariable.status == 64)
        #expect(badVariable.log.contains("environment variable IRISKD_MAX_STREEMS: iriskd has no --max-streems"), "\(badVariable.log)")
    }
}
