// `carry run --mode paper`: live market data from a Bybit v5 venue, fills from the simulated
// exchange, the same reducer, strategy, risk and config as `carry backtest`.
//
// The loop, on the venue's clock: read the venue's time; cutoff = time − market lag; poll every
// bar and settlement up to the cutoff; process each instant through the pipeline (journaling
// the inputs before the reducer sees them, and the decisions before the simulated exchange
// acts on them); emit the scan ticks due through the cutoff; commit to the journal; sleep.
//
// One journal per session, continued across restarts: a restart replays the journal through a
// fresh pipeline (`SessionReplay`), refuses to continue if the replay differs from what was
// journaled or the config is not the one the journal started with, and resumes the feed after
// the last journaled input. A stop (signal, --duration, --stop-at) finishes the current step,
// journals `run.ended` and commits; nothing is lost, because every step is committed before
// the next poll.

public import CarryCore
import CarryJournal
import CarryVenues
import Foundation
public import Logging

/// Set from a signal handler or another thread; read by the session loop.
public final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var requested = false
    private var reasonText = ""

    public init() {}

    public func request(_ reason: String) {
        lock.lock()
        defer { lock.unlock() }
        if !requested { reasonText = reason }
        requested = true
    }

    public var isRequested: Bool {
        lock.lock()
        defer { lock.unlock() }
        return requested
    }

    public var reason: String {
        lock.lock()
        defer { lock.unlock() }
        return reasonText
    }
}

/// What a session did.
public struct SessionSummary: Sendable {
    public var journalPath: String
    public var resumed: Bool
    /// Venue time span traded in this run of the session.
    public var from: Timestamp
    public var to: Timestamp
    public var marketInputs: Int
    public var recordsWritten: Int
    public var polls: Int
    public var requests: Int
    public var pairsOpened: Int
    public var openPairs: Int
    public var equity: Fixed
    public var funding: Fixed
    public var fees: Fixed
    public var stopReason: String
}

/// A paper-trading session.
public final class PaperSession {
    public let config: BacktestConfig
    public let settings: SessionSettings
    public let journalPath: String
    let feed: VenueMarketFeed
    let logger: Logger
    /// Operator commands in, status out (the control port, `carry kill`, signals).
    public let control: SessionControl
    /// Wall time between `session.stats` records.
    public static let statsIntervalMs: Int64 = 60_000
    /// The last settled rate of each pair's perpetual seen this run, for the status.
    private var fundingRates: [String: Fixed] = [:]

    /// Resolves the config's symbols on the venue behind `feed`.
    public init(config: BacktestConfig, feed: VenueMarketFeed, journalPath: String, logger: Logger) {
        self.config = config
        self.settings = config.session ?? .standard
        self.feed = feed
        self.journalPath = journalPath
        self.logger = logger
        control = SessionControl(status: SessionStatus(mode: .paper, journalPath: journalPath))
    }

