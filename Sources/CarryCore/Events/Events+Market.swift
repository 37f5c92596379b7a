// Market and reference data: the facts the strategy reads.
//
// Invariants (no look-ahead): a bar's event time is its close (openTime + interval); a
// settled funding rate's event time is its settlement timestamp; a predicted rate's event
// time is when it was observed. Nothing here is visible to the reducer before its event time.

/// An instrument's trading rules, as the venue publishes them.
public struct InstrumentDefined: EventPayload {
    public static let kind = EventKind.instrumentDefined
    /// The dense id this journal gives the instrument.
    public var id: InstrumentId
    public var venue: Venue
    public var kind: InstrumentKind
    /// The venue's symbol (`BTCUSDT`); spot and perp share it, `kind` tells them apart.
    public var symbol: String
    public var baseAsset: String
    public var quoteAsset: String
    /// Smallest price increment.
    public var tickSize: Fixed
    /// Smallest quantity increment.
    public var qtyStep: Fixed
    /// Smallest order quantity.
    public var minQty: Fixed
    /// Smallest order value in the quote asset.
    public var minNotional: Fixed
    /// Funding interval in force when defined; 0 for spot.
    public var fundingIntervalMinutes: UInt32
    /// The venue's leverage cap; 1 for spot.
    public var maxLeverage: Fixed

    /// Builds the rules of an instrument.
    public init(id: InstrumentId, venue: Venue, kind: InstrumentKind, symbol: String, baseAsset: String, quoteAsset: String,
                tickSize: Fixed, qtyStep: Fixed, minQty: Fixed, minNotional: Fixed, fundingIntervalMinutes: UInt32, maxLeverage: Fixed) {
        self.id = id
        self.venue = venue
        self.kind = kind
        self.symbol = symbol
        self.baseAsset = baseAsset
        self.quoteAsset = quoteAsset
        self.tickSize = tickSize
        self.qtyStep = qtyStep
        self.minQty = minQty
        self.minNotional = minNotional
        self.fundingIntervalMinutes = fundingIntervalMinutes
        self.maxLeverage = maxLeverage
    }

    public var instrument: InstrumentId? { id }

    public func encode(to w: inout ByteWriter) {
        w.write(id)
        w.write(venue.rawValue)
        w.write(kind.rawValue)
        w.write(symbol)
        w.write(baseAsset)
        w.write(quoteAsset)
        w.write(tickSize)
        w.write(qtyStep)
        w.write(minQty)
        w.write(minNotional)
        w.write(fundingIntervalMinutes)
        w.write(maxLeverage)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        id = try r.readInstrument("instrument.id")
        venue = try r.readEnum(Venue.self, "instrument.venue")
        kind = try r.readEnum(InstrumentKind.self, "instrument.kind")
        symbol = try r.readString("instrument.symbol")
        baseAsset = try r.readString("instrument.baseAsset")
        quoteAsset = try r.readString("instrument.quoteAsset")
        tickSize = try r.readFixed("instrument.tickSize")
        qtyStep = try r.readFixed("instrument.qtyStep")
        minQty = try r.readFixed("instrument.minQty")
        minNotional = try r.readFixed("instrument.minNotional")
        fundingIntervalMinutes = try r.read(UInt32.self, "instrument.fundingIntervalMinutes")
        maxLeverage = try r.readFixed("instrument.maxLeverage")
        try r.finish("instrument.defined")
    }

    public var fields: [EventField] {
        [EventField("instrument", .instrument(id)), EventField("venue", .name(venue.description)),
         EventField("kind", .name(kind.description)), EventField("symbol", .text(symbol)),
         EventField("baseAsset", .text(baseAsset)), EventField("quoteAsset", .text(quoteAsset)),
         EventField("tickSize", .fixed(tickSize)), EventField("qtyStep", .fixed(qtyStep)),
         EventField("minQty", .fixed(minQty)), EventField("minNotional", .fixed(minNotional)),
         EventField("fundingIntervalMinutes", .uint(UInt64(fundingIntervalMinutes))),
         EventField("maxLeverage", .fixed(maxLeverage))]
    }
}

/// An OHLCV bar, journaled at its close.
public struct BarClosed: EventPayload {
    public static let kind = EventKind.barClosed
    public var instrumentId: InstrumentId
    /// Bar length in seconds (3600 for 1h).
    public var intervalSeconds: UInt32
    /// Start of the bar; its close (the event time) is `openTime + intervalSeconds`.
    public var openTime: Timestamp
    public var open: Fixed
    public var high: Fixed
    public var low: Fixed
    public var close: Fixed
    /// Traded volume in the base asset.
    public var volumeBase: Fixed
    /// Traded value in the quote asset.
    public var volumeQuote: Fixed
    /// Base volume bought by takers, when the source has it.
    public var takerBuyVolumeBase: Fixed?
    /// Quote value bought by takers, when the source has it.
    public var takerBuyVolumeQuote: Fixed?
    /// Number of trades, 0 when unknown.
    public var tradeCount: UInt64

