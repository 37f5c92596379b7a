// Operability of `carry run` end to end against `carry exchange-sim`: the loopback control port
// (/health, /metrics, POST /kill) during a paper session; `carry kill` and `--release` (journaled
// operator commands, every pair flattened, parity still identical); /health going 503 while
// the venue is stopped and 200 again when it resumes; `carry report` equal to an independent
// fold of the journal; and API keys never reaching a journal, an output, /metrics or /health.
// Every wait is a bounded poll; nothing asserts on speed (carry-bench killswitch does).

import CarryCore
import CarryJournal
import CarryTesting
import CarryVenues
import Foundation
import Testing

/// A free TCP port on 127.0.0.1 (bound, read, released).
func freeLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// GET or POST on loopback; nil when nothing answers.
func loopback(_ url: String, method: String = "GET") -> (status: Int, body: String)? {
    guard let transport = try? CurlHTTPTransport(),
          let r = try? transport.send(HTTPRequest(url: url, method: method, body: method == "POST" ? [] : nil, timeoutMs: 5000, connectTimeoutMs: 2000)) else { return nil }
    return (r.status, String(decoding: r.body, as: UTF8.self))
}

/// Polls `probe` every 50 ms until it returns a value or `seconds` pass.
func eventually<T>(_ seconds: Double, _ probe: () -> T?) -> T? {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if let v = probe() { return v }
        usleep(50_000)
    }
    return nil
}

func jsonObject(_ text: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
}

/// The value of an unlabelled or labelled sample line in Prometheus text.
func metric(_ text: String, _ name: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
        return Double(line.dropFirst(name.count + 1))
    }
    return nil
}

private func opsConfig(_ scratch: ScratchDirectory, port: Int, staleAfter: String = "30s") throws -> String {
    try testSessionConfig(scratch, session: "controlPort: \(port), staleAfter: \(staleAfter)")
}

private let replayStart = "2025-12-10T00:00:00Z"

@Suite("carry run operability: control port, carry kill, health, report, secrets", .serialized)
struct OperabilityTests {
    let carry = Fixtures.executable("carry")

    @Test("the dashboard a session serves (--dashboard-port) goes when the session is killed with SIGKILL: no orphan left serving")
    func dashboardEndsWithKilledSession() throws {
        let sim = try RunningSim(journal: SourceJournal.shared.path, ["--source-venue", "binance", "--replay-start", replayStart, "--replay-speed", "36000"])
        defer { sim.stop() }
        let scratch = ScratchDirectory("ops-dashboard-orphan")
        let dashboardPort = freeLoopbackPort()
        let session = try ChildProcess(carry, ["run", "--mode", "paper", "--config", try opsConfig(scratch, port: 0), "--journal", scratch.sub("session"),
                                               "--base-url", sim.baseURL, "--duration", "60s", "--dashboard-port", "\(dashboardPort)"])
        defer { session.signal(SIGKILL); session.wait() }
        #expect(eventually(30) { loopback("http://127.0.0.1:\(dashboardPort)/api/state")?.status == 200 ? true : nil } == true, "\(session.stderrText)")
        session.signal(SIGKILL)
        session.wait()
        #expect(eventually(10) { loopback("http://127.0.0.1:\(dashboardPort)/") == nil ? true : nil } == true, "the child dashboard outlived its session")
    }

