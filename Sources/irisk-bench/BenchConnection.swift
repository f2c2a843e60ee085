#if canImport(Glibc)
import Glibc
#endif
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskWire
import NIOCore

/// One connection's state in the load loop: `depth` in-flight slots, an output
/// buffer of patched request frames, an input buffer of response frames.
/// Owned by exactly one load thread.
final class BenchConnection {
    let fd: Int32
    let index: Int
    let depth: Int
    let pool: FramePool
    /// `--requests`: measured requests still to send; `nil`: run for the duration.
    var budget: UInt64?
    private(set) var inFlight = 0
    private(set) var failed: String?
    /// Decode every Nth OK response fully (0: never, e.g. for the floor's echoes).
    let verifyEvery: UInt64

    private var nextSeq: UInt64 = 0
    private let sentAt: UnsafeMutablePointer<UInt64>
    private let slotCallID: UnsafeMutablePointer<UInt64>
    private let slotMeasured: UnsafeMutablePointer<Bool>
    private let freeSlots: UnsafeMutablePointer<Int32>
    private var freeCount: Int
    /// Slots written to `out` since the last send: stamped when it goes out.
    private let unstamped: UnsafeMutablePointer<Int32>
    private var unstampedCount = 0

    private let out: UnsafeMutablePointer<UInt8>
    private let outCapacity: Int
    private var outStart = 0
    private var outEnd = 0
    private var input: UnsafeMutablePointer<UInt8>
    private var inputCapacity = 256 * 1024
    private var inputLength = 0
    private var okSinceVerify: UInt64 = 0

    /// `--mix`: what each connection sends, and its frames for methods other than create.
    let mix: Mix?
    private let mixFrames: MixFrames?
    private let maxFrameLength: Int
    private var schedulePosition = 0
    /// Creates sent: the number in the next create's id.
    private var createSeq: UInt64 = 0
    /// xorshift64 state: which seeded record a get or update reads.
    private var random: UInt64
    /// Per slot: the ``MixMethod`` (raw value) it carries, and its record number
    /// (a create's or delete's create number, a get's or update's seeded record).
    private let slotMethod: UnsafeMutablePointer<UInt8>
    private let slotRecord: UnsafeMutablePointer<UInt64>
    /// Acknowledged creates of this connection that no delete has taken yet
    /// (a ring, oldest first; past its capacity new ones are not kept).
    static let deletableCapacity = 1 << 16
    private let deletable: UnsafeMutablePointer<UInt64>
    private var deletableStart = 0
    private var deletableCount = 0

    init(fd: Int32, index: Int, depth: Int, pool: FramePool, mix: (Mix, MixFrames)? = nil, budget: UInt64?, verifyEvery: UInt64) {
        self.fd = fd
        self.index = index
        self.depth = depth
        self.pool = pool
        self.mix = mix?.0
        self.mixFrames = mix?.1
        self.budget = budget
        self.verifyEvery = verifyEvery
        maxFrameLength = max(pool.maxFrameLength, mix?.1.maxFrameLength ?? 0)
        random = 0x9E37_79B9_7F4A_7C15 &* UInt64(index + 1)
        slotMethod = .allocate(capacity: depth)
        slotMethod.initialize(repeating: 0, count: depth)
        slotRecord = .allocate(capacity: depth)
        slotRecord.initialize(repeating: 0, count: depth)
        deletable = .allocate(capacity: mix?.0.deletes == true ? Self.deletableCapacity : 1)
        sentAt = .allocate(capacity: depth)
        slotCallID = .allocate(capacity: depth)
        slotCallID.initialize(repeating: 0, count: depth)
        slotMeasured = .allocate(capacity: depth)
        slotMeasured.initialize(repeating: false, count: depth)
        freeSlots = .allocate(capacity: depth)
        for i in 0..<depth { freeSlots[i] = Int32(depth - 1 - i) }
        freeCount = depth
        unstamped = .allocate(capacity: depth)
        outCapacity = depth * maxFrameLength
        out = .allocate(capacity: outCapacity)
        input = .allocate(capacity: inputCapacity)
        // First verify on the first OK answer.
        okSinceVerify = verifyEvery == 0 ? 0 : verifyEvery - 1
    }

    deinit {
        close(fd)
        sentAt.deallocate()
        slotCallID.deallocate()
        slotMeasured.deallocate()
        freeSlots.deallocate()
        slotMethod.deallocate()
        slotRecord.deallocate()
        deletable.deallocate()
        unstamped.deallocate()
        out.deallocate()
        input.deallocate()
    }

    var hasPendingOutput: Bool { outEnd > outStart }
    var isOpen: Bool { failed == nil }

