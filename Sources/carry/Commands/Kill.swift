// `carry kill [--release]`: engage (or lift) the kill switch of a running `carry run` through
// its loopback control port, then wait until the session reports it (its /health).

import ArgumentParser
import CarryCore
import CarryEngine
import CarryVenues
import Foundation

struct KillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kill",
        abstract: "Engage the kill switch of a running session (cancel working orders, flatten every pair, stop entries); --release lifts it.",
        discussion: """
        Talks to the session's control port on 127.0.0.1 (POST /kill, or /kill?release=1), then \
        reads its /health until the session reports the switch in the state asked for: by then \
        the command is journaled and the cancel and close intents of every leg are out. The port \
        is --port, else session.controlPort of --config (default <config-dir>/paper.yaml).

        Without a control port, SIGUSR1 engages the kill switch too: kill -USR1 $(pidof carry) \
        (it cannot release it; use the control port or restart the session, which keeps it \
        engaged until released — it is in the journal).

        Exit status: 0 the session reports the switch as asked; 1 it accepted the command but \
        did not report it within --timeout; 2 nothing listens on the port, or bad arguments.
        """)

    @OptionGroup var configOptions: ConfigOptions

    @Flag(help: "Lift the kill switch instead of engaging it.")
    var release = false

    @Option(help: ArgumentHelp("The session's control port (default: session.controlPort of --config).", valueName: "PORT"))
    var port: Int?

    @Option(name: .customLong("config"), help: ArgumentHelp("The session config, for its control port (default: <config-dir>/paper.yaml).", valueName: "FILE"))
    var configFile: String?

    @Option(help: ArgumentHelp("Why (journaled with the command).", valueName: "TEXT"))
    var reason: String?

    @Option(help: ArgumentHelp("How long to wait for the session to report it, e.g. 15s.", valueName: "DURATION"))
    var timeout = "15s"

    func run() throws {
        try reportingErrors {
            guard let timeoutMs = ConfigReader.parseDuration(timeout), timeoutMs > 0 else { throw CLIError.badInput("--timeout expects a duration like 15s (got \(timeout))") }
            let port = try sessionControlPort(port: self.port, configFile: configFile, configDirectory: configOptions.directory)
            let base = "http://127.0.0.1:\(port)"
            let transport = try CurlHTTPTransport()
            let verb = release ? "release" : "engage"
            var query = release ? "?release=1" : ""
            let why = reason ?? (release ? "carry kill --release" : "carry kill")
            query += (query.isEmpty ? "?" : "&") + "reason=" + (why.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "carry%20kill")
            let answer: HTTPResponse
            do {
                answer = try transport.send(HTTPRequest(url: base + "/kill" + query, method: "POST", body: [], timeoutMs: 5000, connectTimeoutMs: 2000))
            } catch let e as TransportError {
                throw CLIError.badInput("nothing answers on 127.0.0.1:\(port) (\(e.kind.rawValue)): is `carry run` running with session.controlPort \(port) "
                                        + "(or --control-port \(port))? Without a control port, `kill -USR1 PID` engages the kill switch.")
            }
            guard answer.status == 202 else {
                throw CLIError.failed("127.0.0.1:\(port) answered \(answer.status) to POST /kill: is it a carry session's control port?")
            }
            printNotice("kill switch \(verb) queued on 127.0.0.1:\(port); waiting for the session to report it")
            let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
            var last = ""
            while Date() < deadline {
                if let r = try? transport.get(HTTPRequest(url: base + "/health", timeoutMs: 2000, connectTimeoutMs: 1000)),
                   let json = try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any], let engaged = json["killSwitch"] as? Bool {
                    last = String(decoding: r.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                    if engaged == !release {
                        print("kill switch \(release ? "released" : "engaged"): journaled by the session; \(json["openPairs"] as? Int ?? 0) pairs not flat "
                              + "(\(release ? "entries allowed again" : "their closes are out"))")
                        return
                    }
                }
                usleep(50_000)
            }
            throw CLIError.failed("the session accepted the command but has not reported the kill switch \(release ? "released" : "engaged") within \(timeout) "
                                  + "(last /health: \(last.isEmpty ? "none" : last)); it acts at its next step — check /health and the journal")
        }
    }

}

/// A session's control port: `port`, else session.controlPort of `configFile` (default
/// <config-dir>/paper.yaml). Shared by `carry kill` and `carry trade`.
func sessionControlPort(port: Int?, configFile: String?, configDirectory: String) throws -> Int {
    if let port {
        guard (1...65535).contains(port) else { throw CLIError.badInput("--port must be 1–65535 (got \(port))") }
        return port
    }
    let path = configFile ?? configDirectory + "/paper.yaml"
    let config = try BacktestConfig.load(path: path)
    guard let p = config.session?.controlPort, p > 0 else {
        throw CLIError.badInput("\(path) sets no session.controlPort: pass --port (the session's --control-port)")
    }
    return p
}
