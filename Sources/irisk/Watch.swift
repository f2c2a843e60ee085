import ArgumentParser
import Dispatch
import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskGraphJSON
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Follow changes as they are committed: one NDJSON line per change (cursor, kind, event).",
        discussion: """
            Prints {"cursor":"…","kind":"created|updated|deleted","event":{…Graph JSON…}} per change, \
            flushed line by line. For a delete, the event is the record as it was when deleted (its \
            last version). The stream reconnects and resumes by itself if the connection breaks or the \
            server restarts (no change missed, none twice). On Ctrl-C or SIGTERM it prints the last \
            cursor to stderr and exits 0; resume later with --from CURSOR.
            To follow a listing: irisk list … prints "@identityRisk.cursor"; watch --from that cursor.
            A cursor older than the server's change retention fails with exit status 9: list again.
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var filters: FilterOptions

    @Option(help: "Where to start: now (default), beginning (the oldest retained change), or a cursor to resume after.")
    var from: String = "now"

    @Flag(help: "Also print bookmarks ({\"cursor\",\"kind\":\"bookmark\"}), the server's periodic resume points.")
    var bookmarks = false

    @Option(help: "Exit 0 after this many changes.")
    var count: Int?

    @Flag(help: "Fail instead of reconnecting when the connection breaks.")
    var noResume = false

    @Option(help: ArgumentHelp("ndjson or json (the same: one JSON line per change; the default), table (one aligned line per change, for people) or auto (table on a terminal).", valueName: "format"))
    var output: OutputFormat = .ndjson

    var start: WatchChanges.Start {
        get throws {
            switch from {
            case "now": return .now
            case "beginning", "oldest": return .oldest
            default:
                guard let value = UInt64(from) else {
                    throw ValidationError("--from '\(from)' is not now, beginning, or a cursor (a whole number from a list or watch answer)")
                }
                return .after(ChangeCursor(value))
            }
        }
    }

    func validate() throws {
        _ = try start
        if let count, count < 1 { throw ValidationError("--count \(count) must be at least 1") }
    }

    func run() async throws {
        let start = try start
        let filterText: String
        do {
            filterText = try filters.checked()
        } catch {
            throw fail(error)
        }
        let last = Mutex<ChangeCursor?>(nil)
        let socket = connection.socket
        let serverUID = connection.expectedServerUID
        let options = WatchOptions(resume: !noResume)
        let printBookmarks = bookmarks
        let limit = count
        let table = output.resolved(isTerminal: isatty(STDOUT_FILENO) == 1) == .table
        if table { writeLine(Self.tableHeader) }
        let work = Task {
            try await withIdentityRiskClient(socketPath: socket, configuration: ClientConfiguration(expectedServerUID: serverUID)) { client in
                var changes = 0
                for try await message in client.watch(filter: filterText, from: start, options: options) {
                    last.withLock { $0 = message.cursor }
                    if case .bookmark = message, !printBookmarks { continue }
                    writeLine(table ? Self.tableLine(message) : GraphJSON.encode(message))
                    if case .change = message {
                        changes += 1
                        if let limit, changes >= limit { return }
                    }
                }
            }
        }
        let stop = SignalStop(signals: [SIGINT, SIGTERM]) { _ in work.cancel() }
        defer { stop.cancel() }
        let result = await work.result
        let cursor = last.withLock { $0 }
        switch result {
        case .success:
            printResume(cursor)
        case .failure(let error):
            if work.isCancelled || error is CancellationError {
                printResume(cursor)
                return
            }
            if let error = error as? IdentityRiskError, error.isCursorExpired {
                printError(GraphJSON.encode(error))
                throw ExitCode(9)
            }
            if cursor != nil { printResume(cursor) }
            throw fail(error)
        }
    }

    static let tableHeader = Self.columns(["CURSOR", "KIND", "ID", "RISK", "STATUS", "USER"])

    /// One change (or bookmark) as a line of fixed-width columns.
    static func tableLine(_ message: WatchChanges.Message) -> String {
        switch message {
        case .change(let change):
            let e = change.event
            return columns([change.cursor.description, change.kind.rawValue, e.id, e.riskLevel.rawValue, e.riskEventStatus.rawValue, e.userPrincipalName])
        case .bookmark(let cursor):
            return columns([cursor.description, "bookmark", "", "", "", ""])
        }
    }

    private static func columns(_ cells: [String]) -> String {
        let widths = [10, 9, 38, 8, 26]
        return cells.enumerated().map { i, cell in
            guard i < widths.count else { return cell }
            let clipped = cell.count < widths[i] ? cell : String(cell.prefix(widths[i] - 2)) + "…"
            return clipped + String(repeating: " ", count: max(1, widths[i] - clipped.count))
        }.joined()
    }

    private func printResume(_ cursor: ChangeCursor?) {
        if let cursor {
            printError("irisk watch: last cursor \(cursor) (resume with --from \(cursor))")
        } else {
            printError("irisk watch: no message received")
        }
    }
}

/// One line on stdout, written at once (not held in a buffer while the pipe's reader waits).
private func writeLine(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// Runs `action` once on the first of `signals`, instead of dying of it.
final class SignalStop {
    private let sources: [any DispatchSourceSignal]

    /// `action` gets the signal's number.
    init(signals: [Int32], action: @escaping @Sendable (Int32) -> Void) {
        let fired = Atomic<Bool>(false)
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if fired.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged { action(number) }
            }
            source.resume()
            return source
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}
