// What the dashboard shows, folded from a journal's records one at a time (a projection, like
// the rest of Carry): it works the same on a paper session, a live session and a backtest run
// journal, and is updated incrementally as the journal grows — only new records are read.
//
// Money is kept exact (`Fixed`, through CarryCore's `Portfolio`) and rendered as decimal
// strings; the page never computes money itself.

public import CarryCore
import CarryEngine
import CarryVenues

/// The dashboard's state, folded from journal records.
public struct DashboardModel: Sendable {
    /// Per traded pair (keyed by the perp's instrument index).
    struct Pair {
        var symbol: String
        var spot: InstrumentId?
        var perp: InstrumentId
        var phase = "flat"
        var rate: Fixed?
        var rate8h: Fixed?
        var intervalMinutes: UInt32 = 480
        var settledAt: Timestamp?
        var predicted: Fixed?
        var predictedAt: Timestamp?
        var score: Fixed?
        var components: [(factor: String, value: Fixed, weight: Fixed)] = []
        var signalAt: Timestamp?
        var targetQty: Fixed = .zero
    }

    public private(set) var lastSeq: UInt64 = 0
    public private(set) var lastTime: Timestamp = .distantPast
    public private(set) var mode = "unknown"
    public private(set) var configSource = ""
    var config: BacktestConfig?
    var instruments: [Int: InstrumentDefined] = [:]
    var pairs: [Int: Pair] = [:]
    var pairOrder: [Int] = []
    var portfolio: Portfolio?
    var marks: [Int: Fixed] = [:]
    var killSwitch = false
    var killReason = ""
    /// Recent history, bounded.
    var equity: [(Timestamp, Fixed, Fixed, Fixed, Fixed, Fixed)] = []   // time, equity, funding, fees, slippage, price
    var payments: [(Timestamp, String, Fixed)] = []
    var orders: [UInt64: (time: Timestamp, symbol: String, side: String, qty: Fixed, reason: String, status: String, filled: Fixed)] = [:]
    var orderSeqs: [UInt64] = []
    var risks: [(Timestamp, String)] = []
    var alerts: [(Timestamp, String, String)] = []
    var reconciliation: (Timestamp, String)?
    var skips: [Int: (Timestamp, String)] = [:]

    static let keepEquity = 2000
    static let keepRecent = 50

    public init() {}

