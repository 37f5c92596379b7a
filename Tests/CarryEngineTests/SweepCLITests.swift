// `carry sweep` and `carry compare` as an operator runs them, over the bundled history: a row
// re-run alone by `carry backtest` reproduces its content hash; --jobs 1 and 2 give the same
// bytes; shards merged equal the whole sweep; an interrupted sweep resumes without
// recomputing what it finished; bad input is refused (exit 2) with what is wrong; compare's
// columns are the backtests' own figures.

import CarryCore
import CarryEngine
import CarryJournal
import CarryTesting
import Foundation
import Testing

@Suite("carry sweep and carry compare at the command line", .serialized)
struct SweepCLITests {
    let carry = Fixtures.executable("carry")

    /// A base config over two months of the bundled data and a sweep of `grid` over it.
    func sweepFiles(_ dir: ScratchDirectory, grid: String) throws -> String {
        try writeFiles(dir, [
            ("sweep.yaml", "base: base.yaml\n" + grid),
            ("base.yaml", """
            symbols: [BTCUSDT, ETHUSDT, SOLUSDT]
            from: 2025-10-01
            to: 2025-12-01
            strategy: {entryThreshold: 0.00008, exitThreshold: 0.00002}
            """),
        ])
    }

    static let fourConfigs = """
    grid:
      strategy.entryThreshold: [0.00005, 0.0001]
      strategy.maxHolding: [3d, 30d]
    """

    func sweep(_ args: [String]) throws -> ProcessResult {
        try runProcess(carry, ["sweep"] + args + ["--journal", BundledMarket.path], timeoutSeconds: 600)
    }

