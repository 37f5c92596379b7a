// The control port's operator-trade endpoints (`carry trade`), on the same loopback server as
// /health and /kill, talking to the session only through `SessionControl`:
//
//   GET  /preflight?symbol=S&notional=N   JSON: the pre-flight (`CarryReducer.preflight`) on the
//                                         engine as of the last step, with the venue's predicted
//                                         funding when it can be read; nothing is queued
//   POST /trade/open?symbol=S&notional=N[&reason=…]   queue an `operator.trade` open  → 202
//   POST /trade/close?symbol=S[&reason=…]             queue an `operator.trade` close → 202
//   GET  /pairs                           JSON: every configured pair (phase, positions per leg,
//                                         marks, what the pair collected and paid), the venue's
//                                         book (paper) and the reconciliations so far (live)
//   POST /reconcile                       a live session reads the venue's book at its next step
//
// A queued command is journaled by the session at its next step and decided by the reducer
// (the same checks as the pre-flight, on the book as it is then); its outcome is in the
// journal, which `carry trade` reads.

import CarryCore
import CarryVenues
import Foundation

/// Builds the endpoints' answers from a session's published status.
enum TradeEndpoints {
    /// The venue's prediction for the next settlement of a perpetual, when it can be read.
    typealias PredictedFunding = @Sendable (String) -> Fixed?

    struct Answer {
        var status: Int
        var body: String
    }

    static func preflight(_ params: [String: String], status s: SessionStatus, predicted: PredictedFunding?) -> Answer {
        guard let engine = s.engine else { return error(503, "the session has not completed its first step yet: try again in a moment") }
        guard let symbol = params["symbol"], !symbol.isEmpty else { return error(400, "symbol is required") }
        guard let text = params["notional"], let notional = Fixed(text), notional.isPositive else {
            return error(400, "notional must be a positive number of USDT (got \(params["notional"] ?? "nothing"))")
        }
        let rate = engine.pairIndex(symbol: symbol) == nil ? nil : predicted?(symbol.uppercased())
        return Answer(status: 200, body: json(engine.preflight(symbol: symbol, notionalUsdt: notional, predictedRate: rate), status: s))
    }

    static func trade(_ action: OperatorTradeAction, _ params: [String: String], status s: SessionStatus, control: SessionControl) -> Answer {
        guard let engine = s.engine else { return error(503, "the session has not completed its first step yet: try again in a moment") }
        guard let symbol = params["symbol"], !symbol.isEmpty else { return error(400, "symbol is required") }
        guard let i = engine.pairIndex(symbol: symbol) else {
            return error(404, "\(symbol) is not a pair this session trades (it trades \(engine.pairSymbols.joined(separator: ", ")))")
        }
        var notional = Fixed.zero
        if action == .open {
            guard let text = params["notional"], let n = Fixed(text), n.isPositive else {
                return error(400, "notional must be a positive number of USDT (got \(params["notional"] ?? "nothing"))")
            }
            notional = n
        }
        let p = engine.config.pairs[i]
        let reason = ControlServer.reason(params["reason"], release: false, fallback: "control port: trade \(action)")
        control.request(.trade(OperatorTrade(action: action, spot: p.spot, perp: p.perp, notionalUsdt: notional, reason: reason)))
        return Answer(status: 202, body: "{\"queued\":\(jsonString(action.description)),\"symbol\":\(jsonString(engine.pairSymbols[i])),"
                          + "\"notional\":\(jsonString(notional.description)),\"reason\":\(jsonString(reason)),\"afterStep\":\(s.steps)}\n")
    }

