// `carry trade open|close|status`: paired trades for a person at a terminal, placed by the
// running session (`carry run`) through its loopback control port, so they go through the
// engine's own path: the command is journaled (`operator.trade`) before the reducer acts on it,
// with the same sizing, risk checks and paired execution (leg-risk budget, unwind) as an
// automatic entry. This command shows the session's pre-flight, asks for confirmation, queues
// the command, and then reads the outcome from the session's journal (fills, costs, the pair's
// transitions) and checks the venue's book against the engine's.

import ArgumentParser
import CarryCore
import CarryEngine
import CarryJournal
import CarryVenues
import Foundation

struct TradeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trade",
        abstract: "Open or close a spot+perp pair by hand through a running session, with pre-flight checks and a confirmation; list the pairs.",
        discussion: """
        carry trade talks to a running `carry run` (paper or live) on its control port on \
        127.0.0.1 (--port, else session.controlPort of --config) and to nothing else: the \
        session journals the command and its engine decides on it exactly as on an automatic \
        entry — sizing by the exchange's rules (qty step, minimum quantity and notional), the \
        risk limits (pair and total notional, leverage, margin buffer, balance), both legs as \
        market IOC orders, the leg-risk budget, and the unwind of a leg left alone. --journal \
        must be that session's journal: the outcome is read from it.

          carry trade open BTCUSDT --notional 1000 --journal J --port 8181
          carry trade close BTCUSDT --journal J --port 8181
          carry trade status --journal J --port 8181

        open shows the pre-flight (balances, limits, leverage, funding now and predicted, \
        rules, the estimated cost of both legs and of the round trip, the breakeven holding \
        time = round-trip cost ÷ funding per hour) and asks "Place this pair? [y/N]" on the \
        terminal; --yes places it without asking (scripts). Without a terminal on stdin and \
        without --yes nothing is sent. Afterwards it prints what filled at what price and \
        cost (fees, slippage against the pre-flight's mark) and checks that the venue holds \
        what the engine does (paper: the simulated exchange's book; live: a reconciliation \
        the session runs at once).

        No session running: start one (carry run --mode paper --journal J --control-port \
        8181) and try again; carry trade never starts one itself.

        Exit status: 0 done (opened / closed, positions matched); 1 declined at the prompt, \
        refused or unwound by the engine, or not confirmed within --timeout; 2 bad input \
        (arguments, a missing or damaged journal, no session, an unknown symbol, a pre-flight \
        refusal, no terminal without --yes) — nothing sent.
        """,
        subcommands: [TradeOpenCommand.self, TradeCloseCommand.self, TradeStatusCommand.self])
}

/// Where the session is.
struct TradeSessionOptions: ParsableArguments {
    @OptionGroup var configOptions: ConfigOptions

    @Option(name: .customLong("journal"), help: ArgumentHelp("The running session's journal.", valueName: "DIR"))
    var journal: String

    @Option(help: ArgumentHelp("The session's control port (default: session.controlPort of --config).", valueName: "PORT"))
    var port: Int?

    @Option(name: .customLong("config"), help: ArgumentHelp("The session config, for its control port (default: <config-dir>/paper.yaml).", valueName: "FILE"))
    var configFile: String?

    @Option(help: ArgumentHelp("How long to wait for the engine's outcome, e.g. 60s.", valueName: "DURATION"))
    var timeout = "60s"
}

