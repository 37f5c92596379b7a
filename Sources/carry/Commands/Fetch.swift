// `carry fetch`: Bybit perpetuals' rules, funding and klines into the market journal.

import ArgumentParser
import CarryCore
import CarryEngine
import CarryJournal
import CarryVenues
import Foundation

struct FetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Fetch Bybit perpetuals' rules, funding history and 1 h perp and spot klines into the market journal.",
        discussion: """
        For each symbol (a Bybit linear perpetual such as BTCUSDT): its trading rules
        (instruments-info), its settled funding, and 1 h klines of the perpetual and of the spot
        pair when Bybit lists one, over the last --days days of the venue's clock. Bars are
        journaled at their close, settlements at their settlement time.

        Resumable: records the journal already holds are never fetched or written twice, so a
        fetch that was interrupted (even by kill -9) continues from the last stored record of
        each stream when run again, and a second fetch adds only what is new.

        Pacing and retries follow config/venues.yaml (bybit section): token buckets per
        endpoint group corrected from Bybit's X-Bapi-Limit headers; rate limits (retCode 10006,
        HTTP 429/403) back off; timeouts, dropped connections and 5xx retry with jittered
        backoff, a bounded number of times.

        Exit status: 0 fetched (or nothing new); 1 the venue failed or the journal could not be
        written (what was stored before the failure stays); 2 bad input (unknown symbol,
        arguments, config, not a journal).
        """)

    @OptionGroup var config: ConfigOptions
    @OptionGroup var journalOptions: JournalOptions

    @Option(help: ArgumentHelp("Comma-separated Bybit linear perpetuals, e.g. BTCUSDT,ETHUSDT.", valueName: "LIST"))
    var symbols: String

    @Option(help: "Days of history, ending at the venue's clock.")
    var days = 90

    @Option(name: .customLong("base-url"), help: ArgumentHelp("Bybit REST base URL (default: bybit.baseUrl in venues.yaml, else https://api.bybit.com).", valueName: "URL"))
    var baseURL: String?

    @Option(help: ArgumentHelp("Per-request timeout, e.g. 10s or 500ms (default: bybit.requestTimeout in venues.yaml).", valueName: "DURATION"))
    var timeout: String?

    @Flag(help: "Fetch only the perpetuals (no spot klines).")
    var noSpot = false

    func run() throws {
        try reportingErrors {
            let list = symbols.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).uppercased() }.filter { !$0.isEmpty }
            guard !list.isEmpty else { throw CLIError.badInput("--symbols needs at least one symbol, e.g. --symbols BTCUSDT,ETHUSDT") }
            guard Set(list).count == list.count else { throw CLIError.badInput("--symbols lists a symbol twice: \(list.joined(separator: ","))") }
            var options = try VenueOptions.bybit(configDirectory: config.directory, baseURL: baseURL)
            if let timeout {
                guard let ms = ConfigReader.parseDuration(timeout), ms >= 50, ms <= 300_000 else {
                    throw CLIError.badInput("--timeout expects a duration between 50ms and 300s, like 10s or 500ms (got \(timeout))")
                }
                options.requestTimeoutMs = Int(ms)
            }

            let logger = CLILogging.logger("carry.fetch")
            let path = try journalOptions.resolve(config)
            let transport: CurlHTTPTransport
            do {
                transport = try CurlHTTPTransport()
            } catch {
                throw CLIError.failed("\(error)")
            }
            let client = BybitMarketClient(options: options, transport: transport, clock: SystemVenueClock(), logger: logger)
            var market: MarketJournal? = nil
            defer { try? market?.close() }
            let fetcher = MarketFetcher(client: client, logger: logger)
            var request = FetchRequest(symbols: list, days: days)
            request.includeSpot = !noSpot
            let progress = ProgressLine("fetch", logger: logger)
            defer { progress.finish() }
            logger.info("fetch started", metadata: ["baseUrl": "\(options.baseURL)", "symbols": "\(list.joined(separator: ","))", "days": "\(days)", "journal": "\(path)"])
            let summary: FetchSummary
            do {
                summary = try fetcher.run(request, openJournal: {
                    let m = try MarketJournal(path: path, purpose: .fetch, recordClock: { Timestamp(ms: wallClockMs()) })
                    market = m
                    return m
                }) { p in
                    progress.update(p.stream, done: p.stored, total: p.expected, unit: "records")
                }
            } catch let e as FetchError {
                switch e.code {
                case .unknownSymbol, .invalid: throw CLIError.badInput(e.message)
                case .venue:
                    throw CLIError.failed(e.message + (market == nil ? " (nothing was written)" : " (every record stored before the failure stays in \(path); run again to resume)"))
                }
            }
            try market?.close()
            let elapsed = progress.elapsedSeconds
            progress.finish()
            let s = summary.client
            print("fetched \(summary.appended) records and \(summary.definitionsJournaled) instrument definitions into \(path) in \(String(format: "%.1f", elapsed)) s"
                  + " (window \(summary.from.iso8601) → \(summary.to.iso8601); \(s.requests) requests, \(s.retries) retries)")
            for stream in summary.streams {
                let span = stream.extent.map { "\($0.count) stored, \($0.first.iso8601) → \($0.last.iso8601)" } ?? "empty"
                print("  \(stream.name): +\(stream.appended) (\(stream.alreadyPresent) already present); \(span)")
            }
            if !summary.withoutSpot.isEmpty {
                print("note: Bybit lists no spot pair for \(summary.withoutSpot.joined(separator: ", ")); only the perpetual was fetched")
            }
        }
    }
}
