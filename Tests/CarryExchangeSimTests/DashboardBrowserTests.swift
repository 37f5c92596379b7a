// `carry dashboard` in a real browser: Debian's chromium, headless, driven over the DevTools
// protocol (its WebSocket on 127.0.0.1). The journal is a paper session's, written by the real
// engine against the loopback venue. The page must show the journal's rates, positions and
// delta, draw its charts, and show an event appended to the journal afterwards without a
// reload. A screenshot is kept in out/test-artifacts/. Access without the token is tested on
// every route.

import CarryCore
import CarryJournal
import CarryTesting
import CarryVenues
import Foundation
import Testing
import WSClient

private final class RunningDashboard: Sendable {
    let process: ChildProcess
    let url: String

    init(journal: String, host: String = "127.0.0.1", environment: [String: String]? = nil) throws {
        process = try ChildProcess(Fixtures.executable("carry"), ["dashboard", "--journal", journal, "--port", "0", "--host", host], environment: environment)
        guard let line = process.readLine(timeoutSeconds: 30), line.hasPrefix("dashboard on http://"),
              let port = line.split(separator: ":").last.map({ $0.trimmingCharacters(in: CharacterSet(charactersIn: "/")) }) else {
            process.signal(SIGKILL)
            process.wait()
            throw CLIFailure(message: "carry dashboard did not start: \(process.stderrText)")
        }
        url = "http://127.0.0.1:\(port)/"
    }

    deinit {
        process.signal(SIGTERM)
        process.wait(timeoutSeconds: 10)
    }
}

/// A paper session's journal over three weeks of replayed history (the real engine wrote it).
private func paperJournal(_ scratch: ScratchDirectory) throws -> String {
    let sim = try RunningSim(journal: SourceJournal.shared.path, ["--source-venue", "binance", "--replay-start", "2025-12-10T00:00:00Z", "--replay-speed", "360000"])
    defer { sim.stop() }
    let config = try testSessionConfig(scratch)
    let journal = scratch.sub("session")
    let r = try runProcess(Fixtures.executable("carry"), ["run", "--mode", "paper", "--config", config, "--journal", journal, "--base-url", sim.baseURL,
                                                          "--stop-at", "2025-12-31T00:00:00Z"], timeoutSeconds: 300)
    guard r.status == 0 else { throw CLIFailure(message: "the paper session failed: \(r.stderr)") }
    return journal
}

@Suite("carry dashboard", .serialized)
struct DashboardBrowserTests {
    @Test("in headless chromium: rates, positions and delta shown, charts drawn, an appended event appears without a reload; a screenshot kept")
    func pageInBrowser() async throws {
        let scratch = ScratchDirectory("dashboard-browser")
        let journal = try paperJournal(scratch)
        let dashboard = try RunningDashboard(journal: journal)
        // The state the page must show, as the server computes it.
        let stateBody = try CurlHTTPTransport().get(HTTPRequest(url: dashboard.url + "api/state")).body
        let state = try JSONSerialization.jsonObject(with: Data(stateBody)) as? [String: Any] ?? [:]
        let pairs = state["pairs"] as? [[String: Any]] ?? []
        #expect(pairs.count == 2)
        let series = state["equitySeries"] as? [[String: Any]] ?? []
        #expect(series.count > 100, "a scan tick per hour over three weeks")

        let browser = try HeadlessBrowser(url: dashboard.url)
        let points = try await browser.waitFor("(() => { const p = document.querySelector('#equity-chart path.line'); return p ? p.getAttribute('data-points') : ''; })()")
        #expect(Int(points) == series.count, "the equity chart draws every sample: \(points)")
        let pathLength = try await browser.evaluate("String(document.querySelector('#equity-chart path.line').getTotalLength() > 100)")
        #expect(pathLength == "true")
        let splitLines = try await browser.evaluate("String(document.querySelectorAll('#pnl-chart path.line').length)")
        #expect(splitLines == "4")
        // Each pair's row: its rate per interval as a percentage, both legs' quantities, delta.
        for pair in pairs {
            let symbol = pair["symbol"] as? String ?? "?"
            let row = try await browser.evaluate("document.querySelector('tr[data-symbol=\"\(symbol)\"]').innerText")
            #expect(row.contains(symbol))
            if let rate = Double(pair["rate"] as? String ?? "") {
                #expect(row.contains(String(format: "%.4f %%", 100 * rate)), "\(symbol) rate \(rate) in \(row)")
            }
            #expect(row.contains(pair["spotQty"] as? String ?? "?") && row.contains(pair["perpQty"] as? String ?? "?") && row.contains(pair["delta"] as? String ?? "?"), "\(row)")
        }
        let equity = try await browser.evaluate("document.querySelector('[data-kpi=\"Equity\"]').innerText")
        let expected = Double(state["equity"] as? String ?? "") ?? .nan
        #expect(equity.replacingOccurrences(of: ",", with: "") == String(format: "%.2f", expected))
        #expect(try await browser.evaluate("document.getElementById('kill').innerText") == "kill switch off")

        // Append to the journal while the page is open: it must show up by itself.
        let j = try Journal.open(journal, readOnly: false)
        let writer = try j.makeWriter()
        let t = Timestamp(ms: 1_767_139_200_000)
        _ = try writer.append([EventDraft(.killSwitchChanged(KillSwitchChanged(engaged: true, source: .operatorCommand, reason: "dashboard test")),
                                          eventTime: t, recordTime: t)])
        try writer.close()
        let kill = try await browser.waitFor("(() => { const t = document.getElementById('kill').innerText; return t.includes('ENGAGED') ? t : ''; })()")
        #expect(kill.contains("KILL SWITCH ENGAGED (dashboard test)"), "\(kill)")

        #expect(try await browser.keepScreenshot("dashboard.png") > 10_000)
    }

