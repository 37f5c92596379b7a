// `carry trade` driven as a person would, against sessions on the loopback venue: a paper
// session (a pseudo-terminal shows the pre-flight and the prompt, answers y, and reads the
// result; a declined prompt sends nothing; status; close), and a live session whose venue
// rejects every second order create (the refusals first — unknown symbol, below the minimum,
// insufficient balance, no terminal without --yes — each with its message and nothing sent,
// as the venue's order counts prove; then an open whose perp leg is rejected: the spot leg is
// unwound and the command reports it). A missing or damaged journal and a missing session are
// refused before anything is asked. Every wait is bounded.

import CarryCore
import CarryExchangeSim
import CarryJournal
import CarryTesting
import CarryVenues
import Foundation
import Testing

private let replayStart = "2025-12-10T00:00:00Z"

/// A session config whose strategy never enters on its own (entry at 1 % per 8 h, the most the
/// reader allows; the data never pays that), so every pair is the operator's.
private func quietConfig(_ scratch: ScratchDirectory, port: Int, extra: String = "") throws -> String {
    try testSessionConfig(scratch, session: "controlPort: \(port)",
                          strategy: "entryThreshold: 0.01, exitThreshold: -0.01, maxHolding: 30d, pairNotionalUsdt: 20000, maxOpenPairs: 2", extra: extra)
}

/// Runs `command` on a pseudo-terminal (Python's pty module), answers `answer` once the
/// `[y/N]` prompt appears, and returns everything the terminal showed and the exit status.
private func onTerminal(_ command: [String], answer: String, timeoutSeconds: Int = 120) throws -> (screen: String, status: Int32) {
    let driver = """
    import os, pty, select, sys, time
    answer, cmd = sys.argv[1], sys.argv[2:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(cmd[0], cmd)
    out, sent, deadline = b"", False, time.time() + \(timeoutSeconds)
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if fd in ready:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
            if not sent and b"[y/N]" in out:
                os.write(fd, (answer + "\\n").encode())
                sent = True
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(out.decode("utf-8", "replace"))
    sys.stdout.write("\\n<<exit %d>>\\n" % os.waitstatus_to_exitcode(status))
    """
    let r = try runProcess("/usr/bin/python3", ["-c", driver, answer] + command, timeoutSeconds: Double(timeoutSeconds + 30))
    guard let range = r.stdout.range(of: "<<exit ", options: .backwards), let end = r.stdout[range.upperBound...].firstIndex(of: ">"),
          let status = Int32(r.stdout[range.upperBound..<end]) else {
        throw CLIFailure(message: "the terminal driver failed: \(r.stdout)\(r.stderr)")
    }
    return (String(r.stdout[..<range.lowerBound]), status)
}

/// The venue's order counts (`/sim/stats` → orders).
private func orderCounts(_ sim: RunningSim) throws -> [String: Int] {
    let r = try CurlHTTPTransport().get(HTTPRequest(url: sim.baseURL + "/sim/stats"))
    let json = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] ?? [:]
    return json["orders"] as? [String: Int] ?? [:]
}

private func records(_ path: String) throws -> [RecordedEvent] { try SessionReplay.records(of: try Journal.open(path)) }

private func operatorTrades(_ path: String) throws -> [OperatorTrade] {
    try records(path).compactMap { if case .operatorTrade(let t) = $0.event { return t } else { return nil } }
}

private let simKeys = ["BYBIT_API_KEY": SimCredentials.defaultAPIKey, "BYBIT_API_SECRET": SimCredentials.defaultSecret]

@Suite("carry trade: paired trades by hand through a running session", .serialized)
struct TradeCLITests {
    let carry = Fixtures.executable("carry")

