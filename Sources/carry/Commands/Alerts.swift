// `carry alerts`: alert rules over a session's journal, delivered by Telegram and email.

import ArgumentParser
import CarryEngine
import CarryVenues
import Dispatch
import Foundation

struct AlertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "Follow a session's journal and send alerts by Telegram and email (de-duplicated, rate-limited, every outcome journaled).",
        discussion: """
        Rules (config/alerts.yaml): a pair's funding rate crossing a threshold, a leg failure and \
        its unwind, delta drift past the band, the margin buffer low, the drawdown approaching the \
        stop, the kill switch engaged, a reconciliation mismatch, a funding payment missing or \
        different from the engine's expectation, engine warnings, and the journal gone quiet (the \
        venue stream or the engine down) for longer than rules.quietAfter.

        Each alert is sent once per rule and subject per dedupWindow, at most maxPerHour per \
        channel, retried with backoff when delivery fails; every outcome (sent, failed, \
        suppressed) is journaled in the alerter's own journal (--state), which also lets a \
        restarted alerter continue after the last record it handled without sending anything twice.

        Secrets come from the environment or an untracked .env: TELEGRAM_BOT_TOKEN, SMTP_PASSWORD. \
        Runs beside the engine as its own process: a slow or dead alert server never slows the engine.

        Exit status: 0 stopped; 1 failed; 2 bad input (no journal, config, missing secret).
        """)

    @OptionGroup var configOptions: ConfigOptions

    @Option(name: .customLong("journal"), help: ArgumentHelp("The session journal to follow.", valueName: "DIR"))
    var journal: String

    @Option(name: .customLong("config"), help: ArgumentHelp("The alert rules and channels (default: <config-dir>/alerts.yaml).", valueName: "FILE"))
    var configFile: String?

    @Option(help: ArgumentHelp("The alerter's own journal (default: <journal>.alerts).", valueName: "DIR"))
    var state: String?

    @Option(name: .customLong("env-file"), help: ArgumentHelp("A .env file to read secrets from when the environment has none.", valueName: "FILE"))
    var envFile = ".env"

    @Flag(help: "Read the journal to its end, deliver what it raises, and exit (cron, scripts).")
    var once = false

    func run() throws {
        try reportingErrors {
            let path = configFile ?? configOptions.directory + "/alerts.yaml"
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw CLIError.badInput("cannot read \(path). Pass --config with an alerts file (see config/alerts.yaml).")
            }
            // The environment wins; an untracked .env fills what it does not set.
            let dotEnv = (try? String(contentsOfFile: envFile, encoding: .utf8)).map(DotEnv.parse) ?? [:]
            let environment = ProcessInfo.processInfo.environment.merging(dotEnv) { env, _ in env }
            let config = try AlertsConfig.parse(yaml: text, source: path, environment: environment)
            let logger = CLILogging.logger("carry.alerts")
            let stop = StopSignal()
            signal(SIGINT, SIG_IGN)
            signal(SIGTERM, SIG_IGN)
            let sources = [SIGINT, SIGTERM].map { sig -> any DispatchSourceSignal in
                let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                s.setEventHandler { stop.request("signal \(sig)") }
                s.resume()
                return s
            }
            defer { sources.forEach { $0.cancel() } }
            let alerter = Alerter(config: config, sessionPath: journal, statePath: state ?? journal + ".alerts", logger: logger)
            let summary: AlerterSummary
            do {
                summary = try alerter.run(stop: { stop.isRequested }, untilCaughtUp: once)
            } catch let e as AlertDeliveryError {
                throw CLIError.badInput(e.description)
            }
            print("alerts: \(summary.raised) raised, \(summary.sent) sent, \(summary.failed) failed, \(summary.suppressed) suppressed"
                  + (summary.resumedAfterSeq > 0 ? " (continued after journal seq \(summary.resumedAfterSeq))" : ""))
        }
    }
}
