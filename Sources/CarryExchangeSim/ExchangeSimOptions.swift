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
    /// The WebSocket streams: book spread, clock polling, faults, the private key pair.
    public var stream = SimStreamOptions()

    /// Builds options; binds 127.0.0.1 unless told otherwise.
    public init(journalPath: String, host: String = "127.0.0.1", port: Int = 0) {
        self.journalPath = journalPath
        self.host = host
        self.port = port
    }
}