    /// Runs until `stop` is requested, `durationMs` of wall time passed, or the venue's clock
    /// reaches `stopAt`.
    public func run(stop: StopSignal, durationMs: Int64? = nil, stopAt: Timestamp? = nil,
                    progress: ((Timestamp, ReplayPipeline<SimulatedExchange>) -> Void)? = nil) throws -> SessionSummary {
        let wallStart = Date()
        let venueNow = try feed.venueTime()
        var resumed = false
        var pipeline: ReplayPipeline<SimulatedExchange>
        let journal: Journal
        let tradingFrom: Timestamp
        let cutoffNow = venueNow.adding(ms: -settings.marketLagMs)
        if Journal.exists(at: journalPath) {
            journal = try Journal.open(journalPath, readOnly: false)
            guard journal.meta.purpose == .paper else {
                throw SessionError("\(journalPath) is a \(journal.meta.purpose) journal, not a paper session's: choose another --journal")
            }
            let records = try SessionReplay.records(of: journal)
            try Self.checkConfig(records, config: config, path: journalPath)
            let known = try SessionReplay.pairs(in: records, symbols: config.symbols)
            for (k, f) in zip(known, feed.pairs) where k.spot.id != f.spot.id || k.perp.id != f.perp.id || k.symbol != f.symbol {
                throw SessionError("\(journalPath) numbers its instruments differently from this config (\(k.symbol)): start a new --journal")
            }
            let outcome = try SessionReplay.replay(records, config: config)
            if let d = outcome.divergence {
                throw SessionError("\(journalPath) does not replay to what it holds (\(d)); it cannot be continued safely. "
                                   + "Inspect it with carry-journal and `carry parity`, and start a new --journal.", badInput: false)
            }
            pipeline = outcome.pipeline
            tradingFrom = outcome.tradingStart
            for (i, t) in outcome.lastBar { feed.resume(bars: InstrumentId(UInt32(i)), after: t) }
            for (i, t) in outcome.lastFunding { feed.resume(funding: InstrumentId(UInt32(i)), after: t) }
            resumed = true
            logger.info("session resumed", metadata: ["journal": "\(journalPath)", "records": "\(records.count)", "decisions": "\(outcome.decisions)"])
            pipeline.record(.runStarted(Self.started(from: outcome.tradingStart)), time: max(cutoffNow, pipeline.reducer.now), causation: .none)
        } else {
            journal = try Journal.openOrCreate(journalPath, create: JournalCreateOptions(purpose: .paper))
            let tradingStart = cutoffNow
            tradingFrom = tradingStart
            pipeline = SessionReplay.pipeline(config, pairs: feed.pairs, tradingStart: tradingStart, firstSeq: 1)
            // The header at the start of the warm-up, so the journal is in event-time order.
            let warmupFrom = tradingStart.adding(ms: -config.warmupMs)
            pipeline.record(.runStarted(Self.started(from: tradingStart)), time: warmupFrom, causation: .none)
            pipeline.record(.configApplied(ConfigApplied(source: config.source, text: config.canonicalText)), time: warmupFrom, causation: .none)
            for p in feed.pairs {
                pipeline.define(p.spot, at: warmupFrom)
                pipeline.define(p.perp, at: warmupFrom)
            }
            for i in 0..<(2 * feed.pairs.count) {
                feed.resume(bars: InstrumentId(UInt32(i)), after: warmupFrom)
                feed.resume(funding: InstrumentId(UInt32(i)), after: warmupFrom)
            }
            logger.info("session started", metadata: ["journal": "\(journalPath)", "tradingFrom": "\(tradingStart.iso8601)",
                                                      "warmupFrom": "\(warmupFrom.iso8601)"])
        }
        let writer = try journal.makeWriter()
        defer { try? writer.close() }
        var written = 0
        var entered = 0
        var commitMs = 0.0
        func commit() throws {
            let started = Date()
            defer { commitMs = Date().timeIntervalSince(started) * 1000 }
            let out = pipeline.takeOutput()
            guard !out.isEmpty else { return }
            let wall = Timestamp(ms: Int64(Date().timeIntervalSince1970 * 1000))
            let expected = pipeline.nextSeq - UInt64(out.count)
            let seqs = try writer.append(out.map { EventDraft($0.event, eventTime: $0.time, recordTime: wall, causation: $0.causation) })
            guard seqs.lowerBound == expected else {
                throw SessionError("journal seq drift: expected \(expected), the journal wrote \(seqs.lowerBound)", badInput: false)
            }
            written += out.count
            for o in out {
                if case .pairTransition(let tr) = o.event, tr.to == .opening { entered += 1 }
            }
        }
        try commit()

        var firstCutoff: Timestamp?
        var cutoff = cutoffNow
        var inputs = 0
        var polls = 0
        var stopReason = "stopped"
        // The venue's health, journaled every `statsIntervalMs` of wall time and at the end
        // (`session.stats`: deltas since the previous record), for the session report.
        var statsFrom = Date()
        var statsSteps = 0
        var statsBase = (requests: 0, failed: 0)
        func recordStats() {
            let s = feed.client.stats
            let now = Date()
            pipeline.record(.sessionStats(SessionStats(intervalMs: UInt64(max(0, now.timeIntervalSince(statsFrom) * 1000)), steps: UInt64(statsSteps),
                                                       requests: UInt64(max(0, s.requests - statsBase.requests)),
                                                       failedRequests: UInt64(max(0, s.retries - statsBase.failed)))),
                            time: max(cutoff, pipeline.reducer.now), causation: .none)
            statsFrom = now
            statsSteps = 0
            statsBase = (s.requests, s.retries)
        }
        // Operator commands, taken before anything that waits on the venue (at the top of a
        // step and before each of its requests, when the engine has processed everything up to
        // the previous cutoff and nothing of this poll): journaled at that time, acted on (the
        // kill switch's cancels and closes), committed and published at once.
        var processedThrough: Timestamp?   // nil until a step has completed
        func takeCommands() throws {
            let commands = control.takeCommands()
            guard !commands.isEmpty else { return }
            for command in commands {
                pipeline.inject(.command(command), at: max(processedThrough ?? pipeline.reducer.now, pipeline.reducer.now))
                logger.notice("operator command", metadata: Self.describe(command))
            }
            try commit()
            control.publish(status(of: pipeline, cutoff: processedThrough ?? pipeline.reducer.now, steps: polls, commitMs: commitMs, records: written))
        }
        do {
            while true {
                try takeCommands()
                let now = try feed.venueTime()
                cutoff = now.adding(ms: -settings.marketLagMs)
                if firstCutoff == nil { firstCutoff = cutoff }
                let events = try feed.poll(through: cutoff, beforeRequest: takeCommands)
                polls += 1
                statsSteps += 1
                var group = MarketGroup()
                var groupTime = Timestamp.distantPast
                for (t, e) in events {
                    if case .fundingSettled(let f) = e, let p = feed.pairs.first(where: { $0.perp.id == f.instrumentId }) {
                        fundingRates[p.symbol] = f.ratePerInterval
                    }
                    if t != groupTime && !group.isEmpty {
                        pipeline.process(group: &group, at: groupTime, trading: groupTime >= tradingFrom, afterTick: { _, _ in })
                    }
                    group.append(seq: 0, e)
                    groupTime = t
                    inputs += 1
                }
                if !group.isEmpty {
                    pipeline.process(group: &group, at: groupTime, trading: groupTime >= tradingFrom, afterTick: { _, _ in })
                }
                if cutoff >= tradingFrom { pipeline.tick(through: cutoff, afterTick: { _, _ in }) }
                processedThrough = cutoff
                if Date().timeIntervalSince(statsFrom) * 1000 >= Double(Self.statsIntervalMs) { recordStats() }
                try commit()
                control.publish(status(of: pipeline, cutoff: cutoff, steps: polls, commitMs: commitMs, records: written))
                progress?(cutoff, pipeline)
                if stop.isRequested { stopReason = stop.reason; break }
                if let durationMs, Date().timeIntervalSince(wallStart) * 1000 >= Double(durationMs) { stopReason = "duration reached"; break }
                if let stopAt, cutoff >= stopAt { stopReason = "venue time reached \(stopAt.iso8601)"; break }
                control.wait(ms: settings.pollMs)
            }
        } catch let error as BybitError {
            // The venue gave up: what it cost is journaled (the report's availability counts
            // it) with the end of the run, then the failure goes to the caller.
            recordStats()
            pipeline.record(.runEnded(RunEnded(outcome: .failed, inputEvents: UInt64(inputs), message: "paper session failed: the venue: \(error.message)")),
                            time: max(cutoff, pipeline.reducer.now), causation: .none)
            try? commit()
            throw error
        }
        recordStats()
        let r = pipeline.reducer
        pipeline.record(.runEnded(RunEnded(outcome: r.killSwitchEngaged ? .killSwitch : .completed, inputEvents: UInt64(inputs),
                                           message: "paper session stopped: \(stopReason)")), time: max(cutoff, r.now), causation: .none)
        try commit()
        let equity = r.portfolio.equity(marks: { r.mark($0) })
        return SessionSummary(journalPath: journalPath, resumed: resumed, from: firstCutoff ?? cutoffNow, to: cutoff, marketInputs: inputs,
                              recordsWritten: written, polls: polls, requests: feed.requests,
                              pairsOpened: entered, openPairs: r.pairs.reduce(0) { $0 + ($1.phase == .flat ? 0 : 1) },
                              equity: equity, funding: r.portfolio.totalFunding, fees: r.portfolio.totalFees, stopReason: stopReason)
    }

