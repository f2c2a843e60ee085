import ArgumentParser
import Foundation
import IdentityRiskClient
import IdentityRiskCore
import IdentityRiskService

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the server's counts since it started: records, creates, updates, deletes, errors by status, rates, the group commit, queue depth, connections, watchers.",
        discussion: "Aligned text for people (the default), or --output json for scripts.")

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "text (aligned, for people) or json.")
    var output: String = "text"

    func validate() throws {
        guard ["text", "json"].contains(output) else {
            throw ValidationError("--output '\(output)' is not one of: text, json")
        }
    }

    func run() async throws {
        let report: StatsReport
        do {
            report = try await connection.withClient { try await $0.stats() }
        } catch {
            throw fail(error)
        }
        print(output == "json" ? Self.json(report) : Self.text(report))
    }

    static func rate(_ value: Double) -> String { String(format: "%.1f", value) }

    /// Label, value rows with the values aligned.
    static func text(_ r: StatsReport) -> String {
        var rows: [(String, String)] = [
            ("uptime", duration(milliseconds: r.uptimeMilliseconds)),
            ("records stored", "\(r.records)"),
            ("creates", "\(r.creates) (\(r.idempotentCreates) idempotent repeats)"),
            ("updates", "\(r.updates)"),
            ("deletes", "\(r.deletes)"),
            ("calls ok", "\(r.callsOK)"),
            ("errors", r.errors.isEmpty ? "0" : "\(r.errorTotal): " + r.errors.map { "\($0.code) \($0.count)" }.joined(separator: ", ")),
        ]
        let window = String(format: "%.0f s", Double(r.recentWindowMilliseconds) / 1000)
        for (label, rates) in [("rate, last \(window)", r.recent), ("rate, since start", r.sinceStart)] {
            rows.append((label, "\(rate(rates.calls)) calls/s: \(rate(rates.creates)) creates, \(rate(rates.updates)) updates, "
                + "\(rate(rates.deletes)) deletes, \(rate(rates.errors)) errors per s"))
        }
        if let c = r.commits {
            rows.append(("commits", "\(c.commits) (percentiles over the last \(c.window))"))
            rows.append(("  batch size", "p50 \(c.batchSize.p50)  p90 \(c.batchSize.p90)  p99 \(c.batchSize.p99)  max \(c.batchSize.max)"))
            let l = c.latencyMicroseconds
            rows.append(("  commit latency", "p50 \(ms(l.p50))  p90 \(ms(l.p90))  p99 \(ms(l.p99))  max \(ms(l.max)) ms"))
        } else {
            rows.append(("commits", "none (this store has no group commit)"))
        }
        rows += [
            ("queue depth", "\(r.queueDepth)"),
            ("open connections", "\(r.openConnections)"),
            ("open watchers", "\(r.openWatchers)"),
        ]
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }

    static func ms(_ microseconds: UInt64) -> String { String(format: "%.2f", Double(microseconds) / 1000) }

    static func duration(milliseconds: UInt64) -> String {
        let seconds = milliseconds / 1000
        if seconds < 60 { return String(format: "%.1f s", Double(milliseconds) / 1000) }
        if seconds < 3600 { return "\(seconds / 60) min \(seconds % 60) s" }
        return "\(seconds / 3600) h \(seconds / 60 % 60) min"
    }

    static func json(_ r: StatsReport) -> String {
        func rates(_ x: StatsReport.Rates) -> String {
            #"{"calls": \#(x.calls), "creates": \#(x.creates), "updates": \#(x.updates), "deletes": \#(x.deletes), "errors": \#(x.errors)}"#
        }
        func percentiles(_ p: CommitStatistics.Percentiles) -> String {
            #"{"p50": \#(p.p50), "p90": \#(p.p90), "p99": \#(p.p99), "max": \#(p.max)}"#
        }
        let errors = r.errors.map { "\(jsonString("\($0.code)")): \($0.count)" }.joined(separator: ", ")
        let commits = r.commits.map {
            #"{"commits": \#($0.commits), "window": \#($0.window), "batchSize": \#(percentiles($0.batchSize)), "latencyUs": \#(percentiles($0.latencyMicroseconds))}"#
        } ?? "null"
        return """
            {"uptimeMs": \(r.uptimeMilliseconds), "records": \(r.records), "creates": \(r.creates), "idempotentCreates": \(r.idempotentCreates), \
            "updates": \(r.updates), "deletes": \(r.deletes), "callsOk": \(r.callsOK), "errors": {\(errors)}, \
            "recent": \(rates(r.recent)), "recentWindowMs": \(r.recentWindowMilliseconds), "sinceStart": \(rates(r.sinceStart)), \
            "commits": \(commits), "queueDepth": \(r.queueDepth), "openConnections": \(r.openConnections), "openWatchers": \(r.openWatchers)}
            """
    }
}
