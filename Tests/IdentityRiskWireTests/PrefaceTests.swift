@testable import IdentityRiskWire
import NIOCore
import Testing

@Suite("Connection preface")
struct PrefaceTests {
    static func preface(version: UInt16) -> [UInt8] {
        var buffer = ByteBuffer()
        WireProtocol.writePreface(into: &buffer, version: version)
        return Array(buffer.readableBytesView)
    }

    @Test("the default preface is \"IRSK\", version 1 big-endian, reserved zero")
    func defaultPreface() {
        var buffer = ByteBuffer()
        WireProtocol.writePreface(into: &buffer)
        #expect(Array(buffer.readableBytesView) == [0x49, 0x52, 0x53, 0x4B, 0x00, 0x01, 0x00, 0x00])
        #expect(buffer.readableBytes == WireProtocol.prefaceLength)
        #expect(WireProtocol.parsePreface(buffer.readableBytesView) == WireProtocol.version)
        #expect(WireProtocol.version == 1)
    }

    @Test("writePreface then parsePreface gives the version back", arguments: [UInt16(0), 1, 2, 0x00FF, 0x0100, 0x1234, 0xFF00, UInt16.max])
    func roundTrip(_ version: UInt16) {
        let bytes = Self.preface(version: version)
        #expect(bytes.count == 8)
        #expect(WireProtocol.parsePreface(bytes) == version)
    }

    @Test("the version is written big-endian, the reserved bytes are zero", arguments: [UInt16(0x0102), 0xABCD, 0x00FF, 0xFF00])
    func bigEndian(_ version: UInt16) {
        let bytes = Self.preface(version: version)
        #expect(Array(bytes[0..<4]) == WireProtocol.magic)
        #expect(bytes[4] == UInt8(version >> 8), "high byte first")
        #expect(bytes[5] == UInt8(version & 0xFF), "low byte second")
        #expect(bytes[6] == 0 && bytes[7] == 0)
        // Parsing reads it big-endian too: the byte-swapped value is a different version.
        #expect(WireProtocol.parsePreface([0x49, 0x52, 0x53, 0x4B, bytes[5], bytes[4], 0, 0]) == version.byteSwapped)
    }

    @Test("a wrong magic is refused", arguments: [
        Array("IRSJ".utf8), Array("irsk".utf8), Array("HTTP".utf8), Array("KSRI".utf8), [0, 0, 0, 0], [0x49, 0x52, 0x53, 0xCB],
    ])
    func wrongMagic(_ magic: [UInt8]) {
        #expect(WireProtocol.parsePreface(magic + [0x00, 0x01, 0x00, 0x00]) == nil)
    }

    @Test("a preface of the wrong length is refused", arguments: [0, 4, 7, 9, 16])
    func wrongLength(_ count: Int) {
        let good = Self.preface(version: 1)
        let bytes = Array((good + good).prefix(count))
        #expect(WireProtocol.parsePreface(bytes) == nil)
    }

    @Test("parsePreface works on a ByteBuffer slice that does not start at index 0")
    func parseFromSlice() {
        var buffer = ByteBuffer(bytes: [0xAA, 0xBB, 0xCC])
        WireProtocol.writePreface(into: &buffer, version: 0x0203)
        buffer.moveReaderIndex(forwardBy: 3)
        #expect(WireProtocol.parsePreface(buffer.readableBytesView) == 0x0203)
        let array = [UInt8(0x00)] + Array(buffer.readableBytesView)
        #expect(WireProtocol.parsePreface(array[1...]) == 0x0203)
    }
}
