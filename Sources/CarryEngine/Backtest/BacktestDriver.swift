// The backtest driver: replays a market journal in time order under a simulated clock,
// emits the strategy's scan ticks, runs the reducer and the simulated exchange, and writes
// the run journal.
//
// Order within one timestamp t (the boundary rules the funding tests pin):
//   1. instrument definitions;
//   2. bars closing at t — the simulated exchange fills eligible orders at those closes
//      (and checks liquidation) before the reducer sees the bar;
//   3. funding interval changes, then settlements at t — paid on the position held after
//      the fills of step 2 (a position opened exactly at t earns the settlement at t; one
//      closed exactly at t does not);
//   4. the scan tick at t, if one is due — the strategy sees every fact of time ≤ t.
// Ticks fall on multiples of the scan interval since the epoch (UTC-aligned).
//
// Invariants: the reducer only ever receives events with time ≤ the simulated clock; every
// decision and venue fact is journaled before anything acts on it, with the simulated time
// as its record time, so two runs of one config over one journal are byte-identical.
// The run journal's writes are pipelined (a crashed backtest is simply re-run), and memory
// stays bounded: nothing grows with the length of the run except the journal on disk.

public import CarryCore
public import CarryJournal
import Foundation

/// A backtest could not start or run; the message says what to do.
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
                let close = known.filter { ConfigReader.editDistance($0, symbol) <= 3 || $0.hasPrefix(String(symbol.prefix(3))) }
                let hint = close.isEmpty ? "" : " Close matches: \(close.joined(separator: ", "))."
                let missing = perp == nil && spot == nil ? "spot or perpetual" : (perp == nil ? "perpetual" : "spot")
                throw BacktestError("\(config.venue) \(symbol) has no \(missing) instrument in \(market.journal.path).\(hint) Symbols with both legs there: \(known.isEmpty ? "none" : known.joined(separator: ", ")). Import or fetch the data first (carry import, carry fetch).")
            }
            pairs.append(ResolvedPair(symbol: symbol, spot: spot, perp: perp))
        }
        return pairs
    }

    /// The span every pair has bars (both legs) and funding for.
    static func commonSpan(_ pairs: [ResolvedPair], interval: UInt32, market: MarketJournal) throws(BacktestError) -> (Timestamp, Timestamp) {
        var lo = Timestamp.distantPast
        var hi = Timestamp.distantFuture
        for p in pairs {
            for (stream, what) in [(MarketStream.bars(p.spot.id, intervalSeconds: interval), "spot \(MarketStream.intervalName(interval)) bars"),
                                   (.bars(p.perp.id, intervalSeconds: interval), "perp \(MarketStream.intervalName(interval)) bars"),
                                   (.funding(p.perp.id), "funding")] {
                guard let e = market.extents[stream] else {
                    throw BacktestError("\(p.perp.venue) \(p.symbol) has no \(what) in \(market.journal.path). Import or fetch them, or choose another barInterval.")
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

    /// Runs one backtest and writes its run journal into `outDirectory/journal`.
    public static func run(config: BacktestConfig, sourcePath: String, outDirectory: String,
                           progress: ((Double) -> Void)? = nil) throws -> BacktestResult {
        let market = try MarketJournal(readOnlyPath: sourcePath)
        let pairs = try resolvePairs(config, market: market)
        let (dataFrom, dataTo) = try commonSpan(pairs, interval: config.barIntervalSeconds, market: market)
        var warnings: [String] = []
        var from = config.from ?? dataFrom
        var to = config.to ?? dataTo
        let spanText = "\(dataFrom.iso8601) → \(dataTo.iso8601)"
        if to <= dataFrom || from >= dataTo {
            throw BacktestError("no data for \(pairs.map(\.symbol).joined(separator: ", ")) between \(from.iso8601) and \(to.iso8601): the journal has all legs and funding for \(spanText). Choose --from/--to inside that range.")
        }
        if from < dataFrom {
            warnings.append("the data starts at \(dataFrom.iso8601); the backtest starts there instead of \(from.iso8601)")
            from = dataFrom
        }
        if to > dataTo {
            warnings.append("the data ends at \(dataTo.iso8601); the backtest ends there instead of \(to.iso8601)")
            to = dataTo
        }
        // Gaps in the streams this run reads are warned about and treated as no data.
        let relevant: Set<MarketStream> = Set(pairs.flatMap { [MarketStream.bars($0.spot.id, intervalSeconds: config.barIntervalSeconds),
                                                               .bars($0.perp.id, intervalSeconds: config.barIntervalSeconds), .funding($0.perp.id)] })
        for (stream, census) in try market.gapReport() where relevant.contains(stream) {
            for gap in census.gaps where gap.before > from && gap.after < to {
                warnings.append("\(market.describe(stream)): gap \(gap) — treated as no data")
            }
        }

        let engineConfig = EngineConfig(
            pairs: pairs.map { PairSpec(spot: $0.spot.id, perp: $0.perp.id) }, barIntervalSeconds: config.barIntervalSeconds,
            initialCashUsdt: config.initialCapitalUsdt, strategy: config.strategy, risk: config.risk, fees: config.fees,
            slippage: config.slippage, margin: config.margin, latencyMs: config.latencyMs)
        let runner = try Runner(config: config, engineConfig: engineConfig, pairs: pairs, market: market,
                                from: from, to: to, outDirectory: outDirectory, warnings: warnings)
        return try runner.run(progress: progress)
    }
}

/// One backtest in progress.
final class Runner {
    let config: BacktestConfig
    let pairs: [ResolvedPair]
    let market: MarketJournal
    let from: Timestamp
    let to: Timestamp
    var warnings: [String]
    var reducer: CarryReducer
    var sim: SimulatedExchange
    let journal: Journal
    let writer: JournalWriter
    let runPath: String
    let outDirectory: String
    /// The seq the next journaled event will get (the driver is the only producer).
    var nextSeq: UInt64
    var pendingDrafts: [EventDraft] = []
    var tickets: [CommitTicket] = []
    var relevant: [Bool] = []
    var isPerp: [Bool] = []
    var sourceEvents = 0
    var runEvents = 0
    let stats: PerformanceTracker
    let equityCSV: BufferedFile
    var nextTick: Timestamp
    var lastSourceSeq: UInt64 = 0
    var firstSourceSeq: UInt64 = 0

    init(config: BacktestConfig, engineConfig: EngineConfig, pairs: [ResolvedPair], market: MarketJournal,
         from: Timestamp, to: Timestamp, outDirectory: String, warnings: [String]) throws {
        self.config = config
        self.pairs = pairs
        self.market = market
        self.from = from
        self.to = to
        self.warnings = warnings
        self.outDirectory = outDirectory
        reducer = CarryReducer(config: engineConfig, reentryCooldownMs: config.reentryCooldownMs)
        sim = SimulatedExchange(fees: config.fees, slippage: config.slippage, margin: config.margin, latencyMs: config.latencyMs,
                                initialCash: config.initialCapitalUsdt)
        try FileManager.default.createDirectory(atPath: outDirectory, withIntermediateDirectories: true)
        runPath = outDirectory + "/journal"
        // A deterministic identity: the same config over the same source is the same run.
        var h = SHA256Hasher()
        h.update(Array(config.canonicalText.utf8))
        h.update(market.journal.meta.journalId.high)
        h.update(market.journal.meta.journalId.low)
        h.update(UInt64(bitPattern: from.ms))
        h.update(UInt64(bitPattern: to.ms))
        let d = h.finish().bytes
        let id = JournalId(high: d[0..<8].reduce(0) { $0 << 8 | UInt64($1) }, low: d[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
        if Journal.exists(at: runPath) {
            throw BacktestError("\(outDirectory) already holds a run journal. Choose another --out, or delete that directory to re-run.")
        }
        journal = try Journal.openOrCreate(runPath, create: JournalCreateOptions(purpose: .backtest, journalId: id, createdAt: from))
        writer = try journal.makeWriter(options: JournalWriterOptions(maxBatchEvents: 50_000))
        nextSeq = writer.nextSeq
        stats = PerformanceTracker(initialCapital: config.initialCapitalUsdt, collateralCostApr: config.collateralCostApr, pairs: pairs.count)
        equityCSV = try BufferedFile(path: outDirectory + "/equity.csv")
        equityCSV.write("time,equity_usdt,cash_usdt,funding_usdt,fees_usdt,slippage_usdt,price_pnl_usdt,drawdown,open_pairs\n")
        let period = config.scanIntervalMs
        nextTick = Timestamp(ms: (from.ms + period - 1) / period * period)
        for p in pairs {
            for d in [p.spot, p.perp] {
                while relevant.count <= d.id.index {
                    relevant.append(false)
                    isPerp.append(false)
                }
                relevant[d.id.index] = true
                isPerp[d.id.index] = d.kind.isPerpetual
            }
        }
    }

    // MARK: Journaling

    /// Queues an event for the run journal; returns its seq.
    @discardableResult
    func record(_ event: Event, time: Timestamp, causation: CausationRef) throws -> UInt64 {
        pendingDrafts.append(EventDraft(event, eventTime: time, recordTime: time, causation: causation))
        let seq = nextSeq
        nextSeq += 1
        runEvents += 1
        if pendingDrafts.count >= 4096 { try flushDrafts() }
        return seq
    }

    func flushDrafts() throws {
        guard !pendingDrafts.isEmpty else { return }
        let expected = nextSeq - UInt64(pendingDrafts.count)
        let ticket = try writer.enqueue(pendingDrafts)
        precondition(ticket.seqs.lowerBound == expected, "run journal seq drift: expected \(expected), got \(ticket.seqs.lowerBound)")
        pendingDrafts.removeAll(keepingCapacity: true)
        tickets.append(ticket)
        // Bound the memory of outstanding tickets (the writer applies backpressure itself).
        if tickets.count > 64 {
            try tickets.removeFirst().wait()
        }
    }

    // MARK: The loop

    /// Feeds one input to the reducer, journals its decisions, sends intents to the
    /// simulated exchange and feeds the resulting venue facts back, until quiet.
    func feed(_ event: Event, time: Timestamp, ref: CausationRef) throws {
        var queue: [(Event, Timestamp, CausationRef)] = [(event, time, ref)]
        var head = 0
        while head < queue.count {
            let (e, t, r) = queue[head]
            head += 1
            let decisions = reducer.apply(e, time: t, ref: r, nextSeq: nextSeq)
            if decisions.isEmpty { continue }
            var intents: [(UInt64, OrderIntended)] = []
            for d in decisions {
                let seq = try record(d.event, time: t, causation: d.causation)
                if case .orderIntended(let intent) = d.event { intents.append((seq, intent)) }
            }
            for (seq, intent) in intents {
                for fact in sim.submit(intentSeq: seq, intent, at: t) {
                    let factSeq = try record(fact.event, time: fact.time, causation: fact.causation)
                    queue.append((fact.event, fact.time, .local(factSeq)))
                }
            }
        }
    }

    /// Journals venue facts and feeds them to the reducer.
    func deliver(_ facts: [VenueFact]) throws {
        for fact in facts {
            let seq = try record(fact.event, time: fact.time, causation: fact.causation)
            try feed(fact.event, time: fact.time, ref: .local(seq))
        }
    }

    /// One source group: every relevant market event with the same time.
    func process(group: inout [(seq: UInt64, event: Event)], at time: Timestamp, trading: Bool) throws {
        // Ticks due before this group.
        if trading {
            while nextTick < time && nextTick <= to { try tick(at: nextTick) }
        }
        // 1. definitions; 2. bars; 3. interval changes, settlements; 4. anything else.
        func rank(_ e: Event) -> Int {
            switch e {
            case .instrumentDefined: return 0
            case .barClosed: return 1
            case .fundingIntervalChanged: return 2
            case .fundingSettled: return 3
            default: return 4
            }
        }
        if group.count > 1 { group.sort { (rank($0.event), $0.seq) < (rank($1.event), $1.seq) } }
        for (seq, event) in group {
            let ref = CausationRef.source(seq)
            switch event {
            case .barClosed(let bar):
                try deliver(sim.onBar(bar, barRef: ref))
            case .fundingSettled(let f):
                try deliver(sim.onFundingSettled(f, at: time, cause: ref))
            case .instrumentDefined(let d):
                sim.define(d)
            default:
                break
            }
            try feed(event, time: time, ref: ref)
        }
        group.removeAll(keepingCapacity: true)
        if trading && nextTick == time && nextTick <= to { try tick(at: time) }
    }

    func tick(at time: Timestamp) throws {
        let seq = try record(.clockTicked(ClockTicked(purpose: .scan)), time: time, causation: .none)
        try feed(.clockTicked(ClockTicked(purpose: .scan)), time: time, ref: .local(seq))
        sample(at: time)
        nextTick = nextTick.adding(ms: config.scanIntervalMs)
    }

    /// Samples equity and its parts into the tracker and the CSV.
    func sample(at time: Timestamp) {
        let marks: (InstrumentId) -> Fixed? = { [reducer] in reducer.mark($0) }
        let p = reducer.portfolio
        let equity = p.equity(marks: marks)
        let open = reducer.pairs.filter { $0.phase != .flat }.count
        stats.observe(time: time, equity: equity, openPairs: open)
        var line = time.iso8601
        for v in [equity, p.cash, p.totalFunding, p.totalFees, p.totalSlippage, p.totalPricePnL(marks: marks)] {
            line += ","
            v.write(to: &line)
        }
        line += ",\(stats.currentDrawdown.formatted(fractionDigits: 6)),\(open)\n"
        equityCSV.write(line)
    }

    func run(progress: ((Double) -> Void)?) throws -> BacktestResult {
        let sourceId = market.journal.meta.journalId
        let warmupFrom = from.adding(ms: -config.warmupMs)
        // Source seq range the run may read.
        try market.journal.withSnapshot { snap in
            firstSourceSeq = try snap.firstSeq()
            lastSourceSeq = try snap.lastSeq()
        }
        try record(.runStarted(RunStarted(mode: .backtest, sourceJournal: sourceId, sourceFirstSeq: firstSourceSeq, sourceLastSeq: lastSourceSeq,
                                          from: from, to: to, seed: 0, carryVersion: CarryVersion.current)), time: from, causation: .none)
        try record(.configApplied(ConfigApplied(source: config.source, text: config.canonicalText)), time: from, causation: .none)
        for w in warnings {
            try record(.alertRaised(AlertRaised(severity: .warning, code: "data", message: w)), time: from, causation: .none)
        }
        // The traded instruments' definitions, so the run journal is self-describing.
        for p in pairs {
            for d in [p.spot, p.perp] {
                try record(.instrumentDefined(d), time: from, causation: .none)
                sim.define(d)
                try feed(.instrumentDefined(d), time: from, ref: .none)
            }
        }
        let barKind = EventKind.barClosed.rawValue
        let fundingKind = EventKind.fundingSettled.rawValue
        let intervalKind = EventKind.fundingIntervalChanged.rawValue
        let interval = config.barIntervalSeconds
        var group: [(seq: UInt64, event: Event)] = []
        group.reserveCapacity(64)
        var groupTime = Timestamp.distantPast
        let spanMs = Double(max(1, to.ms - warmupFrom.ms))
        var lastProgress = 0.0
        try market.journal.withSnapshot { snap in
            try snap.scanByTime(from: warmupFrom, through: to) { view in
                let kind = view.header.kindCode
                guard kind == barKind || kind == fundingKind || kind == intervalKind else { return true }
                let event = try view.decode()
                switch event {
                case .barClosed(let b):
                    guard b.intervalSeconds == interval, b.instrumentId.index < relevant.count, relevant[b.instrumentId.index] else { return true }
                case .fundingSettled(let f):
                    guard f.instrumentId.index < relevant.count, relevant[f.instrumentId.index] else { return true }
                case .fundingIntervalChanged(let c):
                    guard c.instrumentId.index < relevant.count, relevant[c.instrumentId.index] else { return true }
                default:
                    return true
                }
                let t = view.header.eventTime
                if t != groupTime && !group.isEmpty {
                    try process(group: &group, at: groupTime, trading: groupTime >= from)
                }
                groupTime = t
                group.append((view.header.seq, event))
                sourceEvents += 1
                if let progress, sourceEvents % 50_000 == 0 {
                    let f = Double(t.ms - warmupFrom.ms) / spanMs
                    if f - lastProgress >= 0.01 {
                        lastProgress = f
                        progress(f)
                    }
                }
                return true
            }
        }
        if !group.isEmpty { try process(group: &group, at: groupTime, trading: groupTime >= from) }
        while nextTick <= to { try tick(at: nextTick) }
        try record(.runEnded(RunEnded(outcome: reducer.killSwitchEngaged ? .killSwitch : .completed, inputEvents: UInt64(sourceEvents),
                                      message: "backtest \(from.iso8601) → \(to.iso8601)")), time: to, causation: .none)
        try flushDrafts()
        for t in tickets { try t.wait() }
        tickets.removeAll()
        try writer.close()
        try equityCSV.close()
        progress?(1)

        let contentHash = try journal.withSnapshot { try $0.contentHash() }
        var marks: [InstrumentId: Fixed] = [:]
        for p in pairs {
            for d in [p.spot, p.perp] { if let m = reducer.mark(d.id) { marks[d.id] = m } }
        }
        let summary = stats.summary(portfolio: reducer.portfolio, marks: marks, pairs: pairs, from: from, to: to,
                                    pairsOpened: openedPairs(), killSwitch: reducer.killSwitchEngaged)
        return BacktestResult(runJournalPath: runPath, sourceJournal: sourceId, from: from, to: to, contentHash: contentHash,
                              stateHash: StateDigest.of(reducer.portfolio, marks: marks),
                              summary: summary, warnings: warnings, events: (sourceEvents, runEvents), portfolio: reducer.portfolio,
                              pairs: pairs, finalMarks: marks)
    }

    /// Pairs opened per pair index, counted from the run journal's entry signals.
    func openedPairs() -> [Int] {
        var counts = Array(repeating: 0, count: pairs.count)
        _ = try? journal.withSnapshot { snap in
            try snap.scan { view in
                guard view.header.kindCode == EventKind.orderIntended.rawValue, case .orderIntended(let i) = try view.decode(),
                      i.reason == .open, i.leg == .perp else { return true }
                if let k = pairs.firstIndex(where: { $0.perp.id == i.instrumentId }) { counts[k] += 1 }
                return true
            }
        }
        return counts
    }
}

/// A digest of the final book: equal exactly when positions, cash and every P&L component
/// are equal.
public enum StateDigest {
    /// SHA-256 over a canonical text of the portfolio and the marks it is valued at.
    public static func of(_ p: Portfolio, marks: [InstrumentId: Fixed]) -> Digest {
        var text = "initial=\(p.initialCash.normalized) cash=\(p.cash.normalized) liquidations=\(p.liquidations)\n"
        for i in p.qty.indices {
            let id = InstrumentId(UInt32(i))
            text += "\(i): qty=\(p.qty[i].normalized) ref=\(p.referenceCost[i].normalized) fees=\(p.fees[i].normalized) slip=\(p.slippage[i].normalized) funding=\(p.funding[i].normalized) fills=\(p.fills[i]) mark=\(marks[id]?.normalized.description ?? "-")\n"
        }
        var h = SHA256Hasher()
        h.update(Array(text.utf8))
        return h.finish()
    }
}

/// A file written through a buffer.
final class BufferedFile {
    private let handle: FileHandle
    private var buffer = ""

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw BacktestError("cannot create \(path): check the --out directory is writable", badInput: false)
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    }

    func write(_ s: String) {
        buffer += s
        if buffer.utf8.count >= 1 << 16 { flush() }
    }

    func flush() {
        guard !buffer.isEmpty else { return }
        handle.write(Data(buffer.utf8))
        buffer = ""
    }

    func close() throws {
        flush()
        try handle.close()
    }
}
