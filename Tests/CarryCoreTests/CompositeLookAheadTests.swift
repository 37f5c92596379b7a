// No look-ahead in the composite strategy: a random market, and the same market with every
// input after T changed (rates, predictions, closes, volumes) and extra inputs added after T.
// Every feature (funding level, prediction, trend, persistence, basis, volume), every score,
// every entry and exit the strategy proposes at instants ≤ T, and every record the reducer
// journals up to T, are byte-identical between the two.

import CarryCore
import Testing

/// Three pairs: BTC settles every 8 h, ETH every 4 h, SOL every 8 h with the venue's
/// prediction of the next settlement published mid-interval. Hourly bars with random-walk
/// prices, a random basis and random volumes; now and then one leg's bar is missing. After
/// `perturbAfter` every value is drawn again from another generator, and extra inputs appear
/// (settlements off the schedule, predictions, bars at odd minutes).
func compositeMarket(seed: UInt64, hours count: Int64, perturbAfter: Timestamp? = nil, perturbSeed: UInt64 = 0) -> [(Timestamp, Event)] {
    var rng = SplitMix64(seed: seed)
    var alt = SplitMix64(seed: perturbSeed)
    var spot: [Int64] = [60_000_00, 3_000_00, 150_00]   // cents
    var basisBp: [Int64] = [0, 0, 0]
    var out: [(Timestamp, Event)] = []
    for h in 0...count {
        let t = hours(h)
        let perturb = perturbAfter.map { t > $0 } ?? false
        for k in 0..<3 {
            spot[k] = max(100, spot[k] + spot[k] * (Int64(rng.below(201)) - 100) / 10_000)
            basisBp[k] = max(-60, min(60, basisBp[k] + Int64(rng.below(11)) - 5))
            var rate = Int64(rng.below(61)) - 10   // −0.0001 … 0.0005 per interval, 1e-5 steps
            var predicted = Int64(rng.below(61)) - 10
            var s = spot[k], p = spot[k] + spot[k] * basisBp[k] / 10_000
            var volume = Int64(5_000_000 + rng.below(50_000_000))
            let dropLeg = rng.below(40)
            if perturb {
                rate = Int64(alt.below(401)) - 200
                predicted = Int64(alt.below(401)) - 200
                s = 100 + Int64(alt.below(10_000_000))
                p = 100 + Int64(alt.below(10_000_000))
                volume = Int64(1 + alt.below(100_000_000))
            }
            let perp = InstrumentId(UInt32(2 * k + 1))
            let interval: UInt32 = k == 1 ? 240 : 480
            if h % Int64(interval / 60) == 0 {
                out.append((t, .fundingSettled(FundingSettled(instrumentId: perp, ratePerInterval: Fixed(mantissa: rate, scale: 5), intervalMinutes: interval,
                                                              markPrice: nil))))
            }
            if k == 2 && h % 8 == 4 {
                out.append((t, .fundingPredicted(FundingPredicted(instrumentId: perp, nextSettlementTime: hours(h + 4),
                                                                  predictedRatePerInterval: Fixed(mantissa: predicted, scale: 5), intervalMinutes: 480))))
            }
            for (leg, cents) in [(UInt32(2 * k), s), (UInt32(2 * k + 1), p)] where !(dropLeg == 0 && leg % 2 == 0) && !(dropLeg == 1 && leg % 2 == 1) {
                let close = Fixed(mantissa: cents, scale: 2)
                out.append((t, .barClosed(BarClosed(instrumentId: InstrumentId(leg), intervalSeconds: 3600, openTime: t.adding(ms: -Millis.hour),
                                                    open: close, high: close, low: close, close: close, volumeBase: Fixed(1),
                                                    volumeQuote: Fixed(volume)))))
            }
        }
        if perturb {
            // Extra inputs after T: an off-schedule settlement, a prediction due at once, a bar at :30.
            let half = t.adding(ms: 30 * Millis.minute)
            out.append((half, .fundingSettled(FundingSettled(instrumentId: InstrumentId(5), ratePerInterval: Fixed(mantissa: Int64(alt.below(1000)), scale: 5),
                                                             intervalMinutes: 480, markPrice: nil))))
            out.append((half, .fundingPredicted(FundingPredicted(instrumentId: InstrumentId(1), nextSettlementTime: half.adding(ms: Millis.hour),
                                                                 predictedRatePerInterval: f("0.003"), intervalMinutes: 480))))
            out.append((half, .barClosed(bar(3, closingAt: half, "1234.56", volumeQuote: "1"))))
        }
    }
    return out
}

