// The funding ledger of a live session: each payment the venue reports matched to the one the
// engine expected (its position, the settled rate, the venue's mark), in either order;
// differences, payments nobody expected and settlements nobody paid are alerts, journaled as
// the reducer's decisions (so a fold repeats them); the venue's amount is what is booked.

import CarryCore
import Testing

@Suite("The funding ledger")
struct FundingLedgerTests {
    /// A live engine holding −1 BTC perp (set by a reconciliation), its last close 100.
    func engine(matchesFunding: Bool = true) -> (CarryReducer, UInt64) {
        var r = CarryReducer(config: engineConfig(), matchesFunding: matchesFunding)
        var seq: UInt64 = 1
        func feed(_ input: EngineInput, _ t: Timestamp) {
            let d = r.apply(input, time: t, ref: .local(seq), nextSeq: seq + 1)
            seq += 1 + UInt64(d.count)
        }
        feed(.market(.defined(spotDef(0))), hours(0))
        feed(.market(.defined(perpDef(1))), hours(0))
        feed(.market(.bar(bar(0, closingAt: hours(0), "100"))), hours(0))
        feed(.market(.bar(bar(1, closingAt: hours(0), "100"))), hours(0))
        feed(.venue(.snapshot(VenueSnapshot(positions: [VenuePosition(instrumentId: InstrumentId(0), qty: Fixed(1)),
                                                        VenuePosition(instrumentId: InstrumentId(1), qty: Fixed(-1))], cash: nil, openOrders: []))), hours(0))
        #expect(r.portfolio.position(InstrumentId(1)) == Fixed(-1))
        return (r, seq)
    }

    func paid(_ amount: String, position: String = "-1", mark: String = "101", rate: String = "0.0001", at t: Timestamp = hours(8)) -> EngineInput {
        .venue(.fundingPaid(FundingPaid(instrumentId: InstrumentId(1), settlementTime: t, positionQty: f(position), markPrice: f(mark),
                                        ratePerInterval: f(rate), amount: f(amount))))
    }

    let settled = EngineInput.market(.fundingSettled(settlement(1, "0.0001")))

    func alerts(_ d: [Decision]) -> [AlertRaised] { d.compactMap { if case .alert(let a) = $0.output { return a } else { return nil } } }

    @Test("the venue's row first, then the settlement: matched to the unit at the venue's mark (not the engine's last close), booked")
    func paidThenSettled() {
        var (r, seq) = engine()
        // −(−1) × 101 × 0.0001 = 0.0101: the venue's mark, 101, not the engine's close, 100.
        #expect(alerts(r.apply(paid("0.0101"), time: hours(8), ref: .local(seq), nextSeq: seq + 1)).isEmpty)
        #expect(alerts(r.apply(settled, time: hours(8), ref: .local(seq + 1), nextSeq: seq + 2)).isEmpty)
        #expect(r.fundingLedger?.matched == 1 && r.fundingLedger?.differed == 0 && r.fundingLedger?.open.isEmpty == true)
        #expect(r.portfolio.totalFunding == f("0.0101"))
    }

    @Test("the settlement first, the row an hour late: matched")
    func settledThenPaid() {
        var (r, seq) = engine()
        #expect(alerts(r.apply(settled, time: hours(8), ref: .local(seq), nextSeq: seq + 1)).isEmpty)
        #expect(r.fundingLedger?.open.count == 1)
        #expect(alerts(r.apply(paid("0.0101"), time: hours(9), ref: .local(seq + 1), nextSeq: seq + 2)).isEmpty)
        #expect(r.fundingLedger?.matched == 1 && r.fundingLedger?.open.isEmpty == true)
    }

    @Test("a row that disagrees — another position, another amount — is an alert naming both, and the venue's amount is booked")
    func mismatch() {
        var (r, seq) = engine()
        _ = r.apply(paid("0.0202", position: "-2"), time: hours(8), ref: .local(seq), nextSeq: seq + 1)
        let a = alerts(r.apply(settled, time: hours(8), ref: .local(seq + 1), nextSeq: seq + 2))
        #expect(a.count == 1 && a.first?.code == "funding.mismatch", "\(a)")
        #expect(a.first?.message.contains("the venue paid 0.0202") == true && a.first?.message.contains("expected 0.0101") == true, "\(a)")
        #expect(r.fundingLedger?.differed == 1)
        #expect(r.portfolio.totalFunding == f("0.0202"))

        // An amount off by one unit of the 8th decimal is a difference too.
        var (r2, s2) = engine()
        _ = r2.apply(paid("0.01010001"), time: hours(8), ref: .local(s2), nextSeq: s2 + 1)
        #expect(alerts(r2.apply(settled, time: hours(8), ref: .local(s2 + 1), nextSeq: s2 + 2)).map(\.code) == ["funding.mismatch"])
    }

