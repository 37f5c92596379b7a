// `carry alerts`: follows a session's journal, applies `AlertRules`, and delivers what they
// raise by Telegram and email — de-duplicated (one alert per rule and subject per window) and
// rate-limited (per channel per hour) — journaling every alert's outcome (sent, failed after its
// retries, suppressed) in the alerter's own journal, with the session record that raised it
// as its causation. A restarted alerter refolds the session journal and sends only what
// follows the last record it had handled, so nothing is sent twice and nothing is skipped.
//
// It runs beside the engine, as its own process: a slow or dead alert server delays only its
// own channel's worker thread, never the engine and never the other channel.

import CarryCore
import CarryJournal
public import CarryVenues
import Foundation
public import Logging

/// Where alerts go and how often (config/alerts.yaml; secrets from the environment).
public struct AlertsConfig: Sendable {
    public var rules = AlertRuleSettings()
    public var dedupWindowMs: Int64 = 3_600_000
    public var maxPerHour = 20
    public var attempts = 3
    public var backoffMs: Int64 = 1000
    public var telegram: (baseURL: String, chatId: String, token: String)?
    public var email: SMTPSettings?

    public init() {}

    /// Parses config/alerts.yaml; `environment` supplies TELEGRAM_BOT_TOKEN and SMTP_PASSWORD.
    public static func parse(yaml: String, source: String, environment: [String: String]) throws(ConfigError) -> AlertsConfig {
        let root = try ConfigReader(yaml: yaml, source: source)
        root.expect(["rules", "dedupWindow", "maxPerHour", "retry", "telegram", "email"])
        var c = AlertsConfig()
        let rateHint = "A funding rate per 8 h as a decimal fraction: 0.0005 is 0.05 % per 8 h."
        let r = try root.section("rules")
        r.expect(["fundingAbove", "fundingBelow", "drawdownWarnShare", "quietAfter"])
        if r.has("fundingAbove") { c.rules.fundingAbove = try r.fixed("fundingAbove", default: .zero, min: Fixed("-0.01")!, max: Fixed("0.01")!, hint: rateHint) }
        if r.has("fundingBelow") { c.rules.fundingBelow = try r.fixed("fundingBelow", default: .zero, min: Fixed("-0.01")!, max: Fixed("0.01")!, hint: rateHint) }
        c.rules.drawdownWarnShare = try r.fixed("drawdownWarnShare", default: c.rules.drawdownWarnShare, min: Fixed("0.1")!, max: Fixed(1),
                                                hint: "A share of risk.maxDrawdown: 0.8 warns at 80 % of the stop.")
        c.rules.quietAfterMs = try r.durationMs("quietAfter", default: c.rules.quietAfterMs, min: 1000, max: Millis.day)
        c.dedupWindowMs = try root.durationMs("dedupWindow", default: c.dedupWindowMs, min: 0, max: 7 * Millis.day)
        c.maxPerHour = try root.int("maxPerHour", default: c.maxPerHour, range: 1...3600)
        let retry = try root.section("retry")
        retry.expect(["attempts", "backoff"])
        c.attempts = try retry.int("attempts", default: c.attempts, range: 1...10)
        c.backoffMs = try retry.durationMs("backoff", default: c.backoffMs, min: 0, max: Millis.minute)
        if root.has("telegram") {
            let t = try root.section("telegram")
            t.expect(["chatId", "baseUrl"])
            let chat = try t.string("chatId", default: "")
            if chat.isEmpty { throw t.error("chatId", nil, "the chat to send to is required (the bot's chat id, e.g. 123456789)") }
            guard let token = environment["TELEGRAM_BOT_TOKEN"], !token.isEmpty else {
                throw t.error("chatId", chat, "TELEGRAM_BOT_TOKEN is not set: put the bot's token in the environment or .env (never in config/)")
            }
            let base = try t.string("baseUrl", default: "https://api.telegram.org")
            guard let url = Bybit.normalizedBaseURL(base) else { throw t.error("baseUrl", base, "must start with http:// or https://") }
            c.telegram = (url, chat, token)
        }
        if root.has("email") {
            let e = try root.section("email")
            e.expect(["smtpUrl", "from", "to", "username"])
            let url = try e.string("smtpUrl", default: "")
            guard url.hasPrefix("smtp://") || url.hasPrefix("smtps://") else { throw e.error("smtpUrl", url, "must start with smtp:// or smtps://") }
            let from = try e.string("from", default: "")
            let to = try e.stringList("to", default: [])
            if from.isEmpty || to.isEmpty { throw e.error(from.isEmpty ? "from" : "to", nil, "a sender and at least one recipient are required") }
            let user = try e.string("username", default: "")
            c.email = SMTPSettings(url: url, from: from, to: to, username: user.isEmpty ? nil : user,
                                   password: user.isEmpty ? nil : environment["SMTP_PASSWORD"])
            if !user.isEmpty && (c.email?.password ?? "").isEmpty {
                throw e.error("username", user, "SMTP_PASSWORD is not set: put it in the environment or .env (never in config/)")
            }
        }
        if c.telegram == nil && c.email == nil { throw root.error("telegram", nil, "no channel configured: add a telegram or an email section") }
        try root.finish()
        return c
    }
}

