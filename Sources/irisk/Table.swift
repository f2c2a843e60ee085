import IdentityRiskCore

/// `--output`: Graph JSON for programs, a table for people. `auto` is a table
/// on a terminal and JSON when the output is piped (as gh and kubectl do).
enum OutputFormat: String, CaseIterable {
    case auto, table, json

    func resolved(isTerminal: Bool) -> OutputFormat {
        self == .auto ? (isTerminal ? .table : .json) : self
    }
}

/// Records as aligned columns, for people.
enum EventTable {
    static let headers = ["ID", "RISK", "STATUS", "TYPE", "USER", "RISK TIME", "CREATED", "ETAG"]

    static func cells(_ event: IdentityRiskEvent) -> [String] {
        [
            event.id, event.riskLevel.rawValue, event.riskEventStatus.rawValue, event.riskEventType,
            event.userPrincipalName, event.riskEventDateTime.description, event.createdDateTime.description, event.etag,
        ]
    }

    /// The rows under a header, each column as wide as its widest cell (at most
    /// `maxWidth`; longer cells end in "…").
    static func render(_ rows: [[String]], headers: [String] = EventTable.headers, maxWidth: Int = 40) -> String {
        func clip(_ text: String) -> String { text.count <= maxWidth ? text : String(text.prefix(maxWidth - 1)) + "…" }
        let all = [headers] + rows.map { $0.map(clip) }
        var widths = [Int](repeating: 0, count: headers.count)
        for row in all { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        return all.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count + 2)
            }.joined()
        }.joined(separator: "\n")
    }
}