    /// What the session publishes after a step.
    func status(of pipeline: ReplayPipeline<SimulatedExchange>, cutoff: Timestamp, steps: Int, commitMs: Double, records: Int) -> SessionStatus {
        let r = pipeline.reducer
        var s = SessionStatus(mode: .paper, journalPath: journalPath)
        s.venueTime = cutoff
        s.wallTime = Timestamp(ms: Int64(Date().timeIntervalSince1970 * 1000))
        s.steps = steps
        s.killSwitchEngaged = r.killSwitchEngaged
        s.halted = r.halt != nil || r.reconciliationHold
        s.openPairs = r.pairs.reduce(0) { $0 + ($1.phase == .flat ? 0 : 1) }
        s.equity = r.portfolio.equity(marks: { r.mark($0) })
        s.funding = r.portfolio.totalFunding
        s.fees = r.portfolio.totalFees
        s.slippage = r.portfolio.totalSlippage
        for p in feed.pairs {
            s.positions["\(p.symbol) spot"] = r.portfolio.position(p.spot.id)
            s.positions["\(p.symbol) perp"] = r.portfolio.position(p.perp.id)
        }
        s.requests = feed.requests
        s.venueErrors = feed.client.stats.retries
        s.commitMs = commitMs
        s.pricePnL = r.portfolio.totalPricePnL(marks: { r.mark($0) })
        s.fundingRates = fundingRates
        s.recordsWritten = records
        return s
    }