/// A lively composite config for the look-ahead runs: short windows, two places, a short
/// minimum holding and target, so entries, skips and exits of every kind happen within days.
func livelyComposite() -> CompositeStrategyConfig {
    CompositeStrategyConfig(
        weights: CompositeWeights(level: f("0.4"), trend: f("0.15"), persistence: f("0.25"), basis: f("0.1"), volume: f("0.1")),
        windows: FeatureWindows(level: 3, trend: 4, persistence: 6, basis: 12, volumeBars: 24), levelScale: f("0.0002"), trendDeadBand: f("0.000001"),
        trendScale: f("0.00005"), persistenceLevel: f("0.00005"), volumeScale: f("1000"), entryScore: f("0.25"), exitScore: f("0.05"),
        minHoldingMs: 12 * Millis.hour, maxHoldingMs: 4 * Millis.day, expectedHoldingMs: 10 * Millis.day, feeGateMultiple: f("0.25"),
        targetProfitMultiple: f("1"), switchMargin: f("0.5"), minNotionalUsdt: Fixed(5_000), maxNotionalUsdt: Fixed(20_000), maxOpenPairs: 2,
        maxRateAgeMs: 9 * Millis.hour)
}

private let threePairs = (0..<3).map { PairSpec(spot: InstrumentId(UInt32(2 * $0)), perp: InstrumentId(UInt32(2 * $0 + 1))) }

/// Everything the strategy says at `now`, as bytes: per pair the funding feature, basis, both
/// legs' volume and the verdict (score, components); then the entries it proposes with every
/// pair flat, and the exits with every pair held (since `openedAt`, with funding and costs).
func strategyTrace(_ s: CompositeStrategy, now: Timestamp, marks: [Fixed?]) -> [UInt8] {
    var w = ByteWriter()
    func signal(_ x: SignalComputed) { x.encode(to: &w) }
    for (i, p) in threePairs.enumerated() {
        if let f = s.features.funding(p.perp, now: now, persistenceLevel: s.config.persistenceLevel) {
            w.write(UInt8(1))
            w.write(f.level)
            w.write(f.last)
            w.write(f.lastTime)
            w.write(f.lastRef.raw)
            w.write(f.predicted)
            w.write(f.predictedRef.raw)
            w.write(f.slope)
            w.write(f.persistenceShare)
            w.write(Int64(f.persistenceRun))
        } else {
            w.write(UInt8(0))
        }
        w.write(Int64(s.features.settlementCount(p.perp)))
        if let b = s.features.basis(pair: i) {
            for v in [b.current, b.min, b.max, b.mean] { w.write(v) }
            w.write(Int64(b.count))
            w.write(b.ref.raw)
        } else {
            w.write(UInt8(0))
        }
        for id in [p.spot, p.perp] {
            if let v = s.features.volume(id) {
                w.write(v.quote)
                w.write(v.ref.raw)
            } else {
                w.write(UInt8(0))
            }
            w.write(s.features.close(id))
        }
        switch s.evaluate(i, now: now) {
        case .missing(let factor, let limit, let observed):
            w.write(factor.rawValue)
            w.write(limit)
            w.write(observed)
        case .scored(let x):
            w.write(x.score)
            w.write(x.expectedRate)
            w.write(x.roundTrip)
            w.write(x.expectedNetCarry)
            w.write(x.breakevenHours)
            for c in x.components {
                w.write(c.factor.rawValue)
                w.write(c.value)
                w.write(c.weight)
                w.write(c.sourceSeq)
            }
        }
    }
    let flat = StrategyView(now: now, pairs: threePairs.map { PairView(spec: $0, phase: .flat, openedAt: nil) }, marks: marks)
    for c in s.entries(flat) {
        w.write(Int64(c.pairIndex))
        w.write(c.score)
        w.write(c.conviction)
        w.write(c.sourceSeq)
        if let v = c.veto {
            w.write(v.reason.rawValue)
            w.write(v.factor?.rawValue ?? 0)
            w.write(v.limit)
            w.write(v.observed)
        } else {
            signal(s.entrySignal(for: c, pair: threePairs[c.pairIndex], view: flat))
        }
    }
    // Held: BTC since the start, ETH for 13 h, SOL just opened; one place free for replacement.
    let held = StrategyView(now: now, pairs: [
        PairView(spec: threePairs[0], phase: .open, openedAt: hours(0), targetQty: f("0.3"), fundingUsdt: f("12.5"), costsUsdt: f("30")),
        PairView(spec: threePairs[1], phase: .open, openedAt: now.adding(ms: -13 * Millis.hour), targetQty: f("5"), fundingUsdt: f("400"), costsUsdt: f("20")),
        PairView(spec: threePairs[2], phase: .flat, openedAt: nil),
    ], marks: marks)
    for e in s.exits(held) {
        w.write(Int64(e.pairIndex))
        signal(e.signal)
    }
    return w.bytes
}

