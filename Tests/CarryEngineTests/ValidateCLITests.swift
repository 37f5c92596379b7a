// `carry validate` and the overfitting figures of `carry sweep` as an operator sees them, over
// the bundled history: a walk-forward prints only stitched test windows; a zero-basis regime
// split of 2023 (funding and spot bars, no perp bars) says so on its first line, and its config
// files re-run by `carry backtest` do too; bad input is refused with exit 2 and what to do.

import CarryCore
import CarryEngine
import CarryJournal
import CarryTesting
import Foundation
import Testing

@Suite("carry validate at the command line", .serialized)
struct ValidateCLITests {
    let carry = Fixtures.executable("carry")

    func files(_ dir: ScratchDirectory) throws -> String {
        try writeFiles(dir, [
            ("sweep.yaml", "base: base.yaml\nobjective: sharpe\ngrid:\n  strategy.entryThreshold: [0.00003, 0.00006, 0.0001]\n"),
            ("base.yaml", "symbols: [BTCUSDT, ETHUSDT]\nfrom: 2025-10-01\nto: 2025-12-01\nstrategy: {exitThreshold: 0.00001}\n"),
        ])
    }

    func validate(_ args: [String]) throws -> ProcessResult {
        try runProcess(carry, ["validate"] + args + ["--journal", BundledMarket.path, "--quiet"], timeoutSeconds: 600)
    }

    @Test("walk-forward prints each fold's choice and the stitched out-of-sample result; the sweep prints the top config's DSR and the PBO")
    func walkForward() throws {
        let dir = ScratchDirectory("validate-cli")
        let spec = try files(dir)
        let r = try validate([spec, "--walk-forward", "train=30d,test=15d", "--out", dir.sub("out")])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first?.hasPrefix("Carry validate") == true, "\(r.stdout)")
        #expect(r.stdout.contains("2 folds") && r.stdout.contains("Stitched out-of-sample, 2025-10-31 → 2025-11-30"))
        #expect(r.stdout.contains("Sharpe") && r.stdout.contains("max drawdown"))
        #expect(try String(contentsOfFile: dir.sub("out/validation.txt"), encoding: .utf8) == r.stdout)
        let s = try runProcess(carry, ["sweep", spec, "--journal", BundledMarket.path, "--out", dir.sub("sweep"), "--quiet"], timeoutSeconds: 600)
        #expect(s.status == 0, "\(s.stderr)")
        #expect(s.stdout.contains("Deflated Sharpe of the top config") && s.stdout.contains("PBO (CSCV, S = 16 blocks, 12870 splits"), "\(s.stdout)")
        let csv = try String(contentsOfFile: dir.sub("sweep/results.csv"), encoding: .utf8)
        #expect(csv.hasPrefix("rank,config,strategy.entryThreshold,") && csv.contains(",deflated_sharpe,zero_basis,content_hash\n"))
        let json = try String(contentsOfFile: dir.sub("sweep/results.json"), encoding: .utf8)
        #expect(json.contains("\"validation\"") && json.contains("\"pbo\"") && !json.contains("dailyReturns"))
        #expect(try String(contentsOfFile: dir.sub("sweep/rows/001.json"), encoding: .utf8).contains("dailyReturns"))
    }

    @Test("a zero-basis regime split of 2023 (no perp bars) runs, says so on its first line, and its config files reproduce the mode in `carry backtest`")
    func zeroBasisRegime() throws {
        let dir = ScratchDirectory("validate-zero")
        let spec = try files(dir)
        let refused = try validate([spec, "--regimes", "2023-03-01..2023-05-01"])
        #expect(refused.status == 2 && refused.stderr.contains("no data for BTCUSDT, ETHUSDT") && refused.stderr.contains("--zero-basis"), "\(refused.stderr)")
        let r = try validate([spec, "--regimes", "2023-03-01..2023-05-01", "--zero-basis", "--out", dir.sub("out")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix(ZeroBasis.banner + "\n"), "\(r.stdout)")
        #expect(r.stdout.contains("Regime 2023-03-01..2023-05-01") && r.stdout.contains("3 configs"))
        let config = try String(contentsOfFile: dir.sub("out/configs/001.yaml"), encoding: .utf8)
        #expect(config.contains("zeroBasis: true"))
        let b = try runProcess(carry, ["backtest", "--config", dir.sub("out/configs/001.yaml"), "--from", "2023-03-01", "--to", "2023-05-01",
                                       "--journal", BundledMarket.path, "--out", dir.sub("bt"), "--quiet"], timeoutSeconds: 600)
        #expect(b.status == 0, "\(b.stderr)")
        #expect(b.stdout.hasPrefix(ZeroBasis.banner + "\n"), "\(b.stdout)")
    }

    @Test("bad input is refused, exit 2, with what is wrong")
    func badInput() throws {
        let dir = ScratchDirectory("validate-bad")
        let spec = try files(dir)
        for (args, message) in [([spec], "--walk-forward"), ([spec, "--walk-forward", "train=90d"], "give both train= and test="),
                                ([spec, "--regimes", "20x2"], "expected a year"), ([spec, "--walk-forward", "train=60d,test=30d"], "holds no fold"),
                                ([spec, "--regimes", "2022", "--blocks", "5"], "even number")] {
            let r = try validate(args)
            #expect(r.status == 2, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
    }
}
