// carry-bench killswitch: the operator's kill switch and the engine's reaction time.
//
// 1. Kill switch: a real `PaperSession` (the loop `carry run` runs) trading the bundled BTC,
//    ETH and SOL history from a Bybit-shaped venue in this process (`BybitPublicAPI` behind an
//    in-memory transport: no sockets), with pairs open. Each run continues a copy of the same
//    session journal with the venue's clock moving an hour per step (every step polls every
//    stream), waits for its first step, then at a random moment of a step or of its poll wait
//    sends the command through `SessionControl` (what SIGUSR1, `carry kill` and POST /kill all
//    do) and stops the clock when the session publishes the kill switch engaged — by then the
//    command and the close intents of every leg are journaled (durably committed) and handed
//    to the executor. Two series: the venue answering at once, and every request taking
//    `--venue-latency-ms` (a stand-in for the network). Baselines in the same run: a durable
//    journal commit of a batch that size, and the wake-up of a thread waiting on
//    `SessionControl`.
// 2. Tick → intent: the same pipeline over the whole bundled history (4 years of hourly bars),
//    timing each instant (its bars and settlements, then its scan tick) from the moment its
//    market data is in hand; instants whose scan sends order intents against those that decide
//    nothing (the baseline), and the durable journal commit of the intent instants' records.

import ArgumentParser
import CarryCore
import CarryEngine
import CarryExchangeSim
import CarryJournal
import CarryTesting
import CarryVenues
import Foundation
import Logging

