// `carry run`: a paper or live trading session against a Bybit v5 venue; `carry parity`:
// replay a paper session's journal through the backtest pipeline and compare.

import ArgumentParser
import CarryCore
import CarryEngine
import CarryJournal
import CarryVenues
import Dispatch
import Foundation
import Logging

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Trade on a Bybit v5 venue: on paper (simulated fills on its live market data) or live (orders on the account).",
        discussion: """
        Paper mode: market data (instrument rules, closed 1 h bars of both legs, settled funding) \
        from the venue's public REST endpoints on the venue's own clock; fills, fees, funding and \
        liquidation from the simulated exchange of `carry backtest`; the same reducer, strategy \
        (strategy_mode simple or composite), risk and config. Every input is journaled before the \
        engine sees it and every decision before the simulated exchange acts on it, and each poll \
        is committed before the next.

        One journal per session (--journal), continued across restarts: started again with the \
        same journal and config, the session replays its journal through a fresh engine, refuses \
        to continue if the replay differs from what was journaled or the config is not the one \
        the journal was started with, and carries on after the last journaled input. `carry \
        parity JOURNAL` checks a session the same way without continuing it.

        Live mode: the same market data, and orders on the account behind BYBIT_API_KEY and \
        BYBIT_API_SECRET (the environment, else --env-file, default ./.env; never the command \
        line or a config). Each intent is sent once as a market IOC order (reduce-only for \
        perpetual closes) whose orderLinkId is derived from the journal and the intent's seq, \
        after its `order.submitted` is committed; an answer that is lost is `order.unknown`, \
        resolved by querying that orderLinkId, never by sending again. The private WebSocket \
        streams (order, execution, position, wallet; --stream-url, default Bybit's for the REST \
        host) deliver fills as they happen, journaled before the engine sees them; REST polling \
        stays underneath (a fill both deliver reaches the engine once, by execution id), and \
        every reconnect of the stream is followed by a reconciliation; --no-streams polls only. \
        Executions, the \
        transaction log's funding settlements (matched per settlement against what the engine \
        expected: the funding ledger) and order statuses are read every step; positions, \
        wallet and open orders are reconciled at start and every session.reconcileInterval \
        (default 5m, venue time). A continued live journal is rebuilt by folding it (the \
        venue's facts are real; nothing is replayed against a simulation). At start, before any \
        order: the account's settings are checked (a unified account, cross or portfolio \
        margin, one-way position mode on the traded perpetuals; otherwise exit 2, nothing sent), \
        then the account's positions are compared with what the journal explains, and a \
        difference refuses the session (exit 2, nothing sent) unless --adopt; leverage is set \
        per perpetual (margin.perpLeverage); the venue's fee rates are checked against the \
        config (a difference is a warning).


        The kill switch — working orders cancelled, both legs of every pair flattened, no new \
        entries — is engaged by `carry kill`, by POST /kill on the control port, or by SIGUSR1 \
        (`kill -USR1 PID`); `carry kill --release` (POST /kill?release=1) lifts it. Each is \
        journaled as an operator command and acted on at once, before the next venue poll.

        Control port (session.controlPort or --control-port; 0 = none): 127.0.0.1 only. GET \
        /health (JSON; 200 while the last step is younger than session.staleAfter, else 503), \
        GET /metrics (Prometheus text), POST /kill[?release=1], and for `carry trade` (paired \
        trades by hand, journaled as operator commands) GET /preflight, POST /trade/open, POST \
        /trade/close, GET /pairs, POST /reconcile. Logs: one JSON object per line \
        on stderr when stderr is not a terminal or with --log-format json; logfmt otherwise.

        SIGINT/SIGTERM stop after the current step (journaled `run.ended`, committed; live: \
        first no new decisions and a wait of up to --stop-wait for the orders in flight); a second \
        signal exits at once — every completed step is already committed. --duration stops after \
        that much wall time, --stop-at when the venue's clock reaches a time (useful against \
        `carry exchange-sim --replay-speed`, whose clock runs history at many times real speed).

        Session settings (poll interval, market lag, reconciliation interval) are the config's \
        `session:` section (see config/paper.yaml, config/live.yaml). Exit status: 0 stopped \
        cleanly; 1 the venue or the journal failed (what was committed stays); 2 bad input \
        (config, symbols, a journal of another config, missing keys, an account holding what \
        the journal does not explain, an account in the wrong position or margin mode).
        """)

    @OptionGroup var configOptions: ConfigOptions

    @Option(help: "paper (simulated fills on live market data) or live (orders on the Bybit account).")
    var mode: String = "paper"

    @Option(name: .customLong("config"), help: ArgumentHelp("The session config (default: <config-dir>/paper.yaml, or live.yaml in live mode).", valueName: "FILE"))
    var configFile: String?

    @Flag(help: "Live: take over positions and open orders on the account that the journal does not explain (instead of refusing to start).")
    var adopt = false

    @Flag(name: .customLong("no-streams"), help: "Live: do not open the private WebSocket streams; learn fills, statuses and the book over REST polling alone.")
    var noStreams = false

    @Option(name: .customLong("stop-wait"), help: ArgumentHelp("Live: how long a graceful stop waits for orders in flight to end, e.g. 10s (0s: not at all).", valueName: "DURATION"))
    var stopWait = "10s"

    @Option(name: .customLong("stream-url"), help: ArgumentHelp("Live: the private WebSocket stream (default: Bybit's for the REST base URL; the loopback venue's own port).", valueName: "URL"))
    var streamURL: String?

    @Option(name: .customLong("env-file"), help: ArgumentHelp("Live: the .env file to read keys from when the environment has none.", valueName: "FILE"))
    var envFile = ".env"

    @Option(name: .customLong("journal"), help: ArgumentHelp("The session journal (created, or continued).", valueName: "DIR"))
    var journal: String

    @Option(name: .customLong("base-url"), help: ArgumentHelp("Bybit REST base URL (default: bybit.baseUrl in venues.yaml).", valueName: "URL"))
    var baseURL: String?

    @Option(help: ArgumentHelp("Stop after this much wall time, e.g. 90s, 30m, 8h.", valueName: "DURATION"))
    var duration: String?

    @Option(name: .customLong("stop-at"), help: ArgumentHelp("Stop once the venue's clock (less the market lag) reaches this UTC time.", valueName: "TIME"))
    var stopAt: String?

    @Option(name: .customLong("control-port"), help: ArgumentHelp("Serve /health, /metrics and /kill on 127.0.0.1:PORT (default: session.controlPort; 0 = none).", valueName: "PORT"))
    var controlPort: Int?

    @Option(name: .customLong("dashboard-port"), help: ArgumentHelp("Also serve the monitoring page (carry dashboard) of this session on 127.0.0.1:PORT, from a child process that ends with the session.", valueName: "PORT"))
    var dashboardPort: Int?

    @Option(name: .customLong("log-format"), help: ArgumentHelp("json or logfmt (default: json when stderr is not a terminal).", valueName: "FORMAT"))
    var logFormat: String?

    func run() throws {
        // Structured logs off a terminal (a supervisor's journal, a shipper) or when asked; chosen
        // before the first logger exists.
        CLILogging.use(logFormat.flatMap(CLILogging.Format.init(rawValue:)) ?? (stderrIsTerminal ? .logfmt : .json))
        try reportingErrors {
            if let logFormat, CLILogging.Format(rawValue: logFormat) == nil { throw CLIError.badInput("--log-format must be json or logfmt (got \(logFormat))") }
            if let controlPort, !(0...65535).contains(controlPort) { throw CLIError.badInput("--control-port must be 0–65535 (got \(controlPort))") }
            if let dashboardPort, !(1...65535).contains(dashboardPort) { throw CLIError.badInput("--dashboard-port must be 1–65535 (got \(dashboardPort))") }
            guard mode == "paper" || mode == "live" else { throw CLIError.badInput("--mode must be paper or live (got \(mode))") }
            // Live: the keys before anything else (missing: exit 2, nothing sent anywhere).
            var credentials: BybitCredentials?
            if mode == "live" {
                let dotEnv = try? String(contentsOfFile: envFile, encoding: .utf8)
                guard let c = BybitCredentials.load(environment: ProcessInfo.processInfo.environment, dotEnv: dotEnv) else {
                    throw CLIError.badInput(BybitCredentials.missingMessage)
                }
                credentials = c
            } else if adopt {
                throw CLIError.badInput("--adopt applies to --mode live")
            }
            let path = configFile ?? configOptions.directory + (mode == "live" ? "/live.yaml" : "/paper.yaml")
            let config = try BacktestConfig.load(path: path)
            var durationMs: Int64?
            if let duration {
                guard let ms = ConfigReader.parseDuration(duration), ms > 0 else { throw CLIError.badInput("--duration expects a duration like 90s, 30m or 8h (got \(duration))") }
                durationMs = ms
            }
            var stopTime: Timestamp?
            if let stopAt {
                guard let t = Timestamp(iso8601: stopAt) else { throw CLIError.badInput("--stop-at \(stopAt): expected a UTC time like 2026-01-15T00:00:00Z") }
                stopTime = t
            }
            let logger = CLILogging.logger("carry.run")
            let options = try VenueOptions.bybit(configDirectory: configOptions.directory, baseURL: baseURL)
            let client = BybitMarketClient(options: options, transport: try CurlHTTPTransport(), clock: SystemVenueClock(), logger: logger)
            let stop = StopSignal()
            if let credentials {
                try runLive(config: config, credentials: credentials, options: options, client: client, stop: stop, durationMs: durationMs, stopAt: stopTime)
                return
            }
            let summary: SessionSummary = try sessionErrors {
                let feed = try VenueMarketFeed(client: client, symbols: config.symbols, barSeconds: config.barIntervalSeconds,
                                               cursor: .distantPast)
                let session = PaperSession(config: config, feed: feed, journalPath: journal, logger: logger)
                return try Self.supervised("paper", session.control, session.settings, controlPort, dashboard: dashboardPort.map { (journal, $0) }, stop, logger,
                                           options: options) { note in
                    try session.run(stop: stop, durationMs: durationMs, stopAt: stopTime) { note($0, $1.reducer) }
                }
            }
            print("paper session \(summary.resumed ? "continued" : "started") in \(summary.journalPath): \(summary.stopReason)")
            print("  venue time   \(summary.from.iso8601) → \(summary.to.iso8601)")
            print("  this run     \(summary.marketInputs) market inputs, \(summary.recordsWritten) records journaled, \(summary.polls) polls, \(summary.requests) requests")
            print("  pairs        \(summary.pairsOpened) opened this run, \(summary.openPairs) open now")
            print("  equity       \(summary.equity.rounded(scale: 2, .toNearestOrEven)) USDT (funding \(summary.funding.rounded(scale: 2, .toNearestOrEven)), fees \(summary.fees.rounded(scale: 2, .toNearestOrEven)))")
        }
    }

    /// The control port, when one is configured (before the journal is touched: a port that
    /// cannot be bound refuses the session).
    static func startControlPort(_ port: Int, control: SessionControl, settings: SessionSettings, logger: Logger,
                                 options: BybitClientOptions? = nil) throws -> ControlServer? {
        guard port > 0 else { return nil }
        do {
            let server = try ControlServer.start(port: port, control: control, metrics: SessionMetrics(control: control),
                                                 staleAfterMs: settings.staleAfterMs, logger: logger, predictedFunding: options.map(predictedFunding))
            logger.notice("control port listening", metadata: ["address": "127.0.0.1:\(server.port)",
                                                                "endpoints": "GET /health, GET /metrics, POST /kill[?release=1], GET /preflight, POST /trade/open|close, GET /pairs, POST /reconcile"])
            return server
        } catch let e as ControlServerError {
            throw CLIError.badInput("\(e.description). Is another session using it? Choose another session.controlPort or --control-port.")
        }
    }

    /// A live session: the trading client signs with `credentials` (never printed: an error
    /// or log line names the variables, not their values).
    /// The venue's predicted funding rate of a perpetual (its linear ticker's fundingRate), read
    /// on the control port's thread with a client of its own, for `carry trade`'s pre-flight.
    static func predictedFunding(_ options: BybitClientOptions) -> @Sendable (String) -> Fixed? {
        { symbol in
            guard let transport = try? CurlHTTPTransport() else { return nil }
            var quick = options
            quick.maxAttempts = 1
            quick.requestTimeoutMs = 3000
            let client = BybitMarketClient(options: quick, transport: transport, clock: SystemVenueClock(), logger: CLILogging.logger("carry.preflight"))
            return (try? client.tickers(category: .linear, symbol: symbol))?.first?.fundingRate
        }
    }

    func runLive(config: BacktestConfig, credentials: BybitCredentials, options: BybitClientOptions, client: BybitMarketClient, stop: StopSignal,
                 durationMs: Int64?, stopAt: Timestamp?) throws {
        let logger = CLILogging.logger("carry.run")
        let summary: LiveSummary = try sessionErrors {
            let feed = try VenueMarketFeed(client: client, symbols: config.symbols, barSeconds: config.barIntervalSeconds, cursor: .distantPast)
            let trading = BybitTradingClient(options: options, credentials: credentials, transport: try CurlHTTPTransport(), clock: SystemVenueClock(),
                                             logger: logger)
            let session = LiveSession(config: config, feed: feed, trading: trading, journalPath: journal, adopt: adopt, logger: logger)
            guard let waitMs = ConfigReader.parseDuration(stopWait), waitMs >= 0 else { throw CLIError.badInput("--stop-wait expects a duration like 10s (got \(stopWait))") }
            session.stopWaitMs = waitMs
            if !noStreams {
                session.stream = LiveStream(url: streamURL ?? LiveStream.privateURL(forBaseURL: options.baseURL), credentials: credentials, logger: logger,
                                            wake: { [control = session.control] in control.wake() })
            }
            return try Self.supervised("live", session.control, session.settings, controlPort, dashboard: dashboardPort.map { (journal, $0) }, stop, logger,
                                       options: options) { note in
                try session.run(stop: stop, durationMs: durationMs, stopAt: stopAt) { note($0, $1.reducer) }
            }
        }
        let s = summary.session
        let g = summary.gateway
        print("live session \(s.resumed ? "continued" : "started") in \(s.journalPath): \(s.stopReason)")
        print("  venue time   \(s.from.iso8601) → \(s.to.iso8601)")
        print("  this run     \(s.marketInputs) market inputs, \(s.recordsWritten) records journaled, \(s.polls) steps, \(s.requests) requests")
        print("  orders       \(g.ordersSent) sent (\(g.accepted) accepted, \(g.rejected) rejected, \(g.unknown) unknown), \(g.cancelsSent) cancels, \(g.fills) fills, \(g.statusReports) status reports")
        print("  pairs        \(s.pairsOpened) opened this run, \(s.openPairs) open now")
        print("  funding      \(g.payments) payments read; ledger: \(summary.fundingMatched) matched, \(summary.fundingDiffered) differed, \(summary.fundingUnmatched) unmatched")
        print("  reconciled   \(summary.reconciliations) times, \(summary.reconcileMismatches) mismatch records")
        if let up = summary.stream {
            let share = up.upMs + up.downMs > 0 ? Double(up.upMs) * 100 / Double(up.upMs + up.downMs) : 0
            print("  stream       \(g.streamFills) of \(g.fills) fills first by stream (\(g.streamDuplicates) also read over REST dropped), "
                  + "connected \(String(format: "%.1f", share))% of \((up.upMs + up.downMs) / 1000) s, \(up.reconnects) reconnects")
        } else {
            print("  stream       none (--no-streams): REST polling only")
        }
        for d in summary.feeDifferences { print("  fee rates    \(d)") }
        for a in summary.adopted { print("  adopted      \(a)") }
        print("  equity       \(s.equity.rounded(scale: 2, .toNearestOrEven)) USDT (funding \(s.funding.rounded(scale: 2, .toNearestOrEven)), fees \(s.fees.rounded(scale: 2, .toNearestOrEven)))")
    }

    /// Runs a session, its errors as the CLI's: bad input (and keys the venue refuses) exit 2,
    /// failures 1 — what was committed stays.
    func sessionErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as SessionError {
            throw e.isBadInput ? CLIError.badInput(e.message) : CLIError.failed(e.message)
        } catch let e as BybitError {
            if let code = e.retCode, BybitRejectKind(retCode: code) == .authentication {
                throw CLIError.badInput("the venue refused the API key (retCode \(code)): check \(BybitCredentials.apiKeyVariable) and \(BybitCredentials.secretVariable)")
            }
            throw CLIError.failed("the venue failed: \(e.message) (everything committed before it stays in \(journal); run again to continue)")
        }
    }

    /// A session (paper or live) run under the same supervision: the signal handlers, the
    /// control port (`/health`, `/metrics`, `/kill`; bound before the journal is touched) and
    /// an hourly progress line, which `body` feeds with the venue time and the engine after
    /// each step.
    static func supervised<T>(_ label: String, _ control: SessionControl, _ settings: SessionSettings, _ portOverride: Int?,
                              dashboard: (journal: String, port: Int)? = nil, _ stop: StopSignal, _ logger: Logger, options: BybitClientOptions? = nil,
                              _ body: (@escaping (Timestamp, CarryReducer) -> Void) throws -> T) throws -> T {
        let signals = installSignalHandlers(stop, control: control)
        defer { signals.forEach { $0.cancel() } }
        let server = try startControlPort(portOverride ?? settings.controlPort, control: control, settings: settings, logger: logger, options: options)
        defer { server?.stop() }
        let progress = ProgressLine(label, logger: logger)
        defer { progress.finish() }
        let note = hourlyNote(progress)
        // The page is served by a child `carry dashboard` (its own read-only view of the journal:
        // LMDB must not be opened twice in one process), started once the first step has made
        // the journal, stopped with the session — or by itself if this process dies.
        var child: Process?
        defer {
            if let child, child.isRunning {
                child.terminate()
                child.waitUntilExit()
            }
        }
        return try body { time, reducer in
            if let dashboard, child == nil {
                child = startDashboard(journal: dashboard.journal, port: dashboard.port, logger: logger)
            }
            note(time, reducer)
        }
    }

    /// `carry dashboard --journal J --port N --exit-with-parent PID` as a child process.
    static func startDashboard(journal: String, port: Int, logger: Logger) -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        p.arguments = ["dashboard", "--journal", journal, "--port", String(port), "--exit-with-parent", String(getpid())]
        do {
            try p.run()
            logger.notice("dashboard", metadata: ["url": "http://127.0.0.1:\(port)/", "pid": "\(p.processIdentifier)"])
        } catch {
            logger.error("the dashboard could not start; the session goes on without it", metadata: ["error": "\(error)"])
        }
        return p
    }

    /// A progress line per hour of venue time: open pairs and equity.
    static func hourlyNote(_ progress: ProgressLine) -> (Timestamp, CarryReducer) -> Void {
        var lastShown = Timestamp.distantPast
        return { cutoff, r in
            guard lastShown == .distantPast || cutoff.msSince(lastShown) >= Millis.hour else { return }
            lastShown = cutoff
            let open = r.pairs.reduce(0) { $0 + ($1.phase == .flat ? 0 : 1) }
            progress.note("venue time \(cutoff.iso8601), \(open) open pairs, equity \(r.equity.rounded(scale: 2, .toNearestOrEven))")
        }
    }

    /// SIGINT/SIGTERM: the first asks the session to stop after its step; a second exits at
    /// once. SIGUSR1 engages the kill switch (cancel working orders, flatten, no entries).
    static func installSignalHandlers(_ stop: StopSignal, control: SessionControl) -> [any DispatchSourceSignal] {
        var sources: [any DispatchSourceSignal] = []
        signal(SIGUSR1, SIG_IGN)
        let usr1 = DispatchSource.makeSignalSource(signal: SIGUSR1, queue: .global())
        usr1.setEventHandler {
            printNotice("SIGUSR1: engaging the kill switch")
            control.request(.killSwitch(engaged: true, reason: "SIGUSR1"))
        }
        usr1.resume()
        sources.append(usr1)
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                if stop.isRequested {
                    printNotice("second signal: exiting now (every completed step is committed)")
                    Glibc.exit(130)
                }
                printNotice("stopping after the current step (signal \(sig)); send it again to exit at once")
                stop.request("signal \(sig)")
            }
            source.resume()
            sources.append(source)
        }
        return sources
    }
}

