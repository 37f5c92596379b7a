// The live venue gateway: what `carry run --mode live` says to Bybit and what it reads back,
// over the signed REST client (`BybitTradingClient`), turned into the venue facts the engine
// journals. It keeps no engine state; what it remembers (execution ids and settlements
// already read, when each order was sent) only saves requests and is rebuilt from the journal
// after a restart.
//
// Out: an intent's order goes to Bybit once, as a market (or limit) order with the intent's
// time in force, `reduceOnly` for perpetual closes, category spot or linear from the
// instrument, and the journal-derived `orderLinkId` (`ClientOrderId`: journal id + intent
// seq). The answer becomes `order.accepted`, `order.rejected` with Bybit's retCode, or
// `order.unknown` (a timeout, a 5xx, a lost answer, a duplicate orderLinkId) — never a resend.
// A cancel is sent by orderLinkId; how the order ended is read back like any other end.
//
// In, every step (`read`): the open orders of both categories; executions since the last
// read (`order.filled`, de-duplicated by execId, the intent from the orderLinkId, the fee and
// its coin as Bybit reports them — a spot buy's fee is in the coin bought; funding rows are
// left to the transaction log, liquidations are fills of no intent); the transaction log's
// SETTLEMENT rows (`funding.paid`, the venue's amount, position, mark and rate); a status
// query by orderLinkId for every order the engine thinks working that is no longer open
// (`order.status`: filled, cancelled, expired for an IOC remainder, rejected, or "not found"
// for an unknown order — never placed); and, when a reconciliation is due, positions, wallet
// and open orders as one `venue.snapshot`, taken only when no fill or payment landed while it
// was read (else at the next step), so the engine compares it after exactly the facts it
// reflects. Every fact carries the venue's time; the session releases it to the engine when
// its clock gets there (`LiveOutbox`).

public import CarryCore
public import CarryVenues
import Foundation
public import Logging

/// What a step's read of the venue found.
public struct GatewayRead: Sendable {
    /// Venue facts, each with the venue's time.
    public var facts: [VenueFact]
    /// The book, when one was asked for and read consistently.
    public var book: VenueBook?
    /// The venue's clock when the read began and ended.
    public var startedAt: Timestamp
    public var endedAt: Timestamp
}

/// The venue's book as one reconciliation read it.
public struct VenueBook: Sendable {
    public var snapshot: VenueSnapshot
    /// Open orders on the traded symbols that this journal did not send.
    public var foreignOrders: [String]
    public var time: Timestamp
}

/// Counters of a gateway's traffic.
public struct GatewayStats: Sendable, Equatable {
    public var ordersSent = 0
    public var accepted = 0
    public var rejected = 0
    public var unknown = 0
    public var cancelsSent = 0
    public var fills = 0
    /// Of `fills`, those the private stream delivered first (the rest were read over REST).
    public var streamFills = 0
    /// Executions the stream delivered that REST (or the stream) had delivered already.
    public var streamDuplicates = 0
    public var payments = 0
    public var statusReports = 0
    public var snapshots = 0
    /// Reconciliations put off because the book moved while it was read.
    public var snapshotsRetried = 0
    /// Executions on the traded symbols of orders this journal did not send (left to reconciliation).
    public var foreignExecutions = 0
}

/// Bybit's signed REST endpoints, as venue facts.
public final class LiveGateway {
    public let client: BybitTradingClient
    public let journal: JournalId
    public let pairs: [ResolvedPair]
    let venueTime: () throws -> Timestamp
    let logger: Logger
    public private(set) var stats = GatewayStats()

    /// How far back each read looks again (facts can appear at the venue a moment late).
    static let overlapMs: Int64 = Millis.minute
    /// Bybit serves executions and transaction-log rows in windows of at most 7 days.
    static let windowMs: Int64 = 7 * Millis.day
    /// A "not found" for an order sent less than this ago (wall time) is not believed yet:
    /// the venue may still be placing it.
    static let notFoundGraceMs = 1_000.0

    private var executionCursor: [Bybit.Category: Timestamp] = [:]
    private var seenExecutions: [String: Timestamp] = [:]
    private var fundingCursor: Timestamp
    /// Settlement rows already delivered, by perpetual and time; those older than the
    /// overlap of the next read are forgotten (they cannot be read again), so the set stays
    /// a few entries however long the session runs.
    private var seenSettlements: Set<SettlementKey> = []
    private var sentAt: [UInt64: Date] = [:]
    private var references: [UInt64: Fixed] = [:]
    /// The latest time stamped on a fact read, so an answer is never stamped before it.
    private var lastStamp = Timestamp.distantPast