    /// Builds a bar.
    public init(instrumentId: InstrumentId, intervalSeconds: UInt32, openTime: Timestamp, open: Fixed, high: Fixed, low: Fixed, close: Fixed,
                volumeBase: Fixed, volumeQuote: Fixed, takerBuyVolumeBase: Fixed? = nil, takerBuyVolumeQuote: Fixed? = nil, tradeCount: UInt64 = 0) {
        self.instrumentId = instrumentId
        self.intervalSeconds = intervalSeconds
        self.openTime = openTime
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volumeBase = volumeBase
        self.volumeQuote = volumeQuote
        self.takerBuyVolumeBase = takerBuyVolumeBase
        self.takerBuyVolumeQuote = takerBuyVolumeQuote
        self.tradeCount = tradeCount
    }

    /// The instant the bar closed: its event time.
    @inlinable public var closeTime: Timestamp { openTime.adding(ms: Int64(intervalSeconds) * 1000) }

    public var instrument: InstrumentId? { instrumentId }

    public func encode(to w: inout ByteWriter) {
        w.write(instrumentId)
        w.write(intervalSeconds)
        w.write(openTime)
        w.write(open)
        w.write(high)
        w.write(low)
        w.write(close)
        w.write(volumeBase)
        w.write(volumeQuote)
        w.write(takerBuyVolumeBase)
        w.write(takerBuyVolumeQuote)
        w.write(tradeCount)
    }

    @inlinable
    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        instrumentId = try r.readInstrument("bar.instrument")
        intervalSeconds = try r.read(UInt32.self, "bar.intervalSeconds")
        openTime = try r.readTimestamp("bar.openTime")
        open = try r.readFixed("bar.open")
        high = try r.readFixed("bar.high")
        low = try r.readFixed("bar.low")
        close = try r.readFixed("bar.close")
        volumeBase = try r.readFixed("bar.volumeBase")
        volumeQuote = try r.readFixed("bar.volumeQuote")
        takerBuyVolumeBase = try r.readOptionalFixed("bar.takerBuyVolumeBase")
        takerBuyVolumeQuote = try r.readOptionalFixed("bar.takerBuyVolumeQuote")
        tradeCount = try r.read(UInt64.self, "bar.tradeCount")
        try r.finish("bar.closed")
    }

    public var fields: [EventField] {
        [EventField("instrument", .instrument(instrumentId)), EventField("intervalSeconds", .uint(UInt64(intervalSeconds))),
         EventField("openTime", .time(openTime)), EventField("open", .fixed(open)), EventField("high", .fixed(high)),
         EventField("low", .fixed(low)), EventField("close", .fixed(close)), EventField("volumeBase", .fixed(volumeBase)),
         EventField("volumeQuote", .fixed(volumeQuote)), EventField("takerBuyVolumeBase", .optional(takerBuyVolumeBase)),
         EventField("takerBuyVolumeQuote", .optional(takerBuyVolumeQuote)), EventField("tradeCount", .uint(tradeCount))]
    }
}

/// A ticker snapshot: top of book and the venue's mark and index prices.
public struct QuoteObserved: EventPayload {
    public static let kind = EventKind.quoteObserved
    public var instrumentId: InstrumentId
    public var bid: Fixed?
    public var ask: Fixed?
    public var last: Fixed?
    /// The venue's mark price (perps), used for margin and funding.
    public var mark: Fixed?
    /// The venue's index price (perps).
    public var index: Fixed?

    /// Builds a quote.
    public init(instrumentId: InstrumentId, bid: Fixed?, ask: Fixed?, last: Fixed?, mark: Fixed?, index: Fixed?) {
        self.instrumentId = instrumentId
        self.bid = bid
        self.ask = ask
        self.last = last
        self.mark = mark
        self.index = index
    }

    public var instrument: InstrumentId? { instrumentId }

    public func encode(to w: inout ByteWriter) {
        w.write(instrumentId)
        w.write(bid)
        w.write(ask)
        w.write(last)
        w.write(mark)
        w.write(index)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        instrumentId = try r.readInstrument("quote.instrument")
        bid = try r.readOptionalFixed("quote.bid")
        ask = try r.readOptionalFixed("quote.ask")
        last = try r.readOptionalFixed("quote.last")
        mark = try r.readOptionalFixed("quote.mark")
        index = try r.readOptionalFixed("quote.index")
        try r.finish("quote.observed")
    }

