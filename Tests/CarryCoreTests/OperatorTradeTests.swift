// An operator's paired trade in the reducer: the pre-flight's figures against hand-computed
// values, its refusals, and the command going through the same paired execution as an
// automatic entry (manual signal → both legs → open; close → exit → flat), journaled and
// folded back by Recovery.

import CarryCore
import Testing

/// One pair (BTCUSDT: spot 0, perp 1) at spot 40000 / perp 40020, a settlement of 0.0001 per
/// 8 h at hour 8; the threshold strategy never enters on its own (entry 100 %).
private func market(toHour: Int64 = 12) -> [(Timestamp, Event)] {
    hourlyMarket(fromHour: 1, toHour: toHour, spot: { _ in "40000" }, perp: { _ in "40020" }, funding: [8: ["0.0001"]])
}

private func quietConfig(cash: String = "100000") -> EngineConfig {
    engineConfig(strategy: strategy(entry: "1", exit: "-1"), cash: cash)
}

private func reducer(after inputs: [(Timestamp, Event)], config: EngineConfig = quietConfig()) -> CarryReducer {
    var run = PipelineRun(config: config, from: hours(0), to: hours(100))
    run.run(inputs)
    return run.pipeline.reducer
}

@Suite("operator trades (carry trade) in the reducer")
struct OperatorTradeTests {
    @Test("the pre-flight's figures equal hand-computed values")
    func preflightFigures() throws {
        let r = reducer(after: market())
        let p = r.preflight(symbol: "btcusdt", notionalUsdt: Fixed(1000), predictedRate: f("0.0002"))
        #expect(p.refusal == nil, "\(String(describing: p.refusal))")
        #expect(p.pairIndex == 0 && p.phase == .flat)
        #expect(p.spotPrice == f("40000") && p.perpPrice == f("40020"))
        // 1000 ÷ 40000 = 0.025, a multiple of the 0.001 step, above 0.001 and 5 USDT.
        #expect(p.qty == f("0.025") && p.qtyStep == f("0.001") && p.minQty == f("0.001") && p.spotMinNotional == f("5"))
        #expect(p.spotNotionalUsdt == f("1000") && p.perpNotionalUsdt == f("1000.5"))
        // 2× leverage: 1000.5 ÷ 2.
        #expect(p.leverage == Fixed(2) && p.maxLeverage == Fixed(3) && p.perpMarginUsdt == f("500.25"))
        // Fees: 1000 × 0.001 + 1000.5 × 0.0005; half spreads: 2000.5 × 0.0001; round trip twice both.
        #expect(p.openFeesUsdt == f("1.50025") && p.openSlippageUsdt == f("0.20005") && p.roundTripCostUsdt == f("3.4006"))
        // Free after: 100000 − 1000 − 500.25 − 1000.5 × 0.0015 (the risk check's fee estimate).
        #expect(p.equityUsdt == Fixed(100_000) && p.committedUsdt == .zero && p.freeAfterUsdt == f("98498.24925"))
        #expect(p.maxPairNotionalUsdt == Fixed(25_000) && p.maxTotalNotionalUsdt == Fixed(75_000) && p.openNotionalUsdt == .zero)
        // Funding: 1000.5 × 0.0001 ÷ 8 h; breakeven 3.4006 ÷ 0.01250625 = 271.912… h (rounded up to the cent of an hour).
        #expect(p.fundingRate == f("0.0001") && p.fundingIntervalMinutes == 480 && p.predictedRate == f("0.0002"))
        #expect(p.fundingPerHourUsdt == f("0.01250625") && p.predictedFundingPerHourUsdt == f("0.0250125"))
        #expect(p.breakevenHours == f("271.92") && p.predictedBreakevenHours == f("135.96"))
    }

    @Test("refusals: unknown symbol, below the venue's minimum, insufficient balance, over the pair limit, a rate that does not pay")
    func preflightRefusals() throws {
        let r = reducer(after: market())
        let unknown = r.preflight(symbol: "DOGEUSDT", notionalUsdt: Fixed(1000))
        #expect(unknown.pairIndex == nil && unknown.refusal?.rule == nil)
        #expect(unknown.refusal?.message == "DOGEUSDT is not a pair this session trades (it trades BTCUSDT)")

        // 4 USDT ÷ 40000 = 0.0001, below the 0.001 step.
        let small = r.preflight(symbol: "BTCUSDT", notionalUsdt: Fixed(4))
        #expect(small.refusal?.rule == .minOrderSize && small.refusal?.limit == f("0.001") && small.refusal?.observed == f("0.0001") && small.qty == nil)
        #expect(small.refusal?.message.contains("below what the venue accepts") == true)

        let poor = reducer(after: market(), config: quietConfig(cash: "1200")).preflight(symbol: "BTCUSDT", notionalUsdt: Fixed(1000))
        // 1200 − 1000 − 500.25 − 1.50075 = −301.75075 free, the minimum 0.
        #expect(poor.refusal?.rule == .balance && poor.refusal?.observed == f("-301.75075") && poor.refusal?.limit == .zero)
        #expect(poor.refusal?.message.hasPrefix("insufficient balance") == true)

        let big = r.preflight(symbol: "BTCUSDT", notionalUsdt: Fixed(30_000))
        #expect(big.refusal?.rule == .maxPairNotional && big.refusal?.observed == f("30015") && big.refusal?.limit == Fixed(25_000))

        let negative = reducer(after: hourlyMarket(fromHour: 1, toHour: 12, spot: { _ in "40000" }, perp: { _ in "40020" }, funding: [8: ["-0.0001"]]))
            .preflight(symbol: "BTCUSDT", notionalUsdt: Fixed(1000))
        #expect(negative.refusal == nil && negative.fundingPerHourUsdt == f("-0.01250625") && negative.breakevenHours == nil)
    }

