#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Histogram
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskWire
import NIOCore
import Synchronization

/// `--watchers N`: N watch streams, each on its own connection, read by one
/// thread with poll(2), beside the create load. Each change is decoded in
/// full (ResponseCodec) and its delivery latency taken as the watcher's read
/// time minus the record's `createdDateTime` (which the server sets just
/// before the group commit: the figure includes the commit, as the create's
/// own latency does).
final class WatcherPool: @unchecked Sendable {
    struct Figures: Codable, Sendable {
        var watchers: Int
        var filter: String
        /// Changes delivered in the measuring window, over all watchers.
        var delivered: UInt64
        var bookmarks: UInt64
        /// Streams that ended during the run (they should not), by status.
        var ended: [String: Int]
        /// Microseconds from createdDateTime to the watcher's read.
        var latencyP50: Double
        var latencyP99: Double
        var latencyMax: Double
        /// CPU of the reader thread in the window (it shares the cores with the server).
        var readerCPUSeconds: Double
    }

    private let fds: [Int32]
    private let filter: String
    private let measuring = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private var thread: PosixThread?
    /// Written by the reader thread only; read after `join`.
    private var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    private var delivered: UInt64 = 0
    private var bookmarks: UInt64 = 0
    private var ended: [String: Int] = [:]
    private var readerCPU: (start: UInt64?, end: UInt64?) = (nil, nil)

    /// Opens the streams (from now) and waits until each has its opening bookmark.
    init(socketPath: String, count: Int, filter: String) throws(BenchError) {
        self.filter = filter
        var fds: [Int32] = []
        do throws(BenchError) {
            for _ in 0..<count {
                let fd = try UnixSocket.connectAndHandshake(path: socketPath, readTimeoutMs: 5000)
                fds.append(fd)
                var frame = ByteBuffer()
                // "{user}": watcher i watches user i of the payload mix (its own filter).
                let own = filter.replacingOccurrences(of: "{user}", with: PayloadMix.userID(fds.count - 1))
                RequestCodec.encode(IdentityRiskMethods.Watch.self, WatchChanges.Request(filter: own, start: .now), callID: 1, into: &frame)
                try Self.send(fd, Array(frame.readableBytesView))
            }
            for fd in fds {
                var buffer: [UInt8] = []
                guard let first = try Self.readFrame(fd, into: &buffer) else { throw BenchError("a watcher's connection closed before its first message") }
                let message = try? ResponseCodec.decode(ByteBuffer(bytes: first), as: IdentityRiskMethods.Watch.self).result.get()
                guard case .bookmark? = message else {
                    throw BenchError("a watch did not open with a bookmark (is the filter valid? \(filter))")
                }
            }
        } catch {
            for fd in fds { close(fd) }
            throw error
        }
        self.fds = fds
    }

    func start() throws(BenchError) {
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        thread = try PosixThread { [self] in self.readLoop() }
    }

    func beginMeasuring() { measuring.store(true, ordering: .releasing) }
    func endMeasuring() { measuring.store(false, ordering: .releasing) }

    /// Stops the reader, closes the streams, and reports.
    func stop() -> Figures {
        stopping.store(true, ordering: .releasing)
        thread?.join()
        thread = nil
        for fd in fds { close(fd) }
        func us(_ percentile: Double) -> Double { histogram.totalCount == 0 ? 0 : Double(histogram.valueAtPercentile(percentile)) }
        return Figures(
            watchers: fds.count, filter: filter, delivered: delivered, bookmarks: bookmarks, ended: ended,
            latencyP50: us(50), latencyP99: us(99), latencyMax: histogram.totalCount == 0 ? 0 : Double(histogram.max),
            readerCPUSeconds: readerCPU.start.flatMap { start in readerCPU.end.map { Double($0 &- start) / 1e9 } } ?? 0)
    }

    private func readLoop() {
        var buffers = [[UInt8]](repeating: [], count: fds.count)
        var polls = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var open = Array(repeating: true, count: fds.count)
        while !stopping.load(ordering: .acquiring) {
            let inWindow = measuring.load(ordering: .relaxed)
            if inWindow, readerCPU.start == nil { readerCPU.start = MonotonicClock.threadCPU() }
            if !inWindow, readerCPU.start != nil, readerCPU.end == nil { readerCPU.end = MonotonicClock.threadCPU() }
            let ready = poll(&polls, nfds_t(polls.count), 50)
            guard ready > 0 else { continue }
            for i in polls.indices where open[i] && polls[i].revents != 0 {
                let n = chunk.withUnsafeMutableBytes { recv(fds[i], $0.baseAddress!, $0.count, 0) }
                if n <= 0 {
                    if n == 0 || (errno != EAGAIN && errno != EINTR) {
                        open[i] = false
                        polls[i].fd = -1
                        ended["closed", default: 0] += 1
                    }
                    continue
                }
                buffers[i].append(contentsOf: chunk[0..<n])
                consume(&buffers[i])
            }
        }
        if readerCPU.start != nil, readerCPU.end == nil { readerCPU.end = MonotonicClock.threadCPU() }
    }

    /// Decodes every whole frame at the front of `buffer`.
    private func consume(_ buffer: inout [UInt8]) {
        var offset = 0
        let now = Self.wallTicks()
        while buffer.count - offset >= 4 {
            let length = Int(buffer[offset]) << 24 | Int(buffer[offset + 1]) << 16 | Int(buffer[offset + 2]) << 8 | Int(buffer[offset + 3])
            guard buffer.count - offset - 4 >= length else { break }
            let payload = ByteBuffer(bytes: buffer[(offset + 4)..<(offset + 4 + length)])
            offset += 4 + length
            switch (try? ResponseCodec.decode(payload, as: IdentityRiskMethods.Watch.self))?.result {
            case .success(.change(let change))?:
                guard measuring.load(ordering: .relaxed) else { continue }
                delivered += 1
                let created = change.event.createdDateTime
                let createdTicks = created.unixSeconds * DateTimeOffset.ticksPerSecond + Int64(created.ticks)
                histogram.record(UInt64(max(1, (now - createdTicks) / 10)))
            case .success(.bookmark)?:
                if measuring.load(ordering: .relaxed) { bookmarks += 1 }
            case .failure(let error)?:
                ended["\(error.code)", default: 0] += 1
            case nil:
                ended["undecodable", default: 0] += 1
            }
        }
        buffer.removeFirst(offset)
    }

    /// Now, in 100 ns ticks since 1970 (as DateTimeOffset).
    private static func wallTicks() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * DateTimeOffset.ticksPerSecond + Int64(ts.tv_nsec) / 100
    }

    private static func send(_ fd: Int32, _ bytes: [UInt8]) throws(BenchError) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw BenchError("cannot send a watch request: \(UnixSocket.errnoText())") }
            sent += n
        }
    }

    /// One whole frame's payload, blocking (the socket's read timeout applies).
    private static func readFrame(_ fd: Int32, into buffer: inout [UInt8]) throws(BenchError) -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if buffer.count >= 4 {
                let length = Int(buffer[0]) << 24 | Int(buffer[1]) << 16 | Int(buffer[2]) << 8 | Int(buffer[3])
                if buffer.count >= 4 + length {
                    let payload = Array(buffer[4..<(4 + length)])
                    buffer.removeFirst(4 + length)
                    return payload
                }
            }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n == 0 { return nil }
            if n < 0 {
                if errno == EINTR { continue }
                throw BenchError("reading a watch stream: \(UnixSocket.errnoText())")
            }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }
}
