// `carry run --mode paper` end to end against `carry exchange-sim` replaying real history at
// 100 hours a second: a month of BTC and ETH traded through the venue's REST endpoints, pairs
// opened and closed, funding collected; `carry parity` identical; the session killed with
// SIGKILL and continued from its journal without losing or repeating anything; bad input
// refused before any journal is written.

import CarryCore
import CarryJournal
import CarryTesting
import Foundation
import Testing

private let replayStart = "2025-12-10T00:00:00Z"
private let stopAt = "2026-01-10T00:00:00Z"   // 31 days of history

/// Kinds and counts of a journal's records, and its bars as (instrument, time) keys.
private func census(_ path: String) throws -> (kinds: [String: Int], barKeys: [String]) {
    let j = try Journal.open(path)
    var kinds: [String: Int] = [:]
    var bars: [String] = []
    try j.withSnapshot { snap in
        _ = try snap.scan { view in
            let e = try view.decode()
            kinds[e.kind.name, default: 0] += 1
            if case .barClosed(let b) = e { bars.append("\(b.instrumentId.index)@\(view.header.eventTime.ms)") }
            if case .pairTransition(let t) = e { kinds["to \(t.to)", default: 0] += 1 }
            return true
        }
    }
    return (kinds, bars)
}

/// Waits (at most a minute) until a journal exists at `path`.
private func waitForJournal(_ path: String) {
    for _ in 0..<600 where !Journal.exists(at: path) { usleep(100_000) }
}

@Suite("carry run --mode paper against the loopback venue", .serialized)
struct PaperSessionTests {
    let carry = Fixtures.executable("carry")

    @Test("a month of replayed history: pairs open and close, funding is paid, parity is identical and the journal verifies")
    func monthOfHistory() async throws {
        let sim = try RunningSim(journal: SourceJournal.shared.path, ["--source-venue", "binance", "--replay-start", replayStart, "--replay-speed", "360000"])
        defer { sim.stop() }
        let scratch = ScratchDirectory("paper-month")
        let journal = scratch.sub("session")
        let r = try await runProcessOffPool(carry, ["run", "--mode", "paper", "--config", try testSessionConfig(scratch), "--journal", journal,
                                       "--base-url", sim.baseURL, "--stop-at", stopAt], timeoutSeconds: 300)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("venue time reached 2026-01-10T00:00:00Z"), "\(r.stdout)")
        let c = try census(journal)
        // Both legs of both pairs, hourly, none missing from each one's first bar (the warm-up
        // before the session's first step) through the stop (the last step's cutoff, at or
        // past it). Where the first bar falls depends
        // on how long the process took to start: at 360,000× a second of it is 100 venue hours,
        // so the span is bounded loosely (at least three weeks), the completeness exactly.
        let stop = Timestamp(iso8601: stopAt)!.ms
        var hoursBy: [String: Set<Int64>] = [:]
        for key in c.barKeys {
            let parts = key.split(separator: "@")
            hoursBy[String(parts[0]), default: []].insert(Int64(parts[1])! / Millis.hour)
        }
        #expect(hoursBy.count == 4, "\(hoursBy.keys)")
        for (instrument, hours) in hoursBy {
            let first = hours.min()!, last = hours.max()!
            #expect(last >= stop / Millis.hour, "instrument \(instrument): no bar reached the stop")
            #expect(hours.count == Int(last - first + 1), "instrument \(instrument): \(Int(last - first + 1) - hours.count) hourly bars missing")
            #expect(last - first >= 21 * 24, "instrument \(instrument): \(last - first) hours of bars")
        }
        #expect(Set(c.barKeys).count == c.barKeys.count, "a bar journaled twice")
        #expect((c.kinds["to opening"] ?? 0) >= 1 && (c.kinds["to closing"] ?? 0) >= 1, "\(c.kinds)")
        #expect((c.kinds["funding.paid"] ?? 0) >= 3, "\(c.kinds)")
        #expect((c.kinds["order.filled"] ?? 0) >= 4)

