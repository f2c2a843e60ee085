import CIdentityRiskProto
import CProtobufC
import IdentityRiskCore

typealias CEvent = Identityrisk__V1__IdentityRiskEvent
typealias CDateTimeOffset = Identityrisk__V1__DateTimeOffset

/// identityRiskEvent <-> protobuf-c structs. Wire numbers of enum members are
/// their position in Graph's list plus one (0 = unspecified), as in the .proto.
enum EventCodec {
    // MARK: encode

    static func encode(_ event: IdentityRiskEvent, in arena: CArena) -> UnsafeMutablePointer<CEvent> {
        arena.make(CEvent.self) { e in
            identityrisk__v1__identity_risk_event__init(e)
            e.pointee.id = arena.cString(event.id)
            e.pointee.user_display_name = arena.cString(event.userDisplayName)
            e.pointee.user_principal_name = arena.cString(event.userPrincipalName)
            e.pointee.risk_event_date_time = encode(event.riskEventDateTime, in: arena)
            e.pointee.risk_event_type = arena.cString(event.riskEventType)
            e.pointee.risk_level = .init(rawValue: numericCast(number(event.riskLevel)))
            e.pointee.risk_event_status = .init(rawValue: numericCast(number(event.riskEventStatus)))
            e.pointee.closed_date_time = event.closedDateTime.map { encode($0, in: arena) }
            e.pointee.created_date_time = encode(event.createdDateTime, in: arena)
            e.pointee.user_id = arena.cString(event.userId)
        }
    }

    static func encode(_ draft: IdentityRiskEventDraft, in arena: CArena) -> UnsafeMutablePointer<CEvent> {
        arena.make(CEvent.self) { e in
            identityrisk__v1__identity_risk_event__init(e)
            e.pointee.id = arena.cString(draft.id)
            e.pointee.user_display_name = arena.cString(draft.userDisplayName)
            e.pointee.user_principal_name = arena.cString(draft.userPrincipalName)
            e.pointee.risk_event_date_time = draft.riskEventDateTime.map { encode($0, in: arena) }
            e.pointee.risk_event_type = arena.cString(draft.riskEventType)
            e.pointee.risk_level = .init(rawValue: numericCast(draft.riskLevel.map(number) ?? 0))
            e.pointee.risk_event_status = .init(rawValue: numericCast(draft.riskEventStatus.map(number) ?? 0))
            e.pointee.closed_date_time = draft.closedDateTime.map { encode($0, in: arena) }
            e.pointee.created_date_time = draft.createdDateTime.map { encode($0, in: arena) }
            e.pointee.user_id = arena.cString(draft.userId)
        }
    }

    static func encode(_ value: DateTimeOffset, in arena: CArena) -> UnsafeMutablePointer<CDateTimeOffset> {
        arena.make(CDateTimeOffset.self) { d in
            identityrisk__v1__date_time_offset__init(d)
            d.pointee.unix_seconds = value.unixSeconds
            d.pointee.ticks = value.ticks
            d.pointee.offset_minutes = Int32(value.offsetMinutes)
            d.pointee.fraction_digits = UInt32(value.fractionDigits)
            d.pointee.utc_designator = value.utcDesignator ? 1 : 0
        }
    }

    static func number(_ level: RiskLevel) -> UInt32 { UInt32(RiskLevel.allCases.firstIndex(of: level)! + 1) }
    static func number(_ status: RiskEventStatus) -> UInt32 { UInt32(RiskEventStatus.allCases.firstIndex(of: status)! + 1) }

    // MARK: decode, lenient (requests): problems become field violations

