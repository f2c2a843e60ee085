@testable import IdentityRiskCore
import IdentityRiskService
import IdentityRiskTestSupport
@testable import IdentityRiskWire
import NIOCore
import Testing

typealias Create = IdentityRiskMethods.Create
typealias Get = IdentityRiskMethods.Get
typealias List = IdentityRiskMethods.List
typealias Health = IdentityRiskMethods.Health
typealias Update = IdentityRiskMethods.Update
typealias Delete = IdentityRiskMethods.Delete
typealias Watch = IdentityRiskMethods.Watch

enum Fixtures {
    /// Every property set, with values that differ from one another, at a
    /// version that needs a multi-byte varint.
    static func fullEvent(id: String = "evt-0001", version: UInt64 = 300) -> IdentityRiskEvent {
        seedEvent(id: id, createdDateTime: dt("2024-05-01T12:00:00.1234567Z"), version: version)
    }

    /// Every property of a draft set, including the read-only createdDateTime.
    static func fullDraft() -> IdentityRiskEventDraft {
        var draft = seedDraft(id: "draft-42")
        draft.riskLevel = .medium
        draft.riskEventStatus = .dismissedAsFalsePositive
        draft.closedDateTime = dt("2017-01-01T00:01:30.8768135-05:30")
        draft.createdDateTime = dt("2020-02-29T23:59:59Z")
        return draft
    }

    /// Serving and draining, at both ends of every number's range.
    static let healths: [HealthStatus] = [
        HealthStatus(serving: .serving, serverVersion: "1.2.3", protocolVersion: 1, store: "sqlite", uptimeMilliseconds: 0, openConnections: 0),
        HealthStatus(serving: .draining, serverVersion: "0.0.1-β+build", protocolVersion: UInt32.max, store: "memory",
                     uptimeMilliseconds: UInt64.max, openConnections: UInt32.max),
        HealthStatus(serving: .serving, serverVersion: "1", protocolVersion: 1, store: "sqlite", uptimeMilliseconds: 5, openConnections: 2,
                     storeStatus: StoreStatus(kind: "sqlite", location: "/var/lib/identityrisk/events.sqlite", sizeBytes: UInt64.max,
                                              records: 0, queueDepth: 8192)),
        HealthStatus(serving: .serving, serverVersion: "1", protocolVersion: 1, store: "postgresql", uptimeMilliseconds: 5, openConnections: 2,
                     storeStatus: StoreStatus(kind: "postgresql", host: "db.example:5432", records: nil, available: false,
                                              problem: "connection refused — 再試行")),
    ]

    /// Every code `IdentityRiskError.Code` has (it is not CaseIterable by design).
    static let allCodes: [IdentityRiskError.Code] = [
        .cancelled, .unknown, .invalidArgument, .deadlineExceeded, .notFound, .alreadyExists,
        .permissionDenied, .resourceExhausted, .failedPrecondition, .unimplemented, .internal, .unavailable,
    ]
}

// MARK: - Requests

/// A method's request, type-erased so that requests of different methods can
/// be compared and listed together. Equal only to the same method's equal request.
struct AnyMethodRequest: Hashable, Sendable, CustomStringConvertible {
    let method: MethodDescriptor
    let value: any Hashable & Sendable

    init<M: WireMethod>(_ method: M.Type, _ value: M.Request) {
        self.method = M.descriptor
        self.value = value
    }

    static func == (a: Self, b: Self) -> Bool {
        func same<T: Hashable>(_ x: T) -> Bool { (b.value as? T) == x }
        return a.method == b.method && same(a.value)
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(method)
        hasher.combine(value)
    }

    var description: String { "\(method.name)(\(value))" }
}

/// What the server makes of one request frame: RequestCodec's envelope, then
/// (for a call) the method's `decodeRequest`, all free of C pointers.
struct DecodedRequest: Hashable, Sendable, CustomStringConvertible {
    enum Kind: Hashable, Sendable {
        /// A call whose method decoded its request.
        case call(AnyMethodRequest)
        /// A call whose method refused its request (`decodeRequest` failed).
        case refused(MethodDescriptor, IdentityRiskError)
        /// A oneof field protobuf-c knows but ``WireMethods/all`` has no codec for.
        case notInTable(methodNumber: UInt32)
        case cancel(targetCallID: UInt64)
        case noMethod
        case malformed(IdentityRiskError)

