import IdentityRiskCore
import PostgresNIO

/// Records to binds and rows to records for ``PostgresEventStore``, in the
/// column order of ``SQLiteColumnLayout/all`` (then `version`), the order of
/// `PostgresSchema.columns`: one loop over the layout each way, so the binding
/// cannot drift from the table.
enum PostgresRecordCoding {
    /// Appends every column of `event` (the properties, then its version).
    static func bind(_ event: IdentityRiskEvent, into bindings: inout PostgresBindings) throws(IdentityRiskError) {
        for layout in SQLiteColumnLayout.all {
            bind(event[layout.property], as: layout.property.kind, into: &bindings)
        }
        try bind(version: event.version, into: &bindings)
    }

    /// Appends the updatable properties of `event`, then its version (``PostgresSchema/replaceSQL``).
    static func bindUpdatable(_ event: IdentityRiskEvent, into bindings: inout PostgresBindings) throws(IdentityRiskError) {
        for layout in SQLiteSchema.updatableLayout {
            bind(event[layout.property], as: layout.property.kind, into: &bindings)
        }
        try bind(version: event.version, into: &bindings)
    }

    static func bind(version: UInt64, into bindings: inout PostgresBindings) throws(IdentityRiskError) {
        guard let value = Int64(exactly: version) else {
            throw IdentityRiskError(code: .internal, message: "version \(version) does not fit a PostgreSQL bigint")
        }
        bindings.append(value)
    }

    /// Text and enums one parameter, a date-time four (ticks, offset, digits, Z), NULL when absent.
    private static func bind(_ value: PropertyValue?, as kind: EventProperty.Kind, into bindings: inout PostgresBindings) {
        switch value {
        case .text(let text)?: bindings.append(text)
        case .riskLevel(let level)?: bindings.append(level.rawValue)
        case .riskEventStatus(let status)?: bindings.append(status.rawValue)
        case .dateTime(let value)?:
            bindings.append(value.instantTicks)
            bindings.append(Int64(value.offsetMinutes))
            bindings.append(Int64(value.fractionDigits))
            bindings.append(Int64(value.utcDesignator ? 1 : 0))
        case nil:
            if kind == .dateTime {
                for _ in 0..<4 { bindings.append(Int64?.none) }
            } else {
                bindings.append(String?.none)
            }
        }
    }

    /// Rebuilds a record from the first `PostgresSchema.columns.count` cells of
    /// `row`. Never traps: a value that is not what the column holds throws
    /// `internal`, naming the record and the column.
    static func decode(_ row: PostgresRandomAccessRow) throws(IdentityRiskError) -> IdentityRiskEvent {
        var index = 0
        var recordID: String?
        func corrupt(_ column: String, _ problem: String) -> IdentityRiskError {
            let record = recordID.map { "stored identityRiskEvent '\($0)'" } ?? "a stored identityRiskEvent"
            return IdentityRiskError(code: .internal, message: "\(record) cannot be read: column \(column) \(problem)")
        }
        func next<T: PostgresDecodable>(_ type: T.Type) throws(IdentityRiskError) -> T {
            guard index < row.count else { throw corrupt("#\(index)", "is missing from the row") }
            defer { index += 1 }
            do {
                return try row[index].decode(T.self)
            } catch {
                throw corrupt(PostgresSchema.columns[index], "cannot be read as \(T.self): \(String(reflecting: error))")
            }
        }
        var draft = IdentityRiskEventDraft()
        for layout in SQLiteColumnLayout.all {
            let property = layout.property
            let value: PropertyValue?
            switch property.kind {
            case .text:
                value = try next(String?.self).map(PropertyValue.text)
            case .riskLevel:
                value = try next(String?.self).map { (text: String) throws(IdentityRiskError) -> PropertyValue in
                    guard let level = RiskLevel(rawValue: text) else { throw corrupt(layout.name, "'\(text)' is not a riskLevel") }
                    return .riskLevel(level)
                }
            case .riskEventStatus:
                value = try next(String?.self).map { (text: String) throws(IdentityRiskError) -> PropertyValue in
                    guard let status = RiskEventStatus(rawValue: text) else { throw corrupt(layout.name, "'\(text)' is not a riskEventStatus") }
                    return .riskEventStatus(status)
                }
            case .dateTime:
                let parts = (try next(Int64?.self), try next(Int64?.self), try next(Int64?.self), try next(Int64?.self))
                switch parts {
                case (nil, nil, nil, nil):
                    value = nil
                case let (ticks?, offset?, digits?, z?):
                    switch StoredDateTime.decode(ticks: ticks, offset: offset, digits: digits, z: z) {
                    case .success(let dateTime): value = .dateTime(dateTime)
                    case .failure(let problem): throw corrupt(layout.name, problem.description)
                    }
                default:
                    throw corrupt(layout.name, "is partly NULL")
                }
            }
            if value == nil, !property.isNullable { throw corrupt(layout.name, "is NULL") }
            if property == .id, case .text(let id)? = value { recordID = id }
            draft[property] = value
        }
        let version = try next(Int64.self)
        guard version >= 1 else { throw corrupt(SQLiteColumnLayout.versionColumn, "is \(version), not a version (at least 1)") }
        guard let id = draft.id, let upn = draft.userPrincipalName, let riskEventDateTime = draft.riskEventDateTime,
            let riskEventType = draft.riskEventType, let level = draft.riskLevel, let status = draft.riskEventStatus,
            let created = draft.createdDateTime, let userId = draft.userId
        else {
            throw corrupt("(record)", "lacks a required property")
        }
        return IdentityRiskEvent(
            id: id, userDisplayName: draft.userDisplayName, userPrincipalName: upn, riskEventDateTime: riskEventDateTime,
            riskEventType: riskEventType, riskLevel: level, riskEventStatus: status, closedDateTime: draft.closedDateTime,
            createdDateTime: created, userId: userId, version: UInt64(version))
    }

    /// A row of ``PostgresSchema/selectChangesSQL``: the record's columns, then cursor and kind.
    static func decodeChange(_ row: PostgresRandomAccessRow) throws(IdentityRiskError) -> Change {
        let event = try decode(row)
        let base = PostgresSchema.columns.count
        let cursor: Int64
        let kindNumber: Int16
        do {
            cursor = try row[base].decode(Int64.self)
            kindNumber = try row[base + 1].decode(Int16.self)
        } catch {
            throw IdentityRiskError(code: .internal, message: "a change of identityRiskEvent '\(event.id)' cannot be read: \(String(reflecting: error))")
        }
        guard cursor > 0, let wire = UInt32(exactly: kindNumber), let kind = ChangeKind(wireNumber: wire) else {
            throw IdentityRiskError(code: .internal, message: "change \(cursor) of identityRiskEvent '\(event.id)' has an invalid cursor or kind (\(kindNumber))")
        }
        return Change(cursor: ChangeCursor(UInt64(cursor)), kind: kind, event: event)
    }
}