struct TradeOpenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "open", abstract: "Open a pair (long spot, short perp) at a notional per leg.")

    @Argument(help: ArgumentHelp("The pair's symbol (its perpetual's), e.g. BTCUSDT.", valueName: "SYMBOL"))
    var symbol: String

    @Option(help: ArgumentHelp("USDT per leg (the quantity is this at the spot price, rounded down to both legs' step).", valueName: "USDT"))
    var notional: String

    @Flag(help: "Place it without asking (scripts).")
    var yes = false

    @Option(help: ArgumentHelp("Why (journaled with the command).", valueName: "TEXT"))
    var reason: String?

    @OptionGroup var session: TradeSessionOptions

    func run() throws {
        try reportingErrors {
            guard let amount = Fixed(notional), amount.isPositive else { throw CLIError.badInput("--notional must be a positive number of USDT (got \(notional))") }
            let link = try TradeLink.connect(session, confirming: !yes)
            let pre = try link.getJSON("/preflight?symbol=\(TradeLink.escape(symbol))&notional=\(amount)")
            guard pre.status == 200 else { throw CLIError.badInput("the session refused the pre-flight: \(pre.json["error"] as? String ?? "HTTP \(pre.status)")") }
            let f = pre.json
            print(TradePrint.preflight(f))
            if let refusal = f["refusal"] as? [String: Any] {
                throw CLIError.badInput("refused: \(refusal["message"] as? String ?? "the engine would not open it"). Nothing was sent.")
            }
            guard yes || TradePrint.confirm("Place this pair? [y/N] ") else {
                print("Not placed: nothing was sent.")
                throw ExitCode(1)
            }
            let marks = (spot: (f["spotPrice"] as? String).flatMap { Fixed($0) }, perp: (f["perpPrice"] as? String).flatMap { Fixed($0) })
            try link.place(.open, symbol: symbol, query: "notional=\(amount)&reason=\(TradeLink.escape(reason ?? "carry trade open"))", marks: marks,
                           timeout: session.timeout)
        }
    }
}

struct TradeCloseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "close", abstract: "Close both legs of an open pair (reduce-only market orders).")

    @Argument(help: ArgumentHelp("The pair's symbol (its perpetual's), e.g. BTCUSDT.", valueName: "SYMBOL"))
    var symbol: String

    @Flag(help: "Close it without asking (scripts).")
    var yes = false

    @Option(help: ArgumentHelp("Why (journaled with the command).", valueName: "TEXT"))
    var reason: String?

    @OptionGroup var session: TradeSessionOptions

    func run() throws {
        try reportingErrors {
            let link = try TradeLink.connect(session, confirming: !yes)
            let pairs = try link.getJSON("/pairs")
            guard pairs.status == 200, let rows = pairs.json["pairs"] as? [[String: Any]] else {
                throw CLIError.badInput("the session did not list its pairs: \(pairs.json["error"] as? String ?? "HTTP \(pairs.status)")")
            }
            guard let row = rows.first(where: { ($0["symbol"] as? String)?.uppercased() == symbol.uppercased() }) else {
                let known = rows.compactMap { $0["symbol"] as? String }.joined(separator: ", ")
                throw CLIError.badInput("\(symbol) is not a pair this session trades (it trades \(known)). Nothing was sent.")
            }
            print(TradePrint.pairs([row]))
            let phase = row["phase"] as? String ?? "?"
            guard phase == "open" || phase == "rebalancing" else {
                throw CLIError.badInput("refused: the \(symbol.uppercased()) pair is \(phase)\(phase == "flat" ? ", nothing to close" : ", already on its way"). Nothing was sent.")
            }
            guard yes || TradePrint.confirm("Close this pair? [y/N] ") else {
                print("Not closed: nothing was sent.")
                throw ExitCode(1)
            }
            let marks = (spot: (row["spotMark"] as? String).flatMap { Fixed($0) }, perp: (row["perpMark"] as? String).flatMap { Fixed($0) })
            try link.place(.close, symbol: symbol, query: "reason=\(TradeLink.escape(reason ?? "carry trade close"))", marks: marks, timeout: session.timeout)
        }
    }
}

