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
            try SessionSteps.checkPurpose(journal, .paper, path: journalPath)
            let records = try SessionReplay.records(of: journal)
            try SessionSteps.checkConfig(records, config: config, path: journalPath)
            try SessionSteps.checkInstruments(records, config: config, feed: feed, path: journalPath)
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
            pipeline.record(.runStarted(SessionSteps.started(.paper, from: outcome.tradingStart)), time: max(cutoffNow, pipeline.reducer.now), causation: .none)
        } else {
            journal = try Journal.openOrCreate(journalPath, create: JournalCreateOptions(purpose: .paper))
            tradingFrom = cutoffNow
            pipeline = SessionReplay.pipeline(config, pairs: feed.pairs, tradingStart: tradingFrom, firstSeq: 1)
            let warmupFrom = SessionSteps.header(&pipeline, .paper, config: config, feed: feed, tradingStart: tradingFrom)
            logger.info("session started", metadata: ["journal": "\(journalPath)", "tradingFrom": "\(tradingFrom.iso8601)",
                                                      "warmupFrom": "\(warmupFrom.iso8601)"])
        }
        let writer = try SessionJournalWriter(journal)
        defer { writer.close() }
        try writer.commit(&pipeline)

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
        func publish(at time: Timestamp) {
            var status = SessionSteps.status(.paper, journalPath: journalPath, reducer: pipeline.reducer, feed: feed, cutoff: time, steps: polls,
                                             commitMs: writer.commitMs, requests: feed.requests, venueErrors: feed.client.stats.retries,
                                             records: writer.written)
            status.venuePositions = pipeline.venue.snapshot().positions
            _ = control.takeReconciliationRequest()   // the simulated exchange's book is published with every step
            control.publish(status)
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
                logger.notice("operator command", metadata: SessionSteps.describe(command))
            }
            try writer.commit(&pipeline)
            publish(at: processedThrough ?? pipeline.reducer.now)
        }
        do {
            while true {
                try takeCommands()
                let now = try feed.venueTime()
                cutoff = now.adding(ms: -settings.marketLagMs)
                if firstCutoff == nil { firstCutoff = cutoff }
                inputs += SessionSteps.process(try feed.poll(through: cutoff, beforeRequest: takeCommands), through: cutoff, tradingFrom: tradingFrom,
                                               pipeline: &pipeline)
                polls += 1
                statsSteps += 1
                processedThrough = cutoff
                if Date().timeIntervalSince(statsFrom) * 1000 >= Double(Self.statsIntervalMs) { recordStats() }
                try writer.commit(&pipeline)
                publish(at: cutoff)
                progress?(cutoff, pipeline)
                if let reason = SessionSteps.stopReason(stop, wallStart: wallStart, durationMs: durationMs, cutoff: cutoff, stopAt: stopAt) {
                    stopReason = reason
                    break
                }
                control.wait(ms: settings.pollMs)
            }
        } catch let error as BybitError {
            // The venue gave up: what it cost is journaled (the report's availability counts
            // it) with the end of the run, then the failure goes to the caller.
            recordStats()
            pipeline.record(.runEnded(RunEnded(outcome: .failed, inputEvents: UInt64(inputs), message: "paper session failed: the venue: \(error.message)")),
                            time: max(cutoff, pipeline.reducer.now), causation: .none)
            try? writer.commit(&pipeline)
            throw error
        }
        recordStats()
        let r = pipeline.reducer
        pipeline.record(.runEnded(RunEnded(outcome: r.killSwitchEngaged ? .killSwitch : .completed, inputEvents: UInt64(inputs),
                                           message: "paper session stopped: \(stopReason)")), time: max(cutoff, r.now), causation: .none)
        try writer.commit(&pipeline)
        return SessionSummary(journalPath: journalPath, resumed: resumed, from: firstCutoff ?? cutoffNow, to: cutoff, marketInputs: inputs,
                              recordsWritten: writer.written, polls: polls, requests: feed.requests,
                              pairsOpened: writer.entered, openPairs: r.pairs.reduce(0) { $0 + ($1.phase == .flat ? 0 : 1) },
                              equity: r.portfolio.equity(marks: { r.mark($0) }), funding: r.portfolio.totalFunding, fees: r.portfolio.totalFees,
                              stopReason: stopReason)
    }
}
