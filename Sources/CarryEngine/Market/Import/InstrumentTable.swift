// The trading rules of bundled instruments (data/instruments.csv): one row per venue, kind
// and symbol, or a `*SUFFIX` default for every other symbol with that suffix.
//
// Invariant: a lookup is exact first, then the longest matching suffix; never a guess.

public import CarryCore

/// What a venue, kind and symbol is.
public struct InstrumentKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var venue: Venue
    public var kind: InstrumentKind
    public var symbol: String

    /// Builds a key.
    public init(venue: Venue, kind: InstrumentKind, symbol: String) {
        self.venue = venue
        self.kind = kind
        self.symbol = symbol
    }

    public static func < (a: InstrumentKey, b: InstrumentKey) -> Bool {
        (a.venue.rawValue, a.kind.rawValue, a.symbol) < (b.venue.rawValue, b.kind.rawValue, b.symbol)
    }

    /// `binance BTCUSDT linear`.
    public var description: String { "\(venue) \(symbol) \(kind)" }

    /// True when `s` is spelled like a venue symbol: ASCII upper-case letters and digits.
    static func isSymbol<S: StringProtocol>(_ s: S) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }
}

/// The rules a venue publishes for an instrument.
public struct InstrumentRules: Sendable, Equatable {
    public var baseAsset: String
    public var quoteAsset: String
    public var tickSize: Fixed
    public var qtyStep: Fixed
    public var minQty: Fixed
    public var minNotional: Fixed
    public var maxLeverage: Fixed

    /// Builds rules.
    public init(baseAsset: String, quoteAsset: String, tickSize: Fixed, qtyStep: Fixed, minQty: Fixed, minNotional: Fixed, maxLeverage: Fixed) {
        self.baseAsset = baseAsset
        self.quoteAsset = quoteAsset
        self.tickSize = tickSize
        self.qtyStep = qtyStep
        self.minQty = minQty
        self.minNotional = minNotional
        self.maxLeverage = maxLeverage
    }

    /// The definition of `key` under these rules (the journal assigns the id).
    public func definition(_ key: InstrumentKey, fundingIntervalMinutes: UInt32) -> InstrumentDefined {
        InstrumentDefined(id: InstrumentId(0), venue: key.venue, kind: key.kind, symbol: key.symbol,
                          baseAsset: baseAsset, quoteAsset: quoteAsset, tickSize: tickSize, qtyStep: qtyStep,
                          minQty: minQty, minNotional: minNotional,
                          fundingIntervalMinutes: key.kind.isPerpetual ? fundingIntervalMinutes : 0, maxLeverage: maxLeverage)
    }
}

/// data/instruments.csv, parsed.
public struct InstrumentTable: Sendable {
    struct Row: Sendable {
        var venue: Venue
        var kind: InstrumentKind
        /// The exact symbol, or the suffix of a `*SUFFIX` default.
        var pattern: String
        var isDefault: Bool
        var rules: InstrumentRules
    }

    var rows: [Row] = []
    /// Where the table came from, for messages.
    public let file: String

    static let header = ["venue", "kind", "symbol", "baseAsset", "quoteAsset", "tickSize", "qtyStep", "minQty", "minNotional", "maxLeverage"]

    /// Reads and validates the table.
    public static func load(_ path: String, displayName: String) throws -> InstrumentTable {
        var table = InstrumentTable(file: displayName)
        let bytes = try CSVFile.load(path, displayName: displayName)
        try CSVFile.forEachRow(in: bytes, file: displayName, header: { row in
            let names = CSVFile.names(row)
            guard names == header else {
                throw row.error("expected the columns \(header.joined(separator: ",")), found \(names.joined(separator: ","))")
            }
        }, body: { row in
            guard let venue = Venue(name: row.text(0)) else { throw row.error("unknown venue '\(row.text(0))' (binance, bybit, okx)") }
            guard let kind = InstrumentKind(name: row.text(1)) else { throw row.error("unknown kind '\(row.text(1))' (spot, linear, inverse)") }
            let symbol = row.text(2)
            let isDefault = symbol.hasPrefix("*")
            let pattern = isDefault ? String(symbol.dropFirst()) : symbol
            guard InstrumentKey.isSymbol(pattern) else {
                throw row.error("symbol '\(symbol)' must be upper-case letters and digits, or *SUFFIX")
            }
            let base = row.text(3)
            guard isDefault == (base == "*") else {
                throw row.error(isDefault ? "a *SUFFIX default row takes baseAsset '*' (the rest of the symbol)" : "baseAsset '*' is only for *SUFFIX rows")
            }
            var values: [Fixed] = []
            for (i, name) in ["tickSize", "qtyStep", "minQty", "minNotional", "maxLeverage"].enumerated() {
                let v = try row.fixed(5 + i, name)
                guard v.isPositive else { throw row.error("\(name) must be positive, found \(v)") }
                values.append(v)
            }
            if kind == .spot && values[4] != Fixed(1) { throw row.error("spot instruments have maxLeverage 1") }
            let rules = InstrumentRules(baseAsset: base, quoteAsset: row.text(4), tickSize: values[0], qtyStep: values[1],
                                        minQty: values[2], minNotional: values[3], maxLeverage: values[4])
            if table.rows.contains(where: { $0.venue == venue && $0.kind == kind && $0.pattern == pattern && $0.isDefault == isDefault }) {
                throw row.error("\(venue) \(row.text(1)) \(symbol) appears twice")
            }
            table.rows.append(Row(venue: venue, kind: kind, pattern: pattern, isDefault: isDefault, rules: rules))
        })
        return table
    }

    /// The rules of `key`: its own row, else the longest `*SUFFIX` default that matches.
    public func rules(for key: InstrumentKey) -> InstrumentRules? {
        if let exact = rows.first(where: { !$0.isDefault && $0.venue == key.venue && $0.kind == key.kind && $0.pattern == key.symbol }) {
            return exact.rules
        }
        let candidates = rows.filter {
            $0.isDefault && $0.venue == key.venue && $0.kind == key.kind && key.symbol.hasSuffix($0.pattern) && key.symbol.count > $0.pattern.count
        }
        guard let best = candidates.max(by: { $0.pattern.count < $1.pattern.count }) else { return nil }
        var rules = best.rules
        rules.baseAsset = String(key.symbol.dropLast(best.pattern.count))
        return rules
    }
}
