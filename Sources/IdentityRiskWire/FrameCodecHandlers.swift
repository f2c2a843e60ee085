import IdentityRiskCore
public import NIOCore

/// Client side: encodes Request frames, reusing one C arena. Not thread-safe:
/// one per connection, used on its event loop.
public final class RequestEncoder {
    private let arena = CArena(chunkSize: 4096)

    public init() {}

    /// Appends one frame calling `method`.
    public func encode<M: WireMethod>(_ method: M.Type, _ request: M.Request, callID: UInt64, timeoutMilliseconds: UInt32, into buffer: inout ByteBuffer) {
        RequestCodec.encode(method, request, callID: callID, timeoutMilliseconds: timeoutMilliseconds, into: &buffer, arena: arena)
    }
}

@available(*, unavailable)
extension RequestEncoder: Sendable {}
