// The simulated exchange against hand-computed fills: when an order may fill (never on a bar
// that closed before decision + latency), at what price (half-spread + impact, rounded to
// the tick against the trader), how much (participation cap), what it costs (fees), which
// orders are refused, and when the perp leg is liquidated.

import CarryCore
import Testing

private func makeSim(slippage: SlippageModel = testSlippage, latencyMs: Int64 = 250) -> SimulatedExchange {
    var sim = SimulatedExchange(fees: testFees, slippage: slippage, margin: testMargin, latencyMs: latencyMs, initialCash: f("100000"))
    sim.define(spotDef(0))
    sim.define(perpDef(1))
    return sim
}

private func intent(_ id: UInt32, _ side: Side, _ qty: String, reduceOnly: Bool = false, tif: TimeInForce = .immediateOrCancel) -> OrderIntended {
    OrderIntended(pairId: 1, leg: id == 0 ? .spot : .perp, instrumentId: InstrumentId(id), side: side, type: .market, timeInForce: tif,
                  qty: f(qty), limitPrice: nil, reduceOnly: reduceOnly, reason: reduceOnly ? .close : .open)
}

private func fills(_ facts: [VenueFact]) -> [OrderFilled] {
    facts.compactMap { if case .orderFilled(let x) = $0.event { x } else { nil } }
}

@Suite("Simulated exchange")
struct SimulatedExchangeTests {
    @Test("a market order fills at the first bar closing at or after decision + latency, with half-spread + impact and the taker fee")
    func fillTimingAndPrice() {
        var sim = makeSim()
        let decided = hours(1)
        let ack = sim.submit(intentSeq: 10, intent(0, .buy, "10"), at: decided)
        #expect(ack.map(\.event.kind) == [.orderAccepted])   // order.submitted is the executor's record, not the venue's
        // The bar that closes at the decision instant is already history: no fill.
        #expect(sim.onBar(bar(0, closingAt: decided, "90"), barRef: .source(1)).isEmpty)
        // The next one: value 1,000 of 1,000,000 → participation 0.001 → impact 0.0001 + 0.1 × 0.001
        // = 0.0002 → 100 × 1.0002 = 100.02; fee 0.001 × 1,000.2 = 1.0002.
        let facts = sim.onBar(bar(0, closingAt: hours(2), "100", volumeQuote: "1000000"), barRef: .source(2))
        let fill = try! #require(fills(facts).first)
        #expect(facts.first?.time == hours(2))
        #expect(fill.price == f("100.02") && fill.referencePrice == f("100") && fill.qty == f("10") && fill.leavesQty == .zero)
        #expect(fill.fee == f("1.0002") && fill.liquidity == .taker && fill.intentSeq == 10)
        #expect(sim.cash == f("100000") - f("1000.2") - f("1.0002"))
        #expect(sim.positions[0] == f("10"))
        #expect(sim.openOrderCount == 0)
    }

    @Test("sells round down to the tick; a zero-latency order still never fills on a bar closed before it was decided")
    func sellRounding() {
        var sim = makeSim(latencyMs: 0)
        _ = sim.submit(intentSeq: 1, intent(0, .buy, "3"), at: hours(0))
        _ = sim.onBar(bar(0, closingAt: hours(0), "33.33", volumeQuote: "1000000"), barRef: .none)  // eligible at 00:00: fills
        _ = sim.submit(intentSeq: 2, intent(0, .sell, "3", reduceOnly: true), at: hours(1))
        #expect(sim.onBar(bar(0, closingAt: hours(1).adding(ms: -1), "50"), barRef: .none).isEmpty)
        // 33.33 × (1 − 0.0001 − 0.1 × 99.99 / 1,000,000) = 33.3263337… → 33.32; fee 0.001 × 99.96.
        let sell = try! #require(fills(sim.onBar(bar(0, closingAt: hours(1), "33.33", volumeQuote: "1000000"), barRef: .none)).first)
        #expect(sell.price == f("33.32") && sell.fee == f("0.09996") && sell.side == .sell)
        #expect(sim.positions[0] == .zero)
    }

    @Test("an IOC order executes at its first observable price; what the participation cap leaves expires there")
    func iocRemainderExpires() {
        var sim = makeSim()
        _ = sim.submit(intentSeq: 7, intent(0, .buy, "25"), at: hours(0))
        // A bar without volume is not a price: the IOC order is still waiting after it.
        #expect(sim.onBar(bar(0, closingAt: hours(1), "100", volumeQuote: "0"), barRef: .none).isEmpty)
        let facts = sim.onBar(bar(0, closingAt: hours(2), "100", volumeQuote: "10000"), barRef: .none)
        #expect(fills(facts).map(\.qty) == [f("10")] && fills(facts).map(\.leavesQty) == [f("15")])
        let expired = facts.compactMap { if case .orderExpired(let e) = $0.event { e } else { nil } }
        #expect(expired == [OrderExpired(intentSeq: 7, remainingQty: f("15"))])
        #expect(sim.openOrderCount == 0 && sim.positions[0] == f("10"))
        #expect(fills(sim.onBar(bar(0, closingAt: hours(3), "100", volumeQuote: "10000"), barRef: .none)).isEmpty)
        #expect(sim.records[7]?.status == .expired && sim.records[7]?.cumQty == f("10"))
    }

