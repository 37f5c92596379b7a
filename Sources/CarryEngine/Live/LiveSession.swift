// `carry run --mode live`: the same reducer, strategy, risk and config as `carry backtest`
// and the paper session, trading on a Bybit v5 account. Market data as in paper (the venue's
// public REST on its clock, `VenueMarketFeed`); orders, fills, funding and the account's book
// through the signed REST gateway (`LiveGateway`); the executor seam is `LiveOutbox`.
//
// A step, on the venue's clock: read the venue's time; cutoff = time − market lag; journal
// the operator's commands; read the venue (open orders, new executions and settlements, the
// status of every order that ended, and the book when a reconciliation is due) into the
// outbox's inbox; poll the market through the cutoff and process each instant — the venue's
// facts up to an instant are released to the engine in time order with the market's, each
// journaled before the reducer sees it; the ticks due; commit; only then send what the
// outbox holds (so every order's write-ahead `order.submitted` is on disk before it leaves);
// sleep. The venue's answers come back stamped with its time and reach the engine when its
// clock gets there.
//
// Start-up, before any order: credentials (the caller); the journal, new or continued — a
// continued live journal is rebuilt by the `Recovery` fold, not by replaying (the venue's
// facts are real and cannot be regenerated), then `resolveInFlight`: intents never sent are
// queued to be sent (their orderLinkIds make a duplicate impossible), orders sent without an
// answer become unknown and are queried; a consistent read of the venue's book, compared with
// the journal's positions plus the fills read since: a position the journal does not explain
// (or an open order it did not send) refuses the session, unless `adopt`; only then is a new
// journal created; leverage set per perpetual; fee rates checked against the config (a
// difference is a warning); and no order leaves before the engine has been handed that
// first reconciliation. Before all that the account's settings are checked (a unified account,
// cross or portfolio margin, one-way position mode on every traded perpetual): otherwise the
// session refuses to start (exit 2, nothing sent). Then a reconciliation every
// `session.reconcileInterval` of venue time, and one after every reconnect of the private
// stream (`LiveStream`: fills as they happen, REST polling underneath). A stop makes no new
// decisions and waits (bounded) for the orders in flight before `run.ended`.
//
// One journal per session, continued across restarts, as in paper.

public import CarryCore
import CarryJournal
public import CarryVenues
import Foundation
public import Logging

/// What a live session did.
public struct LiveSummary: Sendable {
    public var session: SessionSummary
    public var gateway: GatewayStats
    /// The funding ledger: settlements matched to the unit, that differed, left unmatched.
    public var fundingMatched: Int
    public var fundingDiffered: Int
    public var fundingUnmatched: Int
    /// Reconciliations the engine was handed this run, and `reconciled` records not matched.
    public var reconciliations: Int
    public var reconcileMismatches: Int
    /// The venue's fee rates that differ from the config's.
    public var feeDifferences: [String]
    /// What start-up found unexplained and took over (`adopt`).
    public var adopted: [String]
    /// The private stream this run (nil: REST only): time connected and not, reconnections.
    public var stream: LiveStream.Uptime?
}

/// A live trading session.
public final class LiveSession {
    public let config: BacktestConfig
    public let settings: SessionSettings
    public let journalPath: String
    public let adopt: Bool
    /// How long a graceful stop waits for the orders in flight, wall ms (0: not at all).
    public var stopWaitMs: Int64 = 10_000
    let feed: VenueMarketFeed
    let trading: BybitTradingClient
    let logger: Logger
    /// Operator commands in, status out (the control port, `carry kill`, signals).
    public let control: SessionControl
    /// The private WebSocket streams (nil: fills, statuses and the book over REST only). Set
    /// before `run`; started once the start-up checks passed, stopped when it returns.
    public var stream: LiveStream?

    /// A session trading the config's pairs (resolved by `feed`) through `trading`.
    public init(config: BacktestConfig, feed: VenueMarketFeed, trading: BybitTradingClient, journalPath: String, adopt: Bool, logger: Logger) {
        self.config = config
        self.settings = config.session ?? .standard
        self.feed = feed
        self.trading = trading
        self.journalPath = journalPath
        self.adopt = adopt
        self.logger = logger
        control = SessionControl(status: SessionStatus(mode: .live, journalPath: journalPath))
    }

    /// The engine of a live session: the session's config, with a funding ledger.
    static func reducer(_ config: BacktestConfig, pairs: [ResolvedPair]) -> CarryReducer {
        CarryReducer(config: config.engineConfig(pairs: pairs), reentryCooldownMs: config.reentryCooldownMs, matchesFunding: true)
    }