    /// A gateway for `pairs`, naming orders after `journal`, reading facts after `from`.
    public init(client: BybitTradingClient, journal: JournalId, pairs: [ResolvedPair], from: Timestamp, logger: Logger,
                venueTime: @escaping () throws -> Timestamp) {
        self.client = client
        self.journal = journal
        self.pairs = pairs
        self.logger = logger
        self.venueTime = venueTime
        executionCursor = [.linear: from, .spot: from]
        fundingCursor = from
    }

    /// Learns what the journal already holds (after a restart): executions and settlements
    /// read before are not delivered again, and reads resume after the last of them.
    public func seed(from records: [RecordedEvent]) {
        for r in records {
            switch r.event {
            case .orderFilled(let f) where !f.executionId.isEmpty:
                seenExecutions[f.executionId] = r.eventTime
                let category: Bybit.Category = instrument(f.instrumentId)?.kind == .spot ? .spot : .linear
                executionCursor[category] = max(executionCursor[category] ?? .distantPast, r.eventTime)
            case .fundingPaid(let p):
                if let d = instrument(p.instrumentId) { seenSettlements.insert(SettlementKey(symbol: d.symbol, ms: p.settlementTime.ms)) }
                fundingCursor = max(fundingCursor, p.settlementTime)
            default:
                break
            }
        }
    }

    // MARK: Instruments

    func instrument(_ id: InstrumentId) -> InstrumentDefined? {
        for p in pairs {
            if p.spot.id == id { return p.spot }
            if p.perp.id == id { return p.perp }
        }
        return nil
    }

    func instrument(_ category: Bybit.Category, _ symbol: String) -> InstrumentDefined? {
        pairs.first { $0.symbol == symbol }.map { category == .spot ? $0.spot : $0.perp }
    }

    static func category(_ d: InstrumentDefined) -> Bybit.Category { d.kind == .spot ? .spot : .linear }

    struct SettlementKey: Hashable {
        var symbol: String
        var ms: Int64
    }

    public func linkId(_ intentSeq: UInt64) -> String { ClientOrderId.make(journal: journal, intentSeq: intentSeq) }

    // MARK: Sending

    /// The order an intent becomes at Bybit.
    public func request(_ intent: OrderIntended, intentSeq: UInt64) -> BybitOrderRequest? {
        guard let d = instrument(intent.instrumentId) else { return nil }
        return BybitOrderRequest(category: Self.category(d), symbol: d.symbol, side: intent.side, orderType: intent.type, qty: intent.qty,
                                 price: intent.type == .limit ? intent.limitPrice : nil, timeInForce: intent.timeInForce,
                                 reduceOnly: intent.reduceOnly && d.kind.isPerpetual, orderLinkId: linkId(intentSeq))
    }

    /// Sends the queued commands, each once; the venue's answers as facts. `order` looks up the
    /// order a cancel names; `reference` is the engine's mark now (a fill's reference price).
    public func send(_ commands: [LiveOutbox.Command], order: (UInt64) -> OrderTrack?, reference: (InstrumentId) -> Fixed?) -> [VenueFact] {
        guard !commands.isEmpty else { return [] }
        // Sign on the venue's clock as it is now (a replaying venue's runs fast).
        if commands.contains(where: { if case .submit = $0.command { return true } else { return false } }) { try? client.resyncClock() }
        let stamp = max((try? venueTime()) ?? lastStamp, lastStamp.adding(ms: 1))
        lastStamp = stamp
        var facts: [VenueFact] = []
        for c in commands {
            switch c.command {
            case .submit(let intent):
                guard let req = request(intent, intentSeq: c.seq) else {
                    facts.append(VenueFact(event: .orderRejected(OrderRejected(intentSeq: c.seq, code: -2, reason: "not a traded instrument: nothing sent")),
                                           time: stamp, causation: .local(c.seq)))
                    continue
                }
                sentAt[c.seq] = Date()
                if let r = reference(intent.instrumentId) { references[c.seq] = r }
                stats.ordersSent += 1
                let event: Event
                switch client.createOrder(req) {
                case .accepted(let orderId, _):
                    stats.accepted += 1
                    event = .orderAccepted(OrderAccepted(intentSeq: c.seq, venueOrderId: orderId))
                case .rejected(let code, let message, _):
                    stats.rejected += 1
                    event = .orderRejected(OrderRejected(intentSeq: c.seq, code: Int32(clamping: code), reason: message))
                case .unknown(let reason):
                    stats.unknown += 1
                    event = .orderUnknown(OrderUnknown(intentSeq: c.seq, reason: reason))
                }
                logger.info("order sent", metadata: ["intent": "\(c.seq)", "orderLinkId": "\(req.orderLinkId)", "symbol": "\(req.symbol)",
                                                     "category": "\(req.category.rawValue)", "side": "\(req.side)", "qty": "\(req.qty)",
                                                     "answer": "\(event.kind.name)"])
                facts.append(VenueFact(event: event, time: stamp, causation: .local(c.seq)))
            case .cancel(let cancel):
                guard let track = order(cancel.intentSeq), let d = instrument(track.intent.instrumentId) else { continue }
                stats.cancelsSent += 1
                do {
                    _ = try client.cancelOrder(category: Self.category(d), symbol: d.symbol, orderLinkId: linkId(cancel.intentSeq))
                } catch let e as BybitError where e.retCode.map({ BybitRejectKind(retCode: $0) == .orderNotFound }) ?? false {
                    // Already ended (or never placed): the next read says how.
                } catch {
                    logger.warning("cancel failed; the next read of the venue says how the order ended",
                                   metadata: ["intent": "\(cancel.intentSeq)", "error": "\(error)"])
                }
            }
        }
        return facts
    }

