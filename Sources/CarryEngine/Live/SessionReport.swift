// The session report (`carry report JOURNAL`): the project's technical success metrics for one
// paper or live session, folded from its journal alone — no venue, no config file.
//
//   venue API availability   Σ session.stats: (requests − failed) ÷ requests; stream time
//                            connected ÷ (connected + not), when the session had streams
//   order fill rate          intents whose fills completed them ÷ intents submitted
//                            (order.submitted; liquidations are not orders)
//   delta drift              |spot + perp| ÷ target of every pair in phase open, sampled at each
//                            scan tick; positions from fills (a spot buy's base-coin fee shrinks
//                            the spot leg) and reconciliation corrections; target = the pair's
//                            opening quantity (its spot leg's open intent)
//   funding settlements      expected: a funding.settled of a perpetual the account held at that
//                            moment (journal order: an instant's fills come before its
//                            settlement); received: a funding.paid for that instrument and time
//   P&L                      `BookProjection`'s account over the journal (its own bars are
//                            the marks): price, funding, fees, slippage; net funding after fees
//
// Ratios are exact decimals (`Fixed`, 8 places, half-even) so an independent fold of the same
// journal reproduces every figure to the digit.

public import CarryCore
public import CarryJournal
import CarryVenues
import Foundation

/// The technical success metrics of one session.
public struct SessionReport: Sendable, Equatable {
    public var mode: RunMode
    /// Venue time from the first run's trading start to the last record.
    public var from: Timestamp
    public var to: Timestamp
    /// Runs of the session (each start or continuation), how many ended cleanly, how each ended.
    public var runs: Int
    public var runsEnded: Int
    public var lastOutcome: RunOutcome?

    public var requests: UInt64 = 0
    public var failedRequests: UInt64 = 0
    public var streamUpMs: UInt64 = 0
    public var streamDownMs: UInt64 = 0
    public var reconnects: UInt64 = 0
    public var statsRecords = 0

    public var ordersSubmitted = 0
    public var ordersFilled = 0
    public var ordersPartiallyFilled = 0
    public var ordersRejected = 0
    public var ordersCancelled = 0
    public var ordersExpired = 0
    /// Submitted, with no fill and no end the journal shows (in flight at the end, or unknown).
    public var ordersUnresolved = 0

    public var driftSamples = 0
    public var driftMax: Fixed = .zero
    public var driftSum: Fixed = .zero

    public var settlementsExpected = 0
    public var settlementsReceived = 0
    public var settlementsMissed = 0
    /// Payments for a settlement at which the journal shows no position.
    public var settlementsUnexpected = 0

    public var initialCapital: Fixed = .zero
    public var equity: Fixed = .zero
    /// The P&L split (equity = initial + price + funding − fees − slippage).
    public var pricePnL: Fixed = .zero
    public var funding: Fixed = .zero
    public var fees: Fixed = .zero
    public var slippage: Fixed = .zero
    public var netPnL: Fixed { pricePnL + funding - fees - slippage }

    public var killSwitchEngagedByOperator = 0
    public var killSwitchReleasedByOperator = 0
    public var killSwitchAutomatic = 0

    /// Share of venue requests that worked (nil without requests).
    public var availability: Fixed? { Self.ratio(requests - failedRequests, requests) }
    /// Share of stream time connected (nil for a session without streams).
    public var streamAvailability: Fixed? { Self.ratio(streamUpMs, streamUpMs + streamDownMs) }
    public var fillRate: Fixed? { Self.ratio(UInt64(ordersFilled), UInt64(ordersSubmitted)) }
    public var driftMean: Fixed? { driftSamples == 0 ? nil : driftSum.divided(by: Int64(driftSamples), scale: 8, .toNearestOrEven) }
    /// Funding received less every fee paid.
    public var netFundingAfterFees: Fixed { funding - fees }

    /// a ÷ b to 8 places, half-even.
    public static func ratio(_ a: UInt64, _ b: UInt64) -> Fixed? {
        b == 0 ? nil : Fixed(Int64(a)).divided(by: Int64(b), scale: 8, .toNearestOrEven)
    }

    init(mode: RunMode, from: Timestamp) {
        self.mode = mode
        self.from = from
        to = from
        runs = 0
        runsEnded = 0
    }
}

extension SessionReport {
    /// Reads a session journal and folds it.
    public static func build(journal: Journal) throws -> SessionReport {
        try fold(SessionReplay.records(of: journal))
    }

