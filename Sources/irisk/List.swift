import ArgumentParser
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

    @Flag(help: "Follow all pages; print NDJSON.")
    var all = false

    func validate() throws {
        guard ListOrder(rawValue: orderby) != nil else {
            throw ValidationError("--orderby '\(orderby)' is not one of: \(ListOrder.allCases.map(\.rawValue).joined(separator: ", "))")
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
                if !all {
                    print(GraphJSON.encode(try await client.list(request)))
                    return
                }
                while true {
                    let page = try await client.list(request)
                    for event in page.events { print(GraphJSON.encode(event, pretty: false)) }
                    if page.nextPageToken.isEmpty { break }
                    request.pageToken = page.nextPageToken
                }
            }
        } catch {
            throw fail(error)
        }
    }
}