    // MARK: Reading

    /// One step's read of the venue (see the file comment), begun when the venue's clock said
    /// `startedAt`. `working` are the orders the engine has sent and not seen end; `skip`
    /// those whose end is already on its way to it.
    public func read(at startedAt: Timestamp, working: [OrderTrack], skip: Set<UInt64>, book wanted: Bool) throws -> GatewayRead {
        var open: [UInt64: BybitOrder] = [:]
        var foreign: [String] = []
        for category in [Bybit.Category.linear, .spot] {
            for o in try client.openOrders(category: category, limit: 50) where instrument(category, o.symbol) != nil {
                if let seq = ClientOrderId.intentSeq(of: o.orderLinkId, journal: journal) {
                    open[seq] = o
                } else {
                    foreign.append("\(o.symbol) \(category.rawValue) \(o.side) \(o.qty) (orderLinkId '\(o.orderLinkId)', status \(o.orderStatus))")
                }
            }
        }
        var positions: [BybitPosition] = []
        var wallet: BybitWallet?
        if wanted {
            positions = try client.positions(category: .linear)
            wallet = try client.walletBalance()
        }
        let (fills, newestExecution) = try executions(working: working, now: startedAt)
        var facts = fills + (try settlements(now: startedAt))
        var statuses: [Event] = []
        // Only an order's end is news: a status that says "still working" is stale the moment
        // it is read (a fill may follow before the engine sees it), and an unknown order that
        // is still working is resolved by its fills and, in the end, by its final status.
        for track in working where !skip.contains(track.intentSeq) && open[track.intentSeq] == nil {
            guard let d = instrument(track.intent.instrumentId) else { continue }
            if let o = try client.queryOrder(category: Self.category(d), orderLinkId: linkId(track.intentSeq)) {
                guard let status = Self.status(o, track: track) else {
                    logger.warning("an order status Carry does not know", metadata: ["intent": "\(track.intentSeq)", "status": "\(o.orderStatus)"])
                    continue
                }
                guard status.isTerminal else { continue }
                statuses.append(.orderStatus(OrderStatusReported(intentSeq: track.intentSeq, status: status, cumQty: o.cumExecQty, venueOrderId: o.orderId)))
            } else if track.state == .unknown {
                if let sent = sentAt[track.intentSeq], Date().timeIntervalSince(sent) * 1000 < Self.notFoundGraceMs { continue }
                statuses.append(.orderStatus(OrderStatusReported(intentSeq: track.intentSeq, status: .notFound, cumQty: .zero, venueOrderId: "")))
            }
        }
        let endedAt = max(try venueTime(), lastStamp)
        lastStamp = endedAt
        // What is remembered per order is needed only while it works.
        let live = Set(working.map(\.intentSeq))
        sentAt = sentAt.filter { live.contains($0.key) }
        references = references.filter { live.contains($0.key) }
        // Nothing filled or paid since the read began: the book stood still from then until
        // the last list was read, so what was read is the venue as of `startedAt` — stamped
        // there, it follows every fact of its time and precedes every later one. Otherwise the
        // statuses wait until after what was read (`endedAt`) and the book is read again next step.
        // Every execution listed counts, also one the stream delivered first (a stream fill is
        // read before `startedAt`, so one after it can only have come while the book was read).
        let still = !facts.contains { $0.event.kind == .fundingPaid && $0.time > startedAt } && newestExecution.map { $0 <= startedAt } ?? true
        let asOf = still ? startedAt : endedAt
        stats.statusReports += statuses.count
        facts += statuses.map { e in VenueFact(event: e, time: asOf, causation: .local(e.intentSeqOfOrderFact ?? 0)) }
        var book: VenueBook?
        if wanted, let wallet {
            if !still {
                stats.snapshotsRetried += 1
            } else {
                let snapshot = makeSnapshot(positions: positions, wallet: wallet, open: open)
                stats.snapshots += 1
                facts.append(VenueFact(event: .venueSnapshot(snapshot), time: asOf, causation: .none))
                book = VenueBook(snapshot: snapshot, foreignOrders: foreign, time: asOf)
            }
        }
        return GatewayRead(facts: facts, book: book, startedAt: startedAt, endedAt: endedAt)
    }

