// What Carry reads from Bybit v5's WebSocket streams, as exact values (every decimal through
// `Fixed.parse`). Public topics: `tickers`, `orderbook.1`, `publicTrade`, `kline`; private:
// `order`, `execution`, `position`, `wallet`, in the REST client's types (`BybitOrder`,
// `BybitExecution`, `BybitPosition`, `BybitWallet`: the topics carry the list items' fields).
// Fields a message does not carry are nil; Bybit's empty string ("not applicable") is nil too.

public import CarryCore

/// A stream topic, named as Bybit names it on the wire.
public enum BybitStreamTopic: Hashable, Sendable, CustomStringConvertible {
    /// `tickers.{symbol}`: snapshot then deltas (linear), snapshots (spot).
    case ticker(String)
    /// `orderbook.1.{symbol}`: the top of the book.
    case orderbookTop(String)
    /// `publicTrade.{symbol}`.
    case trade(String)
    /// `kline.{interval}.{symbol}`, interval as Bybit names it (`1`, `60`, `D`, …).
    case kline(interval: String, symbol: String)
    case order
    case execution
    case position
    case wallet

    /// The wire name (`tickers.BTCUSDT`).
    public var description: String {
        switch self {
        case .ticker(let s): return "tickers.\(s)"
        case .orderbookTop(let s): return "orderbook.1.\(s)"
        case .trade(let s): return "publicTrade.\(s)"
        case .kline(let i, let s): return "kline.\(i).\(s)"
        case .order: return "order"
        case .execution: return "execution"
        case .position: return "position"
        case .wallet: return "wallet"
        }
    }

    /// True for the topics of `/v5/private` (they need the auth handshake).
    public var isPrivate: Bool {
        switch self {
        case .order, .execution, .position, .wallet: return true
        default: return false
        }
    }

    /// Parses a wire name; nil for topics Carry does not read.
    public init?(name: String) {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        switch (parts.first, parts.count) {
        case ("tickers", 2) where !parts[1].isEmpty: self = .ticker(parts[1])
        case ("orderbook", 3) where parts[1] == "1" && !parts[2].isEmpty: self = .orderbookTop(parts[2])
        case ("publicTrade", 2) where !parts[1].isEmpty: self = .trade(parts[1])
        case ("kline", 3) where !parts[1].isEmpty && !parts[2].isEmpty: self = .kline(interval: parts[1], symbol: parts[2])
        case ("order", 1): self = .order
        case ("execution", 1): self = .execution
        case ("position", 1): self = .position
        case ("wallet", 1): self = .wallet
        default: return nil
        }
    }
}

/// A ticker, linear deltas already merged onto the snapshot: every field is the latest value
/// the venue sent for it.
public struct BybitStreamTicker: Sendable, Equatable {
    public var symbol: String
    public var lastPrice: Fixed?
    public var markPrice: Fixed?
    public var indexPrice: Fixed?
    /// The current funding rate per interval (Bybit's predicted next settlement's rate).
    public var fundingRate: Fixed?
    public var nextFundingTime: Timestamp?
    public var fundingIntervalHours: Fixed?
    public var bid1Price: Fixed?
    public var bid1Size: Fixed?
    public var ask1Price: Fixed?
    public var ask1Size: Fixed?
    /// The message's `ts` (the venue's clock when it generated the data).
    public var time: Timestamp
    /// Cross sequence (`cs`), when sent.
    public var crossSequence: Int64?

    /// An empty ticker of `symbol` at `time`.
    public init(symbol: String, time: Timestamp) {
        self.symbol = symbol
        self.time = time
    }
}

/// The fields of a ticker a message can carry; a delta carries only those that changed.
public enum BybitTickerField: String, Sendable, CaseIterable {
    case lastPrice, markPrice, indexPrice, fundingRate, nextFundingTime, fundingIntervalHour
    case bid1Price, bid1Size, ask1Price, ask1Size
}

/// One `tickers` message before merging: a snapshot (every field) or a delta (`present` only).
public struct BybitTickerUpdate: Sendable, Equatable {
    public var isSnapshot: Bool
    /// The values; fields not in `present` are nil and mean "unchanged".
    public var values: BybitStreamTicker
    /// The fields the message carried, in `BybitTickerField` order.
    public var present: [BybitTickerField]
}

/// `orderbook.1`: the best bid and ask.
public struct BybitOrderbookTop: Sendable, Equatable {
    public var symbol: String
    public var bidPrice: Fixed?
    public var bidSize: Fixed?
    public var askPrice: Fixed?
    public var askSize: Fixed?
    /// `u`: the update id (1 after a service restart, Bybit says).
    public var updateId: Int64
    public var seq: Int64?
    /// `ts`: when the system generated the data.
    public var time: Timestamp
    /// `cts`: the matching engine's timestamp, when sent.
    public var matchTime: Timestamp?
}

/// One `publicTrade` entry.
public struct BybitPublicTrade: Sendable, Equatable {
    public var symbol: String
    /// `T`: when the trade filled.
    public var time: Timestamp
    /// `S`: the taker's side.
    public var side: Side
    public var price: Fixed
    public var size: Fixed
    /// `i`: the trade id.
    public var tradeId: String
}

/// One `kline` entry: the REST kline's values, plus the stream's symbol, interval, end and
/// `confirm`.
public struct BybitStreamKline: Sendable, Equatable {
    public var symbol: String
    /// Bybit's interval name (`60`, `D`).
    public var interval: String
    /// Start, OHLC, volume and turnover.
    public var bar: BybitKline
    /// `end`: the last millisecond of the bar.
    public var end: Timestamp
    /// True once the bar has closed.
    public var confirm: Bool
}

/// An answer to an `op` (subscribe, unsubscribe, auth, ping): Bybit's `success`/`ret_msg`
/// shape, or the private pong `{"op":"pong","args":[ms]}`.
public struct BybitOpReply: Sendable, Equatable {
    public var op: String
    public var success: Bool
    public var retMsg: String
    public var connId: String?
    public var reqId: String?
}

/// One frame from the venue, parsed.
public enum BybitStreamFrame: Sendable, Equatable {
    case reply(BybitOpReply)
    case ticker(BybitTickerUpdate)
    case orderbookTop(BybitOrderbookTop)
    case trades([BybitPublicTrade])
    case klines([BybitStreamKline])
    case orders([BybitOrder])
    case executions([BybitExecution])
    case positions([BybitPosition])
    case wallets([BybitWallet])
}

/// A frame that does not parse: what is wrong (a field path), and the raw bytes' SHA-256 and
/// length so the caller can journal it without the bytes.
public struct BybitStreamParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// Lower-case hex SHA-256 of the raw frame.
    public var rawSHA256: String
    public var rawLength: Int

    public var description: String { "\(message) (frame of \(rawLength) bytes, sha256 \(rawSHA256))" }
}