struct KillSwitchBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "killswitch",
        abstract: "Kill switch: command → journaled cancel/close intents of every leg, in a paper session (p50/p99); tick → intent latency.")

    @Option(help: "Kill-switch runs (each continues a fresh copy of the session journal).")
    var runs = 100

    @Option(name: .customLong("venue-latency-ms"), help: "Wall ms every venue request takes in the second kill-switch series (a stand-in for the network).")
    var venueLatencyMs = 20

    @Option(help: "A market journal holding the bundled history (default: import data/ into a scratch journal).")
    var market: String?

    func run() throws {
        print("carry-bench killswitch — \(ProcessInfo.processInfo.processorCount) cores, \(runs) kill-switch runs")
        let scratch = ScratchDirectory("bench-killswitch")
        let source = market ?? BundledMarket.path
        try killSwitch(source: source, scratch: scratch)
        print("")
        try tickToIntent(source: source, scratch: scratch)
    }

    // MARK: - Kill switch

    static let symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]

    func sessionConfig() throws -> BacktestConfig {
        var config = try BacktestConfig.parse(yaml: """
        strategy_mode: simple
        venue: bybit
        symbols: [\(Self.symbols.joined(separator: ", "))]
        barInterval: 1h
        scanInterval: 1h
        warmup: 1d
        initialCapitalUsdt: 100000
        session: {pollInterval: 200ms, marketLag: 0s}
        strategy: {entryThreshold: 0.00001, exitThreshold: 0, maxHolding: 90d, pairNotionalUsdt: 20000, maxOpenPairs: 3}
        """, source: "carry-bench killswitch")
        config.canonicalText = config.canonical()
        return config
    }

    func killSwitch(source: String, scratch: ScratchDirectory) throws {
        let config = try sessionConfig()
        let data = try SimMarketData.load(journalPath: source, venue: .binance, now: Timestamp(iso8601: "2025-06-01T00:00:00Z"))
        let venue = InProcessVenue(BybitPublicAPI(data: data), latencyMs: 0)
        var quiet = Logger(label: "bench")
        quiet.logLevel = .critical

        // The session to continue: trade from 2025-06-01, moving the venue's clock 3 h a step,
        // until two pairs or more are open and none is opening or closing.
        let base = scratch.sub("session")
        let builder = PaperSession(config: config, feed: try venue.feed(symbols: Self.symbols, logger: quiet), journalPath: base, logger: quiet)
        let stop = StopSignal()
        var steps = 0
        _ = try builder.run(stop: stop) { cutoff, pipeline in
            steps += 1
            let open = pipeline.reducer.pairs.filter { $0.phase == .open }.count
            let busy = pipeline.reducer.pairs.contains { $0.phase == .opening || $0.phase == .closing }
            if !busy && open >= 2 { stop.request("built") } else { data.resetClock(to: cutoff.adding(ms: 3 * Millis.hour)) }
        }
        let builtStatus = builder.control.status
        print("session: \(builtStatus.openPairs) pairs open after \(steps) steps (venue time \(builtStatus.venueTime.iso8601)); each run continues a copy of its journal")

        // Baselines.
        var commits: [Double] = []
        let probe = try Journal.openOrCreate(scratch.sub("commit-probe"), create: JournalCreateOptions(purpose: .synthetic))
        let writer = try probe.makeWriter()
        let batch = (0..<8).map { i in EventDraft(.cancelIntended(CancelIntended(intentSeq: UInt64(i + 1), reason: .killSwitch)),
                                                  eventTime: Timestamp(ms: Int64(i)), recordTime: Timestamp(ms: Int64(i)), causation: .none) }
        for _ in 0..<max(runs, 50) {
            let t0 = now()
            _ = try writer.append(batch)
            commits.append(now() - t0)
        }
        try writer.close()
        var wakeups: [Double] = []
        for _ in 0..<max(runs, 50) {
            let control = SessionControl(status: SessionStatus(mode: .paper, journalPath: ""))
            let woke = DispatchSemaphore(value: 0)
            let ready = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var t1 = 0.0
            let thread = Thread {
                ready.signal()
                control.wait(ms: 5000)
                t1 = now()
                woke.signal()
            }
            thread.start()
            ready.wait()
            usleep(2000)
            let t0 = now()
            control.request(.killSwitch(engaged: true, reason: "bench"))
            woke.wait()
            wakeups.append(t1 - t0)
        }

        // The runs: each continues a copy of the session with the venue's clock moving an hour
        // a step (so every step polls every stream: 1 + 3 × 3 requests), the command landing at
        // a random moment of a step or of the 200 ms wait after it.
        let baseNow = data.now
        var series: [(name: String, latencies: [Double], legs: [(sent: Int, expected: Int)])] = []
        for latency in [0, venueLatencyMs] {
            venue.latencyMs = latency
            var latencies: [Double] = []
            var legs: [(sent: Int, expected: Int)] = []
            var rng = SplitMix64(seed: 7)
            for k in 0..<runs {
                data.resetClock(to: baseNow)
                let path = scratch.sub("run-\(latency)-\(k)")
                try FileManager.default.copyItem(atPath: base, toPath: path)
                defer { try? FileManager.default.removeItem(atPath: path) }
                let session = PaperSession(config: config, feed: try venue.feed(symbols: Self.symbols, logger: quiet), journalPath: path, logger: quiet)
                let probe = LatencyProbe()
                session.control.onPublish { status in probe.published(status) }
                let stop = StopSignal()
                let done = DispatchSemaphore(value: 0)
                nonisolated(unsafe) var failure: (any Error)?
                let running = Handoff(session)   // used by that thread alone from here on
                let thread = Thread {
                    do { _ = try running.value.run(stop: stop) { cutoff, _ in data.resetClock(to: cutoff.adding(ms: Millis.hour)) } } catch { failure = error }
                    done.signal()
                }
                thread.start()
                guard probe.waitFirstStep(timeoutSeconds: 60) else { throw BenchError("run \(k): the session did not complete a step: \(String(describing: failure))") }
                usleep(UInt32(rng.below(400_000)))
                probe.start()
                session.control.request(.killSwitch(engaged: true, reason: "carry-bench"))
                guard let measured = probe.waitEngaged(timeoutSeconds: 30) else { throw BenchError("run \(k): the kill switch was not reported engaged") }
                stop.request("bench run over")
                done.wait()
                if let failure { throw failure }
                latencies.append(measured)
                legs.append(try intentsOfKill(path))
            }
            series.append((latency == 0 ? "in-process venue" : "venue +\(latency) ms per request", latencies, legs))
        }

        print("")
        print("kill switch: command → cancel/close intents of every leg journaled (durable commit) and handed to the executor")
        print(pad("measurement", 52) + pad("p50", 11) + pad("p99", 11) + pad("max", 11) + "n")
        printRow("journal commit of 8 records (baseline)", commits)
        printRow("SessionControl wake-up (baseline)", wakeups)
        for s in series { printRow("kill switch in a paper session, \(s.name)", s.latencies) }
        let all = series.flatMap(\.legs)
        let complete = all.allSatisfy { $0.sent >= $0.expected }
        print("legs: \(all.map(\.sent).min() ?? 0)–\(all.map(\.sent).max() ?? 0) close intents per kill for \(all.map(\.expected).min() ?? 0)–"
              + "\(all.map(\.expected).max() ?? 0) legs of open pairs (\(complete ? "every leg, every run" : "MISSING LEGS in some run"))")
        print("target: p99 < 250 ms")
    }

    /// The close intents the operator's kill decided (caused by its record), and the legs of
    /// the pairs open when it came (two per pair).
    func intentsOfKill(_ path: String) throws -> (sent: Int, expected: Int) {
        var killSeq: UInt64?
        var phase: [UInt64: PairPhase] = [:]
        var openAtKill = 0
        var sent = 0
        try Journal.open(path, readOnly: true).withSnapshot { snap in
            _ = try snap.scan { view in
                let event = try view.decode()
                if killSeq == nil, case .killSwitchChanged(let k) = event, k.source == .operatorCommand, k.engaged {
                    killSeq = view.header.seq
                    openAtKill = phase.values.filter { $0 == .open }.count
                } else if killSeq == nil, case .pairTransition(let t) = event {
                    phase[t.pairId] = t.to
                } else if let killSeq, view.header.causation == .local(killSeq), case .orderIntended(let i) = event, i.reason == .flatten {
                    sent += 1
                }
                return true
            }
        }
        return (sent, 2 * openAtKill)
    }

    // MARK: - Tick → intent

    func tickToIntent(source: String, scratch: ScratchDirectory) throws {
        var config = try sessionConfig()
        config.canonicalText = config.canonical()
        let data = try SimMarketData.load(journalPath: source, venue: .binance, now: nil)
        var quiet = Logger(label: "bench")
        quiet.logLevel = .critical
        let venue = InProcessVenue(BybitPublicAPI(data: data), latencyMs: 0)
        let feed = try venue.feed(symbols: Self.symbols, logger: quiet, cursor: Timestamp(iso8601: "2021-01-01T00:00:00Z")!)
        let events = try feed.poll(through: data.now)
        guard let first = events.first?.time else { throw BenchError("no market data in \(source)") }
        let tradingStart = first.adding(ms: config.warmupMs)
        var pipeline = SessionReplay.pipeline(config, pairs: feed.pairs, tradingStart: tradingStart, firstSeq: 1)
        for p in feed.pairs {
            pipeline.define(p.spot, at: first)
            pipeline.define(p.perp, at: first)
        }
        let journal = try Journal.openOrCreate(scratch.sub("tick-run"), create: JournalCreateOptions(purpose: .paper))
        let writer = try journal.makeWriter()
        var pending: [CommitTicket] = []
        func enqueue(_ out: [PipelineOutput]) throws -> CommitTicket {
            try writer.enqueue(out.map { EventDraft($0.event, eventTime: $0.time, recordTime: $0.time, causation: $0.causation) })
        }
        _ = try enqueue(pipeline.takeOutput())

        var quietTimes: [Double] = []
        var intentTimes: [Double] = []
        var commitTimes: [Double] = []
        var intents = 0
        var group = MarketGroup()
        var i = 0
        while i < events.count {
            let t = events[i].time
            while i < events.count && events[i].time == t {
                group.append(seq: 0, events[i].event)
                i += 1
            }
            let t0 = now()
            pipeline.process(group: &group, at: t, trading: t >= tradingStart, afterTick: { _, _ in })
            if t >= tradingStart { pipeline.tick(through: t, afterTick: { _, _ in }) }
            let t1 = now()
            let out = pipeline.takeOutput()
            let sent = out.reduce(0) { n, o in if case .orderIntended = o.event { return n + 1 } else { return n } }
            if sent > 0 {
                intentTimes.append(t1 - t0)
                intents += sent
                // Everything queued so far commits first (group commit), as in a session step.
                let c0 = now()
                try enqueue(out).wait()
                commitTimes.append(now() - c0)
                pending.removeAll()
            } else if t >= tradingStart {
                quietTimes.append(t1 - t0)
                if !out.isEmpty { pending.append(try enqueue(out)) }
            } else if !out.isEmpty {
                pending.append(try enqueue(out))
            }
        }
        for p in pending { try p.wait() }
        try writer.close()
        let span = String(format: "%.1f years", Double(events.last!.time.ms - first.ms) / Double(365 * Millis.day))
        print("tick → intent: each instant's bars and settlements, then its scan tick, through the pipeline (\(Self.symbols.count) pairs, \(span) of hourly bars, "
              + "\(intents) order intents)")
        print(pad("measurement", 52) + pad("p50", 11) + pad("p99", 11) + pad("max", 11) + "n")
        printRow("instants that decide nothing (baseline)", quietTimes)
        printRow("instants that send order intents", intentTimes)
        printRow("  then the durable commit of their records", commitTimes)
        print("target: tick → intent p99 < 1 ms excluding the network (the commit is the journal's fsync, before any send)")
    }

    // MARK: - Output

    func printRow(_ name: String, _ samples: [Double]) {
        let s = samples.sorted()
        func q(_ p: Double) -> Double {   // nearest rank
            guard !s.isEmpty else { return 0 }
            return s[min(s.count - 1, max(0, Int((p * Double(s.count)).rounded(.up)) - 1))]
        }
        print(pad(name, 52) + pad(ms(q(0.5)), 11) + pad(ms(q(0.99)), 11) + pad(ms(s.last ?? 0), 11) + "\(s.count)")
    }

    func ms(_ seconds: Double) -> String {
        let v = seconds * 1000
        return v < 1 ? String(format: "%.3f ms", v) : String(format: "%.1f ms", v)
    }
}

