/// The ten properties of microsoft.graph.identityRiskEvent: the one list every
/// layer derives its own from (validation, Graph JSON names, filters, SQL
/// columns, CLI flags, the wire codec). Declaration order is Graph's order, the
/// order JSON prints them in and the order of the SQL columns.
///
/// Code that needs "every property" iterates ``allCases`` and switches over the
/// case exhaustively, so a new property fails to compile until every layer
/// handles it.
public enum EventProperty: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case id
    case userDisplayName
    case userPrincipalName
    case riskEventDateTime
    case riskEventType
    case riskLevel
    case riskEventStatus
    case closedDateTime
    case createdDateTime
    case userId

    /// The value type a property holds.
    public enum Kind: Sendable, Hashable {
        case text
        case dateTime
        case riskLevel
        case riskEventStatus
    }

    /// The Graph camelCase name, e.g. `riskEventDateTime`.
    public var graphName: String { rawValue }
    public var description: String { rawValue }

    public var kind: Kind {
        switch self {
        case .id, .userDisplayName, .userPrincipalName, .riskEventType, .userId: .text
        case .riskEventDateTime, .closedDateTime, .createdDateTime: .dateTime
        case .riskLevel: .riskLevel
        case .riskEventStatus: .riskEventStatus
        }
    }

    /// Must a create carry it? (`id` is assigned by the server when absent;
    /// `createdDateTime` always is.)
    public var isRequiredOnCreate: Bool {
        switch self {
        case .userPrincipalName, .riskEventDateTime, .riskEventType, .riskLevel, .riskEventStatus, .userId: true
        case .id, .userDisplayName, .closedDateTime, .createdDateTime: false
        }
    }

    /// May a stored record lack it (JSON `null`, filter `eq null`, an update that clears it)?
    public var isNullable: Bool {
        switch self {
        case .userDisplayName, .closedDateTime: true
        case .id, .userPrincipalName, .riskEventDateTime, .riskEventType, .riskLevel, .riskEventStatus, .createdDateTime, .userId: false
        }
    }

    /// May an update change it? `id` and `createdDateTime` are read-only once stored.
    public var isUpdatable: Bool {
        switch self {
        case .id, .createdDateTime: false
        case .userDisplayName, .userPrincipalName, .riskEventDateTime, .riskEventType, .riskLevel, .riskEventStatus, .closedDateTime, .userId: true
        }
    }

    /// The UTF-8 byte limit of a text property under `limits`; `nil` for other kinds.
    public func maxBytes(_ limits: EventLimits) -> Int? {
        switch self {
        case .id: limits.maxIDBytes
        case .userDisplayName: limits.maxUserDisplayNameBytes
        case .userPrincipalName: limits.maxUserPrincipalNameBytes
        case .riskEventType: limits.maxRiskEventTypeBytes
        case .userId: limits.maxUserIDBytes
        case .riskEventDateTime, .closedDateTime, .createdDateTime, .riskLevel, .riskEventStatus: nil
        }
    }

    /// What a value of this property looks like, for error messages and help.
    public var expectedValue: String {
        switch kind {
        case .text: "text"
        case .dateTime: DateTimeOffset.formatDescription
        case .riskLevel: "one of \(RiskLevel.allowedValues)"
        case .riskEventStatus: "one of \(RiskEventStatus.allowedValues)"
        }
    }

    /// `id, userDisplayName, ...`, for error messages.
    public static let allowedNames = allCases.map(\.rawValue).joined(separator: ", ")

    /// Graph calls these properties by these names in `$filter`; every property is filterable.
    public init?(graphName: String) {
        self.init(rawValue: graphName)
    }
}

/// One property's value, typed by its ``EventProperty/Kind``.
public enum PropertyValue: Sendable, Hashable {
    case text(String)
    case dateTime(DateTimeOffset)
    case riskLevel(RiskLevel)
    case riskEventStatus(RiskEventStatus)
}

extension IdentityRiskEvent {
    /// The value of `property`; `nil` only for an absent optional property.
    public subscript(property: EventProperty) -> PropertyValue? {
        switch property {
        case .id: .text(id)
        case .userDisplayName: userDisplayName.map(PropertyValue.text)
        case .userPrincipalName: .text(userPrincipalName)
        case .riskEventDateTime: .dateTime(riskEventDateTime)
        case .riskEventType: .text(riskEventType)
        case .riskLevel: .riskLevel(riskLevel)
        case .riskEventStatus: .riskEventStatus(riskEventStatus)
        case .closedDateTime: closedDateTime.map(PropertyValue.dateTime)
        case .createdDateTime: .dateTime(createdDateTime)
        case .userId: .text(userId)
        }
    }
}

extension IdentityRiskEventDraft {
    /// The value given for `property`, if any. Setting a value of the wrong kind
    /// is a programming error (it traps).
    public subscript(property: EventProperty) -> PropertyValue? {
        get {
            switch property {
            case .id: id.map(PropertyValue.text)
            case .userDisplayName: userDisplayName.map(PropertyValue.text)
            case .userPrincipalName: userPrincipalName.map(PropertyValue.text)
            case .riskEventDateTime: riskEventDateTime.map(PropertyValue.dateTime)
            case .riskEventType: riskEventType.map(PropertyValue.text)
            case .riskLevel: riskLevel.map(PropertyValue.riskLevel)
            case .riskEventStatus: riskEventStatus.map(PropertyValue.riskEventStatus)
            case .closedDateTime: closedDateTime.map(PropertyValue.dateTime)
            case .createdDateTime: createdDateTime.map(PropertyValue.dateTime)
            case .userId: userId.map(PropertyValue.text)
            }
        }
        set {
            func text() -> String? {
                guard let newValue else { return nil }
                guard case .text(let s) = newValue else { preconditionFailure("\(property) takes text, got \(newValue)") }
                return s
            }
            func date() -> DateTimeOffset? {
                guard let newValue else { return nil }
                guard case .dateTime(let d) = newValue else { preconditionFailure("\(property) takes a dateTime, got \(newValue)") }
                return d
            }
            switch property {
            case .id: id = text()
            case .userDisplayName: userDisplayName = text()
            case .userPrincipalName: userPrincipalName = text()
            case .riskEventDateTime: riskEventDateTime = date()
            case .riskEventType: riskEventType = text()
            case .riskLevel:
                guard let newValue else { riskLevel = nil; return }
                guard case .riskLevel(let l) = newValue else { preconditionFailure("riskLevel takes a riskLevel, got \(newValue)") }
                riskLevel = l
            case .riskEventStatus:
                guard let newValue else { riskEventStatus = nil; return }
                guard case .riskEventStatus(let s) = newValue else { preconditionFailure("riskEventStatus takes a riskEventStatus, got \(newValue)") }
                riskEventStatus = s
            case .closedDateTime: closedDateTime = date()
            case .createdDateTime: createdDateTime = date()
            case .userId: userId = text()
            }
        }
    }
}
