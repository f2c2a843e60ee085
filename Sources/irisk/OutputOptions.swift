import ArgumentParser
import Foundation
import IdentityRiskCore
import IdentityRiskGraphJSON

#if canImport(Glibc)
import Glibc
#endif

/// `--output` and `--columns`, shared by the commands that print records
/// (list, get, create, update). Each command has its own default format:
/// `auto` for list and get, `json` for create and update (their output is
/// usually captured: `id=$(irisk create … | jq -r .id)`).
struct OutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "auto, table, json or ndjson. auto: a table on a terminal, JSON when piped (list, get); create and update default to json.",
        valueName: "format"))
    var output: OutputFormat?

    @Option(help: ArgumentHelp("The table's columns, comma-separated: \(EventColumn.allowedNames).", valueName: "names"))
    var columns: String?

    func validate() throws {
        if let columns { _ = try EventColumn.parse(columns) }
    }

    var chosenColumns: [EventColumn] {
        columns.flatMap { try? EventColumn.parse($0) } ?? EventColumn.defaults
    }

    /// The format to print in: `auto` resolved against stdout.
    func format(default fallback: OutputFormat) -> OutputFormat {
        (output ?? fallback).resolved(isTerminal: isatty(STDOUT_FILENO) == 1)
    }

    /// One record: a one-row table, Graph JSON (pretty), or one NDJSON line.
    func print(_ event: IdentityRiskEvent, default fallback: OutputFormat) {
        switch format(default: fallback) {
        case .table: Swift.print(EventTable.render([event], columns: chosenColumns))
        case .ndjson: Swift.print(GraphJSON.encode(event, pretty: false))
        case .json, .auto: Swift.print(GraphJSON.encode(event))
        }
    }
}
