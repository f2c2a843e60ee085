#if canImport(Glibc)
import Glibc
#endif

/// A private directory under $TMPDIR (or /tmp) for sockets and scratch
/// databases, removed with everything in it by `remove()`.
final class TemporaryDirectory: Sendable {
    let path: String

    init() throws(BenchError) {
        let base = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array((base + "/irisk-bench.XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw BenchError("cannot create a temporary directory in \(base): \(UnixSocket.errnoText())")
        }
        path = String(cString: made)
    }

    /// Deletes the directory's files (one level: that is all irisk-bench makes) and the directory.
    func remove() {
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name != ".", name != ".." { unlink(path + "/" + name) }
            }
            closedir(dir)
        }
        rmdir(path)
    }
}
