// The backtest driver: replays a market journal in time order under a simulated clock,
// emits the strategy's scan ticks, runs the reducer and the simulated exchange, and writes
// the run journal.
//
// The ordering rules within one timestamp (bars, then settlements, then the scan tick) live in
// `ReplayPipeline` (CarryCore), which live paper trading shares.
//
// Invariants: the reducer only ever receives events with time ≤ the simulated clock; every
// decision and venue fact is journaled before anything acts on it, with the simulated time
// as its record time, so two runs of one config over one journal are byte-identical.
// The market journal is read and decoded ahead on a thread of its own (`MarketReadAhead`;
// the pipeline takes its records in scan order), the run journal's writes are pipelined (a
// crashed backtest is simply re-run), and memory stays bounded: nothing grows with the
// length of the run except the journal on disk.

public import CarryCore
public import CarryJournal
import Foundation

/// A backtest (or a sweep, a comparison) could not start or run; the message says what to do.
public struct BacktestError: Error, CustomStringConvertible, Equatable {
    public var message: String
    /// True for problems with the request (bad symbol, dates); false for failures.
    public var isBadInput: Bool
    public init(_ message: String, badInput: Bool = true) {
        self.message = message
        isBadInput = badInput
    }
    public var description: String { message }
}

/// One spot+perp pair resolved against a market journal.
public struct ResolvedPair: Sendable, Equatable {
    public var symbol: String
    public var spot: InstrumentDefined
    public var perp: InstrumentDefined
}

/// What a backtest produced.
public struct BacktestResult: Sendable {
    public var runJournalPath: String
    public var sourceJournal: JournalId
    public var from: Timestamp
    public var to: Timestamp
    /// SHA-256 over every record of the run journal (equal for byte-identical runs).
    public var contentHash: Digest
    /// SHA-256 of the final portfolio and pair state.
    public var stateHash: Digest
    public var summary: BacktestSummary
    /// Warnings for the operator (data gaps, clamped ranges).
    public var warnings: [String]
    public var events: (source: Int, run: Int)
    public var portfolio: Portfolio
    public var pairs: [ResolvedPair]
    public var finalMarks: [InstrumentId: Fixed]
}

/// Runs backtests.
public enum BacktestDriver {
    /// Resolves the configured symbols to spot and perp instruments of the venue.
    public static func resolvePairs(_ config: BacktestConfig, market: MarketJournal) throws(BacktestError) -> [ResolvedPair] {
        var pairs: [ResolvedPair] = []
        for symbol in config.symbols {
            let perp = market.instrument(venue: config.venue, kind: .linearPerpetual, symbol: symbol)
            let spot = market.instrument(venue: config.venue, kind: .spot, symbol: symbol)
            guard let perp, let spot else {
                let known = Set(market.symbols(venue: config.venue, kind: .linearPerpetual)).intersection(market.symbols(venue: config.venue, kind: .spot)).sorted()
                let close = SymbolSuggestions.closest(to: symbol, in: known, limit: 5)
                let hint = close.isEmpty ? "" : " Close matches: \(close.joined(separator: ", "))."
                let missing = perp == nil && spot == nil ? "spot or perpetual" : (perp == nil ? "perpetual" : "spot")
                throw BacktestError("\(config.venue) \(symbol) has no \(missing) instrument in \(market.journal.path).\(hint) Symbols with both legs there: \(known.isEmpty ? "none" : known.joined(separator: ", ")). Import or fetch the data first (carry import, carry fetch).")
            }
            pairs.append(ResolvedPair(symbol: symbol, spot: spot, perp: perp))
        }
        return pairs
    }

    /// The span every pair has bars (both legs) and funding for.
    /// (Zero-basis mode reads no perp bars, so needs none.)
    static func commonSpan(_ pairs: [ResolvedPair], interval: UInt32, market: MarketJournal, zeroBasis: Bool = false) throws(BacktestError) -> (Timestamp, Timestamp) {
        var lo = Timestamp.distantPast
        var hi = Timestamp.distantFuture
        for p in pairs {
            for (stream, what) in [(MarketStream.bars(p.spot.id, intervalSeconds: interval), "spot \(MarketStream.intervalName(interval)) bars"),
                                   (.bars(p.perp.id, intervalSeconds: interval), "perp \(MarketStream.intervalName(interval)) bars"),
                                   (.funding(p.perp.id), "funding")] where !(zeroBasis && stream == .bars(p.perp.id, intervalSeconds: interval)) {
                guard let e = market.extents[stream] else {
                    let zero = what.hasPrefix("perp") ? " (or study the span with zeroBasis: true / --zero-basis, which prices the perp from the spot bar)" : ""
                    throw BacktestError("\(p.perp.venue) \(p.symbol) has no \(what) in \(market.journal.path). Import or fetch them, or choose another barInterval\(zero).")
                }
                lo = max(lo, e.first)
                hi = min(hi, e.last)
            }
        }
        guard lo < hi else {
            throw BacktestError("the pairs \(pairs.map(\.symbol).joined(separator: ", ")) have no span in common where every leg has bars and funding. Trade fewer symbols or import more data.")
        }
        return (lo, hi)
    }

