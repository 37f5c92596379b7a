// Projections: the book folded from a journal. Given the venue facts of a run journal (fills,
// funding payments, order outcomes, the intents that name each order's pair) and the market's
// bars for marks, `BookProjection` rebuilds positions per leg and per spot+perp pair, cash and
// posted margin, and P&L split into funding, fees, slippage and price P&L — realized for
// pairs that have closed, unrealized for pairs still open.
//
// It is a pure fold: the same events in the same order give the same state, so rebuilding
// from seq 1 reproduces what the engine held (the backtest checks this on every run, and the
// tests prove it). It shares `Portfolio` with the reducer, so the accounting identity
//   equity = initial + price P&L + funding − fees − slippage
// holds here to the unit as well, and the pair breakdown sums to the portfolio totals.

/// One spot+perp pair's life and P&L, keyed by its opening signal's seq.
public struct PairBook: Sendable, Equatable {
    /// The seq of the signal that opened the pair.
    public var pairId: UInt64
    public var spot: InstrumentId?
    public var perp: InstrumentId?
    /// Time of the first and the last fill of the pair.
    public var firstFill: Timestamp?
    public var lastFill: Timestamp?
    /// Signed position per leg.
    public var spotQty: Fixed = .zero
    public var perpQty: Fixed = .zero
    /// Σ round8(dq × reference price) per leg (see `Portfolio`).
    public var spotReferenceCost: Fixed = .zero
    public var perpReferenceCost: Fixed = .zero
    public var funding: Fixed = .zero
    public var fees: Fixed = .zero
    public var slippage: Fixed = .zero
    public var fills = 0
    public var liquidated = false
    /// Orders of this pair not yet finished.
    public var pendingOrders = 0

    /// True while the pair holds a position or has orders in flight.
    public var isActive: Bool { pendingOrders > 0 || !spotQty.isZero || !perpQty.isZero }

    /// Price P&L at the marks: position value less reference cost, both legs.
    public func pricePnL(marks: (InstrumentId) -> Fixed?) -> Fixed {
        var total = -(spotReferenceCost + perpReferenceCost)
        if let s = spot, !spotQty.isZero, let m = marks(s) { total += spotQty.multiplied(by: m, scale: quoteScale, .toNearestOrEven) }
        if let p = perp, !perpQty.isZero, let m = marks(p) { total += perpQty.multiplied(by: m, scale: quoteScale, .toNearestOrEven) }
        return total
    }

    /// Net P&L at the marks.
    public func net(marks: (InstrumentId) -> Fixed?) -> Fixed { pricePnL(marks: marks) + funding - fees - slippage }
}

/// Realized (closed pairs) and unrealized (open pairs) P&L, each split by source.
public struct PnLSplit: Sendable, Equatable {
    public var pricePnL: Fixed = .zero
    public var funding: Fixed = .zero
    public var fees: Fixed = .zero
    public var slippage: Fixed = .zero
    /// Price P&L + funding − fees − slippage.
    public var net: Fixed { pricePnL + funding - fees - slippage }
}

/// The book folded from journal events.
public struct BookProjection: Sendable, Equatable {
    /// Bars of this interval set the marks (the engine's pricing interval).
    public let barIntervalSeconds: UInt32
    public let margin: MarginModel
    public private(set) var portfolio: Portfolio
    public private(set) var instruments: [InstrumentDefined?] = []
    private var marks: [Fixed?] = []
    /// Pairs by id, in the order they opened.
    public private(set) var pairs: [PairBook] = []
    private var pairIndex: [UInt64: Int] = [:]
    /// The active pair of each instrument (index into `pairs`), for facts that name only the
    /// instrument (funding, liquidation).
    private var activePairOf: [InstrumentId: Int] = [:]
    /// Orders in flight: intent seq → (pair index, instrument).
    private var orders: [UInt64: OpenOrder] = [:]
    private struct OpenOrder: Sendable, Equatable {
        var pair: Int
        var instrument: InstrumentId
    }
    /// Time of the last event applied.
    public private(set) var now: Timestamp = .distantPast

    /// An empty book.
    public init(initialCash: Fixed, barIntervalSeconds: UInt32, margin: MarginModel) {
        portfolio = Portfolio(initialCash: initialCash)
        self.barIntervalSeconds = barIntervalSeconds
        self.margin = margin
    }

    /// The last close of an instrument.
    public func mark(_ id: InstrumentId) -> Fixed? { id.index < marks.count ? marks[id.index] : nil }

    /// Cash plus every position at its mark.
    public var equity: Fixed { portfolio.equity(marks: { mark($0) }) }

    /// Pairs holding a position or with orders in flight.
    public var activePairCount: Int { pairs.reduce(0) { $0 + ($1.isActive ? 1 : 0) } }

    /// Initial margin posted for the perp positions: Σ |q| × entry / leverage.
    public var postedMargin: Fixed {
        var total = Fixed.zero
        for i in portfolio.qty.indices where !portfolio.qty[i].isZero {
            guard let entry = portfolio.entryPrice[i] else { continue }
            total += portfolio.qty[i].magnitude.multiplied(by: entry, scale: quoteScale, .up).divided(by: margin.perpLeverage, scale: quoteScale, .up)
        }
        return total
    }

    /// P&L of closed pairs (realized) and of pairs still active (unrealized, at the marks).
    public var pnl: (realized: PnLSplit, unrealized: PnLSplit) {
        var realized = PnLSplit(), unrealized = PnLSplit()
        for p in pairs {
            let price = p.pricePnL(marks: { mark($0) })
            if p.isActive {
                unrealized.pricePnL += price; unrealized.funding += p.funding; unrealized.fees += p.fees; unrealized.slippage += p.slippage
            } else {
                realized.pricePnL += price; realized.funding += p.funding; realized.fees += p.fees; realized.slippage += p.slippage
            }
        }
        return (realized, unrealized)
    }

