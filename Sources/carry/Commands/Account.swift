// `carry account`: read a Bybit account for an operator (balance, positions, open orders,
// fee rates, funding received) with keys from BYBIT_API_KEY / BYBIT_API_SECRET (environment
// or an untracked .env). Missing or unusable keys: one message naming both variables, exit 2,
// and nothing sent; keys the venue refuses (10003/10004/10005): the same, exit 2.

import ArgumentParser
import CarryCore
import CarryEngine
import CarryVenues
import Foundation

struct AccountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account",
        abstract: "Show a Bybit account: balance, positions, open orders, fee rates, funding.",
        discussion: """
        Signs requests with BYBIT_API_KEY and BYBIT_API_SECRET from the environment, or from a
        .env file in the working directory (the environment wins; never put keys in config).
        Talks to --base-url (default: bybit.baseUrl of venues.yaml, with its backupBaseUrls);
        point it at `carry exchange-sim` to try it on loopback. Exit status: 0 done, 1 the
        venue failed, 2 missing or refused keys or bad arguments.
        """,
        subcommands: [Balance.self, Positions.self, Orders.self, Fees.self, Funding.self])

    /// What every subcommand shares.
    struct Common: ParsableArguments {
        @OptionGroup var configOptions: ConfigOptions

        @Option(name: .customLong("base-url"), help: ArgumentHelp("Bybit REST base URL (default: bybit.baseUrl in venues.yaml).", valueName: "URL"))
        var baseURL: String?

        @Option(name: .customLong("env-file"), help: ArgumentHelp("The .env file to read keys from when the environment has none.", valueName: "FILE"))
        var envFile = ".env"

        /// A client, or exit 2 before anything is sent.
        func client() throws -> BybitTradingClient {
            let dotEnv = try? String(contentsOfFile: envFile, encoding: .utf8)
            guard let credentials = BybitCredentials.load(environment: ProcessInfo.processInfo.environment, dotEnv: dotEnv) else {
                throw CLIError.badInput(BybitCredentials.missingMessage)
            }
            let options = try VenueOptions.bybit(configDirectory: configOptions.directory, baseURL: baseURL)
            return BybitTradingClient(options: options, credentials: credentials, transport: try CurlHTTPTransport(), clock: SystemVenueClock(),
                                      logger: CLILogging.logger("carry.account"))
        }

        /// Runs `body`, turning refused keys into exit 2 and other venue failures into exit 1.
        func run(_ body: (BybitTradingClient) throws -> Void) throws {
            try reportingErrors {
                let c = try client()
                do { try body(c) } catch let e as BybitError {
                    if e.retCode.map({ BybitRejectKind(retCode: $0) == .authentication }) ?? false {
                        throw CLIError.badInput("the venue refused the API key (retCode \(e.retCode!)): check \(BybitCredentials.apiKeyVariable) and \(BybitCredentials.secretVariable)")
                    }
                    throw CLIError.failed(e.message)
                }
            }
        }
    }

    struct Balance: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The unified wallet: equity and each coin.")
        @OptionGroup var common: Common

        func run() throws {
            try common.run { c in
                let w = try c.walletBalance()
                print("account \(w.accountType) equity \(w.totalEquity?.description ?? "-") wallet \(w.totalWalletBalance?.description ?? "-") available \(w.totalAvailableBalance?.description ?? "-") perpUPL \(w.totalPerpUPL?.description ?? "-")")
                for coin in w.coins {
                    print("coin \(coin.coin) balance \(coin.walletBalance) equity \(coin.equity?.description ?? "-") usdValue \(coin.usdValue?.description ?? "-")")
                }
            }
        }
    }

    struct Positions: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open linear perpetual positions.")
        @OptionGroup var common: Common

        func run() throws {
            try common.run { c in
                let list = try c.positions()
                if list.isEmpty { print("no open positions") }
                for p in list {
                    print("position \(p.symbol) \(p.side) size \(p.size) avgPrice \(p.avgPrice) mark \(p.markPrice?.description ?? "-") upl \(p.unrealisedPnl?.description ?? "-") leverage \(p.leverage?.description ?? "-")")
                }
            }
        }
    }

    struct Orders: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open orders, spot and linear.")
        @OptionGroup var common: Common

        func run() throws {
            try common.run { c in
                let list = try c.openOrders(category: .linear) + c.openOrders(category: .spot)
                if list.isEmpty { print("no open orders") }
                for o in list {
                    print("order \(o.symbol) \(o.side) \(o.orderType) qty \(o.qty) price \(o.price) filled \(o.cumExecQty) status \(o.orderStatus) link \(o.orderLinkId)")
                }
            }
        }
    }

    struct Fees: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The account's taker and maker fee rates.")
        @OptionGroup var common: Common

        @Option(help: "Only this symbol.")
        var symbol: String?

        func run() throws {
            try common.run { c in
                for category in [Bybit.Category.spot, .linear] {
                    for f in try c.feeRates(category: category, symbol: symbol) {
                        print("fee \(category.rawValue) \(f.symbol) taker \(f.takerFeeRate) maker \(f.makerFeeRate)")
                    }
                }
            }
        }
    }

    struct Funding: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Funding settlements of the transaction log, newest first, and their sum.")
        @OptionGroup var common: Common

        @Option(help: "Rows to read (1…50).")
        var limit = 50

        func run() throws {
            try common.run { c in
                let rows = try c.transactionLog(category: .linear, type: "SETTLEMENT", limit: limit)
                var total = Fixed.zero
                for r in rows {
                    total += r.funding ?? .zero
                    print("funding \(r.symbol) \(r.transactionTime.iso8601) size \(r.size?.description ?? "-") amount \(r.funding?.description ?? "-")")
                }
                print("total \(total) over \(rows.count) settlements")
            }
        }
    }
}
