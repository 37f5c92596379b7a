// `carry run --mode live` end to end against `carry exchange-sim` replaying real history: a
// month of BTC and ETH traded through the venue's signed REST endpoints — pairs opened and
// closed, funding collected, the funding ledger equal to the venue's transaction log to the
// unit, every reconciliation matched; chaos (lost answers, 5xx after accept, refusals, partial
// fills, 5xx on any request) with the engine SIGKILLed and restarted: no orderLinkId placed
// twice, nothing the venue did missing from the journal or in it twice; missing keys refused
// with nothing sent; an account in the wrong position or margin mode refused with nothing sent;
// an account the journal does not explain refused unless --adopt; the keys
// nowhere in the journal, the output or the errors.

import CarryCore
import CarryEngine
import CarryExchangeSim
import CarryJournal
import CarryTesting
import CarryVenues
import Foundation
import Testing

private let replayStart = "2025-12-10T00:00:00Z"

/// A live session's config: v1.0's threshold strategy on BTC and ETH, short holdings so pairs
/// open and close many times, the loopback venue's fees (so the fee check is quiet), polling
/// fast with no market lag (the loopback venue publishes an instant whole the moment its
/// clock passes it).
private func liveConfig(_ scratch: ScratchDirectory, extra: String = "", fees: String = "{spotTaker: 0.001, spotMaker: 0.001, perpTaker: 0.0005, perpMaker: 0.0002}",
                        poll: String = "20ms") throws -> String {
    try testSessionConfig(scratch, session: "reconcileInterval: 6h", poll: poll,
                          strategy: "entryThreshold: 0.00005, exitThreshold: 0, maxHolding: 3d, pairNotionalUsdt: 10000, maxOpenPairs: 2, reentryCooldown: 8h",
                          extra: "execution: {legRiskBudget: 2h}\nfees:\n  bybit: \(fees)\n\(extra)")
}

/// venues.yaml for a loopback venue that allows much: fast backoff, generous pacing.
private func liveConfigDirectory(_ scratch: ScratchDirectory) throws -> String {
    let dir = scratch.sub("config")
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try """
    bybit:
      maxAttempts: 10
      backoffBase: 10ms
      backoffMax: 200ms
      rateLimits:
        default: {requestsPerSecond: 400, burst: 50}
        private.order: {requestsPerSecond: 400, burst: 50}
        private.position: {requestsPerSecond: 400, burst: 50}
        private.account: {requestsPerSecond: 400, burst: 50}
    """.write(toFile: dir + "/venues.yaml", atomically: true, encoding: .utf8)
    return dir
}

private let simKeys = ["BYBIT_API_KEY": SimCredentials.defaultAPIKey, "BYBIT_API_SECRET": SimCredentials.defaultSecret]

/// Every record of a journal.
private func records(_ path: String) throws -> [RecordedEvent] { try SessionReplay.records(of: try Journal.open(path)) }

/// `GET /sim/stats`, whole.
private func rawStats(_ sim: RunningSim) throws -> [String: Any] {
    let r = try CurlHTTPTransport().get(HTTPRequest(url: sim.baseURL + "/sim/stats"))
    return try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] ?? [:]
}

/// A client of the loopback venue's signed endpoints (for reading what it did).
private func venueClient(_ sim: RunningSim) -> BybitTradingClient {
    var o = BybitClientOptions(baseURL: sim.baseURL)
    o.maxAttempts = 10
    o.backoffBaseMs = 10
    o.backoffMaxMs = 200
    o.defaultRateLimit = RateLimitConfig(requestsPerSecond: 200, burst: 50)
    return BybitTradingClient(options: o, credentials: BybitCredentials(apiKey: SimCredentials.defaultAPIKey, secret: SimCredentials.defaultSecret)!,
                              transport: try! CurlHTTPTransport(), clock: SystemVenueClock(), logger: .init(label: "test"))
}

