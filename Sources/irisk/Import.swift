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
            number and reason (or, with --reject-file, written there with its reason for fixing and \
            importing again); the exit status is 2 if any line was invalid. Blank lines and lines \
            starting with # are skipped. Lines that carry an "id" are idempotent: importing the same \
            file again creates nothing new. If the server goes away, the import stops with one \
            message and a summary (exit 5); Ctrl-C and SIGTERM stop it the same way (exit 130, 143). \
            On a terminal, a progress line shows the count, the rate and (for files) the time left.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "NDJSON file, or - for stdin.")
    var file: String

    @Option(help: "Creates in flight at once (1 ... 4096).")
    var inFlight: Int = 256

    @Option(help: "Longest accepted line, in bytes.")
    var maxLineBytes: Int = 64 * 1024

    @Option(help: ArgumentHelp("Stop after this many invalid lines (exit 2, with the summary).", valueName: "n"))
    var maxErrors: Int?

    @Option(help: ArgumentHelp(
        "Write each invalid line here, verbatim, after a '# line N: reason' comment line (fix them and import the file again).",
        valueName: "path"))
    var rejectFile: String?

    func validate() throws {
        guard (1...4096).contains(inFlight) else { throw ValidationError("--in-flight must be 1 ... 4096") }
        if let maxErrors, maxErrors < 1 { throw ValidationError("--max-errors must be at least 1") }
    }

    enum LineResult: Sendable {
        case created, existed
        case failed(line: Int, error: IdentityRiskError, text: [UInt8]?)
    }

    /// Why the import stopped before the end of its input.
    enum Stop {
        /// The server went away, or refuses these calls (permission denied).
        case unavailable(IdentityRiskError)
        case signal(Int32)
        case maxErrors
    }

    func run() async throws {
        guard let reader = LineReader(path: file, maxLineBytes: maxLineBytes) else {
            throw fail(IdentityRiskError(code: .invalidArgument, message: "cannot open \(file): \(String(cString: strerror(errno)))", target: "file"))
        }
        let rejects: RejectFile?
        do {
            rejects = try rejectFile.map(RejectFile.init(path:))
        } catch {
            throw fail(error)
        }
        let progress = Progress(totalBytes: reader.totalBytes, enabled: isatty(STDERR_FILENO) == 1)
        var created = 0, existed = 0, invalid = 0, unanswered = 0, lastLine = 0
        // The server went away, a signal came or --max-errors was reached: stop
        // sending, let what is in flight answer, then one summary instead of an
        // error per remaining line.
        var stop: Stop?
        let signalled = Atomic<Int32>(0)
        let signals = SignalStop(signals: [SIGINT, SIGTERM]) { signalled.store($0, ordering: .relaxed) }
        defer { signals.cancel() }
        var checkedShape = false
        func record(_ result: LineResult) {
            switch result {
            case .created: created += 1
            case .existed: existed += 1
            case .failed(_, let error, _) where error.code == .unavailable || error.code == .permissionDenied:
                // Every later line would fail the same way: stop at the first.
                unanswered += 1
                if stop == nil { stop = .unavailable(error) }
            case .failed(let line, let error, let text):
                invalid += 1
                if let rejects {
                    rejects.write(line: line, error: error, text: text)
                } else {
                    progress.clearLine()
                    printError("line \(line): \(error.code.graphCode): \(error.message)")
                }
                if let maxErrors, invalid >= maxErrors, stop == nil { stop = .maxErrors }
            }
            progress.update(done: created + existed + invalid + unanswered, bytesRead: reader.bytesRead)
        }
        let window = inFlight
        do {
            try await connection.withClient { client in
                try await withThrowingTaskGroup(of: LineResult.self) { group in
                    var running = 0
                    while stop == nil, let (number, line) = reader.next() {
                        let signal = signalled.load(ordering: .relaxed)
                        if signal != 0 { stop = .signal(signal); break }
                        if let line, Self.isSkipped(line) { lastLine = number; continue }
                        if !checkedShape, let line {
                            // The first line with content tells a JSON array or a
                            // pretty-printed document: say so once, send nothing.
                            checkedShape = true
                            if let hint = Self.shapeHint(line, file: file) {
                                throw IdentityRiskError(code: .invalidArgument, message: "line \(number): \(hint)", target: "file")
                            }
                        }
                        if running == window, let result = try await group.next() {
                            running -= 1
                            record(result)
                            // That answer may stop the import: this line is then not sent.
                            if stop != nil { break }
                        }
                        lastLine = number
                        guard let line else {
                            record(.failed(line: number, error: IdentityRiskError(
                                code: .invalidArgument, message: "the line is longer than \(maxLineBytes) bytes (--max-line-bytes)"), text: nil))
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
        if stop == nil, case let signal = signalled.load(ordering: .relaxed), signal != 0 { stop = .signal(signal) }
        var summary = "\(created) created, \(existed) already existed, \(invalid) invalid"
        if unanswered > 0 { summary += ", \(unanswered) not answered" }
        let rejected = rejects.map { " (the invalid lines are in \($0.path))" } ?? ""
        let again = "run the same command again to continue — ids make it safe"
        switch stop {
        case .unavailable(let error)?:
            let refused = error.code == .permissionDenied
            printError("irisk import: \(refused ? "the server refuses it" : "the server is unavailable"): \(error.message)")
            printError("stopped at line \(lastLine): \(summary)\(rejected); \(again)")
            throw ExitCode(refused ? 8 : 5)
        case .signal(let signal)?:
            printError("irisk import: \(signal == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)") after \(progress.elapsedText); the calls in flight were answered")
            printError("stopped at line \(lastLine): \(summary)\(rejected); \(again)")
            throw ExitCode(128 + signal)
        case .maxErrors?:
            printError("irisk import: \(invalid) invalid lines reached --max-errors \(maxErrors ?? 0)")
            printError("stopped at line \(lastLine): \(summary)\(rejected); fix the invalid lines and \(again)")
            throw ExitCode(2)
        case nil:
            printError("imported \(created + existed + invalid) lines in \(progress.elapsedText): \(summary)\(rejected)")
            if invalid > 0 { throw ExitCode(2) }
        }
    }

    /// Blank lines, and `#` comments (a reject file's reasons).
    static func isSkipped(_ line: [UInt8]) -> Bool {
        guard let first = line.first(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") && $0 != UInt8(ascii: "\r") }) else { return true }
        return first == UInt8(ascii: "#")
    }

    /// A hint when the first line is not one JSON object: a JSON array, or the
    /// first line of a pretty-printed document.
    static func shapeHint(_ line: [UInt8], file: String) -> String? {
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let source = file == "-" ? "" : " '\(file)'"
        if text.hasPrefix("[") {
            return "this looks like a JSON array; import reads one JSON object per line: jq -c '.[]'\(source) | irisk import -"
        }
        if text.hasPrefix("{"), !text.hasSuffix("}") {
            return "this looks like a pretty-printed JSON document; import reads one JSON object per line: jq -c .\(source) | irisk import -"
        }
        return nil
    }

    static func importLine(_ line: [UInt8], number: Int, client: IdentityRiskClient) async -> LineResult {
        do {
            let draft = try GraphJSON.decodeDraft(line)
            try checkLocally(draft)
            let outcome = try await client.create(draft)
            return outcome.alreadyExisted ? .existed : .created
        } catch let error as IdentityRiskError {
            return .failed(line: number, error: error, text: line)
        } catch {
            return .failed(line: number, error: IdentityRiskError(code: .unavailable, message: "\(error)"), text: line)
        }
    }
}

/// `--reject-file`: each invalid line as it was read, after a comment line
/// with its number and reason. Import skips `#` lines, so the file can be
/// fixed and imported as it is.
final class RejectFile {
    let path: String
    private let handle: FileHandle

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw IdentityRiskError(code: .invalidArgument, message: "cannot write --reject-file \(path): \(String(cString: strerror(errno)))", target: "--reject-file")
        }
        self.path = path
        self.handle = handle
    }

    deinit { try? handle.close() }

    func write(line: Int, error: IdentityRiskError, text: [UInt8]?) {
        let reason = "\(error.code.graphCode): \(error.message)".replacingOccurrences(of: "\n", with: " ")
        var bytes = Array("# line \(line): \(reason)\(text == nil ? " (the line itself is not copied)" : "")\n".utf8)
        if let text { bytes += text + [UInt8(ascii: "\n")] }
        do {
            try handle.write(contentsOf: bytes)
        } catch {
            printError("irisk import: cannot write to --reject-file \(path): \(error)")
        }
    }
}
