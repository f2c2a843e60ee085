import ArgumentParser
import Foundation

/// `--filter` and its shorthand flags (list and watch).
struct FilterOptions: ParsableArguments {
    @Option(help: "OData $filter: eq ne gt ge lt le, and, or, parentheses.")
    var filter: String = ""

    @Option(help: "Shorthand filters, combined with 'and': --user-id, --risk-level, ...")
    var userId: String?
    @Option var userPrincipalName: String?
    @Option var riskLevel: String?
    @Option var riskEventStatus: String?
    @Option var riskEventType: String?
    @Option(help: "createdDateTime ge this")
    var createdAfter: String?
    @Option(help: "createdDateTime lt this")
    var createdBefore: String?
    @Option(help: "riskEventDateTime ge this")
    var riskEventAfter: String?
    @Option(help: "riskEventDateTime lt this")
    var riskEventBefore: String?

    /// `--filter` and the shorthand flags as one $filter text.
    var combined: String {
        func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }
        var terms: [String] = []
        if !filter.isEmpty { terms.append("(\(filter))") }
        if let userId { terms.append("userId eq \(quoted(userId))") }
        if let userPrincipalName { terms.append("userPrincipalName eq \(quoted(userPrincipalName))") }
        if let riskLevel { terms.append("riskLevel eq \(quoted(riskLevel))") }
        if let riskEventStatus { terms.append("riskEventStatus eq \(quoted(riskEventStatus))") }
        if let riskEventType { terms.append("riskEventType eq \(quoted(riskEventType))") }
        if let createdAfter { terms.append("createdDateTime ge \(createdAfter)") }
        if let createdBefore { terms.append("createdDateTime lt \(createdBefore)") }
        if let riskEventAfter { terms.append("riskEventDateTime ge \(riskEventAfter)") }
        if let riskEventBefore { terms.append("riskEventDateTime lt \(riskEventBefore)") }
        return terms.joined(separator: " and ")
    }
}
