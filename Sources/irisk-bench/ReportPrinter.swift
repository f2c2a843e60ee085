import Foundation

/// The end-of-run output: a table plus detail lines, or one JSON object.
struct ReportPrinter {
    struct Document: Codable {
        var runs: [RunReport]
        var comparison: Comparison?
        var host: Host
    }

    struct Host: Codable {
        var cpus: Int
        /// 1-minute load average before the first run: other work on the machine skews results.
        var loadAverageBefore: Double?
    }

    let runs: [RunReport]
    let host: Host

    var comparison: Comparison? {
        guard let server = runs.first(where: { $0.target != "floor" }), let floor = runs.first(where: { $0.target == "floor" }) else { return nil }
        return Comparison(server: server, floor: floor)
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(Document(runs: runs, comparison: comparison, host: host))
        return String(decoding: data, as: UTF8.self)
    }

    func text() -> String {
        var lines: [String] = []
        let widths = [10, 15, 12, 10, 10, 10, 10, 10, 0]
        func row(_ cells: [String]) -> String {
            zip(cells, widths).map { $1 == 0 ? $0 : Format.pad($0, $1) }.joined()
        }
        let mixed = runs.contains { $0.mix != nil }
        lines.append(row(["target", "conns x depth", mixed ? "ok calls/s" : "creates/s", "p50", "p90", "p99", "p99.9", "max", "errors"]))
        func cells(_ l: RunReport.Latency, none: Bool) -> [String] {
            let text = { (us: Double) in none ? "-" : Format.latency(UInt64(us * 1e3)) }
            return [text(l.p50), text(l.p90), text(l.p99), text(l.p999), text(l.max)]
        }
        for r in runs {
            lines.append(row(
                [r.target, "\(r.connections) x \(r.inFlightPerConnection)", Format.grouped(Int(r.okPerSecond.rounded()))]
                    + cells(r.latency, none: r.calls == r.errors) + [Format.grouped(Int(r.errors))]))
            // A mix: each method on a row of its own, its weight in the shape column.
            for m in r.methods ?? [] {
                lines.append(row(
                    ["  " + m.method, "  weight \(m.weight)", Format.grouped(Int(m.okPerSecond.rounded()))]
                        + cells(m.latency, none: m.calls == m.errors) + [Format.grouped(Int(m.errors))]))
            }
        }
        if let c = comparison {
            lines.append("ratio (iriskd/floor): throughput \(Format.fixed(c.throughputRatio, 2)); p50 \(Format.fixed(c.p50Ratio, 2)); p99 \(Format.fixed(c.p99Ratio, 2))")
        }
        if let base = runs.first(where: { $0.watchers?.watchers == 0 }), base.okPerSecond > 0 {
            for r in runs where (r.watchers?.watchers ?? 0) > 0 {
                lines.append("ratio (\(r.target) / \(base.target)): \(mixed ? "ok calls/s" : "creates/s") \(Format.fixed(r.okPerSecond / base.okPerSecond, 3))")
            }
        }
        for r in runs { lines += details(r) }
        var hostLine = "host: \(host.cpus) CPUs"
        if let load = host.loadAverageBefore { hostLine += ", load average before the run \(Format.fixed(load, 2)) (other work on the machine skews these numbers)" }
        lines.append(hostLine)
        return lines.joined(separator: "\n")
    }