/// The venue's SETTLEMENT rows and executions of orders whose orderLinkId starts with `prefix`, through `time`.
private func venueLedger(_ sim: RunningSim, through time: Timestamp) throws -> (settlements: [String], executions: [String]) {
    let c = venueClient(sim)
    let rows = try c.transactionLog(category: .linear, type: "SETTLEMENT", limit: 50, maxPages: 1000)
    let settlements = rows.filter { $0.transactionTime <= time }.map { "\($0.symbol) \($0.transactionTime.ms) \($0.funding ?? .zero)" }.sorted()
    var executions: [String] = []
    for category in [Bybit.Category.linear, .spot] {
        var cursor = ""
        repeat {
            let page = try c.executions(category: category, limit: 100, cursor: cursor)
            executions += page.fills.filter { $0.execTime <= time && $0.orderLinkId.hasPrefix("c") }.map(\.execId)
            cursor = page.nextPageCursor
        } while !cursor.isEmpty
    }
    return (settlements, executions.sorted())
}

/// The journal's funding.paid rows as the venue's log writes them, and its fills' execution ids.
private func journalLedger(_ recs: [RecordedEvent], through time: Timestamp) -> (settlements: [String], executions: [String]) {
    var symbols: [UInt32: String] = [:]
    var settlements: [String] = [], executions: [String] = []
    for r in recs {
        switch r.event {
        case .instrumentDefined(let d): symbols[d.id.rawValue] = d.symbol
        case .fundingPaid(let p) where p.settlementTime <= time:
            settlements.append("\(symbols[p.instrumentId.rawValue] ?? "?") \(p.settlementTime.ms) \(p.amount)")
        case .orderFilled(let f) where r.eventTime <= time && !f.isLiquidation: executions.append(f.executionId)
        default: break
        }
    }
    return (settlements.sorted(), executions.sorted())
}

/// Reconciliation verdicts other than `matched`, described.
private func reconcileMismatches(_ recs: [RecordedEvent]) -> [String] {
    recs.compactMap { r -> String? in
        guard case .reconciled(let x) = r.event, x.status != .matched else { return nil }
        return "seq \(r.seq) \(x.status) instrument \(x.instrumentId.rawValue) local \(x.localQty) venue \(x.venueQty) cash \(String(describing: x.localCash)) / \(String(describing: x.venueCash))"
    }
}

private func count(_ recs: [RecordedEvent], _ pick: (Event) -> Bool) -> Int { recs.reduce(0) { $0 + (pick($1.event) ? 1 : 0) } }

@Suite("carry run --mode live against the loopback venue", .serialized)
struct LiveSessionTests {
    let carry = Fixtures.executable("carry")

    @Test("a month of replayed history: pairs open and close, funding is collected, the ledger equals the venue's log to the unit, every reconciliation matches, the journal verifies")
    func monthOfHistory() async throws {
        let sim = try RunningSim(journal: SourceJournal.shared.path, ["--source-venue", "binance", "--replay-start", replayStart, "--replay-speed", "36000",
                                                                      "--limit", "1000"])
        defer { sim.stop() }
        let scratch = ScratchDirectory("live-month")
        let journal = scratch.sub("session")
        let stopAt = "2026-01-10T00:00:00Z"   // 31 days of history
        let r = try await runProcessOffPool(carry, ["run", "--mode", "live", "--config-dir", try liveConfigDirectory(scratch), "--config", try liveConfig(scratch),
                                       "--journal", journal, "--base-url", sim.baseURL, "--stop-at", stopAt, "--env-file", scratch.sub("none.env")],
                               environment: simKeys, timeoutSeconds: 600)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("live session started") && r.stdout.contains("venue time reached 2026-01-10T00:00:00Z"), "\(r.stdout)")
        #expect(!r.stdout.contains("fee rates"), "\(r.stdout)")
        let recs = try records(journal)
        let kinds = Dictionary(grouping: recs, by: { $0.event.kind.name }).mapValues(\.count)
        let opened = count(recs) { if case .pairTransition(let t) = $0 { return t.to == .opening } else { return false } }
        let closed = count(recs) { if case .pairTransition(let t) = $0 { return t.to == .closing } else { return false } }
        #expect(opened >= 2 && closed >= 1, "\(kinds)")
        #expect((kinds["order.filled"] ?? 0) >= 8 && (kinds["order.accepted"] ?? 0) >= 8, "\(kinds)")
        #expect((kinds["funding.paid"] ?? 0) >= 6, "\(kinds)")
        #expect((kinds["venue.snapshot"] ?? 0) >= 10, "\(kinds)")
        #expect(kinds["order.rejected"] == nil && kinds["order.unknown"] == nil, "\(kinds)")

