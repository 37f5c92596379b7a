// A sweep's output directory, written so that an interrupted sweep loses nothing finished:
//
//   sweep.json          the manifest: the sweep's hash, the slice (shard) and its configs
//   configs/NNN.yaml    each config of the slice, as `carry backtest --config` reads it
//   equity/NNN.csv      each finished config's equity curve (byte-identical to the backtest's)
//   rows/NNN.json       each finished config's figures — its presence means "done"
//   results.csv/.json   the finished rows ranked by the objective
//
// Every file is written to a temporary name and renamed (atomic on one file system), and a
// row only after its equity curve, so a sweep killed at any instant leaves complete files;
// a re-run with the same --out finds the rows and computes only the rest. The sweep's hash
// (its configs' canonical texts and the market journal's id and extent) guards a directory
// against another sweep's re-run and a merge against another sweep's slices.

import CarryCore
public import CarryJournal
import Foundation

/// `--shard i/n`: the configs whose number is i modulo n (1-based), a deterministic slice.
public struct SweepShard: Codable, Sendable, Hashable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    /// The whole sweep.
    public static let whole = SweepShard(index: 1, count: 1)

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Parses `i/n`, refusing an index outside 1…n.
    public init(parsing text: String) throws(BacktestError) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw BacktestError("--shard \(text): expected i/n, e.g. 2/4 (the second of four slices)")
        }
        guard n >= 1 else { throw BacktestError("--shard \(text): the number of slices must be at least 1") }
        guard i >= 1 && i <= n else { throw BacktestError("--shard \(text): the slice index must be between 1 and \(n)") }
        self.init(index: i, count: n)
    }

    /// The config numbers (1-based) of this slice among `total`.
    public func numbers(of total: Int) -> [Int] {
        Array(stride(from: index, through: total, by: count))
    }

    public var description: String { "\(index)/\(count)" }
}

/// `sweep.json`.
public struct SweepManifest: Codable, Sendable, Equatable {
    public var format = "carry.sweep.v1"
    public var sweepHash: String
    public var sweepFile: String
    public var sourceJournal: String
    public var sourceLastSeq: UInt64
    /// Configs in the whole sweep.
    public var configs: Int
    public var shard: SweepShard
    /// Config numbers this directory holds (its slice, or the union after a merge).
    public var numbers: [Int]
    public var sweptKeys: [String]
    /// The objective it was last ranked by (a merge's default).
    public var objective: SweepObjective

    public init(sweepHash: String, sweepFile: String, sourceJournal: String, sourceLastSeq: UInt64, configs: Int, shard: SweepShard,
                numbers: [Int], sweptKeys: [String], objective: SweepObjective) {
        self.sweepHash = sweepHash
        self.sweepFile = sweepFile
        self.sourceJournal = sourceJournal
        self.sourceLastSeq = sourceLastSeq
        self.configs = configs
        self.shard = shard
        self.numbers = numbers
        self.sweptKeys = sweptKeys
        self.objective = objective
    }

    /// The hash that identifies a sweep: its configs' canonical texts (with the names they
    /// run under) and the market journal's id and last seq.
    public static func hash(points: [SweepPoint], source: SourceRange) -> Digest {
        var h = SHA256Hasher()
        h.update(Array("carry.sweep.v1\n".utf8))
        h.update(source.id.high)
        h.update(source.id.low)
        h.update(source.lastSeq)
        for p in points {
            h.update(Array("\(p.config.source)\n\(p.config.canonicalText)\u{0}".utf8))
        }
        return h.finish()
    }
}

/// A sweep's output directory.
public final class SweepStore: Sendable {
    public let directory: String
    public let manifest: SweepManifest

