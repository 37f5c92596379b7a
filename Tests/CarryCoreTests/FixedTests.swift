import CarryCore
import CarryTesting
import Foundation
import Testing

@Suite("Fixed-point decimals")
struct FixedTests {
    @Test("parses and prints venue strings byte for byte")
    func roundTripSamples() throws {
        for s in ["0", "1", "-1", "0.0001", "-0.00012359", "46216.93000000", "1503.33095000", "0.00001411",
                  "68785497181.28033", "-0.00003341000000000001", "0.0000365595596074", "115715.50", "0.10", "-7.000"] {
            let f = try Fixed.parse(s)
            #expect(f.description == s, "round trip of \(s)")
        }
    }

    @Test("mantissa and scale are exact")
    func exactParts() throws {
        let f = try Fixed.parse("46216.93000000")
        #expect(f.mantissa == 4_621_693_000_000)
        #expect(f.scale == 8)
        let r = try Fixed.parse("-0.00003341000000000001")
        #expect(r.mantissa == -3_341_000_000_000_001)
        #expect(r.scale == 20)
    }

    @Test("accepts signs, exponents and leading zeros; normalises the spelling")
    func lenientInputs() throws {
        #expect(try Fixed.parse("+5").description == "5")
        #expect(try Fixed.parse("1e-8").description == "0.00000001")
        #expect(try Fixed.parse("1.5E3").description == "1500")
        #expect(try Fixed.parse("007.50").description == "7.50")
        #expect(try Fixed.parse(".5").description == "0.5")
        #expect(try Fixed.parse("5.").description == "5")
    }

    @Test("refuses what is not a number, saying why")
    func parseErrors() throws {
        #expect(throws: FixedParseError.empty) { try Fixed.parse("") }
        #expect(throws: FixedParseError.invalidCharacter(offset: 0)) { try Fixed.parse("abc") }
        #expect(throws: FixedParseError.invalidCharacter(offset: 3)) { try Fixed.parse("1.2.3") }
        #expect(throws: FixedParseError.invalidCharacter(offset: 1)) { try Fixed.parse("--1") }
        #expect(throws: FixedParseError.invalidCharacter(offset: 4)) { try Fixed.parse("0.01%") }
        #expect(throws: FixedParseError.tooManyDigits) { try Fixed.parse("12345678901234567890") }
        #expect(throws: FixedParseError.tooManyDigits) { try Fixed.parse("9223372036854775808") }
        #expect(try Fixed.parse("9223372036854775807").mantissa == Int64.max)
        #expect(throws: FixedParseError.scaleTooLarge) { try Fixed.parse("1e-39") }
        #expect(Fixed("nan") == nil)
    }

    @Test("equality and order are numeric across scales")
    func comparison() throws {
        #expect(Fixed("1.0")! == Fixed("1.00")!)
        #expect(!Fixed("1.0")!.isIdentical(to: Fixed("1.00")!))
        #expect(Fixed("1.0")!.hashValue == Fixed("1")!.hashValue)
        #expect(Fixed("0.0001")! < Fixed("0.001")!)
        #expect(Fixed("-0.5")! < Fixed("0.0000001")!)
        #expect(Fixed("-2")! < Fixed("-1.99999999")!)
        // Alignment that overflows Int128 still orders correctly.
        let huge = Fixed(mantissa: Int64.max, scale: 0)
        let tiny = Fixed(mantissa: 1, scale: 38)
        #expect(tiny < huge)
        #expect(-huge < tiny)
        #expect(Fixed.max(Fixed("2.5")!, Fixed("2.50")!).description == "2.5")
    }

    @Test("addition is exact at the larger scale")
    func addition() throws {
        #expect((Fixed("0.1")! + Fixed("0.2")!).description == "0.3")
        #expect((Fixed("1.005")! - Fixed("0.00500")!).description == "1.00000")
        #expect((Fixed("-3")! + Fixed("0.25")!).description == "-2.75")
        var total = Fixed.zero
        for _ in 0..<1095 { total += Fixed("0.0001")! }
        #expect(total.description == "0.1095")
    }

