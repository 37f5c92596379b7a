// Options of the Bybit-compatible loopback exchange.

public import CarryCore

/// Where and how the loopback exchange listens, what it serves and which faults it injects.
public struct ExchangeSimOptions: Sendable {
    /// The address to bind. Loopback by default: the simulator is a test double, never a
    /// public service.
    public var host: String
    /// The TCP port (0 picks a free one).
    public var port: Int
    /// The market journal it serves.
    public var journalPath: String
    /// The venue whose instruments are served (nil: the first instrument with bars decides).
    public var venue: Venue?
    /// The simulator's clock (nil: the last event time of the served data). It stands still.
    public var now: Timestamp?
    /// The advertised limit per endpoint.
    public var rateLimit = SimRateLimit(limit: 20)
    /// Faults to inject.
    public var faults = SimFaultPlan()
    /// The WebSocket streams: book spread, clock polling, faults, the private feed.
    public var stream = SimStreamOptions()
    /// The test key pair signed requests must use.
    public var credentials = SimCredentials()
    /// The replay clock's speed (venue ms per wall ms); nil: the clock stands still at `now`
    /// and moves only through `POST /sim/advance`.
    public var replaySpeed: Fixed?
    /// Where the replay starts (nil: `now` when given, else the first event of the data).
    public var replayStart: Timestamp?
    /// How the account trades (fees, slippage, latency, margin, opening cash): the backtest
    /// config's model. Nil: the backtest config's defaults.
    public var account: SimAccountConfig?
    /// Bars orders fill on (the backtest's `barInterval`).
    public var barIntervalSeconds: UInt32 = 3600
    /// The venue clock's initial skew (the clock-skew fault), ms.
    public var clockSkewMs: Int64 = 0
    /// The account's settings `GET /v5/account/info` and `/v5/position/list` report (a test
    /// puts the account in the wrong mode with them).
    public var accountMode = SimAccountMode()

    /// Builds options; binds 127.0.0.1 unless told otherwise.
    public init(journalPath: String, host: String = "127.0.0.1", port: Int = 0) {
        self.journalPath = journalPath
        self.host = host
        self.port = port
    }
}

/// An account's settings as Bybit reports them: the position mode of its USDT perpetuals
/// (one-way: one net position per symbol, `positionIdx` 0; hedge: a long and a short side,
/// `positionIdx` 1 and 2), the unified account's margin mode and its upgrade status.
public struct SimAccountMode: Sendable, Equatable {
    /// Hedge mode (Bybit's "both sides", switch-mode `mode` 3); false: one-way (`mode` 0).
    public var hedge = false
    /// `REGULAR_MARGIN` (cross), `ISOLATED_MARGIN` or `PORTFOLIO_MARGIN`.
    public var marginMode = "REGULAR_MARGIN"
    /// 1 classic account, 3/4 unified 1.0 (pro), 5/6 unified 2.0 (pro).
    public var unifiedMarginStatus = 5

    public init(hedge: Bool = false, marginMode: String = "REGULAR_MARGIN", unifiedMarginStatus: Int = 5) {
        self.hedge = hedge
        self.marginMode = marginMode
        self.unifiedMarginStatus = unifiedMarginStatus
    }

    /// The margin modes Bybit's account info reports.
    public static let marginModes = ["REGULAR_MARGIN", "ISOLATED_MARGIN", "PORTFOLIO_MARGIN"]
}
