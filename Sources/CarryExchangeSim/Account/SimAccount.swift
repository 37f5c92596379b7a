// The loopback venue's account engine: Bybit orders, executions, positions, a unified wallet
// and a transaction log over CarryCore's `SimulatedExchange`, which decides every fill, fee,
// slippage, liquidation and funding payment exactly as in a backtest.
//
// Each venue order is given a venue-internal sequence number (the exchange's `intentSeq`);
// orderLinkId → order is kept here, so a repeated orderLinkId is refused (110072, spot
// 170141) before anything reaches the exchange. Time comes from outside (`at:` arguments,
// driven by `SimReplay`); nothing here reads a clock.
//
// Invariants: one lock around all state; an order's cumulative quantity never exceeds its
// quantity; every fill is one execution and one TRADE row; every funding payment one
// `Funding` execution and one SETTLEMENT row; updates reach subscribers in the order the
// changes happened (they are yielded under the lock).

public import CarryCore
public import CarryVenues
import Synchronization

/// How the account trades: the backtest's cost model plus the order faults a test switches on.
public struct SimAccountConfig: Sendable {
    public var fees: FeeSchedule
    public var slippage: SlippageModel
    public var margin: MarginModel
    public var latencyMs: Int64
    public var initialCashUsdt: Fixed
    /// Every N-th accepted order fills in two parts (0: never).
    public var partialFillEvery = 0
    /// Every N-th create is refused for insufficient balance (0: never).
    public var rejectBalanceEvery = 0
    /// Every N-th create is refused as below the minimum notional (0: never).
    public var rejectMinNotionalEvery = 0
    /// A spot buy's fee is taken in the coin bought, as Bybit takes it (its execution says
    /// `feeCurrency` = the base coin; the wallet holds the quantity less the fee).
    public var spotBuyFeeInBase = true

    public init(fees: FeeSchedule, slippage: SlippageModel, margin: MarginModel, latencyMs: Int64, initialCashUsdt: Fixed) {
        self.fees = fees
        self.slippage = slippage
        self.margin = margin
        self.latencyMs = latencyMs
        self.initialCashUsdt = initialCashUsdt
    }
}

/// Orders, executions, positions, wallet and transaction log of the one simulated account.
public final class SimAccount: Sendable {
    struct Order {
        var record: SimOrder
        /// Internal seqs of the order's parts at the exchange (two when split for a partial fill).
        var seqs: [UInt64]
        /// Quantity still to submit after the first part fills (partial-fill fault).
        var deferredQty: Fixed = .zero
    }

    struct State {
        var exchange: SimulatedExchange
        var orders: [Order] = []
        var byLinkId: [String: Int] = [:]
        var bySeq: [UInt64: Int] = [:]
        var nextSeq: UInt64 = 1
        var executions: [SimExecution] = []
        var transactions: [SimTransaction] = []
        var realised: [UInt32: Fixed] = [:]
        var leverage: [String: Fixed] = [:]
        var counts = SimAccountCounts()
        var subscribers: [Int: AsyncStream<SimAccountUpdate>.Continuation] = [:]
        var nextSubscriber = 0
        var now: Timestamp
    }

    public let config: SimAccountConfig
    public let market: SimMarketData
    private let state: Mutex<State>

    /// A fresh account holding `initialCashUsdt`, trading `market`'s instruments.
    public init(config: SimAccountConfig, market: SimMarketData) {
        self.config = config
        self.market = market
        var exchange = SimulatedExchange(fees: config.fees, slippage: config.slippage, margin: config.margin, latencyMs: config.latencyMs,
                                         initialCash: config.initialCashUsdt, spotBuyFeeInBase: config.spotBuyFeeInBase)
        for inst in market.instruments { exchange.define(inst.definition) }
        state = Mutex(State(exchange: exchange, now: market.now))
    }

    // MARK: Subscribers

