// The live session's daily balance record: matched verdicts make an info record, any
// difference (a position or the cash) a warning that the alert rules raise like a
// reconciliation mismatch.

import CarryCore
import CarryEngine
import CarryJournal
import Testing

@Suite("daily balance reconciliation")
struct DailyBalanceTests {
    let day = Timestamp(ms: 1_765_432_800_000)   // 2025-12-11T06:00:00Z
    let names: (InstrumentId) -> String = { $0.rawValue == 0 ? "BTCUSDT spot" : "BTCUSDT perp" }

    func verdicts(perpVenue: String, cashVenue: String) -> [Reconciled] {
        let perp = Fixed(perpVenue)!
        return [
            Reconciled(instrumentId: InstrumentId(0), status: .matched, localQty: Fixed("0.1")!, venueQty: Fixed("0.1")!,
                       localCash: Fixed("95000.5")!, venueCash: Fixed(cashVenue)!),
            Reconciled(instrumentId: InstrumentId(1), status: perp == Fixed("-0.1")! ? .matched : .corrected, localQty: Fixed("-0.1")!, venueQty: perp,
                       localCash: Fixed("95000.5")!, venueCash: Fixed(cashVenue)!),
        ]
    }

    @Test("every verdict matched: balance.daily (info) naming the day, the cash and each position; no alert raised")
    func matched() {
        let a = LiveSession.dailyBalance(venueCash: Fixed("95000.5")!, at: day, verdicts: verdicts(perpVenue: "-0.1", cashVenue: "95000.5"), name: names)
        #expect(a.severity == .info && a.code == "balance.daily")
        #expect(a.message == "daily balance 2025-12-11: USDT venue 95000.5 engine 95000.5; BTCUSDT spot venue 0.1 engine 0.1 matched; "
                + "BTCUSDT perp venue -0.1 engine -0.1 matched")
        var rules = AlertRules(settings: AlertRuleSettings())
        #expect(rules.apply(RecordedEvent(seq: 9, eventTime: day, recordTime: day, causation: .none, event: .alertRaised(a))).isEmpty)
    }

    @Test("a position or the cash differs: balance.mismatch (warning), raised by the alert rules")
    func mismatch() {
        for (perp, cash) in [("-0.2", "95000.5"), ("-0.1", "95001.5")] {
            let a = LiveSession.dailyBalance(venueCash: Fixed(cash)!, at: day, verdicts: verdicts(perpVenue: perp, cashVenue: cash), name: names)
            #expect(a.severity == .warning && a.code == "balance.mismatch", "\(perp) \(cash): \(a)")
            #expect(a.message.contains("USDT venue \(Fixed(cash)!) engine 95000.5"))
            var rules = AlertRules(settings: AlertRuleSettings())
            let raised = rules.apply(RecordedEvent(seq: 9, eventTime: day, recordTime: day, causation: .none, event: .alertRaised(a)))
            #expect(raised.count == 1 && raised.first?.rule == "engine.alert" && raised.first?.severity == .warning, "\(raised)")
        }
    }
}
