// Tests for CCarrySupport: CRC-32C and SHA-256, hardware and portable paths.
import CCarrySupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Helpers

/// SplitMix64 (Steele, Lea, Flood 2014): deterministic test data, no system randomness.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform-enough integer in 0..<bound (modulo bias is irrelevant here).
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// `count` bytes: successive outputs, each 8 bytes little-endian, truncated.
    mutating func bytes(_ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count + 8)
        while out.count < count {
            let v = next()
            for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
        }
        return Array(out.prefix(count))
    }
}

func crc32c(_ bytes: some Collection<UInt8>, seed: UInt32 = 0) -> UInt32 {
    Array(bytes).withUnsafeBytes { carry_crc32c(seed, $0.baseAddress, $0.count) }
}

func crc32cPortable(_ bytes: some Collection<UInt8>, seed: UInt32 = 0) -> UInt32 {
    Array(bytes).withUnsafeBytes { carry_crc32c_portable(seed, $0.baseAddress, $0.count) }
}

func sha256(_ bytes: [UInt8]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 32)
    bytes.withUnsafeBytes { b in
        out.withUnsafeMutableBufferPointer { carry_sha256(b.baseAddress, b.count, $0.baseAddress) }
    }
    return out
}

/// Incremental digest, feeding `message` in pieces whose ends are `cuts`.
func sha256Pieces(_ message: [UInt8], cuts: [Int], portable: Bool = false) -> [UInt8] {
    var ctx = carry_sha256_ctx()
    carry_sha256_init(&ctx)
    message.withUnsafeBytes { b in
        var start = 0
        for end in cuts + [message.count] {
            let p = b.baseAddress.map { $0 + start }
            if portable {
                carry_sha256_update_portable(&ctx, p, end - start)
            } else {
                carry_sha256_update(&ctx, p, end - start)
            }
            start = end
        }
    }
    var out = [UInt8](repeating: 0, count: 32)
    carry_sha256_final(&ctx, &out)
    return out
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    var s = ""
    for b in bytes {
        s.append(digits[Int(b >> 4)])
        s.append(digits[Int(b & 15)])
    }
    return s
}

/// CPU flags from /proc/cpuinfo (empty if unavailable).
func cpuFlags() -> Set<String> {
    #if canImport(Glibc)
    guard let f = fopen("/proc/cpuinfo", "r") else { return [] }
    defer { fclose(f) }
    var line: UnsafeMutablePointer<CChar>?
    var cap = 0
    defer { free(line) }
    while getline(&line, &cap, f) > 0 {
        let text = String(cString: line!)
        if text.hasPrefix("flags") {
            return Set(text.split(separator: ":").last!.split(whereSeparator: \.isWhitespace).map(String.init))
        }
    }
    #endif
    return []
}

// MARK: - Seeded vectors

/// Expected values for SplitMix64(seed).bytes(length). SHA-256 digests were
/// produced with Python's hashlib, CRC-32C values with a bit-at-a-time Python
/// reference, by this script (python3, stdlib only):
///
///     import hashlib
///     M = (1 << 64) - 1
///     def splitmix_bytes(seed, n):
///         out, s = bytearray(), seed
///         while len(out) < n:
///             s = (s + 0x9E3779B97F4A7C15) & M
///             z = s
///             z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
///             z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
///             out += (z ^ (z >> 31)).to_bytes(8, "little")
///         return bytes(out[:n])
///     def crc32c(data):
///         crc = 0xFFFFFFFF
///         for b in data:
///             crc ^= b
///             for _ in range(8):
///                 crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
///         return crc ^ 0xFFFFFFFF
///     for seed, n in [(1, 0), (2, 1), (3, 55), (4, 56), (5, 63), (6, 64),
///                     (7, 65), (8, 119), (9, 140), (10, 1000), (11, 4097)]:
///         d = splitmix_bytes(seed, n)
///         print(seed, n, "%08X" % crc32c(d), hashlib.sha256(d).hexdigest())
struct SeededVector: Sendable, CustomTestStringConvertible {
    let seed: UInt64
    let length: Int
    let crc32c: UInt32
    let sha256: String
    var testDescription: String { "seed \(seed), \(length) bytes" }
}

