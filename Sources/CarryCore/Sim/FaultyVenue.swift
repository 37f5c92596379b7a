// A venue that misbehaves on purpose, deterministically: the simulated exchange behind a
// seeded fault schedule. Used by the fault simulation (`carry simulate`) to prove the engine
// against what real venues do: a leg rejected after the other filled, partial fills,
// acknowledgements lost (the order exists, the answer never came), fills reported twice,
// a fill reported after the cancel that raced it, and trades made elsewhere on the account
// (reconciliation drift). Every fault is counted.
//
// Pure: the random source is a SplitMix64 seeded by the caller, drawn in the order commands
// and bars arrive, so a seed replays exactly.

/// How often each fault fires (probabilities per order, per fill or per bar).
public struct FaultRates: Sendable, Equatable {
    /// An opening order is refused (insufficient balance), most often the second leg.
    public var reject: Double
    /// The order is placed but the answer is lost: the executor reports `order.unknown`.
    public var lostAck: Double
    /// Only part of the order executes; the IOC remainder expires.
    public var partial: Double
    /// A fill is reported twice (same execution id).
    public var duplicateFill: Double
    /// The venue reports the order cancelled, and the fill that raced the cancel arrives later.
    public var fillAfterCancel: Double
    /// Per bar: a trade made elsewhere on the account moves a position (found by reconciliation).
    public var drift: Double

    /// Builds fault rates.
    public init(reject: Double = 0.05, lostAck: Double = 0.05, partial: Double = 0.1, duplicateFill: Double = 0.05, fillAfterCancel: Double = 0.03,
                drift: Double = 0.002) {
        self.reject = reject
        self.lostAck = lostAck
        self.partial = partial
        self.duplicateFill = duplicateFill
        self.fillAfterCancel = fillAfterCancel
        self.drift = drift
    }

    /// No faults: the venue behaves.
    public static let none = FaultRates(reject: 0, lostAck: 0, partial: 0, duplicateFill: 0, fillAfterCancel: 0, drift: 0)
}

/// How many of each fault fired.
public struct FaultCounts: Sendable, Equatable {
    public var rejected = 0
    public var lostAcks = 0
    public var partials = 0
    public var duplicateFills = 0
    public var fillsAfterCancel = 0
    public var drifts = 0

    public init() {}

    public static func += (a: inout FaultCounts, b: FaultCounts) {
        a.rejected += b.rejected
        a.lostAcks += b.lostAcks
        a.partials += b.partials
        a.duplicateFills += b.duplicateFills
        a.fillsAfterCancel += b.fillsAfterCancel
        a.drifts += b.drifts
    }

    public var total: Int { rejected + lostAcks + partials + duplicateFills + fillsAfterCancel + drifts }
}

/// The simulated exchange behind a seeded fault schedule.
public struct FaultyVenue: ExecutionVenue, Sendable {
    public private(set) var base: SimulatedExchange
    public let rates: FaultRates
    private var rng: SplitMix64
    public private(set) var counts = FaultCounts()
    /// Submit commands received per intent (the invariant: never more than one).
    public private(set) var sends: [UInt64: Int] = [:]
    /// Orders placed smaller than asked (partial fills): the quantity the engine asked for.
    private var asked: [UInt64: Fixed] = [:]
    /// Of those, the ones whose remainder's expiry was reported.
    private var expiryReported: Set<UInt64> = []
    /// Orders reported cancelled ahead of their fill: the venue says nothing more of their end.
    private var cancelReported: Set<UInt64> = []
    /// Facts held back until a later instant.
    private var held: [VenueFact] = []
    /// Instruments a drift may move (the traded ones).
    public var driftable: [InstrumentId] = []

    /// Wraps a venue with faults drawn from `seed`.
    public init(base: SimulatedExchange, rates: FaultRates, seed: UInt64) {
        self.base = base
        self.rates = rates
        self.rng = SplitMix64(seed: seed)
    }

    public mutating func define(_ d: InstrumentDefined) { base.define(d) }

    public mutating func execute(_ command: OrderCommand, commandSeq: UInt64, at time: Timestamp) -> [VenueFact] {
        guard case .submit(var intent) = command else { return base.execute(command, commandSeq: commandSeq, at: time) }
        sends[commandSeq, default: 0] += 1
        let cause = CausationRef.local(commandSeq)
        if !intent.reduceOnly && rng.chance(rates.reject) {
            counts.rejected += 1
            return [VenueFact(event: .orderRejected(OrderRejected(intentSeq: commandSeq, code: SimRejectCode.insufficientBalance,
                                                                  reason: "injected: insufficient balance")), time: time, causation: cause)]
        }
        if rng.chance(rates.partial), let step = base.instruments[safe: intent.instrumentId.index]??.qtyStep, step.isPositive {
            let part = intent.qty.divided(by: Fixed(2), scale: Int(step.scale) + 2, .towardZero).rounded(toMultipleOf: step, .towardZero)
                .rounded(scale: Int(step.scale), .towardZero)
            if part.isPositive, part < intent.qty, let def = base.instruments[intent.instrumentId.index], part >= def.minQty {
                counts.partials += 1
                asked[commandSeq] = intent.qty
                intent.qty = part
            }
        }
        var facts = base.execute(.submit(intent), commandSeq: commandSeq, at: time)
        if rng.chance(rates.lostAck), facts.contains(where: { $0.event.kind == .orderAccepted }) {
            counts.lostAcks += 1
            facts = facts.map { f in
                guard case .orderAccepted(let a) = f.event else { return f }
                return VenueFact(event: .orderUnknown(OrderUnknown(intentSeq: a.intentSeq, reason: "injected: the answer was lost")), time: f.time, causation: f.causation)
            }
        }
        return facts
    }

