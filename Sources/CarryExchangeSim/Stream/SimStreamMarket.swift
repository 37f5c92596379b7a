// What the loopback venue's public streams say, as of a time: tickers, the top of the book,
// trades and klines derived from a market journal's bars and settlements, in Bybit's message
// shapes. Pure over `SimMarketData` (no sockets, no clock): `update(topic, from, to)` gives
// the messages a topic publishes when the clock moves from one time to the next, so a
// standing clock publishes nothing new and an advancing one publishes what closed meanwhile.
//
// Derivations (the data has bars and settlements, not a book or trades):
//   - last = mark = the latest closed bar's close (finest interval); index = the spot pair's;
//   - fundingRate = the latest settled rate; nextFundingTime = the first settlement time after
//     `t` on the latest settlement's cadence;
//   - book top: bid = close × (1 − halfSpread) rounded down to the tick, ask = close ×
//     (1 + halfSpread) rounded up (at least one tick apart); both sizes = the bar's base volume
//     rounded down to the quantity step;
//   - one trade per closed bar of the finest interval: at the close price, the bar's base
//     volume, taker side Buy when close ≥ open, at the bar's last millisecond;
//   - klines: every closed bar of the topic's interval, `confirm: true`.

public import CarryCore
import CarryVenues

/// The public stream a connection is on.
public enum SimStreamPath: String, Sendable, CaseIterable {
    case linear = "/v5/public/linear"
    case spot = "/v5/public/spot"
    case privateStream = "/v5/private"

    /// The instrument kind a public path serves.
    var kind: InstrumentKind? {
        switch self {
        case .linear: return .linearPerpetual
        case .spot: return .spot
        case .privateStream: return nil
        }
    }
}

/// A public topic's state between publications (what its last message said).
struct SimTopicState: Sendable {
    var time: Timestamp
    /// The ticker's fields as last sent, in order.
    var tickerFields: [(name: String, value: String)] = []
    /// The book top as last sent.
    var book: String = ""
    /// Messages sent on the topic (the book's `u`, the ticker's `cs`).
    var sequence: Int64 = 0
}

/// The public streams over a data set.
public struct SimStreamMarket: Sendable {
    public let data: SimMarketData
    /// Half the quoted spread, as a fraction of the close.
    public let halfSpread: Fixed

    /// Streams `data` with a book `halfSpread` either side of the close.
    public init(data: SimMarketData, halfSpread: Fixed) {
        precondition(!halfSpread.isNegative)
        self.data = data
        self.halfSpread = halfSpread
    }

    /// The instrument and kline interval (seconds) a topic names on `path`; nil when the venue
    /// does not serve it.
    func resolve(_ topic: BybitStreamTopic, on path: SimStreamPath) -> (inst: SimInstrument, intervalSeconds: UInt32)? {
        guard let kind = path.kind else { return nil }
        switch topic {
        case .ticker(let s), .orderbookTop(let s), .trade(let s):
            guard let inst = data.instrument(kind, s), let finest = data.finestInterval(inst) else { return nil }
            return (inst, finest)
        case .kline(let interval, let s):
            guard let inst = data.instrument(kind, s), let seconds = Bybit.klineSeconds(interval), inst.bars[seconds] != nil else { return nil }
            return (inst, seconds)
        default:
            return nil
        }
    }

    /// The messages a new subscriber gets at once (Bybit sends tickers, books and the current
    /// kline on subscribe; trades only as they happen) as of `state.time`, and the topic's
    /// state after them.
    func snapshot(_ topic: BybitStreamTopic, on path: SimStreamPath, state: SimTopicState) -> (messages: [String], state: SimTopicState) {
        guard let (inst, seconds) = resolve(topic, on: path) else { return ([], state) }
        var s = state
        let at = s.time
        switch topic {
        case .ticker:
            let fields = tickerFields(inst, at: at)
            s.tickerFields = fields
            s.sequence += 1
            return ([tickerMessage(topic, fields, type: "snapshot", sequence: s.sequence, at: at)], s)
        case .orderbookTop:
            guard let bar = data.lastBar(inst, intervalSeconds: seconds, before: at) else { return ([], s) }
            s.sequence += 1
            s.book = bookLevels(inst, bar)
            return ([bookMessage(topic, s.book, sequence: s.sequence, at: at)], s)
        case .kline(let interval, let symbol):
            guard let bar = data.lastBar(inst, intervalSeconds: seconds, before: at) else { return ([], s) }
            return ([klineMessage(topic, [bar], interval: interval, symbol: symbol, at: at)], s)
        default:
            return ([], s)
        }
    }

