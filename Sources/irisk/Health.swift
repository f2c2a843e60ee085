import ArgumentParser
import IdentityRiskClient
import IdentityRiskService
import IdentityRiskWire

struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask the server whether it is serving; exit 0 only if it is.")

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        do {
            let status = try await connection.withClient { try await $0.health() }
            print("""
                {"status": "\(status.serving == .serving ? "serving" : "draining")", "serverVersion": "\(status.serverVersion)", \
                "protocolVersion": \(status.protocolVersion), "store": "\(status.store)", "uptimeMs": \(status.uptimeMilliseconds), \
                "openConnections": \(status.openConnections)}
                """)
            if status.serving != .serving { throw ExitCode(5) }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw fail(error)
        }
    }
}
