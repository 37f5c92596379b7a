// The threshold strategy, its risk checks and its accounting, driven through the same
// pipeline the backtest runs: entries and exits with their causation links, ranking under a
// cap on open pairs, the pre-trade rules, the drawdown kill switch, the margin-buffer exit,
// liquidation of the perp leg, the P&L identity to the unit, the book projection rebuilt
// from the journal, and no look-ahead.

import CarryCore
import Testing

private func intents(_ run: PipelineRun) -> [(seq: UInt64, time: Timestamp, value: OrderIntended)] {
    run.events { if case .orderIntended(let x) = $0 { x } else { nil } }
}

private func breaches(_ run: PipelineRun) -> [RiskBreached] {
    run.events { if case .riskBreached(let x) = $0 { x } else { nil } }.map(\.value)
}

@Suite("Reducer: threshold strategy and risk")
struct ReducerTests {
    @Test("an entry: a signal with its components caused by the tick, then equal and opposite legs caused by the signal")
    func entry() throws {
        var run = PipelineRun(config: engineConfig(), from: hours(0), to: hours(2))
        run.run(hourlyMarket(fromHour: 0, toHour: 2, perp: { _ in "100.2" }, funding: [0: ["0.0002"]]))
        let tick = try #require(run.journal.first { if case .clockTicked = $0.out.event { true } else { false } })
        #expect(tick.out.time == hours(0))
        let signal = try #require(run.journal.first { if case .signalComputed = $0.out.event { true } else { false } })
        guard case .signalComputed(let s) = signal.out.event else { return }
        #expect(s.action == .enter && s.score == f("0.0002") && s.strategy == .threshold)
        #expect(s.components.map(\.factor) == [.fundingLevel, .threshold])
        #expect(s.components[0].value == f("0.0002") && s.components[1].value == f("0.0001"))
        // The funding level names the settlement it came from (the first input, source seq 1).
        #expect(s.components[0].sourceSeq == CausationRef.source(1).raw)
        #expect(signal.out.causation == .local(tick.seq))
        let legs = intents(run)
        #expect(legs.count == 2)
        // 20,000 / 100 = 200 of each leg, spot bought, perp sold.
        #expect(legs.map(\.value.side) == [.buy, .sell] && legs.allSatisfy { $0.value.qty == f("200") && $0.value.reason == .open })
        #expect(legs.allSatisfy { $0.value.pairId == signal.seq })
        #expect(run.journal.filter { if case .orderIntended = $0.out.event { true } else { false } }.allSatisfy { $0.out.causation == .local(signal.seq) })
        #expect(run.pipeline.reducer.pairs[0].phase == .open)
        #expect(run.pipeline.reducer.portfolio.position(InstrumentId(0)) == f("200"))
        #expect(run.pipeline.reducer.portfolio.position(InstrumentId(1)) == f("-200"))
    }

    @Test("no entry below the threshold or on a funding print older than maxRateAge")
    func noEntry() {
        var low = PipelineRun(config: engineConfig(), from: hours(0), to: hours(3))
        low.run(hourlyMarket(fromHour: 0, toHour: 3, funding: [0: ["0.000099"]]))
        #expect(intents(low).isEmpty)
        var stale = PipelineRun(config: engineConfig(), from: hours(10), to: hours(12))
        stale.run(hourlyMarket(fromHour: 0, toHour: 12, funding: [0: ["0.001"]]), tradingFrom: hours(10))
        #expect(intents(stale).isEmpty)
    }

    @Test("exit when the rate falls below the exit threshold: reduce-only legs, then flat")
    func exit() {
        var run = PipelineRun(config: engineConfig(), from: hours(0), to: hours(10))
        run.run(hourlyMarket(fromHour: 0, toHour: 10, funding: [0: ["0.0002"], 8: ["0.00001"]]))
        let all = intents(run)
        #expect(all.count == 4)
        let closing = all.suffix(2)
        #expect(closing.allSatisfy { $0.time == hours(8) && $0.value.reduceOnly && $0.value.reason == .close && $0.value.qty == f("200") })
        #expect(closing.map(\.value.side) == [.sell, .buy])
        let exitSignal = run.events { if case .signalComputed(let s) = $0, s.action == .exit { s } else { nil } }
        #expect(exitSignal.count == 1 && exitSignal[0].value.score == f("0.00001"))
        #expect(run.pipeline.reducer.pairs[0].phase == .flat)
        #expect(run.pipeline.reducer.portfolio.position(InstrumentId(0)).isZero && run.pipeline.reducer.portfolio.position(InstrumentId(1)).isZero)
    }