struct TradeStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "A table of the session's pairs: phase, positions per leg (engine and venue), marks, funding and costs.")

    @OptionGroup var session: TradeSessionOptions

    func run() throws {
        try reportingErrors {
            let link = try TradeLink.connect(session, confirming: false)
            let pairs = try link.getJSON("/pairs")
            guard pairs.status == 200, let rows = pairs.json["pairs"] as? [[String: Any]] else {
                throw CLIError.failed("the session did not list its pairs: \(pairs.json["error"] as? String ?? "HTTP \(pairs.status)")")
            }
            let j = pairs.json
            print("\(j["mode"] as? String ?? "?") session, venue time \(j["venueTime"] as? String ?? "?"), equity \(TradePrint.money(j["equity"])) USDT"
                  + ((j["killSwitch"] as? Bool) == true ? ", KILL SWITCH ENGAGED" : "") + ((j["halted"] as? Bool) == true ? ", entries held" : ""))
            print(TradePrint.pairs(rows))
        }
    }
}

/// What the engine did with one operator command, read from the journal.
struct TradeOutcome {
    var commandSeq: UInt64 = 0
    var symbol: String
    var action: OperatorTradeAction
    var refusal: String?
    var pairId: UInt64 = 0
    var transitions: [PairTransition] = []
    var intents: [UInt64: OrderIntended] = [:]
    /// The pair's fills and refused orders, in journal order.
    var fills: [(seq: UInt64, fill: OrderFilled)] = []
    var rejections: [(seq: UInt64, intent: UInt64, reason: String)] = []
    var lastSeq: UInt64 = 0
    var finalPhase: PairPhase? { transitions.last?.to }
    /// The venue-vs-engine check: nil not done, else the lines to print and whether it matched.
    var check: (matched: Bool, lines: [String])?
    var timedOut = false
}

/// The connection to a session: its control port and its journal.
struct TradeLink {
    let base: String
    let port: Int
    let journalPath: String
    let journal: Journal
    let transport: CurlHTTPTransport
    let timeoutMs: Int64
    let mode: String

    static func escape(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "" }

    /// Checks, in order, what must hold before anything is asked of the session: the journal
    /// exists and verifies, a terminal to confirm on (unless --yes), a session answering on the
    /// port and writing that journal.
    static func connect(_ o: TradeSessionOptions, confirming: Bool) throws -> TradeLink {
        guard let timeoutMs = ConfigReader.parseDuration(o.timeout), timeoutMs > 0 else { throw CLIError.badInput("--timeout expects a duration like 60s (got \(o.timeout))") }
        guard Journal.exists(at: o.journal) else {
            throw CLIError.badInput("no journal at \(o.journal): --journal must be the journal of a running session (carry run --mode paper --journal \(o.journal) "
                                    + "--control-port PORT starts one). Nothing was sent.")
        }
        let report = JournalVerifier.verify(path: o.journal, options: VerifyOptions(live: true))
        guard report.isClean else {
            let what = report.openError?.description ?? report.firstProblem?.description ?? "unreadable"
            throw CLIError.badInput("the journal at \(o.journal) is damaged (\(what)): not trading on it. Check it with carry-journal verify \(o.journal). Nothing was sent.")
        }
        if confirming && isatty(0) != 1 {
            throw CLIError.badInput("no terminal to confirm on (stdin is not a terminal): pass --yes to trade without a confirmation. Nothing was sent.")
        }
        let port = try sessionControlPort(port: o.port, configFile: o.configFile, configDirectory: o.configOptions.directory)
        let transport = try CurlHTTPTransport()
        let base = "http://127.0.0.1:\(port)"
        let health: HTTPResponse
        do {
            health = try transport.get(HTTPRequest(url: base + "/health", timeoutMs: 5000, connectTimeoutMs: 2000))
        } catch let e as TransportError {
            throw CLIError.badInput("no session answers on 127.0.0.1:\(port) (\(e.kind.rawValue)): start one on this journal (carry run --mode paper --journal \(o.journal) "
                                    + "--control-port \(port), or --mode live) and try again. Nothing was sent.")
        }
        guard let json = try? JSONSerialization.jsonObject(with: Data(health.body)) as? [String: Any], let sessionJournal = json["journal"] as? String else {
            throw CLIError.badInput("127.0.0.1:\(port) is not a carry session's control port (its /health answered \(health.status)). Nothing was sent.")
        }
        guard canonical(sessionJournal) == canonical(o.journal) else {
            throw CLIError.badInput("the session on 127.0.0.1:\(port) writes \(sessionJournal), not \(o.journal): pass its journal, or the port of the session "
                                    + "writing \(o.journal). Nothing was sent.")
        }
        let journal = try Journal.open(o.journal, readOnly: true)
        return TradeLink(base: base, port: port, journalPath: o.journal, journal: journal, transport: transport, timeoutMs: timeoutMs,
                         mode: json["mode"] as? String ?? "?")
    }