    /// Refuses a composite window that needs more history than the run can ever see (warmup
    /// plus the span): the strategy would never have the feature and never enter.
    static func checkFeatureWindows(_ config: BacktestConfig, pairs: [ResolvedPair], from: Timestamp, to: Timestamp) throws(BacktestError) {
        guard let c = config.composite else { return }
        let available = to.msSince(from) + config.warmupMs
        let intervalMs = Int64(pairs.map { $0.perp.fundingIntervalMinutes }.filter { $0 > 0 }.max() ?? 480) * Millis.minute
        let barMs = Int64(config.barIntervalSeconds) * 1000
        let windows: [(key: String, count: Int, unitMs: Int64, unit: String)] = [
            ("composite.levelWindow", c.windows.level, intervalMs, "settlements"),
            ("composite.trendWindow", c.windows.trend, intervalMs, "settlements"),
            ("composite.persistenceWindow", c.windows.persistence, intervalMs, "settlements"),
            ("composite.basisWindow", c.windows.basis, barMs, "bar closes"),
        ]
        for w in windows where Int64(w.count) * w.unitMs > available {
            throw BacktestError("\(w.key): \(w.count) \(w.unit) (\(Millis.formatDuration(Int64(w.count) * w.unitMs))) is longer than the data this run "
                                + "can see (warmup \(Millis.formatDuration(config.warmupMs)) + \(from.iso8601) → \(to.iso8601)); shorten the window or widen the span")
        }
    }

    /// Resolves what a config trades over `market`: its pairs and its span (clamped to the
    /// data, with a warning for each clamp). Refuses symbols without both legs and spans
    /// without data.
    public static func plan(config: BacktestConfig, market: MarketJournal) throws(BacktestError) -> BacktestPlan {
        let pairs = try resolvePairs(config, market: market)
        let (dataFrom, dataTo) = try commonSpan(pairs, interval: config.barIntervalSeconds, market: market, zeroBasis: config.zeroBasis)
        var warnings: [String] = []
        var from = config.from ?? dataFrom
        var to = config.to ?? dataTo
        let spanText = "\(dataFrom.iso8601) → \(dataTo.iso8601)"
        if to <= dataFrom || from >= dataTo {
            var hint = ""
            if !config.zeroBasis, let (f, t) = try? commonSpan(pairs, interval: config.barIntervalSeconds, market: market, zeroBasis: true), to > f && from < t {
                hint = " Spot bars and funding cover \(f.iso8601) → \(t.iso8601): --zero-basis (zeroBasis: true) studies it with the perp priced from the spot bar."
            }
            throw BacktestError("no data for \(pairs.map(\.symbol).joined(separator: ", ")) between \(from.iso8601) and \(to.iso8601): the journal has all legs and funding for \(spanText). Choose --from/--to inside that range.\(hint)")
        }
        if from < dataFrom {
            warnings.append("the data starts at \(dataFrom.iso8601); the backtest starts there instead of \(from.iso8601)")
            from = dataFrom
        }
        if to > dataTo {
            warnings.append("the data ends at \(dataTo.iso8601); the backtest ends there instead of \(to.iso8601)")
            to = dataTo
        }
        try checkFeatureWindows(config, pairs: pairs, from: from, to: to)
        return BacktestPlan(config: config, pairs: pairs, from: from, to: to, warnings: warnings)
    }

    /// Runs one backtest and writes its run journal into `outDirectory/journal`.
    public static func run(config: BacktestConfig, sourcePath: String, outDirectory: String,
                           progress: ((Double) -> Void)? = nil) throws -> BacktestResult {
        let market = try MarketJournal(readOnlyPath: sourcePath)
        var runner = try Runner(plan: try plan(config: config, market: market), market: market, outDirectory: outDirectory)
        return try runner.run(progress: progress)
    }
}

/// A config resolved against a market journal: what one run trades, and when.
public struct BacktestPlan: Sendable {
    public var config: BacktestConfig
    public var pairs: [ResolvedPair]
    /// The simulated span, inside the data.
    public var from: Timestamp
    public var to: Timestamp
    /// Found before the replay (a clamped span); gaps are found during it.
    public var warnings: [String]

    /// Where the replay starts reading: `from` less the warm-up.
    public var warmupFrom: Timestamp { from.adding(ms: -config.warmupMs) }

