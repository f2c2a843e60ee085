import ArgumentParser
import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskGraphJSON
import IdentityRiskWire

@main
struct Irisk: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "irisk",
        abstract: "Create, read, update, delete and watch identityRiskEvent records on an IdentityRisk server (iriskd).",
        discussion: """
            Records are printed as Microsoft Graph JSON. Errors are printed to stderr as Graph \
            error JSON ({"error": {"code", "message", "target", "details", "innerError"}}).
            Exit status: 0 success, 1 other error, 2 invalid input, 3 not found, 4 conflict \
            (id exists with other content, or was deleted), 5 server unavailable, overloaded or \
            unreachable, 6 deadline exceeded, 7 precondition failed (stale --if-match), \
            8 permission denied (the server does not grant your uid this method, refuses your uid, or runs as a uid \
            that is neither root nor yours: see --server-uid), 9 watch cursor expired \
            (list again and watch from the list's cursor), 64 usage error (bad flags), 130 interrupted \
            (SIGINT), 143 terminated (SIGTERM); the README's "Exit codes" says when each happens.
            """,
        version: IdentityRiskVersion.current,
        subcommands: [Create.self, Get.self, List.self, Watch.self, Update.self, Delete.self, Import.self, Health.self, Stats.self, Version.self, Completion.self]
    )

    /// Checks the first argument for a mistyped command (`irisk creat`: did
    /// you mean 'create'?) before the parser, which would not suggest one.
    static func main() async {
        let names = configuration.subcommands.map { $0._commandName }
        if let unknown = CommandSuggestion.unknownCommand(in: Array(CommandLine.arguments.dropFirst()), commands: names) {
            printError(unknown)
            Foundation.exit(64)
        }
        await main(nil)
    }
}

/// Flags every subcommand shares.
struct ConnectionOptions: ParsableArguments {
    @Option(
        name: .customLong("socket"),
        help: "The server's Unix socket (default: IRISK_SOCKET, else /run/identityrisk/iriskd.sock as root, else $XDG_RUNTIME_DIR/identityrisk/iriskd.sock).")
    var socketOption: String?

    @Option(help: ArgumentHelp(
        "The uid the server runs as, when it is neither root nor you (default: IRISK_SERVER_UID). Any other server uid is refused before anything is sent.",
        valueName: "uid"))
    var serverUid: UInt32?

    @Option(help: "Deadline for each call, in milliseconds.")
    var timeoutMs: UInt32 = 30_000

    /// The socket to connect to: --socket, IRISK_SOCKET, or the default iriskd uses
    /// (``validate()`` has checked that there is one).
    var socket: String {
        if let socketOption { return socketOption }
        if let fromEnvironment = ProcessInfo.processInfo.environment["IRISK_SOCKET"], !fromEnvironment.isEmpty { return fromEnvironment }
        return (try? DefaultSocketPath.current()) ?? ""
    }

    /// --server-uid, else IRISK_SERVER_UID (checked by ``validate()``).
    var expectedServerUID: UInt32? {
        serverUid ?? ProcessInfo.processInfo.environment["IRISK_SERVER_UID"].flatMap { UInt32($0) }
    }

    func validate() throws {
        if socketOption == nil, ProcessInfo.processInfo.environment["IRISK_SOCKET"].map({ $0.isEmpty }) != false {
            do {
                _ = try DefaultSocketPath.current()
            } catch {
                throw ValidationError(error.message)
            }
        }
        if serverUid == nil, let text = ProcessInfo.processInfo.environment["IRISK_SERVER_UID"], !text.isEmpty, UInt32(text) == nil {
            throw ValidationError("IRISK_SERVER_UID '\(text)' is not a numeric uid")
        }
    }

    func withClient<R: Sendable>(_ body: (IdentityRiskClient) async throws -> R) async throws -> R {
        try await withIdentityRiskClient(
            socketPath: socket,
            configuration: ClientConfiguration(defaultTimeoutMilliseconds: timeoutMs, expectedServerUID: expectedServerUID),
            body)
    }
}

/// Prints `error` as Graph error JSON on stderr and exits with its code's status.
func fail(_ error: any Error) -> ExitCode {
    let riskError: IdentityRiskError
    switch error {
    case let e as IdentityRiskError: riskError = e
    case let e as WireError: riskError = IdentityRiskError(code: .unavailable, message: e.description)
    default: riskError = IdentityRiskError(code: .unavailable, message: "\(error)")
    }
    printError(GraphJSON.encode(riskError))
    switch riskError.code {
    case .invalidArgument: return ExitCode(2)
    case .failedPrecondition: return ExitCode(7)
    case .permissionDenied: return ExitCode(8)
    case .notFound: return ExitCode(3)
    case .alreadyExists: return ExitCode(4)
    case .unavailable, .resourceExhausted: return ExitCode(5)
    case .deadlineExceeded: return ExitCode(6)
    default: return ExitCode(1)
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Reads a whole file, or stdin for "-", with a size limit.
func readInput(_ path: String, limit: Int = 1 << 20) throws -> Data {
    let data: Data
    if path == "-" {
        data = FileHandle.standardInput.readDataToEndOfFile()
    } else {
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw IdentityRiskError(code: .invalidArgument, message: "cannot read \(path): no such file or not readable", target: "json")
        }
        data = contents
    }
    guard data.count <= limit else {
        throw IdentityRiskError(code: .invalidArgument, message: "\(path) is \(data.count) bytes; a body is at most \(limit)", target: "json")
    }
    return data
}

/// Checks a draft on this side first, so problems the wire cannot carry (an
/// enum member like "String", malformed dates) get the same error the server gives.
func checkLocally(_ draft: IdentityRiskEventDraft) throws {
    _ = try EventValidator().validate(draft, assignID: { "local-check" }, createdDateTime: SystemEventClock().now())
}