    @Test("paper session: on a terminal, the pre-flight and the prompt, y, the fills and the venue check; n sends nothing; status; close; parity identical")
    func paperOnTerminal() throws {
        // An hour of history a second: each order fills at the next bar, about a second later.
        let sim = try RunningSim(journal: SourceJournal.shared.path, ["--source-venue", "binance", "--replay-start", replayStart, "--replay-speed", "3600"])
        defer { sim.stop() }
        let scratch = ScratchDirectory("trade-paper")
        let journal = scratch.sub("session")
        let port = freeLoopbackPort()
        let session = try ChildProcess(carry, ["run", "--mode", "paper", "--config", try quietConfig(scratch, port: port), "--journal", journal,
                                               "--base-url", sim.baseURL, "--duration", "600s"])
        defer { session.signal(SIGKILL); session.wait() }
        #expect(eventually(60) { loopback("http://127.0.0.1:\(port)/pairs").flatMap { $0.status == 200 ? true : nil } } == true, "\(session.stderrText)")
        let target = ["--journal", journal, "--port", "\(port)"]

        // Declined: nothing journaled, nothing placed.
        let declined = try onTerminal([carry, "trade", "open", "BTCUSDT", "--notional", "1000"] + target, answer: "n")
        #expect(declined.status == 1, "\(declined.screen)")
        #expect(declined.screen.contains("Place this pair? [y/N]") && declined.screen.contains("Not placed: nothing was sent."), "\(declined.screen)")
        #expect(try operatorTrades(journal).isEmpty)

        // Accepted: the pre-flight, the prompt, then what filled and the check.
        let opened = try onTerminal([carry, "trade", "open", "BTCUSDT", "--notional", "1000", "--reason", "pty test"] + target, answer: "y")
        #expect(opened.status == 0, "\(opened.screen)\n\(session.stderrText)")
        for line in ["Pre-flight: open BTCUSDT at 1000 USDT per leg (paper session", "quantity", "leverage", "×", "balance", "funding",
                     "est. round trip", "breakeven holding", "passes the engine's checks now", "Place this pair? [y/N] y",
                     "Journaled as operator.trade seq", "filled spot buy", "filled perp sell", "slippage vs mark",
                     "pair: flat → opening (entry), opening → open (legsFilled)", "OPENED.", "Venue check: the venue holds what the engine does"] {
            #expect(opened.screen.contains(line), "\(line) missing:\n\(opened.screen)")
        }
        #expect(opened.screen.firstRange(of: "Pre-flight")!.lowerBound < opened.screen.firstRange(of: "[y/N]")!.lowerBound)
        #expect(opened.screen.firstRange(of: "[y/N]")!.lowerBound < opened.screen.firstRange(of: "OPENED.")!.lowerBound)
        let trades = try operatorTrades(journal)
        #expect(trades.map { "\($0.action) \($0.notionalUsdt) \($0.reason)" } == ["open 1000 pty test"])

        // The journal: the command, its manual signal (the pair's id), both legs for the quantity the pre-flight showed.
        let recs = try records(journal)
        let commandSeq = try #require(recs.first { if case .operatorTrade = $0.event { true } else { false } }?.seq)
        let signal = try #require(recs.first { $0.causation == .local(commandSeq) })
        guard case .signalComputed(let s) = signal.event else { Issue.record("not a signal: \(signal.event)"); return }
        #expect(s.strategy == .manual && s.action == .enter)
        let intents = recs.compactMap { r -> OrderIntended? in if case .orderIntended(let i) = r.event, i.pairId == signal.seq { return i } else { return nil } }
        #expect(intents.map { "\($0.leg) \($0.side)" } == ["spot buy", "perp sell"])
        let quantityAt = try #require(opened.screen.range(of: "quantity "))
        let qty = try #require(opened.screen[quantityAt.upperBound...].split(separator: " ").first)
        #expect(intents.allSatisfy { $0.qty == Fixed(String(qty)) }, "\(intents) vs \(qty)")

        // status: the pair open, both legs, engine and venue.
        let status = try runProcess(carry, ["trade", "status"] + target)
        #expect(status.status == 0, "\(status.stderr)")
        let row = try #require(status.stdout.split(separator: "\n").first { $0.hasPrefix("BTCUSDT") }, "\(status.stdout)")
        #expect(row.contains(" open ") && row.contains(String(qty)) && row.contains("-" + String(qty)), "\(row)")
        #expect(status.stdout.contains("paper session, venue time"), "\(status.stdout)")

        // A second open of the same pair is refused by the pre-flight: nothing sent.
        let again = try runProcess(carry, ["trade", "open", "BTCUSDT", "--notional", "1000", "--yes"] + target)
        #expect(again.status == 2 && again.stderr.contains("refused: the BTCUSDT pair is open, not flat"), "\(again.stdout)\(again.stderr)")

        // close on the terminal.
        let closed = try onTerminal([carry, "trade", "close", "BTCUSDT"] + target, answer: "yes")
        #expect(closed.status == 0, "\(closed.screen)")
        for line in ["Close this pair? [y/N]", "filled spot sell", "filled perp buy", "pair: open → closing (exit), closing → flat (flat)", "CLOSED.",
                     "Venue check: the venue holds what the engine does"] {
            #expect(closed.screen.contains(line), "\(line) missing:\n\(closed.screen)")
        }
        #expect(try operatorTrades(journal).map(\.action) == [.open, .close])

        // The session stops; its journal replays to what it holds, operator trades included.
        session.signal(SIGTERM)
        #expect(session.wait(timeoutSeconds: 60) == 0, "\(session.stderrText)")
        let parity = try runProcess(carry, ["parity", journal])
        #expect(parity.status == 0 && parity.stdout.hasPrefix("identical: "), "\(parity.stdout)\(parity.stderr)")
    }

