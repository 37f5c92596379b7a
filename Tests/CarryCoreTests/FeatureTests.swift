// The composite strategy's features and score against cases worked out by hand: the slope,
// the trend's dead band, persistence, basis and normalisation (FeatureMath); level, predicted
// rate, basis and volume as MarketFeatures keeps them from inputs; and the round trip,
// expected net carry, breakeven and score of `CompositeStrategy.evaluate`. Every expected
// value is derived in the comments beside it, never read back from the code under test.

import CarryCore
import Testing

/// Rates in units of 1e-5 (so 30 is 0.0003).
private func r5(_ units: Int64) -> Fixed { Fixed(mantissa: units, scale: 5) }

@Suite("Features: FeatureMath by hand")
struct FeatureMathTests {
    @Test("slope of an up, a down and a flat series (least squares against 0 … N−1)")
    func slope() {
        // Up, N = 4: 0.0001, 0.0002, 0.0003, 0.0004. Weights 2i − 3 = −3, −1, 1, 3;
        // Σ w·r = (−3 − 2 + 3 + 12) × 0.0001 = 0.001; slope = 6 × 0.001 / (4 × 15) = 0.0001.
        #expect(FeatureMath.slope([f("0.0001"), f("0.0002"), f("0.0003"), f("0.0004")]) == f("0.0001"))
        // Down, N = 5: 5, 4, 4, 2, 1 (× 1e-5). Weights −4, −2, 0, 2, 4; Σ = −20 + (−8) + 0 + 4 + 4
        // = −20; slope = 6 × (−20) / (5 × 24) = −1 → −0.00001. (By the textbook formula: x̄ = 2,
        // ȳ = 3.2, Σ(x−x̄)(y−ȳ) = −10, Σ(x−x̄)² = 10.)
        #expect(FeatureMath.slope([r5(5), r5(4), r5(4), r5(2), r5(1)]) == f("-0.00001"))
        // Not a straight line, N = 3: 1, 3, 2 (× 1e-4). Weights −2, 0, 2; Σ = 2; 6 × 2 / 24 = 0.5.
        #expect(FeatureMath.slope([f("0.0001"), f("0.0003"), f("0.0002")]) == f("0.00005"))
        // Flat, and a V whose ends balance: both slope 0.
        #expect(FeatureMath.slope([f("0.0001"), f("0.0001"), f("0.0001")]) == .zero)
        #expect(FeatureMath.slope([f("0.0003"), f("0.0001"), f("0.0003")]) == .zero)
        // Rounding at 12 decimals, half-even: 0, 0, 3e-12 → 6 × 6e-12 / 24 = 1.5e-12 → 2e-12;
        // 1e-12, 0, 2e-12 → 6 × 2e-12 / 24 = 0.5e-12 → 0 (to even).
        #expect(FeatureMath.slope([.zero, .zero, f("0.000000000003")]) == f("0.000000000002"))
        #expect(FeatureMath.slope([f("0.000000000001"), .zero, f("0.000000000002")]) == .zero)
        // Fewer than two values have no slope.
        #expect(FeatureMath.slope([f("0.0001")]) == nil)
        #expect(FeatureMath.slope([Fixed]()) == nil)
    }

    @Test("trend: up above the dead band, down below its negative, stable inside it (edges inclusive)")
    func trend() {
        let band = f("0.000001")
        #expect(FeatureMath.trend(slope: .zero, deadBand: band) == .stable)
        #expect(FeatureMath.trend(slope: band, deadBand: band) == .stable)
        #expect(FeatureMath.trend(slope: -band, deadBand: band) == .stable)
        #expect(FeatureMath.trend(slope: f("0.000001000001"), deadBand: band) == .up)
        #expect(FeatureMath.trend(slope: f("-0.000001000001"), deadBand: band) == .down)
        #expect(FeatureMath.trend(slope: f("0.0001"), deadBand: band) == .up)
        // No dead band: only an exact zero is stable.
        #expect(FeatureMath.trend(slope: .zero, deadBand: .zero) == .stable)
        #expect(FeatureMath.trend(slope: f("0.000000000001"), deadBand: .zero) == .up)
        #expect(FeatureMath.trend(slope: f("-0.000000000001"), deadBand: .zero) == .down)
    }

