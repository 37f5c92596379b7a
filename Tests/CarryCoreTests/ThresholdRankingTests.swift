// The threshold strategy keeps its pairs ranked by rate as settlements arrive, and a scan
// only filters that ranking. Checked here against the definition, computed afresh: the flat
// pairs whose last rate is fresh, meets the entry threshold and has marks on both legs,
// best rate first, equal rates in pair order.

import CarryCore
import Testing

@Suite("threshold strategy: entries ranked as settlements arrive")
struct ThresholdRankingTests {
    /// Six pairs whose perps are listed out of id order (pair 0's perp has the highest id), so
    /// pair order and perp order differ.
    static let pairs: [PairSpec] = (0..<6).map { k in PairSpec(spot: InstrumentId(UInt32(2 * k)), perp: InstrumentId(UInt32(11 - 2 * k))) }

    /// What `entries` must return: the definition, with a fresh sort.
    static func expected(rates: [Int: (rate: Fixed, time: Timestamp)], view: StrategyView, config: ThresholdStrategyConfig) -> [(Int, Fixed)] {
        var out: [(Int, Fixed)] = []
        for (i, pair) in view.pairs.enumerated() where pair.phase == .flat {
            guard let r = rates[Int(pair.spec.perp.rawValue)], view.now.msSince(r.time) <= config.maxRateAgeMs,
                  r.rate >= config.entryThresholdPerInterval8h, view.mark(pair.spec.spot) != nil, view.mark(pair.spec.perp) != nil else { continue }
            out.append((i, r.rate))
        }
        return out.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
    }

    @Test("after every settlement and at every scan, entries equal the flat qualifying pairs sorted afresh", arguments: [UInt64(1), 2, 3, 4, 5])
    func rankingMatchesDefinition(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let config = strategy(entry: "0.0001", maxRateAgeHours: 9)
        var s = ThresholdStrategy(config: config, pairs: Self.pairs)
        var rates: [Int: (rate: Fixed, time: Timestamp)] = [:]
        // Few distinct rates (ties are common), some below the threshold; "0.0001" and
        // "0.00010" are one rate written at two scales (normalised to 8 h, both at scale 12;
        // the threshold compared with them is at scale 4).
        let levels = ["0.00005", "0.0001", "0.00010", "0.0002", "0.000200", "0.0003", "-0.0001"]
        var marks: [Fixed?] = Array(repeating: Fixed(100), count: 12)
        var nonEmpty = 0, ties = 0
        for h in Int64(0)..<400 {
            let now = hours(h)
            // A few perps settle this hour (one with no interval: its rate is unknown then).
            for _ in 0..<rng.below(4) {
                let perp = 11 - 2 * rng.below(6)
                let noInterval = rng.below(15) == 0
                let rate = f(levels[rng.below(levels.count)])
                s.observe(.fundingSettled(FundingSettled(instrumentId: InstrumentId(UInt32(perp)), ratePerInterval: rate,
                                                         intervalMinutes: noInterval ? 0 : 480, markPrice: nil)),
                          time: now, ref: .source(UInt64(h)))
                if noInterval { rates[perp] = nil } else { rates[perp] = (FundingMath.per8h(rate, intervalMinutes: 480), now) }
            }
            if rng.below(20) == 0 { marks[rng.below(12)] = rng.below(2) == 0 ? nil : Fixed(100) }
            let views = Self.pairs.map { PairView(spec: $0, phase: rng.below(3) == 0 ? .open : .flat, openedAt: nil) }
            let view = StrategyView(now: now, pairs: views, marks: marks)
            let got = s.entries(view).map { ($0.pairIndex, $0.score) }
            let want = Self.expected(rates: rates, view: view, config: config)
            #expect(got.map(\.0) == want.map(\.0), "hour \(h)")
            #expect(zip(got, want).allSatisfy { $0.1.isIdentical(to: $1.1) }, "hour \(h)")
            if !want.isEmpty { nonEmpty += 1 }
            if zip(want, want.dropFirst()).contains(where: { $0.1 == $1.1 }) { ties += 1 }
        }
        // The walk visits what matters: many scans with candidates, many with equal rates.
        #expect(nonEmpty > 100 && ties > 20)
    }
}
