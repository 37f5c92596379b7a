// `carry exchange-sim`: a Bybit-compatible exchange on loopback, serving a market journal.

import ArgumentParser
import CarryCore
import CarryEngine
import CarryExchangeSim
import CarryJournal
import Foundation

struct ExchangeSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exchange-sim",
        abstract: "Serve a market journal as a Bybit v5 venue on loopback: public market data and a tradable account (for tests and demos).",
        discussion: """
        Serves /v5/market/{funding/history,kline,instruments-info,tickers,time} from the market
        journal, in Bybit's exact shapes (retCode envelope, numbers as strings, newest-first
        lists, nextPageCursor). The clock stands still at --now (default: the last event of the
        data), so `carry fetch --days N` against it reads the last N days of the data.

        Rate limit: --limit requests per --limit-window per endpoint, advertised in
        X-Bapi-Limit, X-Bapi-Limit-Status and X-Bapi-Limit-Reset-Timestamp; a request beyond it
        gets retCode 10006 and counts as a violation. GET /sim/stats returns the counters as
        JSON; they are also printed on stdout at exit (SIGTERM or SIGINT).

        Faults, for tests: --fault KIND:N (repeatable) fails every N-th request (phase from
        --fault-seed) with KIND: 10006 (rate-limit answer), 429 (HTTP 429), 5xx (HTTP 503), slow
        (answered --slow late), drop (connection closed mid-body), storm (--storm-length
        answers 10006 in a row). Order faults count order creates instead: reject-balance:N and
        reject-min-notional:N refuse every N-th create (110007/170131, 110094/170140),
        drop-after-accept:N and 5xx-after-accept:N place every N-th order and then drop the
        connection or answer 503, partial:N fills every N-th order in two parts.
        --maintenance START:LENGTH answers 503 to everything in that window (durations from
        start); --clock-skew shifts the venue's clock. Each is counted in /sim/stats.

        Trading: the signed endpoints (/v5/order/{create,cancel,cancel-all,realtime,history},
        /v5/execution/list, /v5/position/{list,set-leverage}, /v5/account/{wallet-balance,
        fee-rate,transaction-log,info}, /v5/user/query-api) accept the key pair --api-key /
        --api-secret (default carry-sim-key / carry-sim-secret), verified over the raw query and
        body bytes. Fills, fees, slippage, latency and margin follow --backtest-config (default
        <config-dir>/backtest.yaml), exactly as `carry backtest` trades; the account opens with
        its initialCapitalUsdt in USDT.

        Account settings (to test a client's start-up checks): --position-mode one-way|hedge
        (default one-way; a hedge-mode account lists each perpetual as two sides, positionIdx 1
        and 2, and refuses linear orders without one), --margin-mode REGULAR_MARGIN|
        ISOLATED_MARGIN|PORTFOLIO_MARGIN and --unified-status N (1 classic, 3–6 unified), as
        GET /v5/account/info and /v5/position/list report them.

        Replay: --replay-speed X runs the venue's clock through the data at X× from
        --replay-start (default --now, else the first bar): bars fill orders, settlements pay
        funding into the transaction log, and the public endpoints answer at the replayed time.
        Without it the clock stands still; POST /sim/advance?to=MS or ?by=MS moves it.
        --source-venue serves another venue's history (e.g. binance) under Bybit's API.

        WebSockets on the same port: /v5/public/linear and /v5/public/spot (tickers, orderbook.1,
        publicTrade, kline — derived from the bars and settlements as of the venue's clock, the
        book --ws-half-spread either side of the close) and /v5/private (auth with the same key
        pair; the account's order, execution, position and wallet changes). Ops are answered in
        Bybit's shapes (subscribe, unsubscribe, ping, auth). WebSocket faults, each counted
        under "ws" in /sim/stats: --ws-drop-every N kills a connection after every N-th data
        message, --ws-lose K loses the K messages before each such kill, --ws-dup-exec N sends
        every N-th execution message twice; POST /sim/fault/ws-drop kills every connection now.

        Prints `listening on HOST:PORT` on stdout once bound (--port 0 picks a free port).
        """)

    @Option(help: ArgumentHelp("The market journal to serve.", valueName: "DIR"))
    var journal: String

    @Option(help: "TCP port (0: pick a free one and print it).")
    var port = 0

    @Option(help: "Address to bind (loopback by default; the simulator is not a public service).")
    var host = "127.0.0.1"

    @OptionGroup var configOptions: ConfigOptions

    @Option(name: [.customLong("source-venue"), .customLong("venue")],
            help: ArgumentHelp("Serve this venue's instruments of the journal under Bybit's API (default: the venue of the first instrument with bars).", valueName: "VENUE"))
    var venue: String?

    @Option(name: .customLong("api-key"), help: "The API key signed requests must carry.")
    var apiKey = SimCredentials.defaultAPIKey

    @Option(name: .customLong("api-secret"), help: "The secret signed requests are verified with (a test secret, never a real one).")
    var apiSecret = SimCredentials.defaultSecret

    @Option(name: .customLong("replay-speed"), help: ArgumentHelp("Replay the data at this speed (3600: an hour a second).", valueName: "X"))
    var replaySpeed: String?

    @Option(name: .customLong("replay-start"), help: ArgumentHelp("Where the replay starts, a UTC date-time.", valueName: "TIME"))
    var replayStart: String?

    @Option(name: .customLong("backtest-config"), help: ArgumentHelp("Fees, slippage, latency, margin and opening cash (default: <config-dir>/backtest.yaml).", valueName: "FILE"))
    var backtestConfig: String?

    @Option(name: .customLong("clock-skew"), help: ArgumentHelp("The venue's clock runs this far ahead (negative: behind), e.g. 30s.", valueName: "DURATION"))
    var clockSkew: String?

    @Option(help: ArgumentHelp("Answer everything 503 from START for LENGTH after the server starts, e.g. 5s:10s.", valueName: "START:LENGTH"))
    var maintenance: String?

    @Option(name: .customLong("storm-length"), help: "Requests answered 10006 in a row by a storm fault.")
    var stormLength = 5

    @Option(help: ArgumentHelp("The simulator's clock, a UTC date-time (default: the last event of the served data).", valueName: "TIME"))
    var now: String?

    @Option(help: "Requests allowed per window per endpoint (X-Bapi-Limit).")
    var limit = 20

    @Option(name: .customLong("limit-window"), help: ArgumentHelp("The rate-limit window, e.g. 1s.", valueName: "DURATION"))
    var limitWindow = "1s"

    @Option(name: .customLong("fault"), help: ArgumentHelp("Inject a fault on every N-th request: 10006:N, 429:N, 5xx:N, slow:N, drop:N.", valueName: "KIND:N"))
    var faults: [String] = []

    @Option(name: .customLong("fault-seed"), help: "Seed of the faults' phases.")
    var faultSeed: UInt64 = 1

    @Option(help: ArgumentHelp("How late a slow answer comes, e.g. 1500ms.", valueName: "DURATION"))
    var slow = "1500ms"

    @Option(name: .customLong("ws-half-spread"), help: ArgumentHelp("Half the spread of the streamed book, a fraction of the close.", valueName: "FRACTION"))
    var wsHalfSpread = "0.0001"

    @Option(name: .customLong("ws-poll"), help: ArgumentHelp("How often the streams look at the venue's clock for news.", valueName: "DURATION"))
    var wsPoll = "50ms"

    @Option(name: .customLong("ws-drop-every"), help: ArgumentHelp("Kill a WebSocket connection after every N-th data message (0: never).", valueName: "N"))
    var wsDropEvery = 0

    @Option(name: .customLong("ws-lose"), help: ArgumentHelp("Lose the K data messages before each --ws-drop-every kill (K < N).", valueName: "K"))
    var wsLose = 0

    @Option(name: .customLong("ws-dup-exec"), help: ArgumentHelp("Send every N-th execution message twice (0: never).", valueName: "N"))
    var wsDupExec = 0

    @Option(name: .customLong("position-mode"), help: ArgumentHelp("The account's USDT perpetual position mode: one-way or hedge.", valueName: "MODE"))
    var positionMode = "one-way"

    @Option(name: .customLong("margin-mode"), help: ArgumentHelp("The account's margin mode: REGULAR_MARGIN, ISOLATED_MARGIN or PORTFOLIO_MARGIN.", valueName: "MODE"))
    var marginMode = "REGULAR_MARGIN"

    @Option(name: .customLong("unified-status"), help: ArgumentHelp("The account's unifiedMarginStatus: 1 classic, 3/4 unified 1.0, 5/6 unified 2.0.", valueName: "N"))
    var unifiedStatus = 5

    func run() async throws {
        try await reportingErrors {
            var options = ExchangeSimOptions(journalPath: journal, host: host, port: port)
            guard (0...65_535).contains(port) else { throw CLIError.badInput("--port must be 0…65535 (got \(port))") }
            guard limit >= 1 else { throw CLIError.badInput("--limit must be at least 1 (got \(limit))") }
            guard let windowMs = ConfigReader.parseDuration(limitWindow), windowMs >= 1 else {
                throw CLIError.badInput("--limit-window expects a duration like 1s or 500ms (got \(limitWindow))")
            }
            guard let slowMs = ConfigReader.parseDuration(slow), slowMs >= 0, slowMs <= 600_000 else {
                throw CLIError.badInput("--slow expects a duration like 1500ms (got \(slow))")
            }
            options.rateLimit = SimRateLimit(limit: limit, windowMs: windowMs)
            var plan = SimFaultPlan(seed: faultSeed, slowMs: Int(slowMs))
            for f in faults {
                guard let parsed = SimFaultPlan.parse(f) else {
                    throw CLIError.badInput("--fault \(f): expected KIND:N with KIND one of \(SimFaultKind.allCases.map(\.rawValue).joined(separator: ", ")) and N ≥ 1")
                }
                plan.faults.append(parsed)
            }
            guard stormLength >= 1 else { throw CLIError.badInput("--storm-length must be at least 1 (got \(stormLength))") }
            plan.stormLength = stormLength
            if let maintenance { plan.maintenance = try Self.window(maintenance) }
            options.faults = plan
            options.stream = try streamOptions()
            guard !apiKey.isEmpty, !apiSecret.isEmpty else { throw CLIError.badInput("--api-key and --api-secret must not be empty") }
            options.credentials = SimCredentials(apiKey: apiKey, secret: apiSecret)
            guard positionMode == "one-way" || positionMode == "hedge" else { throw CLIError.badInput("--position-mode must be one-way or hedge (got \(positionMode))") }
            guard SimAccountMode.marginModes.contains(marginMode) else {
                throw CLIError.badInput("--margin-mode must be one of \(SimAccountMode.marginModes.joined(separator: ", ")) (got \(marginMode))")
            }
            guard [1, 3, 4, 5, 6].contains(unifiedStatus) else { throw CLIError.badInput("--unified-status must be 1, 3, 4, 5 or 6 (got \(unifiedStatus))") }
            options.accountMode = SimAccountMode(hedge: positionMode == "hedge", marginMode: marginMode, unifiedMarginStatus: unifiedStatus)
            if let replaySpeed {
                guard let x = Fixed(replaySpeed), x.isPositive, x <= Fixed(1_000_000_000) else {
                    throw CLIError.badInput("--replay-speed expects a positive number like 3600 (got \(replaySpeed))")
                }
                options.replaySpeed = x
            }
            if let replayStart {
                guard let t = Timestamp(iso8601: replayStart) else { throw CLIError.badInput("--replay-start expects a UTC date-time (got \(replayStart))") }
                options.replayStart = t
            }
            if let clockSkew {
                let negative = clockSkew.hasPrefix("-")
                guard let ms = ConfigReader.parseDuration(negative ? String(clockSkew.dropFirst()) : clockSkew) else {
                    throw CLIError.badInput("--clock-skew expects a duration like 30s or -2s (got \(clockSkew))")
                }
                options.clockSkewMs = negative ? -ms : ms
            }
            let backtest = try loadBacktest()
            options.barIntervalSeconds = UInt32(backtest.barIntervalSeconds)
            if let venue {
                guard let v = Venue(name: venue) else {
                    throw CLIError.badInput("--venue \(venue): unknown venue (\(Venue.allCases.map(\.description).joined(separator: ", ")))")
                }
                options.venue = v
            }
            if let now {
                guard let t = Timestamp(iso8601: now) else { throw CLIError.badInput("--now expects a UTC date-time like 2026-03-19T00:00:00Z (got \(now))") }
                options.now = t
            }
            guard Journal.exists(at: journal) else {
                throw CLIError.badInput("\(journal) is not a market journal (no data.mdb). Create one with `carry import --journal \(journal)` or `carry fetch`.")
            }
            let logger = CLILogging.logger("carry.exchange-sim")
            let stats = try await ExchangeSimServer.run(options: options, defaultAccount: Self.account(backtest), logger: logger) { host, port in
                print("listening on \(host):\(port)")
                fflush(nil)
            }
            print("stats \(stats)")
            fflush(nil)
        }
    }

    /// The WebSocket options from the flags.
    func streamOptions() throws -> SimStreamOptions {
        var o = SimStreamOptions()
        guard let spread = Fixed(wsHalfSpread), !spread.isNegative, spread < Fixed(1) else {
            throw CLIError.badInput("--ws-half-spread expects a fraction in [0, 1) like 0.0001 (got \(wsHalfSpread))")
        }
        guard let pollMs = ConfigReader.parseDuration(wsPoll), pollMs >= 1, pollMs <= 60_000 else {
            throw CLIError.badInput("--ws-poll expects a duration like 50ms (got \(wsPoll))")
        }
        guard wsDropEvery >= 0, wsDupExec >= 0, wsLose >= 0, wsLose == 0 || wsLose < wsDropEvery else {
            throw CLIError.badInput("--ws-drop-every, --ws-dup-exec and --ws-lose must be ≥ 0, and --ws-lose below --ws-drop-every")
        }
        o.halfSpread = spread
        o.pollMs = Int(pollMs)
        o.faults = SimStreamFaults(dropEvery: wsDropEvery, loseBeforeDrop: wsLose, duplicateExecutionEvery: wsDupExec)
        return o
    }

    /// The backtest config whose cost model the account trades with.
    func loadBacktest() throws -> BacktestConfig {
        let path = backtestConfig ?? configOptions.directory + "/backtest.yaml"
        if backtestConfig == nil && !FileManager.default.fileExists(atPath: path) {
            do { return try BacktestConfig.parse(yaml: "{}", source: "defaults") } catch { throw CLIError.badInput(error.description) }
        }
        do { return try BacktestConfig.load(path: path) } catch { throw CLIError.badInput(error.description) }
    }

    /// The account config of a backtest config.
    static func account(_ c: BacktestConfig) -> SimAccountConfig {
        SimAccountConfig(fees: c.fees, slippage: c.slippage, margin: c.margin, latencyMs: c.latencyMs, initialCashUsdt: c.initialCapitalUsdt)
    }

    /// `START:LENGTH` durations.
    static func window(_ text: String) throws -> (startMs: Int64, lengthMs: Int64) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let a = ConfigReader.parseDuration(String(parts[0])), let b = ConfigReader.parseDuration(String(parts[1])), b > 0 else {
            throw CLIError.badInput("--maintenance expects START:LENGTH durations like 5s:10s (got \(text))")
        }
        return (a, b)
    }
}
