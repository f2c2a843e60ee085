import Foundation
import IdentityRiskCore
import IdentityRiskTestSupport

/// Records and filters shared by the store tests.
enum Fixture {
    static let createdBase: Int64 = 1_700_000_000 * DateTimeOffset.ticksPerSecond
    static let createdStep: Int64 = 10_000

    /// A plain record; datetimes as text.
    static func event(
        _ id: String,
        display: String? = "Alice",
        risk: String = "2023-03-04T05:06:07.89+01:00",
        closed: String? = nil,
        created: String = "2024-01-01T00:00:00Z"
    ) throws -> IdentityRiskEvent {
        IdentityRiskEvent(
            id: id,
            userDisplayName: display,
            userPrincipalName: "alice@example.com",
            riskEventDateTime: try DateTimeOffset(parsing: risk),
            riskEventType: "unlikelyTravel",
            riskLevel: .high,
            riskEventStatus: .active,
            closedDateTime: try closed.map { try DateTimeOffset(parsing: $0) },
            createdDateTime: try DateTimeOffset(parsing: created),
            userId: "user-1"
        )
    }

    /// A varied record: ties on createdDateTime (so order falls back to id), mixed
    /// offsets and fraction digits, optional fields, non-ASCII and non-NFC text.
    static func varied(_ index: Int, using generator: inout SplitMix64) -> IdentityRiskEvent {
        let upns = ["alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com", "rene\u{301}@example.com", "ren\u{E9}@example.com"]
        let names: [String?] = [nil, "Alice", "Bob", "Carol", "Rene\u{301}e", "Ren\u{E9}e", "Zoë"]
        let types = ["unlikelyTravel", "anonymizedIPAddress", "leakedCredentials", "malwareInfectedIPAddress"]
        func dateTime(around base: Int64, spread: Int64) -> DateTimeOffset {
            let digits = UInt8.random(in: 0 ... 7, using: &generator)
            let units: [Int64] = [10_000_000, 1_000_000, 100_000, 10_000, 1000, 100, 10, 1]
            let unit = units[Int(digits)]
            let ticks = (base + Int64.random(in: 0 ..< spread, using: &generator)) / unit * unit
            let seconds = ticks / DateTimeOffset.ticksPerSecond
            let offsets: [Int16] = [0, 0, 60, -300, 330, 840, -840]
            let offset = offsets.randomElement(using: &generator)!
            return try! DateTimeOffset(
                unixSeconds: seconds, ticks: UInt32(ticks - seconds * DateTimeOffset.ticksPerSecond),
                offsetMinutes: offset, fractionDigits: digits, utcDesignator: offset == 0 && Bool.random(using: &generator))
        }
        let risk = dateTime(around: 1_600_000_000 * DateTimeOffset.ticksPerSecond, spread: 100_000_000 * DateTimeOffset.ticksPerSecond)
        let closed: DateTimeOffset? = Bool.random(using: &generator)
            ? dateTime(around: risk.instantTicks, spread: 30_000_000 * DateTimeOffset.ticksPerSecond) : nil
        let createdTicks = createdBase + Int64.random(in: 0 ..< 300, using: &generator) * createdStep
        return IdentityRiskEvent(
            id: String(format: "evt-%04d", index),
            userDisplayName: names.randomElement(using: &generator)!,
            userPrincipalName: upns.randomElement(using: &generator)!,
            riskEventDateTime: risk,
            riskEventType: types.randomElement(using: &generator)!,
            riskLevel: RiskLevel.allCases.randomElement(using: &generator)!,
            riskEventStatus: RiskEventStatus.allCases.randomElement(using: &generator)!,
            closedDateTime: closed,
            createdDateTime: try! DateTimeOffset(utcInstantTicks: createdTicks),
            userId: "user-\(Int.random(in: 0 ..< 8, using: &generator))"
        )
    }

    // MARK: - Filters

    static func comparison(_ p: FilterProperty, _ op: FilterOperator, _ v: FilterValue) -> FilterExpression {
        .comparison(FilterComparison(property: p, op: op, value: v))
    }

