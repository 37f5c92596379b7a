// Identifiers and small enumerations shared by every event family.
//
// Invariants: instrument ids are dense (0, 1, 2, … in order of definition within a journal)
// so state can live in arrays indexed by id and nothing iterates a hashed collection. Every
// enumeration that reaches the journal has an explicit raw value: the raw value *is* the
// byte layout, so existing values never change meaning.

/// A dense instrument id, assigned in order of first definition in a journal.
public struct InstrumentId: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The index into per-instrument arrays.
    public var rawValue: UInt32
    /// Wraps a dense index.
    @inlinable public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    /// The index as an Int, for array subscripts.
    @inlinable public var index: Int { Int(rawValue) }
    @inlinable public static func < (a: InstrumentId, b: InstrumentId) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "#\(rawValue)" }
}

/// A journal's identity: 128 random bits chosen when it is created.
public struct JournalId: Hashable, Sendable, CustomStringConvertible {
    /// The high 64 bits.
    public var high: UInt64
    /// The low 64 bits.
    public var low: UInt64
    /// Wraps two halves.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }
    /// The zero id, meaning "none".
    public static let none = JournalId(high: 0, low: 0)

    /// 32 lowercase hex digits.
    public var description: String { hex64(high) + hex64(low) }

    /// Parses 32 hex digits (dashes allowed).
    public init?(hex: String) {
        let digits = hex.filter { $0 != "-" }
        guard digits.count == 32, let h = UInt64(digits.prefix(16), radix: 16), let l = UInt64(digits.suffix(16), radix: 16) else { return nil }
        self.init(high: h, low: l)
    }
}

/// 16 lowercase hex digits of a UInt64.
public func hex64(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}

/// A trading venue.
public enum Venue: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case bybit = 1
    case binance = 2
    case okx = 3

    public var description: String {
        switch self {
        case .bybit: return "bybit"
        case .binance: return "binance"
        case .okx: return "okx"
        }
    }

    /// Parses the lowercase name.
    public init?(name: String) {
        guard let v = Venue.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
        self = v
    }
}

/// What kind of contract an instrument is.
public enum InstrumentKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// A spot pair; pays no funding.
    case spot = 1
    /// A USDT/USDC-margined perpetual, quantity in the base asset.
    case linearPerpetual = 2
    /// A coin-margined perpetual quoted in USD.
    case inversePerpetual = 3

    public var description: String {
        switch self {
        case .spot: return "spot"
        case .linearPerpetual: return "linear"
        case .inversePerpetual: return "inverse"
        }
    }

    /// True for the contracts that settle funding.
    public var isPerpetual: Bool { self != .spot }

    /// Parses the name exactly as `description` spells it (`spot`, `linear`, `inverse`).
    public init?(name: String) {
        guard let k = InstrumentKind.allCases.first(where: { $0.description == name }) else { return nil }
        self = k
    }
}

/// Buy or sell.
public enum Side: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case buy = 1
    case sell = 2

    /// +1 for buy, -1 for sell: the sign a fill applies to a position.
    @inlinable public var sign: Int64 { self == .buy ? 1 : -1 }
    /// The other side.
    public var opposite: Side { self == .buy ? .sell : .buy }
    public var description: String { self == .buy ? "buy" : "sell" }
}

/// Market or limit.
public enum OrderType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case market = 1
    case limit = 2
    public var description: String { self == .market ? "market" : "limit" }
}

/// How long an order rests.
public enum TimeInForce: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case goodTillCancel = 1
    case immediateOrCancel = 2
    case fillOrKill = 3
    case postOnly = 4
    public var description: String {
        switch self {
        case .goodTillCancel: return "GTC"
        case .immediateOrCancel: return "IOC"
        case .fillOrKill: return "FOK"
        case .postOnly: return "PostOnly"
        }
    }
}

/// Whether a fill added or took liquidity.
public enum Liquidity: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case maker = 1
    case taker = 2
    public var description: String { self == .maker ? "maker" : "taker" }
}

/// Which leg of a spot+perp pair an order belongs to.
public enum Leg: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Not part of a pair (a manual single-leg order).
    case single = 0
    case spot = 1
    case perp = 2
    public var description: String {
        switch self {
        case .single: return "single"
        case .spot: return "spot"
        case .perp: return "perp"
        }
    }
}

/// What produced a journal: decides how tools present it.
public enum RunMode: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case backtest = 1
    case paper = 2
    case live = 3
    /// A market-data journal written by `carry import`.
    case importer = 4
    /// A market-data journal written by `carry fetch`.
    case fetch = 5
    /// A synthetic journal (demos, benchmarks, tests).
    case synthetic = 6
    public var description: String {
        switch self {
        case .backtest: return "backtest"
        case .paper: return "paper"
        case .live: return "live"
        case .importer: return "import"
        case .fetch: return "fetch"
        case .synthetic: return "synthetic"
        }
    }
}