/// Folds a market into a composite strategy hour by hour, tracing it at each hour through
/// `through` (and at `through` itself), feeding only inputs with time ≤ the instant traced.
func traceStrategy(_ market: [(Timestamp, Event)], hours count: Int64, extraInstant: Timestamp? = nil) -> [(Timestamp, [UInt8])] {
    var s = CompositeStrategy(config: livelyComposite(), pairs: threePairs, fees: testFees, slippage: testSlippage)
    for k in 0..<3 {
        s.observe(.defined(spotDef(UInt32(2 * k))), time: hours(0), ref: .none)
        s.observe(.defined(perpDef(UInt32(2 * k + 1), intervalMinutes: k == 1 ? 240 : 480)), time: hours(0), ref: .none)
    }
    var marks = [Fixed?](repeating: nil, count: 6)
    var instants = (0...count).map { hours($0) }
    if let extraInstant {
        instants.append(extraInstant)
        instants.sort()
    }
    var next = 0
    var out: [(Timestamp, [UInt8])] = []
    for now in instants {
        while next < market.count && market[next].0 <= now {
            let (t, e) = market[next]
            next += 1
            let ref = CausationRef.source(UInt64(next))
            switch e {
            case .barClosed(let b):
                marks[b.instrumentId.index] = b.close
                s.observe(.bar(b), time: t, ref: ref)
            case .fundingSettled(let x): s.observe(.fundingSettled(x), time: t, ref: ref)
            case .fundingPredicted(let x): s.observe(.fundingPredicted(x), time: t, ref: ref)
            default: break
            }
        }
        out.append((now, strategyTrace(s, now: now, marks: marks)))
    }
    return out
}