    static func canonical(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path }

    func getJSON(_ path: String) throws -> (status: Int, json: [String: Any]) {
        let r = try request { try transport.get(HTTPRequest(url: base + path, timeoutMs: 10_000, connectTimeoutMs: 2000)) }
        return (r.status, (try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]) ?? [:])
    }

    func post(_ path: String) throws -> (status: Int, json: [String: Any]) {
        let r = try request { try transport.send(HTTPRequest(url: base + path, method: "POST", body: [], timeoutMs: 10_000, connectTimeoutMs: 2000)) }
        return (r.status, (try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]) ?? [:])
    }

    private func request(_ body: () throws -> HTTPResponse) throws -> HTTPResponse {
        do { return try body() } catch let e as TransportError {
            throw CLIError.failed("the session on 127.0.0.1:\(port) stopped answering (\(e.kind.rawValue)); check it and `carry trade status`")
        }
    }

    func lastSeq() throws -> UInt64 { try journal.lastSeq() }

    /// Reads the journal after `after` until the engine has decided on the command and the
    /// pair has come to rest (open or flat after an open; flat after a close), or the timeout.
    func follow(action: OperatorTradeAction, symbol: String, after: UInt64, timeoutMs: Int64) throws -> TradeOutcome {
        var o = TradeOutcome(symbol: symbol.uppercased(), action: action)
        o.lastSeq = after
        var signalSeq: UInt64 = 0
        let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
        while Date() < deadline {
            var done = false
            _ = try journal.withSnapshot { snap in
                try snap.scan(from: o.lastSeq + 1) { view in
                    let r = try view.decodeRecorded()
                    o.lastSeq = r.seq
                    switch r.event {
                    case .operatorTrade(let t) where o.commandSeq == 0 && t.action == action:
                        o.commandSeq = r.seq
                    case .alertRaised(let a) where o.commandSeq != 0 && r.causation == .local(o.commandSeq) && a.code == "operator.refused":
                        o.refusal = a.message
                        done = true
                    case .signalComputed(let s) where o.commandSeq != 0 && r.causation == .local(o.commandSeq) && s.strategy == .manual:
                        signalSeq = r.seq
                        if action == .open { o.pairId = r.seq }
                    case .riskBreached(let b) where signalSeq != 0 && r.causation == .local(signalSeq) && b.action == .rejected:
                        o.refusal = "risk check \(b.rule): limit \(b.limit), observed \(b.observed)"
                        done = true
                    case .pairTransition(let t) where signalSeq != 0:
                        if action == .close && o.pairId == 0 && r.causation == .local(signalSeq) { o.pairId = t.pairId }
                        guard t.pairId == o.pairId else { break }
                        o.transitions.append(t)
                        if t.to == .flat || (action == .open && t.to == .open) { done = true }
                    case .orderIntended(let i) where o.pairId != 0 && i.pairId == o.pairId && r.seq > signalSeq:
                        o.intents[r.seq] = i
                    case .orderFilled(let f) where o.intents[f.intentSeq] != nil:
                        o.fills.append((r.seq, f))
                    case .orderRejected(let x) where o.intents[x.intentSeq] != nil:
                        o.rejections.append((r.seq, x.intentSeq, "\(x.code) \(x.reason)"))
                    default:
                        break
                    }
                    return !done
                }
            }
            if done { break }
            usleep(100_000)
        }
        if o.refusal == nil, !(o.finalPhase == .flat || (action == .open && o.finalPhase == .open)) { o.timedOut = true }
        if !o.timedOut && o.refusal == nil { o.check = try checkVenue(o) }
        return o
    }

    /// The venue's book against the engine's after the trade: paper, the simulated exchange's
    /// positions the session publishes; live, a reconciliation asked of the session now and
    /// read from the journal.
    func checkVenue(_ o: TradeOutcome) throws -> (matched: Bool, lines: [String]) {
        guard let first = o.transitions.first else { return (false, ["no pair transition to check"]) }
        let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
        if mode == "paper" {
            // The session publishes after the step that journaled the outcome.
            while Date() < deadline {
                let pairs = try getJSON("/pairs")
                if let rows = pairs.json["pairs"] as? [[String: Any]],
                   let row = rows.first(where: { ($0["symbol"] as? String)?.uppercased() == o.symbol }),
                   (row["phase"] as? String) == o.finalPhase?.description {
                    var lines: [String] = []
                    var matched = true
                    for leg in ["spot", "perp"] {
                        let engine = (row["\(leg)Qty"] as? String).flatMap { Fixed($0) } ?? .zero
                        let venue = (row["venue\(leg.capitalized)Qty"] as? String).flatMap { Fixed($0) } ?? .zero
                        if engine != venue { matched = false }
                        lines.append("  \(leg): engine \(engine.normalized), venue (simulated exchange) \(venue.normalized)\(engine == venue ? "" : "  MISMATCH")")
                    }
                    return (matched, lines)
                }
                usleep(100_000)
            }
            return (false, ["  the session did not publish the pair's state within --timeout"])
        }
        let before = try lastSeq()
        _ = try post("/reconcile")
        var lastAsk = Date()
        var seen: [UInt32: Reconciled] = [:]
        var from = before + 1
        while Date() < deadline {
            _ = try journal.withSnapshot { snap in
                try snap.scan(from: from) { view in
                    let r = try view.decodeRecorded()
                    from = r.seq + 1
                    if case .reconciled(let x) = r.event, x.instrumentId == first.spot || x.instrumentId == first.perp { seen[x.instrumentId.rawValue] = x }
                    return true
                }
            }
            if seen.count == 2 {
                var lines: [String] = []
                var matched = true
                for (leg, id) in [("spot", first.spot), ("perp", first.perp)] {
                    let x = seen[id.rawValue]!
                    if x.status != .matched { matched = false }
                    lines.append("  \(leg): engine \(x.localQty.normalized), venue \(x.venueQty.normalized): \(x.status)")
                }
                return (matched, lines)
            }
            if Date().timeIntervalSince(lastAsk) > 5 {   // a book that changed while read is read again at the next step; ask again
                _ = try post("/reconcile")
                lastAsk = Date()
            }
            usleep(100_000)
        }
        return (false, ["  no reconciliation of both legs reached the journal within --timeout"])
    }

    /// Queues the trade on the session (`POST /trade/open|close`), follows the journal until
    /// the engine's outcome, prints it against `marks` and exits by it (`finish`).
    func place(_ action: OperatorTradeAction, symbol: String, query: String, marks: (spot: Fixed?, perp: Fixed?), timeout: String) throws {
        let before = try lastSeq()
        let queued = try post("/trade/\(action)?symbol=\(Self.escape(symbol))&\(query)")
        guard queued.status == 202 else { throw CLIError.failed("the session did not queue the \(action): \(queued.json["error"] as? String ?? "HTTP \(queued.status)")") }
        printNotice("queued on the session; waiting for the engine (up to \(timeout))")
        let outcome = try follow(action: action, symbol: symbol, after: before, timeoutMs: timeoutMs)
        print(TradePrint.outcome(outcome, marks: marks))
        try finish(outcome)
    }

    /// The exit: 0 done and matched; 1 otherwise (after the outcome is printed).
    func finish(_ o: TradeOutcome) throws {
        if o.refusal != nil || o.timedOut { throw ExitCode(1) }
        if o.action == .open && o.finalPhase != .open { throw ExitCode(1) }
        if let c = o.check, !c.matched { throw ExitCode(1) }
    }
}