        static func call<M: WireMethod>(_ method: M.Type, _ request: M.Request) -> Kind {
            .call(AnyMethodRequest(method, request))
        }
    }

    var callID: UInt64
    var timeoutMilliseconds: UInt32 = 0
    var kind: Kind

    var description: String { "#\(callID) (timeout \(timeoutMilliseconds) ms): \(kind)" }

    /// The request, if this is a decoded call of `method` (else records an issue).
    func request<M: WireMethod>(_ method: M.Type, sourceLocation: SourceLocation = #_sourceLocation) -> M.Request? {
        if case .call(let call) = kind, call.method == M.descriptor, let request = call.value as? M.Request {
            return request
        }
        Issue.record("expected a decoded \(M.descriptor.name) call, got \(kind)", sourceLocation: sourceLocation)
        return nil
    }

    /// The error, if this is a call of `method` its codec refused (else records an issue).
    func refusal<M: WireMethod>(_ method: M.Type, sourceLocation: SourceLocation = #_sourceLocation) -> IdentityRiskError? {
        if case .refused(let descriptor, let error) = kind, descriptor == M.descriptor {
            return error
        }
        Issue.record("expected \(M.descriptor.name)'s decodeRequest to refuse, got \(kind)", sourceLocation: sourceLocation)
        return nil
    }

