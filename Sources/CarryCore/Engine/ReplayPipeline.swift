// The replay pipeline: market events in time order → the venue (an `ExecutionVenue`: the
// simulated exchange, or a fault-injecting wrapper around it) and the reducer → decisions
// and venue facts, each given the seq it will be journaled under. The backtest driver feeds
// it from a market journal and writes `output` to the run journal; paper trading and the
// fault simulation drive it the same way. Pure: time comes only from the events and the
// scan ticks it derives from them.
//
// Order within one timestamp t (the boundary rules the funding tests pin):
//   0. facts the venue held back that are due by t (late acknowledgements, late fills), and
//      status queries for orders whose outcome is unknown;
//   1. instrument definitions;
//   2. bars closing at t — the venue fills eligible orders at those closes (and checks
//      liquidation) before the reducer sees the bar;
//   3. funding interval changes, then settlements at t — paid on the position held after
//      the fills of step 2 (a position opened exactly at t earns the settlement at t; one
//      closed exactly at t does not);
//   4. the scan tick at t, if one is due — the strategy sees every fact of time ≤ t.
// Ticks fall on multiples of the scan interval since the epoch (UTC-aligned); a tick due
// between two market timestamps is emitted before the later one.
//
// Journal order (what makes a fold of the journal reproduce the run, `Recovery`): every
// input is fed to the reducer the moment it is recorded, and its decisions are recorded
// right after it; then the executor acts on those decisions' order commands, and each fact
// the venue answers is recorded, fed, and acted on the same way, depth first. So the
// decisions of an input always follow it contiguously.

/// One event for the run journal.
public struct PipelineOutput: Sendable, Equatable {
    public var event: Event
    public var time: Timestamp
    public var causation: CausationRef
}

/// The market events of one instant: bars apart (the bulk, kept out of the `Event` enum on
/// the hot path) and everything else.
public struct MarketGroup: Sendable {
    public var bars: [(seq: UInt64, bar: BarClosed)] = []
    public var others: [(seq: UInt64, event: Event)] = []

    public init() {}

    public var isEmpty: Bool { bars.isEmpty && others.isEmpty }

    /// Adds an event (bars go to `bars`).
    public mutating func append(seq: UInt64, _ event: Event) {
        if case .barClosed(let b) = event { bars.append((seq, b)) } else { others.append((seq, event)) }
    }

    public mutating func removeAll() {
        bars.removeAll(keepingCapacity: true)
        others.removeAll(keepingCapacity: true)
    }
}

/// What a bar sets when the engine is idle on its instrument: its mark (24 bytes, where the
/// whole bar is 152), and where a sweep's tape keeps the whole bar.
public struct BarMark: Sendable, Equatable {
    public var instrument: UInt32
    public var intervalSeconds: UInt32
    public var close: Fixed
    /// The bar's place in its instrument's arrays (a sweep's `PlanTape.bars`).
    public var row: UInt32

    public init(_ bar: BarClosed, row: Int) {
        instrument = bar.instrumentId.rawValue
        intervalSeconds = bar.intervalSeconds
        close = bar.close
        self.row = UInt32(row)
    }
}

/// The reducer and a venue, wired together under a simulated clock.
public struct ReplayPipeline<Venue: ExecutionVenue>: Sendable {
    public private(set) var reducer: CarryReducer
    public private(set) var venue: Venue
    /// The seq the next output event gets.
    public private(set) var nextSeq: UInt64
    /// Events to journal, in seq order, ending at `nextSeq − 1`.
    public private(set) var output: [PipelineOutput] = []
    public let scanIntervalMs: Int64
    /// The last instant the pipeline trades at (inclusive).
    public let to: Timestamp
    /// When the next scan tick is due.
    public private(set) var nextTick: Timestamp
    /// Journal market inputs too, before feeding them (paper, live and the fault simulation:
    /// one journal then holds everything a restart folds). A backtest leaves them in the
    /// market journal and refers to them there (`src:` causation).
    public var journalsMarketInputs = false

    /// A pipeline whose first output will be journaled as `firstSeq`, trading from `from`.
    public init(reducer: CarryReducer, venue: Venue, firstSeq: UInt64, from: Timestamp, to: Timestamp, scanIntervalMs: Int64) {
        precondition(scanIntervalMs > 0)
        self.reducer = reducer
        self.venue = venue
        self.nextSeq = firstSeq
        self.to = to
        self.scanIntervalMs = scanIntervalMs
        nextTick = Timestamp(ms: (from.ms + scanIntervalMs - 1) / scanIntervalMs * scanIntervalMs)
    }