        let parity = try runProcess(carry, ["parity", journal])
        #expect(parity.status == 0, "\(parity.stdout)\(parity.stderr)")
        #expect(parity.stdout.hasPrefix("identical: "), "\(parity.stdout)")
        let verify = try runProcess(Fixtures.executable("carry-journal"), ["verify", journal])
        #expect(verify.status == 0 && verify.stdout.contains("intact"), "\(verify.stdout)\(verify.stderr)")
    }

    @Test("killed with SIGKILL mid-session and started again: it continues from its journal, nothing repeated or lost, parity identical")
    func killAndContinue() async throws {
        let sim = try RunningSim(journal: SourceJournal.shared.path, ["--source-venue", "binance", "--replay-start", replayStart, "--replay-speed", "360000"])
        defer { sim.stop() }
        let scratch = ScratchDirectory("paper-kill")
        let journal = scratch.sub("session")
        let config = try testSessionConfig(scratch)
        // Three kills at different moments, then a clean run to the end.
        for delay in [1.5, 1.0, 2.0] {
            let child = try ChildProcess(carry, ["run", "--mode", "paper", "--config", config, "--journal", journal, "--base-url", sim.baseURL,
                                                 "--stop-at", stopAt])
            // Kill only once the session has started journaling (a loaded machine may take a while).
            waitForJournal(journal)
            usleep(UInt32(delay * 1_000_000))
            child.signal(SIGKILL)
            child.wait()
        }
        let r = try await runProcessOffPool(carry, ["run", "--mode", "paper", "--config", config, "--journal", journal, "--base-url", sim.baseURL,
                                       "--stop-at", stopAt], timeoutSeconds: 300)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("continued"), "\(r.stdout)")
        let c = try census(journal)
        #expect(Set(c.barKeys).count == c.barKeys.count, "a bar journaled twice")
        // Every hour from the first bar to the stop is there for all four instruments.
        let hours = Set(c.barKeys.map { $0.split(separator: "@")[1] })
        let times = hours.compactMap { Int64($0) }.sorted()
        if let first = times.first, let last = times.last {
            #expect(times.count == Int((last - first) / 3_600_000) + 1, "an hour missing between \(first) and \(last)")
            #expect(c.barKeys.count == 4 * times.count)
        }
        #expect((c.kinds["run.started"] ?? 0) >= 2)
        let parity = try runProcess(carry, ["parity", journal])
        #expect(parity.status == 0 && parity.stdout.hasPrefix("identical: "), "\(parity.stdout)\(parity.stderr)")
        let verify = try runProcess(Fixtures.executable("carry-journal"), ["verify", journal])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
    }

    @Test("SIGTERM stops after the current step: run.ended journaled, exit 0")
    func gracefulStop() throws {
        let sim = try RunningSim(journal: SourceJournal.shared.path, ["--source-venue", "binance", "--replay-start", replayStart, "--replay-speed", "3600"])
        defer { sim.stop() }
        let scratch = ScratchDirectory("paper-term")
        let journal = scratch.sub("session")
        let child = try ChildProcess(carry, ["run", "--mode", "paper", "--config", try testSessionConfig(scratch), "--journal", journal,
                                             "--base-url", sim.baseURL])
        waitForJournal(journal)
        usleep(1_000_000)
        child.signal(SIGTERM)
        let status = child.wait(timeoutSeconds: 30)
        #expect(status == 0, "\(child.stderrText)")
        let c = try census(journal)
        #expect(c.kinds["run.ended"] == 1)
    }

    @Test("bad input: an unknown symbol, another config on an existing journal, live mode without keys: exit 2 with what to do, no journal written")
    func badInput() throws {
        let sim = try RunningSim(journal: SourceJournal.shared.path, ["--source-venue", "binance"])
        defer { sim.stop() }
        let scratch = ScratchDirectory("paper-bad")
        let journal = scratch.sub("session")
        let badSymbol = scratch.sub("bad.yaml")
        try String(contentsOfFile: try testSessionConfig(scratch), encoding: .utf8).replacingOccurrences(of: "[BTCUSDT, ETHUSDT]", with: "[BTCUSDTT]")
            .write(toFile: badSymbol, atomically: true, encoding: .utf8)
        let unknown = try runProcess(carry, ["run", "--mode", "paper", "--config", badSymbol, "--journal", journal, "--base-url", sim.baseURL,
                                             "--duration", "1s"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("BTCUSDTT is not a Bybit linear perpetual") && unknown.stderr.contains("BTCUSDT"), "\(unknown.stderr)")
        #expect(!Journal.exists(at: journal))

        let ok = try runProcess(carry, ["run", "--mode", "paper", "--config", try testSessionConfig(scratch), "--journal", journal,
                                        "--base-url", sim.baseURL, "--duration", "1s"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let other = try testSessionConfig(scratch, extra: "collateralCostApr: 0.05")
        let before = try census(journal).kinds.values.reduce(0, +)
        let refused = try runProcess(carry, ["run", "--mode", "paper", "--config", other, "--journal", journal, "--base-url", sim.baseURL,
                                             "--duration", "1s"])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("was started with another config"), "\(refused.stderr)")
        #expect(try census(journal).kinds.values.reduce(0, +) == before)

        let live = try runProcess(carry, ["run", "--mode", "live", "--journal", scratch.sub("live"), "--base-url", sim.baseURL, "--env-file", scratch.sub("none.env")],
                                  environment: ["BYBIT_API_KEY": "", "BYBIT_API_SECRET": ""])
        #expect(live.status == 2 && live.stderr.contains("BYBIT_API_KEY"), "\(live.stderr)")
        #expect(!Journal.exists(at: scratch.sub("live")))
    }
}
