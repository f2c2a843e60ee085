import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskStore
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension CLITests {
    /// `lines` NDJSON create bodies, each with its own id, in a file.
    static func importFile(_ directory: String, lines: Int) throws -> String {
        let path = directory + "/events.ndjson"
        var text = ""
        for n in 0..<lines {
            text += #"{"id":"imp-\#(n)","userPrincipalName":"u\#(n)@contoso.com","riskEventDateTime":"2017-01-01T00:01:00Z","riskEventType":"leakedCredentials","riskLevel":"high","riskEventStatus":"active","userId":"u\#(n)"}"# + "\n"
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `irisk import` in the background, stderr to a file.
    static func startImport(_ arguments: [String], directory: String) throws -> (Process, String) {
        let err = directory + "/import.err"
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: productPath("irisk"))
        process.arguments = ["import"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        try process.run()
        return (process, err)
    }

    static func waitForExit(_ process: Process, timeout: Duration = .seconds(60)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return process.isRunning ? nil : process.terminationStatus
    }

    @Test("an import whose server shuts down stops with one message and the summary, exit 5, at most 10 lines in all")
    func importServerGoesAway() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/d.sock"
        let daemon = try HardeningDaemon(socketPath: socket, arguments: ["--store", "sqlite:" + directory + "/e.sqlite"])
        defer { daemon.kill() }
        try await daemon.waitUntilServing()
        let file = try Self.importFile(directory, lines: 40_000)
        let (process, err) = try Self.startImport([file, "--socket", socket], directory: directory)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let stored = try? await withIdentityRiskClient(socketPath: socket) { try await $0.list(ListEvents.Request(top: 1)) }
            if (stored?.cursor.rawValue ?? 0) >= 2000 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try await daemon.terminate() == 0)
        let status = await Self.waitForExit(process)
        let stderr = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        #expect(status == 5, "exit 5, the server is unavailable: \(stderr.suffix(500))")
        let lines = stderr.split(separator: "\n").map(String.init)
        #expect(lines.count <= 10, "one message and a summary, not an error per line: \(lines.count) lines\n\(stderr.prefix(2000))")
        #expect(lines.filter { $0.hasPrefix("irisk import: the server is unavailable: ") }.count == 1, "\(stderr.suffix(500))")
        let summary = try #require(lines.last)
        #expect(summary.firstMatch(of: /^stopped at line \d+: \d+ created, \d+ already existed, \d+ invalid(, \d+ not answered)?; run the same command again to continue — ids make it safe$/) != nil, "\(summary)")
    }

    @Test("Ctrl-C (SIGINT) or SIGTERM during an import: the calls in flight are answered, the same summary, exit 130 or 143", arguments: [SIGINT, SIGTERM])
    func importInterrupted(_ signal: Int32) async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteEventStore(path: directory + "/events.sqlite")
        try await withTestServer(store: store) { server in
            let file = try Self.importFile(directory, lines: 40_000)
            let (process, err) = try Self.startImport([file, "--socket", server.socketPath, "--in-flight", "16"], directory: directory)
            defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline, (try? await store.changeLogBounds().latest.rawValue) ?? 0 < 1000 {
                try await Task.sleep(for: .milliseconds(20))
            }
            kill(process.processIdentifier, signal)
            let status = await Self.waitForExit(process)
            let stderr = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
            #expect(status == 128 + signal, "\(stderr.suffix(500))")
            let lines = stderr.split(separator: "\n").map(String.init)
            #expect(lines.count == 2, "one message, one summary: \(stderr.suffix(500))")
            #expect(lines.first?.hasPrefix("irisk import: \(signal == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)")") == true, "\(stderr)")
            let summary = try #require(lines.last)
            #expect(summary.hasPrefix("stopped at line ") && summary.hasSuffix("run the same command again to continue — ids make it safe"), "\(summary)")
            let created = try #require(summary.firstMatch(of: /: (\d+) created/).map { Int($0.1)! })
            let stored = Int(try await store.changeLogBounds().latest.rawValue)
            #expect(created == stored, "every line the summary counts as created is stored, and no more (\(created) vs \(stored))")
            #expect(created < 40_000)
        }
    }
}

extension CLITests {
    @Test("Ctrl-C typed on a terminal during an import: the progress line is cleared before the message and the summary, exit 130")
    func importInterruptedOnTerminal() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteEventStore(path: directory + "/events.sqlite")
        try await withTestServer(store: store) { server in
            let file = try Self.importFile(directory, lines: 40_000)
            // util-linux script(1) runs irisk on a pseudo-terminal; a 0x03 written to
            // its stdin reaches the terminal, whose line discipline sends SIGINT.
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
            process.arguments = ["-q", "-e", "-c", "'\(productPath("irisk"))' import '\(file)' --socket '\(server.socketPath)' --in-flight 16", "/dev/null"]
            let outputPath = directory + "/terminal.out"
            _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
            let input = Pipe()
            process.standardInput = input
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
            process.standardError = FileHandle.nullDevice
            try process.run()
            defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline, (try? await store.changeLogBounds().latest.rawValue) ?? 0 < 1000 {
                try await Task.sleep(for: .milliseconds(20))
            }
            // Let a progress line be drawn (at most 10 a second) before the Ctrl-C.
            try await Task.sleep(for: .milliseconds(300))
            input.fileHandleForWriting.write(Data([0x03]))
            let status = await Self.waitForExit(process)
            try? input.fileHandleForWriting.close()
            let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            #expect(status == 130, "\(output.suffix(500))")
            #expect(output.contains(" lines  "), "a progress line was drawn: \(output.prefix(300))")
            #expect(output.contains("\r\u{1B}[2Kirisk import: interrupted (SIGINT)"), "the progress line is cleared first: \(output.suffix(500).debugDescription)")
            let lines = output.split(whereSeparator: \.isNewline).map(String.init)
            #expect(lines.last?.hasPrefix("stopped at line ") == true, "\(output.suffix(300).debugDescription)")
        }
    }
}