    @Test("products are formed in full and rounded once, as asked")
    func multiplication() throws {
        // A fill of 0.003 BTC at 43127.5 costs exactly 129.3825.
        #expect(Fixed("0.003")!.multiplied(by: Fixed("43127.5")!, scale: 8, .toNearestOrEven).description == "129.38250000")
        // Funding: 0.5 BTC × 43127.5 × 0.0001 = 2.156375.
        #expect(Fixed("0.5")!.multiplied(by: Fixed("43127.5")!, Fixed("0.0001")!, scale: 6, .toNearestOrEven).description == "2.156375")
        #expect(Fixed("0.5")!.multiplied(by: Fixed("43127.5")!, Fixed("0.0001")!, scale: 4, .toNearestOrEven).description == "2.1564")
        #expect(Fixed("-1.5")!.multiplied(by: 3).description == "-4.5")
        // A product that needs more than 128 bits before rounding.
        let big = Fixed(mantissa: 9_000_000_000_000_000_000, scale: 18)   // 9
        let r = big.multiplied(by: big, big, scale: 6, .toNearestOrEven)  // 729
        #expect(r.description == "729.000000")
    }

    @Test("division rounds by the rule it is given")
    func division() throws {
        #expect(Fixed("1")!.divided(by: Fixed("3")!, scale: 4, .toNearestOrEven).description == "0.3333")
        #expect(Fixed("2")!.divided(by: Fixed("3")!, scale: 4, .toNearestOrEven).description == "0.6667")
        #expect(Fixed("2")!.divided(by: Fixed("3")!, scale: 4, .towardZero).description == "0.6666")
        #expect(Fixed("-2")!.divided(by: Fixed("3")!, scale: 4, .down).description == "-0.6667")
        #expect(Fixed("1000")!.divided(by: Fixed("43127.5")!, scale: 8, .towardZero).description == "0.02318706")
        #expect(Fixed("0.0001")!.divided(by: Int64(8), scale: 8, .toNearestOrEven).description == "0.00001250")
    }

    @Test("rounding at the edges: ties, signs and every rule")
    func roundingEdges() throws {
        let cases: [(String, Int, FloatingPointRoundingRule, String)] = [
            ("2.5", 0, .toNearestOrEven, "2"), ("3.5", 0, .toNearestOrEven, "4"),
            ("-2.5", 0, .toNearestOrEven, "-2"), ("-3.5", 0, .toNearestOrEven, "-4"),
            ("2.5", 0, .toNearestOrAwayFromZero, "3"), ("-2.5", 0, .toNearestOrAwayFromZero, "-3"),
            ("2.49999999", 0, .toNearestOrAwayFromZero, "2"), ("2.50000001", 0, .toNearestOrEven, "3"),
            ("1.01", 1, .up, "1.1"), ("-1.01", 1, .up, "-1.0"),
            ("1.09", 1, .down, "1.0"), ("-1.01", 1, .down, "-1.1"),
            ("1.09", 1, .towardZero, "1.0"), ("-1.09", 1, .towardZero, "-1.0"),
            ("1.01", 1, .awayFromZero, "1.1"), ("-1.01", 1, .awayFromZero, "-1.1"),
            ("0.00005", 4, .toNearestOrEven, "0.0000"), ("0.00015", 4, .toNearestOrEven, "0.0002"),
            ("7", 3, .toNearestOrEven, "7.000"),
        ]
        for (input, scale, rule, expected) in cases {
            #expect(Fixed(input)!.rounded(scale: scale, rule).description == expected, "\(input) → scale \(scale) \(rule)")
        }
    }