struct ParityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parity",
        abstract: "Replay a paper or live session's journal through the backtest pipeline: the first record (paper) or decision (live) that differs, and for live the fill-quality gap per order.",
        discussion: """
        Reads the session's config from its config.applied record, replays its market inputs, \
        scan ticks and operator commands in journal order through a fresh reducer and simulated \
        exchange, and compares every record the replay writes with the journal's (event, event \
        time, causation). Also counts market inputs that arrived after a scan had passed their \
        time (late data, which a backtest would have seen earlier).

        A live session's journal is replayed the same way, but its venue facts are real and the \
        replay's simulated, so its order intents are compared in order (time, pair, leg, \
        instrument, side, quantity, reason) and the first that differs is reported; for every \
        order up to there, the fill-quality gap: real against simulated volume-weighted price \
        (basis points, positive = the real fill was worse), quantity, fees (quote coin) and \
        timing (the real last fill against the simulated one).

        Exit status: 0 identical; 1 the journals (decisions) differ; 2 not a session journal.
        """)

    @Argument(help: ArgumentHelp("The session journal directory.", valueName: "JOURNAL"))
    var journal: String

    func run() throws {
        try reportingErrors {
            guard Journal.exists(at: journal) else { throw CLIError.badInput("no journal at \(journal)") }
            let j = try Journal.open(journal)
            let records = try SessionReplay.records(of: j)
            guard let applied = records.lazy.compactMap({ r -> ConfigApplied? in if case .configApplied(let c) = r.event { return c } else { return nil } }).first else {
                throw CLIError.badInput("\(journal) has no config.applied record: it is not a session journal")
            }
            let config = try BacktestConfig.parse(canonical: applied.text, source: "\(journal) config.applied")
            if j.meta.purpose == .live {
                let live: LiveParityOutcome
                do { live = try SessionReplay.liveParity(records, config: config) } catch let e as SessionError { throw CLIError.badInput(e.message) }
                let symbols = Dictionary(records.compactMap { r -> (UInt32, String)? in
                    if case .instrumentDefined(let d) = r.event { return (d.id.rawValue, d.symbol + (d.kind == .spot ? " spot" : " perp")) } else { return nil }
                }, uniquingKeysWith: { a, _ in a })
                Self.printLive(live, symbols: symbols)
                if live.divergence != nil { throw ExitCode(1) }
                return
            }
            let outcome: ReplayOutcome
            do { outcome = try SessionReplay.replay(records, config: config) } catch let e as SessionError { throw CLIError.badInput(e.message) }
            let hash = try j.withSnapshot { try $0.contentHash() }
            if let d = outcome.divergence {
                print("differs at \(d)")
                print("\(outcome.compared) records compared before it; \(outcome.lateInputs) market inputs arrived after a scan had passed them")
                throw ExitCode(1)
            }
            print("identical: \(outcome.compared) records (\(outcome.decisions) decisions) replayed through the backtest pipeline; content hash \(hash)")
            print("\(outcome.lateInputs) market inputs arrived after a scan had passed their time")
        }
    }

    /// `+1.250s`, `-40ms`.
    static func signedMs(_ ms: Int64) -> String {
        let sign = ms < 0 ? "-" : "+"
        let m = ms.magnitude
        return m >= 1000 ? "\(sign)\(m / 1000).\(String(format: "%03d", Int(m % 1000)))s" : "\(sign)\(m)ms"
    }

    /// A live journal's parity: the decisions, then the fill-quality table and its summary.
    static func printLive(_ o: LiveParityOutcome, symbols: [UInt32: String]) {
        if let d = o.divergence {
            print("decisions: \(o.agreed) order intents identical to the backtest replay, then the first that differs:")
            print("  journal \(d.journaled)")
            print("  replay  \(d.replayed)")
        } else {
            print("decisions: identical — \(o.agreed) order intents, as the backtest replay decided them")
        }
        print("fill quality, real vs simulated, \(o.gaps.count) orders (gap in bps: positive = the real fill was worse):")
        print("  " + ["intent", "decided", "instrument", "side", "reason", "qty real/sim", "price real", "price sim", "gap bps", "fee real", "fee sim", "Δt real−sim"]
            .joined(separator: "  "))
        func f(_ x: Fixed?, _ scale: Int) -> String { x.map { "\($0.rounded(scale: scale, .toNearestOrEven))" } ?? "-" }
        for g in o.gaps {
            let qty = g.liveQty == g.simQty ? "\(g.liveQty)" : "\(g.liveQty)/\(g.simQty)"
            print("  " + ["\(g.intentSeq)", g.decidedAt.iso8601, symbols[g.instrumentId.rawValue] ?? "\(g.instrumentId.rawValue)", "\(g.side)", "\(g.reason)", qty,
                          f(g.livePrice, 4), f(g.simPrice, 4), f(g.priceGapBps, 2), f(g.liveFee, 4), f(g.simFee, 4),
                          g.timingGapMs.map(Self.signedMs) ?? "-"].joined(separator: "  "))
        }
        let priced = o.gaps.compactMap(\.priceGapBps)
        let timed = o.gaps.compactMap(\.timingGapMs)
        let mean = priced.isEmpty ? nil : priced.reduce(Fixed.zero, +).divided(by: Int64(priced.count), scale: 2, .toNearestOrEven)
        let worst = priced.map { $0.magnitude }.max()
        let feeReal = o.gaps.reduce(Fixed.zero) { $0 + $1.liveFee }, feeSim = o.gaps.reduce(Fixed.zero) { $0 + $1.simFee }
        print("summary: price gap mean \(f(mean, 2)) bps, largest |gap| \(f(worst, 2)) bps over \(priced.count) orders filled on both sides; "
              + "fees real \(f(feeReal, 2)) vs simulated \(f(feeSim, 2)) USDT; "
              + "timing: real fills \(timed.isEmpty ? "-" : Self.signedMs(timed.reduce(0, +) / Int64(timed.count))) after the simulated on average")
        print("\(o.liveIntents) intents in the journal, \(o.replayIntents) in the replay; \(o.lateInputs) market inputs arrived after a scan had passed their time")
    }
}
