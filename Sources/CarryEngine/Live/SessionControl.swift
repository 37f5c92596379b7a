// The seam between a running session loop and whatever steers or watches it from other
// threads: operator commands in (the kill switch, from `carry kill`, SIGUSR1 or the control
// port), the session's status out (for /health, /metrics, the dashboard). The loop takes the
// pending commands at the start of every step and injects them into the engine (journaled
// before the reducer sees them); it publishes its status after every step; and it waits for
// its next poll on `wait(ms:)`, which a command cuts short, so a command is acted on within
// one step, not one poll interval.

public import CarryCore
import Foundation

/// What a session reports after each step.
public struct SessionStatus: Sendable, Equatable {
    public var mode: RunMode
    public var journalPath: String
    /// The venue time the session has processed through (its cutoff), and the wall time of the step.
    public var venueTime: Timestamp
    public var wallTime: Timestamp
    public var steps: Int
    public var killSwitchEngaged: Bool
    public var halted: Bool
    public var openPairs: Int
    public var equity: Fixed
    public var funding: Fixed
    public var fees: Fixed
    public var slippage: Fixed
    /// Signed position per instrument symbol-and-kind (`BTCUSDT spot`).
    public var positions: [String: Fixed]
    /// Venue requests and failures (retries included), and the last step's journal commit time.
    public var requests: Int
    public var venueErrors: Int
    public var commitMs: Double
    /// Price P&L at the marks (equity = initial + price + funding − fees − slippage).
    public var pricePnL: Fixed
    /// The last settled funding rate per interval of each perpetual seen this run (`BTCUSDT`).
    public var fundingRates: [String: Fixed]
    /// Records journaled by this run of the session.
    public var recordsWritten: Int
    /// The engine after the step: the pre-flight of an operator's trade and the pairs table
    /// (`carry trade`) are computed from it, off the session's thread (a copy without its
    /// order table, `CarryReducer.withoutOrders`: the session goes on with its own).
    public var engine: CarryReducer?
    /// A paper session's venue book (the simulated exchange's positions), for the operator's
    /// check that the venue holds what the engine does; nil for a live session (its venue is
    /// compared by reconciliation, journaled).
    public var venuePositions: [VenuePosition]?
    /// Reconciliations the engine was handed this run (live).
    public var reconciliations: Int

    public init(mode: RunMode, journalPath: String) {
        self.mode = mode
        self.journalPath = journalPath
        venueTime = .distantPast
        wallTime = .distantPast
        steps = 0
        killSwitchEngaged = false
        halted = false
        openPairs = 0
        equity = .zero
        funding = .zero
        fees = .zero
        slippage = .zero
        positions = [:]
        requests = 0
        venueErrors = 0
        commitMs = 0
        pricePnL = .zero
        fundingRates = [:]
        recordsWritten = 0
        engine = nil
        venuePositions = nil
        reconciliations = 0
    }
}

/// Commands in, status out; thread-safe.
public final class SessionControl: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [OperatorCommand] = []
    private var reconcileWanted = false
    private var woken = false
    private var current: SessionStatus
    private var observers: [@Sendable (SessionStatus) -> Void] = []

    public init(status: SessionStatus) { current = status }

    /// Calls `observer` with every status published from now on, on the publishing thread
    /// (the metrics keep histograms of per-step figures this way; keep it quick).
    public func onPublish(_ observer: @escaping @Sendable (SessionStatus) -> Void) {
        condition.lock()
        observers.append(observer)
        condition.unlock()
    }

    /// Queues an operator command for the session's next step and wakes it.
    public func request(_ command: OperatorCommand) {
        condition.lock()
        pending.append(command)
        condition.broadcast()
        condition.unlock()
    }

    /// Asks a live session to read the venue's book at its next step (positions, wallet, open
    /// orders: a `venue.snapshot` the engine reconciles), and wakes it.
    public func requestReconciliation() {
        condition.lock()
        reconcileWanted = true
        condition.broadcast()
        condition.unlock()
    }

    /// Whether a reconciliation was asked for since the last call.
    public func takeReconciliationRequest() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let wanted = reconcileWanted
        reconcileWanted = false
        return wanted
    }

    /// The commands queued since the last call, in order.
    public func takeCommands() -> [OperatorCommand] {
        condition.lock()
        defer { condition.unlock() }
        let taken = pending
        pending.removeAll()
        return taken
    }

    /// Waits up to `ms`, or until a command arrives or `wake()` is called (a wake-up that
    /// came since the last wait ends this one at once).
    public func wait(ms: Int64) {
        condition.lock()
        defer {
            woken = false
            condition.unlock()
        }
        let deadline = Date().addingTimeInterval(Double(ms) / 1000)
        while pending.isEmpty && !reconcileWanted && !woken {
            if !condition.wait(until: deadline) { return }
        }
    }

    /// Ends the session's wait early: news arrived (a stream's fill) that the next step reads.
    public func wake() {
        condition.lock()
        woken = true
        condition.broadcast()
        condition.unlock()
    }

    /// Replaces the published status.
    public func publish(_ status: SessionStatus) {
        condition.lock()
        current = status
        let notify = observers
        condition.unlock()
        for observer in notify { observer(status) }
    }

    /// The last published status.
    public var status: SessionStatus {
        condition.lock()
        defer { condition.unlock() }
        return current
    }
}
