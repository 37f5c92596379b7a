// HMAC-SHA256 (RFC 2104) over the project's own SHA-256 (CCarrySupport, hardware path where
// the CPU has one), so signing needs no extra package. Used by the Bybit signer (client) and
// by the loopback venue (verification over the raw bytes a client sent).
internal import CCarrySupport

/// HMAC-SHA256 of a message under a key.
public enum HMACSHA256 {
    /// The 32-byte MAC.
    public static func mac(key: some Collection<UInt8>, message: some Collection<UInt8>) -> [UInt8] {
        var k = Array(key)
        if k.count > 64 { k = digest(k) }
        k += [UInt8](repeating: 0, count: 64 - k.count)
        var ctx = carry_sha256_ctx()
        carry_sha256_init(&ctx)
        let ipad = k.map { $0 ^ 0x36 }
        ipad.withUnsafeBytes { carry_sha256_update(&ctx, $0.baseAddress, $0.count) }
        let m = Array(message)
        m.withUnsafeBytes { carry_sha256_update(&ctx, $0.baseAddress, $0.count) }
        var inner = [UInt8](repeating: 0, count: 32)
        inner.withUnsafeMutableBufferPointer { carry_sha256_final(&ctx, $0.baseAddress!) }
        carry_sha256_init(&ctx)
        let opad = k.map { $0 ^ 0x5c }
        opad.withUnsafeBytes { carry_sha256_update(&ctx, $0.baseAddress, $0.count) }
        inner.withUnsafeBytes { carry_sha256_update(&ctx, $0.baseAddress, $0.count) }
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBufferPointer { carry_sha256_final(&ctx, $0.baseAddress!) }
        return out
    }

    /// The MAC as lower-case hex (Bybit's `X-BAPI-SIGN`).
    public static func hex(key: String, message: some Collection<UInt8>) -> String {
        toHex(mac(key: Array(key.utf8), message: message))
    }

    /// Lower-case hex of bytes.
    public static func toHex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Compares two byte strings in time independent of where they differ.
    public static func constantTimeEquals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        let x = Array(a), y = Array(b)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in x.indices { diff |= x[i] ^ y[i] }
        return diff == 0
    }

    private static func digest(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        bytes.withUnsafeBytes { src in
            out.withUnsafeMutableBufferPointer { carry_sha256(src.baseAddress, src.count, $0.baseAddress!) }
        }
        return out
    }
}

/// SHA-256 of bytes, for fingerprints of bodies that did not parse (their hash and length go
/// into an error, never the bytes themselves).
public enum SHA256Digest {
    /// Lower-case hex of the 32-byte digest.
    public static func hex(_ bytes: some Collection<UInt8>) -> String {
        let input = Array(bytes)
        var out = [UInt8](repeating: 0, count: 32)
        input.withUnsafeBytes { src in
            out.withUnsafeMutableBufferPointer { carry_sha256(src.baseAddress, src.count, $0.baseAddress!) }
        }
        return HMACSHA256.toHex(out)
    }
}
