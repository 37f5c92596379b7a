// The composite strategy driven through the reducer and the simulated exchange, as the
// backtest runs it: "why not" journaled once per reason (missing feature, below score, fee
// gate, cap, crowded out), hysteresis and the minimum holding, the time limit, the target
// profit, replacement only past the switching cost, and conviction sizing under the
// portfolio cap. Figures are worked out by hand in the comments.

import CarryCore
import Testing

/// An engine running the composite strategy (`strategy.maxHolding` / `maxOpenPairs` kept in
/// step with it, as the config reader does). No spread or impact unless asked: the round trip
/// is then exactly 2 × (0.001 + 0.0005) = 0.003 of notional.
func compositeEngine(pairs: Int = 1, _ c: CompositeStrategyConfig, risk: RiskLimits = testRisk, slippage: SlippageModel = noSlippage,
                     cash: String = "100000") -> EngineConfig {
    var e = engineConfig(pairs: pairs, strategy: strategy(maxHoldingHours: c.maxHoldingMs / Millis.hour, maxOpenPairs: c.maxOpenPairs), risk: risk,
                         slippage: slippage, cash: cash)
    e.composite = c
    return e
}

/// Only the level counts (window 1: the last settlement), so the score is min(1, rate ÷ levelScale).
let levelOnly = CompositeWeights(level: Fixed(1), trend: .zero, persistence: .zero, basis: .zero, volume: .zero)

func levelConfig(levelScale: String = "0.0002", entryScore: String = "0.3", exitScore: String = "0", minHoldingHours: Int64 = 0,
                 maxHoldingHours: Int64 = 30 * 24, expectedHoldingHours: Int64 = 30 * 24, targetProfitMultiple: String = "0",
                 switchMargin: String = "1", minNotional: String = "20000", maxNotional: String = "20000", maxOpenPairs: Int = 3) -> CompositeStrategyConfig {
    compositeTestConfig(weights: levelOnly, windows: FeatureWindows(level: 1, trend: 3, persistence: 3, basis: 3, volumeBars: 2), levelScale: levelScale,
                        entryScore: entryScore, exitScore: exitScore, minHoldingHours: minHoldingHours, maxHoldingHours: maxHoldingHours,
                        expectedHoldingHours: expectedHoldingHours, targetProfitMultiple: targetProfitMultiple, switchMargin: switchMargin,
                        minNotional: minNotional, maxNotional: maxNotional, maxOpenPairs: maxOpenPairs)
}

/// Hourly flat bars for several pairs with their own prices (spot, perp), settlements of 8 h
/// listed before the bars of their instant. Pair k is spot 2k, perp 2k+1.
func pairsMarket(_ prices: [(spot: String, perp: String)], fromHour: Int64, toHour: Int64, funding: [Int64: [String]],
                 volume: String = "100000000") -> [(Timestamp, Event)] {
    var out: [(Timestamp, Event)] = []
    for h in fromHour...toHour {
        let t = hours(h)
        for (k, r) in (funding[h] ?? []).enumerated() where k < prices.count {
            out.append((t, .fundingSettled(settlement(UInt32(2 * k + 1), r))))
        }
        for (k, p) in prices.enumerated() {
            out.append((t, .barClosed(bar(UInt32(2 * k), closingAt: t, p.spot, volumeQuote: volume))))
            out.append((t, .barClosed(bar(UInt32(2 * k + 1), closingAt: t, p.perp, volumeQuote: volume))))
        }
    }
    return out
}

/// The same rates for `count` pairs at each of the given hours.
func every8h(_ rates: [Int64: String], pairs: Int = 1) -> [Int64: [String]] {
    rates.mapValues { Array(repeating: $0, count: pairs) }
}

