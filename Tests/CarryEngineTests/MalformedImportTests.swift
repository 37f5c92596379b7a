// Bad input to `carry import`: each malformed file is refused with file:line and a reason,
// and nothing is journaled — the journal's last seq stays where the last good import left it.

import CarryCore
import CarryEngine
import CarryJournal
import CarryTesting
import Foundation
import Testing

/// A small data directory in the bundled layout, built from text.
struct MiniDataSet {
    let dir: ScratchDirectory
    var root: String { dir.sub("data") }

    static let instruments = """
    # test rules
    venue,kind,symbol,baseAsset,quoteAsset,tickSize,qtyStep,minQty,minNotional,maxLeverage
    binance,spot,BTCUSDT,BTC,USDT,0.01,0.00001,0.00001,5,1
    binance,linear,BTCUSDT,BTC,USDT,0.10,0.001,0.001,100,125
    binance,linear,*USDT,*,USDT,0.0001,0.1,0.1,5,50
    bybit,linear,*USDT,*,USDT,0.0001,0.1,0.1,5,50

    """

    static let spotHeader = "open_time,open,high,low,close,volume,close_time,quote_volume,trades,taker_buy_base_volume,taker_buy_quote_volume\n"
    static let spotRows = [
        "1640995200000,46216.93000000,46731.39000000,46208.37000000,46656.13000000,1503.33095000,1640998799999,69879986.39049930,38608,806.06536000,37462156.91764400",
        "1640998800000,46656.14000000,46949.99000000,46574.06000000,46778.14000000,943.81539000,1641002399999,44127148.11760220,31872,491.18067000,22963272.85537420",
        "1641002400000,46778.14000000,46928.94000000,46721.96000000,46811.77000000,485.16860000,1641005999999,22700384.35408000,24364,250.28575000,11710775.89287160",
    ]
    static let fundingHeader = "symbol,fundingTime,fundingRate,markPrice,datetimeUtc,source\n"
    static let fundingRows = [
        "BTCUSDT,1755763200000,0.0001,113500.1,2025-08-21T08:00:00.000Z,zushen168",
        "BTCUSDT,1755792000003,0.00005,113600.2,2025-08-21T16:00:00.003Z,zushen168",
    ]
    static let allHeader = "symbol,fundingTime,fundingRate,markPrice,intervalHours\n"
    static let allRows = [
        "BTCUSDT,1755763200000,0.0001,113500.1,8",
        "BTCUSDT,1755792000003,0.00005,113600.2,8",
        "TIAUSDT,1755763200000,0.0001,1.5,4",
        "TIAUSDT,1755777600000,0.0002,1.6,4",
    ]

    static let paths = ["klines/binance-spot/BTCUSDT_1h.csv", "funding/binance/BTCUSDT.csv", "funding/binance/all_symbols_2025.csv"]

    init() throws {
        dir = ScratchDirectory("mini-data")
        try write("instruments.csv", MiniDataSet.instruments)
        try write("klines/binance-spot/BTCUSDT_1h.csv", MiniDataSet.spotHeader + MiniDataSet.spotRows.joined(separator: "\n") + "\n")
        try write("funding/binance/BTCUSDT.csv", MiniDataSet.fundingHeader + MiniDataSet.fundingRows.joined(separator: "\n") + "\n")
        try write("funding/binance/all_symbols_2025.csv", MiniDataSet.allHeader + MiniDataSet.allRows.joined(separator: "\n") + "\n")
    }

    func write(_ rel: String, _ text: String) throws {
        let path = root + "/" + rel
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}

@Suite("Import: bad input")
struct MalformedImportTests {
    func importMini(_ data: MiniDataSet, into path: String) throws -> ImportSummary {
        let importer = MarketImporter(logger: testLogger())
        let market = try MarketJournal(path: path, purpose: .importer, recordClock: { Timestamp(ms: 1_800_000_000_000) })
        defer { try? market.close() }
        return try importer.write(try importer.read(try BundledDataSet.discover(data.root)), into: market)
    }

    func lastSeq(_ path: String) throws -> UInt64 {
        try Journal.open(path).withSnapshot { try $0.lastSeq() }
    }

