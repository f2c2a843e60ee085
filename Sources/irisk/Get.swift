import ArgumentParser
import IdentityRiskClient

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print one identityRiskEvent by id (Graph: GET /identityRiskEvents/{id}).")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The record's id.")
    var id: String

    @OptionGroup var output: OutputOptions

    func run() async throws {
        do {
            let event = try await connection.withClient { try await $0.get(id: id) }
            output.print(event, default: .auto)
        } catch {
            throw fail(error)
        }
    }
}
