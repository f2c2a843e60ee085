import IdentityRiskCore

/// Where one ``EventProperty`` lives in the `identity_risk_events` table.
///
/// Text and enum properties are one TEXT column (enums hold the Graph spelling,
/// the `rawValue`). A DateTimeOffset property is four INTEGER columns
/// `<prefix>_ticks`, `<prefix>_offset`, `<prefix>_digits`, `<prefix>_z`, all
/// NULL when an optional value is absent.
///
/// ``all`` is derived from `EventProperty.allCases` through one exhaustive
/// switch (``init(_:)``): the table's column list, the insert binding, the
/// update binding, row decoding and the filter translator all iterate it, so
/// none of them keeps a hand-written list that must agree with another by
/// position, and a new property does not compile until it is mapped here.
struct SQLiteColumnLayout: Sendable {
    let property: EventProperty
    /// The column (text and enum properties) or the column prefix (date-times).
    let name: String

    init(_ property: EventProperty) {
        self.property = property
        // Column names exactly as migration v1 created them.
        switch property {
        case .id: name = "id"
        case .userDisplayName: name = "user_display_name"
        case .userPrincipalName: name = "user_principal_name"
        case .riskEventDateTime: name = "risk_event"
        case .riskEventType: name = "risk_event_type"
        case .riskLevel: name = "risk_level"
        case .riskEventStatus: name = "risk_event_status"
        case .closedDateTime: name = "closed"
        case .createdDateTime: name = "created"
        case .userId: name = "user_id"
        }
    }

    /// Every property in Graph order (the order of the columns).
    static let all: [SQLiteColumnLayout] = EventProperty.allCases.map(SQLiteColumnLayout.init)

    /// The columns this property occupies, in binding and reading order.
    var columns: [String] {
        switch property.kind {
        case .text, .riskLevel, .riskEventStatus: [name]
        case .dateTime: ["\(name)_ticks", "\(name)_offset", "\(name)_digits", "\(name)_z"]
        }
    }

    /// The column `$filter` and `ORDER BY` compare: the text itself, or the
    /// instant (`_ticks`) of a date-time. NULL exactly when the value is absent.
    var comparisonColumn: String { columns[0] }

    /// The record's optimistic-concurrency version (not a Graph property).
    static let versionColumn = "version"
}
