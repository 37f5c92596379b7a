// What the control port shows of a running session: `/metrics` in Prometheus's text format
// (swift-prometheus's registry, private to the session: no process-wide metrics system) and
// `/health` as one JSON object. Both are read from the `SessionStatus` the session publishes
// after each step (`SessionControl.onPublish`), so they never touch the engine or the journal.
//
// Nothing secret can reach them: the status holds figures, instrument names and the journal
// path, never a credential (the secrets test reads both endpoints with keys set).

public import CarryCore
import Foundation
import CarryVenues
import Prometheus

/// Prometheus metrics of one session, fed by its published status.
public final class SessionMetrics: @unchecked Sendable {
    /// The registry `/metrics` renders.
    let registry = PrometheusCollectorRegistry()
    private let lock = NSLock()
    private var last = (steps: 0, requests: 0, errors: 0, records: 0)

    private let info: Gauge
    private let venueTime: Gauge
    private let lastStepAge: Gauge
    private let stepTime: Gauge
    private let steps: Counter
    private let killSwitch: Gauge
    private let halted: Gauge
    private let openPairs: Gauge
    private let equity: Gauge
    private let requests: Counter
    private let venueErrors: Counter
    private let records: Counter
    private let commitSeconds: ValueHistogram
    private let engageCommands: Counter
    private let releaseCommands: Counter

