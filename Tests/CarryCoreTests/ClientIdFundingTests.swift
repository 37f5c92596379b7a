// Client order ids at their extremes, and FundingMath.per8h on rates with many decimals
// (v1.0 overflowed on the inverse perps' 20-decimal rates).

import CarryCore
import Testing

/// rate × 480 ÷ interval rounded half-even to 12 decimals, done here in Int128 independently
/// of Fixed: mantissa × 480 × 10^(12 − scale) ÷ interval.
private func per8hByHand(_ rate: Fixed, _ interval: Int64) -> Fixed {
    var divisor = Int128(interval)
    var n = Int128(rate.mantissa) * 480
    for _ in 0..<max(0, Int(rate.scale) - 12) { divisor *= 10 }
    for _ in 0..<max(0, 12 - Int(rate.scale)) { n *= 10 }
    var q = n / divisor
    let r = n % divisor
    let twice = (r < 0 ? -r : r) * 2
    if twice > divisor || (twice == divisor && q % 2 != 0) { q += n < 0 ? -1 : 1 }
    return Fixed(mantissa: Int64(q), scale: 12)
}

@Suite("Client order ids and funding math")
struct ClientIdFundingTests {
    let journals = [JournalId(high: 0, low: 0), JournalId(high: UInt64.max, low: UInt64.max), JournalId(high: 0x0123_4567_89AB_CDEF, low: 42)]
    let seqs: [UInt64] = [0, 1, 9, 10, 1_000_000, UInt64.max]

    @Test("every id is valid for Bybit, at most 34 chars, round-trips to its seq and is the same when made again")
    func clientIdsValidAndStable() {
        for j in journals {
            for s in seqs {
                let id = ClientOrderId.make(journal: j, intentSeq: s)
                #expect(ClientOrderId.isValidForBybit(id), "\(id)")
                #expect(id.utf8.count <= ClientOrderId.maxLength && ClientOrderId.maxLength <= 36)
                #expect(ClientOrderId.intentSeq(of: id, journal: j) == s)
                #expect(ClientOrderId.make(journal: j, intentSeq: s) == id)   // a restart or a replay makes the same id
            }
        }
        let longest = ClientOrderId.make(journal: journals[1], intentSeq: UInt64.max)
        #expect(longest == "cffffffffffff-18446744073709551615" && longest.utf8.count == 34)
        #expect(ClientOrderId.make(journal: journals[0], intentSeq: 0) == "c000000000000-0")
        #expect(ClientOrderId.make(journal: journals[2], intentSeq: 7) == "c0123456789ab-7")
    }

    @Test("ids of another journal and malformed ids are refused")
    func clientIdsRefused() {
        let j = journals[2]
        let other = JournalId(high: 0x0123_4567_89AC_CDEF, low: 42)    // differs in the high 48 bits
        #expect(ClientOrderId.intentSeq(of: ClientOrderId.make(journal: other, intentSeq: 5), journal: j) == nil)
        for bad in ["", "c0123456789ab-", "c0123456789ab-x1", "c0123456789ab-01", "c0123456789ab--1", "c0123456789ab-+1",
                    "c0123456789ab-18446744073709551616", "C0123456789AB-5", "0123456789ab-5", "c0123456789ab-5 ", "c0123456789ab-٣"] {
            #expect(ClientOrderId.intentSeq(of: bad, journal: j) == nil, "\(bad)")
        }
        #expect(!ClientOrderId.isValidForBybit(""))
        #expect(!ClientOrderId.isValidForBybit(String(repeating: "a", count: 37)))
        #expect(ClientOrderId.isValidForBybit(String(repeating: "a", count: 36)))
        #expect(!ClientOrderId.isValidForBybit("c1.2") && !ClientOrderId.isValidForBybit("c1 2") && !ClientOrderId.isValidForBybit("é"))
    }

    @Test("per8h on 20-decimal and other many-decimal rates is exact for 60, 120, 240 and 480 minute intervals")
    func per8hManyDecimals() {
        let inverse = f("-0.00003341000000000001")
        #expect(inverse.scale == 20 && inverse.mantissa == -3_341_000_000_000_001)
        // By hand: −0.00003341000000000001 × 480 / interval, to 12 decimals (the tail is far below half a unit).
        #expect(FundingMath.per8h(inverse, intervalMinutes: 480) == f("-0.000033410000"))
        #expect(FundingMath.per8h(inverse, intervalMinutes: 240) == f("-0.000066820000"))
        #expect(FundingMath.per8h(inverse, intervalMinutes: 120) == f("-0.000133640000"))
        #expect(FundingMath.per8h(inverse, intervalMinutes: 60) == f("-0.000267280000"))
        #expect(FundingMath.per8h(inverse, intervalMinutes: 60).scale == 12)
        // Ties round half to even at the 12th decimal.
        #expect(FundingMath.per8h(f("0.0000000000005"), intervalMinutes: 480) == .zero)
        #expect(FundingMath.per8h(f("0.0000000000015"), intervalMinutes: 480) == f("0.000000000002"))
        #expect(FundingMath.per8h(f("-0.0000000000025"), intervalMinutes: 480) == f("-0.000000000002"))
        let rates = [inverse, f("0.00010000000000000001"), f("-0.0000000009223372036854775807"), f("0.9223372036854775807"),
                     f("0.000012345678901234567"), f("-0.0001"), f("0.00001234567890123")]
        for rate in rates {
            for interval: UInt32 in [60, 120, 240, 480, 7] {
                #expect(FundingMath.per8h(rate, intervalMinutes: interval) == per8hByHand(rate, Int64(interval)), "\(rate) / \(interval)")
            }
        }
        // An odd interval: 0.0001 × 480/7 = 0.006857142857142857… → 0.006857142857.
        #expect(FundingMath.per8h(f("0.0001"), intervalMinutes: 7) == f("0.006857142857"))
    }
}
