// Alert rules over a journal: a fold of its records that says, for each record, which alerts
// it raises. Deterministic (no clock): the same journal always raises the same alerts, so a
// restarted alerter refolds from the start and sends only what follows the last record it
// had handled. The one rule that needs a clock — the venue stream or the engine gone quiet —
// is `quiet(forMs:)`, asked by the alerter with its wall time.

public import CarryCore

/// What the rules watch for, and their thresholds (config/alerts.yaml).
public struct AlertRuleSettings: Sendable, Equatable {
    /// A pair's settled rate per 8 h crossing above / below these (nil: not watched).
    public var fundingAbove: Fixed?
    public var fundingBelow: Fixed?
    /// Warn when the drawdown from peak equity reaches this share of risk.maxDrawdown.
    public var drawdownWarnShare: Fixed
    /// Alert when the journal has had no new record for this long (and the run has not ended).
    public var quietAfterMs: Int64

    public init(fundingAbove: Fixed? = nil, fundingBelow: Fixed? = nil, drawdownWarnShare: Fixed = Fixed("0.8")!, quietAfterMs: Int64 = 120_000) {
        self.fundingAbove = fundingAbove
        self.fundingBelow = fundingBelow
        self.drawdownWarnShare = drawdownWarnShare
        self.quietAfterMs = quietAfterMs
    }
}

/// One alert to deliver.
public struct AlertMessage: Sendable, Equatable {
    /// `funding.above`, `leg.unwind`, `delta.drift`, `margin.buffer`, `drawdown.near`, `kill.engaged`,
    /// `reconciliation`, `funding.ledger`, `engine.halted`, `engine.alert`, `stream.quiet`.
    public var rule: String
    /// What it is about (a symbol, or "" for the account); rule + subject is the dedup key.
    public var subject: String
    public var severity: AlertSeverity
    public var text: String
    /// The journal record that raised it (0 for the quiet rule).
    public var seq: UInt64

    public var key: String { rule + "|" + subject }
}

/// The rules' state, folded from journal records.
public struct AlertRules: Sendable {
    public let settings: AlertRuleSettings
    private var symbols: [Int: String] = [:]
    private var isPerp: [Int: Bool] = [:]
    private var lastRate: [Int: Fixed] = [:]
    private var portfolio: Portfolio?
    private var marks: [Int: Fixed] = [:]
    private var peak: Fixed = .zero
    private var maxDrawdown: Fixed = Fixed("0.05")!
    private var drawdownWarned = false
    private var barInterval: UInt32 = 0
    public private(set) var ended = false

    public init(settings: AlertRuleSettings) { self.settings = settings }

    private func name(_ id: InstrumentId?) -> String { id.flatMap { symbols[$0.index] } ?? "" }