    @Test("control port during a paper session; carry kill engages and releases; parity identical; carry report equals an independent fold")
    func controlPortKillAndReport() throws {
        // 10 hours of history a second: slow enough to catch the session with pairs open.
        let sim = try RunningSim(journal: SourceJournal.shared.path, ["--source-venue", "binance", "--replay-start", replayStart, "--replay-speed", "36000"])
        defer { sim.stop() }
        let scratch = ScratchDirectory("ops-kill")
        let journal = scratch.sub("session")
        let port = freeLoopbackPort()
        let base = "http://127.0.0.1:\(port)"
        let dashboardPort = freeLoopbackPort()
        let session = try ChildProcess(carry, ["run", "--mode", "paper", "--config", try opsConfig(scratch, port: port), "--journal", journal,
                                               "--base-url", sim.baseURL, "--stop-at", "2025-12-20T00:00:00Z", "--dashboard-port", "\(dashboardPort)"])
        defer { session.signal(SIGKILL); session.wait() }

        // /health: 200 once the session steps, with what an operator needs.
        let health = eventually(60) { () -> [String: Any]? in
            guard let r = loopback(base + "/health"), r.status == 200 else { return nil }
            return jsonObject(r.body)
        }
        #expect(health?["status"] as? String == "ok", "\(session.stderrText)")
        #expect(health?["mode"] as? String == "paper")
        #expect(health?["killSwitch"] as? Bool == false && health?["halted"] as? Bool == false)
        #expect((health?["venueTime"] as? String)?.hasSuffix("Z") == true)
        #expect(health?["lastStepAgeMs"] is Int)

        // /metrics: Prometheus text, with pairs open before the kill.
        let opened = eventually(60) { () -> String? in
            guard let r = loopback(base + "/metrics"), r.status == 200, (metric(r.body, "carry_open_pairs") ?? 0) >= 1 else { return nil }
            return r.body
        }
        let text = try #require(opened, "no pair opened")
        for name in ["# TYPE carry_steps_total counter", "# TYPE carry_equity_usdt gauge", "carry_position_base{", "symbol=\"BTCUSDT\"",
                     "carry_pnl_usdt{component=\"funding\"}", "carry_journal_commit_seconds_bucket{le=", "carry_venue_requests_total ",
                     "carry_kill_switch_engaged 0", "carry_pair_delta_base{symbol=\"ETHUSDT\"}", "carry_last_step_age_seconds "] {
            #expect(text.contains(name), "\(name) missing from /metrics:\n\(text)")
        }
        #expect((metric(text, "carry_steps_total") ?? 0) >= 1)

        // The session's dashboard (--dashboard-port): its state shows the open pairs.
        let state = eventually(30) { () -> [String: Any]? in
            guard let r = loopback("http://127.0.0.1:\(dashboardPort)/api/state"), r.status == 200, let j = jsonObject(r.body),
                  (j["pairs"] as? [[String: Any]])?.isEmpty == false else { return nil }
            return j
        }
        #expect(state != nil, "the dashboard served with the session shows its pairs")
        #expect(loopback("http://127.0.0.1:\(dashboardPort)/")?.body.contains("<svg") == true)

        // carry kill: engaged, reported, journaled.
        let kill = try runProcess(carry, ["kill", "--port", "\(port)"], timeoutSeconds: 60)
        #expect(kill.status == 0, "\(kill.stdout)\(kill.stderr)")
        #expect(kill.stdout.contains("kill switch engaged"), "\(kill.stdout)")
        let engaged = loopback(base + "/health").flatMap { jsonObject($0.body) }
        #expect(engaged?["killSwitch"] as? Bool == true)
        #expect(loopback(base + "/metrics").flatMap { metric($0.body, "carry_kill_switch_engaged") } == 1)
        #expect(loopback(base + "/metrics").map { $0.body.contains("carry_operator_commands_total{command=\"kill\"} 1") } == true)

        // Some steps with the switch engaged, then release.
        let steps = metric(loopback(base + "/metrics")?.body ?? "", "carry_steps_total") ?? 0
        _ = eventually(30) { (metric(loopback(base + "/metrics")?.body ?? "", "carry_steps_total") ?? 0) > steps + 5 ? true : nil }
        let release = try runProcess(carry, ["kill", "--release", "--port", "\(port)"], timeoutSeconds: 60)
        #expect(release.status == 0, "\(release.stdout)\(release.stderr)")
        #expect(release.stdout.contains("kill switch released"), "\(release.stdout)")
        #expect(loopback(base + "/health").flatMap { jsonObject($0.body) }?["killSwitch"] as? Bool == false)

        // The session runs to its stop; the port closes with it.
        #expect(session.wait(timeoutSeconds: 120) == 0, "\(session.stderrText)")
        #expect(loopback(base + "/health") == nil)
        #expect(eventually(10) { loopback("http://127.0.0.1:\(dashboardPort)/") == nil ? true : nil } == true, "the dashboard stops with the session")
        let nothing = try runProcess(carry, ["kill", "--port", "\(port)"])
        #expect(nothing.status == 2 && nothing.stderr.contains("nothing answers on 127.0.0.1:\(port)"), "\(nothing.stderr)")

        // The journal: both commands as operator records, then a flatten of every leg of every
        // pair that was not flat, each pair closing for the kill switch.
        let records = try SessionRecords(journal)
        let commands = records.all.compactMap { r -> (UInt64, KillSwitchChanged)? in
            if case .killSwitchChanged(let k) = r.event, k.source == .operatorCommand { return (r.seq, k) } else { return nil }
        }
        #expect(commands.map { $0.1.engaged } == [true, false])
        #expect(commands.map { $0.1.reason } == ["carry kill", "carry kill --release"])
        let killSeq = try #require(commands.first?.0)
        let notFlat = records.phases(before: killSeq).filter { $0.value != .flat }
        #expect(!notFlat.isEmpty)
        let caused = records.all.filter { $0.causation == .local(killSeq) }
        let closing = Set(caused.compactMap { r -> UInt64? in
            if case .pairTransition(let t) = r.event, t.cause == .killSwitch { return t.pairId } else { return nil }
        })
        #expect(closing == Set(notFlat.keys), "pairs not flat \(notFlat), moved by the kill switch \(closing)")
        let open = Set(notFlat.filter { $0.value == .open }.keys)
        let flattenLegs = caused.filter { if case .orderIntended(let i) = $0.event { return i.reason == .flatten && open.contains(i.pairId) } else { return false } }
        #expect(flattenLegs.count == 2 * open.count, "open pairs \(open), flatten intents \(flattenLegs.count)")
        // Flat before the release, every one of them.
        let releaseSeq = try #require(commands.last?.0)
        let flatBeforeRelease = records.phases(before: releaseSeq)
        #expect(notFlat.keys.allSatisfy { flatBeforeRelease[$0] == .flat }, "\(flatBeforeRelease)")

        let parity = try runProcess(carry, ["parity", journal])
        #expect(parity.status == 0 && parity.stdout.hasPrefix("identical: "), "\(parity.stdout)\(parity.stderr)")

        // carry report: the table, and the JSON equal to an independent fold of the journal.
        let table = try runProcess(carry, ["report", journal])
        #expect(table.status == 0, "\(table.stderr)")
        for row in ["venue API", "fill rate", "delta drift", "funding", "net funding", "P&L", "kill switch    1 engaged and 1 released"] {
            #expect(table.stdout.contains(row), "\(row) missing:\n\(table.stdout)")
        }
        let r = try runProcess(carry, ["report", journal, "--json"])
        let report = try #require(jsonObject(r.stdout), "\(r.stdout)\(r.stderr)")
        let fold = records.independentFold()
        for (key, value) in fold {
            #expect("\(report[key] ?? "missing")" == value, "\(key): report \(report[key] ?? "missing"), fold \(value)")
        }
        #expect((report["requests"] as? Int ?? 0) > 0 && report["availability"] is String)
        #expect((report["ordersSubmitted"] as? Int ?? 0) >= 8 && (report["settlementsExpected"] as? Int ?? 0) >= 1)
    }

