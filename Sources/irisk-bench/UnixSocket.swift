#if canImport(Glibc)
import Glibc
#endif
import IdentityRiskWire

/// Raw Unix-domain stream sockets: connect and the IdentityRisk preface exchange.
enum UnixSocket {
    /// Connects to `path`, sends the client preface and checks the server's;
    /// returns the descriptor with SO_RCVTIMEO set to `readTimeoutMs` (the
    /// load loop's longest blocking read).
    static func connectAndHandshake(path: String, readTimeoutMs: Int = 20) throws(BenchError) -> Int32 {
        let fd = try connect(path: path)
        do throws(BenchError) {
            try setReadTimeout(fd, milliseconds: 5000)
            var preface: [UInt8] = WireProtocol.magic
            preface += [UInt8(WireProtocol.version >> 8), UInt8(WireProtocol.version & 0xFF), 0, 0]
            try writeAll(fd, preface)
            var reply = [UInt8](repeating: 0, count: WireProtocol.prefaceLength)
            var got = 0
            while got < reply.count {
                let n = reply.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, $0.count - got, 0) }
                if n > 0 {
                    got += n
                } else if n < 0, errno == EINTR {
                    continue
                } else {
                    throw BenchError(n == 0 ? "\(path): the server closed the connection during the preface" : "\(path): no preface from the server within 5 s (\(errnoText()))")
                }
            }
            guard let version = WireProtocol.parsePreface(reply) else {
                throw BenchError("\(path): the server's preface is not IRSK: \(reply)")
            }
            guard version == WireProtocol.version else {
                throw BenchError("\(path): the server speaks protocol version \(version), irisk-bench \(WireProtocol.version)")
            }
            try setReadTimeout(fd, milliseconds: readTimeoutMs)
            return fd
        } catch {
            close(fd)
            throw error
        }
    }

    static func connect(path: String) throws(BenchError) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else { throw BenchError("socket path too long (\(path.utf8.count) bytes, at most \(capacity - 1)): \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket(): \(errnoText())") }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let text = errnoText()
            close(fd)
            throw BenchError("cannot connect to \(path): \(text)")
        }
        return fd
    }

    static func setReadTimeout(_ fd: Int32, milliseconds: Int) throws(BenchError) {
        var tv = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        guard setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
            throw BenchError("setsockopt(SO_RCVTIMEO): \(errnoText())")
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(BenchError) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                sent += n
            } else if n < 0, errno == EINTR {
                continue
            } else {
                throw BenchError("cannot send the preface: \(errnoText())")
            }
        }
    }

    static func errnoText(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }
}