    /// Log metadata for an operator command.
    static func describe(_ command: OperatorCommand) -> Logger.Metadata {
        switch command {
        case .killSwitch(let engaged, let reason): return ["command": "killSwitch", "engaged": "\(engaged)", "reason": "\(reason)"]
        }
    }

    static func started(from: Timestamp) -> RunStarted {
        RunStarted(mode: .paper, sourceJournal: JournalId(high: 0, low: 0), sourceFirstSeq: 0, sourceLastSeq: 0, from: from, to: .distantFuture,
                   seed: 0, carryVersion: CarryVersion.current)
    }

    /// Refuses a journal started with another config (a session's decisions depend on it).
    static func checkConfig(_ records: [RecordedEvent], config: BacktestConfig, path: String) throws {
        guard let applied = records.lazy.compactMap({ r -> ConfigApplied? in if case .configApplied(let c) = r.event { return c } else { return nil } }).first else {
            throw SessionError("\(path) has no config.applied record: it is not a session journal")
        }
        guard applied.text != config.canonicalText else { return }
        let old = applied.text.split(separator: "\n"), new = config.canonicalText.split(separator: "\n")
        let differing = zip(old, new).first { $0 != $1 }.map { "journal `\($0.0)`, config `\($0.1)`" } ?? "a different number of settings"
        throw SessionError("\(path) was started with another config (first difference: \(differing)). Run with the config it was started with "
                           + "(its text is in the journal's config.applied record: carry-journal ls \(path) --kind config.applied), or start a new --journal.")
    }
}