    @Test("bound beyond loopback: refused without a token; with one, every route answers 401 without it and reveals nothing")
    func accessControl() throws {
        let scratch = ScratchDirectory("dashboard-access")
        // Any journal will do for access: a tiny one.
        let path = scratch.sub("journal")
        let j = try Journal.openOrCreate(path, create: JournalCreateOptions(purpose: .paper))
        let w = try j.makeWriter()
        _ = try w.append([EventDraft(.alertRaised(AlertRaised(severity: .info, code: "secret-marker", message: "only with the token")),
                                     eventTime: Timestamp(ms: 1), recordTime: Timestamp(ms: 1))])
        try w.close()

        let refused = try runProcess(Fixtures.executable("carry"), ["dashboard", "--journal", path, "--port", "0", "--host", "0.0.0.0"],
                                     environment: ["CARRY_DASHBOARD_TOKEN": ""], timeoutSeconds: 20)
        #expect(refused.status == 2 && refused.stderr.contains("CARRY_DASHBOARD_TOKEN"), "\(refused.stderr)")

        let token = "tok-\(UInt64.random(in: 1...UInt64.max))-carry"
        let dashboard = try RunningDashboard(journal: path, host: "0.0.0.0", environment: ["CARRY_DASHBOARD_TOKEN": token])
        let http = try CurlHTTPTransport()
        for route in ["", "api/state", "api/stream", "nothing-here", "api/state?token=wrong"] {
            let r = try http.get(HTTPRequest(url: dashboard.url + route))
            #expect(r.status == 401, "\(route): \(r.status)")
            let body = String(decoding: r.body, as: UTF8.self)
            #expect(body == "unauthorized\n", "\(route) revealed: \(body)")
        }
        let wrongHeader = try http.get(HTTPRequest(url: dashboard.url + "api/state", headers: [("Authorization", "Bearer not-\(token)")]))
        #expect(wrongHeader.status == 401)
        let ok = try http.get(HTTPRequest(url: dashboard.url + "api/state", headers: [("Authorization", "Bearer \(token)")]))
        #expect(ok.status == 200 && String(decoding: ok.body, as: UTF8.self).contains("secret-marker"))
        let viaQuery = try http.get(HTTPRequest(url: dashboard.url + "?token=\(token)"))
        #expect(viaQuery.status == 200 && String(decoding: viaQuery.body, as: UTF8.self).contains("<title>Carry dashboard</title>"))
        // Nothing the page could use to act: every other method is refused too.
        let post = try http.send(HTTPRequest(url: dashboard.url + "api/state", method: "POST", body: Array("{}".utf8)))
        #expect(post.status == 401)
        let postAuthed = try http.send(HTTPRequest(url: dashboard.url + "kill", method: "POST", body: [], headers: [("Authorization", "Bearer \(token)")]))
        #expect(postAuthed.status == 404)
        let postState = try http.send(HTTPRequest(url: dashboard.url + "api/state", method: "POST", body: [], headers: [("Authorization", "Bearer \(token)")]))
        #expect(postState.status == 405)
    }

    @Test("no journal there: exit 2 with what to do")
    func missingJournal() throws {
        let r = try runProcess(Fixtures.executable("carry"), ["dashboard", "--journal", "/nonexistent/journal", "--port", "0"], timeoutSeconds: 20)
        #expect(r.status == 2 && r.stderr.contains("no journal at /nonexistent/journal"), "\(r.stderr)")
    }
}
