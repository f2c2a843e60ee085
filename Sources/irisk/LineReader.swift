#if canImport(Glibc)
import Glibc
#endif

/// Reads a file (or stdin) one line at a time with `getline`, in bounded memory.
/// `next()` returns the 1-based line number and the line without its newline, or
/// `nil` bytes for a line longer than the limit (which is skipped whole).
final class LineReader {
    private let file: UnsafeMutablePointer<FILE>
    private let ownsFile: Bool
    private let maxLineBytes: Int
    private var buffer: UnsafeMutablePointer<CChar>?
    private var capacity = 0
    private(set) var lineNumber = 0
    private(set) var bytesRead = 0
    /// The file's size, when it is a regular file (for the ETA).
    let totalBytes: Int?

    init?(path: String, maxLineBytes: Int) {
        // stdin through its own FILE on descriptor 0 (the C `stdin` global is not concurrency-safe).
        guard let opened = path == "-" ? fdopen(dup(STDIN_FILENO), "r") : fopen(path, "r") else { return nil }
        file = opened
        ownsFile = true
        self.maxLineBytes = maxLineBytes
        var info = stat()
        totalBytes = fstat(fileno(file), &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG ? Int(info.st_size) : nil
    }

    deinit {
        free(buffer)
        if ownsFile { fclose(file) }
    }

    func next() -> (Int, [UInt8]?)? {
        let length = getline(&buffer, &capacity, file)
        guard length >= 0, let buffer else { return nil }
        lineNumber += 1
        bytesRead += length
        var count = length
        if count > 0, buffer[count - 1] == 0x0A { count -= 1 }
        guard count <= maxLineBytes else {
            // Do not keep a huge buffer around after an oversized line.
            if capacity > 4 * maxLineBytes { free(self.buffer); self.buffer = nil; capacity = 0 }
            return (lineNumber, nil)
        }
        let bytes = UnsafeRawBufferPointer(start: buffer, count: count)
        return (lineNumber, Array(bytes))
    }
}