    /// Hands over the output accumulated so far.
    public mutating func takeOutput() -> [PipelineOutput] {
        defer { output.removeAll(keepingCapacity: true) }
        return output
    }

    /// Appends an event to the output; returns its seq.
    @discardableResult
    public mutating func record(_ event: Event, time: Timestamp, causation: CausationRef) -> UInt64 {
        output.append(PipelineOutput(event: event, time: time, causation: causation))
        nextSeq += 1
        return nextSeq - 1
    }

    /// Records and applies an instrument definition (the run's header).
    public mutating func define(_ d: InstrumentDefined, at time: Timestamp) {
        record(.instrumentDefined(d), time: time, causation: .none)
        venue.define(d)
        feed(.market(.defined(d)), time: time, ref: .none)
    }

    /// Feeds one input to the reducer, records its decisions, and acts on them.
    mutating func feed(_ input: EngineInput, time: Timestamp, ref: CausationRef) {
        let decisions = reducer.apply(input, time: time, ref: ref, nextSeq: nextSeq)
        if decisions.isEmpty { return }   // most inputs decide nothing
        act(on: decisions, at: time)
    }

    /// Records decisions, then hands their order commands to the venue; each fact it answers
    /// is delivered (recorded, fed, acted on) before the next command goes out.
    private mutating func act(on decisions: [Decision], at t: Timestamp) {
        var commands: [(UInt64, OrderCommand)] = []
        for d in decisions {
            let seq = record(d.event, time: t, causation: d.causation)
            if let c = d.output.orderCommand { commands.append((seq, c)) }
        }
        for (seq, command) in commands { send(command, commandSeq: seq, at: t) }
    }

    /// The executor: an order is journaled as submitted (and the engine told) before it goes
    /// to the venue — write-ahead, so after a crash an order without that record was never
    /// sent, and one with it is resolved by a query, never sent again. Then the venue's
    /// answers are delivered.
    private mutating func send(_ command: OrderCommand, commandSeq seq: UInt64, at t: Timestamp) {
        if case .submit = command {
            deliver([VenueFact(event: .orderSubmitted(OrderSubmitted(intentSeq: seq)), time: t, causation: .local(seq))])
        }
        deliver(Self.interpret(venue.execute(command, commandSeq: seq, at: t)))
    }

    /// What the executor makes of a venue's answer: a refusal for a duplicate client order id
    /// means the order exists (an earlier send reached the venue), so its outcome is unknown —
    /// to be resolved by a query, never by another send.
    public static func interpret(_ facts: [VenueFact]) -> [VenueFact] {
        facts.map { fact in
            guard case .orderRejected(let r) = fact.event,
                  r.code == SimRejectCode.duplicateClientId || r.code == SimRejectCode.duplicateClientIdSpot else { return fact }
            return VenueFact(event: .orderUnknown(OrderUnknown(intentSeq: r.intentSeq, reason: "the venue already has this client order id")),
                             time: fact.time, causation: fact.causation)
        }
    }

    /// Records venue facts and feeds each to the reducer as it is recorded.
    public mutating func deliver(_ facts: [VenueFact]) {
        for fact in facts {
            let seq = record(fact.event, time: fact.time, causation: fact.causation)
            guard let input = EngineInput(fact.event) else { continue }
            feed(input, time: fact.time, ref: .local(seq))
        }
    }

    /// Records and applies an input from outside the market stream (an operator command, a
    /// reconciliation snapshot, a heartbeat), at `time`.
    public mutating func inject(_ input: EngineInput, at time: Timestamp) {
        let seq = record(input.event, time: time, causation: .none)
        feed(input, time: time, ref: .local(seq))
    }

    /// Facts the venue held back that are due by `time`, and answers to status queries for
    /// orders whose outcome is unknown.
    public mutating func settleVenue(through time: Timestamp) {
        let due = venue.due(through: time)
        if !due.isEmpty { deliver(due) }
        guard reducer.unknownCount > 0 else { return }
        for order in reducer.unknownOrders { deliver(venue.query(intentSeq: order.intentSeq, at: time)) }
    }