    public mutating func onBar(_ bar: BarClosed, barRef: CausationRef) -> [VenueFact] {
        var out: [VenueFact] = []
        for fact in base.onBar(bar, barRef: barRef) {
            if case .orderExpired(let e) = fact.event, cancelReported.contains(e.intentSeq) { continue }
            out += disturb(fact)
        }
        if !driftable.isEmpty, rng.chance(rates.drift) {
            let id = driftable[rng.below(driftable.count)]
            if let step = base.instruments[safe: id.index]??.qtyStep, step.isPositive, id == bar.instrumentId {
                counts.drifts += 1
                base.externalTrade(id, qty: rng.chance(0.5) ? step.multiplied(by: 3) : -step.multiplied(by: 3))
            }
        }
        return out
    }

    /// Rewrites what the base venue reported for a partially placed order, and draws the
    /// fill-level faults.
    private mutating func disturb(_ fact: VenueFact) -> [VenueFact] {
        guard case .orderFilled(var fill) = fact.event, !fill.isLiquidation else { return [fact] }
        var out: [VenueFact] = []
        var expiry: VenueFact?
        if let want = asked[fill.intentSeq] {
            // The engine asked for more than was placed: report leaves against what it asked,
            // and the remainder's expiry once the placed part is done.
            let cum = (base.records[fill.intentSeq]?.cumQty ?? fill.qty)
            fill.leavesQty = want - cum
            if base.records[fill.intentSeq]?.status == .filled, !expiryReported.contains(fill.intentSeq) {
                expiryReported.insert(fill.intentSeq)
                expiry = VenueFact(event: .orderExpired(OrderExpired(intentSeq: fill.intentSeq, remainingQty: want - cum)), time: fact.time, causation: fact.causation)
            }
        }
        let reported = VenueFact(event: .orderFilled(fill), time: fact.time, causation: fact.causation)
        if rng.chance(rates.fillAfterCancel) {
            // The cancel confirmation overtakes the fill; the fill arrives a moment later.
            counts.fillsAfterCancel += 1
            cancelReported.insert(fill.intentSeq)
            expiry = nil
            out.append(VenueFact(event: .orderCancelled(OrderCancelled(intentSeq: fill.intentSeq, remainingQty: fill.qty + fill.leavesQty,
                                                                       reason: "injected: cancel confirmed before the fill")),
                                 time: fact.time, causation: fact.causation))
            held.append(VenueFact(event: reported.event, time: fact.time.adding(ms: 1), causation: fact.causation))
            if rng.chance(rates.duplicateFill) {
                counts.duplicateFills += 1
                held.append(VenueFact(event: reported.event, time: fact.time.adding(ms: 1), causation: fact.causation))
            }
            return out
        }
        out.append(reported)
        if rng.chance(rates.duplicateFill) {
            counts.duplicateFills += 1
            out.append(reported)
        }
        if let expiry { out.append(expiry) }
        return out
    }

    public mutating func onFundingSettled(_ f: FundingSettled, at time: Timestamp, cause: CausationRef) -> [VenueFact] {
        base.onFundingSettled(f, at: time, cause: cause)
    }

    public mutating func due(through time: Timestamp) -> [VenueFact] {
        guard !held.isEmpty else { return [] }
        let ready = held.filter { $0.time <= time }
        held.removeAll { $0.time <= time }
        return ready
    }

    public var holdsFacts: Bool { !held.isEmpty }

    public mutating func query(intentSeq: UInt64, at time: Timestamp) -> [VenueFact] {
        let facts = base.query(intentSeq: intentSeq, at: time)
        guard let want = asked[intentSeq] else { return facts }
        // A partially placed order: leaves against what was asked; done means its remainder expired.
        let cum = base.records[intentSeq]?.cumQty ?? .zero
        return facts.map { f in
            switch f.event {
            case .orderFilled(var fill):
                fill.leavesQty = want - cum
                return VenueFact(event: .orderFilled(fill), time: f.time, causation: f.causation)
            case .orderStatus(var s) where s.status == .filled:
                s.status = .expired
                return VenueFact(event: .orderStatus(s), time: f.time, causation: f.causation)
            default:
                return f
            }
        }
    }

    public func snapshot() -> VenueSnapshot { base.snapshot() }

    /// Facts still held back (delivered at the next instant).
    public var heldCount: Int { held.count }
}

extension Array {
    /// The element at `i`, or nil past the end.
    subscript(safe i: Int) -> Element? { i >= 0 && i < count ? self[i] : nil }
}