    /// A literal for `property` that splits ``varied(_:using:)`` records.
    static func literal(for property: EventProperty) throws -> FilterValue {
        switch property {
        case .id: .string("evt-0150")
        case .userDisplayName: .string("Bob")
        case .userPrincipalName: .string("carol@example.com")
        case .riskEventDateTime, .closedDateTime: .dateTime(try DateTimeOffset(parsing: "2021-06-15T12:00:00+02:00"))
        case .riskEventType: .string("leakedCredentials")
        case .riskLevel: .riskLevel(.high)
        case .riskEventStatus: .riskEventStatus(.dismissedAsFixed)
        case .createdDateTime: .dateTime(try DateTimeOffset(utcInstantTicks: createdBase + 150 * createdStep))
        case .userId: .string("user-3")
        }
    }

    /// Every operator on every property (and `null` on every nullable one),
    /// then enum bounds, byte-wise text, literals of the wrong kind and and/or nesting.
    static func filters() throws -> [FilterExpression?] {
        let c = comparison
        let mid = try DateTimeOffset(parsing: "2021-06-15T12:00:00+02:00")
        let late = try DateTimeOffset(parsing: "2022-01-01T00:00:00Z")
        var filters: [FilterExpression?] = [nil]
        for property in EventProperty.allCases {
            for op in FilterOperator.allCases {
                filters.append(c(property, op, try literal(for: property)))
                if property.isNullable { filters.append(c(property, op, .null)) }
            }
        }
        filters += [
            c(.riskLevel, .lt, .riskLevel(.low)),
            c(.riskLevel, .gt, .riskLevel(.unknownFutureValue)),
            c(.riskLevel, .ge, .riskLevel(.low)),
            c(.riskLevel, .le, .riskLevel(.hidden)),
            c(.riskEventStatus, .gt, .riskEventStatus(.closedMultipleReasons)),
            c(.riskEventStatus, .lt, .riskEventStatus(.loginBlocked)),
            c(.userId, .ge, .string("user-5")),
            c(.id, .eq, .string("evt-0042")),
            // Canonically equivalent text in other bytes: strings compare by UTF-8 bytes,
            // so a precomposed literal does not match the decomposed spelling.
            c(.userPrincipalName, .eq, .string("ren\u{E9}@example.com")),
            c(.userDisplayName, .eq, .string("Rene\u{301}e")),
            c(.userDisplayName, .lt, .string("Ren\u{E9}")),
            // A literal of the wrong kind matches nothing, whatever the operator.
            c(.id, .eq, .dateTime(mid)),
            c(.riskLevel, .ne, .riskEventStatus(.active)),
            c(.createdDateTime, .ne, .string("x")),
            // `null` on a required property: never equal, always "not equal".
            c(.userId, .ne, .null),
            c(.userId, .eq, .null),
            .and(c(.riskLevel, .ge, .riskLevel(.medium)), c(.closedDateTime, .ne, .null)),
            .or(c(.userId, .eq, .string("user-1")), c(.riskEventStatus, .eq, .riskEventStatus(.active))),
            .and(
                .or(c(.riskLevel, .eq, .riskLevel(.high)), c(.userDisplayName, .eq, .null)),
                .or(c(.riskEventDateTime, .lt, .dateTime(late)), c(.closedDateTime, .gt, .dateTime(mid)))),
            .or(c(.userDisplayName, .ne, .string("Bob")), c(.id, .eq, .dateTime(mid))),
        ]
        return filters
    }

    /// What list must return, computed without any store.
    static func reference(_ events: some Sequence<IdentityRiskEvent>, filter: FilterExpression?, order: ListOrder) -> [IdentityRiskEvent] {
        events.filter { filter?.matches($0) ?? true }.sorted { a, b in
            let ka = order.sortKey(a), kb = order.sortKey(b)
            if ka != kb { return order.isDescending ? ka > kb : ka < kb }
            return a.id < b.id
        }
    }
}