    /// Fills free slots with new requests, as far as `phase` and the budget allow.
    @inline(__always)
    func issue(phase: RunControl.Phase) {
        guard failed == nil else { return }
        while freeCount > 0 {
            let measured: Bool
            switch phase {
            case .warmup: measured = false
            case .measuring:
                if let b = budget {
                    if b == 0 { return }
                    budget = b - 1
                }
                measured = true
            case .draining, .stop: return
            }
            if outEnd + maxFrameLength > outCapacity { compactOutput() }
            freeCount -= 1
            let slot = Int(freeSlots[freeCount])
            let seq = nextSeq
            nextSeq &+= 1
            let callID = FramePool.callID(seq: seq, slot: slot)
            if let mix, let mixFrames {
                outEnd += writeMixed(mix, mixFrames, seq: seq, slot: slot, callID: callID)
            } else {
                slotRecord[slot] = createSeq
                outEnd += pool.write(record: createSeq, callID: callID, to: out + outEnd)
                createSeq &+= 1
            }
            slotCallID[slot] = callID
            slotMeasured[slot] = measured
            unstamped[unstampedCount] = Int32(slot)
            unstampedCount += 1
            inFlight += 1
        }
    }

    /// The next method of the mix's schedule into `slot`; returns the frame's length.
    @inline(__always)
    private func writeMixed(_ mix: Mix, _ frames: MixFrames, seq: UInt64, slot: Int, callID: UInt64) -> Int {
        var method = mix.schedule[schedulePosition]
        schedulePosition = schedulePosition + 1 == mix.schedule.count ? 0 : schedulePosition + 1
        // Nothing acknowledged to delete yet: this turn creates instead.
        if method == .delete, deletableCount == 0 { method = .create }
        slotMethod[slot] = UInt8(method.rawValue)
        let at = out + outEnd
        switch method {
        case .create:
            slotRecord[slot] = createSeq
            defer { createSeq &+= 1 }
            return pool.write(record: createSeq, callID: callID, to: at)
        case .get:
            let record = nextRandom() % frames.seed
            slotRecord[slot] = record
            return frames.writeGet(record: record, callID: callID, to: at)
        case .update:
            let record = nextRandom() % frames.seed
            slotRecord[slot] = record
            return frames.writeUpdate(record: record, variant: seq, callID: callID, to: at)
        case .list:
            return frames.writeList(seq, callID: callID, to: at)
        case .delete:
            let record = deletable[deletableStart]
            deletableStart = (deletableStart + 1) & (Self.deletableCapacity - 1)
            deletableCount -= 1
            slotRecord[slot] = record
            return frames.writeDelete(record: record, callID: callID, to: at)
        case .health:
            return frames.writeHealth(callID: callID, to: at)
        }
    }

    @inline(__always)
    private func nextRandom() -> UInt64 {
        random ^= random << 13
        random ^= random >> 7
        random ^= random << 17
        return random
    }

