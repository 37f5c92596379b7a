// Bybit v5 JSON → exact values. Foundation's decoder reads the structure; every number the
// venue sends as a string stays a string until `Fixed.parse`, so nothing passes through a
// Double. An empty string (Bybit's "not applicable") is nil where a field is optional.
//
// Invariant: a malformed field is reported with its path (`result.list[3].fundingRate`),
// never skipped.

import CarryCore
import Foundation

/// A Bybit request failed; the message says what to do.
public struct BybitError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The venue answered `retCode` ≠ 0 (not a rate limit).
        case venue
        /// Still rate-limited (10006, HTTP 429 or 403) after every retry.
        case rateLimited
        /// An HTTP status that is neither success nor retryable, or 5xx after every retry.
        case http
        /// No response: refused, unresolvable, timed out or dropped after every retry.
        case transport
        /// A response that does not have Bybit's shape.
        case malformed
    }

    public var code: Code
    /// The venue's `retCode`, when it sent one.
    public var retCode: Int?
    public var message: String

    /// Builds an error.
    public init(_ code: Code, retCode: Int? = nil, _ message: String) {
        self.code = code
        self.retCode = retCode
        self.message = message
    }

    public var description: String { message }
}

/// The `retCode` envelope every v5 response has.
public struct BybitEnvelope: Sendable, Equatable {
    public var retCode: Int
    public var retMsg: String
    /// The venue's clock when it answered (ms), when present.
    public var time: Int64?
}

/// Parsers for the public market endpoints.
public enum BybitParser {
    struct Head: Decodable {
        let retCode: Int
        let retMsg: String
        let time: Int64?
    }

    struct Envelope<R: Decodable>: Decodable {
        let result: R
    }