    /// Folds one record.
    public mutating func apply(_ r: RecordedEvent) {
        lastSeq = max(lastSeq, r.seq)
        lastTime = max(lastTime, r.eventTime)
        let t = r.eventTime
        switch r.event {
        case .runStarted(let s):
            mode = s.mode.description
        case .configApplied(let c):
            configSource = c.source
            config = try? BacktestConfig.parse(canonical: c.text, source: c.source)
            if portfolio == nil, let config { portfolio = Portfolio(initialCash: config.initialCapitalUsdt) }
        case .instrumentDefined(let d):
            instruments[d.id.index] = d
            linkPairs()
        case .barClosed(let b):
            if config.map({ $0.barIntervalSeconds == b.intervalSeconds }) ?? true { marks[b.instrumentId.index] = b.close }
        case .fundingSettled(let f):
            guard var p = pairs[f.instrumentId.index] else { break }
            p.rate = f.ratePerInterval
            p.intervalMinutes = f.intervalMinutes
            p.rate8h = f.intervalMinutes > 0 ? FundingMath.per8h(f.ratePerInterval, intervalMinutes: f.intervalMinutes) : nil
            p.settledAt = t
            pairs[f.instrumentId.index] = p
        case .fundingPredicted(let f):
            guard var p = pairs[f.instrumentId.index] else { break }
            p.predicted = f.intervalMinutes > 0 ? FundingMath.per8h(f.predictedRatePerInterval, intervalMinutes: f.intervalMinutes) : nil
            p.predictedAt = f.nextSettlementTime
            pairs[f.instrumentId.index] = p
        case .signalComputed(let s):
            guard var p = pairs[s.perp.index] else { break }
            p.score = s.score
            p.components = s.components.map { ("\($0.factor)", $0.value, $0.weight) }
            p.signalAt = t
            pairs[s.perp.index] = p
        case .pairTransition(let tr):
            guard var p = pairs[tr.perp.index] else { break }
            p.phase = "\(tr.to)"
            pairs[tr.perp.index] = p
        case .orderIntended(let o):
            let symbol = instruments[o.instrumentId.index].map { "\($0.symbol) \($0.kind == .spot ? "spot" : "perp")" } ?? "#\(o.instrumentId.index)"
            orders[r.seq] = (t, symbol, "\(o.side)", o.qty, "\(o.reason)", "intended", .zero)
            orderSeqs.append(r.seq)
            if orderSeqs.count > Self.keepRecent {
                orders[orderSeqs.removeFirst()] = nil
            }
            if o.reason == .open, var p = pairs[perpIndex(of: o.instrumentId)] { p.targetQty = o.qty; pairs[p.perp.index] = p }
        case .orderSubmitted(let s): setStatus(s.intentSeq, "submitted")
        case .orderAccepted(let a): setStatus(a.intentSeq, "accepted")
        case .orderRejected(let rj): setStatus(rj.intentSeq, "rejected \(rj.code)")
        case .orderCancelled(let c): setStatus(c.intentSeq, "cancelled")
        case .orderExpired(let e): setStatus(e.intentSeq, "expired")
        case .orderUnknown(let u): setStatus(u.intentSeq, "unknown")
        case .orderFilled(let f):
            let isPerp = instruments[f.instrumentId.index]?.kind.isPerpetual ?? false
            portfolio?.apply(f, isPerp: isPerp)
            if var o = orders[f.intentSeq] {
                o.filled += f.qty
                o.status = o.filled >= o.qty ? "filled" : "partially filled"
                orders[f.intentSeq] = o
            }
        case .fundingPaid(let p):
            portfolio?.apply(p)
            let symbol = instruments[p.instrumentId.index]?.symbol ?? "#\(p.instrumentId.index)"
            payments.append((t, symbol, p.amount))
            if payments.count > 200 { payments.removeFirst(payments.count - 200) }
        case .killSwitchChanged(let k):
            killSwitch = k.engaged
            killReason = k.reason
        case .riskBreached(let b):
            risks.append((t, "\(b.rule) \(b.action) limit \(b.limit) observed \(b.observed)"))
            if risks.count > Self.keepRecent { risks.removeFirst() }
        case .alertRaised(let a):
            alerts.append((t, "\(a.severity)", "\(a.code): \(a.message)"))
            if alerts.count > Self.keepRecent { alerts.removeFirst() }
        case .reconciled(let rc):
            reconciliation = (t, "\(rc.status)")
        case .entrySkipped(let s):
            skips[s.perp.index] = (t, "\(s.reason)" + (s.factor.map { " (\($0))" } ?? ""))
        case .clockTicked:
            sampleEquity(at: t)
        default:
            break
        }
    }

    private mutating func setStatus(_ intentSeq: UInt64, _ status: String) {
        guard var o = orders[intentSeq], !o.status.hasPrefix("filled") else { return }
        o.status = status
        orders[intentSeq] = o
    }

    private func perpIndex(of id: InstrumentId) -> Int {
        if pairs[id.index] != nil { return id.index }
        return pairs.first { $0.value.spot == id }?.key ?? -1
    }