    @Test("rounding to a tick or a quantity step")
    func steps() throws {
        #expect(Fixed("43127.57")!.rounded(toMultipleOf: Fixed("0.5")!, .down).description == "43127.50")
        #expect(Fixed("43127.75")!.rounded(toMultipleOf: Fixed("0.5")!, .toNearestOrEven).description == "43128.00")
        #expect(Fixed("0.0234")!.rounded(toMultipleOf: Fixed("0.001")!, .towardZero).description == "0.0230")
        #expect(Fixed("-0.0234")!.rounded(toMultipleOf: Fixed("0.001")!, .towardZero).description == "-0.0230")
        #expect(Fixed("0.023")!.isMultiple(of: Fixed("0.001")!))
        #expect(!Fixed("0.0235")!.isMultiple(of: Fixed("0.001")!))
        #expect(Fixed("1.2300")!.normalized.description == "1.23")
        #expect(Fixed("500")!.exactly(scale: 2)?.description == "500.00")
        #expect(Fixed("1.25")!.exactly(scale: 1) == nil)
        #expect(Fixed("1.20")!.exactly(scale: 1)?.description == "1.2")
    }

    /// Every numeric cell of the CSVs under `roots`, parsed and printed back.
    static func roundTrip(_ roots: [String]) throws -> (files: Int, checked: Int) {
        var files: [String] = []
        for root in roots {
            let items = try #require(FileManager.default.enumerator(atPath: root), "no data at \(root)")
            for case let item as String in items where item.hasSuffix(".csv") { files.append(root + "/" + item) }
        }
        var checked = 0
        for file in files {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            for line in text.split(separator: "\n").dropFirst() {
                for cell in line.split(separator: ",", omittingEmptySubsequences: false) {
                    guard let first = cell.utf8.first, first == UInt8(ascii: "-") || (first >= 48 && first <= 57) else { continue }
                    guard cell.allSatisfy({ $0.isNumber || $0 == "." || $0 == "-" }), !cell.contains("T"), cell.filter({ $0 == "-" }).count <= 1 else { continue }
                    let value = try Fixed.parse(cell)
                    #expect(value.description == String(cell), "\(file): \(cell)")
                    checked += 1
                }
            }
        }
        return (files.count, checked)
    }

    @Test("every decimal string in the bundled funding and kline files round-trips exactly")
    func bundledDataRoundTrip() throws {
        let r = try Self.roundTrip([Fixtures.bundledData + "/funding", Fixtures.bundledData + "/klines"])
        #expect(r.files >= 15)
        #expect(r.checked > 1_000_000)
    }

    @Test("every decimal string in the shared funding and kline files round-trips exactly (where ../shared is present)",
          .enabled(if: FileManager.default.fileExists(atPath: Fixtures.sharedData + "/funding")))
    func sharedDataRoundTrip() throws {
        let r = try Self.roundTrip([Fixtures.sharedData + "/funding", Fixtures.sharedData + "/klines"])
        #expect(r.files >= 25)
        #expect(r.checked > 2_000_000)
    }

    @Test("timestamps convert to and from the calendar")
    func timestamps() throws {
        let t = try #require(Timestamp(iso8601: "2024-02-29T08:00:00Z"))
        #expect(t.ms == 1_709_193_600_000)
        #expect(t.iso8601 == "2024-02-29T08:00:00Z")
        #expect(Timestamp(ms: 1_787_270_400_004).iso8601 == "2026-08-21T00:00:00.004Z")
        #expect(Timestamp(iso8601: "2023-02-30") == nil)
        #expect(Timestamp(iso8601: "2021-01-01")?.ms == 1_609_459_200_000)
        #expect(Timestamp(ms: -1).iso8601 == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp(ms: 1_709_193_600_001).floored(toMultipleOf: 8 * Millis.hour).ms == 1_709_193_600_000)
        #expect(Timestamp(iso8601: "1609459200000")?.ms == 1_609_459_200_000)
    }
}