    @Test("a settlement the venue never paid on a held position, and a payment for a settlement never seen: alerted at the first scan past the grace")
    func unmatched() {
        var (r, seq) = engine()
        let tick = EngineInput.clock(ClockTicked(purpose: .scan))
        let halfHour = Millis.hour / 2
        _ = r.apply(settled, time: hours(8), ref: .local(seq), nextSeq: seq + 1)
        // Within the grace: nothing yet.
        #expect(alerts(r.apply(tick, time: hours(8).adding(ms: halfHour), ref: .local(seq + 1), nextSeq: seq + 2)).isEmpty)
        _ = r.apply(paid("0.0101", at: hours(16)), time: hours(16), ref: .local(seq + 2), nextSeq: seq + 3)
        let missing = alerts(r.apply(tick, time: hours(16).adding(ms: halfHour), ref: .local(seq + 3), nextSeq: seq + 4))
        #expect(missing.map(\.code) == ["funding.missing"], "\(missing)")
        #expect(missing.first?.message.contains("expected 0.01") == true, "\(missing)")
        let unpaid = alerts(r.apply(tick, time: hours(18), ref: .local(seq + 4), nextSeq: seq + 5))
        #expect(unpaid.map(\.code) == ["funding.unmatched"], "\(unpaid)")
        #expect(r.fundingLedger?.unmatched == 2 && r.fundingLedger?.open.isEmpty == true)
        #expect(r.portfolio.totalFunding == f("0.0101"))
    }

    @Test("flat and unpaid: nothing expected, nothing kept; off by default (backtests, paper): no ledger at all")
    func flatAndOff() {
        var r = CarryReducer(config: engineConfig(), matchesFunding: true)
        _ = r.apply(.market(.defined(perpDef(1))), time: hours(0), ref: .local(1), nextSeq: 2)
        #expect(alerts(r.apply(settled, time: hours(8), ref: .local(2), nextSeq: 3)).isEmpty)
        #expect(r.fundingLedger?.open.isEmpty == true)

        var (off, seq) = engine(matchesFunding: false)
        _ = off.apply(paid("5"), time: hours(8), ref: .local(seq), nextSeq: seq + 1)
        #expect(alerts(off.apply(settled, time: hours(8), ref: .local(seq + 1), nextSeq: seq + 2)).isEmpty)
        #expect(off.fundingLedger == nil && off.portfolio.totalFunding == Fixed(5))
    }

    @Test("a backtest with the ledger on: the simulated exchange pays exactly what the engine expects, every settlement matched")
    func simulatedExchangeMatches() {
        var run = PipelineRun(config: engineConfig(), from: hours(0), to: hours(72), journalsMarketInputs: true, matchesFunding: true)
        run.run(hourlyMarket(fromHour: 0, toHour: 72, funding: [8: ["0.0003"], 16: ["0.0003"], 24: ["0.0003"], 32: ["0.0003"], 40: ["0.0003"]]))
        let ledger = run.pipeline.reducer.fundingLedger
        #expect((ledger?.matched ?? 0) >= 3, "\(String(describing: ledger))")
        #expect(ledger?.differed == 0 && ledger?.unmatched == 0)
        #expect(!run.journal.contains { if case .alertRaised(let a) = $0.out.event { return a.code.hasPrefix("funding.") } else { return false } })
        // A fold of that journal rebuilds the same ledger.
        let records = run.journal.map { RecordedEvent(seq: $0.seq, eventTime: $0.out.time, recordTime: $0.out.time, causation: $0.out.causation, event: $0.out.event) }
        let folded = try? Recovery.rebuild(CarryReducer(config: engineConfig(), reentryCooldownMs: 0, matchesFunding: true), from: records)
        #expect(folded?.reducer.fundingLedger == ledger)
    }
}