extension VenueRun {
    /// The entry.skipped records with their seqs and times (`skips` has the payloads alone).
    var whyNot: [(seq: UInt64, time: Timestamp, value: EntrySkipped)] { events { if case .entrySkipped(let x) = $0 { x } else { nil } } }
    var enters: [(seq: UInt64, time: Timestamp, value: SignalComputed)] {
        events { if case .signalComputed(let s) = $0, s.action == .enter { s } else { nil } }
    }
    var exitSignals: [(seq: UInt64, time: Timestamp, value: SignalComputed)] {
        events { if case .signalComputed(let s) = $0, s.action == .exit { s } else { nil } }
    }
    var openingIntents: [(seq: UInt64, time: Timestamp, value: OrderIntended)] {
        events { if case .orderIntended(let x) = $0, x.reason == .open { x } else { nil } }
    }
    /// When each pair (by perp) went open.
    var openedTimes: [(perp: InstrumentId, time: Timestamp)] {
        events { if case .pairTransition(let x) = $0, x.to == .open, x.from == .opening { x.perp } else { nil } }.map { ($0.value, $0.time) }
    }
}

@Suite("Composite strategy through the reducer: why not, exits, replacement")
struct CompositeReducerTests {
    @Test("a feature without enough history: entry.skipped missingFeature naming it, once; entered when the window fills")
    func missingFeature() throws {
        // Level and persistence weighted 1 each; persistence needs 3 settlements above 0.00005.
        var c = levelConfig()
        c.weights = CompositeWeights(level: Fixed(1), trend: .zero, persistence: Fixed(1), basis: .zero, volume: .zero)
        c.persistenceLevel = f("0.00005")
        var run = PipelineRun(config: compositeEngine(c), from: hours(0), to: hours(18))
        run.run(pairsMarket([("100", "100")], fromHour: -2, toHour: 18, funding: every8h([0: "0.0002", 8: "0.0002", 16: "0.0002"])))
        // 00:00–15:59 one or two settlements of three: one record (the reason did not change at 08:00).
        #expect(run.whyNot.count == 1)
        let s = try #require(run.whyNot.first)
        #expect(s.time == hours(0) && s.value.reason == .missingFeature && s.value.factor == .persistence)
        #expect(s.value.limit == f("3") && s.value.observed == f("1"))
        // 16:00: level 0.0002 ÷ 0.0002 = 1, persistence 3/3 → 2 × 1 − 1 = 1; score (1 + 1) ÷ 2 = 1.
        #expect(run.enters.map(\.time) == [hours(16)])
        #expect(run.enters.first?.value.score == f("1"))
        #expect(run.enters.first?.value.components.map(\.factor).contains(.persistence) == true)
    }

    @Test("before the first bars and settlements: the mark, then the funding level, are the missing features")
    func missingMarkAndLevel() {
        // Volume over 3 bars. No bar at the 00:00 scan; bars from 01:00; the first settlement at 02:00.
        var c = levelConfig()
        c.windows.volumeBars = 3
        var run = PipelineRun(config: compositeEngine(c), from: hours(0), to: hours(3))
        run.run(pairsMarket([("100", "100")], fromHour: 1, toHour: 3, funding: [2: ["0.0002"]]))
        #expect(run.whyNot.map(\.value.reason) == [.missingFeature, .missingFeature, .missingFeature])
        #expect(run.whyNot.map(\.value.factor) == [.mark, .fundingLevel, .volume])
        #expect(run.whyNot.map(\.time) == [hours(0), hours(1), hours(2)])
        // 02:00: two bars of three; 03:00: three bars of each leg and a settlement: entered.
        #expect(run.whyNot.last?.value.limit == f("3"))
        #expect(run.enters.map(\.time) == [hours(3)])
    }

    @Test("why not, compactly: below score, fee gate, below score again, each journaled when the reason changes, not at every scan")
    func compactWhyNot() throws {
        // Score = rate ÷ 0.0002 (capped at 1), entry at 0.5. Expected holding 8 h: the carry is one
        // settlement's rate less the 0.003 round trip; the gate asks for 0.5 × 0.003 = 0.0015.
        let c = levelConfig(entryScore: "0.5", expectedHoldingHours: 8)
        var run = PipelineRun(config: compositeEngine(c), from: hours(0), to: hours(33))
        run.run(pairsMarket([("100", "100")], fromHour: -2, toHour: 33,
                            funding: every8h([0: "0.00005", 8: "0.00006", 16: "0.0003", 24: "0.00005", 32: "0.005"])))
        let s = run.whyNot
        // 00:00 score 0.25 < 0.5; 08:00 score 0.3, still below: nothing new journaled.
        // 16:00 score 1, carry 0.0003 − 0.003 = −0.0027 < 0.0015: fee gate.
        // 24:00 score 0.25: below again. 32:00: carry 0.005 − 0.003 = 0.002 ≥ 0.0015: entered.
        #expect(s.map(\.time) == [hours(0), hours(16), hours(24)])
        #expect(s.map(\.value.reason) == [.belowEntry, .feeGate, .belowEntry])
        #expect(s.map(\.value.factor) == [nil, .expectedCarry, nil])
        #expect(s.map(\.value.limit) == [f("0.5"), f("0.0015"), f("0.5")])
        #expect(s.map(\.value.observed) == [f("0.25"), f("-0.0027"), f("0.25")])
        #expect(run.enters.map(\.time) == [hours(32)])
        // 34 scans, three records of why not.
        #expect(run.events { if case .clockTicked = $0 { 1 } else { nil } }.count == 34)
    }

