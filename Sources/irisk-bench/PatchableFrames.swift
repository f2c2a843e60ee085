import IdentityRiskService
import IdentityRiskWire
import NIOCore

/// Encoded request frames, copied out and patched in place per request: the
/// call id (always a 9-byte varint, so its length never changes) and, where a
/// frame carries a record id, that id's last 12 characters (decimal digits).
///
/// Each frame is a real one from `RequestCodec.encode`; `append` finds the
/// places to patch and ``write(_:callID:number:to:)`` overwrites them.
struct PatchableFrames {
    static let callIDBase: UInt64 = 1 << 56
    static let digitCount = 12
    /// Offset of the call id varint: 4-byte length, then the field-1 tag 0x08.
    static let callIDOffset = 5

    private(set) var bytes: [UInt8] = []
    private(set) var starts: [Int] = []
    private(set) var lengths: [Int] = []
    /// Offset of the 12 id digits, relative to its frame's start; -1: none.
    private(set) var digitOffsets: [Int] = []

    var count: Int { starts.count }
    var maxFrameLength: Int { lengths.max() ?? 0 }

    /// Adds `request` as a frame of `method`. `placeholder`: the record id
    /// the request carries, whose last 12 characters are the digits to patch.
    mutating func append<M: WireMethod>(_ method: M.Type, _ request: M.Request, placeholder: String?) throws(BenchError) {
        var buffer = ByteBuffer()
        RequestCodec.encode(method, request, callID: Self.callIDBase, into: &buffer)
        let frame = Array(buffer.readableBytesView)
        guard frame.count > Self.callIDOffset + 9, frame[4] == 0x08 else {
            throw BenchError("cannot find the call id in an encoded \(M.descriptor.name) request; the encoding changed")
        }
        var digits = -1
        if let placeholder {
            let needle = Array(placeholder.utf8)
            guard needle.count >= Self.digitCount, let at = Self.find(needle, in: frame) else {
                throw BenchError("cannot find the record id in an encoded \(M.descriptor.name) request; the encoding changed")
            }
            digits = at + needle.count - Self.digitCount
        }
        starts.append(bytes.count)
        lengths.append(frame.count)
        digitOffsets.append(digits)
        bytes.append(contentsOf: frame)
    }

    /// Writes frame `index` at `out` (room for ``maxFrameLength``) with
    /// `callID` and, if it has an id, `number` as its 12 digits; returns its length.
    @inline(__always)
    func write(_ index: Int, callID: UInt64, number: UInt64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        let length = lengths[index]
        bytes.withUnsafeBufferPointer { all in
            out.update(from: all.baseAddress! + starts[index], count: length)
        }
        // Values >= 2^56 always take nine bytes.
        var v = callID
        var p = out + Self.callIDOffset
        for _ in 0..<8 {
            p.pointee = UInt8(truncatingIfNeeded: v) | 0x80
            v >>= 7
            p += 1
        }
        p.pointee = UInt8(truncatingIfNeeded: v)
        let offset = digitOffsets[index]
        guard offset >= 0 else { return length }
        var s = number
        let digits = out + offset
        for i in stride(from: Self.digitCount - 1, through: 0, by: -1) {
            digits[i] = 0x30 + UInt8(truncatingIfNeeded: s % 10)
            s /= 10
        }
        return length
    }

    /// `prefix` followed by `number` in 12 zero-padded digits.
    static func id(_ prefix: String, _ number: UInt64) -> String {
        let digits = String(number)
        return prefix + String(repeating: "0", count: digitCount - digits.count) + digits
    }

    /// Decodes frame `index` patched with `callID` and `number` through the
    /// real codec, and hands `body` what it decoded (for self-checks).
    func decodePatched<T>(_ index: Int, callID: UInt64, number: UInt64, _ body: (UInt64, UnpackedRequest?) -> T) -> T {
        var scratch = [UInt8](repeating: 0, count: maxFrameLength)
        let length = scratch.withUnsafeMutableBufferPointer { write(index, callID: callID, number: number, to: $0.baseAddress!) }
        return RequestCodec.decode(ByteBuffer(bytes: scratch[4..<length])) { inbound in
            guard case .call(let request) = inbound.kind else { return body(inbound.callID, nil) }
            return body(inbound.callID, request)
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }
}
