// The replay clock: the loopback venue's time advancing through a market journal's history.
//
// `SimReplayClock` maps wall-clock time to venue time (start + elapsed × speed) and is pure,
// so tests drive it on virtual time. `SimReplay` delivers the journal's events to the account
// as venue time passes them: every bar at its close (orders fill, positions liquidate), every
// settlement at its time (open perpetual positions pay or receive funding, written to the
// transaction log), bars of an instant before its settlements — the backtest pipeline's
// order, so a position filled exactly at a settlement earns it. Then `SimMarketData.now`
// moves, so public endpoints answer at the replayed time.
//
// Invariants: time never goes back; each event is delivered exactly once.

public import CarryCore
import Synchronization

/// Venue time as a function of wall time: `start + elapsed × speed` (speed 0: standing still).
public struct SimReplayClock: Sendable, Equatable {
    /// Venue time at wall-clock origin.
    public var start: Timestamp
    /// Venue milliseconds per wall millisecond (3600: an hour a second).
    public var speed: Fixed

    public init(start: Timestamp, speed: Fixed) {
        precondition(!speed.isNegative, "a replay cannot run backwards")
        self.start = start
        self.speed = speed
    }

    /// The venue's time `wallElapsedMs` after the origin.
    public func venueTime(wallElapsedMs: Int64) -> Timestamp {
        start.adding(ms: Fixed(wallElapsedMs).multiplied(by: speed, scale: 0, .down).mantissa)
    }
}

/// Delivers a market's history to an account as venue time advances.
public final class SimReplay: Sendable {
    enum Kind: Int, Comparable {
        case bar = 0
        case settlement = 1
        static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
    }

    struct Item {
        var time: Timestamp
        var kind: Kind
        var instrument: Int
        var index: Int
    }

    public let market: SimMarketData
    public let account: SimAccount
    private let items: [Item]
    private let barInterval: [UInt32?]
    private let cursor = Mutex(0)

    /// Counts of what has been delivered.
    public struct Progress: Sendable, Equatable {
        public var bars = 0
        public var settlements = 0
    }
    private let progress = Mutex(Progress())

    /// A replay of `market` into `account`, filling on bars of `barIntervalSeconds` where an
    /// instrument has them (else its finest bars). Everything up to `market.now` is
    /// delivered at once (prices are known before the first order).
    public init(market: SimMarketData, account: SimAccount, barIntervalSeconds: UInt32) {
        self.market = market
        self.account = account
        var intervals: [UInt32?] = []
        var items: [Item] = []
        for (i, inst) in market.instruments.enumerated() {
            let interval = inst.bars[barIntervalSeconds] != nil ? barIntervalSeconds : market.finestInterval(inst)
            intervals.append(interval)
            if let interval, let bars = inst.bars[interval] {
                for (j, b) in bars.enumerated() { items.append(Item(time: b.closeTime, kind: .bar, instrument: i, index: j)) }
            }
            if inst.definition.kind.isPerpetual {
                for (j, f) in inst.funding.enumerated() { items.append(Item(time: f.time, kind: .settlement, instrument: i, index: j)) }
            }
        }
        items.sort { ($0.time, $0.kind, $0.instrument, $0.index) < ($1.time, $1.kind, $1.instrument, $1.index) }
        self.items = items
        barInterval = intervals
        advance(to: market.now)
    }

    /// What has been delivered so far.
    public var delivered: Progress { progress.withLock { $0 } }

    /// The time of the last event of the history (the replay has nothing after it).
    public var lastEventTime: Timestamp? { items.last?.time }

    /// Delivers every event with time ≤ `time` not yet delivered, then moves the market's
    /// clock to `time`. Earlier times than the clock's are ignored.
    public func advance(to time: Timestamp) {
        cursor.withLock { c in
            while c < items.count && items[c].time <= time {
                deliver(items[c])
                c += 1
            }
            market.advance(to: time)
        }
    }

    private func deliver(_ item: Item) {
        let inst = market.instruments[item.instrument]
        switch item.kind {
        case .bar:
            account.onBar(inst.bars[barInterval[item.instrument]!]![item.index])
            progress.withLock { $0.bars += 1 }
        case .settlement:
            let f = inst.funding[item.index]
            account.onFundingSettled(f.settled, at: f.time)
            progress.withLock { $0.settlements += 1 }
        }
    }
}
