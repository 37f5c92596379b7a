@testable import CarryVenues
import Testing

/// HMAC-SHA256 against RFC 4231's published test vectors.
@Suite("HMAC-SHA256")
struct HMACTests {
    @Test("RFC 4231 cases 1, 2 and 6 (a key longer than the block is hashed first)")
    func rfc4231() {
        #expect(HMACSHA256.toHex(HMACSHA256.mac(key: [UInt8](repeating: 0x0b, count: 20), message: Array("Hi There".utf8)))
            == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(HMACSHA256.hex(key: "Jefe", message: Array("what do ya want for nothing?".utf8))
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(HMACSHA256.toHex(HMACSHA256.mac(key: [UInt8](repeating: 0xaa, count: 131),
                                                message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
            == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test("constant-time comparison: equal, different, different lengths")
    func compare() {
        #expect(HMACSHA256.constantTimeEquals(Array("abc".utf8), Array("abc".utf8)))
        #expect(!HMACSHA256.constantTimeEquals(Array("abc".utf8), Array("abd".utf8)))
        #expect(!HMACSHA256.constantTimeEquals(Array("abc".utf8), Array("ab".utf8)))
    }
}
