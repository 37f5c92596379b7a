// The replay pipeline: market events in time order → the simulated exchange and the reducer →
// decisions and venue facts, each given the seq it will be journaled under. The backtest
// driver feeds it from a market journal and writes `output` to the run journal; tests feed it
// directly. Pure: time comes only from the events and the scan ticks it derives from them.
//
// Order within one timestamp t (the boundary rules the funding tests pin):
//   1. instrument definitions;
//   2. bars closing at t — the simulated exchange fills eligible orders at those closes
//      (and checks liquidation) before the reducer sees the bar;
//   3. funding interval changes, then settlements at t — paid on the position held after
//      the fills of step 2 (a position opened exactly at t earns the settlement at t; one
//      closed exactly at t does not);
//   4. the scan tick at t, if one is due — the strategy sees every fact of time ≤ t.
// Ticks fall on multiples of the scan interval since the epoch (UTC-aligned); a tick due
// between two market timestamps is emitted before the later one.
//
// Every decision and venue fact is appended to `output` before anything acts on it, with
// its seq (`nextSeq` at the time), the input's time and its causation, so journaling
// `output` in order reproduces the run byte for byte.

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

/// The reducer and the simulated exchange, wired together under a simulated clock.
public struct ReplayPipeline: Sendable {
    public private(set) var reducer: CarryReducer
    public private(set) var sim: SimulatedExchange
    /// The seq the next output event gets.
    public private(set) var nextSeq: UInt64
    /// Events to journal, in seq order, ending at `nextSeq − 1`.
    public private(set) var output: [PipelineOutput] = []
    public let scanIntervalMs: Int64
    /// The last instant the pipeline trades at (inclusive).
    public let to: Timestamp
    /// When the next scan tick is due.
    public private(set) var nextTick: Timestamp

    /// A pipeline whose first output will be journaled as `firstSeq`, trading from `from`.
    public init(reducer: CarryReducer, sim: SimulatedExchange, firstSeq: UInt64, from: Timestamp, to: Timestamp, scanIntervalMs: Int64) {
        precondition(scanIntervalMs > 0)
        self.reducer = reducer
        self.sim = sim
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
        sim.define(d)
        feed(.instrumentDefined(d), time: time, ref: .none)
    }

    /// Feeds one input to the reducer, records its decisions, sends intents to the simulated
    /// exchange and feeds the resulting venue facts back, until quiet.
    mutating func feed(_ event: Event, time: Timestamp, ref: CausationRef) {
        let decisions = reducer.apply(event, time: time, ref: ref, nextSeq: nextSeq)
        if decisions.isEmpty { return }   // most inputs decide nothing: no queue for them
        actAndFollow(decisions, at: time)
    }

    /// Acts on an input's decisions, then feeds the venue's answers back until quiet.
    private mutating func actAndFollow(_ decisions: [Decision], at time: Timestamp) {
        var queue: [(Event, Timestamp, CausationRef)] = []
        act(on: decisions, at: time, queue: &queue)
        var head = 0
        while head < queue.count {
            let (e, t, r) = queue[head]
            head += 1
            let more = reducer.apply(e, time: t, ref: r, nextSeq: nextSeq)
            if !more.isEmpty { act(on: more, at: t, queue: &queue) }
        }
    }

    /// Records decisions, submits their intents, and queues the venue's answers.
    private mutating func act(on decisions: [Decision], at t: Timestamp, queue: inout [(Event, Timestamp, CausationRef)]) {
        var intents: [(UInt64, OrderIntended)] = []
        for d in decisions {
            let seq = record(d.event, time: t, causation: d.causation)
            if case .orderIntended(let intent) = d.event { intents.append((seq, intent)) }
        }
        for (seq, intent) in intents {
            for fact in sim.submit(intentSeq: seq, intent, at: t) {
                let factSeq = record(fact.event, time: fact.time, causation: fact.causation)
                queue.append((fact.event, fact.time, .local(factSeq)))
            }
        }
    }

    /// Records venue facts and feeds them to the reducer.
    mutating func deliver(_ facts: [VenueFact]) {
        for fact in facts {
            let seq = record(fact.event, time: fact.time, causation: fact.causation)
            feed(fact.event, time: fact.time, ref: .local(seq))
        }
    }

    /// Processes every market event of one timestamp (with their source seqs, each list in
    /// seq order) in the order above; within a kind, in seq order. `trading` is false during
    /// warm-up: no ticks, so no decisions. `afterTick` sees the state right after each scan
    /// tick (for equity sampling). Empties the group.
    public mutating func process(group: inout MarketGroup, at time: Timestamp, trading: Bool,
                                 afterTick: (Timestamp, CarryReducer) -> Void) {
        if trading {
            while nextTick < time && nextTick <= to { tick(afterTick) }
        }
        // 1. definitions; 2. bars: the venue fills at their closes, then the engine sees them;
        // 3. interval changes, settlements (the venue pays funding first); 4. anything else.
        handle(group.others, rank: 0, at: time)
        for item in group.bars {
            let ref = CausationRef.source(item.seq)
            deliver(sim.onBar(item.bar, barRef: ref))
            let decisions = reducer.applyBar(item.bar, time: time, ref: ref, nextSeq: nextSeq)
            if !decisions.isEmpty { actAndFollow(decisions, at: time) }
        }
        for rank in 1...3 { handle(group.others, rank: rank, at: time) }
        group.removeAll()
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

    /// Handles the events of one rank, in seq order.
    private mutating func handle(_ others: [(seq: UInt64, event: Event)], rank: Int, at time: Timestamp) {
        for item in others where Self.rank(item.event) == rank {
            let ref = CausationRef.source(item.seq)
            switch item.event {
            case .instrumentDefined(let d): sim.define(d)
            case .fundingSettled(let f): deliver(sim.onFundingSettled(f, at: time, cause: ref))
            default: break
            }
            feed(item.event, time: time, ref: ref)
        }
    }

    /// Emits the ticks still due through `to` (the end of the run).
    public mutating func finish(afterTick: (Timestamp, CarryReducer) -> Void) {
        while nextTick <= to { tick(afterTick) }
    }

    private mutating func tick(_ afterTick: (Timestamp, CarryReducer) -> Void) {
        let time = nextTick
        let seq = record(.clockTicked(ClockTicked(purpose: .scan)), time: time, causation: .none)
        feed(.clockTicked(ClockTicked(purpose: .scan)), time: time, ref: .local(seq))
        afterTick(time, reducer)
        nextTick = nextTick.adding(ms: scanIntervalMs)
    }
}
