import ArgumentParser
import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskGraphJSON
import IdentityRiskService
import IdentityRiskWire

struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask the server whether it is serving, and about its store; exit 0 only if it serves and its store is available.")

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        do {
            let status = try await connection.withClient { try await $0.health() }
            print(Self.json(status))
            if status.serving != .serving || !status.storeStatus.available { throw ExitCode(5) }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw fail(error)
        }
    }

    /// One JSON object; fields the store cannot tell are `null`.
    static func json(_ status: HealthStatus) -> String {
        let store = status.storeStatus
        func string(_ value: String?) -> String { value.map(jsonString) ?? "null" }
        func number<N: BinaryInteger>(_ value: N?) -> String { value.map { "\($0)" } ?? "null" }
        return """
            {"status": "\(status.serving == .serving ? "serving" : "draining")", "serverVersion": \(jsonString(status.serverVersion)), \
            "protocolVersion": \(status.protocolVersion), "store": \(jsonString(status.store)), "uptimeMs": \(status.uptimeMilliseconds), \
            "openConnections": \(status.openConnections), "storeLocation": \(string(store.location)), "storeHost": \(string(store.host)), \
            "storeSizeBytes": \(number(store.sizeBytes)), "records": \(number(store.records)), "queueDepth": \(store.queueDepth), \
            "storeAvailable": \(store.available), "storeProblem": \(string(store.problem))}
            """
    }
}

/// `value` as a JSON string literal (the one escaper: IdentityRiskGraphJSON.JSONString).
func jsonString(_ value: String) -> String { JSONString.quoted(value) }
