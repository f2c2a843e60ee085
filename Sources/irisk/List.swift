import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskGraphJSON

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List identityRiskEvents (Graph: GET /identityRiskEvents?$filter&$orderby&$top).",
        discussion: """
            Prints one page as Graph JSON; its "@odata.nextLink" is the token for --page-token. \
            With --all, follows every page and prints one record per line (NDJSON).
            Filter example: --filter "riskLevel eq 'high' and createdDateTime ge 2017-01-01T00:00:00Z"
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var filters: FilterOptions

    @Option(help: "createdDateTime asc|desc or riskEventDateTime asc|desc.")
    var orderby: String = ListOrder.createdAscending.rawValue

    @Option(help: "Page size, 1 ... \(ListQuery.maxTop) (default \(ListQuery.defaultTop)).")
    var top: Int = ListQuery.defaultTop

    @Option(help: "Continue after a previous page (its @odata.nextLink).")
    var pageToken: String = ""

    @Flag(help: "Follow all pages; print NDJSON (or one table).")
    var all = false

    @Option(help: "auto (a table on a terminal, Graph JSON when piped), table or json.")
    var output: String = OutputFormat.auto.rawValue

    func validate() throws {
        guard ListOrder(rawValue: orderby) != nil else {
            throw ValidationError("--orderby '\(orderby)' is not one of: \(ListOrder.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard OutputFormat(rawValue: output) != nil else {
            throw ValidationError("--output '\(output)' is not one of: \(OutputFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (1...ListQuery.maxTop).contains(top) else {
            throw ValidationError("--top \(top) is out of range; allowed: 1 ... \(ListQuery.maxTop)")
        }
    }

    func run() async throws {
        let order = ListOrder(rawValue: orderby)!
        let filterText: String
        do {
            filterText = try filters.checked()
        } catch {
            throw fail(error)
        }
        do {
            try await connection.withClient { client in
                var request = ListEvents.Request(filter: filterText, order: order, top: top, pageToken: pageToken)
                let table = OutputFormat(rawValue: output)!.resolved(isTerminal: isatty(STDOUT_FILENO) == 1) == .table
                if !all {
                    let page = try await client.list(request)
                    guard table else { return print(GraphJSON.encode(page)) }
                    print(EventTable.render(page.events.map(EventTable.cells)))
                    var footer = "\(page.events.count) record\(page.events.count == 1 ? "" : "s"); cursor \(page.cursor)"
                    if !page.nextPageToken.isEmpty { footer += "; more: irisk list --page-token \(page.nextPageToken) (same filter and order)" }
                    printError(footer)
                    return
                }
                var rows: [[String]] = []
                while true {
                    let page = try await client.list(request)
                    if table {
                        rows += page.events.map(EventTable.cells)
                    } else {
                        for event in page.events { print(GraphJSON.encode(event, pretty: false)) }
                    }
                    if page.nextPageToken.isEmpty { break }
                    request.pageToken = page.nextPageToken
                }
                if table {
                    print(EventTable.render(rows))
                    printError("\(rows.count) record\(rows.count == 1 ? "" : "s")")
                }
            }
        } catch {
            throw fail(error)
        }
    }
}
