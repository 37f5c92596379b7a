// The executor seam, as the pure core sees a venue: order commands in, venue facts out, and
// the market moving the venue on (fills at bar closes, funding at settlements). The
// simulated exchange implements it for backtests and paper trading, and a fault-injecting
// wrapper (`FaultyVenue`) for the deterministic fault simulation. The live venue gateway
// (CarryEngine) sits behind the asynchronous form of the same contract: commands out, facts
// journaled as they arrive, then fed to the reducer.
//
// Contract: a fact is returned once; facts the venue holds back (an acknowledgement that
// arrives late, a fill reported after its cancel) come out of `due(through:)` when their time
// has come; `query` answers like a status request by client order id: the order's fills
// (the reducer ignores those it has) and then its status.

/// A venue the pipeline can trade on.
public protocol ExecutionVenue: Sendable {
    /// Learns an instrument's rules.
    mutating func define(_ d: InstrumentDefined)
    /// Acts on an order command journaled under `commandSeq`, decided at `time`.
    mutating func execute(_ command: OrderCommand, commandSeq: UInt64, at time: Timestamp) -> [VenueFact]
    /// A bar closed: fills and liquidations it causes.
    mutating func onBar(_ bar: BarClosed, barRef: CausationRef) -> [VenueFact]
    /// A funding settlement: payments on positions held.
    mutating func onFundingSettled(_ f: FundingSettled, at time: Timestamp, cause: CausationRef) -> [VenueFact]
    /// Facts held back whose time is at or before `time`.
    mutating func due(through time: Timestamp) -> [VenueFact]
    /// True when `due` may return something (lets the hot path skip the call).
    var holdsFacts: Bool { get }
    /// The answer to a status query for an intent's order.
    mutating func query(intentSeq: UInt64, at time: Timestamp) -> [VenueFact]
    /// The venue's book, as a reconciliation reads it.
    func snapshot() -> VenueSnapshot
}
