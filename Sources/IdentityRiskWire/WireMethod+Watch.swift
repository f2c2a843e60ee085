import CIdentityRiskProto
public import IdentityRiskCore
public import IdentityRiskService

extension IdentityRiskMethods.Watch: WireMethod {
    /// `identityrisk.v1.ChangeKind` BOOKMARK: a message with a cursor and no change.
    static let bookmarkKind: UInt32 = 4

    public static func decodeRequest(_ request: UnpackedRequest) -> Result<WatchChanges.Request, IdentityRiskError> {
        refusingNUL(request) {
            guard let w = request.message.pointee.watch?.pointee else { return .success(WatchChanges.Request()) }
            var violations: [FieldViolation] = []
            var filter = ""
            switch EventCodec.decodeString(w.filter) {
            case .success(let s): filter = s ?? ""
            case .failure(let f): violations.append(FieldViolation(field: "filter", description: f.description))
            }
            let start: WatchChanges.Start
            let number = Int32(truncatingIfNeeded: w.start.rawValue)
            let cursor = ChangeCursor(w.after_cursor)
            switch number {
            case 0: start = w.after_cursor == 0 ? .now : .after(cursor)
            case 1: start = .after(cursor)
            case 2, 3:
                start = number == 2 ? .now : .oldest
                if w.after_cursor != 0 {
                    violations.append(FieldViolation(
                        field: "afterCursor",
                        description: "is \(w.after_cursor) with start \(number == 2 ? "NOW" : "OLDEST"); "
                            + "a cursor goes only with start AFTER_CURSOR (1) or unset (0)"))
                }
            default:
                start = .now
                violations.append(FieldViolation(
                    field: "start",
                    description: "enum number \(number) is not a WatchStart; allowed: 0 (unset: NOW, or AFTER_CURSOR when afterCursor is set), "
                        + "1 (AFTER_CURSOR), 2 (NOW), 3 (OLDEST)"))
            }
            if !violations.isEmpty { return .failure(.invalid(violations)) }
            return .success(WatchChanges.Request(filter: filter, start: start))
        }
    }

    public static func encodeResponse(_ response: WatchChanges.Message, into builder: inout ResponseBuilder) {
        let arena = builder.arena
        builder.message.pointee.watch = arena.make(Identityrisk__V1__WatchResponse.self) { w in
            identityrisk__v1__watch_response__init(w)
            w.pointee.cursor = response.cursor.rawValue
            switch response {
            case .change(let change):
                w.pointee.kind = .init(rawValue: numericCast(change.kind.wireNumber))
                w.pointee.event = EventCodec.encode(change.event, in: arena)
            case .bookmark:
                w.pointee.kind = .init(rawValue: numericCast(bookmarkKind))
            }
        }
    }

    public static func encodeRequest(_ request: WatchChanges.Request, into builder: inout RequestBuilder) {
        let arena = builder.arena
        builder.message.pointee.watch = arena.make(Identityrisk__V1__WatchRequest.self) { w in
            identityrisk__v1__watch_request__init(w)
            w.pointee.filter = arena.cString(request.filter)
            switch request.start {
            case .now: w.pointee.start = .init(rawValue: 2)
            case .oldest: w.pointee.start = .init(rawValue: 3)
            case .after(let cursor):
                w.pointee.start = .init(rawValue: 1)
                w.pointee.after_cursor = cursor.rawValue
            }
        }
    }

    public static func decodeResponse(_ response: UnpackedResponse) throws(WireError) -> WatchChanges.Message {
        guard let w = response.message.pointee.watch?.pointee else { throw missing("a WatchResponse") }
        let cursor = ChangeCursor(w.cursor)
        let number = UInt32(truncatingIfNeeded: w.kind.rawValue)
        if number == bookmarkKind { return .bookmark(cursor) }
        guard let kind = ChangeKind(wireNumber: number) else {
            throw .malformedResponse("watch message with kind \(Int32(bitPattern: number)), not a ChangeKind")
        }
        guard let event = w.event else { throw missing("the event of a \(kind) change") }
        return .change(Change(cursor: cursor, kind: kind, event: try EventCodec.event(from: event)))
    }

    public static func encodingProblem(_ request: WatchChanges.Request) -> IdentityRiskError? {
        nulProblem([("filter", request.filter)])
    }
}
