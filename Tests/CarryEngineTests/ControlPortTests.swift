// The control port's parts without a session: /health's verdicts, the Prometheus text from a
// published status, JSON quoting, the session settings' operational keys, and the server itself
// on a free loopback port (commands reach `SessionControl` once queued).

import CarryCore
import CarryEngine
import CarryVenues
import Foundation
import Logging
import Testing

private func status(wall: Int64, engaged: Bool = false) -> SessionStatus {
    var s = SessionStatus(mode: .paper, journalPath: "/tmp/a \"quoted\" path")
    s.venueTime = Timestamp(ms: 1_765_324_800_000)
    s.wallTime = Timestamp(ms: wall)
    s.steps = 7
    s.killSwitchEngaged = engaged
    s.openPairs = 1
    s.equity = Fixed("100012.5")!
    s.funding = Fixed("3.25")!
    s.fees = Fixed("1.1")!
    s.slippage = Fixed("0.4")!
    s.pricePnL = Fixed("10.75")!
    s.positions = ["BTCUSDT spot": Fixed("0.2")!, "BTCUSDT perp": Fixed("-0.2")!]
    s.fundingRates = ["BTCUSDT": Fixed("0.0001")!]
    s.requests = 40
    s.venueErrors = 2
    s.commitMs = 3
    s.recordsWritten = 120
    return s
}

@Suite("control port parts")
struct ControlPortTests {
    @Test("/health: ok while the last step is recent, stale after staleAfter, starting before the first step")
    func healthVerdicts() throws {
        let ok = SessionHealth(status: status(wall: 1_000_000), now: Timestamp(ms: 1_000_400), staleAfterMs: 1000)
        #expect(ok.state == "ok" && ok.httpStatus == 200)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(ok.json.utf8)) as? [String: Any])
        #expect(json["lastStepAgeMs"] as? Int == 400 && json["mode"] as? String == "paper" && json["killSwitch"] as? Bool == false)
        #expect(json["venueTime"] as? String == "2025-12-10T00:00:00Z" && json["journal"] as? String == "/tmp/a \"quoted\" path")
        let stale = SessionHealth(status: status(wall: 1_000_000), now: Timestamp(ms: 1_001_001), staleAfterMs: 1000)
        #expect(stale.state == "stale" && stale.httpStatus == 503)
        let starting = SessionHealth(status: SessionStatus(mode: .paper, journalPath: "j"), now: Timestamp(ms: 5), staleAfterMs: 1000)
        #expect(starting.state == "starting" && starting.httpStatus == 503 && starting.json.contains("\"venueTime\":null"))
    }

    @Test("JSON quoting escapes quotes, backslashes and control characters, and keeps UTF-8")
    func quoting() {
        #expect(jsonString("a\"b\\c\nd\u{1}é→") == "\"a\\\"b\\\\c\\nd\\u0001é→\"")
    }

