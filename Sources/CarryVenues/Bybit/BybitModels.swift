// What Carry reads from Bybit's public market endpoints, as exact values. Every number
// arrives as a string and is parsed with `Fixed.parse`, so it prints back byte for byte.

public import CarryCore

/// One settled funding rate (`/v5/market/funding/history`).
public struct BybitFundingRate: Sendable, Equatable {
    public var symbol: String
    /// Rate per interval as a decimal fraction.
    public var rate: Fixed
    /// The settlement time.
    public var time: Timestamp
}

/// One kline (`/v5/market/kline`): `[startTime, open, high, low, close, volume, turnover]`.
public struct BybitKline: Sendable, Equatable {
    public var start: Timestamp
    public var open: Fixed
    public var high: Fixed
    public var low: Fixed
    public var close: Fixed
    /// Base-asset volume (contracts for inverse).
    public var volume: Fixed
    /// Quote-asset turnover.
    public var turnover: Fixed

    /// Nil when high and low enclose open and close; else what is wrong (a venue's bar never is).
    public var envelopeProblem: String? {
        guard high < Fixed.max(open, close) || low > Fixed.min(open, close) else { return nil }
        return "OHLC outside its envelope (open \(open), high \(high), low \(low), close \(close))"
    }

    /// The journal's bar for this kline.
    public func bar(_ instrument: InstrumentId, intervalSeconds: UInt32) -> BarClosed {
        BarClosed(instrumentId: instrument, intervalSeconds: intervalSeconds, openTime: start, open: open, high: high, low: low, close: close,
                  volumeBase: volume, volumeQuote: turnover)
    }
}

/// An instrument's rules (`/v5/market/instruments-info`).
public struct BybitInstrument: Sendable, Equatable {
    public var category: Bybit.Category
    public var symbol: String
    /// `Trading`, `PreLaunch`, `Settling`, …
    public var status: String
    /// `LinearPerpetual`, `LinearFutures`, … (empty for spot).
    public var contractType: String
    public var baseCoin: String
    public var quoteCoin: String
    public var tickSize: Fixed
    /// Linear: `qtyStep`; spot: `basePrecision`.
    public var qtyStep: Fixed
    /// `minOrderQty`.
    public var minQty: Fixed
    /// Linear: `minNotionalValue`; spot: `minOrderAmt`.
    public var minNotional: Fixed
    /// `leverageFilter.maxLeverage`; 1 for spot.
    public var maxLeverage: Fixed
    /// `fundingInterval` in minutes; 0 for spot.
    public var fundingIntervalMinutes: UInt32

    /// True for a perpetual (not a dated future).
    public var isPerpetual: Bool { contractType.hasSuffix("Perpetual") }

    /// The journal's definition of these rules (the journal assigns the id).
    public var definition: InstrumentDefined {
        InstrumentDefined(id: InstrumentId(0), venue: .bybit, kind: category == .spot ? .spot : (category == .inverse ? .inversePerpetual : .linearPerpetual),
                          symbol: symbol, baseAsset: baseCoin, quoteAsset: quoteCoin, tickSize: tickSize, qtyStep: qtyStep, minQty: minQty,
                          minNotional: minNotional, fundingIntervalMinutes: category == .spot ? 0 : fundingIntervalMinutes, maxLeverage: maxLeverage)
    }
}

/// One page of instruments.
public struct BybitInstrumentsPage: Sendable, Equatable {
    public var list: [BybitInstrument]
    /// Empty when this is the last page.
    public var nextPageCursor: String
}

/// A ticker snapshot (`/v5/market/tickers`). Fields a category does not have are nil.
public struct BybitTicker: Sendable, Equatable {
    public var symbol: String
    public var lastPrice: Fixed?
    public var bid1Price: Fixed?
    public var ask1Price: Fixed?
    public var markPrice: Fixed?
    public var indexPrice: Fixed?
    /// The current (predicted next) funding rate of a perpetual.
    public var fundingRate: Fixed?
    public var nextFundingTime: Timestamp?
    /// `fundingIntervalHour`, when the venue sends it.
    public var fundingIntervalHours: Int?
    /// The venue's `basis` when it sends one (dated futures); else nil.
    public var venueBasis: Fixed?

    /// Perp premium over its index: mark − index, when both are known.
    public var basis: Fixed? {
        guard let m = markPrice, let i = indexPrice else { return nil }
        return m - i
    }

    /// The journal's quote for this ticker.
    public func quote(_ instrument: InstrumentId) -> QuoteObserved {
        QuoteObserved(instrumentId: instrument, bid: bid1Price, ask: ask1Price, last: lastPrice, mark: markPrice, index: indexPrice)
    }

    /// The journal's prediction, for perpetuals that carry one.
    public func prediction(_ instrument: InstrumentId, intervalMinutes: UInt32) -> FundingPredicted? {
        guard let rate = fundingRate, let next = nextFundingTime else { return nil }
        let minutes = fundingIntervalHours.map { UInt32($0 * 60) } ?? intervalMinutes
        return FundingPredicted(instrumentId: instrument, nextSettlementTime: next, predictedRatePerInterval: rate, intervalMinutes: minutes)
    }
}

/// The venue's clock (`/v5/market/time`).
public struct BybitServerTime: Sendable, Equatable {
    public var time: Timestamp
}

extension Bybit {
    /// The kline `interval` parameter for a bar length: minutes (`1` … `720`), `D`, `W`, `M`.
    public static func klineInterval(seconds: UInt32) -> String? {
        switch seconds {
        case 60, 180, 300, 900, 1800, 3600, 7200, 14_400, 21_600, 43_200: return String(seconds / 60)
        case 86_400: return "D"
        case 604_800: return "W"
        default: return nil
        }
    }

    /// The bar length of a kline `interval` parameter (months are not fixed: nil).
    public static func klineSeconds(_ interval: String) -> UInt32? {
        switch interval {
        case "D": return 86_400
        case "W": return 604_800
        default:
            guard let m = UInt32(interval), klineInterval(seconds: m * 60) != nil else { return nil }
            return m * 60
        }
    }
}