    /// Positions (perps: signed size; spot: the coin in the wallet), quote cash in the
    /// engine's convention (the USDT wallet less each perp position at its entry price — the
    /// engine books a perp fill's notional through cash), and this journal's open orders.
    func makeSnapshot(positions: [BybitPosition], wallet: BybitWallet, open: [UInt64: BybitOrder]) -> VenueSnapshot {
        var list: [VenuePosition] = []
        var cash = wallet.coin("USDT")?.walletBalance ?? .zero
        for p in pairs {
            list.append(VenuePosition(instrumentId: p.spot.id, qty: wallet.coin(p.spot.baseAsset)?.walletBalance ?? .zero))
            let perp = positions.first { $0.symbol == p.perp.symbol }
            let qty = perp?.signedSize ?? .zero
            list.append(VenuePosition(instrumentId: p.perp.id, qty: qty))
            if let perp, !qty.isZero { cash -= qty.multiplied(by: perp.avgPrice, scale: quoteScale, .toNearestOrEven) }
        }
        return VenueSnapshot(positions: list, cash: cash, openOrders: open.keys.sorted())
    }

    /// Bybit's order status as the engine's; an IOC remainder that ended without a cancel
    /// request is expired, not cancelled.
    static func status(_ o: BybitOrder, track: OrderTrack) -> VenueOrderStatus? {
        switch o.orderStatus {
        case "New", "Untriggered", "Triggered", "Active", "Created": return o.cumExecQty.isPositive ? .partiallyFilled : .new
        case "PartiallyFilled": return .partiallyFilled
        case "Filled": return .filled
        case "Rejected": return .rejected
        case "Cancelled", "PartiallyFilledCanceled", "Deactivated":
            let immediate = track.intent.timeInForce == .immediateOrCancel || track.intent.timeInForce == .fillOrKill
            return immediate && !track.cancelRequested ? .expired : .cancelled
        default: return nil
        }
    }

    /// Windows of at most 7 days from `from` to now (the last one open-ended).
    static func windows(from: Timestamp, now: Timestamp) -> [(Timestamp, Timestamp?)] {
        var out: [(Timestamp, Timestamp?)] = []
        var start = from
        while now.msSince(start) > windowMs {
            out.append((start, start.adding(ms: windowMs - 1)))
            start = start.adding(ms: windowMs)
        }
        out.append((start, nil))
        return out
    }

    /// Fills the private stream delivered, as facts (stamped with their execution time, like
    /// those read over REST); an execution already delivered by either is dropped, so a fill
    /// reaches the engine once whichever way it came first.
    public func streamed(_ executions: [BybitExecution], working: [OrderTrack]) -> [VenueFact] {
        var out: [VenueFact] = []
        for e in executions.sorted(by: { ($0.execTime, $0.execId) < ($1.execTime, $1.execId) }) {
            guard let category = Bybit.Category(rawValue: e.category), category == .linear || category == .spot,
                  let d = instrument(category, e.symbol) else { continue }
            guard seenExecutions[e.execId] == nil else {
                stats.streamDuplicates += 1
                continue
            }
            seenExecutions[e.execId] = e.execTime
            guard let fill = fill(e, d, working: working) else { continue }
            stats.fills += 1
            stats.streamFills += 1
            out.append(VenueFact(event: .orderFilled(fill), time: e.execTime, causation: fill.isLiquidation ? .none : .local(fill.intentSeq)))
        }
        return out
    }