    /// The error, if the frame was malformed (else records an issue).
    func malformation(sourceLocation: SourceLocation = #_sourceLocation) -> IdentityRiskError? {
        if case .malformed(let error) = kind { return error }
        Issue.record("expected .malformed, got \(kind)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The server side of a request frame's payload (no length prefix).
func decodeRequest(_ payload: ByteBuffer, limits: RequestDecodingLimits = .default) -> DecodedRequest {
    RequestCodec.decode(payload, limits: limits) { inbound in
        let kind: DecodedRequest.Kind
        switch inbound.kind {
        case .call(let unpacked):
            func decode<M: WireMethod>(_ method: M.Type) -> DecodedRequest.Kind {
                switch M.decodeRequest(unpacked) {
                case .success(let request): .call(method, request)
                case .failure(let error): .refused(M.descriptor, error)
                }
            }
            if let method = WireMethods.method(number: unpacked.methodNumber) {
                kind = decode(method)
            } else {
                kind = .notInTable(methodNumber: unpacked.methodNumber)
            }
        case .cancel(let target): kind = .cancel(targetCallID: target)
        case .noMethod: kind = .noMethod
        case .malformed(let error): kind = .malformed(error)
        }
        return DecodedRequest(callID: inbound.callID, timeoutMilliseconds: inbound.timeoutMilliseconds, kind: kind)
    }
}

/// One whole frame (length prefix included) calling `method`, from the client codec.
func requestFrame<M: WireMethod>(_ method: M.Type, _ request: M.Request, callID: UInt64 = 1, timeoutMilliseconds: UInt32 = 0) -> ByteBuffer {
    var buffer = ByteBuffer()
    RequestCodec.encode(method, request, callID: callID, timeoutMilliseconds: timeoutMilliseconds, into: &buffer)
    return buffer
}

/// One whole cancel frame.
func cancelFrame(targetCallID: UInt64) -> ByteBuffer {
    var buffer = ByteBuffer()
    RequestCodec.encodeCancel(targetCallID: targetCallID, into: &buffer)
    return buffer
}

/// Takes the 4-byte prefix off `frame`, checking it against the payload length.
func stripPrefix(_ frame: ByteBuffer, sourceLocation: SourceLocation = #_sourceLocation) throws -> ByteBuffer {
    var buffer = frame
    let prefix = buffer.readInteger(endianness: .big, as: UInt32.self)
    let length = try #require(prefix, "a frame starts with a 4-byte length", sourceLocation: sourceLocation)
    #expect(Int(length) == buffer.readableBytes, "length prefix must equal the payload length", sourceLocation: sourceLocation)
    return buffer
}

/// Client codec (`RequestCodec.encode`) -> strip prefix -> server codec
/// (`RequestCodec.decode` + the method's `decodeRequest`), through protobuf-c.
func roundTrip<M: WireMethod>(
    _ method: M.Type, _ request: M.Request, callID: UInt64 = 1, timeoutMilliseconds: UInt32 = 0,
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> DecodedRequest {
    decodeRequest(try stripPrefix(
        requestFrame(method, request, callID: callID, timeoutMilliseconds: timeoutMilliseconds), sourceLocation: sourceLocation))
}

/// ``roundTrip(_:_:callID:timeoutMilliseconds:sourceLocation:)``, checking that
/// the envelope survived, then the request as the server's method decoded it.
func roundTripped<M: WireMethod>(_ method: M.Type, _ request: M.Request, sourceLocation: SourceLocation = #_sourceLocation) throws -> M.Request? {
    let decoded = try roundTrip(method, request, callID: 0xC0FFEE, timeoutMilliseconds: 1234, sourceLocation: sourceLocation)
    #expect(decoded.callID == 0xC0FFEE && decoded.timeoutMilliseconds == 1234, "envelope", sourceLocation: sourceLocation)
    return decoded.request(method, sourceLocation: sourceLocation)
}

/// The draft a create request decoded to, or `nil` (recording an issue).
func createdDraft(_ request: DecodedRequest, sourceLocation: SourceLocation = #_sourceLocation) -> IdentityRiskEventDraft? {
    request.request(Create.self, sourceLocation: sourceLocation)
}

// MARK: - Responses

/// A Response frame as the client reads it for a call of `M`.
struct DecodedResponse<M: WireMethod>: Hashable {
    var callID: UInt64
    var result: Result<M.Response, IdentityRiskError>
}

/// One whole frame (length prefix included) answering a call of `method`, from the server's encoder.
func responseFrame<M: WireMethod>(
    _ method: M.Type, callID: UInt64, _ result: Result<M.Response?, IdentityRiskError>, encoder: ResponseEncoder = ResponseEncoder()
) -> ByteBuffer {
    var buffer = ByteBuffer()
    encoder.encode(method, callID: callID, result: result, into: &buffer)
    return buffer
}

/// Client side of a response payload expected to answer `method`.
func decodeResponse<M: WireMethod>(_ payload: ByteBuffer, as method: M.Type) throws(WireError) -> DecodedResponse<M> {
    let (callID, result) = try ResponseCodec.decode(payload, as: method)
    return DecodedResponse(callID: callID, result: result)
}

/// `ResponseEncoder` -> strip prefix -> `ResponseCodec.decode(_:as:)`, through protobuf-c.
func roundTrip<M: WireMethod>(
    _ method: M.Type, callID: UInt64, _ result: Result<M.Response, IdentityRiskError>, sourceLocation: SourceLocation = #_sourceLocation
) throws -> DecodedResponse<M> {
    try decodeResponse(try stripPrefix(responseFrame(method, callID: callID, result.map { Optional($0) }), sourceLocation: sourceLocation), as: method)
}

/// The response, if `decoded` is a success (else records an issue).
func success<M: WireMethod>(_ decoded: DecodedResponse<M>, sourceLocation: SourceLocation = #_sourceLocation) -> M.Response? {
    switch decoded.result {
    case .success(let response): return response
    case .failure(let error):
        Issue.record("expected a \(M.descriptor.name) result, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The error, if `decoded` is a failure (else records an issue).
func failure<M: WireMethod>(_ decoded: DecodedResponse<M>, sourceLocation: SourceLocation = #_sourceLocation) -> IdentityRiskError? {
    switch decoded.result {
    case .success(let response):
        Issue.record("expected a failure, got \(response)", sourceLocation: sourceLocation)
        return nil
    case .failure(let error): return error
    }
}

/// The reason, if decoding `payload` as `method` throws
/// ``WireError/malformedResponse(_:)``; else records an issue naming what
/// happened instead.
func malformedReason<M: WireMethod>(_ payload: ByteBuffer, as method: M.Type, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    do {
        let decoded = try decodeResponse(payload, as: method)
        Issue.record("expected a malformed response, got \(decoded.result)", sourceLocation: sourceLocation)
        return nil
    } catch {
        guard error.code == .malformedResponse, let why = error.reason else {
            Issue.record("expected malformedResponse, got \(error)", sourceLocation: sourceLocation)
            return nil
        }
        return why
    }
}
