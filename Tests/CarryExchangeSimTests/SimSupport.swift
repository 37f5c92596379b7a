import CarryCore
import CarryExchangeSim
import CarryJournal
import CarryTesting
import CarryVenues
import Foundation
import Testing

/// A market journal imported (by `carry import`) from a time slice of the bundled data:
/// Binance BTC and ETH, spot and perp 1 h bars and funding, 2025-12-01 → 2026-03-19 20:00.
/// Built once per test process.
final class SourceJournal: @unchecked Sendable {
    static let shared: SourceJournal = {
        do { return try SourceJournal() } catch { fatalError("cannot build the source journal: \(error)") }
    }()

    let scratch = ScratchDirectory("sim-source")
    var path: String { scratch.sub("journal") }
    /// The simulator's clock over this journal: the last bar's close.
    let now = Timestamp(ms: 1_773_950_400_000)   // 2026-03-19T20:00:00Z

    private init() throws {
        let lo: Int64 = 1_764_547_200_000   // 2025-12-01
        let hi: Int64 = 1_773_950_400_000
        let data = scratch.sub("data")
        let fm = FileManager.default
        try fm.createDirectory(atPath: data, withIntermediateDirectories: true)
        try fm.copyItem(atPath: Fixtures.bundledData + "/instruments.csv", toPath: data + "/instruments.csv")
        var files: [(String, Int)] = []
        for s in ["BTCUSDT", "ETHUSDT"] {
            files += [("klines/binance-spot/\(s)_1h.csv", 0), ("klines/binance-usdm-perp/\(s)_1h.csv", 0), ("funding/binance/\(s).csv", 1)]
        }
        for (rel, column) in files {
            let text = try String(contentsOfFile: Fixtures.bundledData + "/" + rel, encoding: .utf8)
            var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
            let header = lines.removeFirst()
            let kept = lines.filter { line in
                guard let t = Int64(line.split(separator: ",", omittingEmptySubsequences: false)[column]) else { return false }
                return t >= lo && t < hi
            }
            let out = data + "/" + rel
            try fm.createDirectory(atPath: (out as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try ([String(header)] + kept.map(String.init)).joined(separator: "\n").appending("\n").write(toFile: out, atomically: true, encoding: .utf8)
        }
        let r = try runProcess(Fixtures.executable("carry"), ["import", "--data", data, "--journal", scratch.sub("journal")])
        guard r.status == 0 else { throw CLIFailure(message: "carry import failed: \(r.stderr)") }
    }
}

struct CLIFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// `carry exchange-sim` running as a child process on a free port.
final class RunningSim: Sendable {
    let process: ChildProcess
    let port: Int
    var baseURL: String { "http://127.0.0.1:\(port)" }

    init(journal: String, _ extra: [String] = []) throws {
        process = try ChildProcess(Fixtures.executable("carry"), ["exchange-sim", "--journal", journal, "--port", "0"] + extra)
        guard let line = process.readLine(timeoutSeconds: 30), line.hasPrefix("listening on 127.0.0.1:"), let p = Int(line.dropFirst("listening on 127.0.0.1:".count)) else {
            process.signal(SIGKILL)
            process.wait()
            throw CLIFailure(message: "exchange-sim did not report its port: \(process.stderrText)")
        }
        port = p
    }

    /// `GET /sim/stats`.
    func stats() throws -> SimStatsSnapshot {
        let r = try CurlHTTPTransport().get(HTTPRequest(url: baseURL + "/sim/stats"))
        let json = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] ?? [:]
        let injected = json["injected"] as? [String: Int] ?? [:]
        return SimStatsSnapshot(requests: json["requests"] as? Int ?? -1, limitViolations: json["limitViolations"] as? Int ?? -1,
                                maxInWindow: json["maxInWindow"] as? Int ?? -1, injected: injected)
    }

    /// SIGTERM, then the final stats line it prints.
    @discardableResult
    func stop() -> String? {
        process.signal(SIGTERM)
        var last: String? = nil
        while let line = process.readLine(timeoutSeconds: 10) { last = line }
        process.wait(timeoutSeconds: 10)
        return last
    }

    deinit {
        process.signal(SIGKILL)
        process.wait(timeoutSeconds: 5)
    }
}

struct SimStatsSnapshot {
    var requests: Int
    var limitViolations: Int
    var maxInWindow: Int
    var injected: [String: Int]
}

/// A market journal's bars and funding per stream, as text lines (exact decimals), keyed by
/// `kind symbol what` so journals of different venues compare.
func marketContent(_ path: String, venue: Venue, from: Timestamp, to: Timestamp) throws -> [String: [String]] {
    let journal = try Journal.open(path, readOnly: true)
    var defs: [InstrumentDefined] = []
    var out: [String: [String]] = [:]
    try journal.withSnapshot { snap in
        _ = try snap.scan { view in
            let event = try view.decode()
            let t = view.header.eventTime
            switch event {
            case .instrumentDefined(let d):
                if d.id.index < defs.count { defs[d.id.index] = d } else { defs.append(d) }
            case .barClosed(let b):
                let d = defs[b.instrumentId.index]
                guard d.venue == venue, t >= from, t <= to else { break }
                out["\(d.kind) \(d.symbol) bars \(b.intervalSeconds)", default: []].append(
                    "\(b.openTime.ms) \(b.open) \(b.high) \(b.low) \(b.close) \(b.volumeBase) \(b.volumeQuote)")
            case .fundingSettled(let f):
                let d = defs[f.instrumentId.index]
                guard d.venue == venue, t >= from, t <= to else { break }
                out["\(d.kind) \(d.symbol) funding", default: []].append("\(t.ms) \(f.ratePerInterval) \(f.intervalMinutes)")
            default:
                break
            }
            return true
        }
    }
    // Fetches write newest-first pages; compare in time order.
    for key in Array(out.keys) { out[key]!.sort { Int64($0.prefix { $0 != " " })! < Int64($1.prefix { $0 != " " })! } }
    return out
}

/// A venues.yaml with fast backoff for tests.
func testConfigDirectory(_ scratch: ScratchDirectory, maxAttempts: Int = 8) throws -> String {
    let dir = scratch.sub("config")
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try """
    bybit:
      maxAttempts: \(maxAttempts)
      backoffBase: 20ms
      backoffMax: 2s
    """.write(toFile: dir + "/venues.yaml", atomically: true, encoding: .utf8)
    return dir
}

/// A transport that answers from a `BybitPublicAPI` in this process (no sockets), with an
/// optional rewrite of each body to play a misbehaving venue.
final class InProcessTransport: HTTPTransport {
    let api: BybitPublicAPI
    let rewrite: (String, String) -> String
    var requests = 0