    /// An integer Bybit sends as a number in some places and a string in others.
    struct FlexibleInt: Decodable {
        let value: Int?
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let i = try? c.decode(Int.self) {
                value = i
            } else if let s = try? c.decode(String.self) {
                value = s.isEmpty ? nil : Int(s)
            } else {
                value = nil
            }
        }
    }

    /// Reads the envelope alone (every response, success or not).
    public static func envelope(_ body: [UInt8]) throws -> BybitEnvelope {
        do {
            let h = try JSONDecoder().decode(Head.self, from: Data(body))
            return BybitEnvelope(retCode: h.retCode, retMsg: h.retMsg, time: h.time)
        } catch {
            throw BybitError(.malformed, "the response is not a Bybit v5 envelope (retCode, retMsg): \(describe(error)); body starts \(snippet(body))")
        }
    }

    static func decode<R: Decodable>(_ type: R.Type, _ body: [UInt8], _ what: String) throws -> R {
        do {
            return try JSONDecoder().decode(Envelope<R>.self, from: Data(body)).result
        } catch {
            throw BybitError(.malformed, "\(what): \(describe(error))")
        }
    }

    // MARK: Funding history

    struct FundingResult: Decodable {
        struct Item: Decodable {
            let symbol: String
            let fundingRate: String
            let fundingRateTimestamp: String
        }
        let list: [Item]
    }

    /// `/v5/market/funding/history`, in the venue's order (newest first).
    public static func fundingHistory(_ body: [UInt8]) throws -> [BybitFundingRate] {
        let r = try decode(FundingResult.self, body, "funding history")
        return try r.list.enumerated().map { i, item in
            let path = "result.list[\(i)]"
            return BybitFundingRate(symbol: item.symbol, rate: try fixed(item.fundingRate, path + ".fundingRate"),
                                    time: try millis(item.fundingRateTimestamp, path + ".fundingRateTimestamp"))
        }
    }

    // MARK: Klines

    struct KlineResult: Decodable {
        let symbol: String?
        let category: String?
        let list: [[String]]
    }

    /// `/v5/market/kline`, in the venue's order (newest first).
    public static func klines(_ body: [UInt8]) throws -> [BybitKline] {
        let r = try decode(KlineResult.self, body, "kline")
        return try r.list.enumerated().map { i, row in
            let path = "result.list[\(i)]"
            guard row.count >= 7 else { throw BybitError(.malformed, "\(path) has \(row.count) fields; a kline has 7 (start, open, high, low, close, volume, turnover)") }
            let k = BybitKline(start: try millis(row[0], path + "[0]"), open: try fixed(row[1], path + "[1]"), high: try fixed(row[2], path + "[2]"),
                               low: try fixed(row[3], path + "[3]"), close: try fixed(row[4], path + "[4]"), volume: try fixed(row[5], path + "[5]"),
                               turnover: try fixed(row[6], path + "[6]"))
            if let problem = k.envelopeProblem { throw BybitError(.malformed, "\(path): \(problem)") }
            return k
        }
    }

    // MARK: Instruments

    struct InstrumentsResult: Decodable {
        struct Item: Decodable {
            struct Price: Decodable { let tickSize: String? }
            struct Lot: Decodable {
                let qtyStep: String?
                let basePrecision: String?
                let minOrderQty: String?
                let minNotionalValue: String?
                let minOrderAmt: String?
            }
            struct Leverage: Decodable { let maxLeverage: String? }
            let symbol: String
            let status: String?
            let contractType: String?
            let baseCoin: String
            let quoteCoin: String
            let priceFilter: Price?
            let lotSizeFilter: Lot?
            let leverageFilter: Leverage?
            let fundingInterval: FlexibleInt?
        }
        let category: String?
        let list: [Item]
        let nextPageCursor: String?
    }

    /// `/v5/market/instruments-info` for `category`.
    public static func instruments(_ body: [UInt8], category: Bybit.Category) throws -> BybitInstrumentsPage {
        let r = try decode(InstrumentsResult.self, body, "instruments-info")
        let list = try r.list.enumerated().map { i, item in
            let path = "result.list[\(i)]"
            func need(_ v: String?, _ name: String) throws -> Fixed {
                guard let v, !v.isEmpty else { throw BybitError(.malformed, "\(path).\(name) is missing") }
                return try fixed(v, "\(path).\(name)")
            }
            let spot = category == .spot
            let lot = item.lotSizeFilter
            return BybitInstrument(
                category: category, symbol: item.symbol, status: item.status ?? "", contractType: item.contractType ?? "",
                baseCoin: item.baseCoin, quoteCoin: item.quoteCoin,
                tickSize: try need(item.priceFilter?.tickSize, "priceFilter.tickSize"),
                qtyStep: try need(spot ? lot?.basePrecision : lot?.qtyStep, spot ? "lotSizeFilter.basePrecision" : "lotSizeFilter.qtyStep"),
                minQty: try need(lot?.minOrderQty, "lotSizeFilter.minOrderQty"),
                minNotional: try need(spot ? lot?.minOrderAmt : lot?.minNotionalValue, spot ? "lotSizeFilter.minOrderAmt" : "lotSizeFilter.minNotionalValue"),
                maxLeverage: spot ? Fixed(1) : try need(item.leverageFilter?.maxLeverage, "leverageFilter.maxLeverage"),
                fundingIntervalMinutes: spot ? 0 : UInt32(max(0, item.fundingInterval?.value ?? 0)))
        }
        return BybitInstrumentsPage(list: list, nextPageCursor: r.nextPageCursor ?? "")
    }

    // MARK: Tickers

    struct TickersResult: Decodable {
        struct Item: Decodable {
            let symbol: String
            let lastPrice: String?
            let bid1Price: String?
            let ask1Price: String?
            let markPrice: String?
            let indexPrice: String?
            let fundingRate: String?
            let nextFundingTime: String?
            let fundingIntervalHour: String?
            let basis: String?
        }
        let list: [Item]
    }

    /// `/v5/market/tickers`.
    public static func tickers(_ body: [UInt8]) throws -> [BybitTicker] {
        let r = try decode(TickersResult.self, body, "tickers")
        return try r.list.enumerated().map { i, t in
            let path = "result.list[\(i)]"
            func opt(_ v: String?, _ name: String) throws -> Fixed? {
                guard let v, !v.isEmpty else { return nil }
                return try fixed(v, "\(path).\(name)")
            }
            var next: Timestamp? = nil
            if let n = t.nextFundingTime, !n.isEmpty, n != "0" { next = try millis(n, path + ".nextFundingTime") }
            return BybitTicker(symbol: t.symbol, lastPrice: try opt(t.lastPrice, "lastPrice"), bid1Price: try opt(t.bid1Price, "bid1Price"),
                               ask1Price: try opt(t.ask1Price, "ask1Price"), markPrice: try opt(t.markPrice, "markPrice"),
                               indexPrice: try opt(t.indexPrice, "indexPrice"), fundingRate: try opt(t.fundingRate, "fundingRate"),
                               nextFundingTime: next, fundingIntervalHours: t.fundingIntervalHour.flatMap { Int($0) },
                               venueBasis: try opt(t.basis, "basis"))
        }
    }

    // MARK: Time

    struct TimeResult: Decodable {
        let timeSecond: String
        let timeNano: String
    }

    /// `/v5/market/time`: the venue's clock, to the millisecond.
    public static func serverTime(_ body: [UInt8]) throws -> BybitServerTime {
        let r = try decode(TimeResult.self, body, "time")
        guard r.timeNano.count > 6, let ms = Int64(r.timeNano.dropLast(6)) else {
            throw BybitError(.malformed, "result.timeNano '\(r.timeNano)' is not nanoseconds since the epoch")
        }
        return BybitServerTime(time: Timestamp(ms: ms))
    }

    // MARK: Fields

    static func fixed(_ s: String, _ path: String) throws -> Fixed {
        do {
            return try Fixed.parse(s)
        } catch {
            throw BybitError(.malformed, "\(path) '\(s)' is not a decimal number (\(error))")
        }
    }

    static func millis(_ s: String, _ path: String) throws -> Timestamp {
        guard let v = Int64(s), v >= 0 else { throw BybitError(.malformed, "\(path) '\(s)' is not epoch milliseconds") }
        return Timestamp(ms: v)
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let ctx):
            return "\(path(ctx.codingPath + [key])) is missing"
        case DecodingError.typeMismatch(let type, let ctx):
            return "\(path(ctx.codingPath)) is not a \(type)"
        case DecodingError.valueNotFound(_, let ctx):
            return "\(path(ctx.codingPath)) is null"
        case DecodingError.dataCorrupted(let ctx):
            return ctx.codingPath.isEmpty ? "not JSON (\(ctx.debugDescription))" : "\(path(ctx.codingPath)): \(ctx.debugDescription)"
        default:
            return "\(error)"
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        var s = ""
        for k in keys {
            if let i = k.intValue { s += "[\(i)]" } else { s += s.isEmpty ? k.stringValue : "." + k.stringValue }
        }
        return s.isEmpty ? "the document" : s
    }

    static func snippet(_ body: [UInt8]) -> String {
        let text = String(decoding: body.prefix(120), as: UTF8.self)
        return "'\(text)\(body.count > 120 ? "…" : "")'"
    }
}