    @Test("/health answers 503 while the venue is stopped, and 200 again once it resumes")
    func healthGoesStale() throws {
        let sim = try RunningSim(journal: SourceJournal.shared.path, ["--source-venue", "binance", "--replay-start", replayStart, "--replay-speed", "3600"])
        defer { sim.stop() }
        let scratch = ScratchDirectory("ops-stale")
        let port = freeLoopbackPort()
        let base = "http://127.0.0.1:\(port)"
        let session = try ChildProcess(carry, ["run", "--mode", "paper", "--config", try opsConfig(scratch, port: port, staleAfter: "1s"),
                                               "--config-dir", try testConfigDirectory(scratch, maxAttempts: 20), "--journal", scratch.sub("session"),
                                               "--base-url", sim.baseURL])
        defer { session.signal(SIGKILL); session.wait() }
        #expect(eventually(60) { loopback(base + "/health")?.status == 200 ? true : nil } == true, "never healthy")

        sim.process.signal(SIGSTOP)   // the venue stops answering: the session's step waits on it
        let stale = eventually(60) { () -> [String: Any]? in
            guard let r = loopback(base + "/health"), r.status == 503 else { return nil }
            return jsonObject(r.body)
        }
        sim.process.signal(SIGCONT)
        #expect(stale?["status"] as? String == "stale", "\(String(describing: stale))")
        #expect((stale?["lastStepAgeMs"] as? Int ?? 0) > 1000)
        #expect(eventually(90) { loopback(base + "/health")?.status == 200 ? true : nil } == true, "not healthy again after the venue resumed")

        session.signal(SIGTERM)
        #expect(session.wait(timeoutSeconds: 60) == 0, "\(session.stderrText)")
    }