    /// The messages `topic` publishes as the clock moves from `state.time` to `t`.
    func update(_ topic: BybitStreamTopic, on path: SimStreamPath, state: SimTopicState, to t: Timestamp) -> (messages: [String], state: SimTopicState) {
        guard t > state.time, let (inst, seconds) = resolve(topic, on: path) else { return ([], state) }
        var s = state
        s.time = t
        switch topic {
        case .ticker:
            let fields = tickerFields(inst, at: t)
            let changed = fields.filter { f in !state.tickerFields.contains { $0.name == f.name && $0.value == f.value } }
            guard !changed.isEmpty else { return ([], s) }
            s.tickerFields = fields
            s.sequence += 1
            // Linear tickers send only what changed; spot tickers are always snapshots.
            let message = path == .linear && !state.tickerFields.isEmpty
                ? tickerMessage(topic, [fields[0]] + changed.filter { $0.name != "symbol" }, type: "delta", sequence: s.sequence, at: t)
                : tickerMessage(topic, fields, type: "snapshot", sequence: s.sequence, at: t)
            return ([message], s)
        case .orderbookTop:
            guard let bar = data.lastBar(inst, intervalSeconds: seconds, before: t) else { return ([], s) }
            let book = bookLevels(inst, bar)
            guard book != state.book else { return ([], s) }
            s.book = book
            s.sequence += 1
            return ([bookMessage(topic, book, sequence: s.sequence, at: t)], s)
        case .trade:
            let bars = closed(inst, seconds, after: state.time, through: t)
            return (bars.isEmpty ? [] : [tradeMessage(topic, inst, bars, at: t)], s)
        case .kline(let interval, let symbol):
            let bars = closed(inst, seconds, after: state.time, through: t)
            return (bars.isEmpty ? [] : [klineMessage(topic, bars, interval: interval, symbol: symbol, at: t)], s)
        default:
            return ([], s)
        }
    }

    /// Bars of an interval whose close is in (from, to], oldest first.
    func closed(_ inst: SimInstrument, _ seconds: UInt32, after from: Timestamp, through to: Timestamp) -> [BarClosed] {
        let length = Int64(seconds) * 1000
        let bars = data.bars(inst, intervalSeconds: seconds, start: from.adding(ms: 1 - length), end: to.adding(ms: -length), limit: 10_000)
        return bars.reversed()
    }

    // MARK: Derived values

    /// A ticker's fields as of `t`, `symbol` first.
    func tickerFields(_ inst: SimInstrument, at t: Timestamp) -> [(name: String, value: String)] {
        let d = inst.definition
        let bar = data.finestInterval(inst).flatMap { data.lastBar(inst, intervalSeconds: $0, before: t) }
        let close = bar?.close.description ?? ""
        guard d.kind != .spot else {
            return [("symbol", d.symbol), ("lastPrice", close), ("usdIndexPrice", "")]
        }
        let spot = data.instrument(.spot, d.symbol)
        let index = spot.flatMap { sp in data.finestInterval(sp).flatMap { data.lastBar(sp, intervalSeconds: $0, before: t) } }
        let settled = data.funding(inst, start: .distantPast, end: t, limit: 1).first
        let minutes = Int64(settled?.settled.intervalMinutes ?? d.fundingIntervalMinutes)
        var next = ""
        if let settled, minutes > 0 {
            let step = minutes * Millis.minute
            let k = (t.ms - settled.time.ms) / step + 1
            next = String(settled.time.ms + k * step)
        }
        let (bid, ask, size) = bar.map { quote(inst, $0) } ?? ("", "", "")
        return [("symbol", d.symbol), ("lastPrice", close), ("markPrice", close), ("indexPrice", index?.close.description ?? ""),
                ("fundingRate", settled?.settled.ratePerInterval.description ?? ""), ("nextFundingTime", next),
                ("fundingIntervalHour", minutes > 0 ? String(minutes / 60) : ""),
                ("bid1Price", bid), ("bid1Size", size), ("ask1Price", ask), ("ask1Size", size)]
    }

