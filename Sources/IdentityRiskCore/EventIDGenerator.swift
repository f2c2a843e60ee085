/// Random (version 4) UUIDs in lowercase text, without Foundation.
public enum EventIDGenerator {
    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// A new lowercase UUID, e.g. `9953902a-902a-4953-aa90-53992a905399`.
    public static func randomUUID() -> String {
        var generator = SystemRandomNumberGenerator()
        return randomUUID(using: &generator)
    }

    public static func randomUUID(using generator: inout some RandomNumberGenerator) -> String {
        var high = generator.next() as UInt64
        var low = generator.next() as UInt64
        high = (high & ~0xF000) | 0x4000                       // version 4
        low = (low & ~(0xC000_0000_0000_0000 as UInt64)) | 0x8000_0000_0000_0000 // variant 10
        return String(unsafeUninitializedCapacity: 36) { buffer in
            var index = 0
            func emit(_ value: UInt64, nibbles: Int) {
                for shift in stride(from: (nibbles - 1) * 4, through: 0, by: -4) {
                    buffer[index] = hexDigits[Int((value >> UInt64(shift)) & 0xF)]
                    index += 1
                }
            }
            func dash() { buffer[index] = UInt8(ascii: "-"); index += 1 }
            emit(high >> 32, nibbles: 8); dash()
            emit(high >> 16, nibbles: 4); dash()
            emit(high, nibbles: 4); dash()
            emit(low >> 48, nibbles: 4); dash()
            emit(low, nibbles: 12)
            return 36
        }
    }
}