    /// The alerts one record raises.
    public mutating func apply(_ r: RecordedEvent) -> [AlertMessage] {
        var out: [AlertMessage] = []
        func raise(_ rule: String, _ subject: String, _ severity: AlertSeverity, _ text: String) {
            out.append(AlertMessage(rule: rule, subject: subject, severity: severity, text: text, seq: r.seq))
        }
        let t = r.eventTime.iso8601
        switch r.event {
        case .runStarted:
            ended = false
        case .runEnded(let e):
            ended = true
            _ = e
        case .configApplied(let c):
            // The limits the run is held to, from its own config text (read as the backtest reads it).
            if let config = try? BacktestConfig.parse(canonical: c.text, source: "config.applied") {
                maxDrawdown = config.risk.maxDrawdown
                portfolio = Portfolio(initialCash: config.initialCapitalUsdt)
                peak = config.initialCapitalUsdt
                barInterval = config.barIntervalSeconds
            }
        case .instrumentDefined(let d):
            symbols[d.id.index] = d.symbol
            isPerp[d.id.index] = d.kind.isPerpetual
        case .barClosed(let b):
            if barInterval == 0 || b.intervalSeconds == barInterval { marks[b.instrumentId.index] = b.close }
        case .fundingSettled(let f):
            guard f.intervalMinutes > 0 else { break }
            let rate = FundingMath.per8h(f.ratePerInterval, intervalMinutes: f.intervalMinutes)
            let before = lastRate[f.instrumentId.index]
            lastRate[f.instrumentId.index] = rate
            let s = name(f.instrumentId)
            if let above = settings.fundingAbove, rate > above, before.map({ $0 <= above }) ?? true {
                raise("funding.above", s, .info, "\(s) funding \(rate) per 8 h crossed above \(above) at \(t)")
            }
            if let below = settings.fundingBelow, rate < below, before.map({ $0 >= below }) ?? true {
                raise("funding.below", s, .warning, "\(s) funding \(rate) per 8 h crossed below \(below) at \(t)")
            }
        case .pairTransition(let tr):
            if tr.to == .unwinding {
                raise("leg.unwind", name(tr.perp), .critical, "\(name(tr.perp)): a leg failed (\(tr.cause)); unwinding the filled leg at \(t)")
            }
        case .riskBreached(let b):
            let s = name(b.instrumentId)
            switch b.rule {
            case .deltaDrift: raise("delta.drift", s, .warning, "\(s): delta drift \(b.observed) past the band \(b.limit) at \(t); rebalancing")
            case .marginBuffer: raise("margin.buffer", s, .critical, "\(s): margin buffer \(b.observed) below \(b.limit) at \(t); \(b.action)")
            case .drawdown: raise("drawdown.stop", "", .critical, "drawdown stop: \(b.observed) past \(b.limit) at \(t); kill switch engaged")
            case .liquidation: raise("liquidation", s, .critical, "\(s): the perp leg was liquidated at \(b.observed) at \(t)")
            case .legRisk: raise("leg.risk", s, .critical, "\(s): leg-risk budget exhausted at \(t); \(b.action)")
            default:
                if b.action == .halted || b.action == .killSwitch {
                    raise("engine.halted", s, .critical, "\(b.rule) \(b.action) at \(t): limit \(b.limit), observed \(b.observed)")
                }
            }
        case .killSwitchChanged(let k):
            if k.engaged { raise("kill.engaged", "", .critical, "kill switch engaged (\(k.source): \(k.reason)) at \(t)") }
        case .reconciled(let rc):
            if rc.status != .matched {
                raise("reconciliation", name(rc.instrumentId), .warning,
                      "reconciliation \(rc.status) on \(name(rc.instrumentId)) at \(t): local \(rc.localQty), venue \(rc.venueQty)")
            }
        case .alertRaised(let a):
            if a.code.hasPrefix("funding") {
                raise("funding.ledger", a.code, .warning, "\(a.code): \(a.message) (\(t))")
            } else if a.severity != .info {
                raise("engine.alert", a.code, a.severity, "\(a.code): \(a.message) (\(t))")
            }
        case .orderFilled(let f):
            portfolio?.apply(f, isPerp: isPerp[f.instrumentId.index] ?? false)
        case .fundingPaid(let p):
            portfolio?.apply(p)
        case .clockTicked:
            guard let p = portfolio, peak.isPositive else { break }
            let m = marks
            let equity = p.equity(marks: { m[$0.index] })
            peak = Fixed.max(peak, equity)
            let drawdown = (peak - equity).divided(by: peak, scale: 6, .down)
            let warnAt = maxDrawdown.multiplied(by: settings.drawdownWarnShare, scale: 6, .down)
            if drawdown >= warnAt && !drawdownWarned {
                drawdownWarned = true
                raise("drawdown.near", "", .warning, "drawdown \(drawdown) reached \(settings.drawdownWarnShare) of the \(maxDrawdown) stop at \(t) (equity \(equity.rounded(scale: 2, .toNearestOrEven)))")
            } else if drawdown < warnAt.divided(by: Int64(2), scale: 6, .down) {
                drawdownWarned = false
            }
        default:
            break
        }
        return out
    }
}
