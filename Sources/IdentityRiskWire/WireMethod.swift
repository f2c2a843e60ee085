import CIdentityRiskProto
public import IdentityRiskCore
public import IdentityRiskService

typealias CRequest = Identityrisk__V1__Request
typealias CResponse = Identityrisk__V1__Response

/// A method with its protobuf-c codec: how its request and response sit in
/// the `Request.method` / `Response.result` oneofs (field number =
/// `descriptor.number`). One conformance per method, in `WireMethod+*.swift`;
/// ``WireMethods/all`` lists them, and a test checks that list against
/// ``IdentityRiskMethods/all`` and against the generated descriptors.
///
/// C pointers never leave this module: the views and builders below wrap them,
/// and are valid only inside the codec call that hands them out.
public protocol WireMethod: RPCMethod {
    /// Server side: the request out of an unpacked Request whose oneof is this method.
    /// Problems become field violations (lenient), never a crash.
    static func decodeRequest(_ request: UnpackedRequest) -> Result<Request, IdentityRiskError>

    /// Server side: puts `response` into the Response's oneof.
    static func encodeResponse(_ response: Response, into builder: inout ResponseBuilder)

    /// Client side: puts `request` into the Request's oneof.
    static func encodeRequest(_ request: Request, into builder: inout RequestBuilder)

    /// Client side: the result out of an OK Response whose oneof is this method (strict).
    static func decodeResponse(_ response: UnpackedResponse) throws(WireError) -> Response

    /// Client side: why `request` cannot be sent faithfully (protobuf-c strings
    /// end at a NUL byte), or `nil`.
    static func encodingProblem(_ request: Request) -> IdentityRiskError?
}

/// An unpacked `identityrisk.v1.Request` whose oneof names a method.
public struct UnpackedRequest {
    let message: UnsafePointer<CRequest>
    /// Strings of the frame that hold a NUL byte (protobuf-c would truncate them).
    public let nulViolations: [FieldViolation]
    /// The oneof field number.
    public var methodNumber: UInt32 { UInt32(message.pointee.method_case.rawValue) }
}

/// An unpacked `identityrisk.v1.Response` with status OK.
public struct UnpackedResponse {
    let message: UnsafePointer<CResponse>
}

/// The Request being built; the method sets its oneof member.
public struct RequestBuilder {
    let message: UnsafeMutablePointer<CRequest>
    let arena: CArena
}

/// The Response being built; the method sets its oneof member.
public struct ResponseBuilder {
    let message: UnsafeMutablePointer<CResponse>
    let arena: CArena
}

extension WireMethod {
    /// Methods whose request has no event: any NUL byte refuses the request.
    static func refusingNUL(_ request: UnpackedRequest, _ decode: () -> Result<Request, IdentityRiskError>) -> Result<Request, IdentityRiskError> {
        if !request.nulViolations.isEmpty { return .failure(.invalid(request.nulViolations)) }
        return decode()
    }

    /// A NUL-byte check of `values` named by field, for ``encodingProblem(_:)``.
    static func nulProblem(_ values: [(String, String?)]) -> IdentityRiskError? {
        var violations: [FieldViolation] = []
        for (field, value) in values {
            guard let value, let offset = value.utf8.firstIndex(of: 0) else { continue }
            violations.append(FieldViolation(
                field: field,
                description: "contains a NUL byte (U+0000) at byte \(value.utf8.distance(from: value.utf8.startIndex, to: offset)); control characters, including NUL, are not allowed"))
        }
        return violations.isEmpty ? nil : .invalid(violations)
    }

    /// Versions start at 1, and 0 on the wire means "no check": an `ifMatch` of 0
    /// would silently check nothing, so the client refuses it.
    static var ifMatchZero: IdentityRiskError {
        .invalid([FieldViolation(field: "ifMatch", description: "is 0; versions start at 1 (leave it out to skip the check)")])
    }

    static func missing(_ what: String) -> WireError { .malformedResponse("\(descriptor.name) result without \(what)") }
}