    /// A draft from a request's event; every problem is a field violation.
    static func draft(from e: UnsafePointer<CEvent>) -> IdentityRiskEventDraft {
        var draft = IdentityRiskEventDraft()
        func text(_ p: UnsafeMutablePointer<CChar>?, _ field: String) -> String? {
            switch decodeString(p) {
            case .success(let s): return s
            case .failure(let v):
                draft.decodingViolations.append(FieldViolation(field: field, description: v.description))
                return nil
            }
        }
        func date(_ p: UnsafeMutablePointer<CDateTimeOffset>?, _ field: String) -> DateTimeOffset? {
            guard let p else { return nil }
            do {
                return try decode(p)
            } catch {
                draft.decodingViolations.append(FieldViolation(field: field, description: "is not a valid DateTimeOffset: \(error)"))
                return nil
            }
        }
        let ev = e.pointee
        draft.id = text(ev.id, "id")
        draft.userDisplayName = text(ev.user_display_name, "userDisplayName")
        draft.userPrincipalName = text(ev.user_principal_name, "userPrincipalName")
        draft.riskEventDateTime = date(ev.risk_event_date_time, "riskEventDateTime")
        draft.riskEventType = text(ev.risk_event_type, "riskEventType")
        let level = UInt32(truncatingIfNeeded: ev.risk_level.rawValue)
        if level != 0 {
            if level <= UInt32(RiskLevel.allCases.count) {
                draft.riskLevel = RiskLevel.allCases[Int(level) - 1]
            } else {
                draft.decodingViolations.append(FieldViolation(
                    field: "riskLevel",
                    description: "enum number \(Int32(bitPattern: level)) is not a riskLevel; allowed: \(allowedNumbers(RiskLevel.allCases.map(\.rawValue)))"))
            }
        }
        let status = UInt32(truncatingIfNeeded: ev.risk_event_status.rawValue)
        if status != 0 {
            if status <= UInt32(RiskEventStatus.allCases.count) {
                draft.riskEventStatus = RiskEventStatus.allCases[Int(status) - 1]
            } else {
                draft.decodingViolations.append(FieldViolation(
                    field: "riskEventStatus",
                    description: "enum number \(Int32(bitPattern: status)) is not a riskEventStatus; allowed: \(allowedNumbers(RiskEventStatus.allCases.map(\.rawValue)))"))
            }
        }
        draft.closedDateTime = date(ev.closed_date_time, "closedDateTime")
        if let created = ev.created_date_time {
            // Read-only: report it as supplied even if its value is malformed.
            draft.createdDateTime = (try? decode(created)) ?? (try? DateTimeOffset(utcInstantTicks: 0))
        }
        draft.userId = text(ev.user_id, "userId")
        return draft
    }

    static func allowedNumbers(_ names: [String]) -> String {
        names.enumerated().map { "\($0.offset + 1) (\($0.element))" }.joined(separator: ", ")
    }

    /// `nil` for absent or empty; failure text for invalid UTF-8.
    static func decodeString(_ p: UnsafeMutablePointer<CChar>?) -> Result<String?, StringDecodingFailure> {
        guard let p, p.pointee != 0 else { return .success(nil) }
        guard let s = String(validatingCString: p) else {
            return .failure(StringDecodingFailure(description: "is not valid UTF-8"))
        }
        return .success(s)
    }

    struct StringDecodingFailure: Error, CustomStringConvertible {
        var description: String
    }

    static func decode(_ d: UnsafePointer<CDateTimeOffset>) throws(DateTimeOffsetError) -> DateTimeOffset {
        let v = d.pointee
        guard abs(Int64(v.offset_minutes)) <= Int64(DateTimeOffset.maxOffsetMinutes) else {
            throw DateTimeOffsetError("UTC offset must be within -840 ... 840 minutes, got \(v.offset_minutes)")
        }
        guard v.fraction_digits <= 7 else {
            throw DateTimeOffsetError("fraction_digits must be 0 ... 7, got \(v.fraction_digits)")
        }
        return try DateTimeOffset(
            unixSeconds: v.unix_seconds,
            ticks: v.ticks,
            offsetMinutes: Int16(v.offset_minutes),
            fractionDigits: UInt8(v.fraction_digits),
            utcDesignator: v.utc_designator != 0
        )
    }

    // MARK: decode, strict (responses): any problem is a malformed response

    static func event(from e: UnsafePointer<CEvent>) throws(WireError) -> IdentityRiskEvent {
        let draft = draft(from: e)
        if let first = draft.decodingViolations.first {
            throw .malformedResponse("\(first.field) \(first.description)")
        }
        guard let created = e.pointee.created_date_time, let createdDateTime = try? decode(created) else {
            throw .malformedResponse("event without a valid createdDateTime")
        }
        guard let id = draft.id, let upn = draft.userPrincipalName, let risk = draft.riskEventDateTime,
            let type = draft.riskEventType, let level = draft.riskLevel, let status = draft.riskEventStatus,
            let userId = draft.userId
        else {
            throw .malformedResponse("event is missing a required property")
        }
        return IdentityRiskEvent(
            id: id, userDisplayName: draft.userDisplayName, userPrincipalName: upn, riskEventDateTime: risk,
            riskEventType: type, riskLevel: level, riskEventStatus: status, closedDateTime: draft.closedDateTime,
            createdDateTime: createdDateTime, userId: userId)
    }
}
