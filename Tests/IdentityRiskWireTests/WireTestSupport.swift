@testable import IdentityRiskCore
@testable import IdentityRiskWire
import NIOCore
import Testing

/// SplitMix64: a tiny deterministic generator so random splits are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Parses a datetime the test knows to be valid.
func dt(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> DateTimeOffset {
    do {
        return try DateTimeOffset(parsing: text)
    } catch {
        Issue.record("test fixture \(text) did not parse: \(error)", sourceLocation: sourceLocation)
        return try! DateTimeOffset(utcInstantTicks: 0)
    }
}

enum Fixtures {
    /// Every property set, with values that differ from one another.
    static func fullEvent(id: String = "evt-0001") -> IdentityRiskEvent {
        IdentityRiskEvent(
            id: id,
            userDisplayName: "User Display Name value",
            userPrincipalName: "User Principal Name value",
            riskEventDateTime: dt("2017-01-01T00:01:00.7804275+03:00"),
            riskEventType: "Risk Event Type value",
            riskLevel: .high,
            riskEventStatus: .active,
            closedDateTime: dt("2017-01-01T00:01:30.8768135+03:00"),
            createdDateTime: dt("2024-05-01T12:00:00.1234567Z"),
            userId: "User Id value"
        )
    }

    /// Every property of a draft set, including the read-only createdDateTime.
    static func fullDraft() -> IdentityRiskEventDraft {
        IdentityRiskEventDraft(
            id: "draft-42",
            userDisplayName: "User Display Name value",
            userPrincipalName: "User Principal Name value",
            riskEventDateTime: dt("2017-01-01T00:01:00.7804275+03:00"),
            riskEventType: "Risk Event Type value",
            riskLevel: .medium,
            riskEventStatus: .dismissedAsFalsePositive,
            closedDateTime: dt("2017-01-01T00:01:30.8768135-05:30"),
            createdDateTime: dt("2020-02-29T23:59:59Z"),
            userId: "User Id value"
        )
    }

    /// Every code `IdentityRiskError.Code` has (it is not CaseIterable by design).
    static let allCodes: [IdentityRiskError.Code] = [
        .cancelled, .unknown, .invalidArgument, .deadlineExceeded, .notFound, .alreadyExists,
        .permissionDenied, .resourceExhausted, .failedPrecondition, .unimplemented, .internal, .unavailable,
    ]
}

/// One whole frame (length prefix included) for `request`.
func requestFrame(_ request: WireRequest) -> ByteBuffer {
    var buffer = ByteBuffer()
    RequestCodec.encode(request, into: &buffer)
    return buffer
}

/// One whole frame (length prefix included) for `response`.
func responseFrame(_ response: WireResponse) -> ByteBuffer {
    var buffer = ByteBuffer()
    ResponseCodec.encode(response, into: &buffer)
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

/// RequestCodec.encode -> strip prefix -> RequestCodec.decode, through protobuf-c.
func roundTrip(_ request: WireRequest, sourceLocation: SourceLocation = #_sourceLocation) throws -> WireRequest {
    RequestCodec.decode(try stripPrefix(requestFrame(request), sourceLocation: sourceLocation))
}

/// ResponseCodec.encode -> strip prefix -> ResponseCodec.decode, through protobuf-c.
func roundTrip(_ response: WireResponse, sourceLocation: SourceLocation = #_sourceLocation) throws -> WireResponse {
    try ResponseCodec.decode(try stripPrefix(responseFrame(response), sourceLocation: sourceLocation))
}

/// The draft inside a `.create` request, or `nil` (recording an issue).
func createdDraft(_ request: WireRequest, sourceLocation: SourceLocation = #_sourceLocation) -> IdentityRiskEventDraft? {
    guard case .create(let draft) = request.method else {
        Issue.record("expected a .create request, got \(request.method)", sourceLocation: sourceLocation)
        return nil
    }
    return draft
}