    @Test("live session: refusals with their message and nothing sent (the venue's counts); a rejected perp leg is unwound and reported")
    func liveRefusalsAndUnwind() throws {
        // Every second order create is refused for balance: the pair's perp leg (the second create).
        let sim = try RunningSim(journal: SourceJournal.shared.path, ["--source-venue", "binance", "--replay-start", replayStart, "--replay-speed", "3600",
                                                                      "--fault", "reject-balance:2", "--limit", "1000"])
        defer { sim.stop() }
        let scratch = ScratchDirectory("trade-live")
        let journal = scratch.sub("session")
        let port = freeLoopbackPort()
        let config = try quietConfig(scratch, port: port, extra: "risk: {maxPairNotionalUsdt: 1000000, maxTotalNotionalUsdt: 3000000}")
        let session = try ChildProcess(carry, ["run", "--mode", "live", "--config-dir", try testConfigDirectory(scratch), "--config", config,
                                               "--journal", journal, "--base-url", sim.baseURL, "--duration", "600s", "--env-file", scratch.sub("none.env")],
                                       environment: simKeys)
        defer { session.signal(SIGKILL); session.wait() }
        #expect(eventually(60) { loopback("http://127.0.0.1:\(port)/pairs").flatMap { $0.status == 200 ? true : nil } } == true, "\(session.stderrText)")
        let target = ["--journal", journal, "--port", "\(port)"]

        // Refusals: each says why, exits 2, and the venue sees no order.
        let refusals: [([String], String)] = [
            (["open", "DOGEUSDT", "--notional", "1000", "--yes"], "refused: DOGEUSDT is not a pair this session trades (it trades BTCUSDT, ETHUSDT)"),
            (["open", "BTCUSDT", "--notional", "1", "--yes"], "is below what the venue accepts for BTCUSDT"),
            (["open", "BTCUSDT", "--notional", "90000", "--yes"], "refused: insufficient balance"),
            (["open", "BTCUSDT", "--notional", "1000"], "no terminal to confirm on (stdin is not a terminal): pass --yes"),
            (["close", "BTCUSDT"], "no terminal to confirm on"),
            (["close", "BTCUSDT", "--yes"], "refused: the BTCUSDT pair is flat, nothing to close"),
            (["open", "BTCUSDT", "--notional", "ten", "--yes"], "--notional must be a positive number of USDT (got ten)"),
        ]
        for (args, message) in refusals {
            let r = try runProcess(carry, ["trade"] + args + target, stdin: "y\n")
            #expect(r.status == 2, "\(args): \(r.stdout)\(r.stderr)")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
        let nothingSent = try orderCounts(sim)
        #expect(nothingSent["createRequests"] == 0, "\(nothingSent)")
        #expect(try operatorTrades(journal).isEmpty)

        // The pair: spot bought, perp refused by the venue; the engine unwinds the spot leg.
        let r = try runProcess(carry, ["trade", "open", "BTCUSDT", "--notional", "1000", "--yes"] + target, timeoutSeconds: 180)
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        for line in ["Pre-flight: open BTCUSDT at 1000 USDT per leg (live session", "filled spot buy", "REJECTED perp sell",
                     "110007", "flat → opening (entry), opening → unwinding (legFailed)", "unwinding → flat",
                     "A LEG FAILED: the engine unwound the other leg; the pair is flat.", "filled spot sell"] {
            #expect(r.stdout.contains(line), "\(line) missing:\n\(r.stdout)\n\(r.stderr)")
        }
        if let rejected = r.stdout.range(of: "REJECTED perp sell"), let unwound = r.stdout.range(of: "filled spot sell") {
            #expect(rejected.lowerBound < unwound.lowerBound, "the unwind follows the refusal in journal order:\n\(r.stdout)")
        }
        #expect(r.stdout.contains("Venue check:") && r.stdout.contains("spot: engine") && r.stdout.contains("perp: engine 0, venue 0: matched"), "\(r.stdout)")
        let counts = try orderCounts(sim)
        // The spot buy, the refused perp sell, the spot sale that unwound it.
        #expect(counts["createRequests"] == 3 && counts["placed"] == 2, "\(counts)")
        let recs = try records(journal)
        let phases = recs.compactMap { r -> String? in if case .pairTransition(let t) = r.event { return "\(t.to)" } else { return nil } }
        #expect(phases == ["opening", "unwinding", "flat"], "\(phases)")
        #expect(try operatorTrades(journal).map { "\($0.action) \($0.notionalUsdt)" } == ["open 1000"])
        session.signal(SIGTERM)
        #expect(session.wait(timeoutSeconds: 60) == 0, "\(session.stderrText)")
    }

    @Test("no journal, a damaged journal, or no session: a clear message, exit 2, nothing asked of anyone")
    func journalAndSessionRefusals() throws {
        let scratch = ScratchDirectory("trade-refusals")
        let port = freeLoopbackPort()
        let missing = try runProcess(carry, ["trade", "open", "BTCUSDT", "--notional", "1000", "--yes", "--journal", scratch.sub("nothing"), "--port", "\(port)"])
        #expect(missing.status == 2 && missing.stderr.contains("no journal at \(scratch.sub("nothing"))") && missing.stderr.contains("Nothing was sent"),
                "\(missing.stderr)")

        let damaged = scratch.sub("damaged")
        try FileManager.default.createDirectory(atPath: damaged, withIntermediateDirectories: true)
        try Data(repeating: 0x5A, count: 64 * 1024).write(to: URL(fileURLWithPath: damaged + "/data.mdb"))
        let bad = try runProcess(carry, ["trade", "status", "--journal", damaged, "--port", "\(port)"])
        #expect(bad.status == 2 && bad.stderr.contains("the journal at \(damaged) is damaged") && bad.stderr.contains("carry-journal verify"), "\(bad.stderr)")

        // A real journal, but no session on the port.
        let j = scratch.sub("journal")
        let journal = try Journal.openOrCreate(j, create: JournalCreateOptions(purpose: .paper))
        let writer = try journal.makeWriter()
        _ = try writer.append([EventDraft(.clockTicked(ClockTicked(purpose: .heartbeat)), eventTime: Timestamp(ms: 1), recordTime: Timestamp(ms: 1))])
        try writer.close()
        let none = try runProcess(carry, ["trade", "open", "BTCUSDT", "--notional", "1000", "--yes", "--journal", j, "--port", "\(port)"])
        #expect(none.status == 2 && none.stderr.contains("no session answers on 127.0.0.1:\(port)") && none.stderr.contains("carry run --mode paper --journal \(j)"),
                "\(none.stderr)")
    }
}