    /// New fills of both categories since the last read, oldest first, and the newest
    /// execution listed (new or not).
    private func executions(working: [OrderTrack], now: Timestamp) throws -> ([VenueFact], Timestamp?) {
        var out: [VenueFact] = []
        var newest: Timestamp?
        for category in [Bybit.Category.linear, .spot] {
            let from = (executionCursor[category] ?? now).adding(ms: -Self.overlapMs)
            var found: [BybitExecution] = []
            for (start, end) in Self.windows(from: from, now: now) {
                var cursor = ""
                repeat {
                    let page = try client.executions(category: category, startTime: start, endTime: end, limit: 100, cursor: cursor)
                    found += page.fills
                    cursor = page.nextPageCursor
                } while !cursor.isEmpty
            }
            for e in found.sorted(by: { ($0.execTime, $0.execId) < ($1.execTime, $1.execId) }) {
                guard let d = instrument(category, e.symbol) else { continue }
                // Read through here, whoever delivered it (the stream may have been first).
                executionCursor[category] = max(executionCursor[category] ?? .distantPast, e.execTime)
                newest = max(newest ?? e.execTime, e.execTime)
                guard seenExecutions[e.execId] == nil else { continue }
                seenExecutions[e.execId] = e.execTime
                guard let fill = fill(e, d, working: working) else { continue }
                stats.fills += 1
                out.append(VenueFact(event: .orderFilled(fill), time: e.execTime, causation: fill.isLiquidation ? .none : .local(fill.intentSeq)))
            }
        }
        // Forget ids too old to be read again.
        let horizon = executionCursor.values.min().map { $0.adding(ms: -2 * Self.overlapMs) } ?? .distantPast
        seenExecutions = seenExecutions.filter { $0.value >= horizon }
        return (out, newest)
    }

    /// An execution as the engine's fill; nil for one of an order this journal did not send.
    func fill(_ e: BybitExecution, _ d: InstrumentDefined, working: [OrderTrack]) -> OrderFilled? {
        let liquidation = e.execType == "BustTrade" || e.execType == "AdlTrade" || e.execType == "Delivery"
        let seq = ClientOrderId.intentSeq(of: e.orderLinkId, journal: journal)
        guard seq != nil || liquidation else {
            stats.foreignExecutions += 1
            logger.warning("an execution of an order this journal did not send: left to reconciliation",
                           metadata: ["symbol": "\(e.symbol)", "execId": "\(e.execId)", "orderLinkId": "\(e.orderLinkId)"])
            return nil
        }
        let intentSeq = liquidation ? 0 : seq!
        let track = working.first { $0.intentSeq == intentSeq }
        let leaves = e.leavesQty ?? track.map { Fixed.max(.zero, $0.intent.qty - $0.filledQty - e.execQty) } ?? .zero
        let reference = references[intentSeq] ?? e.markPrice ?? e.execPrice
        let baseFee = d.kind == .spot && !e.feeCurrency.isEmpty && e.feeCurrency == d.baseAsset
        return OrderFilled(intentSeq: intentSeq, instrumentId: d.id, side: e.side, price: e.execPrice, qty: e.execQty, fee: e.execFee,
                           liquidity: e.isMaker ? .maker : .taker, referencePrice: reference, leavesQty: leaves, isLiquidation: liquidation,
                           executionId: e.execId, feeAsset: baseFee ? .base : .quote)
    }

    /// New SETTLEMENT rows of the traded perpetuals since the last read, oldest first.
    private func settlements(now: Timestamp) throws -> [VenueFact] {
        var rows: [BybitTransaction] = []
        for (start, end) in Self.windows(from: fundingCursor.adding(ms: -Self.overlapMs), now: now) {
            rows += try client.transactionLog(category: .linear, type: "SETTLEMENT", startTime: start, endTime: end, limit: 50, maxPages: 100)
        }
        var out: [VenueFact] = []
        for row in rows.sorted(by: { ($0.transactionTime, $0.symbol) < ($1.transactionTime, $1.symbol) }) where row.type == "SETTLEMENT" {
            guard let d = instrument(.linear, row.symbol) else { continue }
            guard seenSettlements.insert(SettlementKey(symbol: row.symbol, ms: row.transactionTime.ms)).inserted else { continue }
            fundingCursor = max(fundingCursor, row.transactionTime)
            let paid = FundingPaid(instrumentId: d.id, settlementTime: row.transactionTime, positionQty: row.signedSize ?? .zero,
                                   markPrice: row.tradePrice ?? .zero, ratePerInterval: row.feeRate ?? .zero, amount: row.funding ?? row.change)
            stats.payments += 1
            out.append(VenueFact(event: .fundingPaid(paid), time: row.transactionTime, causation: .none))
        }
        // The next read starts an overlap before the cursor: anything older is never read again.
        // (The cursor, so the horizon, moves only when rows arrive: most reads prune nothing.)
        if !out.isEmpty {
            let horizon = fundingCursor.adding(ms: -2 * Self.overlapMs).ms
            seenSettlements = seenSettlements.filter { $0.ms >= horizon }
        }
        return out
    }