    private mutating func grow(to id: InstrumentId) {
        while instruments.count <= id.index {
            instruments.append(nil)
            marks.append(nil)
        }
    }

    /// Folds one event (from the run journal, or a bar / definition of the source market).
    public mutating func apply(_ event: Event, time: Timestamp, seq: UInt64) {
        if time > now { now = time }
        switch event {
        case .instrumentDefined(let d):
            grow(to: d.id)
            instruments[d.id.index] = d
        case .barClosed(let bar):
            guard bar.intervalSeconds == barIntervalSeconds else { return }
            grow(to: bar.instrumentId)
            marks[bar.instrumentId.index] = bar.close
        case .orderIntended(let intent):
            let k: Int
            if let existing = pairIndex[intent.pairId] {
                k = existing
            } else {
                k = pairs.count
                pairIndex[intent.pairId] = k
                pairs.append(PairBook(pairId: intent.pairId))
            }
            if intent.leg == .spot { pairs[k].spot = intent.instrumentId } else { pairs[k].perp = intent.instrumentId }
            pairs[k].pendingOrders += 1
            orders[seq] = OpenOrder(pair: k, instrument: intent.instrumentId)
            activePairOf[intent.instrumentId] = k
        case .orderRejected(let r):
            finish(r.intentSeq)
        case .orderCancelled(let c):
            finish(c.intentSeq)
        case .orderFilled(let fill):
            let isPerp = fill.instrumentId.index < instruments.count && instruments[fill.instrumentId.index]?.kind.isPerpetual == true
            portfolio.apply(fill, isPerp: isPerp)
            let k = orders[fill.intentSeq]?.pair ?? activePairOf[fill.instrumentId]
            if let k { book(fill, isPerp: isPerp, into: k, time: time) }
            if fill.leavesQty.isZero { finish(fill.intentSeq) }
        case .fundingPaid(let payment):
            portfolio.apply(payment)
            if let k = activePairOf[payment.instrumentId] { pairs[k].funding += payment.amount }
        default:
            break
        }
    }

    private mutating func finish(_ intentSeq: UInt64) {
        guard let o = orders.removeValue(forKey: intentSeq) else { return }
        pairs[o.pair].pendingOrders -= 1
    }

    private mutating func book(_ fill: OrderFilled, isPerp: Bool, into k: Int, time: Timestamp) {
        let a = FillAmounts(fill)
        if isPerp {
            pairs[k].perpQty += a.dq
            pairs[k].perpReferenceCost += a.reference
        } else {
            pairs[k].spotQty += a.dq
            pairs[k].spotReferenceCost += a.reference
        }
        pairs[k].fees += a.fee
        pairs[k].slippage += a.slippage
        pairs[k].fills += 1
        if fill.isLiquidation { pairs[k].liquidated = true }
        if pairs[k].firstFill == nil { pairs[k].firstFill = time }
        pairs[k].lastFill = time
    }
}

/// Historical series folded from a market journal: the funding rate per perpetual (per
/// interval and normalised to 8 h) and the spot–perp basis at every bar close where both
/// legs have a bar. Emits points as it folds; holds only the last close per instrument.
public struct SeriesProjection: Sendable {
    /// One point of a series.
    public enum Point: Sendable, Equatable {
        /// A settled funding rate of `perp`.
        case funding(perp: InstrumentId, time: Timestamp, ratePerInterval: Fixed, intervalMinutes: UInt32, rate8h: Fixed)
        /// (perp close − spot close) / spot close at a bar close both legs share.
        case basis(spot: InstrumentId, perp: InstrumentId, time: Timestamp, spotClose: Fixed, perpClose: Fixed, basis: Fixed)
    }

    public let barIntervalSeconds: UInt32
    /// The pairs whose basis is tracked.
    public let pairs: [PairSpec]
    private var lastBar: [InstrumentId: (time: Timestamp, close: Fixed)] = [:]
    private var pairOf: [InstrumentId: [Int]] = [:]

    /// Tracks funding of every perpetual and the basis of `pairs`.
    public init(pairs: [PairSpec], barIntervalSeconds: UInt32) {
        self.pairs = pairs
        self.barIntervalSeconds = barIntervalSeconds
        for (i, p) in pairs.enumerated() {
            pairOf[p.spot, default: []].append(i)
            pairOf[p.perp, default: []].append(i)
        }
    }

    /// Folds one event; returns the points it completes.
    public mutating func apply(_ event: Event, time: Timestamp) -> [Point] {
        switch event {
        case .fundingSettled(let f):
            guard f.intervalMinutes > 0 else { return [] }
            return [.funding(perp: f.instrumentId, time: time, ratePerInterval: f.ratePerInterval, intervalMinutes: f.intervalMinutes,
                             rate8h: FundingMath.per8h(f.ratePerInterval, intervalMinutes: f.intervalMinutes))]
        case .barClosed(let bar) where bar.intervalSeconds == barIntervalSeconds:
            guard let indices = pairOf[bar.instrumentId] else { return [] }
            lastBar[bar.instrumentId] = (bar.closeTime, bar.close)
            var out: [Point] = []
            for i in indices {
                let p = pairs[i]
                guard let s = lastBar[p.spot], let q = lastBar[p.perp], s.time == bar.closeTime, q.time == bar.closeTime, s.close.isPositive else { continue }
                let basis = (q.close - s.close).divided(by: s.close, scale: 8, .toNearestOrEven)
                out.append(.basis(spot: p.spot, perp: p.perp, time: bar.closeTime, spotClose: s.close, perpClose: q.close, basis: basis))
            }
            return out
        default:
            return []
        }
    }
}