    @Test("several symbols: ranked by rate per 8 h, at most maxOpenPairs open")
    func ranking() {
        var run = PipelineRun(config: engineConfig(pairs: 3, strategy: strategy(maxOpenPairs: 2)), from: hours(0), to: hours(1))
        run.run(hourlyMarket(pairs: 3, fromHour: 0, toHour: 1, funding: [0: ["0.0003", "0.0005", "0.0002"]]))
        let opened = intents(run).filter { $0.value.leg == .perp }.map(\.value.instrumentId)
        #expect(opened == [InstrumentId(3), InstrumentId(1)])   // ETH (0.05 %), then BTC (0.03 %); SOL waits
    }

    @Test("pre-trade rules: pair notional, total notional and balance breaches are journaled at every scan that wanted to enter, and nothing is sent")
    func preTrade() {
        var big = PipelineRun(config: engineConfig(strategy: strategy(notional: "30000")), from: hours(0), to: hours(1))
        big.run(hourlyMarket(fromHour: 0, toHour: 1, funding: [0: ["0.0002"]]))
        #expect(intents(big).isEmpty)
        #expect(breaches(big).map(\.rule) == [.maxPairNotional, .maxPairNotional])   // the 00:00 and 01:00 scans
        #expect(breaches(big).first?.limit == f("25000") && breaches(big).first?.observed == f("30000"))

        var risk = testRisk
        risk.maxTotalNotionalUsdt = Fixed(30_000)
        var total = PipelineRun(config: engineConfig(pairs: 2, risk: risk), from: hours(0), to: hours(1))
        total.run(hourlyMarket(pairs: 2, fromHour: 0, toHour: 1, funding: [0: ["0.0003", "0.0002"]]))
        #expect(intents(total).count == 2)
        #expect(breaches(total).map(\.rule) == [.maxTotalNotional, .maxTotalNotional])
        #expect(breaches(total).map(\.observed) == [f("40000"), f("40000")])

        var poor = PipelineRun(config: engineConfig(cash: "25000"), from: hours(0), to: hours(1))
        poor.run(hourlyMarket(fromHour: 0, toHour: 1, funding: [0: ["0.0002"]]))
        #expect(intents(poor).isEmpty)
        #expect(breaches(poor).map(\.rule) == [.balance, .balance])
    }

    @Test("pre-trade rules as pure functions, each at its edge")
    func checkEntryRules() {
        let ok = EntryProposal(qty: f("200"), spotPrice: f("100"), perpPrice: f("100"), notionalUsdt: f("20000"), openNotionalUsdt: .zero,
                               equityUsdt: f("100000"), committedUsdt: .zero, estimatedFeesUsdt: f("30"))
        #expect(RiskChecks.checkEntry(ok, limits: testRisk, margin: testMargin) == nil)
        var p = ok
        p.notionalUsdt = f("25000.00000001")
        #expect(RiskChecks.checkEntry(p, limits: testRisk, margin: testMargin)?.0 == .maxPairNotional)
        p = ok
        p.openNotionalUsdt = f("55000.00000001")
        #expect(RiskChecks.checkEntry(p, limits: testRisk, margin: testMargin)?.0 == .maxTotalNotional)
        #expect(RiskChecks.checkEntry(ok, limits: testRisk, margin: MarginModel(perpLeverage: f("3.5"), maintenanceMarginRate: f("0.005")))?.0 == .maxLeverage)
        // Leverage 3: liquidation at 100 × (4/3) / 1.005 = 132.67 → buffer 0.3266 ≥ 0.30; at mmr 0.03 → 129.45 → 0.2944 < 0.30.
        #expect(RiskChecks.checkEntry(ok, limits: testRisk, margin: MarginModel(perpLeverage: f("3"), maintenanceMarginRate: f("0.005"))) == nil)
        let tight = RiskChecks.checkEntry(ok, limits: testRisk, margin: MarginModel(perpLeverage: f("3"), maintenanceMarginRate: f("0.03")))
        #expect(tight?.0 == .marginBuffer && tight?.observed == f("0.294498"))
        // Balance: 100,000 − 20,000 spot − 10,000 margin − 30 fees = 69,970 free; committed 69,970 leaves exactly 0.
        p = ok
        p.committedUsdt = f("69970")
        #expect(RiskChecks.checkEntry(p, limits: testRisk, margin: testMargin) == nil)
        p.committedUsdt = f("69970.00000001")
        #expect(RiskChecks.checkEntry(p, limits: testRisk, margin: testMargin)?.0 == .balance)
        #expect(RiskChecks.drawdown(equity: f("95000"), peak: f("100000")) == f("0.05"))
        #expect(RiskChecks.drawdown(equity: f("101000"), peak: f("100000")) == .zero)
    }

