@testable import IdentityRiskCore
import IdentityRiskTestSupport
import Synchronization
import Testing

/// The one `filter` violation `text` is refused with, or `nil` (recording an issue)
/// when it parses or fails differently.
func filterViolation(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> FieldViolation? {
    do {
        let parsed = try ODataFilter.parse(text)
        Issue.record("expected \(text.debugDescription) to be refused; it parsed as \(parsed)", sourceLocation: sourceLocation)
        return nil
    } catch {
        #expect(error.code == .invalidArgument, sourceLocation: sourceLocation)
        #expect(error.target == "filter", sourceLocation: sourceLocation)
        #expect(error.violations.count == 1, sourceLocation: sourceLocation)
        #expect(error.violations.first?.field == "filter", sourceLocation: sourceLocation)
        return error.violations.first
    }
}

/// `text` with control characters (C0, DEL, C1) written as `\u{XX}`, so test
/// names and messages never put raw control characters on a terminal.
func escapedForDisplay(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
            out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}

/// "U+XXXX" for a scalar value, as error messages print it.
func codePoint(_ value: UInt32) -> String {
    let hex = String(value, radix: 16, uppercase: true)
    return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
}

/// Convenience constructors for expected ASTs.
func cmp(_ property: FilterProperty, _ op: FilterOperator, _ value: FilterValue) -> FilterExpression {
    .comparison(FilterComparison(property: property, op: op, value: value))
}

func event(
    id: String,
    userDisplayName: String? = nil,
    userPrincipalName: String = "someone@contoso.com",
    riskEventDateTime: String = "2017-01-01T00:00:00Z",
    riskEventType: String = "unfamiliarFeatures",
    riskLevel: RiskLevel = .low,
    riskEventStatus: RiskEventStatus = .active,
    closedDateTime: String? = nil,
    createdDateTime: String = "2017-01-02T00:00:00Z",
    userId: String = "u1"
) -> IdentityRiskEvent {
    IdentityRiskEvent(
        id: id,
        userDisplayName: userDisplayName,
        userPrincipalName: userPrincipalName,
        riskEventDateTime: dt(riskEventDateTime),
        riskEventType: riskEventType,
        riskLevel: riskLevel,
        riskEventStatus: riskEventStatus,
        closedDateTime: closedDateTime.map { dt($0) },
        createdDateTime: dt(createdDateTime),
        userId: userId
    )
}

/// Whether `text` is a lowercase version-4, RFC 4122 variant UUID, checked by hand.
func isLowercaseV4UUID(_ text: String) -> Bool { isLowercaseUUID(text, version: "4") }

/// Whether `text` is a lowercase UUID of `version` (RFC 9562 variant 10).
func isLowercaseUUID(_ text: String, version: Unicode.Scalar) -> Bool {
    let bytes = Array(text.utf8)
    guard bytes.count == 36 else { return false }
    for (i, b) in bytes.enumerated() {
        if [8, 13, 18, 23].contains(i) {
            guard b == UInt8(ascii: "-") else { return false }
        } else {
            let isHex = (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "f"))
            guard isHex else { return false }
        }
    }
    return bytes[14] == UInt8(ascii: version) && [UInt8(ascii: "8"), UInt8(ascii: "9"), UInt8(ascii: "a"), UInt8(ascii: "b")].contains(bytes[19])
}

/// A minimal in-memory `EventStore` for use-case tests (the real ones live in
/// IdentityRiskStore, which this target does not depend on): the contract's
/// versions and tombstones, nothing durable.
final class TestEventStore: EventStore {
    var kind: String { "test" }

    private struct State {
        var events: [String: IdentityRiskEvent] = [:]
        var deleted: Set<String> = []
        var queries: [ListQuery] = []
    }
    private let state: Mutex<State>

    init(_ initial: [IdentityRiskEvent] = []) {
        var state = State()
        for e in initial { state.events[e.id] = e }
        self.state = Mutex(state)
    }

    /// The queries `list` was asked, in order.
    var queries: [ListQuery] { state.withLock { $0.queries } }

    /// The stored record `id`, read without a call through the protocol.
    func stored(_ id: String) -> IdentityRiskEvent? { state.withLock { $0.events[id] } }

    /// Nothing to open or to drain.
    func run() async throws {}

    func create(_ event: IdentityRiskEvent, completion: @escaping @Sendable (Result<CreateOutcome, IdentityRiskError>) -> Void) {
        let result: Result<CreateOutcome, IdentityRiskError> = state.withLock { state in
            if state.deleted.contains(event.id) { return .failure(.deletedID(event.id)) }
            if let existing = state.events[event.id] {
                guard existing.hasSameContent(as: event) else { return .failure(.conflict(id: event.id)) }
                return .success(CreateOutcome(event: existing, alreadyExisted: true))
            }
            var stored = event
            stored.version = 1
            state.events[event.id] = stored
            return .success(CreateOutcome(event: stored, alreadyExisted: false))
        }
        completion(result)
    }

    func get(id: String) async throws(IdentityRiskError) -> IdentityRiskEvent? { stored(id) }

    func list(_ query: ListQuery) async throws(IdentityRiskError) -> ListPage {
        let events = state.withLock { state in
            state.queries.append(query)
            return Array(state.events.values)
        }
        let order = query.order
        let sorted = events
            .filter { query.filter?.matches($0) ?? true }
            .sorted { a, b in
                let ka = order.sortKey(a), kb = order.sortKey(b)
                if ka != kb { return order.isDescending ? ka > kb : ka < kb }
                return a.id < b.id
            }
        let remaining = sorted.filter { query.after?.precedes($0, in: order) ?? true }
        let page = Array(remaining.prefix(query.top))
        let next = remaining.count > page.count ? page.last.map { ListCursor(sortKey: order.sortKey($0), id: $0.id) } : nil
        return ListPage(events: page, next: next)
    }

    func replace(_ event: IdentityRiskEvent, expectedVersion: UInt64) async throws(IdentityRiskError) -> IdentityRiskEvent {
        let result: Result<IdentityRiskEvent, IdentityRiskError> = state.withLock { state in
            guard let current = state.events[event.id] else { return .failure(.notFound(id: event.id)) }
            guard current.version == expectedVersion else {
                return .failure(.versionMismatch(id: event.id, expected: expectedVersion, stored: current.version))
            }
            precondition(event.version == expectedVersion + 1 && event.createdDateTime == current.createdDateTime)
            state.events[event.id] = event
            return .success(event)
        }
        return try result.get()
    }

    // No change log: the use-case tests here do not watch. An empty log that
    // never advances (the feed is never published to).
    let changeFeed = ChangeFeed()

    func changes(after cursor: ChangeCursor, limit: Int) async throws(IdentityRiskError) -> [Change] { [] }

    func changeLogBounds() async throws(IdentityRiskError) -> ChangeLogBounds {
        ChangeLogBounds(earliestResumable: .zero, latest: .zero)
    }

    func delete(id: String, expectedVersion: UInt64?) async throws(IdentityRiskError) -> UInt64 {
        let result: Result<UInt64, IdentityRiskError> = state.withLock { state in
            guard let current = state.events[id] else { return .failure(.notFound(id: id)) }
            if let expectedVersion, expectedVersion != current.version {
                return .failure(.versionMismatch(id: id, expected: expectedVersion, stored: current.version))
            }
            state.events[id] = nil
            state.deleted.insert(id)
            return .success(current.version)
        }
        return try result.get()
    }
}

/// A clock that always answers the same instant.
struct FixedClock: EventClock {
    var instant: DateTimeOffset
    func now() -> DateTimeOffset { instant }
}