    /// `carry_<name>`, with its help text.
    static func d(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "carry", metricName: name, unitName: "", helpText: help)
    }

    /// Metrics for a session in `mode`, updated from every status `control` publishes.
    public init(control: SessionControl) {
        let mode = control.status.mode.description
        info = registry.makeGauge(descriptor: Self.d("session_info", "1 while the session runs; its mode as a label."), labels: [("mode", mode)])
        info.set(1.0)
        venueTime = registry.makeGauge(descriptor: Self.d("venue_time_seconds", "The venue time the session has processed through (Unix seconds)."))
        lastStepAge = registry.makeGauge(descriptor: Self.d("last_step_age_seconds", "Wall time since the session last completed a step."))
        stepTime = registry.makeGauge(descriptor: Self.d("last_step_time_seconds", "Wall time of the last completed step (Unix seconds)."))
        steps = registry.makeCounter(descriptor: Self.d("steps_total", "Session steps completed (poll, process, commit)."))
        killSwitch = registry.makeGauge(descriptor: Self.d("kill_switch_engaged", "1 while the kill switch is engaged."))
        halted = registry.makeGauge(descriptor: Self.d("halted", "1 while new entries are halted (a venue fact the engine could not place, a reconciliation hold)."))
        openPairs = registry.makeGauge(descriptor: Self.d("open_pairs", "Pairs not flat (opening, open, closing)."))
        equity = registry.makeGauge(descriptor: Self.d("equity_usdt", "Cash plus every position at its mark."))
        requests = registry.makeCounter(descriptor: Self.d("venue_requests_total", "Venue REST requests sent (every attempt)."))
        venueErrors = registry.makeCounter(descriptor: Self.d("venue_errors_total", "Venue REST attempts that failed and were retried."))
        records = registry.makeCounter(descriptor: Self.d("journal_records_total", "Records journaled by this run of the session."))
        commitSeconds = registry.makeValueHistogram(descriptor: Self.d("journal_commit_seconds", "Journal commit latency per step (append to durable commit)."), buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1])
        engageCommands = registry.makeCounter(descriptor: Self.d("operator_commands_total", "Operator commands received on the control port."), labels: [("command", "kill")])
        releaseCommands = registry.makeCounter(descriptor: Self.d("operator_commands_total", "Operator commands received on the control port."), labels: [("command", "release")])
        for component in ["price", "funding", "fees", "slippage"] { _ = pnl(component) }
        control.onPublish { [weak self] status in self?.update(status) }
        update(control.status)
    }

    private func pnl(_ component: String) -> Gauge {
        registry.makeGauge(descriptor: Self.d("pnl_usdt", "P&L split: price at the marks, funding received, fees and slippage paid (equity = initial + price + funding − fees − slippage)."), labels: [("component", component)])
    }

    /// Folds a published status in.
    public func update(_ s: SessionStatus) {
        lock.lock()
        defer { lock.unlock() }
        venueTime.set(s.venueTime == .distantPast ? 0.0 : Double(s.venueTime.ms) / 1000)
        stepTime.set(s.wallTime == .distantPast ? 0.0 : Double(s.wallTime.ms) / 1000)
        killSwitch.set(s.killSwitchEngaged ? 1.0 : 0.0)
        halted.set(s.halted ? 1.0 : 0.0)
        openPairs.set(Double(s.openPairs))
        equity.set(s.equity.doubleValue)
        pnl("price").set(s.pricePnL.doubleValue)
        pnl("funding").set(s.funding.doubleValue)
        pnl("fees").set(s.fees.doubleValue)
        pnl("slippage").set(s.slippage.doubleValue)
        // Sorted: the same status always renders the same text.
        for key in s.positions.keys.sorted() {
            let parts = key.split(separator: " ", maxSplits: 1).map(String.init)
            registry.makeGauge(descriptor: Self.d("position_base", "Signed position per leg, in the base asset."),
                               labels: [("symbol", parts[0]), ("leg", parts.count > 1 ? parts[1] : "")]).set(s.positions[key]!.doubleValue)
        }
        var symbols: [String] = []
        for key in s.positions.keys.sorted() { let sym = String(key.split(separator: " ")[0]); if symbols.last != sym { symbols.append(sym) } }
        for sym in symbols {
            let delta = (s.positions["\(sym) spot"] ?? .zero) + (s.positions["\(sym) perp"] ?? .zero)
            registry.makeGauge(descriptor: Self.d("pair_delta_base", "Net base exposure of a pair's two legs (spot + perp): 0 when hedged."), labels: [("symbol", sym)]).set(delta.doubleValue)
        }
        for sym in s.fundingRates.keys.sorted() {
            registry.makeGauge(descriptor: Self.d("funding_rate", "The last settled funding rate per interval seen this run."), labels: [("symbol", sym)]).set(s.fundingRates[sym]!.doubleValue)
        }
        if s.steps > last.steps { steps.increment(by: Int64(s.steps - last.steps)) }
        if s.requests > last.requests { requests.increment(by: Int64(s.requests - last.requests)) }
        if s.venueErrors > last.errors { venueErrors.increment(by: Int64(s.venueErrors - last.errors)) }
        if s.recordsWritten > last.records { records.increment(by: Int64(s.recordsWritten - last.records)) }
        if s.wallTime != .distantPast { commitSeconds.record(s.commitMs / 1000) }
        last = (max(last.steps, s.steps), max(last.requests, s.requests), max(last.errors, s.venueErrors), max(last.records, s.recordsWritten))
    }

    /// Counts a kill-switch command received on the control port.
    public func commandReceived(engage: Bool) {
        (engage ? engageCommands : releaseCommands).increment()
    }

    /// The exposition text, with the last step's age as of `now`.
    public func render(status: SessionStatus, now: Timestamp) -> String {
        lock.lock()
        lastStepAge.set(status.wallTime == .distantPast ? -1.0 : Double(now.ms - status.wallTime.ms) / 1000)
        lock.unlock()
        return registry.emitToString()
    }
}

/// What `/health` says of a session.
public struct SessionHealth: Sendable, Equatable {
    /// `ok` (a step completed within `staleAfterMs`), `stale`, or `starting` (no step yet).
    public var state: String
    public var httpStatus: Int
    public var json: String

    /// Judges `status` at wall time `now`.
    public init(status s: SessionStatus, now: Timestamp, staleAfterMs: Int64) {
        let started = s.wallTime != .distantPast
        let age = started ? now.ms - s.wallTime.ms : -1
        state = !started ? "starting" : (age <= staleAfterMs ? "ok" : "stale")
        httpStatus = state == "ok" ? 200 : 503
        var fields: [(String, String)] = [
            ("status", jsonString(state)),
            ("mode", jsonString(s.mode.description)),
            ("venueTime", started ? jsonString(s.venueTime.iso8601) : "null"),
            ("lastStepAgeMs", started ? "\(age)" : "null"),
            ("staleAfterMs", "\(staleAfterMs)"),
            ("steps", "\(s.steps)"),
            ("killSwitch", s.killSwitchEngaged ? "true" : "false"),
            ("halted", s.halted ? "true" : "false"),
            ("openPairs", "\(s.openPairs)"),
        ]
        fields.append(("journal", jsonString(s.journalPath)))
        json = "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}\n"
    }
}
