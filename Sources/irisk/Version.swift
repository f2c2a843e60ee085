import ArgumentParser
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskWire

struct Version: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print this client's version and protocol version, and the server's (exit 5 if it cannot be reached).")

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        print("client: irisk \(IdentityRiskVersion.current), protocol version \(WireProtocol.version)")
        do {
            let status = try await connection.withClient { try await $0.health() }
            print("server: iriskd \(status.serverVersion), protocol version \(status.protocolVersion), store \(status.store), at \(connection.socket)")
        } catch {
            throw fail(error)
        }
    }
}