    /// Opens `directory` for `manifest`'s sweep: creates it, or resumes it when it already
    /// holds the same sweep and slice; refuses a directory holding anything else.
    public init(directory: String, manifest: SweepManifest) throws {
        self.directory = directory
        self.manifest = manifest
        let fm = FileManager.default
        let manifestPath = directory + "/sweep.json"
        if fm.fileExists(atPath: manifestPath) {
            let existing = try Self.readManifest(directory)
            guard existing.sweepHash == manifest.sweepHash else {
                throw BacktestError("\(directory) holds another sweep (hash \(existing.sweepHash.prefix(12)), from \(existing.sweepFile)); this one is \(manifest.sweepHash.prefix(12)). Choose another --out, or delete that directory.")
            }
            guard existing.shard == manifest.shard else {
                throw BacktestError("\(directory) holds slice \(existing.shard) of this sweep, not \(manifest.shard). Give each slice its own --out.")
            }
        } else if let contents = try? fm.contentsOfDirectory(atPath: directory), !contents.isEmpty {
            throw BacktestError("\(directory) exists and is not a sweep directory (no sweep.json). Choose another --out.")
        }
        for sub in ["configs", "equity", "rows"] {
            try fm.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: true)
        }
        // Leftovers of an interrupted run (never renamed into place) are worthless.
        for sub in ["equity", "rows", "configs", ""] {
            let dir = sub.isEmpty ? directory : directory + "/" + sub
            for name in (try? fm.contentsOfDirectory(atPath: dir)) ?? [] where name.hasSuffix(".partial") {
                try? fm.removeItem(atPath: dir + "/" + name)
            }
        }
        try Self.writeAtomically(try Self.encoder().encode(manifest), to: manifestPath)
    }

    /// The stem configs are stored under (`007`).
    static func stem(_ point: SweepPoint) -> String { String(point.config.source.dropLast(".yaml".count)) }

    /// Writes a config's file (the canonical config as YAML) unless it is already there.
    public func writeConfig(_ point: SweepPoint) throws {
        let path = directory + "/configs/" + point.config.source
        let data = Data(try Self.configFile(point, sweepFile: manifest.sweepFile, of: manifest.configs, path: path).utf8)
        if FileManager.default.contents(atPath: path) == data { return }
        try Self.writeAtomically(data, to: path)
    }

    /// A swept config's file (`configs/NNN.yaml`, for `carry sweep` and `carry validate`): a
    /// comment naming the sweep and the overrides, then the canonical config as YAML — checked
    /// to read back, as `carry backtest` will read it, to the same canonical text.
    public static func configFile(_ point: SweepPoint, sweepFile: String, of count: Int, path: String) throws -> String {
        let text = try BacktestConfig.yaml(canonical: point.config.canonicalText, source: path)
        let back = try BacktestConfig.parse(yaml: text, source: path)
        precondition(back.canonicalText == point.config.canonicalText, "config \(point.number) does not read back to its own canonical text")
        let header = "# \(sweepFile), config \(point.number) of \(count)"
            + (point.overrides.isEmpty ? "" : ": " + point.overrides.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")) + "\n"
        return header + text
    }

    /// Where a running config writes its equity curve (renamed into place when it finishes).
    public func equityPartialPath(_ point: SweepPoint) -> String { directory + "/equity/\(Self.stem(point)).csv.partial" }

    /// Stores a finished config: its equity curve moved into place, then its row.
    public func record(_ result: SweepRunResult, point: SweepPoint) throws -> SweepRow {
        let stem = Self.stem(point)
        let partial = equityPartialPath(point)
        if FileManager.default.fileExists(atPath: partial) {
            guard rename(partial, directory + "/equity/\(stem).csv") == 0 else {
                throw BacktestError("cannot move \(partial) into place: \(String(cString: strerror(errno)))", badInput: false)
            }
        }
        let row = SweepRow(result, overrides: point.overrides, config: "configs/" + point.config.source)
        try Self.writeAtomically(try Self.encoder().encode(row), to: directory + "/rows/\(stem).json")
        return row
    }

    /// Rows of configs already finished, by number.
    public func finishedRows() throws -> [Int: SweepRow] {
        try Self.rows(in: directory)
    }

    /// Writes `results.csv`, `results.json` and `sweep.html`.
    public static func writeResults(_ results: SweepResults, to directory: String) throws {
        try writeAtomically(try results.json(), to: directory + "/results.json")
        try writeAtomically(Data(results.csv().utf8), to: directory + "/results.csv")
        try writeAtomically(Data(SweepReport.html(results, directory: directory).utf8), to: directory + "/sweep.html")
    }

    // MARK: Merge

    /// What a merge found.
    public struct MergeOutcome: Sendable {
        public var results: SweepResults
        /// Config numbers of the sweep with no row in any slice.
        public var missing: [Int]
    }

    /// Joins slices of one sweep into `out`: every config, equity curve and row copied, then
    /// the results ranked by `objective`. Refuses slices of different sweeps and a slice given
    /// twice; configs no slice has finished are reported as missing.
    public static func merge(_ directories: [String], into out: String, objective: SweepObjective) throws -> MergeOutcome {
        guard !directories.isEmpty else { throw BacktestError("give the slice directories to merge") }
        var manifests: [SweepManifest] = []
        for d in directories {
            guard FileManager.default.fileExists(atPath: d + "/sweep.json") else {
                throw BacktestError("\(d) is not a sweep directory (no sweep.json)")
            }
            manifests.append(try readManifest(d))
        }
        let first = manifests[0]
        for (d, m) in zip(directories, manifests) where m.sweepHash != first.sweepHash {
            throw BacktestError("\(d) is a slice of another sweep (hash \(m.sweepHash.prefix(12)) from \(m.sweepFile)) than \(directories[0]) (hash \(first.sweepHash.prefix(12)) from \(first.sweepFile)): only slices of one sweep can be merged")
        }
        var seen: [SweepShard: String] = [:]
        for (d, m) in zip(directories, manifests) {
            if let other = seen[m.shard] { throw BacktestError("\(d) and \(other) are both slice \(m.shard): give each slice once") }
            seen[m.shard] = d
        }
        let fm = FileManager.default
        if fm.fileExists(atPath: out + "/sweep.json") {
            let existing = try readManifest(out)
            guard existing.sweepHash == first.sweepHash else {
                throw BacktestError("\(out) holds another sweep (hash \(existing.sweepHash.prefix(12))). Choose another --out.")
            }
        } else if let contents = try? fm.contentsOfDirectory(atPath: out), !contents.isEmpty {
            throw BacktestError("\(out) exists and is not a sweep directory (no sweep.json). Choose another --out.")
        }
        for sub in ["configs", "equity", "rows"] { try fm.createDirectory(atPath: out + "/" + sub, withIntermediateDirectories: true) }
        var rows: [Int: SweepRow] = [:]
        for d in directories {
            for (number, row) in try Self.rows(in: d) {
                if let existing = rows[number], existing.contentHash != row.contentHash {
                    throw BacktestError("config \(number) has two different results (\(existing.contentHash.prefix(12)), \(row.contentHash.prefix(12))): the slices were not run over the same data", badInput: false)
                }
                rows[number] = row
                let stem = String(row.config.dropFirst("configs/".count).dropLast(".yaml".count))
                for (sub, ext) in [("configs", "yaml"), ("equity", "csv"), ("rows", "json")] {
                    let src = "\(d)/\(sub)/\(stem).\(ext)"
                    let dst = "\(out)/\(sub)/\(stem).\(ext)"
                    guard src != dst, let data = fm.contents(atPath: src) else { continue }
                    try writeAtomically(data, to: dst)
                }
            }
        }
        var merged = first
        merged.shard = .whole
        merged.numbers = rows.keys.sorted()
        try writeAtomically(try encoder().encode(merged), to: out + "/sweep.json")
        let results = SweepResults(sweepHash: first.sweepHash, objective: objective, configs: first.configs, sweptKeys: first.sweptKeys,
                                   rows: Array(rows.values))
        try writeResults(results, to: out)
        let missing = first.configs > 0 ? (1...first.configs).filter { rows[$0] == nil } : []
        return MergeOutcome(results: results, missing: missing)
    }

    // MARK: Files

    static func readManifest(_ directory: String) throws -> SweepManifest {
        guard let data = FileManager.default.contents(atPath: directory + "/sweep.json"),
              let m = try? JSONDecoder().decode(SweepManifest.self, from: data) else {
            throw BacktestError("\(directory)/sweep.json cannot be read as a sweep manifest")
        }
        return m
    }

    static func rows(in directory: String) throws -> [Int: SweepRow] {
        var out: [Int: SweepRow] = [:]
        let dir = directory + "/rows"
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() where name.hasSuffix(".json") {
            guard let data = FileManager.default.contents(atPath: dir + "/" + name), let row = try? JSONDecoder().decode(SweepRow.self, from: data) else {
                throw BacktestError("\(dir)/\(name) cannot be read as a sweep row; delete it to recompute that config", badInput: false)
            }
            out[row.number] = row
        }
        return out
    }

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return e
    }

    /// Writes `data` to `path` through a temporary file renamed into place.
    static func writeAtomically(_ data: Data, to path: String) throws {
        let partial = path + ".partial"
        guard FileManager.default.createFile(atPath: partial, contents: data) else {
            throw BacktestError("cannot write \(partial): check the directory is writable", badInput: false)
        }
        guard rename(partial, path) == 0 else {
            throw BacktestError("cannot move \(partial) into place: \(String(cString: strerror(errno)))", badInput: false)
        }
    }
}