    @Test("hysteresis: no exit while the score is between exitScore and entryScore; exit once it falls below exitScore")
    func hysteresis() throws {
        // Score = rate ÷ 0.0001: 0.0001 → 1 (enter at ≥ 0.5), 0.00003 → 0.3 (hold: ≥ 0.2), 0.00001 → 0.1 (exit).
        let c = levelConfig(levelScale: "0.0001", entryScore: "0.5", exitScore: "0.2")
        var run = PipelineRun(config: compositeEngine(c), from: hours(0), to: hours(20))
        run.run(pairsMarket([("100", "100")], fromHour: -2, toHour: 20, funding: every8h([0: "0.0001", 8: "0.00003", 16: "0.00001"])))
        #expect(run.enters.map(\.time) == [hours(0)])
        #expect(run.openedTimes.map(\.time) == [hours(1)])
        let exits = run.exitSignals
        #expect(exits.map(\.time) == [hours(16)])
        let exit = try #require(exits.first).value
        #expect(exit.score == f("0.1"))
        #expect(exit.components.last?.factor == .threshold && exit.components.last?.value == f("0.2"))
        // Held 15 h at 16:00 (open since 01:00).
        #expect(exit.components.first { $0.factor == .holdingTime }?.value == f("15"))
        #expect(run.pipeline.reducer.pairs[0].phase == .flat)
    }

    @Test("below exitScore, the pair is held until minHolding has passed since it opened")
    func minimumHolding() throws {
        let c = levelConfig(levelScale: "0.0001", entryScore: "0.5", exitScore: "0.2", minHoldingHours: 24)
        var run = PipelineRun(config: compositeEngine(c), from: hours(0), to: hours(30))
        run.run(pairsMarket([("100", "100")], fromHour: -2, toHour: 30,
                            funding: every8h([0: "0.0001", 8: "0.00001", 16: "0.00001", 24: "0.00001"])))
        let opened = try #require(run.openedTimes.first).time
        #expect(opened == hours(1))
        // The score is 0.1 from 08:00, but the first scan 24 h after 01:00 is 01:00 the next day.
        #expect(run.exitSignals.map(\.time) == [opened.adding(ms: 24 * Millis.hour)])
        #expect(run.exitSignals.first?.value.components.first { $0.factor == .holdingTime }?.value == f("24"))
    }

    @Test("the time limit closes a pair whatever its score")
    func timeLimit() throws {
        let c = levelConfig(maxHoldingHours: 10)
        var run = PipelineRun(config: compositeEngine(c), from: hours(0), to: hours(11))
        run.run(pairsMarket([("100", "100")], fromHour: -2, toHour: 11, funding: every8h([0: "0.001", 8: "0.001"])))
        // Open at 01:00, 10 h later: 11:00; the signal names the limit (10 h) and the holding (10 h).
        let exit = try #require(run.exitSignals.first)
        #expect(run.exitSignals.count == 1 && exit.time == hours(11))
        #expect(exit.value.score == f("1"))
        #expect(exit.value.components.last?.factor == .threshold && exit.value.components.last?.value == f("10"))
        #expect(exit.value.components.first { $0.factor == .holdingTime }?.value == f("10"))
    }