    /// Processes every market event of one timestamp (with their source seqs, each list in
    /// seq order) in the order above; within a kind, in seq order. `trading` is false during
    /// warm-up: no ticks, so no decisions. `afterTick` sees the state right after each scan
    /// tick (for equity sampling). Empties the group.
    ///
    /// Exactly `begin`, the definitions, `bar` for each bar, then `end` — which a caller whose
    /// instants hold no definitions (the backtest driver) calls itself, handing each bar over
    /// as it is decoded instead of collecting the instant first.
    public mutating func process(group: inout MarketGroup, at time: Timestamp, trading: Bool,
                                 afterTick: (Timestamp, borrowing CarryReducer) -> Void) {
        openInstant(time, trading: trading, afterTick: afterTick)
        // 1. definitions; 2. bars: the venue fills at their closes, then the engine sees them;
        // 3. interval changes, settlements (the venue pays funding first); 4. anything else.
        handle(group.others, rank: 0, at: time)
        group.bars.withUnsafeBufferPointer { bars in
            for i in bars.indices { applyBar(bars[i].bar, seq: bars[i].seq, at: time) }
        }
        closeInstant(time, others: group.others, trading: trading, afterTick: afterTick)
        group.removeAll()
    }

    /// Opens instant `time` (step 0 above): the scan ticks due before it, then the facts the
    /// venue held back that are due by it.
    public mutating func begin(instant time: Timestamp, trading: Bool, afterTick: (Timestamp, borrowing CarryReducer) -> Void) {
        openInstant(time, trading: trading, afterTick: afterTick)
    }

    /// One bar of the open instant (step 2: after its definitions, before its other events;
    /// bars in seq order). `seq` is its seq in the source journal.
    public mutating func bar(_ bar: BarClosed, seq: UInt64, at time: Timestamp) {
        applyBar(bar, seq: seq, at: time)
    }

    /// Closes instant `time` (steps 3 and 4) for an instant whose other events are interval
    /// changes and settlements only, handed over typed (the backtest's case), then the scan
    /// tick at `time` if one is due.
    public mutating func end(instant time: Timestamp, intervalChanges: [(seq: UInt64, change: FundingIntervalChanged)],
                             settlements: [(seq: UInt64, settlement: FundingSettled)], trading: Bool,
                             afterTick: (Timestamp, borrowing CarryReducer) -> Void) {
        closeInstant(time, intervalChanges: intervalChanges, settlements: settlements, trading: trading, afterTick: afterTick)
    }

    mutating func openInstant(_ time: Timestamp, trading: Bool, afterTick: (Timestamp, borrowing CarryReducer) -> Void) {
        if trading {
            while nextTick < time && nextTick <= to { tick(afterTick) }
        }
        if venue.holdsFacts || reducer.unknownCount > 0 { settleVenue(through: time) }
    }

    mutating func applyBar(_ bar: BarClosed, seq: UInt64, at time: Timestamp) {
        // Journaling inputs, the venue's facts of this bar go first (the order the reducer
        // sees them in, which a fold repeats); a backtest points them at the source bar.
        let facts = venue.onBar(bar, barRef: journalsMarketInputs ? .none : .source(seq))
        if !facts.isEmpty { deliver(facts) }
        let ref = journalsMarketInputs ? recordBar(bar, at: time) : CausationRef.source(seq)
        let decisions = reducer.applyBar(bar, time: time, ref: ref, nextSeq: nextSeq)
        if !decisions.isEmpty { act(on: decisions, at: time) }
    }

    /// Journals a bar as an input; returns its reference. (Out of line: building the `Event`
    /// inline made every bar copy itself on entry, journaled or not.)
    @inline(never)
    private mutating func recordBar(_ bar: BarClosed, at time: Timestamp) -> CausationRef {
        .local(record(.barClosed(bar), time: time, causation: .none))
    }

    mutating func closeInstant(_ time: Timestamp, others: [(seq: UInt64, event: Event)], trading: Bool,
                               afterTick: (Timestamp, borrowing CarryReducer) -> Void) {
        if !others.isEmpty {
            for rank in 1...3 { handle(others, rank: rank, at: time) }
        }
        if trading && nextTick == time && nextTick <= to { tick(afterTick) }
    }

