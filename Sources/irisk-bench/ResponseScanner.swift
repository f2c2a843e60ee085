/// Reads the three things the hot loop needs from an `identityrisk.v1.Response`
/// payload without decoding it: the call id (field 1), the status code
/// (field 2, Status.code = field 1) and CreateResponse.already_existed
/// (field 16, then field 2). Anything else is skipped by wire type.
///
/// An echoed Request (the floor) reads as call id + OK: its field 2 is a varint
/// timeout, left out when zero, and CreateRequest has no field 2.
struct ScannedResponse {
    var callID: UInt64 = 0
    var code: UInt32 = 0
    var alreadyExisted = false
}

enum ResponseScanner {
    /// `nil` when the payload is not well-formed protobuf at the top level.
    @inline(__always)
    static func scan(_ base: UnsafePointer<UInt8>, _ count: Int) -> ScannedResponse? {
        var result = ScannedResponse()
        var sawCallID = false
        let ok = fields(base, count) { field, wireType, value, sub, subCount in
            switch (field, wireType) {
            case (1, 0):
                result.callID = value
                sawCallID = true
            case (2, 2):
                _ = fields(sub, subCount) { f, w, v, _, _ in
                    if f == 1, w == 0 { result.code = UInt32(truncatingIfNeeded: v) }
                }
            case (16, 2):
                _ = fields(sub, subCount) { f, w, v, _, _ in
                    if f == 2, w == 0 { result.alreadyExisted = v != 0 }
                }
            default:
                break
            }
        }
        return ok && sawCallID ? result : nil
    }

    /// Calls `body(field, wireType, varintValue, subBytes, subCount)` per field;
    /// `false` on malformed input.
    @inline(__always)
    private static func fields(
        _ base: UnsafePointer<UInt8>, _ count: Int,
        _ body: (UInt64, UInt8, UInt64, UnsafePointer<UInt8>, Int) -> Void
    ) -> Bool {
        var i = 0
        while i < count {
            guard let tag = varint(base, count, &i) else { return false }
            let wireType = UInt8(tag & 7)
            switch wireType {
            case 0:
                guard let v = varint(base, count, &i) else { return false }
                body(tag >> 3, 0, v, base, 0)
            case 1:
                guard count - i >= 8 else { return false }
                i += 8
            case 2:
                guard let n = varint(base, count, &i), n <= UInt64(count - i) else { return false }
                body(tag >> 3, 2, 0, base + i, Int(n))
                i += Int(n)
            case 5:
                guard count - i >= 4 else { return false }
                i += 4
            default:
                return false
            }
        }
        return true
    }

    @inline(__always)
    private static func varint(_ base: UnsafePointer<UInt8>, _ count: Int, _ i: inout Int) -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while i < count, shift < 64 {
            let b = base[i]
            i += 1
            value |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }
}