    /// Folds a session journal's records (seq order).
    public static func fold(_ records: [RecordedEvent]) throws -> SessionReport {
        guard let started = records.lazy.compactMap({ r -> RunStarted? in if case .runStarted(let s) = r.event { return s } else { return nil } }).first else {
            throw SessionError("the journal has no run.started record: it is not a session journal")
        }
        guard started.mode == .paper || started.mode == .live else {
            throw SessionError("the journal is a \(started.mode) run, not a paper or live session: `carry report` reads session journals")
        }
        guard let applied = records.lazy.compactMap({ r -> ConfigApplied? in if case .configApplied(let c) = r.event { return c } else { return nil } }).first else {
            throw SessionError("the journal has no config.applied record: it is not a session journal")
        }
        let config: BacktestConfig
        do { config = try BacktestConfig.parse(canonical: applied.text, source: "config.applied") } catch { throw SessionError(error.description) }

        var report = SessionReport(mode: started.mode, from: started.from)
        report.initialCapital = config.initialCapitalUsdt
        var book = BookProjection(initialCash: config.initialCapitalUsdt, barIntervalSeconds: config.barIntervalSeconds, margin: config.margin)

        struct Intent { var pairId: UInt64; var leg: Leg; var qty: Fixed; var filled: Fixed = .zero; var done = false; var ended = false }
        struct Pair {
            var phase: PairPhase = .flat
            var instruments: [InstrumentId] = []
            var target: Fixed?
            var spot: Fixed = .zero
            var perp: Fixed = .zero
        }
        var intents: [UInt64: Intent] = [:]
        var submitted: [UInt64] = []
        var pairs: [UInt64: Pair] = [:]
        var pairOrder: [UInt64] = []
        var perps: Set<InstrumentId> = []
        var position: [InstrumentId: Fixed] = [:]
        var expected: Set<FundingKey> = []
        var received: Set<FundingKey> = []

        for r in records {
            book.apply(r.event, time: r.eventTime, seq: r.seq)
            if r.eventTime > report.to { report.to = r.eventTime }
            switch r.event {
            case .runStarted:
                report.runs += 1
            case .runEnded(let e):
                report.runsEnded += 1
                report.lastOutcome = e.outcome
            case .sessionStats(let s):
                report.statsRecords += 1
                report.requests += s.requests
                report.failedRequests += min(s.failedRequests, s.requests)
                report.streamUpMs += s.streamUpMs
                report.streamDownMs += s.streamDownMs
                report.reconnects += s.reconnects
            case .instrumentDefined(let d):
                if d.kind.isPerpetual { perps.insert(d.id) }
            case .orderIntended(let i):
                intents[r.seq] = Intent(pairId: i.pairId, leg: i.leg, qty: i.qty)
                if pairs[i.pairId] == nil { pairs[i.pairId] = Pair(); pairOrder.append(i.pairId) }
                if i.reason == .open && pairs[i.pairId]!.target == nil && i.leg == .spot { pairs[i.pairId]!.target = i.qty }
            case .orderSubmitted(let s):
                submitted.append(s.intentSeq)
            case .orderRejected(let x):
                if intents[x.intentSeq]?.filled.isZero == true { report.ordersRejected += 1 }
                intents[x.intentSeq]?.ended = true
            case .orderCancelled(let x):
                if intents[x.intentSeq]?.filled.isZero == true { report.ordersCancelled += 1 }
                intents[x.intentSeq]?.ended = true
            case .orderExpired(let x):
                if intents[x.intentSeq]?.filled.isZero == true { report.ordersExpired += 1 }
                intents[x.intentSeq]?.ended = true
            case .orderFilled(let f):
                let dq = f.positionDelta
                position[f.instrumentId, default: .zero] += dq
                guard !f.isLiquidation, var intent = intents[f.intentSeq] else {
                    // A liquidation names no intent: it moves the pair holding the instrument.
                    for id in pairOrder where pairs[id]!.phase != .flat && pairs[id]!.instruments.contains(f.instrumentId) {
                        if perps.contains(f.instrumentId) { pairs[id]!.perp += dq } else { pairs[id]!.spot += dq }
                        break
                    }
                    break
                }
                intent.filled += f.qty
                if f.leavesQty.isZero { intent.done = true }
                intents[f.intentSeq] = intent
                if intent.leg == .spot { pairs[intent.pairId]?.spot += dq } else { pairs[intent.pairId]?.perp += dq }
            case .reconciled(let c) where c.status == .corrected:
                position[c.instrumentId] = c.venueQty
            case .pairTransition(let t):
                if pairs[t.pairId] == nil { pairs[t.pairId] = Pair(); pairOrder.append(t.pairId) }
                pairs[t.pairId]!.phase = t.to
                pairs[t.pairId]!.instruments = [t.spot, t.perp]
            case .clockTicked(let tick) where tick.purpose == .scan:
                for id in pairOrder {
                    guard let p = pairs[id], p.phase == .open, let target = p.target, target.isPositive else { continue }
                    let drift = (p.spot + p.perp).magnitude.divided(by: target, scale: 8, .toNearestOrEven)
                    report.driftSamples += 1
                    report.driftSum += drift
                    if drift > report.driftMax { report.driftMax = drift }
                }
            case .fundingSettled(let f):
                if let q = position[f.instrumentId], !q.isZero { expected.insert(FundingKey(f.instrumentId, r.eventTime)) }
            case .fundingPaid(let p):
                received.insert(FundingKey(p.instrumentId, p.settlementTime))
            case .killSwitchChanged(let k):
                if k.source == .operatorCommand {
                    if k.engaged { report.killSwitchEngagedByOperator += 1 } else { report.killSwitchReleasedByOperator += 1 }
                } else if k.engaged {
                    report.killSwitchAutomatic += 1
                }
            default:
                break
            }
        }
        var seen: Set<UInt64> = []
        for seq in submitted where seen.insert(seq).inserted {
            report.ordersSubmitted += 1
            guard let i = intents[seq] else { report.ordersUnresolved += 1; continue }
            if i.done { report.ordersFilled += 1 } else if !i.filled.isZero { report.ordersPartiallyFilled += 1 } else if !i.ended { report.ordersUnresolved += 1 }
        }
        report.settlementsExpected = expected.count
        report.settlementsReceived = received.intersection(expected).count
        report.settlementsMissed = expected.subtracting(received).count
        report.settlementsUnexpected = received.subtracting(expected).count
        // The account's totals (equity = initial + price + funding − fees − slippage, exactly).
        let marks = book
        report.pricePnL = book.portfolio.totalPricePnL(marks: { marks.mark($0) })
        report.funding = book.portfolio.totalFunding
        report.fees = book.portfolio.totalFees
        report.slippage = book.portfolio.totalSlippage
        report.equity = book.equity
        return report
    }
}