    private func details(_ r: RunReport) -> [String] {
        var lines: [String] = []
        let what = r.target == "floor" ? "echoes" : r.mix == nil ? "creates" : "OK answers"
        let ok = r.calls - r.errors
        if let mix = r.mix {
            var line = "\(r.target): mix \(mix)"
            if let seeded = r.seededRecords, let seconds = r.seedSeconds {
                line += "; \(Format.grouped(Int(seeded))) records created first in \(Format.fixed(seconds, 1)) s (not measured), read and updated at random"
            } else if r.server.kind == "floor" {
                line += "; the floor echoes the mix's frames (nothing seeded)"
            }
            lines.append(line)
        }
        var summary = "\(r.target): \(Format.grouped(Int(ok))) \(what) in \(Format.fixed(r.measuredSeconds, 2)) s (warmup \(Format.fixed(r.warmupSeconds, 1)) s), "
        if r.errors > 0 { summary += "plus \(Format.grouped(Int(r.errors))) error answers (\(Format.grouped(Int(r.answersPerSecond)))/s in all), " }
        summary += "load threads \(r.clientThreads) using \(Format.fixed(r.clientCPUCores, 2)) cores"
        lines.append(summary)
        var errors = r.errorsByStatus.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        if r.protocolErrors > 0 { errors.append("protocol=\(r.protocolErrors)") }
        if r.unanswered > 0 { errors.append("unanswered=\(r.unanswered)") }
        if r.verifyFailures > 0 { errors.append("verify-failed=\(r.verifyFailures)") }
        let verified = r.verified > 0 ? "; \(r.verified) answers decoded in full and matched" : ""
        lines.append("  errors: \(errors.isEmpty ? "none" : errors.joined(separator: ", "))\(verified)")
        for e in r.sampleErrors { lines.append("  error sample: \(e)") }
        for f in r.connectionFailures { lines.append("  connection: \(f)") }
        let s = r.server
        if s.kind != "floor" {
            var server = "  server: \(s.kind)"
            if let pid = s.pid { server += " pid \(pid)" }
            if let store = s.store { server += ", store=\(store)" }
            if let rss = s.rssBytes { server += ", rss=\(Format.mebibytes(rss))" }
            if let peak = s.peakRSSBytes { server += " (peak \(Format.mebibytes(peak))" + (s.baselineRSSBytes.map { ", before start \(Format.mebibytes($0))" } ?? "") + ")" }
            if let cores = s.cpuCores { server += ", cpu \(Format.fixed(cores, 2)) cores" }
            lines.append(server)
        } else if let cores = s.cpuCores {
            lines.append("  server: floor, cpu \(Format.fixed(cores, 2)) cores")
        }
        if let c = s.commits {
            lines.append("  sqlite: \(Format.grouped(c.batches)) commits for \(Format.grouped(c.creates)) creates, avg batch \(Format.fixed(c.averageBatchSize, 1)) (largest \(c.largestBatch)), avg commit (writes, before the flush) \(Format.fixed(c.averageCommitMilliseconds, 2)) ms"
                + (c.failedBatches + c.refusedCreates > 0 ? ", failed batches \(c.failedBatches), refused \(c.refusedCreates)" : ""))
        }
        if let probe = s.fsyncProbeMilliseconds {
            var line = "  fsync probe (4 KiB append + fsync, same directory): median \(Format.fixed(probe, 2)) ms"
            let ceilings = r.sqliteCeilings
            if let p = ceilings.probe, p > 0 {
                line += "; in flight ÷ fsync = \(Format.grouped(Int(p)))/s, achieved \(Format.fixed(100 * r.createsPerSecond / p, 0))%"
            }
            if let c = ceilings.commit, c > 0 {
                line += "; in flight ÷ avg commit = \(Format.grouped(Int(c)))/s, achieved \(Format.fixed(100 * r.createsPerSecond / c, 0))%"
            }
            lines.append(line)
        }
        if let w = r.watchers, w.watchers > 0 {
            let rate = r.measuredSeconds > 0 ? Double(w.delivered) / r.measuredSeconds : 0
            let ended = w.ended.isEmpty ? "none" : w.ended.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
            lines.append("  watchers: \(w.watchers)" + (w.filter.isEmpty ? "" : " (filter \(w.filter))")
                + ": \(Format.grouped(Int(w.delivered))) changes delivered (\(Format.grouped(Int(rate)))/s over all), \(w.bookmarks) bookmarks; "
                + "delivery (createdDateTime → read) p50 \(Format.latency(UInt64(w.latencyP50 * 1e3))), p99 \(Format.latency(UInt64(w.latencyP99 * 1e3))), "
                + "max \(Format.latency(UInt64(w.latencyMax * 1e3))); streams ended: \(ended); "
                + "the bench's reader thread (decodes every message) used \(Format.fixed(r.measuredSeconds > 0 ? w.readerCPUSeconds / r.measuredSeconds : 0, 2)) cores")
        }
        for note in s.notes + r.notes { lines.append("  note: \(note)") }
        return lines
    }
}
