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
            Prints one page: a table on a terminal, Graph JSON when piped (--output). Its \
            "@odata.nextLink" (identityRiskEvents?$filter=…&$skiptoken=…) continues the listing: \
            irisk list --next LINK. With --output ndjson, one record per line and the next link \
            on stderr as {"@odata.nextLink": …, "@identityRisk.cursor": …}. With --all, follows \
            every page and prints one record per line (NDJSON) when piped, or one table.
            Filter example: --filter "riskLevel eq 'high' and createdDateTime ge 2017-01-01T00:00:00Z"
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var filters: FilterOptions

    @Option(help: ArgumentHelp("\(ListOrder.allCases.map(\.rawValue).joined(separator: " | ")) (default \(ListOrder.createdAscending.rawValue)).", valueName: "order"),
            completion: .list(ListOrder.allCases.map(\.rawValue)))
    var orderby: String?

    @Option(help: "Page size, 1 ... \(ListQuery.maxTop) (default \(ListQuery.defaultTop)).")
    var top: Int?

    @Option(name: [.customLong("next"), .customLong("page-token")],
            help: ArgumentHelp("Continue a listing: a page's @odata.nextLink (it carries the filter, order and top), or its bare $skiptoken.", valueName: "link"))
    var next: String?

    @Flag(help: "Follow all pages; print NDJSON (or one table).")
    var all = false

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let orderby, ListOrder(rawValue: orderby) == nil {
            throw ValidationError("--orderby '\(orderby)' is not one of: \(ListOrder.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let top, !(1...ListQuery.maxTop).contains(top) {
            throw ValidationError("--top \(top) is out of range; allowed: 1 ... \(ListQuery.maxTop)")
        }
    }

    /// The request to send: from the flags, or continuing `--next`. A link
    /// brings its own filter, order and top; flags given beside it must agree.
    func firstRequest() throws -> ListEvents.Request {
        let filterText: String
        do {
            filterText = try filters.checked()
        } catch {
            throw fail(error)
        }
        let order = orderby.flatMap(ListOrder.init(rawValue:))
        guard let next, next.contains("?") else {
            return ListEvents.Request(filter: filterText, order: order ?? .createdAscending, top: top ?? ListQuery.defaultTop, pageToken: next ?? "")
        }
        var request: ListEvents.Request
        do {
            request = try GraphJSON.request(continuing: next)
        } catch {
            throw fail(error)
        }
        func differs(_ what: String, _ given: String, _ linked: String) -> any Error {
            fail(IdentityRiskError(
                code: .invalidArgument,
                message: "--\(what) \(given) differs from the link's (\(linked.isEmpty ? "none" : linked)): a next link continues its own listing; drop --\(what)",
                target: "--\(what)"))
        }
        if !filterText.allSatisfy(\.isWhitespace), filterText != request.filter { throw differs("filter", "'\(filterText)'", request.filter) }
        if let order, order != request.order { throw differs("orderby", "'\(order.rawValue)'", request.order.rawValue) }
        if let top { request.top = top }
        return request
    }

    func run() async throws {
        var request = try firstRequest()
        var format = output.format(default: .auto)
        // Piped, --all streams NDJSON unless JSON was asked for by name.
        if all, (output.output ?? .auto) == .auto, format == .json { format = .ndjson }
        let columns = output.chosenColumns
        do {
            try await connection.withClient { client in
                if !all {
                    let page = try await client.list(request)
                    let link = page.nextPageToken.isEmpty ? nil : GraphJSON.nextLink(token: page.nextPageToken, request: request)
                    switch format {
                    case .json, .auto:
                        print(GraphJSON.encode(page, continuing: request))
                    case .ndjson:
                        for event in page.events { print(GraphJSON.encode(event, pretty: false)) }
                        printError(Self.continuation(link: link, cursor: page.cursor))
                    case .table:
                        print(EventTable.render(page.events, columns: columns))
                        var footer = "\(page.events.count) record\(page.events.count == 1 ? "" : "s"); cursor \(page.cursor)"
                        if let link { footer += "; more: irisk list --next '\(link)'" }
                        printError(footer)
                    }
                    return
                }
                var headed = false, printed = 0
                var table: [IdentityRiskEvent] = []
                while true {
                    let page = try await client.list(request)
                    switch format {
                    case .table:
                        table += page.events
                    case .json:
                        // One Graph envelope, written as the pages arrive (bounded memory).
                        if !headed {
                            headed = true
                            print("{\n  \"@odata.context\": \"$metadata#identityRiskEvents\",\n  \"\(GraphJSON.cursorKey)\": \"\(page.cursor)\",\n  \"value\": [", terminator: "")
                        }
                        for event in page.events {
                            print((printed == 0 ? "\n    " : ",\n    ") + GraphJSON.encode(event, indent: "    "), terminator: "")
                            printed += 1
                        }
                    case .ndjson, .auto:
                        for event in page.events { print(GraphJSON.encode(event, pretty: false)) }
                    }
                    if page.nextPageToken.isEmpty { break }
                    request.pageToken = page.nextPageToken
                }
                if format == .json { print(printed == 0 ? "]\n}" : "\n  ]\n}") }
                if format == .table {
                    print(EventTable.render(table, columns: columns))
                    printError("\(table.count) record\(table.count == 1 ? "" : "s")")
                }
            }
        } catch {
            throw fail(error)
        }
    }

    /// NDJSON's stderr line: where the listing goes on, and the watch cursor.
    static func continuation(link: String?, cursor: ChangeCursor) -> String {
        var text = "{"
        if let link { text += "\"@odata.nextLink\": \"\(link)\", " }
        return text + "\"\(GraphJSON.cursorKey)\": \"\(cursor)\"}"
    }
}