let seededVectors: [SeededVector] = [
    SeededVector(seed: 1, length: 0, crc32c: 0x0000_0000,
                 sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    SeededVector(seed: 2, length: 1, crc32c: 0x3D88_CAB2,
                 sha256: "c337ded6f56c07205fb7b391654d7d463c9e0c726869523ae6024c9bec878878"),
    SeededVector(seed: 3, length: 55, crc32c: 0xF3B6_3F0C,
                 sha256: "bb44f2406733b7b5fb7787b7626559f9af3d48bf79ba8e05e716572eac6b80ee"),
    SeededVector(seed: 4, length: 56, crc32c: 0x09C2_4720,
                 sha256: "27ffba388e23f7e7ac41374d8fee43f12eca127ac7a6d49e67de66a922e359a2"),
    SeededVector(seed: 5, length: 63, crc32c: 0xE01E_A404,
                 sha256: "54c963efefaa13334861ec76935d1506612e2b614d0d238173907233ae41ecf5"),
    SeededVector(seed: 6, length: 64, crc32c: 0x4073_B129,
                 sha256: "c361b5744d9b140e13f9e935b58dc93e14c0c4490ab592fe83211c3f0828d234"),
    SeededVector(seed: 7, length: 65, crc32c: 0x0781_C0DE,
                 sha256: "ba5be1ddc9b272b8e3b3c68bf6883b0a948f169de73f6c854bcd85f9c13f7eff"),
    SeededVector(seed: 8, length: 119, crc32c: 0x591B_D430,
                 sha256: "b1a85b86184116ec28f72aea6c7a2ca7b60cc3586d792ce060c054d3891ec9f2"),
    SeededVector(seed: 9, length: 140, crc32c: 0xA6C4_E205,
                 sha256: "afd9ace9f7db3adb470dfeb08308355f4574a9d7c4e38ce2205e5c8807193fa2"),
    SeededVector(seed: 10, length: 1000, crc32c: 0xBC56_9766,
                 sha256: "df9fde82a8b213c8316f3d53c615329d6abdc64f3efebfe0b51c4ceb78300657"),
    SeededVector(seed: 11, length: 4097, crc32c: 0x3E2B_DC2E,
                 sha256: "65ff12150b43c1b7b9ba7c5461f7332ec98d510af01ab4af6ccbaa1008a66e2a"),
]

// MARK: - Generator sanity

@Test func splitMix64ReferenceOutput() {
    // Published first outputs of SplitMix64 with seed 0.
    var g = SplitMix64(seed: 0)
    #expect(g.next() == 0xE220_A839_7B1D_CDAF)
    #expect(g.next() == 0x6E78_9E6A_A1B9_65F4)
}

@Test func dispatchUsesHardwareWhenCPUHasIt() {
    let flags = cpuFlags()
    let crcHW = carry_crc32c_is_hardware()
    let shaHW = carry_sha256_is_hardware()
    #expect(crcHW == 0 || crcHW == 1)
    #expect(shaHW == 0 || shaHW == 1)
    if flags.contains("sse4_2") { #expect(crcHW == 1) }
    if !flags.isEmpty && !flags.contains("sse4_2") { #expect(crcHW == 0) }
    if flags.contains("sha_ni") && flags.contains("sse4_1") && flags.contains("ssse3") { #expect(shaHW == 1) }
    if !flags.isEmpty && !flags.contains("sha_ni") { #expect(shaHW == 0) }
}

// MARK: - CRC-32C

@Suite struct CRC32CTests {
    @Test func checkValue() {
        let msg = Array("123456789".utf8)
        #expect(crc32c(msg) == 0xE306_9283)
        #expect(crc32cPortable(msg) == 0xE306_9283)
    }

    @Test func emptyInputIsIdentity() {
        #expect(carry_crc32c(0, nil, 0) == 0)
        #expect(carry_crc32c(0xDEAD_BEEF, nil, 0) == 0xDEAD_BEEF)
        #expect(carry_crc32c_portable(0x1234_5678, nil, 0) == 0x1234_5678)
    }

    /// RFC 3720 (iSCSI) appendix B.4 test vectors.
    @Test func rfc3720Vectors() {
        let zeros = [UInt8](repeating: 0x00, count: 32)
        let ones = [UInt8](repeating: 0xFF, count: 32)
        let incrementing = (0..<32).map { UInt8($0) }
        let decrementing = (0..<32).map { UInt8(31 - $0) }
        for f in [crc32c, crc32cPortable] as [([UInt8], UInt32) -> UInt32] {
            #expect(f(zeros, 0) == 0x8A91_36AA)
            #expect(f(ones, 0) == 0x62A8_AB43)
            #expect(f(incrementing, 0) == 0x46DD_794E)
            #expect(f(decrementing, 0) == 0x113F_DB5C)
        }
    }

    @Test(arguments: seededVectors)
    func seededVector(_ v: SeededVector) {
        var g = SplitMix64(seed: v.seed)
        let data = g.bytes(v.length)
        #expect(crc32c(data) == v.crc32c)
        #expect(crc32cPortable(data) == v.crc32c)
    }

    /// Dispatching (hardware on SSE4.2 CPUs) == portable for random lengths
    /// 0...4096, start offsets 0..<16 (all alignments) and random seeds.
    @Test func hardwareMatchesPortable() {
        var g = SplitMix64(seed: 0xC0FF_EE00_0000_0001)
        let buffer = g.bytes(4096 + 16)
        buffer.withUnsafeBytes { b in
            for iteration in 0..<3000 {
                let offset = g.below(16)
                let length = iteration < 64 ? iteration : g.below(4097)
                let seed: UInt32 = iteration.isMultiple(of: 2) ? 0 : UInt32(truncatingIfNeeded: g.next())
                let p = b.baseAddress! + offset
                let hw = carry_crc32c(seed, p, length)
                let sw = carry_crc32c_portable(seed, p, length)
                #expect(hw == sw, "offset \(offset) length \(length) seed \(seed)")
                if hw != sw { return }
            }
        }
    }

    /// crc(crc(0, a[..<s]), a[s...]) == crc(0, a) for every split s of 300 bytes,
    /// for both implementations and when mixing them.
    @Test func chainingAtEverySplit() {
        var g = SplitMix64(seed: 300)
        let data = g.bytes(300)
        let whole = crc32c(data)
        #expect(whole == crc32cPortable(data))
        for s in 0...data.count {
            let head = data[..<s], tail = data[s...]
            #expect(crc32c(tail, seed: crc32c(head)) == whole, "split \(s)")
            #expect(crc32cPortable(tail, seed: crc32cPortable(head)) == whole, "split \(s)")
            #expect(crc32c(tail, seed: crc32cPortable(head)) == whole, "split \(s)")
        }
    }

    /// Many small pieces (journal-style) chained equal one pass.
    @Test func chainingManyPieces() {
        var g = SplitMix64(seed: 140)
        let data = g.bytes(140 * 100)
        var crc: UInt32 = 0
        data.withUnsafeBytes { b in
            for i in 0..<100 { crc = carry_crc32c(crc, b.baseAddress! + 140 * i, 140) }
        }
        #expect(crc == crc32c(data))
        #expect(crc == crc32cPortable(data))
    }
}

// MARK: - SHA-256

@Suite struct SHA256Tests {
    static let fips: [(String, String)] = [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    ]

    @Test func fipsVectors() {
        for (message, expected) in Self.fips {
            let bytes = Array(message.utf8)
            #expect(hex(sha256(bytes)) == expected, "\(message)")
            #expect(hex(sha256Pieces(bytes, cuts: [])) == expected, "\(message)")
            #expect(hex(sha256Pieces(bytes, cuts: [], portable: true)) == expected, "\(message)")
        }
    }

    @Test func oneMillionA() {
        let expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        let message = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(hex(sha256(message)) == expected)
        #expect(hex(sha256Pieces(message, cuts: [], portable: true)) == expected)
        // Odd-sized pieces exercise the partial-block buffer on both paths.
        let cuts = Array(stride(from: 997, to: message.count, by: 997))
        #expect(hex(sha256Pieces(message, cuts: cuts)) == expected)
        #expect(hex(sha256Pieces(message, cuts: cuts, portable: true)) == expected)
    }

    @Test(arguments: seededVectors)
    func seededVector(_ v: SeededVector) {
        var g = SplitMix64(seed: v.seed)
        let data = g.bytes(v.length)
        #expect(hex(sha256(data)) == v.sha256)
        #expect(hex(sha256Pieces(data, cuts: [], portable: true)) == v.sha256)
    }

    /// Incremental update split at every byte boundary (and every pair of
    /// boundaries) of a 200-byte message equals the one-shot digest.
    @Test func incrementalEverySplit() {
        var g = SplitMix64(seed: 200)
        let message = g.bytes(200)
        let expected = sha256(message)
        for s in 0...message.count {
            #expect(sha256Pieces(message, cuts: [s]) == expected, "split \(s)")
            #expect(sha256Pieces(message, cuts: [s], portable: true) == expected, "split \(s)")
        }
        for s in stride(from: 0, through: message.count, by: 1) {
            for t in stride(from: s, through: message.count, by: 7) {
                #expect(sha256Pieces(message, cuts: [s, t]) == expected, "splits \(s), \(t)")
            }
        }
        // Byte at a time.
        #expect(sha256Pieces(message, cuts: Array(1..<message.count)) == expected)
        #expect(sha256Pieces(message, cuts: Array(1..<message.count), portable: true) == expected)
    }

    /// Dispatching (SHA-NI on capable CPUs) == portable on random messages fed
    /// in random pieces from random alignments.
    @Test func hardwareMatchesPortable() {
        var g = SplitMix64(seed: 0x5A5A_0000_0000_0256)
        for _ in 0..<400 {
            let length = g.below(4097)
            let offset = g.below(16)
            let padded = g.bytes(length + offset)
            let message = Array(padded[offset...])
            var cuts: [Int] = []
            var pos = 0
            while true {
                pos += 1 + g.below(300)
                if pos >= length { break }
                cuts.append(pos)
            }
            let oneShot = padded.withUnsafeBytes { b in
                var out = [UInt8](repeating: 0, count: 32)
                carry_sha256(b.baseAddress.map { $0 + offset }, length, &out)
                return out
            }
            let hw = sha256Pieces(message, cuts: cuts)
            let sw = sha256Pieces(message, cuts: cuts, portable: true)
            #expect(hw == sw, "length \(length) cuts \(cuts)")
            #expect(oneShot == sw, "length \(length) offset \(offset)")
        }
    }

    /// The two update functions share one state and can be interleaved.
    @Test func mixedPathsOnOneContext() {
        var g = SplitMix64(seed: 77)
        let message = g.bytes(1000)
        var ctx = carry_sha256_ctx()
        carry_sha256_init(&ctx)
        message.withUnsafeBytes { b in
            var start = 0
            var i = 0
            while start < message.count {
                let n = min(1 + g.below(150), message.count - start)
                if i.isMultiple(of: 2) {
                    carry_sha256_update(&ctx, b.baseAddress! + start, n)
                } else {
                    carry_sha256_update_portable(&ctx, b.baseAddress! + start, n)
                }
                start += n
                i += 1
            }
        }
        var out = [UInt8](repeating: 0, count: 32)
        carry_sha256_final(&ctx, &out)
        #expect(out == sha256(message))
    }

    @Test func reinitAfterFinal() {
        var ctx = carry_sha256_ctx()
        carry_sha256_init(&ctx)
        let abc = Array("abc".utf8)
        carry_sha256_update(&ctx, abc, abc.count)
        var out = [UInt8](repeating: 0, count: 32)
        carry_sha256_final(&ctx, &out)
        carry_sha256_init(&ctx)
        carry_sha256_final(&ctx, &out)
        #expect(hex(out) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