    public var fields: [EventField] {
        [EventField("instrument", .instrument(instrumentId)), EventField("bid", .optional(bid)), EventField("ask", .optional(ask)),
         EventField("last", .optional(last)), EventField("mark", .optional(mark)), EventField("index", .optional(index))]
    }
}

/// A funding rate settled by the venue, journaled at its settlement timestamp.
public struct FundingSettled: EventPayload {
    public static let kind = EventKind.fundingSettled
    public var instrumentId: InstrumentId
    /// Rate per interval as a decimal fraction (0.0001 = 1 bp); positive: longs pay shorts.
    public var ratePerInterval: Fixed
    /// The interval this rate applied to.
    public var intervalMinutes: UInt32
    /// The mark price at settlement, when the source has it.
    public var markPrice: Fixed?

    /// Builds a settlement.
    public init(instrumentId: InstrumentId, ratePerInterval: Fixed, intervalMinutes: UInt32, markPrice: Fixed?) {
        self.instrumentId = instrumentId
        self.ratePerInterval = ratePerInterval
        self.intervalMinutes = intervalMinutes
        self.markPrice = markPrice
    }

    public var instrument: InstrumentId? { instrumentId }

    public func encode(to w: inout ByteWriter) {
        w.write(instrumentId)
        w.write(ratePerInterval)
        w.write(intervalMinutes)
        w.write(markPrice)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        instrumentId = try r.readInstrument("funding.instrument")
        ratePerInterval = try r.readFixed("funding.ratePerInterval")
        intervalMinutes = try r.read(UInt32.self, "funding.intervalMinutes")
        markPrice = try r.readOptionalFixed("funding.markPrice")
        try r.finish("funding.settled")
    }

    public var fields: [EventField] {
        [EventField("instrument", .instrument(instrumentId)), EventField("ratePerInterval", .fixed(ratePerInterval)),
         EventField("intervalMinutes", .uint(UInt64(intervalMinutes))), EventField("markPrice", .optional(markPrice))]
    }
}

/// The venue's predicted rate for the next settlement, journaled when observed.
public struct FundingPredicted: EventPayload {
    public static let kind = EventKind.fundingPredicted
    public var instrumentId: InstrumentId
    public var nextSettlementTime: Timestamp
    public var predictedRatePerInterval: Fixed
    public var intervalMinutes: UInt32

    /// Builds a prediction.
    public init(instrumentId: InstrumentId, nextSettlementTime: Timestamp, predictedRatePerInterval: Fixed, intervalMinutes: UInt32) {
        self.instrumentId = instrumentId
        self.nextSettlementTime = nextSettlementTime
        self.predictedRatePerInterval = predictedRatePerInterval
        self.intervalMinutes = intervalMinutes
    }

    public var instrument: InstrumentId? { instrumentId }

    public func encode(to w: inout ByteWriter) {
        w.write(instrumentId)
        w.write(nextSettlementTime)
        w.write(predictedRatePerInterval)
        w.write(intervalMinutes)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        instrumentId = try r.readInstrument("predicted.instrument")
        nextSettlementTime = try r.readTimestamp("predicted.nextSettlementTime")
        predictedRatePerInterval = try r.readFixed("predicted.rate")
        intervalMinutes = try r.read(UInt32.self, "predicted.intervalMinutes")
        try r.finish("funding.predicted")
    }

    public var fields: [EventField] {
        [EventField("instrument", .instrument(instrumentId)), EventField("nextSettlementTime", .time(nextSettlementTime)),
         EventField("predictedRatePerInterval", .fixed(predictedRatePerInterval)),
         EventField("intervalMinutes", .uint(UInt64(intervalMinutes)))]
    }
}

/// A change of a perpetual's funding interval, effective at the event time.
public struct FundingIntervalChanged: EventPayload {
    public static let kind = EventKind.fundingIntervalChanged
    public var instrumentId: InstrumentId
    public var previousMinutes: UInt32
    public var newMinutes: UInt32

    /// Builds an interval change.
    public init(instrumentId: InstrumentId, previousMinutes: UInt32, newMinutes: UInt32) {
        self.instrumentId = instrumentId
        self.previousMinutes = previousMinutes
        self.newMinutes = newMinutes
    }

    public var instrument: InstrumentId? { instrumentId }

    public func encode(to w: inout ByteWriter) {
        w.write(instrumentId)
        w.write(previousMinutes)
        w.write(newMinutes)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        instrumentId = try r.readInstrument("interval.instrument")
        previousMinutes = try r.read(UInt32.self, "interval.previousMinutes")
        newMinutes = try r.read(UInt32.self, "interval.newMinutes")
        try r.finish("funding.interval")
    }

    public var fields: [EventField] {
        [EventField("instrument", .instrument(instrumentId)), EventField("previousMinutes", .uint(UInt64(previousMinutes))),
         EventField("newMinutes", .uint(UInt64(newMinutes)))]
    }
}
