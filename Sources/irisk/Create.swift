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
    @Option var userDisplayName: String?
    @Option var userPrincipalName: String?
    @Option(help: "e.g. 2017-01-01T00:01:00.7804275+03:00")
    var riskEventDateTime: String?
    @Option var riskEventType: String?
    @Option(help: "\(RiskLevel.allowedValues)")
    var riskLevel: String?
    @Option(help: "\(RiskEventStatus.allowedValues)")
    var riskEventStatus: String?
    @Option var closedDateTime: String?
    @Option var userId: String?

    func validate() throws {
        if json == nil, [userPrincipalName, riskEventDateTime, riskEventType, riskLevel, riskEventStatus, userId].allSatisfy({ $0 == nil }) {
            throw ValidationError("give a body with --json FILE (or - for stdin), or the properties as flags; see --help")
        }
    }

    func run() async throws {
        do {
            var draft = IdentityRiskEventDraft()
            if let json {
                draft = try GraphJSON.decodeDraft(try readInput(json))
            }
            let flags: [String: String?] = [
                "id": id, "userDisplayName": userDisplayName, "userPrincipalName": userPrincipalName,
                "riskEventDateTime": riskEventDateTime, "riskEventType": riskEventType, "riskLevel": riskLevel,
                "riskEventStatus": riskEventStatus, "closedDateTime": closedDateTime, "userId": userId,
            ]
            let given = flags.compactMapValues { $0 }
            if !given.isEmpty {
                draft = merge(draft, GraphJSON.decodeDraft(properties: given), keys: Set(given.keys))
            }
            try checkLocally(draft)
            let outcome = try await connection.withClient { try await $0.create(draft) }
            if outcome.alreadyExisted {
                printError("irisk: note: id \(outcome.event.id) already existed with the same content; this is the stored record (nothing was created)")
            }
            print(GraphJSON.encode(outcome.event))
        } catch {
            throw fail(error)
        }
    }

    /// `base` with the properties named in `keys` taken from `flags`.
    private func merge(_ base: IdentityRiskEventDraft, _ flags: IdentityRiskEventDraft, keys: Set<String>) -> IdentityRiskEventDraft {
        var d = base
        if keys.contains("id") { d.id = flags.id }
        if keys.contains("userDisplayName") { d.userDisplayName = flags.userDisplayName }
        if keys.contains("userPrincipalName") { d.userPrincipalName = flags.userPrincipalName }
        if keys.contains("riskEventDateTime") { d.riskEventDateTime = flags.riskEventDateTime }
        if keys.contains("riskEventType") { d.riskEventType = flags.riskEventType }
        if keys.contains("riskLevel") { d.riskLevel = flags.riskLevel }
        if keys.contains("riskEventStatus") { d.riskEventStatus = flags.riskEventStatus }
        if keys.contains("closedDateTime") { d.closedDateTime = flags.closedDateTime }
        if keys.contains("userId") { d.userId = flags.userId }
        d.decodingViolations = base.decodingViolations.filter { !keys.contains($0.field) } + flags.decodingViolations
        return d
    }
}