    @Test("target profit: funding collected less the pair's costs and its close reaching the multiple of its round trip closes it, minimum holding or not")
    func targetProfit() throws {
        // 200 of each leg at 100 (20,000 notional, min = max). Fees paid: spot 20,000 × 0.001 = 20,
        // perp 20,000 × 0.0005 = 10. Each 8 h settlement at 1 % pays 200 × 100 × 0.01 = 200.
        // Round trip 20,000 × 0.003 = 60; the close still to pay is half: 30.
        // After 08:00: 200 − 30 − 30 = 140. After 16:00: 400 − 30 − 30 = 340.
        func run(multiple: String) -> PipelineRun {
            let c = levelConfig(levelScale: "0.0001", minHoldingHours: 72, targetProfitMultiple: multiple)
            // A day's cool-down: the pair closed at 08:00 does not come back before the run ends.
            var r = PipelineRun(config: compositeEngine(c), from: hours(0), to: hours(17), cooldownMs: Millis.day)
            r.run(pairsMarket([("100", "100")], fromHour: -2, toHour: 17, funding: every8h([0: "0.01", 8: "0.01", 16: "0.01"])))
            return r
        }
        func collected(_ c: SignalComputed) -> (net: Fixed?, target: Fixed?) {
            (c.components.first { $0.factor == .netCollected }?.value, c.components.last { $0.factor == .threshold }?.value)
        }
        // × 2 = 120 ≤ 140: out at 08:00.
        let two = run(multiple: "2")
        #expect(two.openingIntents.map(\.value.qty) == [f("200"), f("200")])
        #expect(two.events { if case .fundingPaid(let p) = $0 { p.amount } else { nil } }.first?.value == f("200"))
        #expect(two.exitSignals.map(\.time) == [hours(8)])
        let a = collected(try #require(two.exitSignals.first).value)
        #expect(a.net == f("140") && a.target == f("120"))
        // × 3 = 180 > 140: held at 08:00; 340 ≥ 180 at 16:00.
        let three = run(multiple: "3")
        #expect(three.exitSignals.map(\.time) == [hours(16)])
        let b = collected(try #require(three.exitSignals.first).value)
        #expect(b.net == f("340") && b.target == f("180"))
        // 0 turns the target off: no exit at all.
        #expect(run(multiple: "0").exitSignals.isEmpty)
    }

    @Test("replacement: the weakest held pair is closed for a candidate only when the candidate's extra funding beats the switching cost",
          arguments: [("0.00014", "1", true), ("0.00013", "1", false), ("0.00013", "0.9", false), ("0.00013", "0.89", true)])
    func replacement(candidateRate: String, margin: String, replaced: Bool) throws {
        // One place. 00:00: BTC 0.0001 (score 0.5) is entered; ETH 0.00001 (0.05) is below entry.
        // 08:00: ETH pays `candidateRate`. Over 90 settlements (30 d) the advantage is
        // (rate − 0.0001) × 90: 0.0036 or 0.0027. Switching costs half of each round trip:
        // (0.003 + 0.003) / 2 = 0.003, times the margin: 0.003, 0.003, 0.0027, 0.00267.
        let c = levelConfig(switchMargin: margin, maxOpenPairs: 1)
        let market = pairsMarket([("100", "100"), ("100", "100")], fromHour: -2, toHour: 10,
                                 funding: [0: ["0.0001", "0.00001"], 8: ["0.0001", candidateRate]])
        var run = PipelineRun(config: compositeEngine(pairs: 2, c), from: hours(0), to: hours(10))
        run.run(market)
        #expect(run.enters.first?.time == hours(0) && run.enters.first?.value.perp == InstrumentId(1))
        if replaced {
            let exit = try #require(run.exitSignals.first)
            #expect(run.exitSignals.count == 1 && exit.time == hours(8) && exit.value.perp == InstrumentId(1))
            let advantage = try #require(exit.value.components.first { $0.factor == .replacement })
            let expectedAdvantage = candidateRate == "0.00014" ? f("0.0036") : f("0.0027")
            #expect(advantage.value == expectedAdvantage)
            // It names the candidate's source: ETH's 08:00 settlement.
            let ethSettlement = try #require(market.firstIndex { t, e in
                if case .fundingSettled(let s) = e { t == hours(8) && s.instrumentId == InstrumentId(3) } else { false }
            })
            #expect(advantage.sourceSeq == CausationRef.source(UInt64(ethSettlement + 1)).raw)
            // The bar: 0.003 × margin.
            let bar: [String: Fixed] = ["1": f("0.003"), "0.89": f("0.00267")]
            #expect(exit.value.components.last?.factor == .threshold && exit.value.components.last?.value == bar[margin])
            // ETH waits for the place (crowded out at 08:00) and takes it at 09:00, when BTC is flat.
            #expect(run.enters.map(\.time) == [hours(0), hours(9)] && run.enters.last?.value.perp == InstrumentId(3))
            #expect(run.whyNot.filter { $0.value.perp == InstrumentId(3) }.map(\.value.reason) == [.belowEntry, .crowdedOut])
        } else {
            #expect(run.exitSignals.isEmpty)
            #expect(run.enters.count == 1)
            #expect(run.whyNot.filter { $0.value.perp == InstrumentId(3) }.map(\.value.reason) == [.belowEntry, .crowdedOut])
            #expect(run.pipeline.reducer.pairs.map(\.phase) == [.open, .flat])
        }
    }