/// The text `carry trade` prints.
enum TradePrint {
    static func money(_ v: Any?, scale: Int = 2) -> String {
        guard let s = v as? String, let f = Fixed(s) else { return "—" }
        return f.rounded(scale: scale, .toNearestOrEven).description
    }

    /// A value as sent (numbers without trailing zeros), or a dash.
    static func text(_ v: Any?) -> String {
        guard let s = v as? String else { return "—" }
        return Fixed(s).map { $0.normalized.description } ?? s
    }

    static func percent(_ v: Any?) -> String {
        guard let s = v as? String, let f = Fixed(s) else { return "—" }
        return f.multiplied(by: Fixed(100), scale: 4, .toNearestOrEven).description + " %"
    }

    static func preflight(_ f: [String: Any]) -> String {
        var lines = ["Pre-flight: open \(text(f["symbol"])) at \(text(f["notional"])) USDT per leg (\(text(f["mode"])) session, venue time \(text(f["venueTime"])))"]
        func row(_ label: String, _ value: String) { lines.append("  " + label.padding(toLength: 24, withPad: " ", startingAt: 0) + value) }
        row("marks", "spot \(text(f["spotPrice"])), perp \(text(f["perpPrice"]))")
        row("quantity", "\(text(f["qty"])) per leg (step \(text(f["qtyStep"])), min qty \(text(f["minQty"])), min notional spot \(text(f["spotMinNotional"])) / perp \(text(f["perpMinNotional"])) USDT)")
        row("legs", "buy spot \(money(f["spotNotional"])) USDT, sell perp \(money(f["perpNotional"])) USDT")
        row("leverage", "\(text(f["leverage"]))× (risk.maxLeverage \(text(f["maxLeverage"]))), perp margin \(money(f["perpMargin"])) USDT")
        row("balance", "equity \(money(f["equity"])), committed \(money(f["committed"])), free after entry \(money(f["freeAfter"])) USDT (minimum \(money(f["minFreeCash"])))")
        row("limits", "open notional \(money(f["openNotional"])), max per pair \(money(f["maxPairNotional"])), max total \(money(f["maxTotalNotional"])) USDT")
        let interval = (f["fundingIntervalMinutes"] as? Int).map { "\($0 / 60) h" } ?? "?"
        row("funding", "last settled \(percent(f["fundingRate"])) per \(interval), predicted \(percent(f["predictedRate"]))")
        row("funding per hour", "\(money(f["fundingPerHour"], scale: 4)) USDT now, \(money(f["predictedFundingPerHour"], scale: 4)) USDT predicted")
        row("est. cost to open", "fees \(money(f["openFees"], scale: 4)) + half spreads \(money(f["openSlippage"], scale: 4)) USDT")
        row("est. round trip", "\(money(f["roundTripCost"], scale: 4)) USDT (open and close at these prices)")
        row("breakeven holding", "\(hours(f["breakevenHours"])) now, \(hours(f["predictedBreakevenHours"])) predicted")
        if let r = f["refusal"] as? [String: Any] { row("verdict", "REFUSED: \(text(r["message"]))") } else { row("verdict", "passes the engine's checks now") }
        return lines.joined(separator: "\n")
    }

