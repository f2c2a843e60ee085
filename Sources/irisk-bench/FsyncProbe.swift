#if canImport(Glibc)
import Glibc
#endif

/// What one durable commit costs on this disk, independent of SQLite: appends
/// 4 KiB and fsyncs, repeatedly, in the database's directory.
enum FsyncProbe {
    struct Result: Sendable {
        var medianMilliseconds: Double
        var samples: Int
        var filesystemIsTmpfs: Bool
    }

    /// At most `maxSamples` rounds or about one second.
    static func run(directory: String, maxSamples: Int = 200) -> Result? {
        let path = directory + "/.irisk-bench-fsync-probe"
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        defer {
            close(fd)
            unlink(path)
        }
        let tmpfs = filesystemType(of: directory) == "tmpfs"
        let block = [UInt8](repeating: 0x5A, count: 4096)
        var samples: [UInt64] = []
        let start = MonotonicClock.now()
        while samples.count < maxSamples, MonotonicClock.now() - start < 1_000_000_000 {
            let t0 = MonotonicClock.now()
            let written = block.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == block.count, fsync(fd) == 0 else { return nil }
            samples.append(MonotonicClock.now() - t0)
        }
        guard !samples.isEmpty else { return nil }
        samples.sort()
        return Result(medianMilliseconds: Double(samples[samples.count / 2]) / 1e6, samples: samples.count, filesystemIsTmpfs: tmpfs)
    }

    /// The type of the mount holding `directory` (longest mount point that
    /// prefixes its real path), from /proc/self/mounts.
    static func filesystemType(of directory: String) -> String? {
        guard let resolved = realpath(directory, nil) else { return nil }
        let path = String(cString: resolved)
        free(resolved)
        guard let file = fopen("/proc/self/mounts", "r") else { return nil }
        defer { fclose(file) }
        var best: (length: Int, type: String)?
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let fields = String(cString: line).split(separator: " ")
            guard fields.count >= 3 else { continue }
            let mount = String(fields[1])
            let prefix = mount == "/" || path == mount || path.hasPrefix(mount + "/")
            if prefix, mount.count > (best?.length ?? -1) { best = (mount.count, String(fields[2])) }
        }
        return best?.type
    }
}