    func file(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    func results(_ dir: String) throws -> SweepResults { try JSONDecoder().decode(SweepResults.self, from: file(dir + "/results.json")) }

    @Test("a swept row re-run alone as `carry backtest --config DIR/configs/NNN.yaml` has the row's content hash and equity curve")
    func rerunAlone() throws {
        let dir = ScratchDirectory("sweep-cli")
        let spec = try sweepFiles(dir, grid: Self.fourConfigs)
        let r = try sweep([spec, "--out", dir.sub("out"), "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let res = try results(dir.sub("out"))
        #expect(res.rows.count == 4 && res.finished == 4 && res.configs == 4)
        #expect(r.stdout.contains("ranked by net"))
        // Ranked by net P&L, best first.
        let nets = res.rows.map { Fixed($0.netPnlUsdt)!.doubleValue }
        #expect(nets == nets.sorted(by: >))
        for row in [res.rows.first!, res.rows.last!] {
            let b = try runProcess(carry, ["backtest", "--config", dir.sub("out/" + row.config), "--journal", BundledMarket.path, "--out", dir.sub("bt-\(row.number)"), "--quiet"])
            #expect(b.status == 0, "\(b.stderr)")
            #expect(b.stdout.contains("content hash \(row.contentHash)"), "config \(row.number): \(b.stdout)")
            #expect(try file(dir.sub("bt-\(row.number)/equity.csv")) == file(dir.sub("out/equity/" + String(format: "%03d", row.number) + ".csv")))
        }
        #expect(res.rows.contains { $0.pairsOpened > 0 })
        let csv = try String(contentsOfFile: dir.sub("out/results.csv"), encoding: .utf8)
        #expect(csv.hasPrefix("rank,config,strategy.entryThreshold,strategy.maxHolding,net_pnl_usdt,"))
        #expect(csv.split(separator: "\n").count == 5)
    }

    @Test("a sweep over zeroBasis on and off (same instruments and span): each row re-run alone has the row's content hash — the two never share a tape")
    func zeroBasisRowsKeepTheirOwnTape() throws {
        let dir = ScratchDirectory("sweep-cli-zero-basis")
        let spec = try sweepFiles(dir, grid: "grid:\n  zeroBasis: [false, true]\n")
        let r = try sweep([spec, "--out", dir.sub("out"), "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let res = try results(dir.sub("out"))
        #expect(res.rows.count == 2 && Set(res.rows.map(\.contentHash)).count == 2, "zero basis changes the run")
        for row in res.rows {
            let b = try runProcess(carry, ["backtest", "--config", dir.sub("out/" + row.config), "--journal", BundledMarket.path, "--out", dir.sub("bt-\(row.number)"), "--quiet"])
            #expect(b.status == 0, "\(b.stderr)")
            #expect(b.stdout.contains("content hash \(row.contentHash)"), "config \(row.number): \(b.stdout)")
        }
    }

    @Test("--jobs 1 and --jobs 2 write identical results, rows and equity curves")
    func jobsDeterminism() throws {
        let dir = ScratchDirectory("sweep-cli")
        let spec = try sweepFiles(dir, grid: Self.fourConfigs)
        for jobs in ["1", "2"] {
            let r = try sweep([spec, "--out", dir.sub("jobs-\(jobs)"), "--jobs", jobs, "--quiet"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        #expect(try file(dir.sub("jobs-1/results.json")) == file(dir.sub("jobs-2/results.json")))
        #expect(try file(dir.sub("jobs-1/results.csv")) == file(dir.sub("jobs-2/results.csv")))
        for n in 1...4 {
            let stem = String(format: "%03d", n)
            #expect(try file(dir.sub("jobs-1/equity/\(stem).csv")) == file(dir.sub("jobs-2/equity/\(stem).csv")))
            #expect(try file(dir.sub("jobs-1/rows/\(stem).json")) == file(dir.sub("jobs-2/rows/\(stem).json")))
        }
    }

    @Test("--shard 1/2 and 2/2 merged equal the whole sweep; merging another sweep's slice or a slice twice is refused")
    func shardAndMerge() throws {
        let dir = ScratchDirectory("sweep-cli")
        let spec = try sweepFiles(dir, grid: Self.fourConfigs)
        #expect(try sweep([spec, "--out", dir.sub("whole"), "--quiet"]).status == 0)
        for i in 1...2 {
            let r = try sweep([spec, "--out", dir.sub("shard-\(i)"), "--shard", "\(i)/2", "--quiet"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try results(dir.sub("shard-\(i)")).rows.map(\.number).sorted() == (i == 1 ? [1, 3] : [2, 4]))
        }
        let m = try runProcess(carry, ["sweep", "merge", dir.sub("shard-1"), dir.sub("shard-2"), "--out", dir.sub("merged")])
        #expect(m.status == 0, "\(m.stderr)")
        #expect(m.stdout.contains("4 of 4 configs"))
        #expect(try file(dir.sub("merged/results.json")) == file(dir.sub("whole/results.json")))
        #expect(try file(dir.sub("merged/results.csv")) == file(dir.sub("whole/results.csv")))
        for n in 1...4 {
            let stem = String(format: "%03d", n)
            for path in ["equity/\(stem).csv", "configs/\(stem).yaml", "rows/\(stem).json"] {
                #expect(try file(dir.sub("merged/" + path)) == file(dir.sub("whole/" + path)), "\(path)")
            }
        }
        // Half merged: the missing configs are named.
        let half = try runProcess(carry, ["sweep", "merge", dir.sub("shard-1"), "--out", dir.sub("half")])
        #expect(half.status == 0 && half.stderr.contains("2 configs have no result") && half.stderr.contains("(2, 4)"))
        // Another sweep (one key's values changed) cannot be merged with these slices.
        let other = ScratchDirectory("sweep-cli")
        let otherSpec = try sweepFiles(other, grid: "grid:\n  strategy.entryThreshold: [0.00005, 0.0002]\n  strategy.maxHolding: [3d, 30d]\n")
        #expect(try sweep([otherSpec, "--out", other.sub("shard-2"), "--shard", "2/2", "--quiet"]).status == 0)
        let mixed = try runProcess(carry, ["sweep", "merge", dir.sub("shard-1"), other.sub("shard-2"), "--out", dir.sub("mixed")])
        #expect(mixed.status == 2)
        #expect(mixed.stderr.contains("slice of another sweep") && mixed.stderr.contains("only slices of one sweep can be merged"))
        #expect(!FileManager.default.fileExists(atPath: dir.sub("mixed/results.json")))
        let twice = try runProcess(carry, ["sweep", "merge", dir.sub("shard-1"), dir.sub("shard-1"), "--out", dir.sub("twice")])
        #expect(twice.status == 2 && twice.stderr.contains("both slice 1/2"))
        // An --out holding another sweep is refused, and left as it was.
        let before = try file(dir.sub("whole/results.json"))
        let clash = try sweep([otherSpec, "--out", dir.sub("whole"), "--quiet"])
        #expect(clash.status == 2 && clash.stderr.contains("holds another sweep"))
        #expect(try file(dir.sub("whole/results.json")) == before)
    }

    @Test("a sweep interrupted by SIGINT keeps its finished configs; the same command resumes, recomputes none of them, and ends equal to an uninterrupted sweep")
    func resume() throws {
        let dir = ScratchDirectory("sweep-cli")
        let spec = try sweepFiles(dir, grid: """
        grid:
          strategy.entryThreshold: [0.00003, 0.00005, 0.0001]
          strategy.maxHolding: [2d, 5d, 10d, 30d]
        """)
        let out = dir.sub("out")
        let args = ["sweep", spec, "--out", out, "--jobs", "1", "--journal", BundledMarket.path]
        let child = try ChildProcess(carry, args)
        let deadline = Date().addingTimeInterval(300)
        var rows: [String] = []
        while Date() < deadline {
            rows = ((try? FileManager.default.contentsOfDirectory(atPath: out + "/rows")) ?? []).filter { $0.hasSuffix(".json") }
            if !rows.isEmpty { break }
            usleep(5_000)
        }
        child.signal(SIGINT)
        #expect(child.wait(timeoutSeconds: 10) != 0)
        rows = try FileManager.default.contentsOfDirectory(atPath: out + "/rows").filter { $0.hasSuffix(".json") }.sorted()
        #expect(!rows.isEmpty && rows.count < 12, "the interruption must land mid-sweep (\(rows.count) of 12 finished)")
        // Nothing half-written is left in place of a result.
        #expect(try FileManager.default.contentsOfDirectory(atPath: out + "/rows").allSatisfy { $0.hasSuffix(".json") || $0.hasSuffix(".partial") })
        func identity(_ path: String) throws -> [String] {
            let a = try FileManager.default.attributesOfItem(atPath: path)
            return ["\(a[.systemFileNumber] ?? 0)", "\(a[.modificationDate] ?? 0)", "\(try file(path).hashValue)"]
        }
        let kept = try rows.map { name in (name, try identity(out + "/rows/" + name), try identity(out + "/equity/" + name.replacingOccurrences(of: ".json", with: ".csv"))) }
        let again = try runProcess(carry, args, timeoutSeconds: 600)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("\(rows.count) already done, \(12 - rows.count) to run"))
        #expect(again.stderr.contains("ran \(12 - rows.count) configs"))
        for (name, rowIdentity, equityIdentity) in kept {
            #expect(try identity(out + "/rows/" + name) == rowIdentity, "\(name) was rewritten")
            #expect(try identity(out + "/equity/" + name.replacingOccurrences(of: ".json", with: ".csv")) == equityIdentity)
        }
        let resumed = try results(out)
        #expect(resumed.finished == 12)
        // A third run has nothing to do.
        let third = try runProcess(carry, args, timeoutSeconds: 600)
        #expect(third.status == 0 && third.stderr.contains("12 already done, 0 to run"))
        // Equal to the sweep run without a break.
        #expect(try sweep([spec, "--out", dir.sub("straight"), "--quiet"]).status == 0)
        #expect(try file(out + "/results.json") == file(dir.sub("straight/results.json")))
    }

    @Test("bad input is refused, exit 2, with what is wrong")
    func badInput() throws {
        let dir = ScratchDirectory("sweep-cli")
        var attempt = 0
        func refused(_ grid: String, _ extra: [String] = [], _ expected: [String]) throws {
            let spec = try sweepFiles(dir, grid: grid)
            attempt += 1
            let r = try sweep([spec, "--out", dir.sub("never-\(attempt)")] + extra)
            #expect(r.status == 2, "\(grid) \(extra): \(r.stderr)")
            for e in expected { #expect(r.stderr.contains(e), "\(e) not in: \(r.stderr)") }
            #expect(!r.stderr.contains("Fatal") && !FileManager.default.fileExists(atPath: dir.sub("never-\(attempt)/results.json")))
        }
        try refused("grid:\n  strategy.maxHolding: [3d]\n  risk.maxTotalNotionalUsd: [1000]\n", [],
                    ["sweep.yaml:4", "risk.maxTotalNotionalUsd", "unknown key", "Did you mean `maxTotalNotionalUsdt`"])
        try refused("grid: {}\n", [], ["sweep.yaml:2", "the grid is empty"])
        try refused("list: []\n", [], ["the list is empty"])
        try refused(Self.fourConfigs, ["--max-configs", "3"], ["describes 4 configs, more than --max-configs 3", "--yes"])
        try refused(Self.fourConfigs, ["--shard", "3/2"], ["--shard 3/2", "between 1 and 2"])
        try refused(Self.fourConfigs, ["--shard", "0/2"], ["between 1 and 2"])
        try refused(Self.fourConfigs, ["--objective", "profit"], ["--objective profit", "net, sharpe, calmar, apr"])
        try refused("grid:\n  strategy.exitThreshold: [0.0002]\n", [], ["sweep.yaml:3", "must not exceed entryThreshold"])
        try refused("grid:\n  symbols: [[BTCUSDT], [DOGEUSDT]]\n", [], ["config 2", "DOGEUSDT"])
        let missing = try sweep([dir.sub("nowhere.yaml")])
        #expect(missing.status == 2 && missing.stderr.contains("cannot read the sweep file"))
    }

    @Test("compare's table equals each config's own `carry backtest` summary; compare.html draws one line per config")
    func compareEqualsBacktests() throws {
        let dir = ScratchDirectory("compare-cli")
        let span = ["--from", "2025-10-01", "--to", "2025-12-15", "--journal", BundledMarket.path]
        let configs = [Fixtures.repoRoot + "/config/backtest.yaml", Fixtures.repoRoot + "/config/backtest-composite.yaml"]
        let c = try runProcess(carry, ["compare"] + configs + span + ["--out", dir.sub("cmp")], timeoutSeconds: 600)
        #expect(c.status == 0, "\(c.stderr)")
        // The table: label → cells (columns split on two or more spaces).
        var table: [String: [String]] = [:]
        for line in c.stdout.split(separator: "\n") {
            let parts = line.split(separator: "  ", omittingEmptySubsequences: true).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard parts.count == 3, table[parts[0]] == nil else { continue }
            table[parts[0]] = Array(parts[1...])
        }
        let rows = try JSONDecoder().decode([SweepRow].self, from: file(dir.sub("cmp/compare.json")))
        #expect(rows.map(\.config) == ["backtest.yaml", "backtest-composite.yaml"])
        for (k, config) in configs.enumerated() {
            let b = try runProcess(carry, ["backtest", "--config", config] + span + ["--out", dir.sub("bt-\(k)"), "--quiet"], timeoutSeconds: 600)
            #expect(b.status == 0, "\(b.stderr)")
            let text = b.stdout
            /// The value printed after `label` on the backtest's summary line.
            func figure(_ label: String) -> String? {
                guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("  " + label + " ") }) else { return nil }
                return line.dropFirst(label.count + 2).split(separator: " ").first.map(String.init)
            }
            #expect(table["net P&L (USDT)"]?[k] == figure("net P&L"))
            #expect(table["funding"]?[k] == figure("funding income"))
            #expect(table["basis / price"]?[k] == figure("price / basis P&L"))
            #expect(table["fees"]?[k] == figure("fees"))
            #expect(table["slippage"]?[k] == figure("slippage"))
            #expect(table["Sharpe after 4.00 % collateral"]?[k] == figure("Sharpe"))
            #expect(table["pairs opened"]?[k] == figure("pairs opened"))
            #expect(table["turnover"]?[k] == figure("turnover"))
            #expect(text.contains("APR \(table["APR"]?[k] ?? "?")"))
            #expect(text.contains("Sortino \(table["Sortino after 4.00 % collateral"]?[k] ?? "?")"))
            #expect(text.contains("\(table["  USDT"]?[k] ?? table["USDT"]?[k] ?? "?") USDT, \(table["peak → bottom"]?[k] ?? "?")"))
            #expect(text.contains("\(table["fills / liquidations"]?[k].split(separator: " ").first ?? "?") fills"))
            #expect(text.contains("content hash \(rows[k].contentHash)"))
            #expect(table["content hash"]?[k] == String(rows[k].contentHash.prefix(12)))
            #expect(try file(dir.sub("bt-\(k)/equity.csv")) == file(dir.sub("cmp/equity-\(k + 1).csv")))
            // Per-symbol: each symbol's net in the backtest's table appears in compare's.
            for symbol in ["BTCUSDT", "ETHUSDT", "SOLUSDT"] {
                let net = text.split(separator: "\n").first { $0.hasPrefix("  \(symbol)") }.map { String($0.split(separator: " ").last!) }
                #expect(table["\(symbol) net (USDT)"]?[k] == net, "\(symbol)")
            }
        }
        #expect(rows.allSatisfy { $0.pairsOpened > 0 }, "both strategies should trade in the span")
        let html = try String(contentsOfFile: dir.sub("cmp/compare.html"), encoding: .utf8)
        #expect(html.contains("<polyline data-series=\"backtest.yaml\"") && html.contains("<polyline data-series=\"backtest-composite.yaml\""))
        // Self-contained: no link but the SVG namespace, no source or stylesheet to fetch.
        #expect(html.components(separatedBy: "http").count == html.components(separatedBy: "http://www.w3.org/2000/svg").count)
        #expect(!html.contains("src=") && !html.contains("href="))
        #expect(!html.contains("<script"))
        let one = try runProcess(carry, ["compare", configs[0]] + span)
        #expect(one.status == 2 && one.stderr.contains("two or more"))
    }
}