    @Test("no replacement for a candidate the reducer would not enter: a pair in its re-entry cool-down waits, and the held pair stays until it is over")
    func noReplacementForCoolingCandidate() {
        // One place, 8 h cool-down. ETH (0.001) is entered at 00:00, opens at 01:00, leaves at the
        // 10 h limit (11:00, flat at 12:00: cooling down until 20:00). BTC (0.0001) takes the place
        // at 12:00. From 16:00 ETH pays 0.002: a switch is worth (0.002 − 0.0001) × 90 = 0.171 >
        // 0.003, but not before ETH may enter again — closing BTC earlier would pay its round trip
        // for an empty book.
        let c = levelConfig(maxHoldingHours: 10, maxOpenPairs: 1)
        var run = PipelineRun(config: compositeEngine(pairs: 2, c), from: hours(0), to: hours(22), cooldownMs: 8 * Millis.hour)
        run.run(pairsMarket([("100", "100"), ("100", "100")], fromHour: -2, toHour: 22,
                            funding: [0: ["0.0001", "0.001"], 8: ["0.0001", "0.001"], 16: ["0.0001", "0.002"]]))
        #expect(run.enters.map(\.time) == [hours(0), hours(12), hours(21)])
        #expect(run.enters.map(\.value.perp) == [InstrumentId(3), InstrumentId(1), InstrumentId(3)])
        #expect(run.exitSignals.map(\.time) == [hours(11), hours(20)])
        #expect(run.exitSignals.last?.value.components.first { $0.factor == .replacement }?.value == f("0.171"))
        // ETH waits out its cool-down (journaled once, at 12:00); BTC, flat from 21:00, then waits for its own.
        let cooling = run.whyNot.filter { $0.value.reason == .cooldown }
        #expect(cooling.map(\.time) == [hours(12), hours(21)] && cooling.map(\.value.perp) == [InstrumentId(3), InstrumentId(1)])
    }

    @Test("a held pair inside its minimum holding is not replaced")
    func noReplacementInsideMinimumHolding() {
        let c = levelConfig(minHoldingHours: 12, maxOpenPairs: 1)
        var run = PipelineRun(config: compositeEngine(pairs: 2, c), from: hours(0), to: hours(10))
        run.run(pairsMarket([("100", "100"), ("100", "100")], fromHour: -2, toHour: 10, funding: [0: ["0.0001", "0.00001"], 8: ["0.0001", "0.001"]]))
        #expect(run.exitSignals.isEmpty && run.enters.count == 1)
    }
}

@Suite("Composite strategy through the reducer: conviction sizing under the cap")
struct CompositeSizingReducerTests {
    @Test("a stronger score gets a larger position under identical constraints: 15,625 vs 21,250 USDT")
    func conviction() {
        // Entry 0.2, score = rate ÷ 0.0002: BTC 0.0001 → 0.5 → conviction (0.5 − 0.2) / 0.8 = 0.375
        // → 10,000 + 0.375 × 15,000 = 15,625 → 156.25 at 100; ETH 0.00016 → 0.8 → 0.75 → 21,250 → 212.5.
        let c = levelConfig(entryScore: "0.2", minNotional: "10000", maxNotional: "25000")
        var run = PipelineRun(config: compositeEngine(pairs: 2, c), from: hours(0), to: hours(1))
        run.run(pairsMarket([("100", "100"), ("100", "100")], fromHour: -2, toHour: 1, funding: [0: ["0.0001", "0.00016"]]))
        let perpLegs = run.openingIntents.filter { $0.value.leg == .perp }
        // Ranked: ETH first.
        #expect(perpLegs.map(\.value.instrumentId) == [InstrumentId(3), InstrumentId(1)])
        #expect(perpLegs.map(\.value.qty) == [f("212.5"), f("156.25")])
        #expect(run.enters.map(\.value.score) == [f("0.8"), f("0.5")])
        #expect(run.breaches.isEmpty)
    }

