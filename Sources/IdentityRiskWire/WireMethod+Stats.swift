import CIdentityRiskProto
public import IdentityRiskCore
public import IdentityRiskService

extension IdentityRiskMethods.Stats: WireMethod {
    typealias CStats = Identityrisk__V1__StatsResponse
    typealias CRates = Identityrisk__V1__StatsResponse__Rates
    typealias CPercentiles = Identityrisk__V1__StatsResponse__Percentiles

    public static func decodeRequest(_ request: UnpackedRequest) -> Result<StatsRequest, IdentityRiskError> {
        refusingNUL(request) { .success(StatsRequest()) }
    }

    public static func encodeResponse(_ response: StatsReport, into builder: inout ResponseBuilder) {
        let arena = builder.arena
        func rates(_ r: StatsReport.Rates) -> UnsafeMutablePointer<CRates> {
            arena.make(CRates.self) { p in
                identityrisk__v1__stats_response__rates__init(p)
                p.pointee.creates = r.creates
                p.pointee.updates = r.updates
                p.pointee.deletes = r.deletes
                p.pointee.calls = r.calls
                p.pointee.errors = r.errors
            }
        }
        func percentiles(_ v: CommitStatistics.Percentiles) -> UnsafeMutablePointer<CPercentiles> {
            arena.make(CPercentiles.self) { p in
                identityrisk__v1__stats_response__percentiles__init(p)
                p.pointee.p50 = v.p50
                p.pointee.p90 = v.p90
                p.pointee.p99 = v.p99
                p.pointee.max = v.max
            }
        }
        builder.message.pointee.stats = arena.make(CStats.self) { s in
            identityrisk__v1__stats_response__init(s)
            s.pointee.uptime_ms = response.uptimeMilliseconds
            s.pointee.records = response.records
            s.pointee.creates = response.creates
            s.pointee.idempotent_creates = response.idempotentCreates
            s.pointee.updates = response.updates
            s.pointee.deletes = response.deletes
            s.pointee.calls_ok = response.callsOK
            let count = response.errors.count
            s.pointee.n_errors = count
            if count > 0 {
                let list = arena.pointers(to: Identityrisk__V1__StatsResponse__ErrorCount.self, count: count)
                for (i, e) in response.errors.enumerated() {
                    list[i] = arena.make(Identityrisk__V1__StatsResponse__ErrorCount.self) { p in
                        identityrisk__v1__stats_response__error_count__init(p)
                        p.pointee.code = .init(rawValue: numericCast(StatusCodec.number(e.code)))
                        p.pointee.count = e.count
                    }
                }
                s.pointee.errors = list
            }
            s.pointee.recent = rates(response.recent)
            s.pointee.recent_window_ms = response.recentWindowMilliseconds
            s.pointee.since_start = rates(response.sinceStart)
            if let commits = response.commits {
                s.pointee.commits = arena.make(Identityrisk__V1__StatsResponse__Commits.self) { p in
                    identityrisk__v1__stats_response__commits__init(p)
                    p.pointee.commits = commits.commits
                    p.pointee.window = UInt32(clamping: commits.window)
                    p.pointee.batch_size = percentiles(commits.batchSize)
                    p.pointee.latency_us = percentiles(commits.latencyMicroseconds)
                }
            }
            s.pointee.queue_depth = response.queueDepth
            s.pointee.open_connections = response.openConnections
            s.pointee.open_watchers = response.openWatchers
        }
    }

    public static func encodeRequest(_ request: StatsRequest, into builder: inout RequestBuilder) {
        builder.message.pointee.stats = builder.arena.make(Identityrisk__V1__StatsRequest.self) { identityrisk__v1__stats_request__init($0) }
    }

    public static func decodeResponse(_ response: UnpackedResponse) throws(WireError) -> StatsReport {
        guard let s = response.message.pointee.stats?.pointee else { throw missing("a StatsResponse") }
        func rates(_ p: UnsafeMutablePointer<CRates>?) -> StatsReport.Rates {
            guard let r = p?.pointee else { return StatsReport.Rates() }
            return StatsReport.Rates(creates: r.creates, updates: r.updates, deletes: r.deletes, calls: r.calls, errors: r.errors)
        }
        func percentiles(_ p: UnsafeMutablePointer<CPercentiles>?) -> CommitStatistics.Percentiles {
            guard let v = p?.pointee else { return .init() }
            return .init(p50: v.p50, p90: v.p90, p99: v.p99, max: v.max)
        }
        var errors: [StatsReport.ErrorCount] = []
        if let list = s.errors {
            for i in 0..<s.n_errors {
                guard let e = list[i]?.pointee else { throw missing("an ErrorCount") }
                errors.append(StatsReport.ErrorCount(code: StatusCodec.code(UInt32(truncatingIfNeeded: e.code.rawValue)), count: e.count))
            }
        }
        let commits = s.commits.map { p in
            CommitStatistics(
                commits: p.pointee.commits, window: Int(p.pointee.window),
                batchSize: percentiles(p.pointee.batch_size), latencyMicroseconds: percentiles(p.pointee.latency_us))
        }
        return StatsReport(
            uptimeMilliseconds: s.uptime_ms, records: s.records, creates: s.creates, idempotentCreates: s.idempotent_creates,
            updates: s.updates, deletes: s.deletes, callsOK: s.calls_ok, errors: errors,
            recent: rates(s.recent), recentWindowMilliseconds: s.recent_window_ms, sinceStart: rates(s.since_start),
            commits: commits, queueDepth: s.queue_depth, openConnections: s.open_connections, openWatchers: s.open_watchers)
    }

    public static func encodingProblem(_ request: StatsRequest) -> IdentityRiskError? { nil }
}
