import IdentityRiskCore
import IdentityRiskService
import IdentityRiskWire

/// Pre-encoded CreateRequest frames for one connection, patched per request
/// (``PatchableFrames``):
///
/// - call id = 2^56 | seq << 16 | slot: unique over the whole run (a server
///   never sees an id reused), and the in-flight slot is its low 16 bits;
/// - record id = "b-<run>-<connection>-<number, 12 digits>": unique across
///   runs, connections and requests, so every create is a real insert. With
///   `serverIDs` the frames carry no id and the server assigns one.
///
/// `init` checks the patching against `RequestCodec.decode`.
struct FramePool {
    static let maxSlots = 1 << 16

    private(set) var frames = PatchableFrames()
    let idPrefix: String
    /// The frames carry no id (the server assigns them).
    let serverIDs: Bool
    var maxFrameLength: Int { frames.maxFrameLength }
    var count: Int { frames.count }

    init(runTag: String, connection: Int, templates: Int, serverIDs: Bool = false) throws(BenchError) {
        idPrefix = Self.idPrefix(runTag: runTag, connection: connection)
        self.serverIDs = serverIDs
        let placeholder = PatchableFrames.id(idPrefix, 0)
        for index in 0..<max(1, templates) {
            let draft = PayloadMix.draft(index: index &+ connection &* 7919, id: serverIDs ? nil : placeholder)
            try frames.append(IdentityRiskMethods.Create.self, draft, placeholder: serverIDs ? nil : placeholder)
        }
        try selfCheck()
    }

    /// The ids of connection `connection`'s creates in run `runTag` start with this.
    static func idPrefix(runTag: String, connection: Int) -> String {
        "b-\(runTag)-\(connection)-"
    }

    static func callID(seq: UInt64, slot: Int) -> UInt64 {
        PatchableFrames.callIDBase | seq << 16 | UInt64(slot)
    }

    /// The id create number `record` carries; nil with `serverIDs`.
    func recordID(_ record: UInt64) -> String? {
        serverIDs ? nil : PatchableFrames.id(idPrefix, record)
    }

    /// Writes create number `record` as call `callID` at `out` (room for `maxFrameLength`); returns its length.
    @inline(__always)
    func write(record: UInt64, callID: UInt64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        frames.write(Int(record % UInt64(frames.count)), callID: callID, number: record, to: out)
    }

    /// Decodes a few patched frames with the real codec: the call id and the
    /// record id must read back as written.
    private func selfCheck() throws(BenchError) {
        for (seq, slot) in [(UInt64(0), 0), (1, 1), (123_456_789_012, 65_535), (UInt64(count) + 5, 17)] {
            let callID = Self.callID(seq: seq, slot: slot)
            let decoded = frames.decodePatched(Int(seq % UInt64(count)), callID: callID, number: seq) { id, request -> (UInt64, String?) in
                guard let request, case .success(let draft) = IdentityRiskMethods.Create.decodeRequest(request) else { return (id, nil) }
                return (id, draft.id)
            }
            guard decoded.0 == callID, decoded.1 == recordID(seq) else {
                throw BenchError("self-check failed: a patched frame does not decode to call \(callID), id \(recordID(seq) ?? "none")")
            }
        }
    }
}
