// What a paper and a live session share: the journal they append to (the pipeline's output,
// seq by seq, checked), the market half of a step (poll through the cutoff, each instant whole
// through the pipeline, the scan ticks due), the checks before a journal is continued (its
// config, its instruments), where a journal left its streams, and the status a step publishes.

import CarryCore
import CarryJournal
import Foundation
import Logging

/// Appends a pipeline's output to a session journal.
final class SessionJournalWriter {
    private let writer: JournalWriter
    /// Records written, pairs entered (transitions to opening), and the last commit's time.
    private(set) var written = 0
    private(set) var entered = 0
    private(set) var commitMs = 0.0
    /// `reconciled` records that were not `matched`.
    private(set) var mismatches = 0
    /// The verdicts of the last reconciliation written, and its time.
    private var lastVerdicts: (time: Timestamp, verdicts: [Reconciled])?

    init(_ journal: Journal) throws { writer = try journal.makeWriter() }

    /// Commits what the pipeline has journaled since the last commit; the journal must give
    /// the records the seqs the pipeline gave them.
    func commit<V: ExecutionVenue>(_ pipeline: inout ReplayPipeline<V>) throws {
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
            if case .reconciled(let r) = o.event {
                if r.status != .matched { mismatches += 1 }
                if lastVerdicts?.time == o.time { lastVerdicts!.verdicts.append(r) } else { lastVerdicts = (o.time, [r]) }
            }
        }
    }

    /// The verdicts of the last reconciliation written, when it was of a book read at or
    /// after `time` (nil: not written yet).
    func reconciledSince(_ time: Timestamp) -> [Reconciled]? {
        guard let last = lastVerdicts, last.time >= time else { return nil }
        return last.verdicts
    }

    func close() { try? writer.close() }
}

/// One step's market half and the checks of a continued session journal.
enum SessionSteps {
    /// Processes a poll's events (sorted by time), each instant whole, then the scan ticks due
    /// through `cutoff` (from `tradingFrom` on: before it, warm-up). Returns the inputs seen.
    static func process<V: ExecutionVenue>(_ events: [(time: Timestamp, event: Event)], through cutoff: Timestamp, tradingFrom: Timestamp,
                                           pipeline: inout ReplayPipeline<V>) -> Int {
        var group = MarketGroup()
        var groupTime = Timestamp.distantPast
        for (t, e) in events {
            if t != groupTime && !group.isEmpty {
                pipeline.process(group: &group, at: groupTime, trading: groupTime >= tradingFrom, afterTick: { _, _ in })
            }
            group.append(seq: 0, e)
            groupTime = t
        }
        if !group.isEmpty {
            pipeline.process(group: &group, at: groupTime, trading: groupTime >= tradingFrom, afterTick: { _, _ in })
        }
        if cutoff >= tradingFrom { pipeline.tick(through: cutoff, afterTick: { _, _ in }) }
        return events.count
    }

    /// The header of a session's run (from: its trading start).
    static func started(_ mode: RunMode, from: Timestamp) -> RunStarted {
        RunStarted(mode: mode, sourceJournal: JournalId(high: 0, low: 0), sourceFirstSeq: 0, sourceLastSeq: 0, from: from, to: .distantFuture,
                   seed: 0, carryVersion: CarryVersion.current)
    }