    @Test("a 5 % drawdown at a scan engages the kill switch and flattens both legs; no entries afterwards")
    func drawdownKillSwitch() {
        // The basis blows out: spot falls to 60 while the perp stays at 100 — 200 × 40 = 8,000 lost.
        var run = PipelineRun(config: engineConfig(slippage: noSlippage), from: hours(0), to: hours(6))
        run.run(hourlyMarket(fromHour: 0, toHour: 6, spot: { $0 < 3 ? "100" : "60" }, funding: [0: ["0.0002"]]))
        let b = breaches(run)
        #expect(b.first?.rule == .drawdown && b.first?.action == .killSwitch && b.first?.limit == f("0.05"))
        let kill = run.events { if case .killSwitchChanged(let k) = $0 { k } else { nil } }
        #expect(kill.count == 1 && kill[0].value.engaged && kill[0].value.source == .automatic && kill[0].time == hours(3))
        let flatten = intents(run).filter { $0.value.reason == .flatten }
        #expect(flatten.count == 2 && flatten.allSatisfy { $0.value.reduceOnly && $0.time == hours(3) })
        #expect(intents(run).count == 4)   // the opening legs and the two flattening legs, nothing more
        #expect(run.pipeline.reducer.killSwitchEngaged && run.pipeline.reducer.pairs[0].phase == .flat)
    }

    @Test("the pair is closed when the perp's distance to liquidation falls below exitMarginBuffer")
    func marginBufferExit() {
        // Entry 100, leverage 2: liquidation 149.25373134; at 140 the buffer is 9.25373134 / 140
        // = 0.066098 < 0.10. (A day's cool-down keeps the pair from reopening at 140.)
        var run = PipelineRun(config: engineConfig(slippage: noSlippage), from: hours(0), to: hours(5), cooldownMs: Millis.day)
        run.run(hourlyMarket(fromHour: 0, toHour: 5, spot: { $0 < 3 ? "100" : "140" }, perp: { $0 < 3 ? "100" : "140" }, funding: [0: ["0.0002"]]))
        let b = breaches(run)
        #expect(b.map(\.rule) == [.marginBuffer])
        #expect(b.map(\.observed) == [f("0.066098")])
        let closing = intents(run).filter { $0.value.reduceOnly }
        #expect(closing.count == 2 && closing.allSatisfy { $0.time == hours(3) && $0.value.reason == .close })
        #expect(run.pipeline.reducer.pairs[0].phase == .flat)
    }

    @Test("a liquidated perp leg: the whole margin is lost as price P&L (not a fee) and the naked spot leg is closed")
    func liquidation() {
        // The 03:00 perp bar spikes to 160 (liquidation at 149.26) and closes at 120.
        var inputs = hourlyMarket(fromHour: 0, toHour: 5, funding: [0: ["0.0002"]])
        inputs = inputs.map { t, e in
            if t == hours(3), case .barClosed(let b) = e, b.instrumentId == InstrumentId(1) { return (t, .barClosed(bar(1, closingAt: t, "120", high: "160"))) }
            return (t, e)
        }
        var run = PipelineRun(config: engineConfig(slippage: noSlippage), from: hours(0), to: hours(5))
        run.run(inputs)
        let liq = run.events { if case .orderFilled(let x) = $0, x.isLiquidation { x } else { nil } }
        // Bought back at the bankruptcy price 150 (entry 100 × 1.5): 200 × 50 = 10,000 of price loss, no fee.
        #expect(liq.count == 1 && liq[0].value.price == f("150") && liq[0].value.fee == .zero)
        #expect(run.pipeline.reducer.portfolio.fees[1] == f("10") && run.pipeline.reducer.portfolio.pricePnL(InstrumentId(1), mark: f("120")) == f("-10000"))
        #expect(breaches(run).first?.rule == .liquidation)
        let closeSpot = intents(run).last
        #expect(closeSpot?.value.instrumentId == InstrumentId(0) && closeSpot?.value.side == .sell && closeSpot?.time == hours(3))
        #expect(run.pipeline.reducer.portfolio.liquidations == 1 && run.pipeline.reducer.pairs[0].phase == .flat)
    }
}