    @Test("persistence: share strictly above the level (6 decimals, rounded down) and the run ending at the newest")
    func persistence() {
        let level = r5(5)
        // 6, 4, 6, 7, 5 above 5: 6, 6, 7 → 3/5 = 0.6; the newest (5) equals the level → run 0.
        let a = FeatureMath.persistence([r5(6), r5(4), r5(6), r5(7), r5(5)], above: level)
        #expect(a.share == f("0.6") && a.run == 0)
        // 4, 6, 6, 7: 3/4 = 0.75; the last three are above → run 3.
        let b = FeatureMath.persistence([r5(4), r5(6), r5(6), r5(7)], above: level)
        #expect(b.share == f("0.75") && b.run == 3)
        // 6, 4, 6: 2/3 = 0.666666 (down, not 0.666667); run 1 (the 4 breaks it).
        let c = FeatureMath.persistence([r5(6), r5(4), r5(6)], above: level)
        #expect(c.share == f("0.666666") && c.run == 1)
        // All above, none above, and the empty window.
        let all = FeatureMath.persistence([r5(9), r5(8)], above: level)
        #expect(all.share == f("1") && all.run == 2)
        let none = FeatureMath.persistence([r5(5), r5(-3)], above: level)
        #expect(none.share == .zero && none.run == 0)
        let empty = FeatureMath.persistence([Fixed](), above: level)
        #expect(empty.share == .zero && empty.run == 0)
        // A negative level: 0 is above −0.00001.
        let negative = FeatureMath.persistence([.zero, r5(-2), .zero], above: r5(-1))
        #expect(negative.share == f("0.666666") && negative.run == 1)
    }

    @Test("basis = (perp − spot) ÷ spot at 12 decimals; none for a spot that is not positive")
    func basis() {
        // (100.2 − 100) / 100 = 0.002; (99.5 − 100) / 100 = −0.005.
        #expect(FeatureMath.basis(spot: f("100"), perp: f("100.2")) == f("0.002"))
        #expect(FeatureMath.basis(spot: f("100"), perp: f("99.5")) == f("-0.005"))
        // (2 − 3) / 3 = −0.333… → −0.333333333333 (half-even at 12 decimals).
        #expect(FeatureMath.basis(spot: f("3"), perp: f("2")) == f("-0.333333333333"))
        // (5 − 3) / 3 = 0.666… → 0.666666666667.
        #expect(FeatureMath.basis(spot: f("3"), perp: f("5")) == f("0.666666666667"))
        #expect(FeatureMath.basis(spot: .zero, perp: f("1")) == nil)
        #expect(FeatureMath.basis(spot: f("-1"), perp: f("1")) == nil)
    }

    @Test("normalised: value ÷ scale at 6 decimals, clamped to [lower, 1]; a zero scale gives 0")
    func normalised() {
        let scale = f("0.0001")
        #expect(FeatureMath.normalised(f("0.00005"), scale: scale) == f("0.5"))
        #expect(FeatureMath.normalised(f("0.0001"), scale: scale) == f("1"))
        #expect(FeatureMath.normalised(f("0.0003"), scale: scale) == f("1"))
        #expect(FeatureMath.normalised(f("-0.00005"), scale: scale) == f("-0.5"))
        #expect(FeatureMath.normalised(f("-0.0003"), scale: scale) == f("-1"))
        #expect(FeatureMath.normalised(f("-0.00005"), scale: scale, lower: .zero) == .zero)
        #expect(FeatureMath.normalised(f("0.00005"), scale: scale, lower: .zero) == f("0.5"))
        // 1/3 → 0.333333, 2/3 → 0.666667 (half-even at 6 decimals).
        #expect(FeatureMath.normalised(f("1"), scale: f("3")) == f("0.333333"))
        #expect(FeatureMath.normalised(f("2"), scale: f("3")) == f("0.666667"))
        #expect(FeatureMath.normalised(f("5"), scale: .zero) == .zero)
        #expect(FeatureMath.normalised(f("5"), scale: f("-1")) == .zero)
    }

    @Test("mean at 12 decimals; none of an empty list")
    func mean() {
        #expect(FeatureMath.mean([f("0.0001"), f("0.0002"), f("0.0004")]) == f("0.000233333333"))
        #expect(FeatureMath.mean([Fixed]()) == nil)
    }
}

// MARK: - MarketFeatures

/// One pair: spot 0, perp 1.
private let onePair = [PairSpec(spot: InstrumentId(0), perp: InstrumentId(1))]

private func windows(level: Int = 3, trend: Int = 3, persistence: Int = 4, basis: Int = 3, volumeBars: Int = 2) -> FeatureWindows {
    FeatureWindows(level: level, trend: trend, persistence: persistence, basis: basis, volumeBars: volumeBars)
}

private func settled(_ rate: String, interval: UInt32 = 480) -> MarketInput {
    .fundingSettled(settlement(1, rate, intervalMinutes: interval))
}

