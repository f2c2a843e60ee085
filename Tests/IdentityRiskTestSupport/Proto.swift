/// protobuf wire-format pieces as plain bytes, for messages the real codec would
/// never produce (unknown fields, bad varints, out-of-range enums, invalid UTF-8).
/// Field numbers follow Proto/identity_risk_event.proto. Used by the end-to-end
/// hardening tests and by irisk-fuzz's seed corpus.
public enum Proto {
    public static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var out: [UInt8] = []
        while value >= 0x80 {
            out.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
        return out
    }

    public static func tag(_ field: UInt64, _ wireType: UInt64) -> [UInt8] { varint(field << 3 | wireType) }

    public static func bytes(_ field: UInt64, _ content: [UInt8]) -> [UInt8] {
        tag(field, 2) + varint(UInt64(content.count)) + content
    }

    /// A length-prefixed frame around `payload` (4-byte big-endian length).
    public static func frame(_ payload: [UInt8]) -> [UInt8] {
        let n = UInt32(payload.count)
        return [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + payload
    }

    /// A valid IdentityRiskEvent, built field by field, with `extra` appended
    /// inside it (for a repeated singular field, the last occurrence wins).
    public static func event(extra: [UInt8] = []) -> [UInt8] {
        let when = tag(1, 0) + varint(1_483_218_060)
        return bytes(3, Array("upn@contoso.com".utf8)) + bytes(4, when) + bytes(5, Array("leakedCredentials".utf8))
            + tag(6, 0) + varint(3) + tag(7, 0) + varint(1) + bytes(10, Array("user-1".utf8)) + extra
    }

    /// Request{call_id, create: CreateRequest{event}}.
    public static func create(callID: UInt64, event: [UInt8]) -> [UInt8] {
        tag(1, 0) + varint(callID) + bytes(16, bytes(1, event))
    }
}