        // The funding ledger: every settlement the venue paid, to the unit, and nothing else;
        // every one matched against what the engine expected.
        let lastSnapshot = try #require(recs.last { $0.event.kind == .venueSnapshot }).eventTime
        let venue = try venueLedger(sim, through: lastSnapshot)
        let mine = journalLedger(recs, through: lastSnapshot)
        #expect(!venue.settlements.isEmpty)
        #expect(mine.settlements == venue.settlements)
        #expect(mine.executions == venue.executions)
        let fundingAlerts = recs.compactMap { r -> String? in if case .alertRaised(let a) = r.event, a.code.hasPrefix("funding.") { return a.message } else { return nil } }
        #expect(fundingAlerts.isEmpty, "\(fundingAlerts)")
        #expect(r.stdout.contains("0 differed, 0 unmatched"), "\(r.stdout)")
        // Positions, cash and open orders equal the venue's at every reconciliation.
        #expect(reconcileMismatches(recs).isEmpty, "\(reconcileMismatches(recs))")

        let stats = try rawStats(sim)
        let orders = stats["orders"] as? [String: Int] ?? [:]
        #expect(orders["placed"] == orders["distinctOrderLinkIds"] && orders["duplicatesRefused"] == 0, "\(orders)")
        let verify = try runProcess(Fixtures.executable("carry-journal"), ["verify", journal])
        #expect(verify.status == 0 && verify.stdout.contains("intact"), "\(verify.stdout)\(verify.stderr)")
        // Parity of a live journal: its decisions against a backtest replay of its market
        // inputs, and the fill-quality gap of every order up to the first that differs.
        let parity = try runProcess(carry, ["parity", journal])
        #expect(parity.status == 0 || parity.status == 1, "\(parity.stderr)")
        #expect(parity.stdout.hasPrefix("decisions: "), "\(parity.stdout)")
        let header = try #require(parity.stdout.split(separator: "\n").first { $0.hasPrefix("fill quality") }, "\(parity.stdout)")
        let compared = Int(header.split(separator: " ").first { Int($0) != nil } ?? "") ?? 0
        // Every row is one order: its intent is in the journal and was filled there.
        let rows = parity.stdout.split(separator: "\n").filter { $0.hasPrefix("  ") && Int($0.split(separator: " ").first ?? "") != nil }
        #expect(compared >= 4 && rows.count == compared, "\(parity.stdout)")
        let filledIntents = Set(recs.compactMap { r -> UInt64? in if case .orderFilled(let f) = r.event { return f.intentSeq } else { return nil } })
        for row in rows { #expect(filledIntents.contains(UInt64(row.split(separator: " ")[0]) ?? 0), "\(row)") }
        #expect(parity.stdout.contains("summary: price gap mean"), "\(parity.stdout)")
        print(parity.stdout.split(separator: "\n").filter { !$0.hasPrefix("  ") }.joined(separator: "\n"))
    }