/// A random but reproducible market: random-walk prices, random funding, several symbols.
func randomMarket(seed: UInt64, pairs: Int, hours count: Int64, perturbAfter: Timestamp? = nil, perturbSeed: UInt64 = 0) -> [(Timestamp, Event)] {
    var rng = SplitMix64(seed: seed)
    var alt = SplitMix64(seed: perturbSeed)
    var spot = Array(repeating: Int64(10_000_00), count: pairs)   // cents
    var basis = Array(repeating: Int64(0), count: pairs)
    var out: [(Timestamp, Event)] = []
    for h in 0...count {
        let t = hours(h)
        let perturb = perturbAfter.map { t > $0 } ?? false
        for k in 0..<pairs {
            spot[k] = max(100_00, spot[k] + Int64(rng.below(4001)) - 2000)
            basis[k] = max(-3000, min(3000, basis[k] + Int64(rng.below(401)) - 200))
            var s = spot[k], p = spot[k] + basis[k]
            var rate = Int64(rng.below(61)) - 15   // −0.00015 … +0.00045 in 1e-5 steps
            if perturb {
                s = 100_00 + Int64(alt.below(20_000_00))
                p = 100_00 + Int64(alt.below(20_000_00))
                rate = Int64(alt.below(201)) - 100
            }
            if h % 8 == 0 {
                out.append((t, .fundingSettled(FundingSettled(instrumentId: InstrumentId(UInt32(2 * k + 1)), ratePerInterval: Fixed(mantissa: rate, scale: 5),
                                                              intervalMinutes: 480, markPrice: nil))))
            }
            let volume = Fixed(Int64(200_000 + rng.below(5_000_000)))
            for (id, cents) in [(UInt32(2 * k), s), (UInt32(2 * k + 1), p)] {
                let close = Fixed(mantissa: cents, scale: 2)
                let wiggle = Fixed(mantissa: Int64(rng.below(3000)), scale: 2)
                out.append((t, .barClosed(BarClosed(instrumentId: InstrumentId(id), intervalSeconds: 3600, openTime: t.adding(ms: -Millis.hour),
                                                    open: close, high: close + wiggle, low: close - wiggle, close: close,
                                                    volumeBase: Fixed(1), volumeQuote: volume))))
            }
        }
    }
    return out
}

@Suite("Reducer: accounting, projection and look-ahead properties")
struct ReducerPropertyTests {
    static let seeds: [UInt64] = [1, 2, 3, 4, 5, 6, 7, 8]

    /// A lively config: low thresholds, short holding, so many pairs open and close.
    static func lively() -> EngineConfig {
        engineConfig(pairs: 3, strategy: strategy(entry: "0.0002", exit: "0.00005", maxHoldingHours: 48, notional: "15000"))
    }

