// `carry series`: historical series projected from a market journal — a perpetual's funding
// rate (per interval and per 8 h) or the spot–perp basis — as CSV on stdout.

import ArgumentParser
import CarryCore
import CarryEngine
import CarryJournal

struct SeriesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "series",
        abstract: "Print a symbol's funding-rate or spot–perp basis series from a market journal, as CSV.",
        discussion: """
        funding: time,rate_per_interval,interval_minutes,rate_per_8h — one row per settlement.
        basis:   time,spot_close,perp_close,basis — (perp − spot) / spot at every bar close
                 where both legs have a bar (a gap in either leg is a missing row, never a guess).
        Read-only: safe while import or fetch is writing the journal.
        """)

    @OptionGroup var config: ConfigOptions
    @OptionGroup var journalOptions: JournalOptions

    @Option(help: "The symbol, e.g. BTCUSDT.")
    var symbol: String

    @Option(help: "funding or basis.")
    var kind: String = "funding"

    @Option(help: "The venue (binance, bybit, okx).")
    var venue: String = "binance"

    @Option(help: ArgumentHelp("Bar interval for the basis, e.g. 1h or 4h.", valueName: "INTERVAL"))
    var interval: String = "1h"

    @Option(help: ArgumentHelp("First time, UTC (2025-09-13 or an ISO time).", valueName: "DATE"))
    var from: String?

    @Option(help: ArgumentHelp("Last time, UTC.", valueName: "DATE"))
    var to: String?

    func run() throws {
        try reportingErrors {
            guard ["funding", "basis"].contains(kind) else { throw CLIError.badInput("--kind \(kind): expected funding or basis") }
            guard let v = Venue(name: venue) else { throw CLIError.badInput("--venue \(venue): expected one of \(Venue.allCases.map(\.description).joined(separator: ", "))") }
            guard let seconds = MarketStream.intervalSeconds(named: interval) else {
                throw CLIError.badInput("--interval \(interval): expected a bar interval of whole minutes, like 1h or 4h")
            }
            let start = try from.map { s in try Timestamp(iso8601: s) ?? { throw CLIError.badInput("--from \(s): expected a UTC date like 2025-09-13") }() } ?? .distantPast
            let end = try to.map { s in try Timestamp(iso8601: s) ?? { throw CLIError.badInput("--to \(s): expected a UTC date like 2026-03-19") }() } ?? .distantFuture
            let market = try MarketJournal(readOnlyPath: try journalOptions.resolve(config))
            let name = symbol.uppercased()
            guard let perp = market.instrument(venue: v, kind: .linearPerpetual, symbol: name) else {
                let known = market.symbols(venue: v, kind: .linearPerpetual)
                let close = SymbolSuggestions.closest(to: name, in: known, limit: 5)
                throw CLIError.badInput("\(v) \(name) has no perpetual in \(market.journal.path).\(close.isEmpty ? "" : " Close matches: \(close.joined(separator: ", ")).")")
            }
            let spot = market.instrument(venue: v, kind: .spot, symbol: name)
            if kind == "basis" && spot == nil { throw CLIError.badInput("\(v) \(name) has no spot instrument, so no basis; try --kind funding") }
            var series = SeriesProjection(pairs: spot.map { [PairSpec(spot: $0.id, perp: perp.id)] } ?? [], barIntervalSeconds: seconds)
            var out = kind == "funding" ? "time,rate_per_interval,interval_minutes,rate_per_8h\n" : "time,spot_close,perp_close,basis\n"
            try market.journal.withSnapshot { snap in
                _ = try snap.scanByTime(from: start, through: end) { view in
                    guard let id = try view.instrument(), id == perp.id || id == spot?.id else { return true }
                    for point in series.apply(try view.decode(), time: view.header.eventTime) {
                        switch point {
                        case .funding(let p, let t, let rate, let minutes, let rate8h) where kind == "funding" && p == perp.id:
                            out += "\(t.iso8601),\(rate),\(minutes),\(rate8h.normalized)\n"
                        case .basis(_, _, let t, let s, let q, let b) where kind == "basis":
                            out += "\(t.iso8601),\(s),\(q),\(b)\n"
                        default:
                            break
                        }
                    }
                    if out.utf8.count > 1 << 16 {
                        print(out, terminator: "")
                        out = ""
                    }
                    return true
                }
            }
            print(out, terminator: "")
        }
    }
}
