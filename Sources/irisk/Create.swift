import ArgumentParser
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskGraphJSON

struct Create: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create an identityRiskEvent (Graph: POST /identityRiskEvents) and print it.",
        discussion: """
            Give the body as Graph JSON (--json FILE, or --json - for stdin) or as flags; flags \
            override the body's properties. Required: userPrincipalName, riskEventDateTime, \
            riskEventType, riskLevel, riskEventStatus, userId. A given --id makes the create \
            idempotent: repeating it with the same content returns the stored record.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Graph JSON body: a file, or - for stdin.")
    var json: String?

    @Option(help: "Client-chosen id (A-Z a-z 0-9 - . _ ~, at most 128); default: a new UUID.")
    var id: String?

    @OptionGroup(title: "Properties") var properties: PropertyOptions

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if json == nil, id == nil, properties.given.isEmpty {
            throw ValidationError("give a body with --json FILE (or - for stdin), or the properties as flags; see --help")
        }
    }

    func run() async throws {
        do {
            var draft = IdentityRiskEventDraft()
            if let json {
                draft = try GraphJSON.decodeDraft(try readInput(json))
            }
            var given = properties.given
            if let id { given[EventProperty.id.graphName] = id }
            if !given.isEmpty {
                draft = merge(draft, GraphJSON.decodeDraft(properties: given), keys: Set(given.keys))
            }
            try checkLocally(draft)
            let outcome = try await connection.withClient { try await $0.create(draft) }
            if outcome.alreadyExisted {
                printError("irisk: note: id \(outcome.event.id) already existed with the same content; this is the stored record (nothing was created)")
            }
            output.print(outcome.event, default: .json)
        } catch {
            throw fail(error)
        }
    }

    /// `base` with the properties named in `keys` taken from `flags`.
    private func merge(_ base: IdentityRiskEventDraft, _ flags: IdentityRiskEventDraft, keys: Set<String>) -> IdentityRiskEventDraft {
        var d = base
        for property in EventProperty.allCases where keys.contains(property.graphName) {
            d[property] = flags[property]
        }
        d.decodingViolations = base.decodingViolations.filter { !keys.contains($0.field) } + flags.decodingViolations
        return d
    }
}
