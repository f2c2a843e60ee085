import ArgumentParser
import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskGraphJSON
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create identityRiskEvents from NDJSON: one Graph JSON body per line.",
        discussion: """
            Lines are read as a stream (any size of file, bounded memory) and their creates are \
            pipelined over one connection. Each rejected line is reported on stderr with its line \
            number and reason; the exit status is non-zero if any line failed. Lines that carry an \
            "id" are idempotent: importing the same file again creates nothing new. On a terminal, \
            a progress line shows the count, the rate and (for files) the time left.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "NDJSON file, or - for stdin.")
    var file: String

    @Option(help: "Creates in flight at once (1 ... 4096).")
    var inFlight: Int = 256

    @Option(help: "Longest accepted line, in bytes.")
    var maxLineBytes: Int = 64 * 1024

    func validate() throws {
        guard (1...4096).contains(inFlight) else { throw ValidationError("--in-flight must be 1 ... 4096") }
    }

    enum LineResult: Sendable {
        case created, existed
        case failed(line: Int, error: IdentityRiskError)
    }

    func run() async throws {
        guard let reader = LineReader(path: file, maxLineBytes: maxLineBytes) else {
            throw fail(IdentityRiskError(code: .invalidArgument, message: "cannot open \(file): \(String(cString: strerror(errno)))", target: "file"))
        }
        let progress = Progress(totalBytes: reader.totalBytes, enabled: isatty(STDERR_FILENO) == 1)
        var created = 0, existed = 0, failed = 0, lastLine = 0
        // The server went away (or a signal came): stop sending, let what is in
        // flight answer, then one summary instead of an error per remaining line.
        var unavailable: IdentityRiskError?
        let interrupted = Atomic<Bool>(false)
        let stop = SignalStop(signals: [SIGINT, SIGTERM]) { interrupted.store(true, ordering: .relaxed) }
        defer { stop.cancel() }
        func record(_ result: LineResult) {
            switch result {
            case .created: created += 1
            case .existed: existed += 1
            case .failed(_, let error) where error.code == .unavailable:
                failed += 1
                if unavailable == nil { unavailable = error }
            case .failed(let line, let error):
                failed += 1
                progress.clearLine()
                printError("line \(line): \(error.code.graphCode): \(error.message)")
            }
            progress.update(done: created + existed + failed, bytesRead: reader.bytesRead)
        }
        let window = inFlight
        do {
            try await connection.withClient { client in
                try await withThrowingTaskGroup(of: LineResult.self) { group in
                    var running = 0
                    while unavailable == nil, !interrupted.load(ordering: .relaxed), let (number, line) = reader.next() {
                        lastLine = number
                        if line?.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") }) == true { continue }
                        if running == window, let result = try await group.next() {
                            running -= 1
                            record(result)
                        }
                        guard let line else {
                            record(.failed(line: number, error: IdentityRiskError(
                                code: .invalidArgument, message: "the line is longer than \(maxLineBytes) bytes (--max-line-bytes)")))
                            continue
                        }
                        running += 1
                        group.addTask { await Self.importLine(line, number: number, client: client) }
                    }
                    for try await result in group { record(result) }
                }
            }
        } catch {
            progress.clearLine()
            throw fail(error)
        }
        progress.finish()
        let total = created + existed + failed
        let summary = "\(created) created, \(existed) already existed, \(failed) failed"
        if let unavailable {
            printError("""
                stopped after line \(lastLine): the server is unavailable (\(unavailable.message)); \(summary). \
                Lines with an "id" are idempotent: once the server is back, run the same import again to finish it.
                """)
            throw ExitCode(5)
        }
        if interrupted.load(ordering: .relaxed) {
            printError("interrupted after line \(lastLine) (\(progress.elapsedText)): \(summary); the calls in flight were answered first")
            throw ExitCode(130)
        }
        printError("imported \(total) lines in \(progress.elapsedText): \(summary)")
        if failed > 0 { throw ExitCode(2) }
    }

    static func importLine(_ line: [UInt8], number: Int, client: IdentityRiskClient) async -> LineResult {
        do {
            let draft = try GraphJSON.decodeDraft(line)
            try checkLocally(draft)
            let outcome = try await client.create(draft)
            return outcome.alreadyExisted ? .existed : .created
        } catch let error as IdentityRiskError {
            return .failed(line: number, error: error)
        } catch {
            return .failed(line: number, error: IdentityRiskError(code: .unavailable, message: "\(error)"))
        }
    }
}