    /// Runs until `stop` is requested, `durationMs` of wall time passed, or the venue's clock
    /// reaches `stopAt`.
    public func run(stop: StopSignal, durationMs: Int64? = nil, stopAt: Timestamp? = nil,
                    progress: ((Timestamp, ReplayPipeline<LiveOutbox>) -> Void)? = nil) throws -> LiveSummary {
        let wallStart = Date()
        let venueNow = try feed.venueTime()
        let cutoffNow = venueNow.adding(ms: -settings.marketLagMs)
        let continued = Journal.exists(at: journalPath)
        var journal: Journal?
        var pipeline: ReplayPipeline<LiveOutbox>
        let tradingFrom: Timestamp
        let journalId: JournalId
        var records: [RecordedEvent] = []
        if continued {
            let j = try Journal.open(journalPath, readOnly: false)
            try SessionSteps.checkPurpose(j, .live, path: journalPath)
            records = try SessionReplay.records(of: j)
            try SessionSteps.checkConfig(records, config: config, path: journalPath)
            try SessionSteps.checkInstruments(records, config: config, feed: feed, path: journalPath)
            let at = try SessionSteps.position(of: records)
            let fresh = Self.reducer(config, pairs: feed.pairs)
            let folded: Recovery
            do {
                folded = try Recovery.rebuild(fresh, from: records, firstSeq: records.first?.seq ?? 1)
            } catch {
                throw SessionError("\(journalPath) does not fold into an engine (\(error)); it cannot be continued safely. "
                                   + "Inspect it with carry-journal and start a new --journal.", badInput: false)
            }
            // No scan on what happened while the session was down (its decisions would go out
            // on stale prices): the market and the venue's facts of the gap are journaled and
            // applied in time order, and the next scan is the first at or after the venue's
            // clock now.
            let from = max(at.tradingStart, cutoffNow)
            pipeline = ReplayPipeline(reducer: fresh, venue: LiveOutbox(), firstSeq: folded.nextSeq, from: from, to: .distantFuture,
                                      scanIntervalMs: config.scanIntervalMs)
            pipeline.journalsMarketInputs = true
            pipeline.restart(with: folded.reducer, nextSeq: folded.nextSeq)
            for (i, t) in at.lastBar { feed.resume(bars: InstrumentId(UInt32(i)), after: t) }
            for (i, t) in at.lastFunding { feed.resume(funding: InstrumentId(UInt32(i)), after: t) }
            tradingFrom = at.tradingStart
            journalId = j.meta.journalId
            journal = j
            // Stamped at the journal's clock, so the gap's market data follows in time order.
            pipeline.record(.runStarted(SessionSteps.started(.live, from: tradingFrom)), time: pipeline.reducer.now, causation: .none)
            logger.info("session resumed", metadata: ["journal": "\(journalPath)", "records": "\(records.count)",
                                                      "working": "\(folded.reducer.workingOrders.count)", "unsent": "\(folded.reducer.unsentOrders.count)"])
        } else {
            var rng = SystemRandomNumberGenerator()
            journalId = JournalId(high: rng.next(), low: rng.next())
            tradingFrom = cutoffNow
            pipeline = ReplayPipeline(reducer: Self.reducer(config, pairs: feed.pairs), venue: LiveOutbox(), firstSeq: 1, from: cutoffNow,
                                      to: .distantFuture, scanIntervalMs: config.scanIntervalMs)
            pipeline.journalsMarketInputs = true
            let warmupFrom = SessionSteps.header(&pipeline, .live, config: config, feed: feed, tradingStart: cutoffNow)
            logger.info("session starting", metadata: ["journal": "\(journalPath)", "tradingFrom": "\(cutoffNow.iso8601)", "warmupFrom": "\(warmupFrom.iso8601)"])
        }
        let gateway = LiveGateway(client: trading, journal: journalId, pairs: feed.pairs, from: continued ? tradingFrom : cutoffNow, logger: logger,
                                  venueTime: { [feed] in try feed.venueTime() })
        gateway.seed(from: records)
        records = []
        // The account's settings, before anything is sent or a journal created.
        let problems = try gateway.accountProblems()
        guard problems.isEmpty else {
            throw SessionError("the account cannot be traded as it is set: " + problems.joined(separator: "; ") + ". Nothing was sent; run again once it is.")
        }
        if continued { pipeline.resolveInFlight(at: pipeline.reducer.now) }

        // The venue's book, read consistently, before anything is sent or a journal created.
        var book: VenueBook?
        for _ in 1...5 where book == nil {
            let read = try gateway.read(at: try feed.venueTime(), working: Self.working(pipeline), skip: pipeline.venue.intentsEnding, book: true)
            pipeline.withVenue { $0.receive(read.facts) }
            book = read.book
        }
        guard let book else {
            throw SessionError("the venue's book kept changing while it was read at start-up (5 tries): nothing was sent. Run again.", badInput: false)
        }
        let unexplained = Self.unexplained(book, pipeline: pipeline, pairs: feed.pairs)
        if !unexplained.isEmpty {
            guard adopt else {
                throw SessionError("the venue's account holds what \(continued ? "this journal" : "a new session") does not explain: "
                                   + unexplained.joined(separator: "; ") + ". Nothing was sent. If it is this engine's to manage, run again with --adopt "
                                   + "(the engine takes the venue's positions as its own and unwinds a pair left holding one leg); otherwise settle "
                                   + "the account on the venue, or trade from another (sub)account.")
            }
            for u in unexplained { logger.warning("adopting what the journal does not explain", metadata: ["what": "\(u)"]) }
        }
        if journal == nil { journal = try Journal.openOrCreate(journalPath, create: JournalCreateOptions(purpose: .live, journalId: journalId)) }
        let writer = try SessionJournalWriter(journal!)
        defer { writer.close() }
        try writer.commit(&pipeline)
        try gateway.setLeverage(config.margin.perpLeverage)
        let feeDifferences = try gateway.feeDifferences(config.fees)
        for d in feeDifferences { logger.warning("the venue's fee rates differ from the config", metadata: ["difference": "\(d)"]) }
        stream?.start()
        defer { stream?.stop() }

        var lastBookAt = book.time
        var firstCutoff: Timestamp?
        var cutoff = cutoffNow
        var inputs = 0
        var steps = 0
        var stopReason = "stopped"
        let snapshotsBefore = pipeline.venue.snapshotsReleased
        // A reconciliation is owed after every reconnect of the stream, until a book is read.
        var reconcileOwed = false
        // The venue's health, journaled every `statsIntervalMs` of wall time and at the end
        // (`session.stats`: deltas since the previous record), for the session report.
        var statsFrom = Date()
        var statsSteps = 0
        var statsBase = (requests: 0, failed: 0, up: UInt64(0), down: UInt64(0), reconnects: UInt64(0))
        func recordStats() {
            let requests = feed.requests + trading.stats.requests, failed = feed.client.stats.retries + trading.stats.retries
            let up = stream?.uptime ?? LiveStream.Uptime(upMs: 0, downMs: 0, reconnects: 0)
            let now = Date()
            pipeline.record(.sessionStats(SessionStats(intervalMs: UInt64(max(0, now.timeIntervalSince(statsFrom) * 1000)), steps: UInt64(statsSteps),
                                                       requests: UInt64(max(0, requests - statsBase.requests)),
                                                       failedRequests: UInt64(max(0, failed - statsBase.failed)),
                                                       streamUpMs: up.upMs - min(up.upMs, statsBase.up), streamDownMs: up.downMs - min(up.downMs, statsBase.down),
                                                       reconnects: up.reconnects - min(up.reconnects, statsBase.reconnects))),
                            time: max(cutoff, pipeline.reducer.now), causation: .none)
            statsFrom = now
            statsSteps = 0
            statsBase = (requests, failed, up.upMs, up.downMs, up.reconnects)
        }
        // The first book read each UTC day (venue time) is the day's balance reconciliation.
        var lastBalanceDay = book.time.ms / Millis.day
        var dailyBook: VenueBook?
        /// One step; `scanning` false: no scan (no new decisions), only what is in flight.
        func step(scanning: Bool) throws {
            // The stream's news first, before the venue's clock is read: every fill drained
            // here happened before `now`, so a book read at `now` already holds it.
            if let stream {
                let news = stream.drain()
                if news.reconnects > 0 {
                    reconcileOwed = true
                    pipeline.record(.alertRaised(AlertRaised(severity: .info, code: "stream.reconnected",
                                                             message: "the private stream reconnected (\(news.reconnects)); reconciling with the venue")),
                                    time: max(cutoff, pipeline.reducer.now), causation: .none)
                }
                let facts = gateway.streamed(news.executions, working: Self.working(pipeline))
                pipeline.withVenue { $0.receive(facts) }
            }
            let now = try feed.venueTime()
            cutoff = now.adding(ms: -settings.marketLagMs)
            if firstCutoff == nil { firstCutoff = cutoff }
            injectCommands(control, into: &pipeline, at: cutoff, logger: logger)
            // Due by the interval, owed after a stream reconnect, or asked for by an operator
            // (`carry trade` checking the venue after a trade).
            let asked = control.takeReconciliationRequest()
            let reconcile = asked || reconcileOwed || now.msSince(lastBookAt) >= settings.reconcileMs
            let read = try gateway.read(at: now, working: Self.working(pipeline), skip: pipeline.venue.intentsEnding, book: reconcile)
            pipeline.withVenue { $0.receive(read.facts) }
            if let b = read.book {
                reconcileOwed = false
                if b.time.ms / Millis.day != lastBalanceDay {
                    lastBalanceDay = b.time.ms / Millis.day
                    dailyBook = b
                }
                lastBookAt = b.time
                if !b.foreignOrders.isEmpty { logger.warning("open orders this journal did not send", metadata: ["orders": "\(b.foreignOrders)"]) }
            }
            inputs += SessionSteps.process(try feed.poll(through: cutoff), through: cutoff, tradingFrom: scanning ? tradingFrom : .distantFuture,
                                           pipeline: &pipeline)
            pipeline.settleVenue(through: cutoff)
            steps += 1
            statsSteps += 1
            if Date().timeIntervalSince(statsFrom) * 1000 >= Double(PaperSession.statsIntervalMs) { recordStats() }
            try writer.commit(&pipeline)
            // The day's balance, once the engine has reconciled the day's first book.
            if let book = dailyBook, let verdicts = writer.reconciledSince(book.time) {
                dailyBook = nil
                let names = Dictionary(feed.pairs.flatMap { [($0.spot.id, $0.spot.symbol + " spot"), ($0.perp.id, $0.perp.symbol + " perp")] },
                                       uniquingKeysWith: { a, _ in a })
                let alert = Self.dailyBalance(venueCash: book.snapshot.cash, at: book.time, verdicts: verdicts,
                                              name: { names[$0] ?? "instrument \($0.rawValue)" })
                if alert.severity != .info { logger.warning("daily balance differs from the venue's", metadata: ["balance": "\(alert.message)"]) }
                pipeline.record(.alertRaised(alert), time: max(cutoff, pipeline.reducer.now), causation: .none)
                try writer.commit(&pipeline)
            }
            // Nothing leaves before the engine has been handed the start-up reconciliation.
            if pipeline.venue.snapshotsReleased > 0 { Self.send(&pipeline, gateway) }
            var status = SessionSteps.status(.live, journalPath: journalPath, reducer: pipeline.reducer, feed: feed, cutoff: cutoff, steps: steps,
                                             commitMs: writer.commitMs, requests: feed.requests + trading.stats.requests,
                                             venueErrors: feed.client.stats.retries + trading.stats.retries, records: writer.written)
            status.reconciliations = pipeline.venue.snapshotsReleased - snapshotsBefore
            control.publish(status)
            progress?(cutoff, pipeline)
        }
        while true {
            try step(scanning: true)
            if let reason = SessionSteps.stopReason(stop, wallStart: wallStart, durationMs: durationMs, cutoff: cutoff, stopAt: stopAt) { stopReason = reason; break }
            control.wait(ms: settings.pollMs)
        }
        // A graceful stop: no new decisions, and a bounded wait for the orders in flight (sent
        // and not ended, or still to be sent) to end, so the journal is sealed with none open.
        let waitStart = Date()
        while Self.inFlight(pipeline) > 0 && Date().timeIntervalSince(waitStart) * 1000 < Double(stopWaitMs) {
            control.wait(ms: settings.pollMs)
            try step(scanning: false)
        }
        recordStats()
        let r = pipeline.reducer
        let working = Self.inFlight(pipeline)
        pipeline.record(.runEnded(RunEnded(outcome: r.killSwitchEngaged ? .killSwitch : .completed, inputEvents: UInt64(inputs),
                                           message: "live session stopped: \(stopReason)"
                                               + (working > 0 ? " (\(working) orders in flight: resolved by orderLinkId at the next start)" : ""))),
                        time: max(cutoff, r.now), causation: .none)
        try writer.commit(&pipeline)
        let ledger = r.fundingLedger ?? FundingLedger()
        return LiveSummary(
            session: SessionSummary(journalPath: journalPath, resumed: continued, from: firstCutoff ?? cutoffNow, to: cutoff, marketInputs: inputs,
                                    recordsWritten: writer.written, polls: steps, requests: feed.requests + trading.stats.requests,
                                    pairsOpened: writer.entered, openPairs: r.pairs.reduce(0) { $0 + ($1.phase == .flat ? 0 : 1) },
                                    equity: r.equity, funding: r.portfolio.totalFunding, fees: r.portfolio.totalFees, stopReason: stopReason),
            gateway: gateway.stats, fundingMatched: ledger.matched, fundingDiffered: ledger.differed, fundingUnmatched: ledger.unmatched,
            reconciliations: pipeline.venue.snapshotsReleased - snapshotsBefore, reconcileMismatches: writer.mismatches,
            feeDifferences: feeDifferences, adopted: adopt ? unexplained : [], stream: stream?.uptime)
    }