/// A settlement of one instrument.
struct FundingKey: Hashable {
    var instrument: InstrumentId
    var time: Timestamp
    init(_ instrument: InstrumentId, _ time: Timestamp) {
        self.instrument = instrument
        self.time = time
    }
}

// MARK: - Rendering

extension SessionReport {
    /// `0.99870000` → `99.87%` (two places, half-even).
    static func percent(_ f: Fixed?) -> String {
        guard let f else { return "n/a" }
        return f.multiplied(by: 100).rounded(scale: 2, .toNearestOrEven).description + "%"
    }

    static func usdt(_ f: Fixed) -> String { f.rounded(scale: 2, .toNearestOrEven).description }

    /// The report for an operator, one line per metric with its target.
    public func text(journalPath: String) -> String {
        func verdict(_ ok: Bool?) -> String { ok.map { $0 ? "ok" : "MISSED" } ?? "-" }
        let pct99 = Fixed(mantissa: 99, scale: 2), pct95 = Fixed(mantissa: 95, scale: 2), pct2 = Fixed(mantissa: 2, scale: 2)
        var lines: [String] = []
        lines.append("session report: \(journalPath) (\(mode))")
        let restarts = max(0, runs - 1)
        lines.append("  span           venue time \(from.iso8601) → \(to.iso8601); \(runs) run\(runs == 1 ? "" : "s") (\(restarts) restart\(restarts == 1 ? "" : "s")), "
                     + "\(runsEnded) ended cleanly\(lastOutcome.map { ", last: \($0)" } ?? ", still running or killed")")
        func row(_ name: String, _ value: String, _ target: String, _ ok: Bool?) -> String {
            let padded = name.padding(toLength: 15, withPad: " ", startingAt: 0)
            return "  \(padded)\(value)  [target \(target): \(verdict(ok))]"
        }
        let streams = streamAvailability.map { "; stream time \(Self.percent($0)) connected, \(reconnects) reconnects" } ?? "; no streams"
        lines.append(row("venue API", "\(Self.percent(availability)) of \(requests) requests worked (\(failedRequests) failed)\(streams)",
                         "> 99%", availability.map { $0 > pct99 && (streamAvailability.map { $0 > pct99 } ?? true) }))
        lines.append(row("fill rate", "\(Self.percent(fillRate)): \(ordersFilled) of \(ordersSubmitted) orders filled (\(ordersPartiallyFilled) partly, "
                         + "\(ordersRejected) rejected, \(ordersCancelled) cancelled, \(ordersExpired) expired, \(ordersUnresolved) unresolved)",
                         "> 95%", fillRate.map { $0 > pct95 }))
        lines.append(row("delta drift", driftSamples == 0 ? "n/a (no pair was open at a scan)"
                         : "max \(Self.percent(driftMax)), mean \(Self.percent(driftMean)) over \(driftSamples) scans of open pairs",
                         "< 2%", driftSamples == 0 ? nil : driftMax < pct2))
        lines.append(row("funding", "\(settlementsExpected) settlements expected, \(settlementsReceived) received, \(settlementsMissed) missed, "
                         + "\(settlementsUnexpected) unexpected", "none missed", settlementsMissed == 0))
        lines.append("  net funding    \(Self.usdt(netFundingAfterFees)) USDT after fees (funding \(Self.usdt(funding)) − fees \(Self.usdt(fees)))")
        lines.append("  P&L            price \(Self.usdt(pricePnL)), funding \(Self.usdt(funding)), fees −\(Self.usdt(fees)), "
                     + "slippage −\(Self.usdt(slippage)): net \(Self.usdt(netPnL)) USDT; equity \(Self.usdt(equity)) of \(Self.usdt(initialCapital))")
        lines.append("  kill switch    \(killSwitchEngagedByOperator) engaged and \(killSwitchReleasedByOperator) released by the operator, "
                     + "\(killSwitchAutomatic) automatic (drawdown)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// One JSON object: counts as numbers, decimals as strings (exact), ratios as 8-place decimals.
    public func json(journalPath: String) -> String {
        func q(_ s: String) -> String { jsonString(s) }
        func opt(_ f: Fixed?) -> String { f.map { q($0.description) } ?? "null" }
        let fields: [(String, String)] = [
            ("journal", q(journalPath)), ("mode", q(mode.description)), ("from", q(from.iso8601)), ("to", q(to.iso8601)),
            ("runs", "\(runs)"), ("runsEnded", "\(runsEnded)"), ("lastOutcome", lastOutcome.map { q($0.description) } ?? "null"),
            ("requests", "\(requests)"), ("failedRequests", "\(failedRequests)"), ("availability", opt(availability)),
            ("streamUpMs", "\(streamUpMs)"), ("streamDownMs", "\(streamDownMs)"), ("reconnects", "\(reconnects)"),
            ("streamAvailability", opt(streamAvailability)), ("statsRecords", "\(statsRecords)"),
            ("ordersSubmitted", "\(ordersSubmitted)"), ("ordersFilled", "\(ordersFilled)"), ("ordersPartiallyFilled", "\(ordersPartiallyFilled)"),
            ("ordersRejected", "\(ordersRejected)"), ("ordersCancelled", "\(ordersCancelled)"), ("ordersExpired", "\(ordersExpired)"),
            ("ordersUnresolved", "\(ordersUnresolved)"), ("fillRate", opt(fillRate)),
            ("driftSamples", "\(driftSamples)"), ("driftMax", driftSamples == 0 ? "null" : q(driftMax.description)), ("driftMean", opt(driftMean)),
            ("settlementsExpected", "\(settlementsExpected)"), ("settlementsReceived", "\(settlementsReceived)"),
            ("settlementsMissed", "\(settlementsMissed)"), ("settlementsUnexpected", "\(settlementsUnexpected)"),
            ("initialCapital", q(initialCapital.description)), ("equity", q(equity.description)),
            ("pricePnL", q(pricePnL.description)), ("funding", q(funding.description)), ("fees", q(fees.description)),
            ("slippage", q(slippage.description)), ("netPnL", q(netPnL.description)), ("netFundingAfterFees", q(netFundingAfterFees.description)),
            ("killSwitchEngagedByOperator", "\(killSwitchEngagedByOperator)"), ("killSwitchReleasedByOperator", "\(killSwitchReleasedByOperator)"),
            ("killSwitchAutomatic", "\(killSwitchAutomatic)"),
        ]
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}\n"
    }
}
