// Options of the Bybit-compatible loopback exchange.

/// Where and how the loopback exchange listens.
public struct ExchangeSimOptions: Sendable {
    /// The address to bind. Loopback by default: the simulator is a test double, never a
    /// public service.
    public var host: String
    /// The TCP port (0 picks a free one).
    public var port: Int
    /// The market journal it serves.
    public var journalPath: String

    /// Builds options; binds 127.0.0.1 unless told otherwise.
    public init(journalPath: String, host: String = "127.0.0.1", port: Int = 0) {
        self.journalPath = journalPath
        self.host = host
        self.port = port
    }
}