    /// Orders sent and not seen end, plus those still to be sent.
    static func inFlight(_ pipeline: ReplayPipeline<LiveOutbox>) -> Int {
        pipeline.reducer.workingOrders.count + pipeline.venue.queuedIntents.count
    }

    /// The day's balance record: the venue's USDT (in the engine's convention) and each
    /// position as read with the day's first book, against the engine's — its verdicts on that
    /// book (`reconciled`). Info (`balance.daily`) when every verdict matched; otherwise a
    /// warning (`balance.mismatch`), which the alert rules raise like a reconciliation mismatch.
    public static func dailyBalance(venueCash: Fixed?, at time: Timestamp, verdicts: [Reconciled], name: (InstrumentId) -> String) -> AlertRaised {
        var parts: [String] = []
        var ok = true
        if let cash = venueCash {
            let local = verdicts.lazy.compactMap(\.localCash).first
            parts.append("USDT venue \(cash) engine \(local.map { "\($0)" } ?? "?")")
            if let local, local != cash { ok = false }
        }
        for v in verdicts {
            parts.append("\(name(v.instrumentId)) venue \(v.venueQty) engine \(v.localQty) \(v.status)")
            if v.status != .matched { ok = false }
        }
        let message = "daily balance \(Timestamp(ms: time.ms / Millis.day * Millis.day).iso8601.prefix(10)): " + parts.joined(separator: "; ")
        return AlertRaised(severity: ok ? .info : .warning, code: ok ? "balance.daily" : "balance.mismatch", message: message)
    }