/// Hands a non-Sendable value to the one thread that uses it from then on.
private final class Handoff<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Times one kill: from `start()` to the first published status with the switch engaged.
private final class LatencyProbe: @unchecked Sendable {
    private let condition = NSCondition()
    private var stepped = false
    private var t0: Double?
    private var latency: Double?

    func published(_ status: SessionStatus) {
        let t = now()
        condition.lock()
        stepped = true
        if let t0, latency == nil, status.killSwitchEngaged { latency = t - t0 }
        condition.broadcast()
        condition.unlock()
    }

    func start() {
        condition.lock()
        t0 = now()
        condition.unlock()
    }

    func waitFirstStep(timeoutSeconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        condition.lock()
        defer { condition.unlock() }
        while !stepped { if !condition.wait(until: deadline) { return false } }
        return true
    }

    func waitEngaged(timeoutSeconds: Double) -> Double? {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        condition.lock()
        defer { condition.unlock() }
        while latency == nil { if !condition.wait(until: deadline) { return nil } }
        return latency
    }
}

/// A Bybit-shaped venue in this process: the loopback exchange's public API behind an
/// in-memory transport, optionally slowed by a fixed latency per request.
final class InProcessVenue: HTTPTransport, @unchecked Sendable {
    let api: BybitPublicAPI
    var latencyMs: Int