private func hourBar(_ id: UInt32, _ h: Int64, _ close: String, volume: String = "1000") -> MarketInput {
    .bar(bar(id, closingAt: hours(h), close, volumeQuote: volume))
}

@Suite("Features: MarketFeatures from inputs")
struct MarketFeaturesTests {
    @Test("level = mean of the last N settled rates per 8 h; a 4 h contract's rate counts double, a 1 h one eightfold")
    func level() throws {
        var m = MarketFeatures(windows: windows(level: 3), pairs: onePair)
        #expect(m.funding(InstrumentId(1), now: hours(0), persistenceLevel: .zero) == nil)
        // 0.0009 (8 h; falls out of the window), 0.0001 per 4 h = 0.0002 per 8 h,
        // 0.00005 per 4 h = 0.0001 per 8 h, 0.0003 (8 h): the last three average 0.0002.
        m.observe(settled("0.0009"), time: hours(0), ref: .source(10))
        m.observe(settled("0.0001", interval: 240), time: hours(4), ref: .source(11))
        m.observe(settled("0.00005", interval: 240), time: hours(8), ref: .source(12))
        m.observe(settled("0.0003"), time: hours(16), ref: .source(13))
        let f1 = try #require(m.funding(InstrumentId(1), now: hours(16), persistenceLevel: .zero))
        #expect(f1.level == f("0.0002"))
        #expect(f1.last == f("0.0003") && f1.lastTime == hours(16) && f1.lastRef == .source(13))
        #expect(m.settlementCount(InstrumentId(1)) == 4)
        // A 1 h contract: 0.00001 per hour is 0.00008 per 8 h. Window now 0.0001, 0.0003, 0.00008 → 0.00048 / 3.
        m.observe(settled("0.00001", interval: 60), time: hours(17), ref: .source(14))
        let f2 = try #require(m.funding(InstrumentId(1), now: hours(17), persistenceLevel: .zero))
        #expect(f2.last == f("0.00008"))
        #expect(f2.level == f("0.00016"))
        // A settlement with no interval teaches nothing.
        m.observe(settled("0.5", interval: 0), time: hours(18), ref: .source(15))
        #expect(m.funding(InstrumentId(1), now: hours(18), persistenceLevel: .zero)?.last == f("0.00008"))
    }