    /// Orders the engine has at the venue and has not seen end (not those still to be sent).
    static func working(_ pipeline: ReplayPipeline<LiveOutbox>) -> [OrderTrack] {
        let queued = pipeline.venue.queuedIntents
        return pipeline.reducer.workingOrders.filter { !queued.contains($0.intentSeq) }
    }

    /// Sends what the outbox holds; the answers wait in its inbox for the engine's clock.
    static func send(_ pipeline: inout ReplayPipeline<LiveOutbox>, _ gateway: LiveGateway) {
        let commands = pipeline.withVenue { $0.takeCommands() }
        guard !commands.isEmpty else { return }
        let r = pipeline.reducer
        let facts = gateway.send(commands, order: { r.orders[$0] }, reference: { r.mark($0) })
        pipeline.withVenue { $0.receive(facts) }
    }

    /// What the venue's book holds that the journal (plus the fills read since) does not
    /// explain: a position differing by a tradable quantity (a difference below the
    /// instrument's step — a fee's dust — cannot be traded either way and is left to
    /// reconciliation), and open orders the journal did not send.
    static func unexplained(_ book: VenueBook, pipeline: ReplayPipeline<LiveOutbox>, pairs: [ResolvedPair]) -> [String] {
        let pending = pipeline.venue.pendingPositionChange
        var out: [String] = []
        for p in pairs {
            for d in [p.spot, p.perp] {
                let engine = pipeline.reducer.portfolio.position(d.id) + (pending[d.id] ?? .zero)
                let venue = book.snapshot.positions.first { $0.instrumentId == d.id }?.qty ?? .zero
                let gap = (venue - engine).magnitude
                guard gap.isPositive, !(d.qtyStep.isPositive && gap < d.qtyStep) else { continue }
                out.append("\(d.symbol) \(d.kind.isPerpetual ? "perp" : "spot"): the venue holds \(venue), the journal explains \(engine)")
            }
        }
        if !book.foreignOrders.isEmpty { out.append("open orders this journal did not send: " + book.foreignOrders.joined(separator: ", ")) }
        return out
    }
}