    /// Account updates from now on, in the order they happen. The stream buffers the newest
    /// `bufferSize` updates for a slow reader (older ones are dropped: a reader that falls that
    /// far behind resyncs over REST, as a Bybit client must after any gap). Cancelling the
    /// consuming task or dropping the stream unsubscribes.
    public func subscribe(bufferSize: Int = 4096) -> AsyncStream<SimAccountUpdate> {
        let (stream, continuation) = AsyncStream<SimAccountUpdate>.makeStream(bufferingPolicy: .bufferingNewest(bufferSize))
        let id = state.withLock { s in
            s.nextSubscriber += 1
            s.subscribers[s.nextSubscriber] = continuation
            return s.nextSubscriber
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    private func publish(_ updates: [SimAccountUpdate], _ s: State) {
        for u in updates { for c in s.subscribers.values { c.yield(u) } }
    }

    // MARK: Orders

    /// Places an order at `time` (an empty orderLinkId gets one made up, as Bybit does); the
    /// placed order, or Bybit's refusal.
    public func place(_ request: BybitOrderRequest, at time: Timestamp) -> Result<SimOrder, SimReject> {
        state.withLock { s in
            s.counts.createRequests += 1
            let spot = request.category == .spot
            guard let inst = market.instrument(request.category.instrumentKind, request.symbol)?.definition else {
                s.counts.rejected += 1
                return .failure(SimReject(10001, "params error: symbol invalid"))
            }
            let linkId = request.orderLinkId.isEmpty ? "sim-link-\(s.orders.count + 1)" : request.orderLinkId
            if s.byLinkId[linkId] != nil {
                s.counts.duplicatesRefused += 1
                return .failure(spot ? SimReject(170141, "Duplicate clientOrderId.") : SimReject(110072, "OrderLinkedID is duplicate"))
            }
            if let reject = injectedReject(&s, spot: spot) ?? balanceReject(s, request, inst) {
                s.counts.rejected += 1
                return .failure(reject)
            }
            return accept(&s, request, inst, linkId: linkId, at: time)
        }
    }

    private func injectedReject(_ s: inout State, spot: Bool) -> SimReject? {
        let n = s.counts.createRequests
        if config.rejectBalanceEvery > 0 && n % config.rejectBalanceEvery == 0 {
            s.counts.injected[.rejectBalance, default: 0] += 1
            return spot ? SimReject(170131, "Insufficient balance.") : SimReject(110007, "ab not enough for new order")
        }
        if config.rejectMinNotionalEvery > 0 && n % config.rejectMinNotionalEvery == 0 {
            s.counts.injected[.rejectMinNotional, default: 0] += 1
            return spot ? SimReject(170140, "Order value exceeded lower limit.") : SimReject(110094, "Order does not meet minimum order value")
        }
        return nil
    }

    /// The real balance check: a spot buy needs its cost in USDT, a spot sell the coins, a perp
    /// order its initial margin (reduce-only orders need nothing), net of what open orders
    /// already hold (their order margin, Bybit's totalOrderIM).
    private func balanceReject(_ s: State, _ r: BybitOrderRequest, _ inst: InstrumentDefined) -> SimReject? {
        guard !r.reduceOnly, let ref = r.price ?? lastClose(inst) else { return nil }
        let value = r.qty.multiplied(by: ref, scale: quoteScale, .up)
        let available = walletView(s).totalAvailableBalance
        if inst.kind == .spot && r.side == .sell {
            let held = s.orders.filter { $0.record.status.isOpen && $0.record.instrument.id == inst.id && $0.record.side == .sell }
                .reduce(Fixed.zero) { $0 + $1.record.leavesQty }
            return r.qty + held <= s.exchange.positions[inst.id.index] ? nil : SimReject(170131, "Insufficient balance.")
        }
        let needed = inst.kind == .spot ? value : value.divided(by: leverage(s, inst), scale: quoteScale, .up)
        guard needed <= available else { return inst.kind == .spot ? SimReject(170131, "Insufficient balance.") : SimReject(110007, "ab not enough for new order") }
        return nil
    }

    /// USDT held by open orders: a spot buy's remaining cost, a perp order's remaining margin.
    private func orderMargin(_ s: State) -> Fixed {
        var total = Fixed.zero
        for o in s.orders where o.record.status.isOpen && !o.record.reduceOnly {
            let r = o.record
            guard let ref = r.price ?? lastClose(r.instrument), !(r.instrument.kind == .spot && r.side == .sell) else { continue }
            let value = r.leavesQty.multiplied(by: ref, scale: quoteScale, .up)
            total += r.instrument.kind == .spot ? value : value.divided(by: leverage(s, r.instrument), scale: quoteScale, .up)
        }
        return total
    }

    private func accept(_ s: inout State, _ r: BybitOrderRequest, _ inst: InstrumentDefined, linkId: String, at time: Timestamp) -> Result<SimOrder, SimReject> {
        let n = s.counts.placed + 1
        var qty = r.qty
        var deferred = Fixed.zero
        if config.partialFillEvery > 0 && n % config.partialFillEvery == 0 {
            let half = r.qty.divided(by: Fixed(2), scale: Int(inst.qtyStep.scale), .down).rounded(toMultipleOf: inst.qtyStep, .towardZero)
            if half >= inst.minQty && r.qty - half >= inst.minQty {
                s.counts.injected[.partial, default: 0] += 1
                qty = half
                deferred = r.qty - half
            }
        }
        let seq = s.nextSeq
        let intent = OrderIntended(pairId: 0, leg: inst.kind == .spot ? .spot : .perp, instrumentId: inst.id, side: r.side, type: r.orderType,
                                   timeInForce: r.timeInForce, qty: qty, limitPrice: r.price, reduceOnly: r.reduceOnly, reason: .manual)
        let facts = s.exchange.submit(intentSeq: seq, intent, at: time)
        if case .orderRejected(let rej)? = facts.first?.event {
            s.counts.rejected += 1
            return .failure(SimReject(Self.bybitCode(rej.code, spot: inst.kind == .spot), rej.reason))
        }
        s.nextSeq += 1
        s.counts.placed += 1
        let orderId = Self.orderId(n)
        var record = SimOrder(orderId: orderId, orderLinkId: linkId, instrument: inst, side: r.side, orderType: r.orderType, qty: r.qty, price: r.price,
                              timeInForce: r.timeInForce, reduceOnly: r.reduceOnly, status: .new, createdTime: time, updatedTime: time)
        let index = s.orders.count
        s.orders.append(Order(record: record, seqs: [seq], deferredQty: deferred))
        s.byLinkId[linkId] = index
        s.counts.distinctLinkIds = s.byLinkId.count
        s.bySeq[seq] = index
        var updates: [SimAccountUpdate] = [.order(record)]
        if r.timeInForce == .postOnly, let price = r.price, let last = lastClose(inst), r.side == .buy ? price >= last : price <= last {
            // A post-only order that would take liquidity is cancelled at once, as Bybit does.
            _ = s.exchange.cancel(intentSeq: seq, at: time, reason: "post-only would take")
            record.status = .cancelled
            record.reason = "EC_PostOnlyWillTakeLiquidity"
            s.orders[index].record = record
            updates.append(.order(record))
        }
        publish(updates, s)
        return .success(record)
    }

    /// Bybit's code for a reject of the core's simulated exchange.
    static func bybitCode(_ code: Int32, spot: Bool) -> Int {
        switch code {
        case SimRejectCode.belowMinNotional: return spot ? 170140 : 110094
        case SimRejectCode.reduceOnlyNothing: return 110017
        default: return Int(code)
        }
    }

    /// A deterministic UUID-shaped order id (Bybit's linear order ids are UUIDs).
    static func orderId(_ n: Int) -> String {
        let digits = String(n)
        return "5ca1ab1e-0000-4000-8000-" + String(repeating: "0", count: max(0, 12 - digits.count)) + digits
    }

    /// Cancels an open order by id or orderLinkId; 110001 (spot 170213) when there is none open.
    public func cancel(kind: InstrumentKind, symbol: String, orderId: String?, orderLinkId: String?, at time: Timestamp) -> Result<SimOrder, SimReject> {
        state.withLock { s in
            let index = s.orders.indices.last { i in
                let o = s.orders[i].record
                return o.instrument.symbol == symbol && o.instrument.kind == kind
                    && (orderId.map { $0 == o.orderId } ?? true) && (orderLinkId.map { $0 == o.orderLinkId } ?? true)
            }
            guard let index, s.orders[index].record.status.isOpen else {
                return .failure(kind == .spot ? SimReject(170213, "Order does not exist.") : SimReject(110001, "order not exists or too late to cancel"))
            }
            let record = cancelLocked(&s, index, at: time, reason: "EC_PerCancelRequest")
            return .success(record)
        }
    }

    /// Cancels every open order of a kind (one symbol, or all); the cancelled orders.
    public func cancelAll(kind: InstrumentKind, symbol: String?, at time: Timestamp) -> [SimOrder] {
        state.withLock { s in
            let open = s.orders.indices.filter { i in
                let o = s.orders[i].record
                return o.status.isOpen && o.instrument.kind == kind && (symbol.map { $0 == o.instrument.symbol } ?? true)
            }
            return open.map { cancelLocked(&s, $0, at: time, reason: "EC_PerCancelRequest") }
        }
    }

    private func cancelLocked(_ s: inout State, _ index: Int, at time: Timestamp, reason: String) -> SimOrder {
        for seq in s.orders[index].seqs { _ = s.exchange.cancel(intentSeq: seq, at: time, reason: reason) }
        s.orders[index].deferredQty = .zero
        var record = s.orders[index].record
        record.status = record.cumExecQty.isZero ? .cancelled : .partiallyFilledCanceled
        record.reason = reason
        record.updatedTime = time
        s.orders[index].record = record
        publish([.order(record)], s)
        return record
    }

    // MARK: Market events

    /// A bar closed at `bar.closeTime`: orders fill, positions may be liquidated, and
    /// immediate-or-cancel orders whose first chance has passed give up their remainder.
    public func onBar(_ bar: BarClosed) {
        state.withLock { s in
            s.now = max(s.now, bar.closeTime)
            let facts = s.exchange.onBar(bar, barRef: .local(0))
            for fact in facts { apply(&s, fact) }
            expireImmediateOrders(&s, bar)
        }
    }

    private func expireImmediateOrders(_ s: inout State, _ bar: BarClosed) {
        for i in s.orders.indices {
            let o = s.orders[i].record
            guard o.status.isOpen, o.timeInForce == .immediateOrCancel || o.timeInForce == .fillOrKill, o.instrument.id == bar.instrumentId,
                  bar.closeTime >= o.createdTime.adding(ms: config.latencyMs), s.orders[i].deferredQty.isZero else { continue }
            _ = cancelLocked(&s, i, at: bar.closeTime, reason: "EC_CancelForNoFullFill")
        }
    }

    /// A funding settlement at `time`: the position held now pays or receives.
    public func onFundingSettled(_ f: FundingSettled, at time: Timestamp) {
        state.withLock { s in
            s.now = max(s.now, time)
            for fact in s.exchange.onFundingSettled(f, at: time, cause: .local(0)) { apply(&s, fact) }
        }
    }

    private func apply(_ s: inout State, _ fact: VenueFact) {
        switch fact.event {
        case .orderFilled(let f): applyFill(&s, f, at: fact.time)
        case .orderCancelled(let c):
            if let i = s.bySeq[c.intentSeq], s.orders[i].record.status.isOpen { _ = cancelLocked(&s, i, at: fact.time, reason: "EC_CancelByReduceOnly") }
        case .orderExpired(let e):
            // The matching engine expired an IOC remainder (the participation cap left it unfilled).
            if let i = s.bySeq[e.intentSeq], s.orders[i].record.status.isOpen { _ = cancelLocked(&s, i, at: fact.time, reason: "EC_CancelForNoFullFill") }
        case .fundingPaid(let p): applyFunding(&s, p, at: fact.time)
        default: break
        }
    }

    private func applyFill(_ s: inout State, _ f: OrderFilled, at time: Timestamp) {
        guard let inst = market.instruments.first(where: { $0.definition.id == f.instrumentId })?.definition else { return }
        let walletBefore = usdtWallet(s)
        let value = f.qty.multiplied(by: f.price, scale: quoteScale, .toNearestOrEven)
        var updates: [SimAccountUpdate] = []
        var orderId = "", linkId = "", leaves = Fixed.zero
        if let i = s.bySeq[f.intentSeq], !f.isLiquidation {
            var o = s.orders[i]
            o.record.cumExecQty += f.qty
            o.record.cumExecValue += value
            o.record.cumExecFee += f.fee
            o.record.updatedTime = time
            let done = o.record.cumExecQty >= o.record.qty
            o.record.status = done ? .filled : .partiallyFilled
            if !done && !o.deferredQty.isZero && f.leavesQty.isZero { submitDeferred(&s, &o, i, at: time) }
            s.orders[i] = o
            orderId = o.record.orderId
            linkId = o.record.orderLinkId
            leaves = o.record.leavesQty
            updates.append(.order(o.record))
        }
        s.counts.executions += 1
        let rate = f.liquidity == .taker ? config.fees.rates(for: inst).taker : config.fees.rates(for: inst).maker
        let exec = SimExecution(execId: "e\(s.counts.executions)-\(f.executionId)", orderId: orderId, orderLinkId: linkId, instrument: inst, side: f.side,
                                execType: f.isLiquidation ? "BustTrade" : "Trade", price: f.price, qty: f.qty, fee: f.fee, feeRate: rate,
                                isMaker: f.liquidity == .maker, time: time, leavesQty: leaves, feeCurrency: f.feeAsset == .base ? inst.baseAsset : inst.quoteAsset)
        s.executions.append(exec)
        let walletAfter = usdtWallet(s)
        s.realised[inst.id.rawValue, default: .zero] += walletAfter - walletBefore
        s.transactions.append(SimTransaction(id: "t\(s.transactions.count + 1)", instrument: inst, type: "TRADE", side: f.side,
                                             size: s.exchange.positions[inst.id.index], qty: f.qty, tradePrice: f.price, funding: nil, fee: f.fee,
                                             feeRate: rate, change: walletAfter - walletBefore, cashBalance: walletAfter, time: time,
                                             orderId: orderId, orderLinkId: linkId))
        updates.append(.execution(exec))
        if inst.kind.isPerpetual { updates.append(.position(positionView(s, inst))) }
        updates.append(.wallet(walletView(s)))
        publish(updates, s)
    }

    /// The second part of a split order goes in when the first has filled: it can fill from
    /// the next bar on, so the order is seen PartiallyFilled in between.
    private func submitDeferred(_ s: inout State, _ o: inout Order, _ index: Int, at time: Timestamp) {
        let r = o.record
        let intent = OrderIntended(pairId: 0, leg: r.instrument.kind == .spot ? .spot : .perp, instrumentId: r.instrument.id, side: r.side,
                                   type: r.orderType, timeInForce: r.timeInForce, qty: o.deferredQty, limitPrice: r.price,
                                   reduceOnly: r.reduceOnly, reason: .manual)
        let seq = s.nextSeq
        s.nextSeq += 1
        o.deferredQty = .zero
        let facts = s.exchange.submit(intentSeq: seq, intent, at: time)
        if case .orderAccepted? = facts.last?.event {
            o.seqs.append(seq)
            s.bySeq[seq] = index
        } else {
            o.record.status = .partiallyFilledCanceled
            o.record.reason = "EC_CancelForNoFullFill"
        }
    }

    private func applyFunding(_ s: inout State, _ p: FundingPaid, at time: Timestamp) {
        guard let inst = market.instruments.first(where: { $0.definition.id == p.instrumentId })?.definition else { return }
        s.counts.settlements += 1
        let side: Side = p.positionQty.isNegative ? .sell : .buy
        let exec = SimExecution(execId: "f\(s.counts.settlements)-\(inst.symbol)-\(time.ms)", orderId: "", orderLinkId: "", instrument: inst, side: side,
                                execType: "Funding", price: p.markPrice, qty: p.positionQty.magnitude, fee: -p.amount, feeRate: p.ratePerInterval,
                                isMaker: false, time: time, leavesQty: .zero, feeCurrency: inst.quoteAsset)
        s.executions.append(exec)
        s.realised[inst.id.rawValue, default: .zero] += p.amount
        s.transactions.append(SimTransaction(id: "t\(s.transactions.count + 1)", instrument: inst, type: "SETTLEMENT", side: side, size: p.positionQty,
                                             qty: p.positionQty.magnitude, tradePrice: p.markPrice, funding: p.amount, fee: .zero,
                                             feeRate: p.ratePerInterval, change: p.amount, cashBalance: usdtWallet(s), time: time, orderId: "", orderLinkId: ""))
        publish([.execution(exec), .position(positionView(s, inst)), .wallet(walletView(s))], s)
    }

    // MARK: Leverage

    /// Sets a perpetual's leverage; 110043 when it is already that. (It sizes margin checks and
    /// what the position reports; liquidation follows the backtest config's margin model.)
    public func setLeverage(symbol: String, leverage: Fixed) -> SimReject? {
        state.withLock { s in
            guard let inst = market.instrument(.linearPerpetual, symbol)?.definition else { return SimReject(10001, "params error: symbol invalid") }
            guard leverage >= Fixed(1), leverage <= inst.maxLeverage else { return SimReject(10001, "leverage invalid") }
            if self.leverage(s, inst) == leverage { return SimReject(110043, "leverage not modified") }
            s.leverage[symbol] = leverage
            return nil
        }
    }

    private func leverage(_ s: State, _ inst: InstrumentDefined) -> Fixed { s.leverage[inst.symbol] ?? config.margin.perpLeverage }

    // MARK: Views

    /// Every order, oldest first.
    public var orders: [SimOrder] { state.withLock { $0.orders.map(\.record) } }
    /// The order with this orderLinkId.
    public func order(linkId: String) -> SimOrder? { state.withLock { s in s.byLinkId[linkId].map { s.orders[$0].record } } }
    /// Every execution, oldest first.
    public var executions: [SimExecution] { state.withLock { $0.executions } }
    /// The transaction log, oldest first.
    public var transactions: [SimTransaction] { state.withLock { $0.transactions } }
    /// The account's counters.
    public var counts: SimAccountCounts { state.withLock { $0.counts } }
    /// The wallet now.
    public var wallet: SimWalletView { state.withLock { walletView($0) } }
    /// Perpetual positions (open ones; `symbol` given: that one, even flat).
    public func positions(symbol: String? = nil) -> [SimPositionView] {
        state.withLock { s in
            market.instruments(.linearPerpetual).filter { inst in
                symbol.map { $0 == inst.definition.symbol } ?? !s.exchange.positions[inst.definition.id.index].isZero
            }.map { positionView(s, $0.definition) }
        }
    }
    /// Fee rates of an instrument.
    public func feeRates(_ inst: InstrumentDefined) -> FeeRates { config.fees.rates(for: inst) }

    private func lastClose(_ inst: InstrumentDefined) -> Fixed? {
        guard let sim = market.instrument(inst.kind, inst.symbol), let interval = market.finestInterval(sim) else { return nil }
        return market.lastBar(sim, intervalSeconds: interval)?.close
    }

    /// USDT in the wallet: the exchange's cash with the perps' notional flows taken out (the
    /// exchange books a perp fill like a purchase; a wallet holds only its realised result).
    private func usdtWallet(_ s: State) -> Fixed {
        var total = s.exchange.cash
        for inst in market.instruments where inst.definition.kind.isPerpetual {
            let i = inst.definition.id.index
            if let entry = s.exchange.entryPrice[i], !s.exchange.positions[i].isZero {
                total += s.exchange.positions[i].multiplied(by: entry, scale: quoteScale, .toNearestOrEven)
            }
        }
        return total
    }

    private func positionView(_ s: State, _ inst: InstrumentDefined) -> SimPositionView {
        let q = s.exchange.positions[inst.id.index]
        let entry = s.exchange.entryPrice[inst.id.index] ?? .zero
        let mark = lastClose(inst)
        let upl = mark.map { q.multiplied(by: $0 - entry, scale: quoteScale, .toNearestOrEven) } ?? .zero
        let liq = q.isZero ? nil : config.margin.liquidationPrice(entry: entry, short: q.isNegative)
        return SimPositionView(instrument: inst, signedSize: q, avgPrice: entry, markPrice: mark, leverage: leverage(s, inst), liqPrice: liq,
                               unrealisedPnl: q.isZero ? .zero : upl, cumRealisedPnl: s.realised[inst.id.rawValue] ?? .zero, updatedTime: s.now)
    }

    private func walletView(_ s: State) -> SimWalletView {
        var upl = Fixed.zero
        var im = Fixed.zero
        var coins: [SimCoinBalance] = []
        var coinValue = Fixed.zero
        for inst in market.instruments {
            let d = inst.definition
            let q = s.exchange.positions[d.id.index]
            guard !q.isZero else { continue }
            if d.kind.isPerpetual {
                let p = positionView(s, d)
                upl += p.unrealisedPnl
                im += q.magnitude.multiplied(by: p.avgPrice, scale: quoteScale, .up).divided(by: p.leverage, scale: quoteScale, .up)
            } else {
                let value = lastClose(d).map { q.multiplied(by: $0, scale: quoteScale, .toNearestOrEven) } ?? .zero
                coinValue += value
                coins.append(SimCoinBalance(coin: d.baseAsset, walletBalance: q, unrealisedPnl: .zero, equity: q, usdValue: value))
            }
        }
        let usdt = usdtWallet(s)
        coins.insert(SimCoinBalance(coin: "USDT", walletBalance: usdt, unrealisedPnl: upl, equity: usdt + upl, usdValue: usdt + upl), at: 0)
        let total = usdt + coinValue
        return SimWalletView(coins: coins, totalWalletBalance: total, totalPerpUPL: upl, totalEquity: total + upl, totalInitialMargin: im,
                             totalAvailableBalance: usdt + upl - im - orderMargin(s), updatedTime: s.now)
    }
}
