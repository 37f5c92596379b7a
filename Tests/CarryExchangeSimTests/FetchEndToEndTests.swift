import CarryCore
import CarryJournal
import CarryTesting
import Foundation
import Testing

/// `carry fetch` against `carry exchange-sim` serving a journal imported from the bundled
/// data: what arrives is exactly what the source holds for the window, whatever the venue
/// does on the way, and a fetch killed part-way resumes to the same journal.
@Suite("carry fetch ⇄ carry exchange-sim, end to end")
struct FetchEndToEndTests {
    let carry = Fixtures.executable("carry")
    let source = SourceJournal.shared

    /// The source's content over the 90 days before the simulator's clock.
    func expected() throws -> [String: [String]] {
        try marketContent(source.path, venue: .binance, from: source.now.adding(ms: -90 * Millis.day), to: source.now)
    }

    func fetched(_ path: String) throws -> [String: [String]] {
        try marketContent(path, venue: .bybit, from: .distantPast, to: .distantFuture)
    }

    @Test("two symbols, 90 days: bars and funding per stream equal the source's; a second fetch adds nothing")
    func fetchEqualsSource() throws {
        let scratch = ScratchDirectory("fetch-e2e")
        let sim = try RunningSim(journal: source.path)
        defer { sim.stop() }
        let dst = scratch.sub("fetched")
        let args = ["fetch", "--symbols", "BTCUSDT,ETHUSDT", "--days", "90", "--base-url", sim.baseURL, "--journal", dst,
                    "--config-dir", try testConfigDirectory(scratch)]
        let r = try runProcess(carry, args, timeoutSeconds: 60)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("fetched 9182 records and 4 instrument definitions"))
        let want = try expected()
        let got = try fetched(dst)
        #expect(want.keys.sorted() == ["linear BTCUSDT bars 3600", "linear BTCUSDT funding", "linear ETHUSDT bars 3600", "linear ETHUSDT funding",
                                       "spot BTCUSDT bars 3600", "spot ETHUSDT bars 3600"])
        #expect(want["linear BTCUSDT bars 3600"]?.count == 2160)
        #expect(want["spot ETHUSDT bars 3600"]?.count == 2161)
        #expect(want["linear ETHUSDT funding"]?.count == 270)
        #expect(got == want)
        #expect(try sim.stats().limitViolations == 0)

        let again = try runProcess(carry, args, timeoutSeconds: 60)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.hasPrefix("fetched 0 records and 0 instrument definitions"))
        #expect(try fetched(dst) == want)
        #expect(JournalVerifier.verify(path: dst).isClean)
    }

    @Test("a perpetual whose funding interval changed (Bybit INJUSDT, 8 h → 1 h → 8 h in Feb 2026): every settlement arrives with the interval it was made for")
    func intervalChanges() throws {
        let scratch = ScratchDirectory("fetch-interval")
        // Source: Bybit INJUSDT funding, 2026-01-20 → 2026-03-20, from the bundled all-symbols file.
        let data = scratch.sub("data")
        try FileManager.default.createDirectory(atPath: data + "/funding/bybit", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.bundledData + "/instruments.csv", toPath: data + "/instruments.csv")
        let name = "all_symbols_2025-08-21_to_2026-08-21.csv"
        let text = try String(contentsOfFile: Fixtures.bundledData + "/funding/bybit/" + name, encoding: .utf8)
        let lines = text.split(separator: "\n")
        let lo: Int64 = 1_768_867_200_000, hi: Int64 = 1_773_964_800_000   // 2026-01-20, 2026-03-20
        let kept = lines.dropFirst().filter { $0.hasPrefix("INJUSDT,") && (lo..<hi).contains(Int64($0.split(separator: ",")[1])!) }
        try ([String(lines[0])] + kept.map(String.init)).joined(separator: "\n").appending("\n")
            .write(toFile: data + "/funding/bybit/" + name, atomically: true, encoding: .utf8)
        let imported = try runProcess(carry, ["import", "--data", data, "--journal", scratch.sub("source")])
        #expect(imported.status == 0, "\(imported.stderr)")
        let sim = try RunningSim(journal: scratch.sub("source"), ["--venue", "bybit"])
        defer { sim.stop() }
        let r = try runProcess(carry, ["fetch", "--symbols", "INJUSDT", "--days", "60", "--no-spot", "--base-url", sim.baseURL,
                                       "--journal", scratch.sub("fetched"), "--config-dir", try testConfigDirectory(scratch)], timeoutSeconds: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let want = try marketContent(scratch.sub("source"), venue: .bybit, from: .distantPast, to: .distantFuture)["linear INJUSDT funding"] ?? []
        let got = try marketContent(scratch.sub("fetched"), venue: .bybit, from: .distantPast, to: .distantFuture)["linear INJUSDT funding"] ?? []
        let hourly = want.filter { $0.hasSuffix(" 60") }.count
        #expect(hourly > 100, "the window must hold the 1 h episode")
        #expect(got.count > 300)
        #expect(got == Array(want.suffix(got.count)), "fetched settlements and their intervals equal the source's")
    }

    @Test("killed with SIGKILL part-way, then run again: the same journal, no duplicates")
    func killAndResume() throws {
        let scratch = ScratchDirectory("fetch-kill")
        // Every answer 40 ms late, so the kill lands mid-fetch.
        let sim = try RunningSim(journal: source.path, ["--fault", "slow:1", "--slow", "40ms"])
        defer { sim.stop() }
        let dst = scratch.sub("fetched")
        let args = ["fetch", "--symbols", "BTCUSDT,ETHUSDT", "--days", "90", "--base-url", sim.baseURL, "--journal", dst,
                    "--config-dir", try testConfigDirectory(scratch)]
        let child = try ChildProcess(carry, args)
        var partial = 0
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: dst + "/data.mdb"),
               let n = try? Journal.open(dst, readOnly: true).withSnapshot({ $0.count() }), n >= 2_500 {
                child.signal(SIGKILL)
                break
            }
            usleep(2_000)
        }
        child.wait()
        partial = try Journal.open(dst, readOnly: true).withSnapshot { $0.count() }
        #expect(partial >= 2_500 && partial < 9_186, "killed after \(partial) records")
        #expect(JournalVerifier.verify(path: dst).isClean)

        let r = try runProcess(carry, args, timeoutSeconds: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let got = try fetched(dst)
        #expect(got == (try expected()))
        for (key, lines) in got { #expect(Set(lines).count == lines.count, "duplicates in \(key)") }
        #expect(try Journal.open(dst, readOnly: true).withSnapshot { $0.count() } == 9_182 + 4)
        #expect(JournalVerifier.verify(path: dst).isClean)
    }

    @Test("under 10006, 429, 5xx, slow answers and dropped connections: complete, nothing lost, never over the limit")
    func faults() throws {
        let scratch = ScratchDirectory("fetch-faults")
        let sim = try RunningSim(journal: source.path, ["--limit", "10", "--fault", "10006:7", "--fault", "429:11", "--fault", "5xx:5",
                                                        "--fault", "slow:13", "--fault", "drop:9", "--slow", "700ms", "--fault-seed", "7"])
        defer { sim.stop() }
        let dst = scratch.sub("fetched")
        let r = try runProcess(carry, ["fetch", "--symbols", "BTCUSDT,ETHUSDT", "--days", "90", "--base-url", sim.baseURL, "--journal", dst,
                                       "--timeout", "400ms", "--config-dir", try testConfigDirectory(scratch)], timeoutSeconds: 60)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try fetched(dst) == (try expected()))
        let stats = try sim.stats()
        #expect(stats.limitViolations == 0)
        #expect(stats.maxInWindow <= 10)
        for kind in ["10006", "429", "5xx", "slow", "drop"] { #expect((stats.injected[kind] ?? 0) > 0, "no \(kind) injected") }
        #expect(r.stderr.contains("retrying"))
        #expect(stats.requests > 21)
    }

    @Test("an unknown symbol: exit 2, the close ones named, no journal created")
    func unknownSymbol() throws {
        let scratch = ScratchDirectory("fetch-unknown")
        let sim = try RunningSim(journal: source.path)
        defer { sim.stop() }
        let r = try runProcess(carry, ["fetch", "--symbols", "BTCUSDT,ETHUSDC", "--days", "90", "--base-url", sim.baseURL, "--journal", scratch.sub("j")])
        #expect(r.status == 2)
        #expect(r.stderr.contains("carry: error: ETHUSDC is not a Bybit linear perpetual. Close ones the venue lists: ETHUSDT"))
        #expect(!FileManager.default.fileExists(atPath: scratch.sub("j")))
    }

    @Test("the server down: exit 1, the URL and what to check, no journal created")
    func serverDown() throws {
        let scratch = ScratchDirectory("fetch-down")
        // A port that was free a moment ago: bind, read it, close.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        close(fd)
        let url = "http://127.0.0.1:\(port)"
        let r = try runProcess(carry, ["fetch", "--symbols", "BTCUSDT", "--base-url", url, "--journal", scratch.sub("j")])
        #expect(r.status == 1)
        #expect(r.stderr.contains("cannot connect to \(url)") && r.stderr.contains("carry exchange-sim") && r.stderr.contains("--base-url"))
        #expect(r.stderr.contains("nothing was written"))
        #expect(!FileManager.default.fileExists(atPath: scratch.sub("j")))
    }
}
