import ArgumentParser
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskGraphJSON

struct Update: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Change properties of an identityRiskEvent (Graph: PATCH /identityRiskEvents/{id}) and print it.",
        discussion: """
            Give the changes as flags, as a Graph PATCH body (--json FILE, or - for stdin; \
            null clears a property, an "@odata.etag" in the body works as --if-match), or both \
            (flags win). --clear PROPERTY clears userDisplayName or closedDateTime. Properties not \
            given keep their values; id and createdDateTime are read-only. The merged record is \
            checked as a create is (closedDateTime not before riskEventDateTime, ...). With \
            --if-match ETAG (the record's @odata.etag), a record that changed since is refused \
            with exit status 7 and nothing changes.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The record's id.")
    var id: String

    @Option(help: "Graph JSON PATCH body: a file, or - for stdin.")
    var json: String?

    @Option(help: ArgumentHelp("Only if the record is still at this version (its @odata.etag, e.g. 'W/\"1\"', or just 1).", valueName: "etag"))
    var ifMatch: String?

    @Option(help: ArgumentHelp("Clear this optional property (repeatable): userDisplayName, closedDateTime.", valueName: "property"),
            completion: .list(EventProperty.allCases.filter(\.isNullable).map(\.graphName)))
    var clear: [String] = []

    @OptionGroup(title: "Properties to change") var properties: PropertyOptions

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if json == nil, clear.isEmpty, properties.given.isEmpty {
            throw ValidationError("give the changes as flags (e.g. --risk-event-status dismissedAsFalsePositive), --clear PROPERTY, or --json FILE; see --help")
        }
        if let ifMatch, ETag(parsing: ifMatch) == nil {
            throw ValidationError("--if-match '\(ifMatch)' is not \(ETag.format)")
        }
        for name in clear {
            guard let property = EventProperty(graphName: name), property.isNullable else {
                let nullable = EventProperty.allCases.filter(\.isNullable).map(\.graphName).joined(separator: ", ")
                throw ValidationError("--clear '\(name)': only an optional property can be cleared: \(nullable)")
            }
        }
    }

    func run() async throws {
        do {
            var patch = EventPatch()
            var bodyETag: UInt64?
            if let json {
                (patch, bodyETag) = try GraphJSON.decodePatch(try readInput(json))
            }
            var flags: [String: String?] = properties.given.mapValues { Optional($0) }
            for name in clear { flags[name] = .some(nil) }
            if !flags.isEmpty {
                let fromFlags = GraphJSON.decodePatch(properties: flags)
                for property in fromFlags.fields { patch.set(property, fromFlags.values[property]) }
                patch.values.decodingViolations = patch.values.decodingViolations.filter { v in !flags.keys.contains(v.field) }
                    + fromFlags.values.decodingViolations
            }
            let etag = ifMatch.flatMap { ETag(parsing: $0)?.version } ?? bodyETag
            let updated = try await connection.withClient { try await $0.update(id: id, patch, ifMatch: etag) }
            output.print(updated, default: .json)
        } catch {
            throw fail(error)
        }
    }
}