    @Test("trend and persistence come from the last N settlements once N were seen, not before (computed when asked, or kept from each settlement for the level asked)",
          arguments: [false, true])
    func trendAndPersistence(kept: Bool) throws {
        var m = MarketFeatures(windows: windows(trend: 3, persistence: 4), pairs: onePair, persistenceLevel: kept ? f("0.00005") : nil)
        let rates = ["0.00004", "0.00006", "0.00008", "0.00003", "0.00009"]
        var seen: [FundingFeature] = []
        for (k, r) in rates.enumerated() {
            m.observe(settled(r), time: hours(8 * Int64(k)), ref: .source(UInt64(k + 1)))
            seen.append(try #require(m.funding(InstrumentId(1), now: hours(8 * Int64(k)), persistenceLevel: f("0.00005"))))
        }
        // After 1 and 2 settlements: no slope (window 3); after 1–3: no persistence (window 4).
        #expect(seen[0].slope == nil && seen[1].slope == nil)
        #expect(seen[0].persistenceShare == nil && seen[2].persistenceShare == nil)
        // After 3: 4, 6, 8 (× 1e-5) → Σ (−2·4 + 2·8) = 8 → 6 × 8 / 24 = 2 → 0.00002.
        #expect(seen[2].slope == f("0.00002"))
        // After 5: slope over 8, 3, 9 → Σ (−2·8 + 2·9) = 2 → 0.5 → 0.000005; persistence over
        // 6, 8, 3, 9 above 5: 3/4 = 0.75, run 1.
        #expect(seen[4].slope == f("0.000005"))
        #expect(seen[4].persistenceShare == f("0.75") && seen[4].persistenceRun == 1)
        // After 4: 4, 6, 8, 3 above 5 → 0.5, run 0.
        #expect(seen[3].persistenceShare == f("0.5") && seen[3].persistenceRun == 0)
        // Asked with another level than the one kept: 6, 8, 3, 9 above 7 → 8 and 9, 0.5, run 1;
        // the slope and the level (the mean of 8, 3, 9) do not depend on it.
        let other = try #require(m.funding(InstrumentId(1), now: hours(32), persistenceLevel: f("0.00007")))
        #expect(other.persistenceShare == f("0.5") && other.persistenceRun == 1 && other.slope == f("0.000005"))
        #expect(other.level == seen[4].level)
    }

    @Test("a predicted rate counts only while its settlement is still ahead (normalised per 8 h)")
    func predicted() throws {
        var m = MarketFeatures(windows: windows(), pairs: onePair)
        m.observe(settled("0.0001"), time: hours(0), ref: .source(1))
        // At 01:00, the venue predicts 0.00006 per 4 h (0.00012 per 8 h) for the 04:00 settlement.
        m.observe(.fundingPredicted(FundingPredicted(instrumentId: InstrumentId(1), nextSettlementTime: hours(4), predictedRatePerInterval: f("0.00006"),
                                                     intervalMinutes: 240)), time: hours(1), ref: .source(2))
        let before = try #require(m.funding(InstrumentId(1), now: hours(3), persistenceLevel: .zero))
        #expect(before.predicted == f("0.00012") && before.predictedRef == .source(2))
        // At and after the settlement it predicted, it is no longer a prediction.
        #expect(m.funding(InstrumentId(1), now: hours(4), persistenceLevel: .zero)?.predicted == nil)
        #expect(m.funding(InstrumentId(1), now: hours(5), persistenceLevel: .zero)?.predicted == nil)
        // Before any settlement a prediction alone makes no funding feature.
        var fresh = MarketFeatures(windows: windows(), pairs: onePair)
        fresh.observe(.fundingPredicted(FundingPredicted(instrumentId: InstrumentId(1), nextSettlementTime: hours(8), predictedRatePerInterval: f("0.0001"),
                                                         intervalMinutes: 480)), time: hours(0), ref: .source(1))
        #expect(fresh.funding(InstrumentId(1), now: hours(1), persistenceLevel: .zero) == nil)
    }

    @Test("basis only at closes both legs share; its window's current, min, max and mean")
    func basis() throws {
        var m = MarketFeatures(windows: windows(basis: 3), pairs: onePair)
        #expect(m.basis(pair: 0) == nil)
        // 01:00 both legs: (100.4 − 100) / 100 = 0.004.
        m.observe(hourBar(0, 1, "100"), time: hours(1), ref: .source(1))
        #expect(m.basis(pair: 0) == nil)   // one leg alone is no basis
        m.observe(hourBar(1, 1, "100.4"), time: hours(1), ref: .source(2))
        #expect(m.basis(pair: 0)?.current == f("0.004") && m.basis(pair: 0)?.count == 1 && m.basis(pair: 0)?.ref == .source(2))
        // 02:00 spot only; 03:00 perp only: closes at different instants are not shared.
        m.observe(hourBar(0, 2, "200"), time: hours(2), ref: .source(3))
        m.observe(hourBar(1, 3, "300"), time: hours(3), ref: .source(4))
        #expect(m.basis(pair: 0)?.count == 1 && m.basis(pair: 0)?.current == f("0.004"))
        // 04:00 perp then spot: (100.1 − 100) / 100 = 0.001; 05:00: (100.2 − 100) / 100 = 0.002;
        // 06:00: (101.5 − 100) / 100 = 0.015, and 0.004 leaves the window of 3.
        m.observe(hourBar(1, 4, "100.1"), time: hours(4), ref: .source(5))
        m.observe(hourBar(0, 4, "100"), time: hours(4), ref: .source(6))
        m.observe(hourBar(0, 5, "100"), time: hours(5), ref: .source(7))
        m.observe(hourBar(1, 5, "100.2"), time: hours(5), ref: .source(8))
        let b5 = try #require(m.basis(pair: 0))
        // Window 0.004, 0.001, 0.002: min 0.001, max 0.004, mean 0.007 / 3 = 0.002333333333.
        #expect(b5.current == f("0.002") && b5.min == f("0.001") && b5.max == f("0.004") && b5.mean == f("0.002333333333") && b5.count == 3)
        #expect(b5.ref == .source(8))
        m.observe(hourBar(0, 6, "100"), time: hours(6), ref: .source(9))
        m.observe(hourBar(1, 6, "101.5"), time: hours(6), ref: .source(10))
        let b6 = try #require(m.basis(pair: 0))
        // Window 0.001, 0.002, 0.015: mean 0.018 / 3 = 0.006.
        #expect(b6.current == f("0.015") && b6.min == f("0.001") && b6.max == f("0.015") && b6.mean == f("0.006") && b6.count == 3)
        #expect(m.close(InstrumentId(0)) == f("100") && m.close(InstrumentId(1)) == f("101.5"))
    }

    @Test("volume = the quote volume of an instrument's last volumeBars bars; nil before that many")
    func volume() throws {
        var m = MarketFeatures(windows: windows(volumeBars: 3), pairs: onePair)
        m.observe(hourBar(0, 1, "100", volume: "1000"), time: hours(1), ref: .source(1))
        m.observe(hourBar(0, 2, "100", volume: "2500.5"), time: hours(2), ref: .source(2))
        #expect(m.volume(InstrumentId(0)) == nil)
        m.observe(hourBar(0, 3, "100", volume: "300"), time: hours(3), ref: .source(3))
        // 1000 + 2500.5 + 300 = 3800.5.
        #expect(m.volume(InstrumentId(0))?.quote == f("3800.5") && m.volume(InstrumentId(0))?.ref == .source(3))
        // The ring moves on: 2500.5 + 300 + 7 = 2807.5, then 300 + 7 + 0 = 307, then 7 + 0 + 40 = 47.
        m.observe(hourBar(0, 4, "100", volume: "7"), time: hours(4), ref: .source(4))
        #expect(m.volume(InstrumentId(0))?.quote == f("2807.5"))
        m.observe(hourBar(0, 5, "100", volume: "0"), time: hours(5), ref: .source(5))
        #expect(m.volume(InstrumentId(0))?.quote == f("307"))
        m.observe(hourBar(0, 6, "100", volume: "40"), time: hours(6), ref: .source(6))
        #expect(m.volume(InstrumentId(0))?.quote == f("47") && m.volume(InstrumentId(0))?.ref == .source(6))
        // The other leg has its own ring, still empty.
        #expect(m.volume(InstrumentId(1)) == nil)
    }
}

// MARK: - The composite score and costs

/// A composite config for hand computation: windows of 3 settlements / 3 shared closes /
/// 2 bars, scales chosen so the components come out as round numbers.
func compositeTestConfig(weights: CompositeWeights = CompositeWeights(level: f("0.4"), trend: f("0.15"), persistence: f("0.25"), basis: f("0.1"),
                                                                       volume: f("0.1")),
                         windows w: FeatureWindows = FeatureWindows(level: 3, trend: 3, persistence: 3, basis: 3, volumeBars: 2),
                         levelScale: String = "0.0004", trendScale: String = "0.0002", persistenceLevel: String = "0.00015",
                         volumeScale: String = "4000", entryScore: String = "0.3", exitScore: String = "0", minHoldingHours: Int64 = 0,
                         maxHoldingHours: Int64 = 30 * 24, expectedHoldingHours: Int64 = 30 * 24, feeGateMultiple: String = "0.5",
                         targetProfitMultiple: String = "0", switchMargin: String = "1", minNotional: String = "10000",
                         maxNotional: String = "20000", maxOpenPairs: Int = 3, maxRateAgeHours: Int64 = 9) -> CompositeStrategyConfig {
    CompositeStrategyConfig(weights: weights, windows: w, levelScale: f(levelScale), trendDeadBand: f("0.000001"), trendScale: f(trendScale),
                            persistenceLevel: f(persistenceLevel), volumeScale: f(volumeScale), entryScore: f(entryScore), exitScore: f(exitScore),
                            minHoldingMs: minHoldingHours * Millis.hour, maxHoldingMs: maxHoldingHours * Millis.hour,
                            expectedHoldingMs: expectedHoldingHours * Millis.hour, feeGateMultiple: f(feeGateMultiple),
                            targetProfitMultiple: f(targetProfitMultiple), switchMargin: f(switchMargin), minNotionalUsdt: f(minNotional),
                            maxNotionalUsdt: f(maxNotional), maxOpenPairs: maxOpenPairs, maxRateAgeMs: maxRateAgeHours * Millis.hour)
}

@Suite("Features: the composite score and costs by hand")
struct CompositeEvaluateTests {
    /// Settlements 0.0001, 0.0002, 0.0003 at 00:00, 08:00, 16:00; bars at 14:00–16:00 with spot
    /// at 100 and the perp at 100.4, 100.1, 100.2; spot bars of 10M quote volume, perp 30M.
    static func fed(_ config: CompositeStrategyConfig, slippage: SlippageModel = testSlippage) -> CompositeStrategy {
        var s = CompositeStrategy(config: config, pairs: onePair, fees: testFees, slippage: slippage)
        s.observe(.defined(spotDef(0)), time: hours(0), ref: .none)
        s.observe(.defined(perpDef(1)), time: hours(0), ref: .none)
        s.observe(settled("0.0001"), time: hours(0), ref: .source(1))
        s.observe(settled("0.0002"), time: hours(8), ref: .source(2))
        var seq: UInt64 = 3
        for (h, perp) in [(Int64(14), "100.4"), (15, "100.1"), (16, "100.2")] {
            if h == 16 {
                s.observe(settled("0.0003"), time: hours(16), ref: .source(seq))
                seq += 1
            }
            s.observe(hourBar(0, h, "100", volume: "10000000"), time: hours(h), ref: .source(seq))
            s.observe(hourBar(1, h, perp, volume: "30000000"), time: hours(h), ref: .source(seq + 1))
            seq += 2
        }
        return s
    }