    @Test("private streams with faults (connections killed, messages lost before each kill, executions sent twice): fills learned by stream, reconnected and reconciled after every reconnect, no fill lost or doubled, uptime journaled")
    func streamsWithDrops() async throws {
        let sim = try RunningSim(journal: SourceJournal.shared.path, ["--source-venue", "binance", "--replay-start", replayStart, "--replay-speed", "36000",
                                                                      "--limit", "1000", "--ws-drop-every", "40", "--ws-lose", "2", "--ws-dup-exec", "2"])
        defer { sim.stop() }
        let scratch = ScratchDirectory("live-streams")
        let journal = scratch.sub("session")
        // Polling slower than the stream: a fill the venue makes between steps wakes the loop by stream.
        let r = try await runProcessOffPool(carry, ["run", "--mode", "live", "--config-dir", try liveConfigDirectory(scratch), "--config", try liveConfig(scratch, poll: "300ms"),
                                       "--journal", journal, "--base-url", sim.baseURL, "--stop-at", "2025-12-28T00:00:00Z", "--env-file", scratch.sub("none.env")],
                               environment: simKeys, timeoutSeconds: 600)
        #expect(r.status == 0, "\(r.stderr)")
        // "stream       N of M fills first by stream (D also read over REST dropped), connected P% of S s, K reconnects"
        let line = try #require(r.stdout.split(separator: "\n").first { $0.hasPrefix("  stream") }.map(String.init), "\(r.stdout)")
        let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        #expect(numbers.count >= 5 && numbers[0] >= 1 && numbers[0] <= numbers[1], "\(line)")
        #expect(numbers.last.map { $0 >= 1 } ?? false, "no reconnect: \(line)")

        let recs = try records(journal)
        // Every execution the venue made is in the journal exactly once, whichever way it came.
        let lastSnapshot = try #require(recs.last { $0.event.kind == .venueSnapshot }).eventTime
        let venue = try venueLedger(sim, through: lastSnapshot)
        let mine = journalLedger(recs, through: lastSnapshot)
        #expect(venue.executions.count >= 8)
        #expect(mine.executions == venue.executions)
        #expect(Set(mine.executions).count == mine.executions.count)
        #expect(mine.settlements == venue.settlements)
        // A reconciliation after every reconnect: each `stream.reconnected` record is followed by a snapshot.
        let reconnects = recs.filter { if case .alertRaised(let a) = $0.event { return a.code == "stream.reconnected" } else { return false } }
        #expect(!reconnects.isEmpty)
        for a in reconnects {
            #expect(recs.contains { $0.seq > a.seq && $0.event.kind == .venueSnapshot }, "no reconciliation after the reconnect at seq \(a.seq)")
        }
        #expect(reconcileMismatches(recs).isEmpty, "\(reconcileMismatches(recs))")
        // The day's balance: one record per venue day after the first (18 days), every one matched.
        let balances = recs.compactMap { r -> AlertRaised? in if case .alertRaised(let a) = r.event, a.code.hasPrefix("balance.") { return a } else { return nil } }
        #expect(balances.count >= 15 && balances.allSatisfy { $0.code == "balance.daily" && $0.message.contains("USDT venue") }, "\(balances.map(\.message))")
        // The stream's time and reconnects are journaled for the session report.
        let stats = recs.compactMap { r -> SessionStats? in if case .sessionStats(let s) = r.event { return s } else { return nil } }
        #expect(stats.reduce(0) { $0 + $1.streamUpMs } > 0 && stats.reduce(0) { $0 + $1.reconnects } >= 1, "\(stats)")
        let report = try runProcess(carry, ["report", journal])
        #expect(report.status == 0 && report.stdout.contains("stream time"), "\(report.stdout)\(report.stderr)")
        // The venue's own counts: connections were killed, messages lost, executions resent.
        let ws = try rawStats(sim)["ws"] as? [String: Any] ?? [:]
        #expect((ws["drops"] as? Int ?? 0) >= 1 && (ws["lost"] as? Int ?? 0) >= 1, "\(ws)")
        let orders = try rawStats(sim)["orders"] as? [String: Int] ?? [:]
        #expect(orders["placed"] == orders["distinctOrderLinkIds"] && orders["duplicatesRefused"] == 0, "\(orders)")
        print("streams: \(line.trimmingCharacters(in: .whitespaces)); venue ws \(ws)")
    }

