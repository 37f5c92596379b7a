import CarryCore
import CarryTesting
import Foundation
import Testing

@Suite("carry account", .serialized)
struct AccountCLITests {
    let noKeys = ["BYBIT_API_KEY": "", "BYBIT_API_SECRET": ""]

    @Test("missing keys: one message naming both variables, exit 2, and nothing reaches the venue")
    func missingKeys() throws {
        let sim = try RunningSim(journal: SourceJournal.shared.path, ["--now", marchFirst.iso8601])
        defer { sim.stop() }
        for sub in ["balance", "positions", "orders", "fees", "funding"] {
            let r = try runProcess(Fixtures.executable("carry"), ["account", sub, "--base-url", sim.baseURL, "--env-file", "/nonexistent/.env"], environment: noKeys)
            #expect(r.status == 2, "\(sub): \(r.stderr)")
            #expect(r.stderr.contains("BYBIT_API_KEY") && r.stderr.contains("BYBIT_API_SECRET"))
            #expect(r.stderr.split(separator: "\n").count == 1)
        }
        #expect(try sim.stats().requests == 0, "no request may be sent without keys")
    }

    @Test("keys from a .env file; a wrong secret is exit 2 naming the variables; balance and positions print exact values")
    func withKeys() throws {
        let scratch = ScratchDirectory("account-cli")
        let sim = try RunningSim(journal: SourceJournal.shared.path, ["--now", marchFirst.iso8601])
        defer { sim.stop() }
        let env = scratch.sub("dotenv")
        try "BYBIT_API_KEY=carry-sim-key\nBYBIT_API_SECRET='carry-sim-secret'\n".write(toFile: env, atomically: true, encoding: .utf8)
        let ok = try runProcess(Fixtures.executable("carry"), ["account", "balance", "--base-url", sim.baseURL, "--env-file", env], environment: noKeys.merging(["BYBIT_API_KEY": "carry-sim-key"]) { $1 })
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("coin USDT balance 100000"))
        let positions = try runProcess(Fixtures.executable("carry"), ["account", "positions", "--base-url", sim.baseURL, "--env-file", env], environment: ["BYBIT_API_KEY": "carry-sim-key", "BYBIT_API_SECRET": "carry-sim-secret"])
        #expect(positions.status == 0 && positions.stdout.contains("no open positions"))
        let wrong = try runProcess(Fixtures.executable("carry"), ["account", "balance", "--base-url", sim.baseURL], environment: ["BYBIT_API_KEY": "carry-sim-key", "BYBIT_API_SECRET": "not-the-secret"])
        #expect(wrong.status == 2)
        #expect(wrong.stderr.contains("BYBIT_API_KEY") && wrong.stderr.contains("BYBIT_API_SECRET") && !wrong.stderr.contains("not-the-secret"))
        #expect(!wrong.stderr.contains("carry-sim-key"), "the venue's 10004 echo of the key must not be printed")
    }
}