    @Test("a GTC order: at most maxParticipation of a bar's volume fills per bar; the rest waits; a bar without volume fills nothing")
    func participation() {
        var sim = makeSim()
        _ = sim.submit(intentSeq: 7, intent(0, .buy, "25", tif: .goodTillCancel), at: hours(0))
        #expect(sim.onBar(bar(0, closingAt: hours(1), "100", volumeQuote: "0"), barRef: .none).isEmpty)
        var got: [OrderFilled] = []
        for h in 2...4 { got += fills(sim.onBar(bar(0, closingAt: hours(Int64(h)), "100", volumeQuote: "10000"), barRef: .none)) }
        // Cap 10 % of 10,000 = 1,000 USDT = 10 BTC per bar; impact 0.0001 + 0.1 × 0.1 = 0.0101 → 101.01;
        // the last 5 (participation 0.05 → impact 0.0051) at 100.51.
        #expect(got.map(\.qty) == [f("10"), f("10"), f("5")])
        #expect(got.map(\.leavesQty) == [f("15"), f("5"), .zero])
        #expect(got.map(\.price) == [f("101.01"), f("101.01"), f("100.51")])
        #expect(sim.openOrderCount == 0)
    }

    @Test("exchange rules refuse bad orders with the venue's codes; nothing is silently fixed")
    func rules() {
        var sim = makeSim()
        _ = sim.onBar(bar(0, closingAt: hours(0), "100"), barRef: .none)
        func rejection(_ facts: [VenueFact]) -> OrderRejected? {
            if case .orderRejected(let r) = facts.first?.event { r } else { nil }
        }
        #expect(rejection(sim.submit(intentSeq: 1, intent(0, .buy, "0.0005"), at: hours(0)))?.code == SimRejectCode.invalidQuantity)
        #expect(rejection(sim.submit(intentSeq: 2, intent(0, .buy, "0.001"), at: hours(0)))?.code == SimRejectCode.belowMinNotional)
        #expect(rejection(sim.submit(intentSeq: 3, intent(0, .sell, "1", reduceOnly: true), at: hours(0)))?.code == SimRejectCode.reduceOnlyNothing)
        let unknown = OrderIntended(pairId: 1, leg: .spot, instrumentId: InstrumentId(9), side: .buy, type: .market, timeInForce: .immediateOrCancel,
                                    qty: f("1"), limitPrice: nil, reduceOnly: false, reason: .open)
        #expect(rejection(sim.submit(intentSeq: 4, unknown, at: hours(0)))?.code == SimRejectCode.unknownSymbol)
        #expect(sim.openOrderCount == 0)
    }

    @Test("a short perp is liquidated when a bar's high crosses entry × (1 + 1/leverage) / (1 + mmr); open reduce-only orders are cancelled")
    func liquidation() {
        var sim = makeSim(slippage: noSlippage)
        _ = sim.submit(intentSeq: 1, intent(1, .sell, "1"), at: hours(0))
        #expect(fills(sim.onBar(bar(1, closingAt: hours(1), "100"), barRef: .none)).first?.price == f("100"))
        #expect(sim.entryPrice[1] == f("100"))
        // Liquidation price 100 × 1.5 / 1.005 = 149.25373134 → 149.26 on the tick.
        #expect(testMargin.liquidationPrice(entry: f("100"), short: true) == f("149.25373134"))
        #expect(sim.onBar(bar(1, closingAt: hours(2), "120", high: "149.25"), barRef: .source(2)).isEmpty)
        // A close decided at 03:00 waits for the next bar…
        _ = sim.submit(intentSeq: 2, intent(1, .buy, "1", reduceOnly: true), at: hours(3))
        // …but the 03:00 bar spikes through the liquidation price first.
        let facts = sim.onBar(bar(1, closingAt: hours(3), "130", high: "160"), barRef: .source(3))
        let liq = try! #require(fills(facts).first)
        // Closed at the bankruptcy price: 149.25373134 × 1.005 = 149.99999999… → 150.00 on the
        // tick (entry × (1 + 1/leverage): the whole posted margin); the forfeit is a price loss, no fee.
        #expect(liq.isLiquidation && liq.side == .buy && liq.qty == f("1") && liq.price == f("150"))
        #expect(liq.fee == .zero && liq.referencePrice == f("150"))
        #expect(facts.first?.causation == .source(3))
        #expect(facts.contains { if case .orderCancelled(let c) = $0.event { c.intentSeq == 2 && c.reason == "position liquidated" } else { false } })
        #expect(sim.positions[1] == .zero && sim.openOrderCount == 0)
        // Cash: +100 (sold) − 0.05 fee − 150 (bought back at the bankruptcy price).
        #expect(sim.cash == f("100000") + f("100") - f("0.05") - f("150"))
    }