    @Test("a graceful stop (SIGTERM) with orders in flight: no new decisions, a bounded wait until every order sent has ended, then the journal sealed with none open")
    func gracefulStopWaits() throws {
        // An hour of venue time a second: a market order fills at the next bar close, up to a second after it is sent.
        let sim = try RunningSim(journal: SourceJournal.shared.path, ["--source-venue", "binance", "--replay-start", replayStart, "--replay-speed", "3600",
                                                                      "--limit", "1000"])
        defer { sim.stop() }
        let scratch = ScratchDirectory("live-stop")
        let journal = scratch.sub("session")
        let child = try ChildProcess(carry, ["run", "--mode", "live", "--config-dir", try liveConfigDirectory(scratch), "--config", try liveConfig(scratch),
                                             "--journal", journal, "--base-url", sim.baseURL, "--duration", "120s", "--stop-wait", "20s",
                                             "--env-file", scratch.sub("none.env")], environment: simKeys)
        var placed = 0
        for _ in 0..<1200 where placed == 0 {
            usleep(25_000)
            placed = (try rawStats(sim)["orders"] as? [String: Int])?["placed"] ?? 0
        }
        try #require(placed >= 1)
        child.signal(SIGTERM)
        #expect(child.wait(timeoutSeconds: 60) == 0)
        let recs = try records(journal)
        let ended = try #require(recs.last { $0.event.kind == .runEnded })
        guard case .runEnded(let e) = ended.event else { return }
        #expect(e.message.contains("signal") && !e.message.contains("in flight"), "\(e.message)")
        // Every order sent has its end in the journal before run.ended: a last fill, or a terminal status.
        var done: Set<UInt64> = []
        for r in recs where r.seq < ended.seq {
            switch r.event {
            case .orderFilled(let f) where f.leavesQty.isZero: done.insert(f.intentSeq)
            case .orderRejected(let x): done.insert(x.intentSeq)
            case .orderCancelled(let x): done.insert(x.intentSeq)
            case .orderExpired(let x): done.insert(x.intentSeq)
            case .orderStatus(let x) where x.status.isTerminal: done.insert(x.intentSeq)
            default: break
            }
        }
        let submitted = recs.compactMap { r -> UInt64? in if case .orderSubmitted(let s) = r.event { return s.intentSeq } else { return nil } }
        #expect(!submitted.isEmpty && submitted.allSatisfy { done.contains($0) }, "open at the end: \(submitted.filter { !done.contains($0) })")
        let verify = try runProcess(Fixtures.executable("carry-journal"), ["verify", journal])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
    }

    @Test("chaos: lost answers, 5xx after accept, refusals, partial fills, 5xx on any request, and the engine SIGKILLed four times: nothing placed twice, nothing lost, every reconciliation matched")
    func chaos() async throws {
        let sim = try RunningSim(journal: SourceJournal.shared.path, [
            "--source-venue", "binance", "--replay-start", replayStart, "--replay-speed", "36000", "--limit", "1000",
            "--fault", "drop-after-accept:4", "--fault", "5xx-after-accept:5", "--fault", "reject-balance:7", "--fault", "partial:3", "--fault", "5xx:29",
        ])
        defer { sim.stop() }
        let scratch = ScratchDirectory("live-chaos")
        let journal = scratch.sub("session")
        let config = try liveConfig(scratch)
        let configDir = try liveConfigDirectory(scratch)
        let stopAt = "2026-01-05T00:00:00Z"
        let args = ["run", "--mode", "live", "--config-dir", configDir, "--config", config, "--journal", journal, "--base-url", sim.baseURL,
                    "--stop-at", stopAt, "--env-file", scratch.sub("none.env")]
        let kills = [2.5, 1.5, 3.0, 2.0]
        for delay in kills {
            let child = try ChildProcess(carry, args, environment: simKeys)
            usleep(UInt32(delay * 1_000_000))
            child.signal(SIGKILL)
            child.wait()
        }
        let r = try await runProcessOffPool(carry, args, environment: simKeys, timeoutSeconds: 600)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("live session continued"), "\(r.stdout)")

        let stats = try rawStats(sim)
        let orders = stats["orders"] as? [String: Int] ?? [:]
        let injected = stats["injected"] as? [String: Int] ?? [:]
        let placed = orders["placed"] ?? 0
        // The venue's own counts: no orderLinkId was placed twice, and none was even tried twice.
        #expect(placed >= 12, "\(orders)")
        #expect(placed == orders["distinctOrderLinkIds"], "\(orders)")
        #expect(orders["duplicatesRefused"] == 0, "\(orders)")
        for (kind, every) in [("drop-after-accept", 4), ("5xx-after-accept", 5), ("partial", 3)] where placed >= 2 * every {
            #expect((injected[kind] ?? 0) >= 1, "\(kind): \(injected)")
        }
        #expect((injected["reject-balance"] ?? 0) >= 1 && (injected["5xx"] ?? 0) >= 1, "\(injected)")