    // MARK: Start-up

    /// What about the account's settings the engine cannot trade with, one line each (empty:
    /// fine). The engine keeps one net position per perpetual and models one cross margin
    /// over the unified wallet (the spot leg backs the short perpetual): a classic account,
    /// isolated margin, or a perpetual in hedge mode (Bybit lists its sides as positionIdx 1
    /// and 2, and refuses positionIdx 0 orders) would make its orders fail or its risk wrong.
    public func accountProblems() throws -> [String] {
        var out: [String] = []
        let info = try client.accountInfo()
        if info.unifiedMarginStatus == 1 {
            out.append("the account is a classic account (unifiedMarginStatus 1): Carry trades a unified trading account "
                       + "(spot and perpetuals on one wallet). Upgrade it to a unified trading account on Bybit, or use another (sub)account")
        }
        switch info.marginMode {
        case "REGULAR_MARGIN", "PORTFOLIO_MARGIN": break
        case "ISOLATED_MARGIN":
            out.append("the account is in isolated margin (marginMode ISOLATED_MARGIN): Carry's risk model is one cross margin over "
                       + "the wallet. Switch it to cross margin (Bybit: POST /v5/account/set-margin-mode setMarginMode=REGULAR_MARGIN, "
                       + "or the margin mode setting)")
        default:
            out.append("the account reports margin mode '\(info.marginMode)', which Carry does not know: it trades REGULAR_MARGIN (cross) or PORTFOLIO_MARGIN")
        }
        var hedged: [String] = []
        for p in pairs {
            let sides = try client.positions(category: .linear, symbol: p.perp.symbol).filter { $0.symbol == p.perp.symbol }
            if sides.contains(where: { $0.positionIdx != 0 }) { hedged.append(p.perp.symbol) }
        }
        if !hedged.isEmpty {
            out.append("\(hedged.joined(separator: ", ")) \(hedged.count == 1 ? "is" : "are") in hedge mode (positions listed as positionIdx 1 and 2): "
                       + "Carry keeps one net position per perpetual. Switch USDT perpetuals to one-way mode (Bybit: POST /v5/position/switch-mode "
                       + "category=linear coin=USDT mode=0, with no position or order open, or the position mode setting)")
        }
        return out
    }

    /// Sets each perpetual's leverage (one-way mode: buy and sell alike).
    public func setLeverage(_ leverage: Fixed) throws {
        for p in pairs {
            let r = try client.setLeverage(category: .linear, symbol: p.perp.symbol, leverage: leverage)
            logger.info("leverage", metadata: ["symbol": "\(p.perp.symbol)", "leverage": "\(leverage)", "result": "\(r)"])
        }
    }

    /// The venue's fee rates that differ from the config's, one line each.
    public func feeDifferences(_ fees: FeeSchedule) throws -> [String] {
        var out: [String] = []
        for p in pairs {
            for d in [p.spot, p.perp] {
                guard let venue = try client.feeRates(category: Self.category(d), symbol: d.symbol).first(where: { $0.symbol == d.symbol }) else {
                    out.append("\(d.symbol) \(Self.category(d).rawValue): the venue reported no fee rate")
                    continue
                }
                let config = fees.rates(for: d)
                if venue.takerFeeRate != config.taker || venue.makerFeeRate != config.maker {
                    out.append("\(d.symbol) \(Self.category(d).rawValue): the venue charges taker \(venue.takerFeeRate) maker \(venue.makerFeeRate), "
                               + "the config assumes taker \(config.taker) maker \(config.maker)")
                }
            }
        }
        return out
    }
}

extension Event {
    /// The intent an order fact answers.
    var intentSeqOfOrderFact: UInt64? { EngineInput(self).flatMap { if case .venue(let v) = $0 { return v.intentSeq } else { return nil } } }
}
