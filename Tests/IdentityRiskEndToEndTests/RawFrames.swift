import IdentityRiskCore
import IdentityRiskService
import IdentityRiskWire
import NIOCore

/// A request frame encoded by the real client codec, for raw connections.
struct RawRequest {
    let frame: [UInt8]

    init<M: WireMethod>(_ method: M.Type, _ request: M.Request, callID: UInt64, timeoutMilliseconds: UInt32 = 0) {
        var buffer = ByteBuffer()
        RequestCodec.encode(method, request, callID: callID, timeoutMilliseconds: timeoutMilliseconds, into: &buffer)
        frame = Array(buffer.readableBytesView)
    }

    private init(frame: [UInt8]) { self.frame = frame }

    static func health(callID: UInt64) -> RawRequest {
        RawRequest(IdentityRiskMethods.Health.self, HealthRequest(), callID: callID)
    }

    static func create(callID: UInt64, _ draft: IdentityRiskEventDraft) -> RawRequest {
        RawRequest(IdentityRiskMethods.Create.self, draft, callID: callID)
    }

    /// A Request with no method set (what a newer client's unknown method looks like).
    static func withoutMethod(callID: UInt64) -> RawRequest {
        var buffer = ByteBuffer()
        RequestCodec.encodeWithoutMethod(callID: callID, into: &buffer)
        return RawRequest(frame: Array(buffer.readableBytesView))
    }

    /// The payload, without its length prefix.
    var payload: [UInt8] { Array(frame.dropFirst(4)) }
}

/// One response frame as a raw connection read it: its call id, and its error
/// or the number of the method whose result it carries; ``value(_:)``
/// decodes the result as that method's.
struct RawResponse: CustomStringConvertible {
    let callID: UInt64
    let failure: IdentityRiskError?
    let resultNumber: UInt32
    let payload: ByteBuffer

    init(payload: ByteBuffer) throws {
        self.payload = payload
        (callID, failure, resultNumber) = try ResponseCodec.decode(payload) { ($0.callID, $0.failure, $0.resultNumber) }
    }

    /// The result as `method`'s, or `nil` if this is an error or another method's result.
    func value<M: WireMethod>(_ method: M.Type) -> M.Response? {
        guard failure == nil, resultNumber == M.descriptor.number,
            case .success(let value)? = try? ResponseCodec.decode(payload, as: method).result
        else { return nil }
        return value
    }

    var created: CreateOutcome? { value(IdentityRiskMethods.Create.self) }
    var isHealth: Bool { value(IdentityRiskMethods.Health.self) != nil }

    var description: String {
        if let failure { return "call \(callID): \(failure)" }
        return "call \(callID): result of \(IdentityRiskMethods.descriptor(number: resultNumber)?.name ?? "method #\(resultNumber)")"
    }
}
