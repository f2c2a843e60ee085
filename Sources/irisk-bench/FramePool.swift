import IdentityRiskCore
import IdentityRiskService
import IdentityRiskWire
import NIOCore

/// Pre-encoded CreateRequest frames for one connection, patched per request.
///
/// Each template is a real frame from `RequestCodec.encode` whose call id is a
/// 9-byte varint and whose record id ends in 12 decimal digits, so that both
/// can be overwritten in place without changing any length:
///
/// - call id = 2^56 | seq << 16 | slot: unique over the whole run (a server
///   never sees an id reused), and the in-flight slot is its low 16 bits;
/// - record id = "b-<run>-<connection>-<seq, 12 digits>": unique across runs,
///   connections and requests, so every create is a real insert. With
///   `serverIDs` the frames carry no id and the server assigns one.
///
/// `init` checks the patching against `RequestCodec.decode`.
struct FramePool {
    static let callIDBase: UInt64 = 1 << 56
    static let maxSlots = 1 << 16
    static let seqDigits = 12
    /// Offset of the call id varint: 4-byte length, then the field-1 tag 0x08.
    static let callIDOffset = 5

    private(set) var bytes: [UInt8] = []
    private(set) var starts: [Int] = []
    private(set) var lengths: [Int] = []
    /// Offset of the 12 id digits, relative to its frame's start.
    private(set) var digitOffsets: [Int] = []
    let idPrefix: String
    /// The frames carry no id (the server assigns them).
    let serverIDs: Bool
    var maxFrameLength: Int { lengths.max() ?? 0 }
    var count: Int { starts.count }

    init(runTag: String, connection: Int, templates: Int, serverIDs: Bool = false) throws(BenchError) {
        idPrefix = "b-\(runTag)-\(connection)-"
        self.serverIDs = serverIDs
        let placeholder = idPrefix + String(repeating: "0", count: Self.seqDigits)
        for index in 0..<max(1, templates) {
            var buffer = ByteBuffer()
            let draft = PayloadMix.draft(index: index &+ connection &* 7919, id: serverIDs ? nil : placeholder)
            RequestCodec.encode(IdentityRiskMethods.Create.self, draft, callID: Self.callIDBase, into: &buffer)
            let frame = Array(buffer.readableBytesView)
            let at = serverIDs ? 0 : Self.find(Array(placeholder.utf8), in: frame)
            guard frame.count > Self.callIDOffset + 9, frame[4] == 0x08, let at else {
                throw BenchError("cannot find the call id / record id in an encoded CreateRequest; the encoding changed")
            }
            starts.append(bytes.count)
            lengths.append(frame.count)
            digitOffsets.append(serverIDs ? -1 : at + placeholder.utf8.count - Self.seqDigits)
            bytes.append(contentsOf: frame)
        }
        try selfCheck()
    }

    static func callID(seq: UInt64, slot: Int) -> UInt64 {
        callIDBase | seq << 16 | UInt64(slot)
    }

    /// The id request `seq` carries; nil with `serverIDs`.
    func recordID(seq: UInt64) -> String? {
        if serverIDs { return nil }
        let digits = String(seq)
        return idPrefix + String(repeating: "0", count: Self.seqDigits - digits.count) + digits
    }

    /// Writes request `seq` for `slot` at `out` (room for `maxFrameLength`); returns its length.
    @inline(__always)
    func write(seq: UInt64, slot: Int, to out: UnsafeMutablePointer<UInt8>) -> Int {
        let t = Int(seq % UInt64(starts.count))
        let length = lengths[t]
        bytes.withUnsafeBufferPointer { all in
            out.update(from: all.baseAddress! + starts[t], count: length)
        }
        // The call id: 9-byte varint (values >= 2^56 always take nine bytes).
        var v = Self.callID(seq: seq, slot: slot)
        var p = out + Self.callIDOffset
        for _ in 0..<8 {
            p.pointee = UInt8(truncatingIfNeeded: v) | 0x80
            v >>= 7
            p += 1
        }
        p.pointee = UInt8(truncatingIfNeeded: v)
        if serverIDs { return length }
        // The record id's last 12 characters: seq in decimal, zero-padded.
        var s = seq
        let digits = out + digitOffsets[t]
        for i in stride(from: Self.seqDigits - 1, through: 0, by: -1) {
            digits[i] = 0x30 + UInt8(truncatingIfNeeded: s % 10)
            s /= 10
        }
        return length
    }

    /// Decodes a few patched frames with the real codec: the call id and the
    /// record id must read back as written.
    private func selfCheck() throws(BenchError) {
        var scratch = [UInt8](repeating: 0, count: maxFrameLength)
        for (seq, slot) in [(UInt64(0), 0), (1, 1), (123_456_789_012, 65_535), (UInt64(count) + 5, 17)] {
            let length = scratch.withUnsafeMutableBufferPointer { write(seq: seq, slot: slot, to: $0.baseAddress!) }
            let payload = ByteBuffer(bytes: scratch[4..<length])
            let decoded = RequestCodec.decode(payload) { inbound -> (UInt64, String?) in
                guard case .call(let request) = inbound.kind, case .success(let draft) = IdentityRiskMethods.Create.decodeRequest(request) else {
                    return (inbound.callID, nil)
                }
                return (inbound.callID, draft.id)
            }
            guard decoded.0 == Self.callID(seq: seq, slot: slot), decoded.1 == recordID(seq: seq) else {
                throw BenchError("self-check failed: a patched frame does not decode to call \(Self.callID(seq: seq, slot: slot)), id \(recordID(seq: seq) ?? "none")")
            }
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