    @Test("a good mini data set imports: 3 bars, 4 settlements, 3 definitions")
    func good() throws {
        let data = try MiniDataSet()
        let s = try importMini(data, into: data.dir.sub("j"))
        #expect(s.appended == 3 + 2 + 2)
        #expect(s.duplicatesAcrossFiles == 2)
        #expect(try lastSeq(data.dir.sub("j")) == 3 + 7)
    }

    /// Each case: the file to damage, the line to replace (1-based, header is line 1), the
    /// replacement, and what the message must say.
    static let cases: [(file: String, line: Int, text: String, message: String)] = [
        ("klines/binance-spot/BTCUSDT_1h.csv", 3, "1640998800000,46656.14,46949.99,46574.06,46778.x4,943.8,1641002399999,44127148.1,31872,491.1,22963272.8",
         "klines/binance-spot/BTCUSDT_1h.csv:3: close '46778.x4' is not a decimal number"),
        ("klines/binance-spot/BTCUSDT_1h.csv", 3, "1640998800000,46656.14,46500.00,46574.06,46778.14,943.8,1641002399999,44127148.1,31872,491.1,22963272.8",
         "klines/binance-spot/BTCUSDT_1h.csv:3: OHLC outside its envelope"),
        ("klines/binance-spot/BTCUSDT_1h.csv", 4, "1640995200000,46656.14,46949.99,46574.06,46778.14,943.8,1640998799999,44127148.1,31872,491.1,22963272.8",
         "klines/binance-spot/BTCUSDT_1h.csv:4: time 1640995200000 (2022-01-01T00:00:00Z) is not after line 3's"),
        ("klines/binance-spot/BTCUSDT_1h.csv", 3, "1640998800000,46656.14,46949.99,46574.06,46778.14,943.8,1641002399999,44127148.1,31872,491.1",
         "klines/binance-spot/BTCUSDT_1h.csv:3: 10 columns, but the header has 11"),
        ("klines/binance-spot/BTCUSDT_1h.csv", 3, "1640998800000,46656.14,46949.99,46574.06,46778.14,943.8,1641013199999,44127148.1,31872,491.1,22963272.8",
         "klines/binance-spot/BTCUSDT_1h.csv:3: close_time 1641013199999 is not within open_time + 1h − 1 ms"),
        ("funding/binance/BTCUSDT.csv", 3, "BTCUSDT,1755792000003,0.00005,113600.2,2025-08-21T19:00:00.003Z,zushen168",
         "funding/binance/BTCUSDT.csv:3: datetimeUtc '2025-08-21T19:00:00.003Z' disagrees with the timestamp"),
        ("funding/binance/BTCUSDT.csv", 3, "BTCUSDT,1755777600000,0.00005,113600.2,2025-08-21T12:00:00.000Z,zushen168",
         "funding/binance/BTCUSDT.csv:3: settlement 2025-08-21T12:00:00Z is only 240 min after line 2's"),
        ("funding/binance/BTCUSDT.csv", 2, "BTCUSDT,1755763200000,1.5,113500.1,2025-08-21T08:00:00.000Z,zushen168",
         "funding/binance/BTCUSDT.csv:2: fundingRate 1.5 is 100 % or more per interval"),
        ("funding/binance/all_symbols_2025.csv", 3, "BTCUSDT,1755792000003,0.00006,113600.2,8",
         "funding/binance/all_symbols_2025.csv:3: binance BTCUSDT linear settlement 2025-08-21T16:00:00.003Z says rate 0.00006"),
        ("funding/binance/all_symbols_2025.csv", 4, "TIAUSDT,1755763200000,0.0001,1.5,30",
         "funding/binance/all_symbols_2025.csv:4: intervalHours 30 is not between 1 and 24"),
    ]