/// One way alerts leave: Telegram or email. `deliver` throws a message safe to journal.
protocol AlertChannel: Sendable {
    var name: String { get }
    func deliver(_ m: AlertMessage) throws
}

struct TelegramChannel: AlertChannel {
    let baseURL: String
    let chatId: String
    let token: String
    var name: String { "telegram" }

    func deliver(_ m: AlertMessage) throws {
        let body = "{\"chat_id\":\(jsonString(chatId)),\"text\":\(jsonString("[\(m.severity)] " + m.text))}"
        let request = HTTPRequest(url: baseURL + "/bot" + token + "/sendMessage", method: "POST", body: Array(body.utf8),
                                  headers: [("Content-Type", "application/json")], timeoutMs: 10_000)
        let response: HTTPResponse
        do {
            response = try CurlHTTPTransport().send(request)
        } catch let e as TransportError {
            // The URL holds the bot's token: say what failed without it.
            throw AlertDeliveryError("telegram: \(e.kind) at \(baseURL)")
        }
        guard response.status == 200, String(decoding: response.body, as: UTF8.self).contains("\"ok\":true") else {
            throw AlertDeliveryError("telegram: HTTP \(response.status) \(String(decoding: response.body.prefix(200), as: UTF8.self).replacingOccurrences(of: token, with: "***"))")
        }
    }
}

struct EmailChannel: AlertChannel {
    let settings: SMTPSettings
    var name: String { "email" }

    func deliver(_ m: AlertMessage) throws {
        let now = Date()
        let date = Self.rfc2822(now)
        let id = "\(Int64(now.timeIntervalSince1970 * 1000)).\(m.seq).\(m.rule)@carry"
        let message = CurlSMTP.message(from: settings.from, to: settings.to, subject: "[carry \(m.severity)] \(m.rule) \(m.subject)".trimmingCharacters(in: .whitespaces),
                                       body: m.text, date: date, messageId: id)
        do {
            try CurlSMTP.send(message, settings: settings)
        } catch let e as TransportError {
            throw AlertDeliveryError("email: \(e.kind) at \(settings.url): \(e.detail)")
        }
    }

    static func rfc2822(_ d: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return f.string(from: d)
    }
}

public struct AlertDeliveryError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

/// A channel's queue and worker thread: retries with backoff, reports each outcome.
final class ChannelWorker: @unchecked Sendable {
    let channel: any AlertChannel
    private let condition = NSCondition()
    private var queue: [AlertMessage] = []
    private var stopping = false
    private var busy = false
    private let attempts: Int
    private let backoffMs: Int64
    private let report: @Sendable (AlertMessage, String, String) -> Void   // message, channel, outcome

