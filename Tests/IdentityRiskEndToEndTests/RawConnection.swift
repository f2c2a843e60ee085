#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IdentityRiskTestSupport
import IdentityRiskWire
import NIOCore

/// A blocking Unix-socket connection that sends arbitrary bytes: for attacking
/// the server with what the client library would never send.
/// `@unchecked Sendable`: each test uses one connection from one task at a time,
/// handing it to a Dispatch thread only while awaiting the result.
final class RawConnection: @unchecked Sendable {
    let fd: Int32

    init(path: String, receiveTimeoutMilliseconds: Int = Int(scaled(3000))) throws {
        fd = makeUnixSocket()
        guard fd >= 0 else { throw POSIXError(.EIO) }
        let result = withUnixAddress(path) { connect(fd, $0, $1) }
        guard result == 0 else {
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        var timeout = timeval(tv_sec: receiveTimeoutMilliseconds / 1000, tv_usec: (receiveTimeoutMilliseconds % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    func sendPreface() {
        var buffer = ByteBuffer()
        WireProtocol.writePreface(into: &buffer)
        send(Array(buffer.readableBytesView))
    }

    /// Sends a request frame encoded by the real codec.
    func send(_ request: RawRequest) {
        send(request.frame)
    }

    // Async forms: the blocking calls run on a Dispatch thread.
    func readToEOF() async throws -> [UInt8]? { try await blocking { self.readToEOF() } }
    func expectServerPreface() async throws -> Bool { try await blocking { self.expectServerPreface() } }
    func readResponse() async throws -> RawResponse? { try await blocking { try self.readResponse() } }

    /// Reads exactly `count` bytes; `nil` on EOF or timeout.
    func read(count: Int) -> [UInt8]? {
        var result = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let n = result[offset...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            offset += n
        }
        return result
    }

    /// Reads until the server closes; `nil` if it did not close within the timeout.
    func readToEOF() -> [UInt8]? {
        var all: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return all }
            if n < 0 { return errno == ECONNRESET ? all : nil }
            all += chunk[0..<n]
        }
    }

    /// Reads the server preface and checks it.
    func expectServerPreface() -> Bool {
        guard let bytes = read(count: WireProtocol.prefaceLength) else { return false }
        return WireProtocol.parsePreface(bytes) == WireProtocol.version
    }

    /// Reads one response frame.
    func readResponse() throws -> RawResponse? {
        guard let header = read(count: 4) else { return nil }
        let length = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        guard let payload = read(count: length) else { return nil }
        return try RawResponse(payload: ByteBuffer(bytes: payload))
    }
}

/// A Unix stream socket, close-on-exec so that it never leaks into the daemons
/// other tests start (a leaked descriptor keeps a connection open in them).
func makeUnixSocket() -> Int32 {
    socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
}

/// Calls `body` (connect, bind) with the `sockaddr_un` of `path`.
func withUnixAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
}