    static func pairs(status s: SessionStatus) -> Answer {
        guard let r = s.engine else { return error(503, "the session has not completed its first step yet: try again in a moment") }
        var rows: [String] = []
        for (i, p) in r.config.pairs.enumerated() {
            let pair = r.pairs[i]
            let venue = { (id: InstrumentId) -> String in
                guard let book = s.venuePositions else { return "null" }
                return jsonString((book.first { $0.instrumentId == id }?.qty ?? .zero).description)
            }
            let funding = r.fundingBooked(p) - (pair.phase == .flat ? .zero : pair.fundingMark)
            let costs = r.costsBooked(p) - (pair.phase == .flat ? .zero : pair.costMark)
            let fields: [(String, String)] = [
                ("symbol", jsonString(r.pairSymbols[i])), ("phase", jsonString(pair.phase.description)), ("pairId", "\(pair.pairId)"),
                ("targetQty", jsonString(pair.targetQty.description)),
                ("spotQty", jsonString(r.portfolio.position(p.spot).description)), ("perpQty", jsonString(r.portfolio.position(p.perp).description)),
                ("venueSpotQty", venue(p.spot)), ("venuePerpQty", venue(p.perp)),
                ("spotMark", fixed(r.mark(p.spot))), ("perpMark", fixed(r.mark(p.perp))),
                ("fundingUsdt", jsonString(funding.description)), ("costsUsdt", jsonString(costs.description)),
                ("openedAt", pair.openedAt.map { jsonString($0.iso8601) } ?? "null"),
                ("openOrders", "\(pair.openIntents.count)"),
            ]
            rows.append(object(fields))
        }
        let top: [(String, String)] = [
            ("mode", jsonString(s.mode.description)), ("journal", jsonString(s.journalPath)), ("venueTime", jsonString(s.venueTime.iso8601)),
            ("steps", "\(s.steps)"), ("killSwitch", s.killSwitchEngaged ? "true" : "false"), ("halted", s.halted ? "true" : "false"),
            ("equity", jsonString(s.equity.description)), ("reconciliations", "\(s.reconciliations)"),
            ("venueBook", s.venuePositions == nil ? jsonString("reconciliation") : jsonString("simulated exchange")),
            ("pairs", "[" + rows.joined(separator: ",") + "]"),
        ]
        return Answer(status: 200, body: object(top) + "\n")
    }

    static func json(_ f: TradePreflight, status s: SessionStatus) -> String {
        var fields: [(String, String)] = [
            ("symbol", jsonString(f.symbol)), ("known", f.pairIndex == nil ? "false" : "true"), ("phase", jsonString(f.phase.description)),
            ("mode", jsonString(s.mode.description)), ("venueTime", jsonString(s.venueTime.iso8601)), ("journal", jsonString(s.journalPath)),
            ("steps", "\(s.steps)"),
            ("notional", jsonString(f.notionalUsdt.description)), ("spotPrice", fixed(f.spotPrice)), ("perpPrice", fixed(f.perpPrice)),
            ("qtyStep", fixed(f.qtyStep)), ("minQty", fixed(f.minQty)), ("spotMinNotional", fixed(f.spotMinNotional)),
            ("perpMinNotional", fixed(f.perpMinNotional)), ("qty", fixed(f.qty)), ("spotNotional", fixed(f.spotNotionalUsdt)),
            ("perpNotional", fixed(f.perpNotionalUsdt)), ("leverage", fixed(f.leverage)), ("maxLeverage", fixed(f.maxLeverage)),
            ("perpMargin", fixed(f.perpMarginUsdt)), ("equity", fixed(f.equityUsdt)), ("committed", fixed(f.committedUsdt)),
            ("freeAfter", fixed(f.freeAfterUsdt)), ("minFreeCash", fixed(f.minFreeCashUsdt)), ("openNotional", fixed(f.openNotionalUsdt)),
            ("maxPairNotional", fixed(f.maxPairNotionalUsdt)), ("maxTotalNotional", fixed(f.maxTotalNotionalUsdt)),
            ("openFees", fixed(f.openFeesUsdt)), ("openSlippage", fixed(f.openSlippageUsdt)), ("roundTripCost", fixed(f.roundTripCostUsdt)),
            ("fundingRate", fixed(f.fundingRate)), ("fundingIntervalMinutes", "\(f.fundingIntervalMinutes)"), ("predictedRate", fixed(f.predictedRate)),
            ("fundingPerHour", fixed(f.fundingPerHourUsdt)), ("predictedFundingPerHour", fixed(f.predictedFundingPerHourUsdt)),
            ("breakevenHours", fixed(f.breakevenHours)), ("predictedBreakevenHours", fixed(f.predictedBreakevenHours)),
        ]
        if let r = f.refusal {
            fields.append(("refusal", object([("rule", r.rule.map { jsonString("\($0)") } ?? "null"), ("limit", fixed(r.limit)),
                                              ("observed", fixed(r.observed)), ("message", jsonString(r.message))])))
        } else {
            fields.append(("refusal", "null"))
        }
        return object(fields) + "\n"
    }

    static func error(_ status: Int, _ message: String) -> Answer { Answer(status: status, body: "{\"error\":\(jsonString(message))}\n") }

    static func fixed(_ v: Fixed?) -> String { v.map { jsonString($0.description) } ?? "null" }

    static func object(_ fields: [(String, String)]) -> String { "{" + fields.map { "\(jsonString($0.0)):\($0.1)" }.joined(separator: ",") + "}" }
}