    /// Pairs the perps and spots of the config's symbols once both are defined.
    private mutating func linkPairs() {
        let symbols = config?.symbols ?? Array(Set(instruments.values.map(\.symbol))).sorted()
        for symbol in symbols {
            guard let perp = instruments.values.first(where: { $0.symbol == symbol && $0.kind.isPerpetual }) else { continue }
            let spot = instruments.values.first { $0.symbol == symbol && $0.kind == .spot }
            if pairs[perp.id.index] == nil {
                pairs[perp.id.index] = Pair(symbol: symbol, spot: spot?.id, perp: perp.id, intervalMinutes: max(perp.fundingIntervalMinutes, 1))
                pairOrder.append(perp.id.index)
            } else if pairs[perp.id.index]?.spot == nil {
                pairs[perp.id.index]?.spot = spot?.id
            }
        }
    }

    private mutating func sampleEquity(at t: Timestamp) {
        guard let p = portfolio else { return }
        let m = marks
        let eq = p.equity(marks: { m[$0.index] })
        let price = p.totalPricePnL(marks: { m[$0.index] })
        if let last = equity.last, last.0 == t { equity.removeLast() }
        equity.append((t, eq, p.totalFunding, p.totalFees, p.totalSlippage, price))
        if equity.count > Self.keepEquity {
            // Keep the whole span at half the resolution rather than dropping the start.
            equity = equity.enumerated().filter { $0.offset % 2 == 0 || $0.offset == equity.count - 1 }.map(\.element)
        }
    }

    // MARK: - JSON

    /// The state as a JSON object (exact decimals as strings).
    public func json() -> String {
        let o = JSONWriter()
        o.object {
            o.field("lastSeq", UInt64(lastSeq))
            o.field("lastTime", lastTime == .distantPast ? "" : lastTime.iso8601)
            o.field("mode", mode)
            o.field("config", configSource)
            o.field("killSwitch", killSwitch)
            o.field("killReason", killReason)
            let band = config?.execution.deltaBand ?? Fixed("0.02")!
            o.field("deltaBand", band.description)
            if let p = portfolio {
                let m = marks
                o.field("equity", p.equity(marks: { m[$0.index] }).rounded(scale: 2, .toNearestOrEven).description)
                o.field("funding", p.totalFunding.rounded(scale: 2, .toNearestOrEven).description)
                o.field("fees", p.totalFees.rounded(scale: 2, .toNearestOrEven).description)
                o.field("slippage", p.totalSlippage.rounded(scale: 2, .toNearestOrEven).description)
                o.field("pricePnl", p.totalPricePnL(marks: { m[$0.index] }).rounded(scale: 2, .toNearestOrEven).description)
                o.field("initialCash", p.initialCash.description)
            }
            o.array("pairs") {
                for key in pairOrder {
                    guard let pair = pairs[key] else { continue }
                    o.object { pairJSON(pair, band: band, into: o) }
                }
            }
            o.array("equitySeries") {
                for e in equity {
                    o.object {
                        o.field("t", e.0.ms)
                        o.field("equity", e.1.rounded(scale: 2, .toNearestOrEven).description)
                        o.field("funding", e.2.rounded(scale: 2, .toNearestOrEven).description)
                        o.field("fees", e.3.rounded(scale: 2, .toNearestOrEven).description)
                        o.field("slippage", e.4.rounded(scale: 2, .toNearestOrEven).description)
                        o.field("price", e.5.rounded(scale: 2, .toNearestOrEven).description)
                    }
                }
            }
            o.array("payments") {
                for p in payments.suffix(100) {
                    o.object {
                        o.field("t", p.0.ms)
                        o.field("symbol", p.1)
                        o.field("amount", p.2.rounded(scale: 4, .toNearestOrEven).description)
                    }
                }
            }
            o.array("orders") {
                for seq in orderSeqs.reversed() {
                    guard let x = orders[seq] else { continue }
                    o.object {
                        o.field("seq", seq)
                        o.field("t", x.time.ms)
                        o.field("symbol", x.symbol)
                        o.field("side", x.side)
                        o.field("qty", x.qty.description)
                        o.field("filled", x.filled.description)
                        o.field("reason", x.reason)
                        o.field("status", x.status)
                    }
                }
            }
            o.array("risks") { for r in risks.reversed() { o.object { o.field("t", r.0.ms); o.field("text", r.1) } } }
            o.array("alerts") { for a in alerts.reversed() { o.object { o.field("t", a.0.ms); o.field("severity", a.1); o.field("text", a.2) } } }
            if let rc = reconciliation {
                o.field("reconciliation", "\(rc.1) at \(rc.0.iso8601)")
            }
        }
        return o.text
    }

