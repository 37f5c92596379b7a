// `carry analyze funding`: the project's first research step — what funding paid, per venue,
// symbol and regime, and which entry thresholds would have paid for their round trip.

import ArgumentParser
import CarryCore
import CarryEngine
import CarryJournal
import Foundation

struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Research over the market journal (funding statistics).",
        subcommands: [AnalyzeFundingCommand.self])
}

struct AnalyzeFundingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "funding",
        abstract: "Funding statistics per venue, symbol and regime, and the entry thresholds that paid after round-trip costs.",
        discussion: """
        Per perpetual and per regime (each calendar year in the journal, any --regime you name, and the whole history): \
        settlements; mean, median, standard deviation, 5/25/75/95th percentiles and extremes of the rate per 8 h; the \
        share positive, negative and exactly at the 0.01 % baseline; the carry a short perp held throughout collected, per \
        year; the lag-1 autocorrelation and the AR(1) half-life of a deviation; elevated episodes (runs at or above \
        --elevated) and how long they lasted.

        Thresholds: for each entry threshold of a grid (0 to 0.1 % per 8 h), on funding alone — enter after a settlement \
        at or above it, collect every later settlement while held, leave after one below the exit threshold (the \
        config's strategy.exitThreshold, or the entry if lower) — net of one round trip per episode (both legs bought and \
        sold at the taker fee plus the half spread, from the backtest config's fees and slippage). Prices and basis are \
        left out: this is the funding side a threshold decides on; `carry backtest` and `carry sweep` price the rest.

        Writes into --out (default <runsDirectory>/analyze-funding): funding-stats.csv and .json (one row per venue, \
        symbol and regime), funding-thresholds.csv (every threshold's outcome) and funding.html (self-contained: the \
        table, each perpetual's rate over time, its distribution and the net by threshold). Prints the table.

        Example: carry analyze funding --symbol BTCUSDT --symbol ETHUSDT --regime 2025-26=2025-01-01..2027-01-01

        Exit status: 0 done, 1 failed, 2 bad input.
        """)

    @OptionGroup var configOptions: ConfigOptions
    @OptionGroup var journalOptions: JournalOptions

    @Option(name: .customLong("config"), help: ArgumentHelp("The backtest config whose fees, slippage and exit threshold price a round trip (default: <config-dir>/backtest.yaml).", valueName: "FILE"))
    var configFile: String?

    @Option(help: ArgumentHelp("Only this venue (binance, bybit, okx); repeatable. Default: every venue.", valueName: "VENUE"))
    var venue: [String] = []

    @Option(help: ArgumentHelp("Only this perpetual, e.g. BTCUSDT; repeatable. Default: every perpetual with funding.", valueName: "SYMBOL"))
    var symbol: [String] = []

    @Option(help: ArgumentHelp("A span studied on its own: a year (2022), years (2025-26), FROM..TO or NAME=FROM..TO (UTC dates, TO exclusive); repeatable. Added to the calendar years.", valueName: "REGIME"))
    var regime: [String] = []

    @Flag(help: "Leave out the per-calendar-year rows (only the named regimes and the whole history).")
    var noYears = false

    @Option(help: ArgumentHelp("The 8 h rate from which a rate counts as elevated, as a fraction (default 0.0003 = 0.03 %, three times the baseline).", valueName: "RATE"))
    var elevated: Double = 0.0003

    @Option(help: ArgumentHelp("A round trip's cost as a fraction of a leg's notional, instead of the config's fees and slippage.", valueName: "FRACTION"))
    var roundTripCost: Double?

    @Option(help: ArgumentHelp("Output directory (default: <runsDirectory>/analyze-funding).", valueName: "DIR"))
    var out: String?

    func run() throws {
        try reportingErrors {
            var venues: Set<Venue>?
            if !venue.isEmpty {
                venues = Set(try venue.map { name in
                    guard let v = Venue(name: name) else {
                        throw CLIError.badInput("--venue \(name): expected one of \(Venue.allCases.map(\.description).joined(separator: ", "))")
                    }
                    return v
                })
            }
            let regimes: [RegimeSpan]
            do {
                regimes = try regime.map { try RegimeSpan(parsing: $0, option: "--regime") }
            } catch let e as BacktestError {
                throw CLIError.badInput(e.message)
            }
            if let roundTripCost, !(0..<0.1).contains(roundTripCost) {
                throw CLIError.badInput("--round-trip-cost \(roundTripCost): expected a fraction of notional from 0 to 0.1 (0.0034 is 0.34 %)")
            }
            guard elevated > 0, elevated < 0.1 else { throw CLIError.badInput("--elevated \(elevated): expected an 8 h rate above 0 and below 0.1 (0.0003 is 0.03 %)") }
            let config = try BacktestConfig.load(path: configFile ?? configOptions.directory + "/backtest.yaml")
            let source = try journalOptions.resolve(configOptions)
            guard Journal.exists(at: source) else {
                throw CLIError.badInput("no market journal at \(source). Run `carry import` (the bundled history) or `carry fetch` first, or pass --journal DIR.")
            }
            let market = try MarketJournal(readOnlyPath: source)
            let wanted = symbol.isEmpty ? nil : Set(symbol.map { $0.uppercased() })
            let histories = try FundingHistory.load(from: market, venues: venues, symbols: wanted)
            if let wanted {
                let found = Set(histories.map(\.symbol))
                for s in wanted.sorted() where !found.contains(s) {
                    let close = SymbolSuggestions.closest(to: s, in: market.symbols(kind: .linearPerpetual), limit: 5)
                    throw CLIError.badInput("\(s) has no funding in \(source)\(venues.map { " on " + $0.map(\.description).sorted().joined(separator: ", ") } ?? "")."
                                            + (close.isEmpty ? "" : " Close matches: \(close.joined(separator: ", ")).") + " `carry gaps` lists what the journal holds.")
                }
            }
            guard !histories.isEmpty else { throw CLIError.badInput("no funding settlements in \(source) for the venues and symbols asked; `carry gaps` lists what it holds") }
            let cost: (Venue) -> Double = { v in
                if let roundTripCost { return roundTripCost }
                let spot = config.fees.spot[v.rawValue]!, perp = config.fees.perp[v.rawValue]!
                return FundingAnalysis.roundTripCost(spotTaker: spot.taker, perpTaker: perp.taker, halfSpread: config.slippage.halfSpread)
            }
            let exit8h = config.strategy.exitThresholdPerInterval8h.doubleValue
            let spans = (noYears ? [] : RegimeSpan.years(of: histories)) + regimes + [.all]
            let stats = FundingAnalysis.analyze(histories, regimes: spans, elevated8h: elevated, exit8h: exit8h, roundTripCost: cost)
            let directory = try out ?? configOptions.paths().runsDirectory + "/analyze-funding"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try FundingAnalysis.statsCSV(stats).write(toFile: directory + "/funding-stats.csv", atomically: true, encoding: .utf8)
            try FundingAnalysis.thresholdsCSV(stats).write(toFile: directory + "/funding-thresholds.csv", atomically: true, encoding: .utf8)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(stats).write(to: URL(fileURLWithPath: directory + "/funding-stats.json"), options: .atomic)
            try FundingAnalysis.html(stats, histories: histories, source: source, roundTripCost: cost)
                .write(toFile: directory + "/funding.html", atomically: true, encoding: .utf8)
            print(FundingAnalysis.table(stats), terminator: "")
            let costs = Set(histories.map { String(format: "%@ %.3f %%", $0.venue.description, cost($0.venue) * 100) }).sorted()
            print("rates per 8 h; profitable entry = grid thresholds netting a profit on funding alone after a round trip of \(costs.joined(separator: ", "))")
            print("wrote \(directory)/funding-stats.csv, funding-stats.json, funding-thresholds.csv, funding.html")
        }
    }
}