    /// A funding interval change (step 3): `handle` for that event.
    private mutating func changeInterval(_ c: FundingIntervalChanged, seq: UInt64, at time: Timestamp) {
        let ref = journalsMarketInputs ? .local(record(.fundingIntervalChanged(c), time: time, causation: .none)) : CausationRef.source(seq)
        feed(.market(.fundingInterval(c)), time: time, ref: ref)
    }

    /// A settlement (step 3): the venue pays funding on the position held, then the engine
    /// sees it — `handle` for that event.
    private mutating func settle(_ f: FundingSettled, seq: UInt64, at time: Timestamp) {
        deliver(venue.onFundingSettled(f, at: time, cause: journalsMarketInputs ? .none : .source(seq)))
        let ref = journalsMarketInputs ? .local(record(.fundingSettled(f), time: time, causation: .none)) : CausationRef.source(seq)
        feed(.market(.fundingSettled(f)), time: time, ref: ref)
    }

    /// Closes an instant whose other events are only interval changes and settlements, given
    /// typed (each list in seq order): `closeInstant` without an `Event` per record.
    mutating func closeInstant(_ time: Timestamp, intervalChanges: [(seq: UInt64, change: FundingIntervalChanged)],
                               settlements: [(seq: UInt64, settlement: FundingSettled)], trading: Bool,
                               afterTick: (Timestamp, borrowing CarryReducer) -> Void) {
        for item in intervalChanges { changeInterval(item.change, seq: item.seq, at: time) }
        for item in settlements { settle(item.settlement, seq: item.seq, at: time) }
        if trading && nextTick == time && nextTick <= to { tick(afterTick) }
    }

    /// The place of a non-bar event within its instant (bars come between 0 and 1).
    private static func rank(_ e: Event) -> Int {
        switch e {
        case .instrumentDefined: return 0
        case .fundingIntervalChanged: return 1
        case .fundingSettled: return 2
        default: return 3
        }
    }

    /// Handles the events of one rank, in seq order. The events are read in place (an `Event`
    /// is large: copying each out for every rank cost more than handling it).
    private mutating func handle(_ others: [(seq: UInt64, event: Event)], rank: Int, at time: Timestamp) {
        others.withUnsafeBufferPointer { items in
            for i in items.indices where Self.rank(items[i].event) == rank {
                let seq = items[i].seq
                // The input is `EngineInput(event)`, built from the payload at hand.
                let input: EngineInput?
                switch items[i].event {
                case .instrumentDefined(let d):
                    venue.define(d)
                    input = .market(.defined(d))
                case .fundingSettled(let f):
                    settle(f, seq: seq, at: time)
                    continue
                case .fundingIntervalChanged(let c):
                    changeInterval(c, seq: seq, at: time)
                    continue
                default:
                    input = EngineInput(items[i].event)
                }
                let ref = journalsMarketInputs ? .local(record(items[i].event, time: time, causation: .none)) : CausationRef.source(seq)
                guard let input else { continue }
                feed(input, time: time, ref: ref)
            }
        }
    }

    /// Emits the ticks still due through `to` (the end of the run).
    public mutating func finish(afterTick: (Timestamp, borrowing CarryReducer) -> Void) {
        while nextTick <= to { tick(afterTick) }
    }

    /// Emits the ticks due through `time` (a live or paper session, once every market event of
    /// time ≤ `time` has been processed: the scan at t sees every fact of time ≤ t, as in a
    /// backtest).
    public mutating func tick(through time: Timestamp, afterTick: (Timestamp, borrowing CarryReducer) -> Void) {
        while nextTick <= time && nextTick <= to { tick(afterTick) }
    }

    private mutating func tick(_ afterTick: (Timestamp, borrowing CarryReducer) -> Void) {
        let time = nextTick
        if venue.holdsFacts || reducer.unknownCount > 0 { settleVenue(through: time) }
        let seq = record(.clockTicked(ClockTicked(purpose: .scan)), time: time, causation: .none)
        feed(.clock(ClockTicked(purpose: .scan)), time: time, ref: .local(seq))
        afterTick(time, reducer)
        nextTick = nextTick.adding(ms: scanIntervalMs)
    }

    /// A restart: the reducer rebuilt from the journal, whose next record will be `nextSeq`
    /// (records after the crash point were never journaled). Nothing is resent here; see
    /// `resolveInFlight`.
    public mutating func restart(with reducer: CarryReducer, nextSeq: UInt64) {
        self.reducer = reducer
        self.nextSeq = nextSeq
        output.removeAll()
    }