    private func pairJSON(_ pair: Pair, band: Fixed, into o: JSONWriter) {
        o.field("symbol", pair.symbol)
        o.field("phase", pair.phase)
        o.field("rate", pair.rate?.description ?? "")
        o.field("rate8h", pair.rate8h?.description ?? "")
        o.field("intervalMinutes", UInt64(pair.intervalMinutes))
        o.field("settledAt", pair.settledAt?.ms ?? 0)
        let next = pair.settledAt.map { $0.adding(ms: Int64(pair.intervalMinutes) * 60_000) }
        o.field("nextSettlement", next?.ms ?? 0)
        o.field("predicted", pair.predicted?.description ?? "")
        o.field("score", pair.score?.description ?? "")
        o.field("why", skips[pair.perp.index]?.1 ?? "")
        o.array("components") {
            for c in pair.components {
                o.object {
                    o.field("factor", c.factor)
                    o.field("value", c.value.description)
                    o.field("weight", c.weight.description)
                }
            }
        }
        let spotQty = pair.spot.flatMap { portfolio?.position($0) } ?? .zero
        let perpQty = portfolio?.position(pair.perp) ?? .zero
        o.field("spotQty", spotQty.description)
        o.field("perpQty", perpQty.description)
        let mark = marks[pair.perp.index]
        o.field("mark", mark?.description ?? "")
        let net = spotQty + perpQty
        o.field("delta", net.description)
        let size = Fixed.max(spotQty.magnitude, perpQty.magnitude)
        let drift = size.isPositive ? net.magnitude.divided(by: size, scale: 6, .up) : Fixed.zero
        o.field("drift", drift.description)
        o.field("driftPastBand", drift > band)
        if let m = mark, let entry = portfolio?.entryPrice[safe: pair.perp.index] ?? nil, perpQty.isNegative, let config {
            let liq = config.margin.liquidationPrice(entry: entry, short: true)
            o.field("liquidationPrice", liq.description)
            o.field("marginBuffer", (liq - m).divided(by: m, scale: 4, .down).description)
        } else {
            o.field("liquidationPrice", "")
            o.field("marginBuffer", "")
        }
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { i >= 0 && i < count ? self[i] : nil }
}

/// A minimal JSON writer (the dashboard's state is written often; no Foundation round trip).
final class JSONWriter {
    var text = ""
    /// Per open container: nothing written in it yet.
    private var first = [true]
    /// A key was just written: the next value follows it without a comma.
    private var afterKey = false

    private func beginValue() {
        if afterKey {
            afterKey = false
            return
        }
        if !first[first.count - 1] { text += "," }
        first[first.count - 1] = false
    }

    private func key(_ key: String) {
        if !first[first.count - 1] { text += "," }
        first[first.count - 1] = false
        text += jsonString(key) + ":"
        afterKey = true
    }

    func object(_ body: () -> Void) {
        beginValue()
        text += "{"
        first.append(true)
        body()
        first.removeLast()
        text += "}"
    }

    func array(_ name: String, _ body: () -> Void) {
        key(name)
        beginValue()
        text += "["
        first.append(true)
        body()
        first.removeLast()
        text += "]"
    }

    func field(_ name: String, _ value: String) { key(name); beginValue(); text += jsonString(value) }
    func field(_ name: String, _ value: Bool) { key(name); beginValue(); text += value ? "true" : "false" }
    func field(_ name: String, _ value: UInt64) { key(name); beginValue(); text += String(value) }
    func field(_ name: String, _ value: Int64) { key(name); beginValue(); text += String(value) }
}
