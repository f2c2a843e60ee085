import ArgumentParser
import IdentityRiskClient
import IdentityRiskCore

struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete an identityRiskEvent (Graph: DELETE /identityRiskEvents/{id}, 204).",
        discussion: """
            Prints nothing on success. An unknown or already deleted id exits 3 (not found). With \
            --if-match ETAG, a record that changed since is refused with exit status 7 and kept. \
            A deleted id is never reused: creating it again is refused (exit 4).
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The record's id.")
    var id: String

    @Option(help: ArgumentHelp("Only if the record is still at this version (its @odata.etag, e.g. 'W/\"1\"', or just 1).", valueName: "etag"))
    var ifMatch: String?

    func validate() throws {
        if let ifMatch, ETag(parsing: ifMatch) == nil {
            throw ValidationError("--if-match '\(ifMatch)' is not \(ETag.format)")
        }
    }

    func run() async throws {
        do {
            let etag = ifMatch.flatMap { ETag(parsing: $0)?.version }
            _ = try await connection.withClient { try await $0.delete(id: id, ifMatch: etag) }
        } catch {
            throw fail(error)
        }
    }
}
