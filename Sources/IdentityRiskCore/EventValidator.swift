/// Turns a draft into a record, or into one `invalidArgument` error that lists
/// every violation at once.
///
/// Rules (README "The record"):
/// - required: userPrincipalName, riskEventDateTime, riskEventType, riskLevel,
///   riskEventStatus, userId; optional: id, userDisplayName, closedDateTime
/// - createdDateTime is read-only (`ReadOnlyProperty`)
/// - strings: valid Unicode without control characters, within ``EventLimits``
/// - id: 1 to 128 of `A-Z a-z 0-9 - . _ ~`
/// - closedDateTime is not before riskEventDateTime
public struct EventValidator: Sendable {
    public var limits: EventLimits

    public init(limits: EventLimits = .default) {
        self.limits = limits
    }

    /// Validates and completes `draft` with the server-assigned values.
    public func validate(
        _ draft: IdentityRiskEventDraft,
        assignID: () -> String,
        createdDateTime: DateTimeOffset
    ) throws(IdentityRiskError) -> IdentityRiskEvent {
        var violations = draft.decodingViolations
        let decoded = Set(violations.map(\.field))
        var id: String?, displayName: String?, upn: String?, riskEventType: String?, userId: String?
        var riskEventDateTime: DateTimeOffset?, closedDateTime: DateTimeOffset?
        var riskLevel: RiskLevel?, status: RiskEventStatus?

        func missing(_ property: EventProperty) {
            guard property.isRequiredOnCreate, !decoded.contains(property.graphName) else { return }
            let what = switch property.kind {
            case .text: "is required and must not be empty"
            case .dateTime: "is required; expected \(DateTimeOffset.formatDescription)"
            case .riskLevel: "is required; allowed values: \(RiskLevel.allowedValues)"
            case .riskEventStatus: "is required; allowed values: \(RiskEventStatus.allowedValues)"
            }
            violations.append(FieldViolation(field: property.graphName, description: what))
        }
        func text(_ value: String?, _ property: EventProperty) -> String? {
            guard let value, !value.isEmpty else {
                missing(property)
                return nil
            }
            let problem = property == .id
                ? Self.idProblem(value, maxBytes: limits.maxIDBytes)
                : Self.textProblem(value, maxBytes: property.maxBytes(limits) ?? 0)
            if let problem {
                violations.append(FieldViolation(field: property.graphName, description: problem))
                return nil
            }
            return value
        }
        func value<T>(_ value: T?, _ property: EventProperty) -> T? {
            if value == nil { missing(property) }
            return value
        }
        // Every property, in Graph's order; the switch is exhaustive, so a new
        // property does not compile until its rule is written here.
        for property in EventProperty.allCases {
            switch property {
            case .id: id = text(draft.id, property)
            case .userDisplayName: displayName = text(draft.userDisplayName, property)
            case .userPrincipalName: upn = text(draft.userPrincipalName, property)
            case .riskEventDateTime: riskEventDateTime = value(draft.riskEventDateTime, property)
            case .riskEventType: riskEventType = text(draft.riskEventType, property)
            case .riskLevel: riskLevel = value(draft.riskLevel, property)
            case .riskEventStatus: status = value(draft.riskEventStatus, property)
            case .closedDateTime:
                closedDateTime = draft.closedDateTime
            case .createdDateTime:
                if draft.createdDateTime != nil {
                    violations.append(FieldViolation(
                        field: property.graphName,
                        description: "is read-only and set by the server when the event is created; omit it",
                        innerCode: "ReadOnlyProperty"
                    ))
                }
            case .userId: userId = text(draft.userId, property)
            }
        }
        if let closed = closedDateTime, let risk = riskEventDateTime, closed.instantTicks < risk.instantTicks {
            violations.append(FieldViolation(
                field: EventProperty.closedDateTime.graphName,
                description: "\(closed) is before riskEventDateTime \(risk); an event cannot close before it happens"
            ))
        }

        guard violations.isEmpty, let upn, let riskEventDateTime, let riskEventType, let riskLevel, let status, let userId
        else {
            throw IdentityRiskError.invalid(violations)
        }
        return IdentityRiskEvent(
            id: id ?? assignID(),
            userDisplayName: displayName,
            userPrincipalName: upn,
            riskEventDateTime: riskEventDateTime,
            riskEventType: riskEventType,
            riskLevel: riskLevel,
            riskEventStatus: status,
            closedDateTime: closedDateTime,
            createdDateTime: createdDateTime,
            userId: userId
        )
    }

    /// Why `value` is not acceptable text, or `nil`.
    public static func textProblem(_ value: String, maxBytes: Int) -> String? {
        let bytes = value.utf8.count
        if bytes > maxBytes {
            return "is \(bytes) bytes of UTF-8; at most \(maxBytes) are allowed"
        }
        // Fast path over the UTF-8 bytes (contiguous for native strings, which
        // is what the decoder makes): C0 and DEL are single bytes, C1
        // (U+0080 ... U+009F) is 0xC2 followed by 0x80 ... 0x9F.
        let clean = value.utf8.withContiguousStorageIfAvailable(hasNoControlBytes) ?? hasNoControlBytes(value.utf8)
        if clean { return nil }
        for (offset, scalar) in value.unicodeScalars.enumerated() where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
            return "contains control character U+\(hex4(scalar.value)) at code point \(offset); control characters (C0, DEL, C1, including NUL) are not allowed"
        }
        return nil
    }

    /// Why `value` is not an acceptable id, or `nil`.
    public static func idProblem(_ value: String, maxBytes: Int = EventLimits.default.maxIDBytes) -> String? {
        if value.utf8.count > maxBytes {
            return "is \(value.utf8.count) bytes; at most \(maxBytes) are allowed"
        }
        let bad = value.utf8.withContiguousStorageIfAvailable(firstNonIDByte) ?? firstNonIDByte(value.utf8)
        if let offset = bad {
            return "has a character not allowed at byte \(offset); allowed: A-Z a-z 0-9 - . _ ~ (1 to \(maxBytes) characters)"
        }
        return nil
    }

    /// Whether `bytes` (UTF-8) hold no C0 control, DEL or C1 control.
    @inline(__always)
    private static func hasNoControlBytes(_ bytes: some Sequence<UInt8>) -> Bool {
        var previous: UInt8 = 0
        for byte in bytes {
            if byte < 0x20 || byte == 0x7F || (previous == 0xC2 && byte >= 0x80 && byte <= 0x9F) {
                return false
            }
            previous = byte
        }
        return true
    }

    /// The offset of the first byte that is not one of A-Z a-z 0-9 - . _ ~, or `nil`.
    @inline(__always)
    private static func firstNonIDByte(_ bytes: some Sequence<UInt8>) -> Int? {
        var offset = 0
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                offset += 1
            default:
                return offset
            }
        }
        return nil
    }

    static func hex4(_ value: UInt32) -> String {
        let s = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }
}
