/// A bump allocator for building protobuf-c message graphs to pack: C structs
/// and NUL-terminated strings live here until ``reset()``. One arena is reused
/// per connection, so steady-state encoding allocates nothing.
///
/// Not thread-safe: owned by one encoder on one event loop.
final class CArena {
    /// Where the next allocation goes. Kept behind a pointer: the fast path of
    /// ``allocate(bytes:alignment:)`` then reads and writes it without the
    /// dynamic exclusivity checks that a class's stored properties cost.
    private struct Cursor {
        var base: UnsafeMutableRawPointer?
        var capacity = 0
        var offset = 0
    }

    private let cursor: UnsafeMutablePointer<Cursor>
    private var chunks: [UnsafeMutableRawBufferPointer] = []
    private var current = 0
    private let chunkSize: Int

    init(chunkSize: Int = 16 * 1024) {
        self.chunkSize = chunkSize
        cursor = .allocate(capacity: 1)
        cursor.initialize(to: Cursor())
    }

    deinit {
        for chunk in chunks { chunk.deallocate() }
        cursor.deinitialize(count: 1)
        cursor.deallocate()
    }

    /// Makes every allocation reusable. Pointers handed out before are invalid after.
    func reset() {
        current = 0
        // Keep the first chunk only, so one huge message does not pin memory.
        while chunks.count > 1 { chunks.removeLast().deallocate() }
        cursor.pointee = Cursor(base: chunks.first?.baseAddress, capacity: chunks.first?.count ?? 0, offset: 0)
    }

    @inline(__always)
    func allocate(bytes: Int, alignment: Int) -> UnsafeMutableRawPointer {
        if let base = cursor.pointee.base {
            let start = (cursor.pointee.offset + alignment - 1) & ~(alignment - 1)
            if start + bytes <= cursor.pointee.capacity {
                cursor.pointee.offset = start + bytes
                return base + start
            }
        }
        return allocateInNextChunk(bytes: bytes, alignment: alignment)
    }

    /// Moves to the next chunk (making one if needed) until `bytes` fit.
    private func allocateInNextChunk(bytes: Int, alignment: Int) -> UnsafeMutableRawPointer {
        while true {
            if cursor.pointee.base != nil { current += 1 }
            if current >= chunks.count {
                chunks.append(.allocate(byteCount: max(chunkSize, bytes + alignment), alignment: 16))
                current = chunks.count - 1
            }
            // A chunk starts 16-aligned, so offset 0 suits every alignment used here.
            let chunk = chunks[current]
            cursor.pointee = Cursor(base: chunk.baseAddress, capacity: chunk.count, offset: 0)
            if bytes <= chunk.count {
                cursor.pointee.offset = bytes
                return chunk.baseAddress!
            }
        }
    }

    /// Storage for one `T`, initialised by `initialize` (e.g. a protobuf-c `__init`).
    func make<T>(_ type: T.Type, _ initialize: (UnsafeMutablePointer<T>) -> Void) -> UnsafeMutablePointer<T> {
        let pointer = allocate(bytes: MemoryLayout<T>.stride, alignment: MemoryLayout<T>.alignment)
            .bindMemory(to: T.self, capacity: 1)
        initialize(pointer)
        return pointer
    }

    /// Storage for `count` pointers.
    func pointers<T>(to type: T.Type, count: Int) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?> {
        allocate(bytes: MemoryLayout<UnsafeMutablePointer<T>?>.stride * max(count, 1), alignment: MemoryLayout<UnsafeMutableRawPointer>.alignment)
            .bindMemory(to: UnsafeMutablePointer<T>?.self, capacity: max(count, 1))
    }

    /// A NUL-terminated copy of `string`. `nil` and `""` give protobuf-c's empty string.
    func cString(_ string: String?) -> UnsafeMutablePointer<CChar> {
        guard var string, !string.isEmpty else {
            let empty = allocate(bytes: 1, alignment: 1)
            empty.storeBytes(of: 0, as: UInt8.self)
            return empty.bindMemory(to: CChar.self, capacity: 1)
        }
        return string.withUTF8 { utf8 in
            let raw = allocate(bytes: utf8.count + 1, alignment: 1)
            raw.copyMemory(from: utf8.baseAddress!, byteCount: utf8.count)
            raw.storeBytes(of: 0, toByteOffset: utf8.count, as: UInt8.self)
            return raw.bindMemory(to: CChar.self, capacity: utf8.count + 1)
        }
    }
}