    init(channel: any AlertChannel, attempts: Int, backoffMs: Int64, report: @escaping @Sendable (AlertMessage, String, String) -> Void) {
        self.channel = channel
        self.attempts = attempts
        self.backoffMs = backoffMs
        self.report = report
        let t = Thread { [unowned self] in self.loop() }
        t.start()
    }

    func enqueue(_ m: AlertMessage) {
        condition.lock()
        queue.append(m)
        condition.broadcast()
        condition.unlock()
    }

    /// True when nothing is queued or in flight.
    var idle: Bool {
        condition.lock()
        defer { condition.unlock() }
        return queue.isEmpty && !busy
    }

    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty && stopping {
                condition.unlock()
                return
            }
            let m = queue.removeFirst()
            busy = true
            condition.unlock()
            var outcome = ""
            for attempt in 1...attempts {
                do {
                    try channel.deliver(m)
                    outcome = attempt == 1 ? "sent" : "sent after \(attempt) attempts"
                    break
                } catch {
                    outcome = "failed after \(attempt) attempts: \(error)"
                    if attempt < attempts { Thread.sleep(forTimeInterval: Double(backoffMs << (attempt - 1)) / 1000) }
                }
            }
            report(m, channel.name, outcome)
            condition.lock()
            busy = false
            condition.unlock()
        }
    }
}

/// What an alerter run did.
public struct AlerterSummary: Sendable {
    public var raised = 0
    public var sent = 0
    public var failed = 0
    public var suppressed = 0
    public var resumedAfterSeq: UInt64 = 0
}

/// Follows a journal and delivers its alerts.
public final class Alerter {
    let config: AlertsConfig
    let sessionPath: String
    let statePath: String
    let logger: Logger
    private let outcomes = OutcomeBox()

    public init(config: AlertsConfig, sessionPath: String, statePath: String, logger: Logger) {
        self.config = config
        self.sessionPath = sessionPath
        self.statePath = statePath
        self.logger = logger
    }

