// Order facts as a real venue gives them — duplicates, lost acknowledgements, statuses that
// disagree with the fills, IOC remainders — leg risk, fees in the base coin, and
// reconciliation against the venue's book.

import CarryCore
import Testing

private func withExecution(_ execution: ExecutionPolicy, pairs: Int = 1, notional: String = "20000") -> EngineConfig {
    var c = engineConfig(pairs: pairs, strategy: strategy(notional: notional))
    c.execution = execution
    return c
}

private func snapshot(_ positions: [(UInt32, String)]) -> EngineInput {
    .venue(.snapshot(VenueSnapshot(positions: positions.map { VenuePosition(instrumentId: InstrumentId($0.0), qty: f($0.1)) }, cash: nil, openOrders: [])))
}

/// Two pairs: pair 0 enters at 00:00, pair 1 becomes eligible at 03:00.
private let twoPairMarket = hourlyMarket(pairs: 2, fromHour: 0, toHour: 5, funding: [0: ["0.0002", "0.00001"], 3: ["0.0002", "0.0003"]])

@Suite("Order facts, leg risk, base-coin fees and reconciliation")
struct OrderFlowTests {
    // MARK: 4. The order lifecycle in the reducer

    @Test("a fill reported twice (same execution id) is ignored: position unchanged, an alert fill.duplicate")
    func duplicateFill() throws {
        var probe = PipelineRun(config: engineConfig(), from: hours(0), to: hours(3))
        probe.run(enterMarket(through: 3))
        let first = try #require(probe.fills.first { $0.value.instrumentId == InstrumentId(0) })
        var run = PipelineRun(config: engineConfig(), from: hours(0), to: hours(3))
        run.run(enterMarket(through: 3), inject: [(hours(2), .venue(.filled(first.value)))])
        #expect(run.position(0) == f("200") && probe.position(0) == f("200"))
        #expect(run.alerts.map(\.code) == ["fill.duplicate"])
        #expect(run.breaches.isEmpty && run.reducer.halt == nil)
        #expect(run.reducer.orders[first.value.intentSeq]?.executionIds == [first.value.executionId])
    }

    @Test("an acknowledgement lost: order.unknown, then a status query resolves it, nothing is sent twice, the pair opens")
    func lostAck() throws {
        let config = engineConfig()
        let venue = ScriptedVenue(config) { intent, n in n == 0 ? .loseAck : .pass }
        var run = VenueRun(config: config, venue: venue, from: hours(0), to: hours(3))
        run.run(enterMarket(through: 3))
        let spot = try #require(run.intents.first)
        let unknown = run.events { if case .orderUnknown(let u) = $0 { u } else { nil } }
        #expect(unknown.map(\.value.intentSeq) == [spot.seq] && unknown.first?.time == hours(0))
        let statuses = run.events { if case .orderStatus(let s) = $0 { s } else { nil } }
        // Queried before the 01:00 bar: the venue has it, working, nothing executed.
        #expect(statuses.map(\.value.status) == [.new] && statuses.first?.time == hours(1) && statuses.first?.value.cumQty == .zero)
        #expect(statuses.first?.value.intentSeq == spot.seq)
        let submitted = run.events { if case .orderSubmitted(let s) = $0 { s.intentSeq } else { nil } }.map(\.value)
        #expect(submitted.filter { $0 == spot.seq }.count == 1)
        #expect(run.reducer.orders[spot.seq]?.state == .filled && run.reducer.unknownCount == 0)
        #expect(run.reducer.pairs[0].phase == .open && run.position(0) == f("200"))
    }

    @Test("a status whose cumQty does not match the fills: reconciled missingFill, entries held")
    func statusMismatch() throws {
        var probe = PipelineRun(config: engineConfig(pairs: 2), from: hours(0), to: hours(5))
        probe.run(twoPairMarket)
        let spot = try #require(probe.intents.first)
        let status = EngineInput.venue(.status(OrderStatusReported(intentSeq: spot.seq, status: .filled, cumQty: f("250"), venueOrderId: "sim-x")))
        var run = PipelineRun(config: engineConfig(pairs: 2), from: hours(0), to: hours(5))
        run.run(twoPairMarket, inject: [(hours(2), status)])
        let missing = run.reconciled.filter { $0.status == .missingFill }
        #expect(missing.count == 1 && missing.first?.localQty == f("200") && missing.first?.venueQty == f("250") && missing.first?.instrumentId == InstrumentId(0))
        #expect(run.reducer.reconciliationHold)
        #expect(run.skips.filter { $0.spot == InstrumentId(2) }.map(\.reason) == [.reconciliationHold])
        #expect(!run.intents.contains { $0.value.instrumentId == InstrumentId(2) })
        #expect(probe.intents.contains { $0.value.instrumentId == InstrumentId(2) })
    }

