// Rebuilds a backtest's book from its run journal, from seq 1, with the source market journal
// for marks: the projection an auditor trusts because it does not depend on the engine's
// in-memory state. The run journal says everything needed — the config (`config.applied`),
// the source journal and span (`run.started`), the traded instruments, every intent, fill and
// funding payment — and the source supplies the bar closes the book is valued at.
//
// Merge order (the driver's, see BacktestDriver): at one timestamp the source's bars come
// before the run's events of that time; an equity sample for a scan tick at t is taken after
// every run event of time t (the tick's own decisions and order acknowledgements), before
// anything later.

public import CarryCore
public import CarryJournal
import Foundation

/// A book rebuilt from a run journal.
public struct RebuiltRun: Sendable {
    public var config: BacktestConfig
    public var projection: BookProjection
    /// Same digest as `BacktestResult.stateHash` when the rebuild agrees with the run.
    public var stateHash: Digest
    public var summary: BacktestSummary
    public var runEvents: Int
}

/// Folds run journals into books.
public enum RunProjector {
    /// Rebuilds the run at `runPath` against its source journal at `sourcePath`; writes the
    /// equity curve to `equityCSVPath` when given (byte-identical to the run's own).
    public static func rebuild(runPath: String, sourcePath: String, equityCSVPath: String? = nil) throws -> RebuiltRun {
        let run = try Journal.open(runPath, readOnly: true)
        let source = try Journal.open(sourcePath, readOnly: true)
        // The header: run.started, config.applied, instrument definitions.
        var started: RunStarted?
        var configText: String?
        var instruments: [InstrumentDefined] = []
        try run.withSnapshot { snap in
            _ = try snap.scan { view in
                switch try view.decode() {
                case .runStarted(let r): started = r
                case .configApplied(let c): configText = c.text
                case .instrumentDefined(let d): instruments.append(d)
                case .alertRaised: break
                default: return false
                }
                return true
            }
        }
        guard let started, let configText else {
            throw BacktestError("\(runPath) is not a backtest run journal: it does not start with run.started and config.applied")
        }
        guard source.meta.journalId == started.sourceJournal else {
            throw BacktestError("\(runPath) was run over journal \(started.sourceJournal), but \(sourcePath) is journal \(source.meta.journalId). Pass the market journal the run read.")
        }
        let config = try BacktestConfig.parse(canonical: configText, source: "\(runPath) config.applied")
        var pairs: [ResolvedPair] = []
        for symbol in config.symbols {
            guard let spot = instruments.first(where: { $0.symbol == symbol && $0.kind == .spot }),
                  let perp = instruments.first(where: { $0.symbol == symbol && $0.kind.isPerpetual }) else {
                throw BacktestError("\(runPath) does not define both legs of \(symbol)")
            }
            pairs.append(ResolvedPair(symbol: symbol, spot: spot, perp: perp))
        }
        var traded = Set<InstrumentId>()
        for p in pairs { traded.insert(p.spot.id); traded.insert(p.perp.id) }
        let perpOfSpot = Dictionary(uniqueKeysWithValues: pairs.map { ($0.spot.id, $0.perp.id) })

        var book = BookProjection(initialCash: config.initialCapitalUsdt, barIntervalSeconds: config.barIntervalSeconds, margin: config.margin)
        let sampler = try EquitySampler(config: config, pairs: pairs, csvPath: equityCSVPath)
        var pendingSample: Timestamp?
        var statistics = RunEventStatistics(pairs: pairs, maxHoldingMs: config.strategy.maxHoldingMs)
        var killSwitch = false
        var runEvents = 0

        func takeSample() {
            guard let t = pendingSample else { return }
            pendingSample = nil
            sampler.sample(at: t, portfolio: book.portfolio, marks: { book.mark($0) }, openPairs: book.activePairCount)
        }

        try run.withSnapshot { runSnap in
            let lastRunSeq = try runSnap.lastSeq()
            var nextRunSeq: UInt64 = 1
            var peeked: RecordedEvent?
            func peek() throws -> RecordedEvent? {
                if peeked == nil, nextRunSeq <= lastRunSeq {
                    peeked = try runSnap.event(at: nextRunSeq)
                    nextRunSeq += 1
                }
                return peeked
            }
            /// Applies run events while `condition(time)` holds.
            func drainRun(while condition: (Timestamp) -> Bool) throws {
                while let e = try peek(), condition(e.eventTime) {
                    peeked = nil
                    runEvents += 1
                    if let t = pendingSample, e.eventTime > t { takeSample() }
                    book.apply(e.event, time: e.eventTime, seq: e.seq)
                    statistics.observe(e.event)
                    switch e.event {
                    case .clockTicked(let tick) where tick.purpose == .scan:
                        pendingSample = e.eventTime
                    case .killSwitchChanged(let k) where k.engaged:
                        killSwitch = true
                    default:
                        break
                    }
                }
            }
            try source.withSnapshot { snap in
                _ = try snap.scanByTime(from: started.from.adding(ms: -config.warmupMs), through: started.to) { view in
                    guard view.header.kindCode == EventKind.barClosed.rawValue, case .barClosed(let bar) = try view.decode(),
                          bar.intervalSeconds == config.barIntervalSeconds, traded.contains(bar.instrumentId) else { return true }
                    let t = view.header.eventTime
                    try drainRun(while: { $0 < t })
                    if let s = pendingSample, t > s { takeSample() }
                    if config.zeroBasis {
                        // As the run saw them: no perp bars, each spot bar again as its perp's.
                        guard let perp = perpOfSpot[bar.instrumentId] else { return true }
                        book.apply(.barClosed(bar), time: t, seq: 0)
                        var copy = bar
                        copy.instrumentId = perp
                        book.apply(.barClosed(copy), time: t, seq: 0)
                        return true
                    }
                    book.apply(.barClosed(bar), time: t, seq: 0)
                    return true
                }
            }
            try drainRun(while: { _ in true })
            takeSample()
        }
        try sampler.close()
        var marks: [InstrumentId: Fixed] = [:]
        for id in traded { if let m = book.mark(id) { marks[id] = m } }
        var summary = sampler.tracker.summary(portfolio: book.portfolio, marks: marks, pairs: pairs, from: started.from, to: started.to,
                                              events: statistics, killSwitch: killSwitch)
        summary.zeroBasis = config.zeroBasis
        return RebuiltRun(config: config, projection: book, stateHash: StateDigest.of(book.portfolio, marks: marks), summary: summary,
                          runEvents: runEvents)
    }
}