    @Test("a reduce-only order whose position is already gone ends with a cancellation, not silence")
    func reduceOnlyNothingLeft() {
        var sim = makeSim(slippage: noSlippage)
        _ = sim.submit(intentSeq: 1, intent(0, .buy, "1"), at: hours(0))
        _ = sim.onBar(bar(0, closingAt: hours(1), "100"), barRef: .none)
        _ = sim.submit(intentSeq: 2, intent(0, .sell, "1", reduceOnly: true), at: hours(1))
        _ = sim.submit(intentSeq: 3, intent(0, .sell, "1", reduceOnly: true), at: hours(1))
        let facts = sim.onBar(bar(0, closingAt: hours(2), "100"), barRef: .none)
        #expect(fills(facts).map(\.intentSeq) == [2])
        #expect(facts.contains { if case .orderCancelled(let c) = $0.event { c.intentSeq == 3 && c.remainingQty == f("1") } else { false } })
        #expect(sim.openOrderCount == 0)
    }
}

@Suite("Simulated exchange: limit orders")
struct LimitOrderTests {
    @Test("a limit buy fills at its price, as maker, on the first eligible bar whose low reaches it; a price off the tick is refused")
    func limit() {
        var sim = SimulatedExchange(fees: testFees, slippage: testSlippage, margin: testMargin, latencyMs: 250, initialCash: f("100000"))
        sim.define(perpDef(1))
        let buy = OrderIntended(pairId: 1, leg: .perp, instrumentId: InstrumentId(1), side: .buy, type: .limit, timeInForce: .goodTillCancel,
                                qty: f("2"), limitPrice: f("99.50"), reduceOnly: false, reason: .open)
        _ = sim.submit(intentSeq: 5, buy, at: hours(0))
        #expect(sim.onBar(bar(1, closingAt: hours(1), "100", low: "99.51"), barRef: .none).isEmpty)
        let facts = sim.onBar(bar(1, closingAt: hours(2), "100", low: "99.40"), barRef: .none)
        guard case .orderFilled(let fill) = facts.first?.event else {
            Issue.record("no fill")
            return
        }
        // 2 × 99.50 = 199 at the maker rate 0.0002 → 0.0398; no slippage on a resting limit.
        #expect(fill.price == f("99.50") && fill.referencePrice == f("99.50") && fill.liquidity == .maker && fill.fee == f("0.0398"))
        var offTick = buy
        offTick.limitPrice = f("99.505")
        guard case .orderRejected(let r) = sim.submit(intentSeq: 6, offTick, at: hours(2)).first?.event else {
            Issue.record("accepted a price off the tick")
            return
        }
        #expect(r.code == SimRejectCode.invalidPrice)
    }
}

@Suite("Series projection")
struct SeriesProjectionTests {
    @Test("funding per interval and per 8 h; basis only where both legs have a bar at the same close")
    func series() {
        var s = SeriesProjection(pairs: [PairSpec(spot: InstrumentId(0), perp: InstrumentId(1))], barIntervalSeconds: 3600)
        #expect(s.apply(.fundingSettled(settlement(1, "0.00005", intervalMinutes: 240)), time: hours(4))
                == [.funding(perp: InstrumentId(1), time: hours(4), ratePerInterval: f("0.00005"), intervalMinutes: 240, rate8h: f("0.0001"))])
        #expect(s.apply(.barClosed(bar(0, closingAt: hours(1), "100")), time: hours(1)).isEmpty)
        // (100.25 − 100) / 100 = 0.0025
        #expect(s.apply(.barClosed(bar(1, closingAt: hours(1), "100.25")), time: hours(1))
                == [.basis(spot: InstrumentId(0), perp: InstrumentId(1), time: hours(1), spotClose: f("100"), perpClose: f("100.25"), basis: f("0.0025"))])
        // The spot misses 02:00: no basis from a stale spot close.
        #expect(s.apply(.barClosed(bar(1, closingAt: hours(2), "101")), time: hours(2)).isEmpty)
        // Other intervals and instruments are not this series.
        let fourHour = BarClosed(instrumentId: InstrumentId(0), intervalSeconds: 14_400, openTime: hours(0), open: f("1"), high: f("1"), low: f("1"),
                                 close: f("1"), volumeBase: f("1"), volumeQuote: f("1"))
        #expect(s.apply(.barClosed(fourHour), time: hours(4)).isEmpty)
        #expect(s.apply(.barClosed(bar(7, closingAt: hours(3), "5")), time: hours(3)).isEmpty)
    }
}