    @Test("an open command goes through the paired execution (manual signal, both legs, open); a close is an exit to flat; a fold repeats it")
    func openAndClose() throws {
        var run = PipelineRun(config: quietConfig(), from: hours(0), to: hours(100), journalsMarketInputs: true)
        let open = OperatorTrade(action: .open, spot: InstrumentId(0), perp: InstrumentId(1), notionalUsdt: Fixed(1000), reason: "test open")
        let close = OperatorTrade(action: .close, spot: InstrumentId(0), perp: InstrumentId(1), notionalUsdt: .zero, reason: "test close")
        run.run(market(toHour: 20), inject: [(hours(10), .command(.trade(open))), (hours(15), .command(.trade(close)))])
        let commands = run.events { e -> OperatorTrade? in if case .operatorTrade(let t) = e { return t } else { return nil } }
        #expect(commands.map(\.value) == [open, close])
        let signals = run.events { e -> SignalComputed? in if case .signalComputed(let s) = e { return s } else { return nil } }
        #expect(signals.map { "\($0.value.strategy) \($0.value.action)" } == ["manual enter", "manual exit"])
        #expect(signals.map(\.seq) == commands.map { $0.seq + 1 })
        let intents = run.events { e -> OrderIntended? in if case .orderIntended(let i) = e { return i } else { return nil } }
        #expect(intents.map { "\($0.value.leg) \($0.value.side) \($0.value.qty) \($0.value.reason) \($0.value.reduceOnly)" }
                == ["spot buy 0.025 open false", "perp sell 0.025 open false", "spot sell 0.025 close true", "perp buy 0.025 close true"])
        #expect(intents.allSatisfy { $0.value.pairId == signals[0].seq })
        let phases = run.events { e -> String? in if case .pairTransition(let t) = e { return "\(t.from)→\(t.to) \(t.cause)" } else { return nil } }
        #expect(phases.map(\.value) == ["flat→opening entry", "opening→open legsFilled", "open→closing exit", "closing→flat flat"])
        #expect(run.pipeline.reducer.pairs[0].phase == .flat)

        // The journal folds back to the same engine, deciding the same.
        let records = run.journal.map { RecordedEvent(seq: $0.seq, eventTime: $0.out.time, recordTime: $0.out.time, causation: $0.out.causation, event: $0.out.event) }
        let folded = try Recovery.rebuild(CarryReducer(config: quietConfig(), reentryCooldownMs: 0), from: records)
        #expect(folded.reducer == run.pipeline.reducer)

        // What a session publishes for the operator: the same pre-flight and pairs, no order table.
        let engine = run.pipeline.reducer
        let published = engine.withoutOrders
        #expect(engine.orders.count == 4 && published.orders.isEmpty)
        #expect(published.preflight(symbol: "BTCUSDT", notionalUsdt: Fixed(1000)) == engine.preflight(symbol: "BTCUSDT", notionalUsdt: Fixed(1000)))
        #expect(published.pairs == engine.pairs && published.portfolio == engine.portfolio && published.marks == engine.marks)
    }

    @Test("refused commands are journaled with their reason and send nothing")
    func refusedCommands() throws {
        var run = PipelineRun(config: quietConfig(cash: "1200"), from: hours(0), to: hours(100))
        let open = OperatorTrade(action: .open, spot: InstrumentId(0), perp: InstrumentId(1), notionalUsdt: Fixed(1000), reason: "too big for the account")
        let close = OperatorTrade(action: .close, spot: InstrumentId(0), perp: InstrumentId(1), notionalUsdt: .zero, reason: "nothing open")
        run.run(market(), inject: [(hours(10), .command(.trade(open))), (hours(11), .command(.trade(close)))])
        let breaches = run.events { e -> RiskBreached? in if case .riskBreached(let b) = e { return b } else { return nil } }
        #expect(breaches.map { "\($0.value.rule) \($0.value.action)" } == ["balance rejected"] && breaches.first?.value.observed == f("-301.75075"))
        let alerts = run.events { e -> AlertRaised? in if case .alertRaised(let a) = e { return a } else { return nil } }
        #expect(alerts.map(\.value.code) == ["operator.refused"])
        #expect(alerts.first?.value.message == "close BTCUSDT refused: the pair is flat, nothing to close")
        #expect(run.events { e -> OrderIntended? in if case .orderIntended(let i) = e { return i } else { return nil } }.isEmpty)
        #expect(run.pipeline.reducer.pairs[0].phase == .flat)
    }

    @Test("operator.trade round-trips through the codec and is an engine input")
    func codec() throws {
        let t = OperatorTrade(action: .open, spot: InstrumentId(4), perp: InstrumentId(5), notionalUsdt: f("1234.5"), reason: "carry trade open")
        var w = ByteWriter()
        Event.operatorTrade(t).encodePayload(to: &w)
        let bytes = w.bytes
        let decoded = try bytes.withUnsafeBytes { try Event.decode(kind: EventKind.operatorTrade.rawValue, version: 1, payload: $0) }
        #expect(decoded == .operatorTrade(t))
        #expect(EventKind(name: "operator.trade") == .operatorTrade && EventKind.operatorTrade.category == .control)
        #expect(EngineInput(.operatorTrade(t)) == .command(.trade(t)))
    }
}
