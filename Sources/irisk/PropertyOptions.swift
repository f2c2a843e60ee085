import ArgumentParser
import IdentityRiskCore

/// One flag per writable property of identityRiskEvent, shared by `create`
/// and `update`. ``value(of:)`` switches over every ``EventProperty``, so a new
/// property does not compile until it has its flag (or a reason not to).
struct PropertyOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Text, at most \(EventLimits.default.maxUserDisplayNameBytes) bytes.", valueName: "text"))
    var userDisplayName: String?
    @Option(help: ArgumentHelp("Text, at most \(EventLimits.default.maxUserPrincipalNameBytes) bytes.", valueName: "text"))
    var userPrincipalName: String?
    @Option(help: ArgumentHelp("e.g. 2017-01-01T00:01:00.7804275+03:00", valueName: "datetime"))
    var riskEventDateTime: String?
    @Option(help: ArgumentHelp("Free text, e.g. leakedCredentials.", valueName: "text"))
    var riskEventType: String?
    @Option(help: ArgumentHelp(RiskLevel.allowedValues, valueName: "level"), completion: .list(RiskLevel.allCases.map(\.rawValue)))
    var riskLevel: String?
    @Option(help: ArgumentHelp(RiskEventStatus.allowedValues, valueName: "status"), completion: .list(RiskEventStatus.allCases.map(\.rawValue)))
    var riskEventStatus: String?
    @Option(help: ArgumentHelp("Not before riskEventDateTime.", valueName: "datetime"))
    var closedDateTime: String?
    @Option(help: ArgumentHelp("Text, at most \(EventLimits.default.maxUserIDBytes) bytes.", valueName: "text"))
    var userId: String?

    /// The flag given for `property`, if any.
    func value(of property: EventProperty) -> String? {
        switch property {
        case .id: nil  // create has --id; update names the record by its argument
        case .userDisplayName: userDisplayName
        case .userPrincipalName: userPrincipalName
        case .riskEventDateTime: riskEventDateTime
        case .riskEventType: riskEventType
        case .riskLevel: riskLevel
        case .riskEventStatus: riskEventStatus
        case .closedDateTime: closedDateTime
        case .createdDateTime: nil  // read-only: set by the server
        case .userId: userId
        }
    }

    /// Graph name → value of every flag given.
    var given: [String: String] {
        var values: [String: String] = [:]
        for property in EventProperty.allCases {
            if let value = value(of: property) { values[property.graphName] = value }
        }
        return values
    }
}
