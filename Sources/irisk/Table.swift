import ArgumentParser
import Foundation
import IdentityRiskCore

/// `--output`: Graph JSON for programs, a table for people, NDJSON for
/// pipelines. `auto` is a table on a terminal and JSON when the output is
/// piped (as gh and kubectl do).
enum OutputFormat: String, CaseIterable, ExpressibleByArgument {
    case auto, table, json, ndjson

    func resolved(isTerminal: Bool) -> OutputFormat {
        self == .auto ? (isTerminal ? .table : .json) : self
    }

    static let names = allCases.map(\.rawValue).joined(separator: ", ")
}

/// One column of the record table: a property by its Graph name, or the etag.
struct EventColumn: Hashable {
    /// `nil` for the etag column.
    let property: EventProperty?

    var name: String { property?.graphName ?? "etag" }

    var header: String {
        switch property {
        case .id?: "ID"
        case .userDisplayName?: "DISPLAY NAME"
        case .userPrincipalName?: "USER"
        case .riskEventDateTime?: "RISK TIME"
        case .riskEventType?: "TYPE"
        case .riskLevel?: "RISK"
        case .riskEventStatus?: "STATUS"
        case .closedDateTime?: "CLOSED"
        case .createdDateTime?: "CREATED"
        case .userId?: "USER ID"
        case nil: "ETAG"
        }
    }

    func cell(_ event: IdentityRiskEvent) -> String {
        guard let property else { return event.etag }
        switch event[property] {
        case .text(let s)?: return s
        case .dateTime(let d)?: return d.description
        case .riskLevel(let l)?: return l.rawValue
        case .riskEventStatus(let s)?: return s.rawValue
        case nil: return ""
        }
    }

    static let all: [EventColumn] = EventProperty.allCases.map { EventColumn(property: $0) } + [EventColumn(property: nil)]
    static let defaults: [EventColumn] = [
        .init(property: .id), .init(property: .riskLevel), .init(property: .riskEventStatus), .init(property: .riskEventType),
        .init(property: .userPrincipalName), .init(property: .riskEventDateTime), .init(property: .createdDateTime), .init(property: nil),
    ]
    static let allowedNames = all.map(\.name).joined(separator: ", ")

    /// `--columns id,riskLevel,...` (names as Graph spells them, any case).
    static func parse(_ text: String) throws -> [EventColumn] {
        let names = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var columns: [EventColumn] = []
        for name in names {
            guard let column = all.first(where: { $0.name.lowercased() == name.lowercased() }) else {
                throw ValidationError("--columns: '\(name)' is not a column; allowed: \(allowedNames)")
            }
            columns.append(column)
        }
        return columns
    }
}

/// Records as aligned columns, for people.
enum EventTable {
    static func render(_ events: [IdentityRiskEvent], columns: [EventColumn] = EventColumn.defaults) -> String {
        render(events.map { e in columns.map { $0.cell(e) } }, headers: columns.map(\.header))
    }

    /// The rows under a header, each column as wide as its widest cell (at most
    /// `maxWidth`; longer cells end in "…").
    static func render(_ rows: [[String]], headers: [String], maxWidth: Int = 40) -> String {
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
