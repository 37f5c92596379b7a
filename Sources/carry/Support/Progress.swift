// Progress and logging for long commands. On a terminal: one line on stderr, redrawn at
// most ten times a second, with a rate and an ETA. Otherwise (CI, pipes, files): quiet
// logfmt lines through swift-log, at most one every few seconds, so logs stay readable.

import CarryCore
import CarryJournal
import Foundation
import Logging

/// Sets up swift-log once for the process: logfmt lines on stderr, or one JSON object per
/// line (`LineLogHandler`) when a command chose `.json` before its first logger (`carry run`).
enum CLILogging {
    enum Format: String, CaseIterable {
        case logfmt, json
    }

    private static let chosen = LockedFormat()

    /// Chooses the format; effective only before the first `logger(_:)` call of the process.
    static func use(_ format: Format) { chosen.set(format) }

    /// The format in use.
    static var format: Format { chosen.get() }

    private static let once: Void = {
        let format = chosen.get()
        LoggingSystem.bootstrap { label in
            let level: Logger.Level
            if let env = ProcessInfo.processInfo.environment["CARRY_LOG_LEVEL"], let l = Logger.Level(rawValue: env) {
                level = l
            } else {
                // On a terminal the progress line says what is happening; keep logs to problems.
                level = stderrIsTerminal ? .warning : .info
            }
            var h = LineLogHandler(label: label, format: format)
            h.logLevel = level
            return h
        }
    }()

    /// A logger for `label` (bootstrapping the logging system on first use).
    static func logger(_ label: String) -> Logger {
        _ = once
        return Logger(label: label)
    }
}

/// A progress reporter: a redrawn line on a terminal, throttled log lines otherwise.
final class ProgressLine {
    private let label: String
    private let logger: Logger
    private let terminal: Bool
    private let started = monotonicSeconds()
    private var lastDraw = 0.0
    private var lastLog = 0.0
    private var drawn = false
    /// Seconds between log lines when not on a terminal.
    var logEverySeconds = 5.0

    /// A reporter for `label` (`import`, `fetch`).
    init(_ label: String, logger: Logger, terminal: Bool = stderrIsTerminal) {
        self.label = label
        self.logger = logger
        self.terminal = terminal
    }

    /// Reports `done` of `total` `unit`s with a short description of the current step.
    func update(_ step: String, done: Int, total: Int, unit: String, force: Bool = false) {
        let rate = Double(done) / max(monotonicSeconds() - started, 1e-6)
        report(step, fraction: total > 0 ? Double(done) / Double(total) : nil, counts: "\(done)/\(total) \(unit)  \(formatRate(rate))/s",
               metadata: ["done": "\(done)", "total": "\(total)", "unit": "\(unit)", "rate": "\(String(format: "%.1f", rate))/s"], force: force)
    }

    /// Reports the `fraction` (0…1) done of work without a count (a backtest's replay).
    func update(_ step: String, fraction: Double, force: Bool = false) {
        report(step, fraction: fraction, counts: nil, metadata: ["fraction": "\(String(format: "%.3f", fraction))"], force: force)
    }

    /// Reports work without an end (a trading session): the step only.
    func note(_ step: String, force: Bool = false) {
        report(step, fraction: nil, counts: nil, metadata: [:], force: force)
    }

    private func report(_ step: String, fraction: Double?, counts: String?, metadata: Logger.Metadata, force: Bool) {
        let now = monotonicSeconds()
        let elapsed = max(now - started, 1e-6)
        let eta: String
        if let fraction, fraction > 0 && fraction < 1 {
            eta = formatDuration(elapsed * (1 - fraction) / fraction)
        } else {
            eta = "-"
        }
        if terminal {
            guard force || now - lastDraw >= 0.1 else { return }
            lastDraw = now
            let pct = fraction.map { String(format: "%3.0f%%", 100 * $0) } ?? "   "
            var line = "\(label) \(pct) \(counts.map { $0 + "  " } ?? "")ETA \(eta)  \(step)"
            if line.count > 118 { line = String(line.prefix(118)) }
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
            drawn = true
        } else {
            guard force || now - lastLog >= logEverySeconds else { return }
            lastLog = now
            logger.info("progress", metadata: metadata.merging(["step": "\(step)", "eta": "\(eta)"]) { _, new in new })
        }
    }

    /// Ends the line (a newline on a terminal).
    func finish() {
        if terminal && drawn {
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
            drawn = false
        }
    }

    /// Seconds since the reporter started.
    var elapsedSeconds: Double { monotonicSeconds() - started }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func formatDuration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    if s >= 3600 { return String(format: "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60) }
    return String(format: "%d:%02d", s / 60, s % 60)
}

func formatRate(_ v: Double) -> String {
    if v >= 1e6 { return String(format: "%.2fM", v / 1e6) }
    if v >= 1e4 { return String(format: "%.0fk", v / 1e3) }
    if v >= 100 { return String(format: "%.0f", v) }
    return String(format: "%.1f", v)
}