@Suite("Fixed three-factor products")
struct FixedTripleProductTests {
    @Test("match the two-step exact product on random inputs under every rule")
    func matchesReference() throws {
        var rng = SplitMix64(seed: 31337)
        let rules: [FloatingPointRoundingRule] = [.toNearestOrEven, .toNearestOrAwayFromZero, .up, .down, .towardZero, .awayFromZero]
        for _ in 0..<20_000 {
            func small() -> Fixed {
                let m = Int64(rng.below(20_000)) - 10_000
                return Fixed(mantissa: m, scale: UInt8(rng.below(7)))
            }
            let a = small(), b = small(), c = small()
            let rule = rules[rng.below(rules.count)]
            let target = rng.below(Int(a.scale) + Int(b.scale) + Int(c.scale) + 3)
            // Reference: the exact two-factor product fits Int128 here, so one rounding of it is exact.
            let exactAB = a.multiplied(by: b, scale: Int(a.scale) + Int(b.scale), .towardZero)
            let reference = exactAB.multiplied(by: c, scale: target, rule)
            #expect(a.multiplied(by: b, c, scale: target, rule) == reference, "\(a) × \(b) × \(c) at \(target) \(rule)")
        }
    }

    @Test("handle products far beyond 128 bits, with ties")
    func wideProducts() throws {
        let nine = Fixed(mantissa: 9_000_000_000_000_000_000, scale: 18)
        #expect(nine.multiplied(by: nine, nine, scale: 6, .toNearestOrEven).description == "729.000000")
        // 0.5 BTC × 43127.5 × an inverse-perp style 20-decimal rate.
        let rate = Fixed("-0.00003341000000000001")!
        #expect(Fixed("0.5")!.multiplied(by: Fixed("43127.5")!, rate, scale: 8, .toNearestOrEven).description == "-0.72044489")
        // Exact tie at the target: 0.25 × 1 × 1 to one decimal.
        #expect(Fixed("0.25")!.multiplied(by: 1, 1, scale: 1, .toNearestOrEven).description == "0.2")
        #expect(Fixed("0.35")!.multiplied(by: 1, 1, scale: 1, .toNearestOrEven).description == "0.4")
        #expect(Fixed("-0.25")!.multiplied(by: 1, 1, scale: 1, .toNearestOrAwayFromZero).description == "-0.3")
    }
}

/// The arithmetic takes 64-bit shortcuts when operands allow (a rescale that fits an Int64, a
/// quotient of two 64-bit numbers); these must give what 128-bit arithmetic gives, value and
/// scale, for every rounding rule — including at the edges of Int64.
@Suite("Fixed 64-bit fast paths")
struct FixedFastPathTests {
    static let rules: [FloatingPointRoundingRule] = [.toNearestOrEven, .toNearestOrAwayFromZero, .up, .down, .towardZero, .awayFromZero]

    /// Round-to-rule quotient in 128 bits, written independently of `Fixed`.
    static func quotient(_ n: Int128, _ d: Int128, _ rule: FloatingPointRoundingRule) -> Int128 {
        let q = n / d, r = n % d
        if r == 0 { return q }
        let negative = (n < 0) != (d < 0)
        let away: Int128 = negative ? q - 1 : q + 1
        let twice = r.magnitude * 2, den = d.magnitude
        switch rule {
        case .towardZero: return q
        case .awayFromZero: return away
        case .down: return negative ? away : q
        case .up: return negative ? q : away
        case .toNearestOrAwayFromZero: return twice >= den ? away : q
        case .toNearestOrEven: return twice > den || (twice == den && q % 2 != 0) ? away : q
        @unknown default: fatalError()
        }
    }

    static func pow10(_ n: Int) -> Int128 { (0..<n).reduce(Int128(1)) { v, _ in v * 10 } }

    /// value × 10^target as an Int128 mantissa rounded by `rule`, or nil when it overflows.
    static func rescaled(_ m: Int128, from source: Int, to target: Int, _ rule: FloatingPointRoundingRule) -> Int128? {
        if target >= source {
            let (r, o) = m.multipliedReportingOverflow(by: pow10(target - source))
            return o ? nil : r
        }
        return quotient(m, pow10(source - target), rule)
    }

    static func fixed(_ m: Int128?, scale: Int) -> Fixed? {
        guard let m, let narrow = Int64(exactly: m) else { return nil }
        return Fixed(mantissa: narrow, scale: UInt8(scale))
    }

