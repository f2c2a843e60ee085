import ArgumentParser
import IdentityRiskClient

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create identityRiskEvents from NDJSON (one Graph JSON body per line).")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "NDJSON file, or - for stdin.")
    var file: String

    func run() async throws {
        throw ValidationError("import is not implemented yet")
    }
}