@Suite("Composite strategy: no look-ahead")
struct CompositeLookAheadTests {
    @Test("every feature, score, entry and exit the strategy gives at instants ≤ T is byte-identical when everything after T changes",
          arguments: [UInt64(21), 22, 23])
    func features(seed: UInt64) {
        let days: Int64 = 12
        let cut = hours(24 * 6 + 3).adding(ms: 30 * Millis.minute)   // mid-interval: SOL's prediction is due after T
        let a = compositeMarket(seed: seed, hours: 24 * days)
        let b = compositeMarket(seed: seed, hours: 24 * days, perturbAfter: cut, perturbSeed: seed &* 104_729)
        #expect(a.filter { $0.0 <= cut }.map(\.1) == b.filter { $0.0 <= cut }.map(\.1))
        #expect(b.filter { $0.0 > cut }.count > a.filter { $0.0 > cut }.count, "extra inputs after T")
        let ta = traceStrategy(a, hours: 24 * days, extraInstant: cut)
        let tb = traceStrategy(b, hours: 24 * days, extraInstant: cut)
        let beforeA = ta.filter { $0.0 <= cut }, beforeB = tb.filter { $0.0 <= cut }
        #expect(beforeA.count == 24 * 6 + 5)
        for (x, y) in zip(beforeA, beforeB) { #expect(x.1 == y.1, "features differ at \(x.0.iso8601)") }
        // The traces are not trivially equal: they change over time, and the perturbation reaches them.
        #expect(Set(beforeA.map(\.1)).count > 100)
        let afterA = ta.filter { $0.0 > cut }.map(\.1), afterB = tb.filter { $0.0 > cut }.map(\.1)
        #expect(zip(afterA, afterB).filter { $0.0 != $0.1 }.count > afterA.count / 2)
    }

    @Test("through the reducer: every record journaled up to T is byte-identical; the runs differ after T", arguments: [UInt64(31), 32, 33])
    func reducer(seed: UInt64) {
        let days: Int64 = 14
        let cut = hours(24 * 8 + 5).adding(ms: 30 * Millis.minute)
        let a = compositeMarket(seed: seed, hours: 24 * days)
        let b = compositeMarket(seed: seed, hours: 24 * days, perturbAfter: cut, perturbSeed: seed &* 7_919)
        var config = engineConfig(pairs: 3, strategy: strategy(maxHoldingHours: 4 * 24, maxOpenPairs: 2), risk: testRisk, slippage: testSlippage,
                                  cash: "100000")
        config.composite = livelyComposite()
        func run(_ market: [(Timestamp, Event)]) -> PipelineRun {
            var r = PipelineRun(config: config, from: hours(0), to: hours(24 * days), cooldownMs: 8 * Millis.hour)
            r.run(market)
            return r
        }
        let ra = run(a), rb = run(b)
        func bytes(_ e: (seq: UInt64, out: PipelineOutput)) -> [UInt8] {
            var w = ByteWriter()
            w.write(e.seq)
            w.write(e.out.event.kind.rawValue)
            w.write(e.out.time)
            w.write(e.out.causation.raw)
            e.out.event.encodePayload(to: &w)
            return w.bytes
        }
        let beforeA = ra.journal.filter { $0.out.time <= cut }.map(bytes)
        let beforeB = rb.journal.filter { $0.out.time <= cut }.map(bytes)
        #expect(beforeA.count == beforeB.count)
        #expect(beforeA == beforeB)
        // The stretch before T holds decisions of every kind the test means to protect.
        let before = ra.journal.filter { $0.out.time <= cut }.map(\.out.event)
        let enters = before.filter { if case .signalComputed(let s) = $0 { s.action == .enter } else { false } }.count
        let exits = before.filter { if case .signalComputed(let s) = $0 { s.action == .exit } else { false } }.count
        let fills = before.filter { if case .orderFilled = $0 { true } else { false } }.count
        let reasons = Set(before.compactMap { if case .entrySkipped(let x) = $0 { x.reason } else { nil } })
        #expect(enters >= 3 && exits >= 2 && fills >= 8, "enters \(enters), exits \(exits), fills \(fills)")
        #expect(reasons.isSuperset(of: [.missingFeature, .belowEntry]), "\(reasons)")
        // The perturbation reaches the engine.
        #expect(ra.journal.map(bytes) != rb.journal.map(bytes))
    }
}
