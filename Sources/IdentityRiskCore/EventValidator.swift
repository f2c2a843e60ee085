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

        func text(_ value: String?, _ field: String, max: Int, required: Bool) -> String? {
            guard let value, !value.isEmpty else {
                if required, !decoded.contains(field) {
                    violations.append(FieldViolation(field: field, description: "is required and must not be empty"))
                }
                return nil
            }
            if let problem = Self.textProblem(value, maxBytes: max) {
                violations.append(FieldViolation(field: field, description: problem))
                return nil
            }
            return value
        }
        func required<T>(_ value: T?, _ field: String, _ what: @autoclosure () -> String) -> T? {
            if value == nil, !decoded.contains(field) {
                violations.append(FieldViolation(field: field, description: "is required; \(what())"))
            }
            return value
        }

        var id: String?
        if let given = draft.id, !given.isEmpty {
            if let problem = Self.idProblem(given, maxBytes: limits.maxIDBytes) {
                violations.append(FieldViolation(field: "id", description: problem))
            } else {
                id = given
            }
        }
        let displayName = text(draft.userDisplayName, "userDisplayName", max: limits.maxUserDisplayNameBytes, required: false)
        let upn = text(draft.userPrincipalName, "userPrincipalName", max: limits.maxUserPrincipalNameBytes, required: true)
        let riskEventDateTime = required(draft.riskEventDateTime, "riskEventDateTime", "expected \(DateTimeOffset.formatDescription)")
        let riskEventType = text(draft.riskEventType, "riskEventType", max: limits.maxRiskEventTypeBytes, required: true)
        let riskLevel = required(draft.riskLevel, "riskLevel", "allowed values: \(RiskLevel.allowedValues)")
        let status = required(draft.riskEventStatus, "riskEventStatus", "allowed values: \(RiskEventStatus.allowedValues)")
        let userId = text(draft.userId, "userId", max: limits.maxUserIDBytes, required: true)
        if draft.createdDateTime != nil {
            violations.append(FieldViolation(
                field: "createdDateTime",
                description: "is read-only and set by the server when the event is created; omit it",
                innerCode: "ReadOnlyProperty"
            ))
        }
        if let closed = draft.closedDateTime, let risk = riskEventDateTime, closed.instantTicks < risk.instantTicks {
            violations.append(FieldViolation(
                field: "closedDateTime",
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
            closedDateTime: draft.closedDateTime,
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
