// carry-bench rss: the live engine process's resident memory over a long accelerated session.
//
// The real processes, as an operator runs them: `carry exchange-sim` replaying the bundled
// Binance BTC and ETH history at `--speed`× (the venue's clock runs that many times real
// time), and `carry run --mode live` trading it — REST and the private WebSocket streams,
// journaling every input — from `--from` to `--to` of venue time. The engine's VmRSS is read
// (and RssAnon, its heap) from /proc every `--sample-ms` while it runs. Reported: the samples (a line every tenth of
// the run), the peak, the first and last tenths' means, and the least-squares slope over the
// second half (MiB per venue month): flat means the slope is within noise and the last tenth
// is not above the second tenth by more than 10 %. Target: peak ≤ 200 MiB, flat.

import ArgumentParser
import CarryCore
import CarryTesting
import CarryVenues
import CarryExchangeSim
import Foundation

struct RSSBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rss",
        abstract: "RSS of `carry run --mode live` over a long accelerated session against `carry exchange-sim` (target ≤ 200 MiB, flat).")

    @Option(help: "Venue time the session starts (the replay's start; a day of warm-up before it is read).")
    var from = "2025-04-01T00:00:00Z"

    @Option(help: "Venue time the session stops.")
    var to = "2026-03-15T00:00:00Z"

    @Option(help: "The replay's speed: venue ms per wall ms.")
    var speed = 72_000

    @Option(name: .customLong("sample-ms"), help: "Wall ms between RSS samples.")
    var sampleMs = 500

    @Option(help: "A market journal holding the bundled history (default: import data/ into a scratch journal).")
    var market: String?

    func run() throws {
        guard let start = Timestamp(iso8601: from), let end = Timestamp(iso8601: to), end > start else { throw BenchError("--from and --to: UTC times, --to after --from") }
        let days = Double(end.msSince(start)) / Double(Millis.day)
        print("carry-bench rss — live session \(from) → \(to) (\(Int(days)) days) at \(speed)× (≈ \(Int(days * 86_400 / Double(speed))) s), "
              + "\(ProcessInfo.processInfo.processorCount) cores")
        let scratch = ScratchDirectory("bench-rss")
        let source = market ?? BundledMarket.path
        let carry = Fixtures.executable("carry")

        let sim = try ChildProcess(carry, ["exchange-sim", "--journal", source, "--port", "0", "--source-venue", "binance", "--replay-start", from,
                                           "--replay-speed", String(speed), "--limit", "100000"])
        defer {
            sim.signal(SIGTERM)
            sim.wait(timeoutSeconds: 10)
        }
        guard let line = sim.readLine(timeoutSeconds: 120), line.hasPrefix("listening on "), let port = line.split(separator: ":").last else {
            throw BenchError("exchange-sim did not start")
        }
        let configDir = scratch.sub("config")
        try FileManager.default.createDirectory(atPath: configDir, withIntermediateDirectories: true)
        try """
        bybit:
          maxAttempts: 10
          backoffBase: 10ms
          backoffMax: 200ms
          rateLimits:
            default: {requestsPerSecond: 1000, burst: 200}
            private.order: {requestsPerSecond: 1000, burst: 200}
            private.position: {requestsPerSecond: 1000, burst: 200}
            private.account: {requestsPerSecond: 1000, burst: 200}
        """.write(toFile: configDir + "/venues.yaml", atomically: true, encoding: .utf8)
        let config = scratch.sub("live.yaml")
        try """
        strategy_mode: simple
        venue: bybit
        symbols: [BTCUSDT, ETHUSDT]
        barInterval: 1h
        scanInterval: 1h
        warmup: 1d
        initialCapitalUsdt: 100000
        session: {pollInterval: 20ms, marketLag: 0s, reconcileInterval: 6h}
        strategy: {entryThreshold: 0.00005, exitThreshold: 0, maxHolding: 3d, pairNotionalUsdt: 10000, maxOpenPairs: 2, reentryCooldown: 8h}
        execution: {legRiskBudget: 2h}
        fees:
          bybit: {spotTaker: 0.001, spotMaker: 0.001, perpTaker: 0.0005, perpMaker: 0.0002}
        """.write(toFile: config, atomically: true, encoding: .utf8)

        let engine = Process()
        engine.executableURL = URL(fileURLWithPath: carry)
        engine.arguments = ["run", "--mode", "live", "--config-dir", configDir, "--config", config, "--journal", scratch.sub("session"),
                            "--base-url", "http://127.0.0.1:\(port)", "--stop-at", to, "--env-file", scratch.sub("none.env"), "--log-format", "json"]
        engine.environment = ProcessInfo.processInfo.environment.merging(["BYBIT_API_KEY": SimCredentials.defaultAPIKey,
                                                                          "BYBIT_API_SECRET": SimCredentials.defaultSecret]) { _, new in new }
        _ = FileManager.default.createFile(atPath: scratch.sub("engine.out"), contents: nil)
        _ = FileManager.default.createFile(atPath: scratch.sub("engine.err"), contents: nil)
        engine.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch.sub("engine.out")))
        engine.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch.sub("engine.err")))
        engine.standardInput = FileHandle.nullDevice
        let t0 = now()
        try engine.run()
        var samples: [(t: Double, mib: Double)] = []
        var anon: [Double] = []
        while engine.isRunning {
            let t = now() - t0
            let mib = procStatusMiB("VmRSS", pid: "\(engine.processIdentifier)")
            if mib > 0 && t >= 1 {   // the first second is the process loading
                samples.append((t, mib))
                anon.append(procStatusMiB("RssAnon", pid: "\(engine.processIdentifier)"))
            }
            usleep(UInt32(sampleMs * 1000))
        }
        engine.waitUntilExit()
        let wall = now() - t0
        let out = (try? String(contentsOfFile: scratch.sub("engine.out"), encoding: .utf8)) ?? ""
        guard engine.terminationStatus == 0 else {
            let err = (try? String(contentsOfFile: scratch.sub("engine.err"), encoding: .utf8)) ?? ""
            throw BenchError("the live session failed (exit \(engine.terminationStatus)): \(err.suffix(2000))")
        }
        guard samples.count >= 20 else { throw BenchError("too few samples (\(samples.count)): run longer or sample more often") }

        print("")
        print(out.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        print("")
        print(pad("wall s", 10) + pad("venue time (≈)", 24) + pad("VmRSS MiB", 12) + "RssAnon MiB (heap; the rest is mapped files: the binary, the journal's LMDB map)")
        let venueMsPerWallS = Double(speed) * 1000
        for i in stride(from: 0, to: samples.count, by: max(1, samples.count / 10)) + [samples.count - 1] {
            let s = samples[i]
            let venue = start.adding(ms: Int64(s.t * venueMsPerWallS))
            print(pad(String(format: "%.1f", s.t), 10) + pad(String(venue.iso8601.prefix(16)), 24) + pad(String(format: "%.1f", s.mib), 12)
                  + String(format: "%.1f", anon[i]))
        }
        let tenth = max(1, samples.count / 10)
        func mean(_ xs: ArraySlice<(t: Double, mib: Double)>) -> Double { xs.reduce(0) { $0 + $1.mib } / Double(xs.count) }
        let second = mean(samples[tenth..<min(samples.count, 2 * tenth)])
        let last = mean(samples[(samples.count - tenth)...])
        let peak = samples.map(\.mib).max() ?? 0
        // Least squares over the second half: MiB per wall second → per venue month.
        let half = samples[(samples.count / 2)...]
        let mt = half.reduce(0) { $0 + $1.t } / Double(half.count), mm = mean(half)
        let slope = half.reduce(0) { $0 + ($1.t - mt) * ($1.mib - mm) } / max(1e-9, half.reduce(0) { $0 + ($1.t - mt) * ($1.t - mt) })
        let perMonth = slope * (30 * Double(Millis.day) / venueMsPerWallS)
        let flat = last <= second * 1.10
        let anonSecond = anon[tenth..<min(anon.count, 2 * tenth)].reduce(0, +) / Double(min(anon.count, 2 * tenth) - tenth)
        let anonLast = anon[(anon.count - tenth)...].reduce(0, +) / Double(tenth)
        print("")
        print(String(format: "peak %.1f MiB; mean of the 2nd tenth %.1f MiB, of the last tenth %.1f MiB (%+.1f %%); slope over the second half %+.2f MiB per venue month",
                     peak, second, last, (last - second) / second * 100, perMonth))
        print(String(format: "heap (RssAnon): 2nd tenth %.1f MiB, last tenth %.1f MiB (%+.1f %%)", anonSecond, anonLast, (anonLast - anonSecond) / anonSecond * 100))
        print("\(samples.count) samples over \(Int(wall)) s of wall time; target: peak ≤ 200 MiB (\(peak <= 200 ? "met" : "MISSED")), "
              + "flat (\(flat ? "met" : "MISSED"))")
    }
}