    /// Mantissas from small to the edge of Int64, either sign.
    static func mantissa(_ rng: inout SplitMix64) -> Int64 {
        let magnitude: Int64
        switch rng.below(4) {
        case 0: magnitude = Int64(rng.below(1_000))
        case 1: magnitude = Int64(truncatingIfNeeded: rng.next() >> 1) / Int64(pow10(rng.below(19)))
        case 2: magnitude = Int64.max - Int64(rng.below(1_000))
        default: magnitude = Int64(rng.below(2_000_000_000_000))
        }
        return rng.below(2) == 0 ? magnitude : -magnitude
    }

    @Test("sums, comparisons, products, quotients, rescales and a × n ÷ d match 128-bit arithmetic")
    func matchWideArithmetic() {
        var rng = SplitMix64(seed: 20_250_611)
        var checked = 0
        for _ in 0..<200_000 {
            // Scales to 18, so a product's scale less the target stays within 10^38.
            let a = Fixed(mantissa: Self.mantissa(&rng), scale: UInt8(rng.below(19)))
            let b = Fixed(mantissa: Self.mantissa(&rng), scale: UInt8(rng.below(19)))
            let rule = Self.rules[rng.below(Self.rules.count)]
            let target = rng.below(21)
            let s = max(Int(a.scale), Int(b.scale))
            let wa = Self.rescaled(Int128(a.mantissa), from: Int(a.scale), to: s, .towardZero)
            let wb = Self.rescaled(Int128(b.mantissa), from: Int(b.scale), to: s, .towardZero)
            if let wa, let wb {
                #expect((a < b) == (wa < wb) && (a == b) == (wa == wb), "\(a) vs \(b)")
                if let sum = Self.fixed(wa + wb, scale: s) {
                    #expect((a + b).isIdentical(to: sum), "\(a) + \(b)")
                    checked += 1
                }
            }
            if let product = Self.fixed(Self.rescaled(Int128(a.mantissa) * Int128(b.mantissa), from: Int(a.scale) + Int(b.scale), to: target, rule),
                                        scale: target) {
                #expect(a.multiplied(by: b, scale: target, rule).isIdentical(to: product), "\(a) × \(b) at \(target) \(rule)")
                checked += 1
            }
            if !b.isZero {
                // m1 × 10^(t + s2 − s1) ÷ m2, the numerator or the denominator scaled.
                let exponent = target + Int(b.scale) - Int(a.scale)
                var n = Int128(a.mantissa), d = Int128(b.mantissa), fits = true
                if exponent >= 0 {
                    let (r, o) = n.multipliedReportingOverflow(by: Self.pow10(exponent)); n = r; fits = !o
                } else {
                    let (r, o) = d.multipliedReportingOverflow(by: Self.pow10(-exponent)); d = r; fits = !o
                }
                if fits, let quotient = Self.fixed(Self.quotient(n, d, rule), scale: target) {
                    #expect(a.divided(by: b, scale: target, rule).isIdentical(to: quotient), "\(a) ÷ \(b) at \(target) \(rule)")
                    checked += 1
                }
            }
            if let r = Self.fixed(Self.rescaled(Int128(a.mantissa), from: Int(a.scale), to: target, rule), scale: target) {
                #expect(a.rounded(scale: target, rule).isIdentical(to: r), "\(a) to scale \(target) \(rule)")
                checked += 1
            }
            // A rate re-expressed per another interval: a × n ÷ d, rounded once.
            let n = Int64(rng.below(10_000)) - 5_000, d = Int64(rng.below(1_440)) + 1
            let shift = target - Int(a.scale)
            let (num, over) = (Int128(a.mantissa) * Int128(n)).multipliedReportingOverflow(by: Self.pow10(max(shift, 0)))
            if !over, let r = Self.fixed(Self.quotient(num, Int128(d) * Self.pow10(max(-shift, 0)), rule), scale: target) {
                #expect(a.multiplied(by: n, dividedBy: d, scale: target, rule).isIdentical(to: r), "\(a) × \(n) ÷ \(d) at \(target) \(rule)")
                checked += 1
            }
        }
        #expect(checked > 400_000, "too few cases fit to test: \(checked)")
    }
}