    /// After a restart, at `time`: intents journaled but never handed to the venue are sent
    /// (their client order ids make a duplicate impossible), and every order sent whose end
    /// the journal does not show is queried (its fills, then its status).
    public mutating func resolveInFlight(at time: Timestamp) {
        // Handed to the venue before the crash with no answer since: the outcome is unknown
        // (a query's "not found" then means it was never placed). Taken before the unsent
        // intents go out, so an asynchronous venue's fresh sends (no answer yet) are not among them.
        let unanswered = reducer.workingOrders.filter { $0.state == .submitted }
        for order in reducer.unsentOrders { send(.submit(order.intent), commandSeq: order.intentSeq, at: time) }
        for order in unanswered where reducer.orders[order.intentSeq]?.state == .submitted {
            deliver([VenueFact(event: .orderUnknown(OrderUnknown(intentSeq: order.intentSeq, reason: "restarted before the venue answered")),
                               time: time, causation: .local(order.intentSeq))])
        }
        for order in reducer.workingOrders { deliver(venue.query(intentSeq: order.intentSeq, at: time)) }
    }

    /// The venue itself, for a driver whose venue answers asynchronously (the live outbox):
    /// it takes the commands the pipeline queued there and hands over the facts that arrived.
    /// Facts go to the reducer only through `deliver` or the instant's processing.
    public mutating func withVenue<R>(_ body: (inout Venue) throws -> R) rethrows -> R { try body(&venue) }
}

// The backtest's pipeline, compiled for the simulated exchange. A generic method called from
// another module (the backtest driver) runs unspecialized — the venue behind witness tables,
// the pipeline's layout read from metadata, on every bar. These overloads are chosen for
// `ReplayPipeline<SimulatedExchange>` and run the same implementations, specialized here.
extension ReplayPipeline where Venue == SimulatedExchange {
    /// `begin(instant:trading:afterTick:)`, specialized.
    public mutating func begin(instant time: Timestamp, trading: Bool, afterTick: (Timestamp, borrowing CarryReducer) -> Void) {
        openInstant(time, trading: trading, afterTick: afterTick)
    }

    /// `bar(_:seq:at:)`, specialized.
    public mutating func bar(_ bar: BarClosed, seq: UInt64, at time: Timestamp) {
        applyBar(bar, seq: seq, at: time)
    }

    /// Bars of the open instant (in seq order) given by their marks: applies them from the
    /// first while each can change nothing but the marks — the venue holds nothing and waits
    /// on nothing on its instrument, the engine's pair there is flat, its strategy reads no
    /// bars and no leg risk is metered — exactly as `bar(_:seq:at:)` would apply them, and
    /// returns how many it applied; the next one must go whole through `bar(_:seq:at:)`
    /// (which may change what is idle, so the caller comes back after it). A sweep's
    /// configs are flat on most instruments most of the time: their bars cost a mark each.
    public mutating func applyIdleMarks(_ marks: UnsafeBufferPointer<BarMark>, at time: Timestamp) -> Int {
        guard !journalsMarketInputs, reducer.barsMayOnlyMark(at: time) else { return 0 }
        var n = 0
        while n < marks.count {
            let m = marks[n]
            let i = Int(m.instrument)
            guard reducer.isIdle(i), venue.isIdle(i) else { break }
            venue.markOnly(i, close: m.close)
            reducer.markOnly(i, intervalSeconds: m.intervalSeconds, close: m.close, at: time)
            n += 1
        }
        return n
    }

    /// `end(instant:intervalChanges:settlements:trading:afterTick:)`, specialized.
    public mutating func end(instant time: Timestamp, intervalChanges: [(seq: UInt64, change: FundingIntervalChanged)],
                             settlements: [(seq: UInt64, settlement: FundingSettled)], trading: Bool,
                             afterTick: (Timestamp, borrowing CarryReducer) -> Void) {
        closeInstant(time, intervalChanges: intervalChanges, settlements: settlements, trading: trading, afterTick: afterTick)
    }

    /// `finish(afterTick:)`, specialized.
    public mutating func finish(afterTick: (Timestamp, borrowing CarryReducer) -> Void) {
        while nextTick <= to { tick(afterTick) }
    }
}