    init(_ api: BybitPublicAPI, rewrite: @escaping (_ path: String, _ body: String) -> String = { $1 }) {
        self.api = api
        self.rewrite = rewrite
    }

    func get(_ request: HTTPRequest) throws -> HTTPResponse {
        requests += 1
        let afterHost = request.url.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)   // http: "" host rest
        let rest = "/" + (afterHost.count > 3 ? afterHost[3] : "")
        let parts = rest.split(separator: "?", maxSplits: 1)
        var query: [String: String] = [:]
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                query[String(kv[0])] = kv.count > 1 ? String(kv[1]) : ""
            }
        }
        let path = String(parts[0])
        guard let r = api.handle(path: path, query: query) else { return HTTPResponse(status: 404, body: []) }
        return HTTPResponse(status: r.status, body: Array(rewrite(path, r.body).utf8))
    }
}

/// A `carry run` config for tests: v1.0's threshold strategy on BTC and ETH, fast polling, no
/// market lag (the loopback venue publishes an instant whole the moment its clock passes it).
/// `session` adds keys to the session section; `strategy` replaces the strategy section's
/// body; `poll` is the poll interval; `extra` appends top-level lines.
func testSessionConfig(_ scratch: ScratchDirectory, session: String = "", poll: String = "20ms",
                       strategy: String = "entryThreshold: 0.0001, exitThreshold: 0, maxHolding: 30d, pairNotionalUsdt: 20000, maxOpenPairs: 2",
                       extra: String = "") throws -> String {
    let path = scratch.sub("session.yaml")
    try """
    strategy_mode: simple
    venue: bybit
    symbols: [BTCUSDT, ETHUSDT]
    barInterval: 1h
    scanInterval: 1h
    warmup: 1d
    initialCapitalUsdt: 100000
    session: {pollInterval: \(poll), marketLag: 0s\(session.isEmpty ? "" : ", " + session)}
    strategy: {\(strategy)}
    \(extra)
    """.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}