    @Test("an independent ledger of the journaled fills and payments gives the engine's equity at every tick; final equity = initial + price P&L + funding − fees − slippage, to the unit", arguments: seeds)
    func identity(seed: UInt64) {
        let market = randomMarket(seed: seed, pairs: 3, hours: 24 * 20)
        var run = PipelineRun(config: Self.lively(), from: hours(0), to: hours(24 * 20), cooldownMs: 8 * Millis.hour)
        run.run(market)
        let r = run.pipeline.reducer
        let p = r.portfolio
        #expect(p.totalFills > 20, "the market should make the strategy trade")
        #expect(!p.totalFunding.isZero && p.totalFees.isPositive && p.totalSlippage.isPositive)

        // An independent ledger from the journaled fills and payments and the market's bars,
        // without Portfolio: at every tick it must give the equity the engine sampled, and at
        // the end the same funding, fees, slippage and price P&L.
        var cash = f("100000"), qty = Array(repeating: Fixed.zero, count: 6), refCost = Array(repeating: Fixed.zero, count: 6)
        var mark = Array(repeating: Fixed?.none, count: 6)
        var fees = Fixed.zero, funding = Fixed.zero, slippage = Fixed.zero
        var bars = market.compactMap { t, e -> (Timestamp, BarClosed)? in if case .barClosed(let b) = e { (t, b) } else { nil } }[...]
        var samples = run.equity[...]
        func equity() -> Fixed {
            var total = cash
            for i in 0..<6 where !qty[i].isZero { total += qty[i].multiplied(by: mark[i]!, scale: 8, .toNearestOrEven) }
            return total
        }
        for e in run.journal {
            while let b = bars.first, b.0 <= e.out.time {
                mark[b.1.instrumentId.index] = b.1.close
                bars = bars.dropFirst()
            }
            switch e.out.event {
            case .orderFilled(let x):
                let dq = x.side == .buy ? x.qty : -x.qty
                let paid = dq.multiplied(by: x.price, scale: 8, .toNearestOrEven), atRef = dq.multiplied(by: x.referencePrice, scale: 8, .toNearestOrEven)
                cash = cash - paid - x.fee
                qty[x.instrumentId.index] += dq
                refCost[x.instrumentId.index] += atRef
                fees += x.fee
                slippage += paid - atRef
            case .fundingPaid(let x):
                cash += x.amount
                funding += x.amount
            case .clockTicked:
                // The engine samples after the tick's own decisions, which move no cash.
                let s = samples.removeFirst()
                #expect(s.0 == e.out.time)
                #expect(s.1 == equity(), "equity at \(s.0.iso8601)")
            default:
                break
            }
        }
        #expect(samples.isEmpty && run.equity.count == 24 * 20 + 1)
        #expect(fees == p.totalFees && funding == p.totalFunding && slippage == p.totalSlippage)
        var pricePnL = Fixed.zero
        for i in 0..<6 { pricePnL += (qty[i].isZero ? .zero : qty[i].multiplied(by: mark[i]!, scale: 8, .toNearestOrEven)) - refCost[i] }
        #expect(pricePnL == p.totalPricePnL(marks: { r.mark($0) }))
        #expect(equity() == p.initialCash + pricePnL + funding - fees - slippage)
        #expect(equity() == r.equity)
        // The portfolio's running totals are the per-instrument sums in value and spelling
        // (equity.csv prints them), and so is its price P&L from them.
        #expect(p.totalFees.isIdentical(to: p.fees.reduce(.zero, +)) && p.totalSlippage.isIdentical(to: p.slippage.reduce(.zero, +)))
        #expect(p.totalFunding.isIdentical(to: p.funding.reduce(.zero, +)) && p.totalReferenceCost.isIdentical(to: p.referenceCost.reduce(.zero, +)))
        #expect(p.totalFills == p.fills.reduce(0, +))
        var perInstrument = Fixed.zero
        for i in p.qty.indices {
            let id = InstrumentId(UInt32(i))
            if p.qty[i].isZero { perInstrument -= p.referenceCost[i] } else { perInstrument += p.pricePnL(id, mark: r.mark(id)) }
        }
        #expect(p.totalPricePnL(marks: { r.mark($0) }).isIdentical(to: perInstrument))
        #expect(r.equity.isIdentical(to: equity()))
        let valuation = p.valuation(marks: { r.mark($0) })
        #expect(valuation.equity.isIdentical(to: r.equity) && valuation.pricePnL.isIdentical(to: perInstrument))
        let byArray = p.valuation(marks: r.marks)
        #expect(byArray.equity.isIdentical(to: valuation.equity) && byArray.pricePnL.isIdentical(to: valuation.pricePnL))
        // The simulated venue agrees on cash and positions.
        #expect(p.cash == run.pipeline.venue.cash && cash == p.cash)
        for i in 0..<6 { #expect(qty[i] == run.pipeline.venue.positions[i]) }
    }

    @Test("streaming an instant (begin, each bar as read, end) journals exactly what processing it as a group does", arguments: seeds)
    func streamingEqualsGroups(seed: UInt64) {
        // The random market, with an interval change listed first at every 50th hour (the
        // pipeline handles it after the instant's bars, before its settlements).
        var market: [(Timestamp, Event)] = []
        for (t, e) in randomMarket(seed: seed, pairs: 3, hours: 24 * 20) {
            if t.ms % (50 * Millis.hour) == 0 && market.last?.0 != t {
                market.append((t, .fundingIntervalChanged(FundingIntervalChanged(instrumentId: InstrumentId(1), previousMinutes: 480, newMinutes: 480))))
            }
            market.append((t, e))
        }
        var grouped = PipelineRun(config: Self.lively(), from: hours(24), to: hours(24 * 20), cooldownMs: 8 * Millis.hour)
        grouped.run(market, tradingFrom: hours(24))
        var streamed = PipelineRun(config: Self.lively(), from: hours(24), to: hours(24 * 20), cooldownMs: 8 * Millis.hour)
        streamed.stream(market, tradingFrom: hours(24))
        #expect(grouped.journal.count > 100 && grouped.pipeline.reducer.portfolio.totalFills > 20)
        #expect(streamed.journal.map(\.seq) == grouped.journal.map(\.seq))
        #expect(streamed.journal.map(\.out) == grouped.journal.map(\.out))
        #expect(streamed.equity.map(\.0) == grouped.equity.map(\.0) && streamed.equity.map(\.1) == grouped.equity.map(\.1))
        #expect(streamed.pipeline.reducer == grouped.pipeline.reducer)
    }

    @Test("bars applied by their marks where the engine is idle (a sweep's shortcut) journal exactly what the whole bars do", arguments: seeds)
    func idleMarksEqualWholeBars(seed: UInt64) {
        // At most two pairs of three held, a quarter-second latency (orders wait a bar), a
        // cool-down; the spot legs of pairs 1 and 2 go without volume for hours at a time, so
        // opening pairs wait with one leg filled and leg risk is metered — while the instant's
        // first bar (pair 0's spot) may be idle: every condition the shortcut tests comes and goes.
        var config = Self.lively()
        config.strategy.maxOpenPairs = 2
        config.execution.legRiskBudgetMs = 2 * Millis.hour
        let market = randomMarket(seed: seed, pairs: 3, hours: 24 * 20).map { t, e -> (Timestamp, Event) in
            guard case .barClosed(var b) = e, b.instrumentId.rawValue == 2 || b.instrumentId.rawValue == 4, (t.ms / Millis.hour) % 7 < 3 else { return (t, e) }
            b.volumeQuote = .zero
            return (t, .barClosed(b))
        }
        var whole = PipelineRun(config: config, from: hours(24), to: hours(24 * 20), cooldownMs: 8 * Millis.hour)
        whole.stream(market, tradingFrom: hours(24))
        var marked = PipelineRun(config: config, from: hours(24), to: hours(24 * 20), cooldownMs: 8 * Millis.hour)
        let byMark = marked.streamByMarks(market, tradingFrom: hours(24))
        let bars = market.filter { if case .barClosed = $0.1 { true } else { false } }.count
        #expect(whole.pipeline.reducer.portfolio.totalFills > 10, "the market should make the strategy trade")
        #expect(!whole.events { if case .riskBreached(let r) = $0, r.rule == .legRisk { r } else { nil } }.isEmpty, "legs out of step should exhaust a budget")
        // Most bars go by mark (two pairs idle at least), not all (the held pair's go whole).
        #expect(byMark > bars / 2 && byMark < bars)
        #expect(marked.journal.map(\.seq) == whole.journal.map(\.seq))
        #expect(marked.journal.map(\.out) == whole.journal.map(\.out))
        #expect(marked.equity.map(\.0) == whole.equity.map(\.0) && marked.equity.map(\.1) == whole.equity.map(\.1))
        #expect(marked.pipeline.reducer == whole.pipeline.reducer)
        #expect(marked.pipeline.reducer.marks == whole.pipeline.reducer.marks && marked.pipeline.reducer.now == whole.pipeline.reducer.now)
        #expect(marked.pipeline.venue.cash == whole.pipeline.venue.cash && marked.pipeline.venue.positions == whole.pipeline.venue.positions)
        #expect(marked.pipeline.reducer.activePairs == marked.pipeline.reducer.pairs.filter { $0.phase != .flat }.count)
    }

    @Test("the book projection folded from the journal (and the bars) equals the engine's book; pairs sum to the totals", arguments: seeds)
    func projection(seed: UInt64) {
        let market = randomMarket(seed: seed, pairs: 3, hours: 24 * 20)
        var run = PipelineRun(config: Self.lively(), from: hours(0), to: hours(24 * 20), cooldownMs: 8 * Millis.hour)
        run.run(market)
        // Fold: the run's events in seq order, the bars merged in before run events of the same time.
        var book = BookProjection(initialCash: f("100000"), barIntervalSeconds: 3600, margin: testMargin)
        var bars = market.filter { if case .barClosed = $0.1 { true } else { false } }[...]
        for e in run.journal {
            while let b = bars.first, b.0 <= e.out.time {
                book.apply(b.1, time: b.0, seq: 0)
                bars = bars.dropFirst()
            }
            book.apply(e.out.event, time: e.out.time, seq: e.seq)
        }
        for b in bars { book.apply(b.1, time: b.0, seq: 0) }
        let r = run.pipeline.reducer
        #expect(book.portfolio == r.portfolio)
        #expect(book.equity == r.equity)
        let marks: (InstrumentId) -> Fixed? = { book.mark($0) }
        let pnl = book.pnl
        #expect(pnl.realized.net + pnl.unrealized.net == book.equity - book.portfolio.initialCash)
        #expect(pnl.realized.funding + pnl.unrealized.funding == book.portfolio.totalFunding)
        #expect(pnl.realized.fees + pnl.unrealized.fees == book.portfolio.totalFees)
        #expect(pnl.realized.pricePnL + pnl.unrealized.pricePnL == book.portfolio.totalPricePnL(marks: marks))
        #expect(book.activePairCount == r.pairs.filter { $0.phase != .flat }.count)
        let opened = run.events { if case .signalComputed(let s) = $0, s.action == .enter { s } else { nil } }.count
        #expect(book.pairs.count <= opened && book.pairs.count > 3)
    }

    @Test("no look-ahead: perturbing every input after T leaves every output before T byte-identical", arguments: [UInt64(11), 12, 13])
    func noLookAhead(seed: UInt64) {
        let cut = hours(24 * 7 + 5).adding(ms: Millis.minute * 30)   // mid-bar: the bar spanning T closes after T
        let a = randomMarket(seed: seed, pairs: 3, hours: 24 * 14)
        let b = randomMarket(seed: seed, pairs: 3, hours: 24 * 14, perturbAfter: cut, perturbSeed: seed &* 7919)
        #expect(a.filter { $0.0 <= cut }.map(\.1) == b.filter { $0.0 <= cut }.map(\.1))
        #expect(a.filter { $0.0 > cut }.map(\.1) != b.filter { $0.0 > cut }.map(\.1))
        var ra = PipelineRun(config: Self.lively(), from: hours(0), to: hours(24 * 14), cooldownMs: 8 * Millis.hour)
        var rb = PipelineRun(config: Self.lively(), from: hours(0), to: hours(24 * 14), cooldownMs: 8 * Millis.hour)
        ra.run(a)
        rb.run(b)
        let beforeA = ra.journal.filter { $0.out.time <= cut }
        let beforeB = rb.journal.filter { $0.out.time <= cut }
        #expect(beforeA.count > 50)
        #expect(beforeA.map(\.seq) == beforeB.map(\.seq))
        // Byte for byte: the encoded payload (exact decimal scales), time and causation.
        func bytes(_ e: (seq: UInt64, out: PipelineOutput)) -> [UInt8] {
            var w = ByteWriter()
            w.write(e.out.event.kind.rawValue)
            w.write(e.out.time)
            w.write(e.out.causation.raw)
            e.out.event.encodePayload(to: &w)
            return w.bytes
        }
        #expect(beforeA.map(bytes) == beforeB.map(bytes))
        // And the runs do differ afterwards (the perturbation reached the engine).
        #expect(ra.journal.map(\.out) != rb.journal.map(\.out))
        // Every fill is priced off a bar that closed at the fill's time, at or after its decision + latency.
        var decided: [UInt64: Timestamp] = [:]
        for e in ra.journal { if case .orderIntended = e.out.event { decided[e.seq] = e.out.time } }
        let barCloses = Set(a.compactMap { t, e -> String? in if case .barClosed(let x) = e { "\(x.instrumentId.rawValue)@\(t.ms)=\(x.close)" } else { nil } })
        var checked = 0
        for e in ra.journal {
            guard case .orderFilled(let fill) = e.out.event, !fill.isLiquidation, let t = decided[fill.intentSeq] else { continue }
            #expect(e.out.time >= t.adding(ms: 250))
            #expect(barCloses.contains("\(fill.instrumentId.rawValue)@\(e.out.time.ms)=\(fill.referencePrice)"))
            checked += 1
        }
        #expect(checked > 10)
    }
}
