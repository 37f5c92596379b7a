// The files of a bundled data directory and how each is read. The layout (see
// data/SOURCES.md) decides venue, kind, symbol and interval; the header decides nothing but
// must match the format exactly, so a re-exported or reordered file is refused rather than
// misread.

public import CarryCore
import Foundation

/// How a CSV file is laid out.
public enum MarketFileFormat: Sendable, Equatable, CustomStringConvertible {
    /// Binance spot klines (`/api/v3/klines` minus `ignore`).
    case binanceSpotKlines
    /// Binance USDⓈ-M perpetual klines (`/fapi/v1/klines`, gravestone-data layout).
    case binancePerpKlines
    /// One symbol's Binance funding, with an optional mark price; 8-hourly.
    case binanceFunding
    /// One symbol's Bybit funding; 8-hourly.
    case bybitFunding
    /// Every symbol's Binance funding with mark price and `intervalHours`.
    case binanceAllSymbolsFunding
    /// Every symbol's Bybit funding with `intervalHours`.
    case bybitAllSymbolsFunding

    /// The exact header the format has.
    public var header: [String] {
        switch self {
        case .binanceSpotKlines:
            return ["open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "trades", "taker_buy_base_volume", "taker_buy_quote_volume"]
        case .binancePerpKlines:
            return ["open_time", "open", "high", "low", "close", "volume", "quote_volume", "trades", "close_time"]
        case .binanceFunding:
            return ["symbol", "fundingTime", "fundingRate", "markPrice", "datetimeUtc", "source"]
        case .bybitFunding:
            return ["symbol", "fundingRateTimestamp", "fundingRate", "datetimeUtc", "source"]
        case .binanceAllSymbolsFunding:
            return ["symbol", "fundingTime", "fundingRate", "markPrice", "intervalHours"]
        case .bybitAllSymbolsFunding:
            return ["symbol", "fundingRateTimestamp", "fundingRate", "intervalHours"]
        }
    }

    /// True for kline files.
    public var isKlines: Bool { self == .binanceSpotKlines || self == .binancePerpKlines }

    public var description: String {
        switch self {
        case .binanceSpotKlines: return "Binance spot klines"
        case .binancePerpKlines: return "Binance USDⓈ-M perpetual klines"
        case .binanceFunding: return "Binance funding (one symbol)"
        case .bybitFunding: return "Bybit funding (one symbol)"
        case .binanceAllSymbolsFunding: return "Binance funding (all symbols)"
        case .bybitAllSymbolsFunding: return "Bybit funding (all symbols)"
        }
    }
}

/// One input file and what it holds.
public struct MarketSourceFile: Sendable, Equatable {
    /// The path to read.
    public var path: String
    /// The name in messages: the path relative to the data directory.
    public var name: String
    public var format: MarketFileFormat
    public var venue: Venue
    /// The kind of the instruments in the file.
    public var kind: InstrumentKind
    /// The symbol, for single-symbol files.
    public var symbol: String?
    /// The bar length, for kline files.
    public var intervalSeconds: UInt32?

    /// Builds a file description (tests build fixtures this way).
    public init(path: String, name: String, format: MarketFileFormat, venue: Venue, kind: InstrumentKind, symbol: String?, intervalSeconds: UInt32?) {
        self.path = path
        self.name = name
        self.format = format
        self.venue = venue
        self.kind = kind
        self.symbol = symbol
        self.intervalSeconds = intervalSeconds
    }
}

/// A data directory in Carry's bundled layout.
public struct BundledDataSet: Sendable {
    /// The directory.
    public let root: String
    /// The market files, in import order.
    public let files: [MarketSourceFile]
    /// The instrument rules table.
    public let instrumentsPath: String

    /// Where each kind of file lives, in the order files are read (which fixes dense ids).
    static let layout: [(dir: String, format: MarketFileFormat, venue: Venue, kind: InstrumentKind)] = [
        ("klines/binance-spot", .binanceSpotKlines, .binance, .spot),
        ("klines/binance-usdm-perp", .binancePerpKlines, .binance, .linearPerpetual),
        ("funding/binance", .binanceFunding, .binance, .linearPerpetual),
        ("funding/bybit", .bybitFunding, .bybit, .linearPerpetual),
    ]

    /// Finds every market file under `root`. A CSV under `klines/` or `funding/` that is not
    /// in the layout is an error: skipping it silently would import less than the operator
    /// thinks.
    public static func discover(_ root: String) throws -> BundledDataSet {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw ImportError(.missing, file: root, "no data directory here. Run carry from the repository root (the bundled data is in data/) or pass --data DIR.")
        }
        let instruments = root + "/instruments.csv"
        guard FileManager.default.fileExists(atPath: instruments) else {
            throw ImportError(.missing, file: instruments, "the instrument rules table is missing; every data directory needs one (see data/SOURCES.md).")
        }
        var files: [MarketSourceFile] = []
        var known: Set<String> = []
        for entry in layout {
            let dir = root + "/" + entry.dir
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            // Single-symbol files first, then the all-symbols files, each sorted by name.
            let csvs = names.filter { $0.hasSuffix(".csv") }.sorted()
            for name in csvs.filter({ !$0.hasPrefix("all_symbols") }) + csvs.filter({ $0.hasPrefix("all_symbols") }) {
                let rel = entry.dir + "/" + name
                known.insert(rel)
                let stem = String(name.dropLast(4))
                var format = entry.format
                var symbol: String? = stem
                var interval: UInt32? = nil
                if entry.format.isKlines {
                    let parts = stem.split(separator: "_")
                    guard parts.count == 2, let seconds = MarketStream.intervalSeconds(named: String(parts[1])) else {
                        throw ImportError(.unknown, file: rel, "kline files are named SYMBOL_INTERVAL.csv (e.g. BTCUSDT_1h.csv)")
                    }
                    symbol = String(parts[0])
                    interval = seconds
                } else if stem.hasPrefix("all_symbols") {
                    format = entry.venue == .binance ? .binanceAllSymbolsFunding : .bybitAllSymbolsFunding
                    symbol = nil
                }
                if let s = symbol, !InstrumentKey.isSymbol(s) {
                    throw ImportError(.unknown, file: rel, "'\(s)' is not a venue symbol (upper-case letters and digits)")
                }
                files.append(MarketSourceFile(path: root + "/" + rel, name: rel, format: format, venue: entry.venue, kind: entry.kind,
                                              symbol: symbol, intervalSeconds: interval))
            }
        }
        // Anything else that looks like market data is refused.
        for top in ["klines", "funding"] {
            guard let e = FileManager.default.enumerator(atPath: root + "/" + top) else { continue }
            var stray: [String] = []
            while let p = e.nextObject() as? String {
                let rel = top + "/" + p
                if p.hasSuffix(".csv") && !known.contains(rel) { stray.append(rel) }
            }
            if let first = stray.sorted().first {
                throw ImportError(.unknown, file: first, "not in a layout Carry imports (\(layout.map { $0.dir + "/" }.joined(separator: ", "))); move or remove it")
            }
        }
        guard !files.isEmpty else {
            throw ImportError(.missing, file: root, "no market files (expected klines/… and funding/… as in data/SOURCES.md)")
        }
        return BundledDataSet(root: root, files: files, instrumentsPath: instruments)
    }
}