    @Test("API keys never reach the journal, stdout/stderr, /metrics or /health (a session and carry account on the loopback venue)")
    func secretsNeverLeak() throws {
        let key = "CarryKeyQ7ZX93LM2B"
        let secret = "CarrySecretW4P81NV6TKD0R5"
        let env = ["BYBIT_API_KEY": key, "BYBIT_API_SECRET": secret, "CARRY_LOG_LEVEL": "trace"]
        let sim = try RunningSim(journal: SourceJournal.shared.path, ["--source-venue", "binance", "--replay-start", replayStart, "--replay-speed", "36000",
                                                                      "--api-key", key, "--api-secret", secret])
        defer { sim.stop() }
        let scratch = ScratchDirectory("ops-secrets")
        let journal = scratch.sub("session")
        let port = freeLoopbackPort()
        let base = "http://127.0.0.1:\(port)"
        var outputs: [String] = []

        // The endpoints, read while the session runs (from another thread: runProcess drains
        // the session's pipes, whatever it logs at trace level).
        nonisolated(unsafe) var served: [String] = []
        let reader = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            if eventually(60, { loopback(base + "/health")?.status == 200 ? true : nil }) != nil {
                for path in ["/health", "/metrics"] { served.append(loopback(base + path)?.body ?? "") }
                served.append(loopback(base + "/kill?reason=secrets", method: "POST")?.body ?? "")
                _ = eventually(10) { loopback(base + "/health").flatMap { jsonObject($0.body)?["killSwitch"] as? Bool == true ? true : nil } }
                for path in ["/health", "/metrics"] { served.append(loopback(base + path)?.body ?? "") }
            }
            reader.signal()
        }
        let run = try runProcess(carry, ["run", "--mode", "paper", "--config", try opsConfig(scratch, port: port), "--journal", journal,
                                         "--base-url", sim.baseURL, "--duration", "8s", "--log-format", "json"], environment: env, timeoutSeconds: 120)
        reader.wait()
        #expect(run.status == 0, "\(run.stderr)")
        #expect(served.count == 5 && served[1].contains("carry_steps_total"), "\(served)")
        #expect(run.stderr.split(separator: "\n").allSatisfy { jsonObject(String($0)) != nil }, "a stderr line is not JSON:\n\(run.stderr)")
        outputs += [run.stdout, run.stderr] + served

        // carry account: every view, then a secret the venue refuses (its error path).
        for view in ["balance", "positions", "orders", "fees", "funding"] {
            let r = try runProcess(carry, ["account", view, "--base-url", sim.baseURL], environment: env)
            #expect(r.status == 0, "\(view): \(r.stderr)")
            outputs += [r.stdout, r.stderr]
        }
        var wrong = env
        wrong["BYBIT_API_SECRET"] = secret + "X"
        let refused = try runProcess(carry, ["account", "balance", "--base-url", sim.baseURL], environment: wrong)
        #expect(refused.status == 2, "\(refused.stderr)")
        outputs += [refused.stdout, refused.stderr]
        let report = try runProcess(carry, ["report", journal, "--json"], environment: env)
        outputs += [report.stdout, report.stderr]

        for (i, text) in outputs.enumerated() {
            #expect(!text.contains(key) && !text.contains(secret), "output \(i) holds a key:\n\(text)")
        }
        var bytes = Data()
        for file in try FileManager.default.contentsOfDirectory(atPath: journal) {
            bytes += (try? Data(contentsOf: URL(fileURLWithPath: journal + "/" + file))) ?? Data()
        }
        #expect(bytes.count > 10_000)
        #expect(bytes.range(of: Data(key.utf8)) == nil && bytes.range(of: Data(secret.utf8)) == nil, "the journal's bytes hold a key")
    }
}

/// A session journal's records, and folds over them written apart from `SessionReport`.
struct SessionRecords {
    let all: [RecordedEvent]

    init(_ path: String) throws {
        var out: [RecordedEvent] = []
        try Journal.open(path, readOnly: true).withSnapshot { snap in
            _ = try snap.scan { view in
                out.append(try view.decodeRecorded())
                return true
            }
        }
        all = out
    }

    /// Each pair's phase just before `seq`.
    func phases(before seq: UInt64) -> [UInt64: PairPhase] {
        var phase: [UInt64: PairPhase] = [:]
        for r in all where r.seq < seq {
            if case .pairTransition(let t) = r.event { phase[t.pairId] = t.to }
        }
        return phase
    }

