import CIdentityRiskProto
import CProtobufC
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds string fields whose bytes contain NUL, by walking the raw protobuf
/// bytes with the message's protobuf-c descriptor.
///
/// protobuf-c hands strings to C as NUL-terminated `char *`, so `"ab\0cd"`
/// would silently arrive as `"ab"`: a different value than the client sent.
/// The server refuses such a field instead, and this is how it finds it before
/// the unpacked value hides it.
///
/// ```
/// tag (varint: field number << 3 | wire type), then by wire type:
///   0 varint | 1 fixed64 | 2 length (varint) + bytes | 5 fixed32
/// ```
/// Only wire type 2 matters: a string field is checked for 0x00, a message
/// field is walked recursively (to a fixed depth), anything else is skipped.
/// Malformed input just ends the walk: unpacking reports it.
enum NULScanner {
    /// `(path, byte offset within the string)` of each string field holding a NUL,
    /// e.g. `(["create", "event", "user_id"], 2)`.
    static func stringsWithNUL(
        in bytes: UnsafeRawBufferPointer,
        descriptor: UnsafePointer<ProtobufCMessageDescriptor>
    ) -> [(path: [String], offset: Int)] {
        // No 0x00 byte anywhere (the usual case: proto3 leaves zero values out,
        // and a non-zero varint never ends in 0x00) means no string holds one.
        guard let base = bytes.baseAddress, memchr(base, 0, bytes.count) != nil else { return [] }
        var found: [(path: [String], offset: Int)] = []
        walk(bytes, descriptor, path: [], depth: 0, into: &found)
        return found
    }

    private static func walk(
        _ bytes: UnsafeRawBufferPointer,
        _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
        path: [String],
        depth: Int,
        into found: inout [(path: [String], offset: Int)]
    ) {
        guard depth < 8, found.count < 16 else { return }
        var i = 0
        func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while i < bytes.count, shift < 64 {
                let b = bytes[i]
                i += 1
                value |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }
        while i < bytes.count {
            guard let tag = varint() else { return }
            let number = tag >> 3
            switch tag & 7 {
            case 0: guard varint() != nil else { return }
            case 1: i += 8
            case 5: i += 4
            case 2:
                guard let length = varint(), length <= UInt64(bytes.count - i) else { return }
                let start = i
                i += Int(length)
                guard number <= UInt64(UInt32.max),
                    let field = protobuf_c_message_descriptor_get_field(descriptor, UInt32(number))
                else { continue }
                let name = String(cString: field.pointee.name)
                let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + Int(length))])
                switch field.pointee.type {
                case PROTOBUF_C_TYPE_STRING:
                    if let zero = slice.firstIndex(of: 0) {
                        found.append((path + [name], zero))
                    }
                case PROTOBUF_C_TYPE_MESSAGE:
                    if let sub = field.pointee.descriptor?.assumingMemoryBound(to: ProtobufCMessageDescriptor.self) {
                        walk(slice, sub, path: path + [name], depth: depth + 1, into: &found)
                    }
                default:
                    continue
                }
            default:
                return
            }
        }
    }

    /// `user_principal_name` -> `userPrincipalName`.
    static func camelCase(_ snake: String) -> String {
        var out = ""
        var upper = false
        for c in snake {
            if c == "_" {
                upper = true
            } else {
                out.append(upper ? Character(c.uppercased()) : c)
                upper = false
            }
        }
        return out
    }
}