    static func hours(_ v: Any?) -> String {
        guard let s = v as? String else { return "never (the rate does not pay)" }
        return "\(s) h"
    }

    static func pairs(_ rows: [[String: Any]]) -> String {
        let header = ["pair", "phase", "pair id", "spot qty", "perp qty", "venue spot", "venue perp", "spot mark", "perp mark", "funding", "costs", "opened"]
        var table = [header]
        for r in rows {
            table.append([text(r["symbol"]), text(r["phase"]), "\(r["pairId"] as? Int ?? 0)", text(r["spotQty"]), text(r["perpQty"]),
                          (r["venueSpotQty"] as? String) ?? "(reconciled)", (r["venuePerpQty"] as? String) ?? "(reconciled)",
                          text(r["spotMark"]), text(r["perpMark"]), money(r["fundingUsdt"], scale: 4), money(r["costsUsdt"], scale: 4), text(r["openedAt"])])
        }
        var widths = Array(repeating: 0, count: header.count)
        for row in table { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        return table.map { row in row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  ") }
            .joined(separator: "\n")
    }

    static func outcome(_ o: TradeOutcome, marks: (spot: Fixed?, perp: Fixed?)) -> String {
        var lines: [String] = []
        lines.append("Journaled as operator.trade seq \(o.commandSeq)" + (o.pairId != 0 ? ", pair id \(o.pairId)" : ""))
        if let refusal = o.refusal {
            lines.append("REFUSED by the engine: \(refusal). Nothing was sent.")
            return lines.joined(separator: "\n")
        }
        var feeTotal = Fixed.zero, slipTotal = Fixed.zero
        var legLines: [(UInt64, String)] = []
        for (seq, f) in o.fills {
            guard let intent = o.intents[f.intentSeq] else { continue }
            let mark = intent.leg == .spot ? marks.spot : marks.perp
            // Slippage against the mark the pre-flight showed: what the price cost this side.
            let slip = mark.map { (f.side == .buy ? f.price - $0 : $0 - f.price).multiplied(by: f.qty, scale: quoteScale, .toNearestOrEven) }
            feeTotal += f.feeAsset == .base ? f.fee.multiplied(by: f.price, scale: quoteScale, .toNearestOrEven) : f.fee
            if let slip { slipTotal += slip }
            legLines.append((seq, "  filled \(intent.leg) \(f.side) \(f.qty.normalized) @ \(f.price.normalized)  fee \(f.fee.normalized) \(f.feeAsset == .base ? "(base coin)" : "USDT")"
                             + "  slippage vs mark \(mark.map { $0.normalized.description } ?? "—"): \(slip.map { $0.rounded(scale: 4, .toNearestOrEven).description } ?? "—") USDT"))
        }
        for x in o.rejections {
            legLines.append((x.seq, "  REJECTED \(o.intents[x.intent].map { "\($0.leg) \($0.side) \($0.qty.normalized)" } ?? "order \(x.intent)") by the venue: \(x.reason)"))
        }
        lines.append(contentsOf: legLines.sorted { $0.0 < $1.0 }.map(\.1))
        if !o.fills.isEmpty { lines.append("  cost: fees \(feeTotal.rounded(scale: 4, .toNearestOrEven)) USDT, slippage \(slipTotal.rounded(scale: 4, .toNearestOrEven)) USDT") }
        lines.append("  pair: " + o.transitions.map { "\($0.from) → \($0.to) (\($0.cause))" }.joined(separator: ", "))
        let unwound = o.transitions.contains { $0.to == .unwinding }
        if o.timedOut {
            lines.append("NOT CONFIRMED within --timeout: the pair is \(o.finalPhase?.description ?? "not yet moved"); follow it with carry trade status")
        } else if unwound {
            lines.append("A LEG FAILED: the engine unwound the other leg; the pair is \(o.finalPhase?.description ?? "?").")
        } else if o.action == .open {
            lines.append(o.finalPhase == .open ? "OPENED." : "NOT OPENED: the pair is \(o.finalPhase?.description ?? "?") (nothing filled).")
        } else {
            lines.append("CLOSED.")
        }
        if let c = o.check {
            lines.append("Venue check: " + (c.matched ? "the venue holds what the engine does" : "MISMATCH between the venue and the engine"))
            lines.append(contentsOf: c.lines)
        }
        return lines.joined(separator: "\n")
    }

    /// Asks on the terminal; true for y or yes.
    static func confirm(_ prompt: String) -> Bool {
        print(prompt, terminator: "")
        fflush(nil)   // every stream: the prompt must show before the answer is read
        guard let answer = readLine() else { return false }
        let a = answer.trimmingCharacters(in: .whitespaces).lowercased()
        return a == "y" || a == "yes"
    }
}