    @Test("three pairs at full conviction under a 40,000 cap: 25,000, then scaled to 15,000 (journaled), then no room (skip: cap)")
    func capScaledAndSkipped() throws {
        var risk = testRisk
        risk.maxTotalNotionalUsdt = Fixed(40_000)
        let c = levelConfig(entryScore: "0.2", minNotional: "10000", maxNotional: "25000")
        var run = PipelineRun(config: compositeEngine(pairs: 3, c, risk: risk), from: hours(0), to: hours(2))
        run.run(pairsMarket([("100", "100"), ("100", "100"), ("100", "100")], fromHour: -2, toHour: 2, funding: every8h([0: "0.001"], pairs: 3)))
        let perpLegs = run.openingIntents.filter { $0.value.leg == .perp }
        #expect(perpLegs.map(\.value.instrumentId) == [InstrumentId(1), InstrumentId(3)])
        #expect(perpLegs.map(\.value.qty) == [f("250"), f("150")])
        let scaled = run.breaches.filter { $0.value.action == .scaled }
        #expect(scaled.count == 1)
        #expect(scaled.first?.value.rule == .maxTotalNotional && scaled.first?.value.instrumentId == InstrumentId(3))
        #expect(scaled.first?.value.limit == f("15000") && scaled.first?.value.observed == f("25000"))
        // The breach is caused by ETH's entry signal.
        let ethSignal = try #require(run.enters.first { $0.value.perp == InstrumentId(3) })
        #expect(run.journal.first { if case .riskBreached = $0.out.event { true } else { false } }?.out.causation == .local(ethSignal.seq))
        // SOL: no room; journaled once over three scans.
        let cap = run.whyNot.filter { $0.value.reason == .cap }
        #expect(cap.count == 1 && cap.first?.value.perp == InstrumentId(5) && cap.first?.time == hours(0))
        #expect(cap.first?.value.limit == .zero && cap.first?.value.observed == f("10000"))
        #expect(run.breaches.allSatisfy { $0.value.action == .scaled })
    }

    @Test("property (60 seeded scenarios): whatever the scores, prices and cap, open notional at entry never exceeds the cap; scaled and cap are journaled exactly when they apply")
    func capProperty() throws {
        var total = (entered: 0, scaled: 0, cap: 0)
        for seed in UInt64(1)...60 {
            let counts = try Self.capScenario(seed: seed)
            total.entered += counts.entered
            total.scaled += counts.scaled
            total.cap += counts.cap
        }
        // The seeds reach every case: plain entries, entries scaled to the room, and no room.
        #expect(total.entered > 60 && total.scaled > 10 && total.cap > 10, "\(total)")
    }