    @Test("an IOC remainder expires on one opening leg: the pair opens with both legs, rebalances the larger leg past the band, and returns to open")
    func iocRemainderRebalance() throws {
        // The 01:00 spot bar trades 190,000 USDT: at 10 % participation 190 of the 200 fill, 10 expire.
        let market = enterMarket(through: 3).map { t, e -> (Timestamp, Event) in
            if t == hours(1), case .barClosed(let b) = e, b.instrumentId == InstrumentId(0) { return (t, .barClosed(bar(0, closingAt: t, "100", volumeQuote: "190000"))) }
            return (t, e)
        }
        var run = PipelineRun(config: engineConfig(), from: hours(0), to: hours(3))
        run.run(market)
        let expired = run.events { if case .orderExpired(let x) = $0 { x } else { nil } }
        #expect(expired.map(\.value.remainingQty) == [f("10")] && expired.first?.time == hours(1))
        // Drift 10 × 100 / 20,000 = 5 % > 2 %: trim the perp (the larger leg) by 10, reduce-only.
        let rebalance = run.intents.filter { $0.value.reason == .rebalance }
        #expect(rebalance.count == 1)
        let r = try #require(rebalance.first)
        #expect(r.time == hours(1) && r.value.leg == .perp && r.value.side == .buy && r.value.qty == f("10") && r.value.reduceOnly)
        #expect(run.breaches.map(\.value.rule) == [.legImbalance, .deltaDrift])
        #expect(run.breaches.last?.value.observed == f("0.05"))
        #expect(run.transitions.map(\.cause) == [.entry, .legsFilled, .deltaDrift, .rebalanced])
        #expect(run.reducer.pairs[0].phase == .open)
        #expect(run.position(0) == f("190") && run.position(1) == f("-190"))
    }

    // MARK: 5. Leg risk

    @Test("the second leg rejected after the first filled: unwinding (legFailed) and a reduce-only close of the filled leg")
    func secondLegRejectedUnwinds() {
        let config = engineConfig()
        let venue = ScriptedVenue(config) { intent, _ in intent.leg == .perp && intent.reason == .open ? .reject : .pass }
        // A day's cool-down keeps the pair from entering again once flat (the rate still qualifies).
        var run = VenueRun(config: config, venue: venue, from: hours(0), to: hours(3), cooldownMs: 24 * Millis.hour)
        run.run(enterMarket(through: 3))
        #expect(run.transitions.map(\.to) == [.opening, .unwinding, .flat])
        #expect(run.transitions.map(\.cause) == [.entry, .legFailed, .flat])
        let flatten = run.intents.filter { $0.value.reduceOnly }
        #expect(flatten.count == 1)
        #expect(flatten.first?.value.leg == .spot && flatten.first?.value.side == .sell && flatten.first?.value.qty == f("200"))
        #expect(flatten.first?.value.reason == .flatten && flatten.first?.time == hours(1))
        #expect(run.position(0).isZero && run.position(1).isZero)
    }

    @Test("policy complete: the missing leg is sent once more; if it fails again the pair unwinds", arguments: [1, 2])
    func completeMissingLeg(failures: Int) {
        // A leg-risk budget of two hours, so the completing order can fill at the next hourly bar.
        let config = withExecution(ExecutionPolicy(legRiskBudgetMs: 2 * Millis.hour, legFailure: .complete))
        let venue = ScriptedVenue(config) { intent, n in intent.leg == .perp && intent.reason == .open && (n == 1 || (failures == 2 && n == 2)) ? .reject : .pass }
        var run = VenueRun(config: config, venue: venue, from: hours(0), to: hours(4), cooldownMs: 24 * Millis.hour)
        run.run(enterMarket(through: 4))
        let perpOpens = run.intents.filter { $0.value.leg == .perp && $0.value.reason == .open }
        #expect(perpOpens.count == 2)
        #expect(perpOpens.last?.time == hours(1) && perpOpens.last?.value.qty == f("200") && perpOpens.last?.value.side == .sell)
        if failures == 1 {
            #expect(run.transitions.map(\.cause) == [.entry, .legsFilled])
            #expect(run.reducer.pairs[0].phase == .open && run.position(1) == f("-200"))
        } else {
            #expect(run.transitions.map(\.cause) == [.entry, .legFailed, .flat])
            #expect(run.intents.filter { $0.value.reduceOnly }.map(\.value.leg) == [.spot])
            #expect(run.reducer.pairs[0].phase == .flat && run.position(0).isZero)
        }
    }