    @Test("/metrics renders a published status in Prometheus text")
    func metricsText() {
        let control = SessionControl(status: SessionStatus(mode: .paper, journalPath: "j"))
        let metrics = SessionMetrics(control: control)
        control.publish(status(wall: 1_000_000, engaged: true))
        let text = metrics.render(status: control.status, now: Timestamp(ms: 1_002_000))
        for line in ["carry_session_info{mode=\"paper\"} 1", "carry_steps_total 7", "carry_kill_switch_engaged 1", "carry_open_pairs 1",
                     "carry_equity_usdt 100012.5", "carry_pnl_usdt{component=\"funding\"} 3.25", "carry_pnl_usdt{component=\"price\"} 10.75",
                     "carry_venue_requests_total 40", "carry_venue_errors_total 2", "carry_journal_records_total 120",
                     "carry_last_step_age_seconds 2", "carry_funding_rate{symbol=\"BTCUSDT\"} 0.0001", "carry_pair_delta_base{symbol=\"BTCUSDT\"} 0",
                     "carry_journal_commit_seconds_count 1"] {
            #expect(text.contains(line), "\(line) missing:\n\(text)")
        }
        #expect(text.contains("carry_position_base{symbol=\"BTCUSDT\",leg=\"spot\"} 0.2") || text.contains("carry_position_base{leg=\"spot\",symbol=\"BTCUSDT\"} 0.2"),
                "\(text)")
        // Counters move by what changed, never back.
        var later = status(wall: 1_003_000)
        later.steps = 9
        control.publish(later)
        #expect(metrics.render(status: later, now: Timestamp(ms: 1_003_000)).contains("carry_steps_total 9"))
    }

    @Test("session.controlPort and session.staleAfter are read but stay out of the canonical text (they never refuse a journal)")
    func operationalKeys() throws {
        let yaml = """
        symbols: [BTCUSDT]
        session: {pollInterval: 1s, marketLag: 5s, controlPort: 9464, staleAfter: 45s}
        """
        let config = try BacktestConfig.parse(yaml: yaml, source: "test")
        #expect(config.session?.controlPort == 9464 && config.session?.staleAfterMs == 45_000)
        let plain = try BacktestConfig.parse(yaml: "symbols: [BTCUSDT]\nsession: {pollInterval: 1s, marketLag: 5s}", source: "test")
        #expect(plain.session?.controlPort == 0 && plain.session?.staleAfterMs == 30_000)
        #expect(config.canonicalText == plain.canonicalText)
        #expect(throws: ConfigError.self) { try BacktestConfig.parse(yaml: "symbols: [BTCUSDT]\nsession: {controlPort: 70000}", source: "test") }
    }

    @Test("the server on a free loopback port: /health, /metrics, POST /kill queues the command, unknown paths 404")
    func server() throws {
        let control = SessionControl(status: SessionStatus(mode: .paper, journalPath: "j"))
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let server = try ControlServer.start(port: 0, control: control, metrics: SessionMetrics(control: control), staleAfterMs: 60_000, logger: logger)
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)"
        let http = try CurlHTTPTransport()
        #expect(try http.get(HTTPRequest(url: base + "/health")).status == 503)   // no step yet
        control.publish(status(wall: Int64(Date().timeIntervalSince1970 * 1000)))
        #expect(try http.get(HTTPRequest(url: base + "/health")).status == 200)
        let metrics = try http.get(HTTPRequest(url: base + "/metrics"))
        #expect(metrics.status == 200 && String(decoding: metrics.body, as: UTF8.self).contains("carry_steps_total 7"))
        #expect(metrics.header("Content-Type")?.hasPrefix("text/plain") == true)

        let kill = try http.send(HTTPRequest(url: base + "/kill?reason=ops%20test", method: "POST", body: []))
        #expect(kill.status == 202 && String(decoding: kill.body, as: UTF8.self).contains("\"queued\":\"engage\""))
        let release = try http.send(HTTPRequest(url: base + "/kill?release=1", method: "POST", body: []))
        #expect(release.status == 202)
        #expect(control.takeCommands() == [.killSwitch(engaged: true, reason: "ops test"), .killSwitch(engaged: false, reason: "control port: release")])
        let getKill = try http.get(HTTPRequest(url: base + "/kill")).status
        #expect(getKill == 404 || getKill == 405)
        #expect(try http.get(HTTPRequest(url: base + "/nothing")).status == 404)
    }

    @Test("a port already in use is a clear error, and nothing keeps running")
    func portInUse() throws {
        let control = SessionControl(status: SessionStatus(mode: .paper, journalPath: "j"))
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let first = try ControlServer.start(port: 0, control: control, metrics: SessionMetrics(control: control), staleAfterMs: 1000, logger: logger)
        defer { first.stop() }
        #expect(throws: ControlServerError.self) {
            _ = try ControlServer.start(port: first.port, control: control, metrics: SessionMetrics(control: control), staleAfterMs: 1000, logger: logger)
        }
    }
}