    /// The report's figures, folded here from the definitions in `carry report --help`: every
    /// value as the JSON shows it (numbers plain, decimals as their exact strings).
    func independentFold() -> [String: String] {
        var requests: UInt64 = 0, failed: UInt64 = 0
        var submitted: [UInt64] = []
        var intentQty: [UInt64: (pair: UInt64, spot: Bool, qty: Fixed, open: Bool)] = [:]
        var complete: Set<UInt64> = []
        var funding = Fixed.zero, fees = Fixed.zero, slippage = Fixed.zero
        var held: [Int: Fixed] = [:]
        var expected: Set<String> = []
        var received: Set<String> = []
        var phase: [UInt64: PairPhase] = [:]
        var legs: [UInt64: (spot: Fixed, perp: Fixed)] = [:]
        var target: [UInt64: Fixed] = [:]
        var samples = 0
        var driftMax = Fixed.zero, driftSum = Fixed.zero
        var engaged = 0, released = 0
        for r in all {
            switch r.event {
            case .sessionStats(let s):
                requests += s.requests
                failed += s.failedRequests
            case .orderIntended(let i):
                intentQty[r.seq] = (i.pairId, i.leg == .spot, i.qty, i.reason == .open)
                if i.reason == .open && i.leg == .spot && target[i.pairId] == nil { target[i.pairId] = i.qty }
            case .orderSubmitted(let s):
                if !submitted.contains(s.intentSeq) { submitted.append(s.intentSeq) }
            case .orderFilled(let f):
                let signed = f.side == .buy ? f.qty : -f.qty
                let baseFee = f.feeAsset == .base ? f.fee : .zero
                held[f.instrumentId.index, default: .zero] += signed - baseFee
                fees += f.feeAsset == .base ? f.fee.multiplied(by: f.price, scale: 8, .toNearestOrEven) : f.fee
                slippage += signed.multiplied(by: f.price, scale: 8, .toNearestOrEven) - signed.multiplied(by: f.referencePrice, scale: 8, .toNearestOrEven)
                if !f.isLiquidation, let i = intentQty[f.intentSeq] {
                    if f.leavesQty.isZero { complete.insert(f.intentSeq) }
                    var l = legs[i.pair] ?? (.zero, .zero)
                    if i.spot { l.spot += signed - baseFee } else { l.perp += signed - baseFee }
                    legs[i.pair] = l
                }
            case .fundingPaid(let p):
                funding += p.amount
                received.insert("\(p.instrumentId.index)@\(p.settlementTime.ms)")
            case .fundingSettled(let f):
                if let q = held[f.instrumentId.index], !q.isZero { expected.insert("\(f.instrumentId.index)@\(r.eventTime.ms)") }
            case .pairTransition(let t):
                phase[t.pairId] = t.to
            case .clockTicked(let c) where c.purpose == .scan:
                for (pair, p) in phase where p == .open {
                    guard let t = target[pair], let l = legs[pair] else { continue }
                    let d = (l.spot + l.perp).magnitude.divided(by: t, scale: 8, .toNearestOrEven)
                    samples += 1
                    driftSum += d
                    if d > driftMax { driftMax = d }
                }
            case .killSwitchChanged(let k) where k.source == .operatorCommand:
                if k.engaged { engaged += 1 } else { released += 1 }
            default:
                break
            }
        }
        let filled = submitted.filter { complete.contains($0) }.count
        func ratio(_ a: Int, _ b: Int) -> String { Fixed(Int64(a)).divided(by: Int64(b), scale: 8, .toNearestOrEven).description }
        return [
            "requests": "\(requests)", "failedRequests": "\(failed)", "availability": ratio(Int(requests - failed), Int(requests)),
            "ordersSubmitted": "\(submitted.count)", "ordersFilled": "\(filled)", "fillRate": ratio(filled, submitted.count),
            "settlementsExpected": "\(expected.count)", "settlementsReceived": "\(expected.intersection(received).count)",
            "settlementsMissed": "\(expected.subtracting(received).count)",
            "funding": funding.description, "fees": fees.description, "slippage": slippage.description,
            "netFundingAfterFees": (funding - fees).description,
            "driftSamples": "\(samples)", "driftMax": driftMax.description,
            "driftMean": samples == 0 ? "<null>" : driftSum.divided(by: Int64(samples), scale: 8, .toNearestOrEven).description,
            "killSwitchEngagedByOperator": "\(engaged)", "killSwitchReleasedByOperator": "\(released)",
        ]
    }
}