    /// Refuses a journal of another purpose.
    static func checkPurpose(_ journal: Journal, _ mode: RunMode, path: String) throws {
        guard journal.meta.purpose == mode else {
            throw SessionError("\(path) is a \(journal.meta.purpose) journal, not a \(mode) session's: choose another --journal")
        }
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

    /// Refuses a journal whose instruments are numbered otherwise than the venue's now.
    static func checkInstruments(_ records: [RecordedEvent], config: BacktestConfig, feed: VenueMarketFeed, path: String) throws {
        let known = try SessionReplay.pairs(in: records, symbols: config.symbols)
        for (k, f) in zip(known, feed.pairs) where k.spot.id != f.spot.id || k.perp.id != f.perp.id || k.symbol != f.symbol {
            throw SessionError("\(path) numbers its instruments differently from this config (\(k.symbol)): start a new --journal")
        }
    }

    /// Where a session journal left off: its trading start and the last market input of each
    /// stream (bars by instrument index, settlements by perp index).
    static func position(of records: [RecordedEvent]) throws -> (tradingStart: Timestamp, lastBar: [Int: Timestamp], lastFunding: [Int: Timestamp]) {
        guard let started = records.lazy.compactMap({ r -> RunStarted? in if case .runStarted(let s) = r.event { return s } else { return nil } }).first else {
            throw SessionError("the journal has no run.started record: it is not a session journal")
        }
        var lastBar: [Int: Timestamp] = [:], lastFunding: [Int: Timestamp] = [:]
        for r in records {
            switch r.event {
            case .barClosed(let b): lastBar[b.instrumentId.index] = max(lastBar[b.instrumentId.index] ?? .distantPast, r.eventTime)
            case .fundingSettled(let f): lastFunding[f.instrumentId.index] = max(lastFunding[f.instrumentId.index] ?? .distantPast, r.eventTime)
            default: break
            }
        }
        return (started.from, lastBar, lastFunding)
    }

    /// A new session journal's header, at the start of the warm-up (so the journal is in
    /// event-time order): run.started, config.applied, the instruments. Returns the warm-up's
    /// start; the feed reads from there.
    static func header<V: ExecutionVenue>(_ pipeline: inout ReplayPipeline<V>, _ mode: RunMode, config: BacktestConfig, feed: VenueMarketFeed,
                                          tradingStart: Timestamp) -> Timestamp {
        let warmupFrom = tradingStart.adding(ms: -config.warmupMs)
        pipeline.record(.runStarted(SessionSteps.started(mode, from: tradingStart)), time: warmupFrom, causation: .none)
        pipeline.record(.configApplied(ConfigApplied(source: config.source, text: config.canonicalText)), time: warmupFrom, causation: .none)
        for p in feed.pairs {
            pipeline.define(p.spot, at: warmupFrom)
            pipeline.define(p.perp, at: warmupFrom)
        }
        for i in 0..<(2 * feed.pairs.count) {
            feed.resume(bars: InstrumentId(UInt32(i)), after: warmupFrom)
            feed.resume(funding: InstrumentId(UInt32(i)), after: warmupFrom)
        }
        return warmupFrom
    }

    /// Why the loop stops after this step, if it does.
    static func stopReason(_ stop: StopSignal, wallStart: Date, durationMs: Int64?, cutoff: Timestamp, stopAt: Timestamp?) -> String? {
        if stop.isRequested { return stop.reason }
        if let durationMs, Date().timeIntervalSince(wallStart) * 1000 >= Double(durationMs) { return "duration reached" }
        if let stopAt, cutoff >= stopAt { return "venue time reached \(stopAt.iso8601)" }
        return nil
    }

    /// Log metadata for an operator command.
    static func describe(_ command: OperatorCommand) -> Logger.Metadata {
        switch command {
        case .killSwitch(let engaged, let reason): return ["command": "killSwitch", "engaged": "\(engaged)", "reason": "\(reason)"]
        case .trade(let t):
            return ["command": "trade", "action": "\(t.action)", "perp": "\(t.perp.rawValue)", "notional": "\(t.notionalUsdt)", "reason": "\(t.reason)"]
        }
    }

    /// What a session publishes after a step.
    static func status(_ mode: RunMode, journalPath: String, reducer r: CarryReducer, feed: VenueMarketFeed, cutoff: Timestamp, steps: Int,
                       commitMs: Double, requests: Int, venueErrors: Int, records: Int) -> SessionStatus {
        var s = SessionStatus(mode: mode, journalPath: journalPath)
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
        s.requests = requests
        s.venueErrors = venueErrors
        s.commitMs = commitMs
        s.pricePnL = r.portfolio.totalPricePnL(marks: { r.mark($0) })
        s.fundingRates = feed.lastRates
        s.recordsWritten = records
        s.engine = r.withoutOrders
        return s
    }
}

/// Operator commands queued on `control`, journaled and fed to the engine at `cutoff` (a live
/// session takes them at the top of each step).
func injectCommands<V: ExecutionVenue>(_ control: SessionControl, into pipeline: inout ReplayPipeline<V>, at cutoff: Timestamp, logger: Logger) {
    for command in control.takeCommands() {
        pipeline.inject(.command(command), at: max(cutoff, pipeline.reducer.now))
        logger.notice("operator command", metadata: SessionSteps.describe(command))
    }
}