    /// Runs until `stop`; with `untilCaughtUp`, returns once the journal is read to its end and
    /// every alert has its outcome (scripts, tests).
    public func run(stop: @Sendable () -> Bool, untilCaughtUp: Bool = false, pollMs: Int = 250) throws -> AlerterSummary {
        var summary = AlerterSummary()
        guard Journal.exists(at: sessionPath) else {
            throw AlertDeliveryError("no journal at \(sessionPath): pass --journal with a session's journal directory")
        }
        let session = try Journal.open(sessionPath)
        let state = try Journal.openOrCreate(statePath, create: JournalCreateOptions(purpose: .synthetic))
        let writer = try state.makeWriter()
        defer { try? writer.close() }
        // Resume: the last session record handled, and when each alert was last sent.
        var handled: UInt64 = 0
        var lastSent: [String: Int64] = [:]
        var sentTimes: [String: [Int64]] = [:]
        try state.withSnapshot { snap in
            _ = try snap.scan { view in
                let r = try view.decodeRecorded()
                if r.causation.isExternal { handled = max(handled, r.causation.seq) }
                if case .alertRaised(let a) = r.event, a.code.hasPrefix("alert.sent") {
                    lastSent[String(a.message.prefix(while: { $0 != " " }))] = r.recordTime.ms
                }
                return true
            }
        }
        summary.resumedAfterSeq = handled
        let workers: [ChannelWorker] = {
            var channels: [any AlertChannel] = []
            if let t = config.telegram { channels.append(TelegramChannel(baseURL: t.baseURL, chatId: t.chatId, token: t.token)) }
            if let e = config.email { channels.append(EmailChannel(settings: e)) }
            return channels.map { c in
                ChannelWorker(channel: c, attempts: config.attempts, backoffMs: config.backoffMs) { [outcomes] m, channel, outcome in
                    outcomes.add((m, channel, outcome))
                }
            }
        }()
        defer { workers.forEach { $0.stop() } }

        var rules = AlertRules(settings: config.rules)
        var lastSeq: UInt64 = 0
        var lastNewRecord = Date()
        var quietRaised = false
        func wallMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
        func journal(_ m: AlertMessage, code: String, detail: String) throws {
            let now = Timestamp(ms: wallMs())
            // The dedup key leads the message, so a restart can rebuild the dedup state.
            _ = try writer.append([EventDraft(.alertRaised(AlertRaised(severity: m.severity, code: code, message: "\(m.key) \(detail) — \(m.text)")),
                                              eventTime: now, recordTime: now, causation: m.seq > 0 ? .source(m.seq) : .none)])
        }
        func dispatch(_ m: AlertMessage) throws {
            summary.raised += 1
            let now = wallMs()
            if let last = lastSent[m.key], now - last < config.dedupWindowMs {
                summary.suppressed += 1
                try journal(m, code: "alert.suppressed", detail: "duplicate within \(Millis.formatDuration(config.dedupWindowMs))")
                return
            }
            lastSent[m.key] = now
            for w in workers {
                var times = (sentTimes[w.channel.name] ?? []).filter { now - $0 < Millis.hour }
                if times.count >= config.maxPerHour {
                    summary.suppressed += 1
                    try journal(m, code: "alert.suppressed", detail: "\(w.channel.name) rate limit \(config.maxPerHour)/h")
                    sentTimes[w.channel.name] = times
                    continue
                }
                times.append(now)
                sentTimes[w.channel.name] = times
                w.enqueue(m)
            }
        }
        while true {
            var fresh: [RecordedEvent] = []
            try session.withSnapshot { snap in
                _ = try snap.scan(from: lastSeq + 1) { view in
                    fresh.append(try view.decodeRecorded())
                    return true
                }
            }
            if !fresh.isEmpty {
                lastNewRecord = Date()
                if quietRaised {
                    quietRaised = false
                    try dispatch(AlertMessage(rule: "stream.resumed", subject: "", severity: .info, text: "the journal is growing again", seq: 0))
                }
            }
            for r in fresh {
                lastSeq = r.seq
                let raised = rules.apply(r)
                guard r.seq > handled else { continue }   // handled by an earlier run
                for m in raised { try dispatch(m) }
            }
            let quietMs = Int64(Date().timeIntervalSince(lastNewRecord) * 1000)
            if !rules.ended && !quietRaised && quietMs >= config.rules.quietAfterMs && lastSeq > 0 {
                quietRaised = true
                try dispatch(AlertMessage(rule: "stream.quiet", subject: "", severity: .critical,
                                          text: "no new journal record for \(Millis.formatDuration(quietMs)): the venue stream or the engine may be down", seq: 0))
            }
            let done = outcomes.take()
            for (m, channel, outcome) in done {
                let ok = outcome.hasPrefix("sent")
                if ok { summary.sent += 1 } else { summary.failed += 1 }
                try journal(m, code: ok ? "alert.sent.\(channel)" : "alert.failed.\(channel)", detail: outcome)
                if !ok { logger.warning("alert not delivered", metadata: ["channel": "\(channel)", "rule": "\(m.rule)", "outcome": "\(outcome)"]) }
            }
            if stop() { break }
            if untilCaughtUp && fresh.isEmpty && done.isEmpty && workers.allSatisfy(\.idle) {
                // One more look for outcomes that landed after the drain.
                if outcomes.isEmpty { break }
                continue
            }
            Thread.sleep(forTimeInterval: Double(pollMs) / 1000)
        }
        return summary
    }
}

/// Outcomes reported by the channel workers, taken by the alerter's loop.
final class OutcomeBox: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [(AlertMessage, String, String)] = []

    func add(_ item: (AlertMessage, String, String)) {
        lock.lock()
        items.append(item)
        lock.unlock()
    }

    func take() -> [(AlertMessage, String, String)] {
        lock.lock()
        defer { lock.unlock() }
        let taken = items
        items.removeAll()
        return taken
    }

    var isEmpty: Bool {
        lock.lock()
        defer { lock.unlock() }
        return items.isEmpty
    }
}