    @Test("a malformed line names file:line and the reason, and nothing is imported", arguments: 0..<cases.count)
    func malformed(_ index: Int) throws {
        let c = MalformedImportTests.cases[index]
        let data = try MiniDataSet()
        let path = data.dir.sub("j")
        // A first import of only the first row of every file, so that the damaged import
        // below holds new, valid records: a half-import would move the last seq.
        let full = try [MiniDataSet.paths, [c.file]].joined().map { ($0, try String(contentsOfFile: data.root + "/" + $0, encoding: .utf8)) }
        for (rel, text) in full { try data.write(rel, text.split(separator: "\n").prefix(2).joined(separator: "\n") + "\n") }
        _ = try importMini(data, into: path)
        let before = try lastSeq(path)
        for (rel, text) in full { try data.write(rel, text) }
        var lines = try String(contentsOfFile: data.root + "/" + c.file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines[c.line - 1] = c.text
        try data.write(c.file, lines.joined(separator: "\n"))
        let error = #expect(throws: ImportError.self) { try importMini(data, into: path) }
        #expect(error?.description.hasPrefix(c.message) == true, "got: \(error?.description ?? "no error")")
        #expect(try lastSeq(path) == before)
    }

    @Test("an unknown file in the layout, a symbol without rules, and a missing directory are refused by name")
    func unknownInputs() throws {
        let data = try MiniDataSet()
        try data.write("klines/binance-spot/notes.txt.csv", "x\n")
        #expect(throws: ImportError.self) { try BundledDataSet.discover(data.root) }
        let d2 = try MiniDataSet()
        try d2.write("klines/okx/BTCUSDT_1h.csv", MiniDataSet.spotHeader)
        let e2 = #expect(throws: ImportError.self) { try BundledDataSet.discover(d2.root) }
        #expect(e2?.description.hasPrefix("klines/okx/BTCUSDT_1h.csv: not in a layout Carry imports") == true)
        let d3 = try MiniDataSet()
        try d3.write("funding/bybit/XYZPERP.csv", "symbol,fundingRateTimestamp,fundingRate,datetimeUtc,source\nXYZPERP,1755763200000,0.0001,2025-08-21T08:00:00.000Z,x\n")
        let e3 = #expect(throws: ImportError.self) { try importMini(d3, into: d3.dir.sub("j")) }
        #expect(e3?.description.contains("no rules for bybit XYZPERP linear (first seen at funding/bybit/XYZPERP.csv:2)") == true)
        let e4 = #expect(throws: ImportError.self) { try BundledDataSet.discover("/nonexistent/data") }
        #expect(e4?.description.contains("pass --data DIR") == true)
    }

    @Test("carry import: exit 2 with file:line on bad data, journal untouched; re-import of good data is a no-op; carry gaps reads it back")
    func cli() throws {
        let data = try MiniDataSet()
        let path = data.dir.sub("j")
        let carry = Fixtures.executable("carry")
        let first = try runProcess(carry, ["import", "--data", data.root, "--journal", path])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.hasPrefix("imported 7 records and 3 instrument definitions into \(path)"))
        #expect(first.stdout.contains("binance BTCUSDT spot 1h bars        3  2022-01-01T01:00:00Z"))
        let again = try runProcess(carry, ["import", "--data", data.root, "--journal", path])
        #expect(again.status == 0)
        #expect(again.stdout.hasPrefix("imported 0 records and 0 instrument definitions into \(path)"))
        let before = try lastSeq(path)
        // A new, valid hour before the bad line: an import that is not all-or-nothing would add it.
        let fourthHour = MiniDataSet.spotRows[2].replacingOccurrences(of: "1641002400000", with: "1641006000000")
            .replacingOccurrences(of: "1641005999999", with: "1641009599999")
        #expect(fourthHour != MiniDataSet.spotRows[2])
        try data.write("klines/binance-spot/BTCUSDT_1h.csv", MiniDataSet.spotHeader + fourthHour + "\n1641009600000,oops\n")
        let bad = try runProcess(carry, ["import", "--data", data.root, "--journal", path])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("carry: error: klines/binance-spot/BTCUSDT_1h.csv:3: 2 columns, but the header has 11 (nothing was imported)"))
        #expect(!bad.stderr.contains("Fatal error") && !bad.stderr.contains("Stack"))
        #expect(try lastSeq(path) == before)
        let gaps = try runProcess(carry, ["gaps", "--journal", path])
        #expect(gaps.status == 0)
        #expect(gaps.stdout.contains("binance TIAUSDT funding"))
        #expect(gaps.stdout.hasSuffix("3 streams, 7 records; 0 gaps in 0 streams (reported, never filled)\n"))
    }
}
