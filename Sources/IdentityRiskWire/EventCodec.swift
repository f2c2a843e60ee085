import CIdentityRiskProto
import CProtobufC
import IdentityRiskCore

typealias CEvent = Identityrisk__V1__IdentityRiskEvent
typealias CDateTimeOffset = Identityrisk__V1__DateTimeOffset

/// identityRiskEvent <-> protobuf-c structs. Enum members travel as their
/// explicit ``RiskLevel/wireNumber`` / ``RiskEventStatus/wireNumber`` (0 = unset).
///
/// Every conversion walks ``EventProperty/allCases`` with an exhaustive
/// switch: a new property does not compile until each direction handles it.
enum EventCodec {
    // MARK: encode

    static func encode(_ event: IdentityRiskEvent, in arena: CArena) -> UnsafeMutablePointer<CEvent> {
        arena.make(CEvent.self) { e in
            identityrisk__v1__identity_risk_event__init(e)
            for property in EventProperty.allCases {
                switch property {
                case .id: e.pointee.id = arena.cString(event.id)
                case .userDisplayName: e.pointee.user_display_name = arena.cString(event.userDisplayName)
                case .userPrincipalName: e.pointee.user_principal_name = arena.cString(event.userPrincipalName)
                case .riskEventDateTime: e.pointee.risk_event_date_time = encode(event.riskEventDateTime, in: arena)
                case .riskEventType: e.pointee.risk_event_type = arena.cString(event.riskEventType)
                case .riskLevel: e.pointee.risk_level = .init(rawValue: numericCast(event.riskLevel.wireNumber))
                case .riskEventStatus: e.pointee.risk_event_status = .init(rawValue: numericCast(event.riskEventStatus.wireNumber))
                case .closedDateTime: e.pointee.closed_date_time = event.closedDateTime.map { encode($0, in: arena) }
                case .createdDateTime: e.pointee.created_date_time = encode(event.createdDateTime, in: arena)
                case .userId: e.pointee.user_id = arena.cString(event.userId)
                }
            }
            e.pointee.version = event.version
        }
    }

    static func encode(_ draft: IdentityRiskEventDraft, in arena: CArena) -> UnsafeMutablePointer<CEvent> {
        arena.make(CEvent.self) { e in
            identityrisk__v1__identity_risk_event__init(e)
            for property in EventProperty.allCases {
                switch property {
                case .id: e.pointee.id = arena.cString(draft.id)
                case .userDisplayName: e.pointee.user_display_name = arena.cString(draft.userDisplayName)
                case .userPrincipalName: e.pointee.user_principal_name = arena.cString(draft.userPrincipalName)
                case .riskEventDateTime: e.pointee.risk_event_date_time = draft.riskEventDateTime.map { encode($0, in: arena) }
                case .riskEventType: e.pointee.risk_event_type = arena.cString(draft.riskEventType)
                case .riskLevel: e.pointee.risk_level = .init(rawValue: numericCast(draft.riskLevel?.wireNumber ?? 0))
                case .riskEventStatus: e.pointee.risk_event_status = .init(rawValue: numericCast(draft.riskEventStatus?.wireNumber ?? 0))
                case .closedDateTime: e.pointee.closed_date_time = draft.closedDateTime.map { encode($0, in: arena) }
                case .createdDateTime: e.pointee.created_date_time = draft.createdDateTime.map { encode($0, in: arena) }
                case .userId: e.pointee.user_id = arena.cString(draft.userId)
                }
            }
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

    // MARK: decode, lenient (requests): problems become field violations

    /// A draft from a request's event; every problem is a field violation. A
    /// set `version` (read-only) is one too.
    static func draft(from e: UnsafePointer<CEvent>) -> IdentityRiskEventDraft {
        var draft = IdentityRiskEventDraft()
        func text(_ p: UnsafeMutablePointer<CChar>?, _ property: EventProperty) -> String? {
            switch decodeString(p) {
            case .success(let s): return s
            case .failure(let v):
                draft.decodingViolations.append(FieldViolation(field: property.graphName, description: v.description))
                return nil
            }
        }
        func date(_ p: UnsafeMutablePointer<CDateTimeOffset>?, _ property: EventProperty) -> DateTimeOffset? {
            guard let p else { return nil }
            do {
                return try decode(p)
            } catch {
                draft.decodingViolations.append(FieldViolation(field: property.graphName, description: "is not a valid DateTimeOffset: \(error)"))
                return nil
            }
        }
        func member<Member: WireNumberedEnum>(_ raw: Int32, _ property: EventProperty, _: Member.Type) -> Member? {
            let number = UInt32(bitPattern: raw)
            guard number != 0 else { return nil }
            if let found = Member(wireNumber: number) { return found }
            draft.decodingViolations.append(FieldViolation(
                field: property.graphName,
                description: "enum number \(raw) is not a \(property.graphName); allowed: \(Member.allowedWireNumbers)"))
            return nil
        }
        let ev = e.pointee
        for property in EventProperty.allCases {
            switch property {
            case .id: draft.id = text(ev.id, property)
            case .userDisplayName: draft.userDisplayName = text(ev.user_display_name, property)
            case .userPrincipalName: draft.userPrincipalName = text(ev.user_principal_name, property)
            case .riskEventDateTime: draft.riskEventDateTime = date(ev.risk_event_date_time, property)
            case .riskEventType: draft.riskEventType = text(ev.risk_event_type, property)
            case .riskLevel: draft.riskLevel = member(Int32(bitPattern: UInt32(truncatingIfNeeded: ev.risk_level.rawValue)), property, RiskLevel.self)
            case .riskEventStatus:
                draft.riskEventStatus = member(Int32(bitPattern: UInt32(truncatingIfNeeded: ev.risk_event_status.rawValue)), property, RiskEventStatus.self)
            case .closedDateTime: draft.closedDateTime = date(ev.closed_date_time, property)
            case .createdDateTime:
                if let created = ev.created_date_time {
                    // Read-only: report it as supplied even if its value is malformed.
                    draft.createdDateTime = (try? decode(created)) ?? (try? DateTimeOffset(utcInstantTicks: 0))
                }
            case .userId: draft.userId = text(ev.user_id, property)
            }
        }
        if ev.version != 0 {
            draft.decodingViolations.append(FieldViolation(
                field: "version", description: "is read-only: the server sets the record's version; leave it 0 (use if_match to check it)",
                innerCode: "ReadOnlyProperty"))
        }
        return draft
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
        if let first = draft.decodingViolations.first(where: { $0.field != "version" }) {
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
        guard e.pointee.version >= 1 else {
            throw .malformedResponse("event '\(id)' without a version")
        }
        return IdentityRiskEvent(
            id: id, userDisplayName: draft.userDisplayName, userPrincipalName: upn, riskEventDateTime: risk,
            riskEventType: type, riskLevel: level, riskEventStatus: status, closedDateTime: draft.closedDateTime,
            createdDateTime: createdDateTime, userId: userId, version: e.pointee.version)
    }
}
