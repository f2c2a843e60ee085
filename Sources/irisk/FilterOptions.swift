import ArgumentParser
import Foundation
import IdentityRiskCore

/// `--filter` and its shorthand flags (list and watch).
struct FilterOptions: ParsableArguments {
    @Option(help: "OData $filter: eq ne gt ge lt le, and, or, parentheses.")
    var filter: String = ""

    @Option(help: "Shorthand filters, combined with 'and': --user-id, --risk-level, ...")
    var userId: String?
    @Option var userPrincipalName: String?
    @Option(completion: .list(RiskLevel.allCases.map(\.rawValue))) var riskLevel: String?
    @Option(completion: .list(RiskEventStatus.allCases.map(\.rawValue))) var riskEventStatus: String?
    @Option var riskEventType: String?
    @Option(help: "createdDateTime ge this")
    var createdAfter: String?
    @Option(help: "createdDateTime lt this")
    var createdBefore: String?
    @Option(help: "riskEventDateTime ge this")
    var riskEventAfter: String?
    @Option(help: "riskEventDateTime lt this")
    var riskEventBefore: String?

    /// `--filter` and the shorthand flags as one $filter text, checked here
    /// first so that an error names what the user typed: a `--filter` syntax
    /// error with its position in the user's own text (not in the combined
    /// text), a bad shorthand value by its flag, with what is allowed.
    func checked() throws(IdentityRiskError) -> String {
        func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }
        func bad(_ flag: String, _ value: String, _ why: String) -> IdentityRiskError {
            IdentityRiskError(code: .invalidArgument, message: "--\(flag) '\(value)' \(why)", target: "--\(flag)")
        }
        var terms: [String] = []
        if !filter.allSatisfy(\.isWhitespace) {
            do {
                _ = try ODataFilter.parse(filter)
            } catch {
                // The position is in the user's own text: --filter is parsed alone.
                var located = error
                located.message = error.message.hasPrefix("filter: ") ? "--" + error.message : "--filter: " + error.message
                located.target = "--filter"
                throw located
            }
        }
        for (value, property) in [(userId, "userId"), (userPrincipalName, "userPrincipalName"), (riskEventType, "riskEventType")] {
            if let value { terms.append("\(property) eq \(quoted(value))") }
        }
        if let riskLevel {
            guard RiskLevel(rawValue: riskLevel) != nil else {
                throw bad("risk-level", riskLevel, "is not a riskLevel; allowed: \(RiskLevel.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            terms.append("riskLevel eq \(quoted(riskLevel))")
        }
        if let riskEventStatus {
            guard RiskEventStatus(rawValue: riskEventStatus) != nil else {
                throw bad("risk-event-status", riskEventStatus, "is not a riskEventStatus; allowed: \(RiskEventStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            terms.append("riskEventStatus eq \(quoted(riskEventStatus))")
        }
        for (flag, value, comparison) in [
            ("created-after", createdAfter, "createdDateTime ge"), ("created-before", createdBefore, "createdDateTime lt"),
            ("risk-event-after", riskEventAfter, "riskEventDateTime ge"), ("risk-event-before", riskEventBefore, "riskEventDateTime lt"),
        ] {
            guard let value else { continue }
            do {
                _ = try DateTimeOffset(parsing: value)
            } catch {
                throw bad(flag, value, "is not a DateTimeOffset: \(error.description)")
            }
            terms.append("\(comparison) \(value)")
        }
        if terms.isEmpty { return filter }
        if !filter.allSatisfy(\.isWhitespace) { terms.insert("(\(filter))", at: 0) }
        return terms.joined(separator: " and ")
    }
}
