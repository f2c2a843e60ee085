import IdentityRiskWire
import NIOCore

/// protobuf wire-format pieces, for messages the codec would never produce.
enum Proto {
    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var out: [UInt8] = []
        while value >= 0x80 {
            out.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
        return out
    }

    static func tag(_ field: UInt64, _ wireType: UInt64) -> [UInt8] { varint(field << 3 | wireType) }

    static func bytes(_ field: UInt64, _ content: [UInt8]) -> [UInt8] {
        tag(field, 2) + varint(UInt64(content.count)) + content
    }

    /// A length-prefixed frame around `payload`.
    static func frame(_ payload: [UInt8]) -> [UInt8] {
        let n = UInt32(payload.count)
        return [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + payload
    }

    /// The payload (no length prefix) the real codec writes for `request`.
    static func payload(_ request: RawRequest) -> [UInt8] {
        request.payload
    }

    /// A valid IdentityRiskEvent, built field by field, with `extra` appended
    /// inside it (for a repeated singular field, the last occurrence wins).
    static func event(extra: [UInt8] = []) -> [UInt8] {
        let when = tag(1, 0) + varint(1_483_218_060)
        return bytes(3, Array("upn@contoso.com".utf8)) + bytes(4, when) + bytes(5, Array("leakedCredentials".utf8))
            + tag(6, 0) + varint(3) + tag(7, 0) + varint(1) + bytes(10, Array("user-1".utf8)) + extra
    }

    /// Request{call_id, create: CreateRequest{event}}.
    static func create(callID: UInt64, event: [UInt8]) -> [UInt8] {
        tag(1, 0) + varint(callID) + bytes(16, bytes(1, event))
    }
}
