// Golden tests of carry-journal's text output on a small fixed pair of journals (a market
// journal and the run journal of a backtest over it, ToolFixtures). The commands run in
// this process with string outputs; the scratch path is replaced by `$DIR`.
//
// To regenerate after an intended change of output:
//   CARRY_UPDATE_GOLDEN=1 swift test --filter GoldenTests
// then review `git diff Tests/CarryJournalToolsTests/Golden`.

import CarryCore
import CarryJournal
import CarryJournalTools
import CarryTesting
import Foundation
import Testing

@Suite("carry-journal golden output")
struct GoldenTests {
    static let goldenDir = Fixtures.repoRoot + "/Tests/CarryJournalToolsTests/Golden"
    static let update = ProcessInfo.processInfo.environment["CARRY_UPDATE_GOLDEN"] == "1"

    /// Runs `command` and returns (status, stdout, stderr) with the scratch path replaced.
    static func capture(_ dir: ScratchDirectory, _ command: (ToolIO) throws -> CarryJournalTools.ExitStatus) -> (CarryJournalTools.ExitStatus, String, String) {
        let out = StringOutput(), err = StringOutput()
        let status: CarryJournalTools.ExitStatus
        do {
            status = try command(ToolIO(out: out, err: err))
        } catch {
            let e = ToolError.from(error)
            try? err.line(e.message)
            status = e.status
        }
        return (status, out.text.replacingOccurrences(of: dir.path, with: "$DIR"), err.text.replacingOccurrences(of: dir.path, with: "$DIR"))
    }

    static func check(_ name: String, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let file = goldenDir + "/" + name + ".txt"
        if update {
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text == expected, "output of \(name) differs from \(file); set CARRY_UPDATE_GOLDEN=1 to regenerate", sourceLocation: sourceLocation)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var status: CarryJournalTools.ExitStatus
        var make: @Sendable (String) -> (ToolIO) throws -> CarryJournalTools.ExitStatus
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "info-market", status: .success) { d in InfoCommand(path: d + "/market").run },
        Case(name: "info-run", status: .success) { d in InfoCommand(path: d + "/run").run },
        Case(name: "ls-market", status: .success) { d in ListCommand(path: d + "/market", filter: FilterOptions(), order: ScanOrder(), format: .table).run },
        Case(name: "ls-eth-funding", status: .success) { d in
            ListCommand(path: d + "/market", filter: FilterOptions(kinds: ["funding.settled,funding.interval"], symbols: ["ETHUSDT"]), order: ScanOrder(), format: .table).run },
        Case(name: "ls-run-json", status: .success) { d in ListCommand(path: d + "/run", filter: FilterOptions(), order: ScanOrder(), format: .jsonl).run },
        Case(name: "ls-run-decisions-reverse", status: .success) { d in
            ListCommand(path: d + "/run", filter: FilterOptions(kinds: ["decision"]), order: ScanOrder(reverse: true, limit: 3), format: .table).run },
        Case(name: "ls-market-window", status: .success) { d in
            ListCommand(path: d + "/market", filter: FilterOptions(from: "2024-01-01T07:00:00Z", to: "2024-01-01T09:00:00Z"), order: ScanOrder(), format: .table).run },
        Case(name: "show-fill", status: .success) { d in ShowCommand(path: d + "/run", seq: 12, sourcePath: d + "/market").run },
        Case(name: "show-fill-nosource", status: .success) { d in ShowCommand(path: d + "/run", seq: 12).run },
        Case(name: "show-missing", status: .cannotOpen) { d in ShowCommand(path: d + "/run", seq: 99).run },
        Case(name: "explain-fill", status: .success) { d in ExplainCommand(path: d + "/run", seq: 12, sourcePath: d + "/market").run },
        Case(name: "explain-funding-nosource", status: .success) { d in ExplainCommand(path: d + "/run", seq: 13).run },
        Case(name: "explain-wrong-source", status: .cannotOpen) { d in ExplainCommand(path: d + "/run", seq: 12, sourcePath: d + "/run").run },
        Case(name: "stats-market", status: .success) { d in StatsCommand(path: d + "/market").run },
        Case(name: "export-btc-funding-csv", status: .success) { d in
            ListCommand(path: d + "/market", filter: FilterOptions(kinds: ["funding.settled"], symbols: ["BTCUSDT.linear"]), order: ScanOrder(), format: .csv).run },
        Case(name: "export-csv-two-kinds", status: .cannotOpen) { d in
            ListCommand(path: d + "/market", filter: FilterOptions(kinds: ["market"]), order: ScanOrder(), format: .csv).run },
        Case(name: "verify-run", status: .success) { d in VerifyCommand(path: d + "/run").run },
        Case(name: "diff-identical", status: .success) { d in DiffCommand(pathA: d + "/run", pathB: d + "/run-again").run },
        Case(name: "diff-fill", status: .failed) { d in DiffCommand(pathA: d + "/run", pathB: d + "/run-other-fill").run },
        Case(name: "diff-record-time", status: .failed) { d in DiffCommand(pathA: d + "/run", pathB: d + "/run-live").run },
        Case(name: "diff-record-time-ignored", status: .success) { d in DiffCommand(pathA: d + "/run", pathB: d + "/run-live", ignoreRecordTime: true).run },
        Case(name: "diff-prefix", status: .failed) { d in DiffCommand(pathA: d + "/run", pathB: d + "/run-short").run },
        Case(name: "not-a-journal", status: .cannotOpen) { d in InfoCommand(path: d).run },
        Case(name: "bad-symbol", status: .cannotOpen) { d in
            ListCommand(path: d + "/market", filter: FilterOptions(symbols: ["DOGEUSDT"]), order: ScanOrder(), format: .table).run },
    ]

    /// The journals every case reads, built once.
    static let journals: ScratchDirectory = {
        let dir = ScratchDirectory("golden")
        do {
            let m = try ToolFixtures.goldenPair(in: dir)
            let run = ToolFixtures.run(market: m)
            try ToolFixtures.write(dir.sub("run-again"), id: JournalId(high: 9, low: 9), purpose: .backtest, batches: run)
            try ToolFixtures.write(dir.sub("run-other-fill"), id: JournalId(high: 9, low: 10), purpose: .backtest, batches: ToolFixtures.run(market: m, fillPrice: "42100.5"))
            try ToolFixtures.write(dir.sub("run-live"), id: JournalId(high: 9, low: 11), purpose: .live, batches: ToolFixtures.run(market: m, recordShiftMs: 7))
            try ToolFixtures.write(dir.sub("run-short"), id: JournalId(high: 9, low: 12), purpose: .backtest, batches: Array(run.dropLast()))
        } catch {
            fatalError("building the golden journals failed: \(error)")
        }
        return dir
    }()

    @Test("text output matches the golden files", arguments: cases)
    func golden(_ c: Case) throws {
        let dir = Self.journals
        let (status, out, err) = Self.capture(dir, c.make(dir.path))
        #expect(status == c.status, "\(c.name): \(out)\(err)")
        try Self.check(c.name, out + (err.isEmpty ? "" : "--- stderr\n" + err))
    }

    @Test("every golden file belongs to a case")
    func noStaleGoldenFiles() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.goldenDir).filter { $0.hasSuffix(".txt") }.sorted()
        #expect(files == Self.cases.map { $0.name + ".txt" }.sorted())
    }
}