    /// The book top around a bar's close: bid, ask and size, as strings.
    func quote(_ inst: SimInstrument, _ bar: BarClosed) -> (bid: String, ask: String, size: String) {
        let d = inst.definition
        let one = Fixed(1)
        // The product's exact scale (close × (1 ± h) needs no more digits than both have).
        let scale = Int(bar.close.scale) + Int(halfSpread.scale)
        var bid = bar.close.multiplied(by: one - halfSpread, scale: scale, .down).rounded(toMultipleOf: d.tickSize, .down)
        var ask = bar.close.multiplied(by: one + halfSpread, scale: scale, .up).rounded(toMultipleOf: d.tickSize, .up)
        if ask <= bid { ask = bid + d.tickSize }
        if bid.isNegative { bid = Fixed(0) }
        let size = bar.volumeBase.rounded(toMultipleOf: d.qtyStep, .down)
        return (bid.description, ask.description, size.description)
    }

    func bookLevels(_ inst: SimInstrument, _ bar: BarClosed) -> String {
        let q = quote(inst, bar)
        return "\"b\":[[\(JSON.string(q.bid)),\(JSON.string(q.size))]],\"a\":[[\(JSON.string(q.ask)),\(JSON.string(q.size))]]"
    }

    // MARK: Shapes

    func tickerMessage(_ topic: BybitStreamTopic, _ fields: [(name: String, value: String)], type: String, sequence: Int64, at t: Timestamp) -> String {
        let body = fields.map { "\(JSON.string($0.name)):\(JSON.string($0.value))" }.joined(separator: ",")
        return "{\"topic\":\(JSON.string(topic.description)),\"type\":\"\(type)\",\"data\":{\(body)},\"cs\":\(sequence),\"ts\":\(t.ms)}"
    }

    func bookMessage(_ topic: BybitStreamTopic, _ levels: String, sequence: Int64, at t: Timestamp) -> String {
        guard case .orderbookTop(let symbol) = topic else { preconditionFailure("not a book topic: \(topic)") }
        return "{\"topic\":\(JSON.string(topic.description)),\"type\":\"snapshot\",\"ts\":\(t.ms),"
            + "\"data\":{\"s\":\(JSON.string(symbol)),\(levels),\"u\":\(sequence),\"seq\":\(sequence)},\"cts\":\(t.ms)}"
    }

    func tradeMessage(_ topic: BybitStreamTopic, _ inst: SimInstrument, _ bars: [BarClosed], at t: Timestamp) -> String {
        let symbol = inst.definition.symbol
        let items = bars.map { b in
            let time = b.closeTime.ms - 1
            return "{\"T\":\(time),\"s\":\(JSON.string(symbol)),\"S\":\"\(b.close >= b.open ? "Buy" : "Sell")\",\"v\":\(JSON.string(b.volumeBase.description)),"
                + "\"p\":\(JSON.string(b.close.description)),\"L\":\"ZeroPlusTick\",\"i\":\"sim-\(inst.definition.id.index)-\(b.openTime.ms)\",\"BT\":false}"
        }
        return "{\"topic\":\(JSON.string(topic.description)),\"type\":\"snapshot\",\"ts\":\(t.ms),\"data\":[\(items.joined(separator: ","))]}"
    }

    func klineMessage(_ topic: BybitStreamTopic, _ bars: [BarClosed], interval: String, symbol: String, at t: Timestamp) -> String {
        let items = bars.map { b in
            "{\"start\":\(b.openTime.ms),\"end\":\(b.closeTime.ms - 1),\"interval\":\(JSON.string(interval)),\"open\":\(JSON.string(b.open.description)),"
                + "\"close\":\(JSON.string(b.close.description)),\"high\":\(JSON.string(b.high.description)),\"low\":\(JSON.string(b.low.description)),"
                + "\"volume\":\(JSON.string(b.volumeBase.description)),\"turnover\":\(JSON.string(b.volumeQuote.description)),\"confirm\":true,\"timestamp\":\(t.ms)}"
        }
        return "{\"topic\":\(JSON.string(topic.description)),\"data\":[\(items.joined(separator: ","))],\"ts\":\(t.ms),\"type\":\"snapshot\"}"
    }
}