    @Test("round trip, expected net carry and breakeven from fee, spread and impact numbers worked out by hand")
    func costs() throws {
        let s = Self.fed(compositeTestConfig())
        guard case .scored(let score) = s.evaluate(0, now: hours(16)) else {
            Issue.record("not scored: \(s.evaluate(0, now: hours(16)))")
            return
        }
        // Fees: 2 × (spot taker 0.001 + perp taker 0.0005) = 0.003. Spread: 4 × 0.0001 = 0.0004.
        // Impact (coefficient 0.1) at the largest notional, 20,000, per leg: 20,000 ÷ the average
        // bar volume (24 h volume ÷ 2 bars): spot 20,000 × 2 / 20,000,000 = 0.002, perp
        // 20,000 × 2 / 60,000,000 = 0.000666666666667 → 0.000666666667 (up, 12 decimals);
        // 0.1 × 2 × 0.002666666667 = 0.0005333333334 → 0.000533333334 (up).
        // Round trip = 0.003 + 0.0004 + 0.000533333334 = 0.003933333334.
        #expect(score.roundTrip == f("0.003933333334"))
        // Expected rate: the level, mean of 0.0001, 0.0002, 0.0003 = 0.0002 (no prediction).
        #expect(score.expectedRate == f("0.0002"))
        // 30 days = 90 settlements of 8 h: 0.0002 × 90 = 0.018; net = 0.018 − 0.003933333334.
        #expect(score.expectedNetCarry == f("0.014066666666"))
        // Breakeven: 0.003933333334 × 8 h ÷ 0.0002 = 157.33333336 h → 157.34 (rounded up).
        #expect(score.breakevenHours == f("157.34"))
        let byFactor = Dictionary(score.components.map { ($0.factor, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byFactor[.roundTripCost]?.value == f("0.003933333334") && byFactor[.expectedCarry]?.value == f("0.014066666666"))
        #expect(byFactor[.breakevenHours]?.value == f("157.34"))

        // No spread, no impact: 0.003. Over 8 h at 0.0002 the carry is 0.0002 − 0.003 = −0.0028;
        // breakeven 0.003 × 8 ÷ 0.0002 = 120 h.
        let bare = Self.fed(compositeTestConfig(expectedHoldingHours: 8), slippage: noSlippage)
        guard case .scored(let b) = bare.evaluate(0, now: hours(16)) else {
            Issue.record("not scored")
            return
        }
        #expect(b.roundTrip == f("0.003") && b.expectedNetCarry == f("-0.0028") && b.breakevenHours == f("120"))
    }

    @Test("a rate that does not pay has no breakeven (journaled as −1)")
    func noBreakeven() throws {
        var s = CompositeStrategy(config: compositeTestConfig(weights: CompositeWeights(level: f("1"), trend: .zero, persistence: .zero, basis: .zero,
                                                                                         volume: .zero)),
                                  pairs: onePair, fees: testFees, slippage: noSlippage)
        s.observe(.defined(spotDef(0)), time: hours(0), ref: .none)
        s.observe(.defined(perpDef(1)), time: hours(0), ref: .none)
        s.observe(settled("-0.0001"), time: hours(0), ref: .source(1))
        for h: Int64 in 0...1 {
            s.observe(hourBar(0, h, "100"), time: hours(h), ref: .source(2))
            s.observe(hourBar(1, h, "100"), time: hours(h), ref: .source(3))
        }
        guard case .scored(let score) = s.evaluate(0, now: hours(1)) else {
            Issue.record("not scored")
            return
        }
        // −0.0001 × 90 − 0.003 = −0.012; level −0.0001 ÷ 0.0004 = −0.25 is the whole score.
        #expect(score.breakevenHours == nil && score.expectedNetCarry == f("-0.012") && score.score == f("-0.25"))
        #expect(score.components.first { $0.factor == .breakevenHours }?.value == f("-1"))
    }

    @Test("the score: Σ weight × normalised component ÷ Σ weight, each component worked out by hand")
    func score() throws {
        let s = Self.fed(compositeTestConfig())
        guard case .scored(let score) = s.evaluate(0, now: hours(16)) else {
            Issue.record("not scored")
            return
        }
        // level        0.0002 ÷ 0.0004 = 0.5
        // trend        slope of 1, 2, 3 (× 1e-4) = 0.0001 (> dead band: up); ÷ 0.0002 = 0.5
        // persistence  0.0002, 0.0003 above 0.00015: share 2/3 → 0.666666; 2 × 0.666666 − 1 = 0.333332
        // basis        0.004, 0.001, 0.002: mean 0.002333333333, half range 0.0015; (0.002 − mean) =
        //              −0.000333333333 ÷ 0.0015 = −0.222222222 → −0.222222
        // volume       thinner leg 20,000,000 ÷ 20,000 = 1000; ÷ 4000 = 0.25
        // Σ = 0.4 × 0.5 + 0.15 × 0.5 + 0.25 × 0.333332 + 0.1 × (−0.222222) + 0.1 × 0.25
        //   = 0.2 + 0.075 + 0.083333 − 0.0222222 + 0.025 = 0.3611108; ÷ 1 → 0.361111.
        #expect(score.score == f("0.361111"))
        let expected: [(SignalFactor, Fixed, Fixed, UInt64)] = [
            (.fundingLevel, f("0.0002"), f("0.4"), CausationRef.source(7).raw),   // the 16:00 settlement
            (.fundingTrend, f("0.0001"), f("0.15"), CausationRef.source(7).raw),
            (.persistence, f("0.666666"), f("0.25"), CausationRef.source(7).raw),
            (.persistenceRun, f("2"), .zero, CausationRef.source(7).raw),
            (.basis, f("0.002"), f("0.1"), CausationRef.source(9).raw),           // the 16:00 perp bar, the later leg
            (.basisRange, f("0.003"), .zero, CausationRef.source(9).raw),
            (.volume, f("1000"), f("0.1"), CausationRef.source(8).raw),           // the 16:00 spot bar (the thinner leg)
        ]
        let got = score.components.prefix(expected.count)
        #expect(got.map(\.factor) == expected.map(\.0))
        #expect(got.map(\.value) == expected.map(\.1))
        #expect(got.map(\.weight) == expected.map(\.2))
        #expect(got.map(\.sourceSeq) == expected.map(\.3))
        #expect(score.components.dropFirst(expected.count).map(\.factor) == [.roundTripCost, .expectedCarry, .breakevenHours])

        // Weights 2, 1, 1, 0, 1 (sum 5): basis is not computed (and not listed).
        // Σ = 2 × 0.5 + 0.5 + 0.333332 + 0.25 = 2.083332; ÷ 5 = 0.4166664 → 0.416666.
        let other = Self.fed(compositeTestConfig(weights: CompositeWeights(level: f("2"), trend: f("1"), persistence: f("1"), basis: .zero, volume: f("1"))))
        guard case .scored(let o) = other.evaluate(0, now: hours(16)) else {
            Issue.record("not scored")
            return
        }
        #expect(o.score == f("0.416666"))
        #expect(!o.components.contains { $0.factor == .basis || $0.factor == .basisRange })

        // A trend inside the dead band scores 0: dead band 0.0001 ≥ slope 0.0001 (stable).
        // Σ = 0.2 + 0 + 0.083333 − 0.0222222 + 0.025 = 0.2861108 → 0.286111.
        var wide = compositeTestConfig()
        wide.trendDeadBand = f("0.0001")
        guard case .scored(let w) = Self.fed(wide).evaluate(0, now: hours(16)) else {
            Issue.record("not scored")
            return
        }
        #expect(w.score == f("0.286111"))
    }

    @Test("a prediction still due is averaged with the level, and listed with its source")
    func prediction() throws {
        var s = Self.fed(compositeTestConfig())
        s.observe(.fundingPredicted(FundingPredicted(instrumentId: InstrumentId(1), nextSettlementTime: hours(24), predictedRatePerInterval: f("0.0004"),
                                                     intervalMinutes: 480)), time: hours(16), ref: .source(99))
        guard case .scored(let score) = s.evaluate(0, now: hours(17)) else {
            Issue.record("not scored")
            return
        }
        // (0.0002 + 0.0004) / 2 = 0.0003; 90 × 0.0003 − 0.003933333334 = 0.023066666666;
        // breakeven 0.031466666672 ÷ 0.0003 = 104.88888890667 → 104.89.
        #expect(score.expectedRate == f("0.0003") && score.expectedNetCarry == f("0.023066666666") && score.breakevenHours == f("104.89"))
        #expect(score.components.map(\.factor).prefix(2) == [.fundingLevel, .predictedRate])
        #expect(score.components[1].value == f("0.0004") && score.components[1].weight == .zero && score.components[1].sourceSeq == CausationRef.source(99).raw)
        // At the predicted settlement's time it is no longer used.
        guard case .scored(let later) = s.evaluate(0, now: hours(24)) else {
            Issue.record("not scored")
            return
        }
        #expect(later.expectedRate == f("0.0002"))
    }

    @Test("missing data: each feature that has too little history is named, with its window and what was seen")
    func missing() {
        let config = compositeTestConfig(windows: FeatureWindows(level: 3, trend: 3, persistence: 4, basis: 3, volumeBars: 2))
        var s = CompositeStrategy(config: config, pairs: onePair, fees: testFees, slippage: testSlippage)
        s.observe(.defined(spotDef(0)), time: hours(0), ref: .none)
        s.observe(.defined(perpDef(1)), time: hours(0), ref: .none)
        #expect(s.evaluate(0, now: hours(0)) == .missing(.fundingLevel, limit: f("1"), observed: .zero))
        s.observe(settled("0.0001"), time: hours(0), ref: .source(1))
        s.observe(settled("0.0001"), time: hours(8), ref: .source(2))
        #expect(s.evaluate(0, now: hours(8)) == .missing(.fundingTrend, limit: f("3"), observed: f("2")))
        s.observe(settled("0.0001"), time: hours(16), ref: .source(3))
        #expect(s.evaluate(0, now: hours(16)) == .missing(.persistence, limit: f("4"), observed: f("3")))
        s.observe(settled("0.0001"), time: hours(24), ref: .source(4))
        #expect(s.evaluate(0, now: hours(24)) == .missing(.basis, limit: f("3"), observed: .zero))
        // A rate older than maxRateAge (9 h) is stale: 24:00 + 9 h is still fresh, 24:00 + 9 h + 1 ms not.
        #expect(s.evaluate(0, now: hours(33).adding(ms: 1)) == .missing(.fundingLevel, limit: Fixed(9 * Millis.hour), observed: Fixed(9 * Millis.hour + 1)))
        for h: Int64 in 22...24 {
            s.observe(hourBar(0, h, "100"), time: hours(h), ref: .source(5))
            s.observe(hourBar(1, h, "100"), time: hours(h), ref: .source(6))
        }
        // Three shared closes; volume needs 2 bars (seen: 3) — scored now.
        if case .scored = s.evaluate(0, now: hours(33)) {} else { Issue.record("expected a score: \(s.evaluate(0, now: hours(33)))") }

        // Volume is needed for the costs whatever its weight; with basis weighted 0 it is the one missing.
        var v = CompositeStrategy(config: compositeTestConfig(weights: CompositeWeights(level: f("1"), trend: .zero, persistence: .zero, basis: .zero,
                                                                                         volume: .zero)),
                                  pairs: onePair, fees: testFees, slippage: testSlippage)
        v.observe(.defined(spotDef(0)), time: hours(0), ref: .none)
        v.observe(.defined(perpDef(1)), time: hours(0), ref: .none)
        v.observe(settled("0.0001"), time: hours(0), ref: .source(1))
        v.observe(hourBar(0, 0, "100"), time: hours(0), ref: .source(2))
        v.observe(hourBar(1, 0, "100"), time: hours(0), ref: .source(3))
        #expect(v.evaluate(0, now: hours(0)) == .missing(.volume, limit: f("2"), observed: .zero))
    }

    @Test("conviction: 0 at the entry score, 1 at a perfect score, linear between, clamped")
    func conviction() {
        let s = CompositeStrategy(config: compositeTestConfig(entryScore: "0.2"), pairs: onePair, fees: testFees, slippage: testSlippage)
        // (score − 0.2) ÷ 0.8: 0.5 → 0.375, 0.8 → 0.75, 0.2 → 0, 1 → 1, 0.1 → 0 (clamped); 0.3 → 0.125.
        #expect(s.conviction(f("0.5")) == f("0.375"))
        #expect(s.conviction(f("0.8")) == f("0.75"))
        #expect(s.conviction(f("0.2")) == .zero)
        #expect(s.conviction(f("1")) == f("1"))
        #expect(s.conviction(f("0.1")) == .zero)
        #expect(s.conviction(f("0.3")) == f("0.125"))
        // Rounded down at 6 decimals: (0.333333 − 0.2) ÷ 0.8 = 0.16666625 → 0.166666.
        #expect(s.conviction(f("0.333333")) == f("0.166666"))
    }
}
