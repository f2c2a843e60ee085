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
            8 permission denied (the server does not grant your uid this method), 9 watch cursor expired \
            (list again and watch from the list's cursor), 64 usage error (bad flags).
            """,
        version: IdentityRiskVersion.current,
        subcommands: [Create.self, Get.self, List.self, Watch.self, Update.self, Delete.self, Import.self, Health.self, Stats.self, Version.self]
    )
}

/// Flags every subcommand shares.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "The server's Unix socket.")
    var socket: String = ProcessInfo.processInfo.environment["IRISK_SOCKET"] ?? "/tmp/identityrisk.sock"

    @Option(help: "Deadline for each call, in milliseconds.")
    var timeoutMs: UInt32 = 30_000

    func withClient<R: Sendable>(_ body: (IdentityRiskClient) async throws -> R) async throws -> R {
        try await withIdentityRiskClient(
            socketPath: socket,
            configuration: ClientConfiguration(defaultTimeoutMilliseconds: timeoutMs),
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
