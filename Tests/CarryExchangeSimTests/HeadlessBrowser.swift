// A real browser for tests of Carry's pages: Debian's chromium, headless, driven over the
// DevTools protocol (its WebSocket on 127.0.0.1 only).

import CarryTesting
import CarryVenues
import Foundation
import WSClient

/// A headless chromium with its DevTools endpoint on a free loopback port.
final class HeadlessBrowser: @unchecked Sendable {
    let process: ChildProcess
    let profile = ScratchDirectory("chromium-profile")
    let devtoolsPort: Int

    static var executable: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    init(url: String) throws {
        guard let exe = Self.executable else { throw CLIFailure(message: "chromium is not installed (apt-get install chromium)") }
        process = try ChildProcess(exe, ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                                         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--remote-allow-origins=*", "--user-data-dir=\(profile.path)",
                                         "--window-size=1280,1800", url])
        var port: Int?
        for _ in 0..<300 where port == nil {
            if let text = try? String(contentsOfFile: profile.sub("DevToolsActivePort"), encoding: .utf8), let p = Int(text.split(separator: "\n").first ?? "") {
                port = p
            } else {
                usleep(100_000)
            }
        }
        guard let port else {
            process.signal(SIGKILL)
            process.wait()
            throw CLIFailure(message: "chromium did not open its DevTools port: \(process.stderrText.suffix(2000))")
        }
        devtoolsPort = port
    }

    deinit {
        process.signal(SIGKILL)
        process.wait(timeoutSeconds: 5)
    }

    /// The page target's DevTools WebSocket URL.
    func pageSocket() throws -> String {
        let r = try CurlHTTPTransport().get(HTTPRequest(url: "http://127.0.0.1:\(devtoolsPort)/json/list"))
        let list = try JSONSerialization.jsonObject(with: Data(r.body)) as? [[String: Any]] ?? []
        guard let page = list.first(where: { $0["type"] as? String == "page" }), let ws = page["webSocketDebuggerUrl"] as? String else {
            throw CLIFailure(message: "no page target in \(String(decoding: r.body, as: UTF8.self))")
        }
        return ws
    }

    /// Sends one DevTools command and returns its `result`.
    func command(_ method: String, _ params: [String: Any]) async throws -> [String: Any] {
        let url = try pageSocket()
        let request = try JSONSerialization.data(withJSONObject: ["id": 1, "method": method, "params": params])
        let text = String(decoding: request, as: UTF8.self)
        let box = ResultBox()
        var config = WebSocketClientConfiguration()
        config.maxFrameSize = 64 << 20
        _ = try await WebSocketClient.connect(url: url, configuration: config, logger: .init(label: "devtools")) { inbound, outbound, _ in
            try await outbound.write(.text(text))
            for try await message in inbound.messages(maxSize: 64 << 20) {
                guard case .text(let t) = message,
                      let json = try JSONSerialization.jsonObject(with: Data(t.utf8)) as? [String: Any], json["id"] as? Int == 1 else { continue }
                box.value = json["result"] as? [String: Any] ?? ["error": json["error"] ?? "?"]
                break
            }
            try await outbound.close(.normalClosure, reason: nil)
        }
        return box.value
    }

    /// Evaluates a JavaScript expression in the page; its value as a string ("" for null).
    func evaluate(_ expression: String) async throws -> String {
        let result = try await command("Runtime.evaluate", ["expression": expression, "returnByValue": true])
        let value = (result["result"] as? [String: Any])?["value"]
        switch value {
        case let s as String: return s
        case let n as NSNumber: return n.stringValue
        default: return ""
        }
    }

    /// Captures the page as PNG into out/test-artifacts/`name` (kept for a person to look at);
    /// returns its size in bytes.
    @discardableResult
    func keepScreenshot(_ name: String) async throws -> Int {
        let shot = try await command("Page.captureScreenshot", ["format": "png"])
        let png = Data(base64Encoded: shot["data"] as? String ?? "") ?? Data()
        let artefacts = Fixtures.repoRoot + "/out/test-artifacts"
        try FileManager.default.createDirectory(atPath: artefacts, withIntermediateDirectories: true)
        try png.write(to: URL(fileURLWithPath: artefacts + "/" + name))
        return png.count
    }

    /// Waits (bounded) until `expression` evaluates to a non-empty value other than "false".
    func waitFor(_ expression: String, seconds: Double = 20) async throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var last = ""
        while Date() < deadline {
            last = (try? await evaluate(expression)) ?? ""
            if !last.isEmpty && last != "false" { return last }
            try await Task.sleep(for: .milliseconds(200))
        }
        return last
    }
}

final class ResultBox: @unchecked Sendable {
    var value: [String: Any] = [:]
}

/// `carry dashboard` as a child process on a free port.