    /// Sends what is buffered without blocking; stamps newly written requests.
    func flush() {
        guard failed == nil else { return }
        if unstampedCount > 0 {
            let now = MonotonicClock.now()
            for i in 0..<unstampedCount { sentAt[Int(unstamped[i])] = now }
            unstampedCount = 0
        }
        while outEnd > outStart {
            let n = send(fd, out + outStart, outEnd - outStart, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
            if n > 0 {
                outStart += n
            } else if n < 0, errno == EINTR {
                continue
            } else if n < 0, errno == EAGAIN || errno == EWOULDBLOCK {
                return
            } else {
                return fail("send: \(UnixSocket.errnoText())")
            }
        }
        outStart = 0
        outEnd = 0
    }

    /// Reads once (blocking up to SO_RCVTIMEO unless `wait` is false) and handles
    /// every complete response frame. Returns whether anything was read.
    @discardableResult
    func receive(wait: Bool, recordAll: Bool, tally: WorkerTally) -> Bool {
        guard failed == nil else { return false }
        if inputCapacity - inputLength < 64 * 1024 { growInput(inputLength + 64 * 1024) }
        let n = recv(fd, input + inputLength, inputCapacity - inputLength, wait ? 0 : Int32(MSG_DONTWAIT))
        if n == 0 {
            fail("the server closed the connection")
            return false
        }
        if n < 0 {
            if errno != EAGAIN, errno != EWOULDBLOCK, errno != EINTR { fail("recv: \(UnixSocket.errnoText())") }
            return false
        }
        let now = MonotonicClock.now()
        inputLength += n
        var pos = 0
        while inputLength - pos >= 4 {
            let p = input + pos
            let length = Int(p[0]) << 24 | Int(p[1]) << 16 | Int(p[2]) << 8 | Int(p[3])
            guard length <= WireProtocol.defaultMaxResponseFrameBytes else {
                tally.protocolErrors += 1
                fail("response frame of \(length) bytes")
                return true
            }
            if inputLength - pos - 4 < length {
                if length + 4 > inputCapacity { growInput(length + 4 + 64 * 1024) }
                break
            }
            handle(p + 4, length, now: now, recordAll: recordAll, tally: tally)
            pos += 4 + length
        }
        if pos > 0 {
            inputLength -= pos
            if inputLength > 0 { input.update(from: input + pos, count: inputLength) }
        }
        return true
    }

    @inline(__always)
    private func handle(_ payload: UnsafeMutablePointer<UInt8>, _ length: Int, now: UInt64, recordAll: Bool, tally: WorkerTally) {
        guard let r = ResponseScanner.scan(payload, length) else {
            tally.protocolErrors += 1
            return
        }
        let slot = Int(r.callID & 0xFFFF)
        guard slot < depth, slotCallID[slot] == r.callID, r.callID != 0 else {
            // Call id 0: a connection-level error; anything else is not ours.
            tally.protocolErrors += 1
            if r.callID == 0, verifyEvery > 0 { tally.noteError("call 0: " + describe(payload, length)) }
            return
        }
        slotCallID[slot] = 0
        freeSlots[freeCount] = Int32(slot)
        freeCount += 1
        inFlight -= 1
        let method = mix == nil ? MixMethod.create : MixMethod(rawValue: Int(slotMethod[slot]))!
        // An acknowledged create of a mix with deletes can be deleted, in or out of the window.
        if method == .create, r.code == 0, mix?.deletes == true, deletableCount < Self.deletableCapacity {
            deletable[(deletableStart + deletableCount) & (Self.deletableCapacity - 1)] = slotRecord[slot]
            deletableCount += 1
        }
        guard recordAll || slotMeasured[slot] else { return }
        tally.record(latency: now &- sentAt[slot], code: r.code, at: now, method: mix == nil ? -1 : method.rawValue)
        if r.code != 0 {
            if verifyEvery > 0, tally.sampleErrors.count < 3 { tally.noteError(method.name + ": " + describe(payload, length)) }
            return
        }
        if r.alreadyExisted { tally.alreadyExisted += 1 }
        guard verifyEvery > 0 else { return }
        okSinceVerify += 1
        if okSinceVerify >= verifyEvery {
            okSinceVerify = 0
            verify(payload, length, method: method, record: slotRecord[slot], tally: tally)
        }
    }

    /// Full decode through `ResponseCodec`: a create must echo the id sent (or
    /// have one the server assigned); a get or update must answer the seeded
    /// record asked for; a list or delete must decode.
    private func verify(_ payload: UnsafeMutablePointer<UInt8>, _ length: Int, method: MixMethod, record: UInt64, tally: WorkerTally) {
        tally.verified += 1
        let bytes = ByteBuffer(bytes: UnsafeRawBufferPointer(start: payload, count: length))
        var problem: String?
        do throws(WireError) {
            switch method {
            case .create:
                let expected = pool.recordID(record)
                let response = try ResponseCodec.decode(bytes, as: IdentityRiskMethods.Create.self)
                // With server-assigned ids: any new record with an id.
                if case .success(let outcome) = response.result, expected.map({ outcome.event.id == $0 }) ?? !outcome.event.id.isEmpty,
                    !outcome.alreadyExisted
                {
                    break
                }
                problem = "expected a new record \(expected ?? "with a server-assigned id"), got \(response.result)"
            case .get:
                let expected = mixFrames!.seededID(record)
                let response = try ResponseCodec.decode(bytes, as: IdentityRiskMethods.Get.self)
                if case .success(let event) = response.result, event.id == expected { break }
                problem = "get: expected record \(expected), got \(response.result)"
            case .update:
                let expected = mixFrames!.seededID(record)
                let response = try ResponseCodec.decode(bytes, as: IdentityRiskMethods.Update.self)
                if case .success(let event) = response.result, event.id == expected, event.version >= 1 { break }
                problem = "update: expected record \(expected), got \(response.result)"
            case .list:
                if case .failure(let error) = try ResponseCodec.decode(bytes, as: IdentityRiskMethods.List.self).result { problem = "list: \(error)" }
            case .delete:
                if case .failure(let error) = try ResponseCodec.decode(bytes, as: IdentityRiskMethods.Delete.self).result { problem = "delete: \(error)" }
            case .health:
                if case .failure(let error) = try ResponseCodec.decode(bytes, as: IdentityRiskMethods.Health.self).result { problem = "health: \(error)" }
            }
        } catch {
            problem = "\(method.name): \(error)"
        }
        if let problem {
            tally.verifyFailures += 1
            tally.noteError("verify: " + problem)
        }
    }

    /// An error answer's code and message (every method's errors decode alike).
    private func describe(_ payload: UnsafeMutablePointer<UInt8>, _ length: Int) -> String {
        do {
            let response = try ResponseCodec.decode(ByteBuffer(bytes: UnsafeRawBufferPointer(start: payload, count: length)), as: IdentityRiskMethods.Create.self)
            if case .failure(let error) = response.result { return "\(error.code): \(error.message)" }
            return "\(response.result)"
        } catch {
            return "undecodable response: \(error)"
        }
    }

    private func compactOutput() {
        guard outStart > 0 else { return }
        let pending = outEnd - outStart
        if pending > 0 { out.update(from: out + outStart, count: pending) }
        outStart = 0
        outEnd = pending
    }

    private func growInput(_ capacity: Int) {
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        bigger.update(from: input, count: inputLength)
        input.deallocate()
        input = bigger
        inputCapacity = capacity
    }

    private func fail(_ why: String) {
        if failed == nil { failed = "connection \(index): \(why)" }
    }
}