    /// The engine's configuration for this plan.
    var engineConfig: EngineConfig { config.engineConfig(pairs: pairs) }

    /// The run journal's id: a hash of the config, the source and the span, so the same run
    /// is the same journal.
    func runJournalId(source: JournalId) -> JournalId {
        var h = SHA256Hasher()
        h.update(Array(config.canonicalText.utf8))
        h.update(source.high)
        h.update(source.low)
        h.update(UInt64(bitPattern: from.ms))
        h.update(UInt64(bitPattern: to.ms))
        let d = h.finish().bytes
        return JournalId(high: d[0..<8].reduce(0) { $0 << 8 | UInt64($1) }, low: d[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
    }
}

/// One backtest: the market journal read ahead (`MarketReadAhead`) into a `ReplayFeed`,
/// which hands each instant to a `RunSession` whose records go to the run journal.
///
/// A struct, run through a `mutating` method: its session is touched for every market
/// record (see `RunSession`).
struct Runner {
    let plan: BacktestPlan
    let market: MarketJournal
    let runPath: String
    var session: RunSession

    init(plan: BacktestPlan, market: MarketJournal, outDirectory: String) throws {
        self.plan = plan
        self.market = market
        try FileManager.default.createDirectory(atPath: outDirectory, withIntermediateDirectories: true)
        runPath = outDirectory + "/journal"
        if Journal.exists(at: runPath) {
            throw BacktestError("\(outDirectory) already holds a run journal. Choose another --out, or delete that directory to re-run.")
        }
        let journal = try Journal.openOrCreate(runPath, create: JournalCreateOptions(purpose: .backtest, journalId: plan.runJournalId(source: market.journal.meta.journalId),
                                                                                    createdAt: plan.from))
        let sink = try JournalRunSink(journal: journal)
        session = try RunSession(plan: plan, sink: sink, equityCSVPath: outDirectory + "/equity.csv")
    }

    mutating func run(progress: ((Double) -> Void)?) throws -> BacktestResult {
        let source = try SourceRange(market.journal)
        session.begin(source: source)
        var feed = ReplayFeed(plan: plan, describe: market.describe)
        let warmupFrom = plan.warmupFrom
        let spanMs = Double(max(1, plan.to.ms - warmupFrom.ms))
        var lastProgress = 0.0
        // Only bars, settlements and interval changes of the traded instruments at the bar
        // interval inside [warm-up start, to] (what `ReplayFeed.reads` accepts), read and
        // decoded on the reader's thread, taken here in scan order.
        let reader = MarketReadAhead(journal: market.journal, selection: feed.selection)
        defer { reader.stop() }
        while let batch = try reader.next() {
            var nextBar = 0
            var nextOther = 0
            try batch.bars.withUnsafeBufferPointer { bars in
                for isBar in batch.isBar {
                    let t: Timestamp
                    if isBar {
                        t = bars[nextBar].time
                        try feed.add(seq: bars[nextBar].seq, time: t, bar: bars[nextBar].bar, to: &session)
                        nextBar += 1
                    } else {
                        t = batch.others[nextOther].time
                        try feed.add(seq: batch.others[nextOther].seq, time: t, event: batch.others[nextOther].event, to: &session)
                        nextOther += 1
                    }
                    if let progress, feed.events % 50_000 == 0 {
                        let f = Double(t.ms - warmupFrom.ms) / spanMs
                        if f - lastProgress >= 0.01 {
                            lastProgress = f
                            progress(f)
                        }
                    }
                }
            }
            reader.recycle(batch)
        }
        try feed.finish(to: &session)
        let outcome = try session.end(inputEvents: feed.events)
        progress?(1)
        return BacktestResult(runJournalPath: runPath, sourceJournal: source.id, from: plan.from, to: plan.to, contentHash: outcome.contentHash,
                              stateHash: outcome.stateHash, summary: outcome.summary, warnings: plan.warnings + feed.warnings,
                              events: (feed.events, outcome.runEvents), portfolio: outcome.portfolio, pairs: plan.pairs, finalMarks: outcome.marks)
    }
}

extension BacktestConfig {
    /// The engine's configuration for these pairs (a backtest, a sweep row, a session).
    func engineConfig(pairs: [ResolvedPair]) -> EngineConfig {
        EngineConfig(pairs: pairs.map { PairSpec(spot: $0.spot.id, perp: $0.perp.id) }, barIntervalSeconds: barIntervalSeconds,
                     initialCashUsdt: initialCapitalUsdt, strategy: strategy, risk: risk, fees: fees, slippage: slippage, margin: margin,
                     latencyMs: latencyMs, execution: execution, composite: composite)
    }
}