    init(_ api: BybitPublicAPI, latencyMs: Int) {
        self.api = api
        self.latencyMs = latencyMs
    }

    /// A market feed over this venue, unthrottled (the venue is in this process).
    func feed(symbols: [String], logger: Logger, cursor: Timestamp = .distantPast) throws -> VenueMarketFeed {
        var options = BybitClientOptions(baseURL: "http://127.0.0.1:1")
        options.defaultRateLimit = RateLimitConfig(requestsPerSecond: 1_000_000, burst: 1_000_000)
        let client = BybitMarketClient(options: options, transport: self, clock: SystemVenueClock(), logger: logger)
        return try VenueMarketFeed(client: client, symbols: symbols, barSeconds: 3600, cursor: cursor)
    }

    func get(_ request: HTTPRequest) throws -> HTTPResponse {
        if latencyMs > 0 { usleep(UInt32(latencyMs * 1000)) }
        let afterHost = request.url.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)   // http: "" host rest
        let rest = "/" + (afterHost.count > 3 ? afterHost[3] : "")
        let parts = rest.split(separator: "?", maxSplits: 1)
        var query: [String: String] = [:]
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                query[String(kv[0])] = kv.count > 1 ? String(kv[1]).removingPercentEncoding ?? String(kv[1]) : ""
            }
        }
        guard let r = api.handle(path: String(parts[0]), query: query) else { return HTTPResponse(status: 404, body: []) }
        return HTTPResponse(status: r.status, body: Array(r.body.utf8))
    }
}