        let recs = try records(journal)
        let starts = count(recs) { $0.kind == .runStarted }
        #expect(starts >= 2 && starts <= kills.count + 1, "run.started \(starts)")
        #expect(count(recs) { $0.kind == .orderUnknown } >= 1)
        // Nothing the venue did before the last reconciliation is missing from the journal, or in it twice.
        let lastSnapshot = try #require(recs.last { $0.event.kind == .venueSnapshot }).eventTime
        let venue = try venueLedger(sim, through: lastSnapshot)
        let mine = journalLedger(recs, through: lastSnapshot)
        #expect(mine.executions == venue.executions)
        #expect(Set(mine.executions).count == mine.executions.count)
        #expect(mine.settlements == venue.settlements)
        // Positions equal the venue's at every reconciliation (the journal's fills explain the book).
        #expect(reconcileMismatches(recs).isEmpty, "\(reconcileMismatches(recs))")
        // Every intent that reached the venue (the newest 50 orders of each category, and every
        // execution) was journaled as submitted first.
        let submitted = Set(recs.compactMap { r -> UInt64? in if case .orderSubmitted(let s) = r.event { return s.intentSeq } else { return nil } })
        let c = venueClient(sim)
        let journalId = try Journal.open(journal).meta.journalId
        for category in [Bybit.Category.linear, .spot] {
            for o in try c.orderHistory(category: category, limit: 50) where o.orderLinkId.hasPrefix("c") {
                let seq = try #require(ClientOrderId.intentSeq(of: o.orderLinkId, journal: journalId))
                #expect(submitted.contains(seq), "order \(o.orderLinkId) at the venue with no order.submitted in the journal")
            }
        }
        for e in venue.executions {
            #expect(recs.contains { if case .orderFilled(let f) = $0.event { return f.executionId == e && submitted.contains(f.intentSeq) } else { return false } })
        }
        let verify = try runProcess(Fixtures.executable("carry-journal"), ["verify", journal])
        #expect(verify.status == 0 && verify.stdout.contains("intact"), "\(verify.stdout)\(verify.stderr)")
        print("chaos: \(kills.count) kills, \(placed) orders placed, \(orders["distinctOrderLinkIds"] ?? -1) distinct orderLinkIds, "
              + "\(orders["duplicatesRefused"] ?? -1) duplicates refused, injected \(injected.filter { $0.value > 0 })")
    }

    @Test("no keys: exit 2 naming both variables, no journal, and not one request to the venue's signed endpoints")
    func missingKeys() throws {
        let sim = try RunningSim(journal: SourceJournal.shared.path, ["--source-venue", "binance"])
        defer { sim.stop() }
        let scratch = ScratchDirectory("live-nokeys")
        let journal = scratch.sub("session")
        let r = try runProcess(carry, ["run", "--mode", "live", "--config", try liveConfig(scratch), "--journal", journal, "--base-url", sim.baseURL,
                                       "--duration", "2s", "--env-file", scratch.sub("none.env")],
                               environment: ["BYBIT_API_KEY": "", "BYBIT_API_SECRET": ""])
        #expect(r.status == 2)
        #expect(r.stderr.contains("BYBIT_API_KEY") && r.stderr.contains("BYBIT_API_SECRET") && r.stderr.contains("Nothing was sent"), "\(r.stderr)")
        #expect(!Journal.exists(at: journal))
        let stats = try rawStats(sim)
        #expect(stats["privateRequests"] as? Int == 0, "\(stats)")
        #expect(stats["requests"] as? Int == 0, "\(stats)")
    }

    @Test("an account in hedge mode with isolated margin: the venue reports it as Bybit does, and the session refuses it (exit 2, both named, nothing sent, no journal)")
    func wrongAccountMode() throws {
        let sim = try RunningSim(journal: SourceJournal.shared.path, ["--source-venue", "binance", "--replay-start", replayStart, "--replay-speed", "3600",
                                                                      "--limit", "1000", "--position-mode", "hedge", "--margin-mode", "ISOLATED_MARGIN"])
        defer { sim.stop() }
        // The venue's own shapes: account info, each perpetual as a long and a short side, and
        // a one-way order refused as Bybit refuses it.
        let c = venueClient(sim)
        let info = try c.accountInfo()
        #expect(info.marginMode == "ISOLATED_MARGIN" && info.unifiedMarginStatus == 5, "\(info)")
        #expect(try c.positions(category: .linear, symbol: "BTCUSDT").map(\.positionIdx) == [1, 2])
        guard case .rejected(let code, let message, _) = c.createOrder(BybitOrderRequest(category: .linear, symbol: "BTCUSDT", side: .sell, orderType: .market,
                                                                                          qty: Fixed("0.01")!, orderLinkId: "by-hand-1")) else {
            Issue.record("a positionIdx 0 order was not refused in hedge mode")
            return
        }
        #expect(code == 10001 && message.contains("position idx not match position mode"), "\(code) \(message)")
        let before = try rawStats(sim)["orders"] as? [String: Int] ?? [:]

        let scratch = ScratchDirectory("live-mode")
        let journal = scratch.sub("session")
        let r = try runProcess(carry, ["run", "--mode", "live", "--config-dir", try liveConfigDirectory(scratch), "--config", try liveConfig(scratch),
                                       "--journal", journal, "--base-url", sim.baseURL, "--duration", "3s", "--env-file", scratch.sub("none.env")],
                               environment: simKeys, timeoutSeconds: 120)
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("BTCUSDT, ETHUSDT are in hedge mode") && r.stderr.contains("one-way mode"), "\(r.stderr)")
        #expect(r.stderr.contains("isolated margin") && r.stderr.contains("Nothing was sent"), "\(r.stderr)")
        #expect(!Journal.exists(at: journal))
        let after = try rawStats(sim)["orders"] as? [String: Int] ?? [:]
        #expect(after["createRequests"] == before["createRequests"] && after["placed"] == 0, "\(after)")

        // A classic account alone is refused the same way.
        let classic = try RunningSim(journal: SourceJournal.shared.path, ["--source-venue", "binance", "--replay-start", replayStart, "--replay-speed", "3600",
                                                                          "--limit", "1000", "--unified-status", "1"])
        defer { classic.stop() }
        let r2 = try runProcess(carry, ["run", "--mode", "live", "--config-dir", try liveConfigDirectory(scratch), "--config", try liveConfig(scratch),
                                        "--journal", journal, "--base-url", classic.baseURL, "--duration", "3s", "--env-file", scratch.sub("none.env")],
                                environment: simKeys, timeoutSeconds: 120)
        #expect(r2.status == 2 && r2.stderr.contains("classic account") && !r2.stderr.contains("hedge mode"), "\(r2.stderr)")
        #expect(!Journal.exists(at: journal))
        #expect((try rawStats(classic)["orders"] as? [String: Int])?["createRequests"] == 0)
    }

    @Test("an account holding what a new journal does not explain: refused (exit 2, nothing sent, no journal); with --adopt, taken over and unwound")
    func unexplainedPosition() throws {
        let sim = try RunningSim(journal: SourceJournal.shared.path, ["--source-venue", "binance", "--replay-start", replayStart, "--replay-speed", "3600",
                                                                      "--limit", "1000"])
        defer { sim.stop() }
        let c = venueClient(sim)
        guard case .accepted = c.createOrder(BybitOrderRequest(category: .linear, symbol: "ETHUSDT", side: .sell, orderType: .market, qty: Fixed("0.50")!,
                                                               orderLinkId: "by-hand-1")) else { Issue.record("not accepted"); return }
        // Filled at the next bar close (an hour of venue time: a second of the replay).
        var filled = false
        for _ in 0..<100 where !filled {
            usleep(100_000)
            filled = try c.queryOrder(category: .linear, orderLinkId: "by-hand-1")?.orderStatus == "Filled"
        }
        #expect(filled)
        let scratch = ScratchDirectory("live-adopt")
        let journal = scratch.sub("session")
        let config = try liveConfig(scratch)
        let before = (try rawStats(sim)["orders"] as? [String: Int])?["createRequests"]
        let refused = try runProcess(carry, ["run", "--mode", "live", "--config-dir", try liveConfigDirectory(scratch), "--config", config, "--journal", journal,
                                             "--base-url", sim.baseURL, "--duration", "2s", "--env-file", scratch.sub("none.env")], environment: simKeys)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("ETHUSDT perp: the venue holds -0.5") && refused.stderr.contains("--adopt") && refused.stderr.contains("Nothing was sent"),
                "\(refused.stderr)")
        #expect(!Journal.exists(at: journal))
        #expect((try rawStats(sim)["orders"] as? [String: Int])?["createRequests"] == before)

        let adopted = try runProcess(carry, ["run", "--mode", "live", "--config-dir", try liveConfigDirectory(scratch), "--config", config, "--journal", journal,
                                             "--base-url", sim.baseURL, "--duration", "4s", "--env-file", scratch.sub("none.env"), "--adopt"],
                                     environment: simKeys, timeoutSeconds: 120)
        #expect(adopted.status == 0, "\(adopted.stderr)")
        #expect(adopted.stdout.contains("adopted      ETHUSDT perp: the venue holds -0.5"), "\(adopted.stdout)")
        let recs = try records(journal)
        let corrected = recs.contains { if case .reconciled(let x) = $0.event { return x.status == .corrected && x.venueQty == Fixed("-0.5")! } else { return false } }
        #expect(corrected)
        // The stray short is the engine's now: a pair holding one leg is unwound (a reduce-only buy).
        let unwind = recs.contains { if case .orderIntended(let i) = $0.event { return i.reduceOnly && i.side == .buy } else { return false } }
        #expect(unwind)
    }

    @Test("the API key and secret never reach the journal, stdout, stderr or an error — even when the venue refuses the signature")
    func keysNeverLeak() async throws {
        let key = "KEYcanary7f3a9e21b"
        let secret = "SECRETcanary51c2e88d0"
        let sim = try RunningSim(journal: SourceJournal.shared.path, ["--source-venue", "binance", "--replay-start", replayStart, "--replay-speed", "36000",
                                                                      "--limit", "1000", "--api-key", key, "--api-secret", secret])
        defer { sim.stop() }
        let scratch = ScratchDirectory("live-keys")
        let journal = scratch.sub("session")
        let configDir = try liveConfigDirectory(scratch)
        // A differing fee schedule, so the fee check speaks too.
        let config = try liveConfig(scratch, fees: "{spotTaker: 0.002, spotMaker: 0.001, perpTaker: 0.0005, perpMaker: 0.0002}")
        let ok = try await runProcessOffPool(carry, ["run", "--mode", "live", "--config-dir", configDir, "--config", config, "--journal", journal, "--base-url", sim.baseURL,
                                        "--stop-at", "2025-12-20T00:00:00Z", "--env-file", scratch.sub("none.env")],
                                environment: ["BYBIT_API_KEY": key, "BYBIT_API_SECRET": secret], timeoutSeconds: 300)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("fee rates    BTCUSDT spot: the venue charges taker 0.001"), "\(ok.stdout)")
        // Keys from a .env file, and a wrong secret: the venue answers 10004 (its message echoes the signed string).
        let env = scratch.sub("keys.env")
        try "BYBIT_API_KEY=\(key)\nBYBIT_API_SECRET=\(secret)x\n".write(toFile: env, atomically: true, encoding: .utf8)
        let refused = try runProcess(carry, ["run", "--mode", "live", "--config-dir", configDir, "--config", config, "--journal", scratch.sub("other"),
                                             "--base-url", sim.baseURL, "--duration", "2s", "--env-file", env],
                                     environment: ["BYBIT_API_KEY": "", "BYBIT_API_SECRET": ""])
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("refused the API key"), "\(refused.stderr)")
        for text in [ok.stdout, ok.stderr, refused.stdout, refused.stderr] {
            #expect(!text.contains(key) && !text.contains(secret))
        }
        var bytes: [UInt8] = []
        for dir in [journal, scratch.sub("other")] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                bytes += Array((try? Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))) ?? Data())
            }
        }
        #expect(bytes.count > 10_000)
        let haystack = String(decoding: bytes, as: UTF8.self)
        #expect(!haystack.contains(key) && !haystack.contains(secret))
        #expect(try records(journal).contains { $0.event.kind == .orderSubmitted })

        // The same journal with another config: refused as a paper session's would be, nothing journaled.
        let before = try records(journal).count
        let other = try runProcess(carry, ["run", "--mode", "live", "--config-dir", configDir, "--config", try liveConfig(scratch, extra: "collateralCostApr: 0.05"),
                                           "--journal", journal, "--base-url", sim.baseURL, "--duration", "2s", "--env-file", scratch.sub("none.env")],
                                   environment: ["BYBIT_API_KEY": key, "BYBIT_API_SECRET": secret])
        #expect(other.status == 2 && other.stderr.contains("was started with another config"), "\(other.stderr)")
        #expect(try records(journal).count == before)
    }
}