    @Test("leg-risk budget: one leg filled, the other working past the budget → legRisk breach, the working leg cancelled, the filled one closed")
    func legRiskBudget() throws {
        let config = withExecution(ExecutionPolicy(legRiskBudgetMs: 60_000))
        let venue = ScriptedVenue(config) { intent, _ in intent.leg == .perp && intent.reason == .open ? .hold : .pass }
        var run = VenueRun(config: config, venue: venue, from: hours(0), to: hours(4), cooldownMs: 24 * Millis.hour)
        run.run(enterMarket(through: 4))
        let perp = try #require(run.intents.first { $0.value.leg == .perp })
        let legRisk = run.breaches.filter { $0.value.rule == .legRisk }
        #expect(legRisk.count == 1)
        // The spot leg filled at 01:00; by the 02:00 bar one full hour of the whole notional was naked.
        #expect(legRisk.first?.time == hours(2) && legRisk.first?.value.limit == f("60000") && legRisk.first?.value.observed == f("3600000"))
        #expect(run.cancels.map(\.intentSeq) == [perp.seq] && run.cancels.first?.reason == .legRisk)
        let close = run.intents.filter { $0.value.reduceOnly }
        #expect(close.map(\.value.leg) == [.spot] && close.first?.time == hours(2))
        #expect(run.transitions.map(\.cause) == [.entry, .legRiskBudget, .flat])
        #expect(run.reducer.pairs[0].phase == .flat && run.position(0).isZero && run.position(1).isZero)
    }

    // MARK: 6. Fees in the base coin

    @Test("spot buy fee in the base coin: the leg holds qty − fee, the pair opens and closes to flat leaving the dust, equity identity exact")
    func baseCoinFees() throws {
        // 12,345.7 / 100 = 123.457 bought; the fee 0.1 % = 0.123457 BTC is taken from it.
        var run = PipelineRun(config: engineConfig(strategy: strategy(notional: "12345.7")), from: hours(0), to: hours(10), spotBuyFeeInBase: true)
        run.run(enterMarket(through: 10, exitAt: 8))
        let buy = try #require(run.fills.first { $0.value.instrumentId == InstrumentId(0) })
        #expect(buy.value.qty == f("123.457") && buy.value.fee == f("0.123457") && buy.value.feeAsset == .base)
        #expect(run.transitions.map(\.cause) == [.entry, .legsFilled, .exit, .flat])
        let spotClose = try #require(run.intents.first { $0.value.reduceOnly && $0.value.leg == .spot })
        #expect(spotClose.value.qty == f("123.333"))
        #expect(run.position(0) == f("0.000543") && run.position(1).isZero)
        #expect(run.reducer.pairs[0].phase == .flat)
        let r = run.reducer, p = r.portfolio
        #expect(p.totalFees.isPositive && !p.totalFunding.isZero && p.totalSlippage.isPositive)
        #expect(r.equity == p.initialCash + p.totalPricePnL(marks: { r.mark($0) }) + p.totalFunding - p.totalFees - p.totalSlippage)
        #expect(p.cash == run.pipeline.venue.cash)
    }

    // MARK: 7. Reconciliation

    @Test("a snapshot equal to the book: every instrument matched, no hold")
    func snapshotMatches() {
        var run = PipelineRun(config: engineConfig(pairs: 2), from: hours(0), to: hours(5))
        run.run(twoPairMarket, inject: [(hours(2), snapshot([(0, "200"), (1, "-200")]))])
        #expect(run.reconciled.map(\.status) == [.matched, .matched, .matched, .matched])
        #expect(run.reconciled.map(\.instrumentId) == [0, 1, 2, 3].map { InstrumentId($0) })
        #expect(!run.reducer.reconciliationHold && run.skips.filter { $0.reason == .reconciliationHold }.isEmpty)
        #expect(run.intents.contains { $0.value.instrumentId == InstrumentId(2) && $0.time == hours(3) })
    }

    @Test("position drift with nothing in flight: positionDrift then corrected, the venue's quantity adopted, entries held until a snapshot matches")
    func snapshotDrift() {
        var run = PipelineRun(config: engineConfig(pairs: 2), from: hours(0), to: hours(5))
        run.run(twoPairMarket, inject: [(hours(2), snapshot([(0, "199.9"), (1, "-200")])), (hours(4), snapshot([(0, "199.9"), (1, "-200")]))])
        let at2 = run.events { if case .reconciled(let x) = $0 { x } else { nil } }.filter { $0.time == hours(2) }.map(\.value)
        #expect(at2.map(\.status) == [.positionDrift, .corrected, .matched, .matched, .matched])
        #expect(at2[0].instrumentId == InstrumentId(0) && at2[0].localQty == f("200") && at2[0].venueQty == f("199.9"))
        #expect(run.position(0) == f("199.9"))
        // 03:00: pair 1 is eligible but held; the 04:00 snapshot matches and lifts the hold; it enters at 05:00.
        #expect(run.skips.filter { $0.spot == InstrumentId(2) }.map(\.reason) == [.reconciliationHold])
        #expect(!run.reducer.reconciliationHold)
        #expect(run.intents.filter { $0.value.instrumentId == InstrumentId(2) }.map(\.time) == [hours(5)])
    }
}
