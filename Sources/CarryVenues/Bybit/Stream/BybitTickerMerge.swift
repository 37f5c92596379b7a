// Linear `tickers` come as one snapshot and then deltas that carry only the fields that
// changed; a consumer wants the whole ticker every time. This folds them, per symbol. Pure.
//
// Invariant: a delta is applied only onto a snapshot of its symbol; one without (after a
// reconnect, before the venue's new snapshot) is an error value, never a guess.

import CarryCore

/// The latest full ticker per symbol.
public struct BybitTickerMerger: Sendable {
    private var tickers: [String: BybitStreamTicker] = [:]

    public init() {}

    /// Applies a snapshot (replaces) or a delta (overwrites the fields it carries) and returns
    /// the merged ticker; throws for a delta whose symbol has no snapshot yet.
    public mutating func apply(_ update: BybitTickerUpdate) throws(BybitStreamMergeError) -> BybitStreamTicker {
        let symbol = update.values.symbol
        if update.isSnapshot {
            tickers[symbol] = update.values
            return update.values
        }
        guard var t = tickers[symbol] else { throw BybitStreamMergeError(symbol: symbol) }
        let v = update.values
        for field in update.present {
            switch field {
            case .lastPrice: t.lastPrice = v.lastPrice
            case .markPrice: t.markPrice = v.markPrice
            case .indexPrice: t.indexPrice = v.indexPrice
            case .fundingRate: t.fundingRate = v.fundingRate
            case .nextFundingTime: t.nextFundingTime = v.nextFundingTime
            case .fundingIntervalHour: t.fundingIntervalHours = v.fundingIntervalHours
            case .bid1Price: t.bid1Price = v.bid1Price
            case .bid1Size: t.bid1Size = v.bid1Size
            case .ask1Price: t.ask1Price = v.ask1Price
            case .ask1Size: t.ask1Size = v.ask1Size
            }
        }
        t.time = v.time
        t.crossSequence = v.crossSequence ?? t.crossSequence
        tickers[symbol] = t
        return t
    }

    /// Forgets every snapshot (a new connection starts from new snapshots).
    public mutating func reset() { tickers.removeAll() }
}

/// A ticker delta arrived for a symbol with no snapshot.
public struct BybitStreamMergeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var symbol: String
    public var description: String { "a tickers delta for \(symbol) arrived before its snapshot" }
}