    /// One random scenario; returns how many pairs were entered, scaled and skipped for the cap.
    static func capScenario(seed: UInt64) throws -> (entered: Int, scaled: Int, cap: Int) {
        var rng = SplitMix64(seed: seed)
        let pairCount = 3 + rng.below(2)
        let minNotional = Fixed(Int64(2_000 + rng.below(13_000)))
        let maxNotional = minNotional + Fixed(Int64(rng.below(25_001 - Int(minNotional.mantissa))))
        let cap = Fixed(Int64(5_000 + rng.below(90_000)))
        var risk = testRisk
        risk.maxTotalNotionalUsdt = cap
        risk.maxPairNotionalUsdt = Fixed(25_000)
        // Entry score 0.2, score = rate ÷ 0.0002; rates 0.00005 … 0.0005.
        var c = levelConfig(entryScore: "0.2", minNotional: minNotional.description, maxNotional: maxNotional.description, maxOpenPairs: pairCount)
        c.feeGateMultiple = .zero
        var prices: [(spot: String, perp: String)] = []
        var rates: [String] = []
        for _ in 0..<pairCount {
            let spotCents = Int64(2_000 + rng.below(500_000))
            let perpCents = spotCents + Int64(rng.below(2001)) - 1000
            prices.append((Fixed(mantissa: spotCents, scale: 2).description, Fixed(mantissa: perpCents, scale: 2).description))
            rates.append(Fixed(mantissa: Int64(5 + rng.below(46)), scale: 5).description)
        }
        var run = PipelineRun(config: compositeEngine(pairs: pairCount, c, risk: risk, cash: "10000000"), symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"],
                              from: hours(0), to: hours(2))
        run.run(pairsMarket(prices, fromHour: -2, toHour: 2, funding: [0: rates], volume: "10000000000"))

        // A reference model of the sizer: requested = min + conviction × (max − min), conviction =
        // (score − 0.2) ÷ 0.8 (6 decimals, down), score = min(1, rate ÷ 0.0002) (6 decimals).
        func requested(score: Fixed) -> Fixed {
            let conviction = Fixed.min(Fixed(1), Fixed.max(.zero, (score - f("0.2")).divided(by: f("0.8"), scale: 6, .down)))
            return minNotional + (maxNotional - minNotional).multiplied(by: conviction, scale: 8, .towardZero)
        }
        var open = Fixed.zero
        var decided = Set<InstrumentId>()
        let scaledBySignal = Dictionary(run.breaches.filter { $0.value.action == .scaled }.compactMap { b in
            run.journal.first { $0.seq == b.seq }.map { ($0.out.causation.raw, b.value) }
        }, uniquingKeysWith: { a, _ in a })
        // Walk the 00:00 scan's decisions in journal order: entries and skips.
        for e in run.journal where e.out.time == hours(0) {
            switch e.out.event {
            case .signalComputed(let s) where s.action == .enter:
                let k = Int(s.perp.rawValue / 2)
                let perpPrice = f(prices[k].perp), spotPrice = f(prices[k].spot)
                let intent = try #require(run.openingIntents.first { $0.value.instrumentId == s.perp })
                let qty = intent.value.qty
                let room = cap - open
                let want = requested(score: s.score)
                #expect(qty.isPositive && qty.isMultiple(of: f("0.001")), "seed \(seed)")
                #expect(qty.multiplied(by: spotPrice, scale: 8, .towardZero) >= f("5") && qty.multiplied(by: perpPrice, scale: 8, .towardZero) >= f("5"))
                // Neither leg's notional exceeds what was asked, nor the room left.
                let dearer = Fixed.max(spotPrice, perpPrice)
                #expect(qty.multiplied(by: dearer, scale: 8, .up) <= Fixed.min(want, room), "seed \(seed): \(qty) × \(dearer) vs \(want), room \(room)")
                // Scaled exactly when the room was below the request.
                let scaled = scaledBySignal[CausationRef.local(e.seq).raw]
                #expect((scaled != nil) == (want > room), "seed \(seed): want \(want), room \(room)")
                if let scaled { #expect(scaled.limit == room && scaled.observed == want) }
                open += qty.multiplied(by: perpPrice, scale: 8, .up)
                #expect(open <= cap, "seed \(seed): open \(open) over the cap \(cap)")
                decided.insert(s.perp)
            case .entrySkipped(let x):
                // No room: exactly when the room left is below the minimum size.
                #expect(x.reason == .cap, "seed \(seed): \(x.reason)")
                #expect(cap - open < minNotional)
                #expect(x.limit == Fixed.max(.zero, cap - open) && x.observed == minNotional)
                decided.insert(x.perp)
            case .riskBreached(let b):
                #expect(b.action == .scaled, "seed \(seed): \(b.rule) \(b.action)")
            default:
                break
            }
        }
        // Every pair qualified (scores ≥ 0.25 > 0.2, no fee gate): each was entered or skipped for the cap.
        #expect(decided.count == pairCount, "seed \(seed)")
        // Nothing is decided later: the cap holds at every scan.
        #expect(run.enters.allSatisfy { $0.time == hours(0) })
        return (run.enters.count, scaledBySignal.count, run.whyNot.filter { $0.value.reason == .cap }.count)
    }
}
