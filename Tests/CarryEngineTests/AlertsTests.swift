// `carry alerts` against fake Telegram and SMTP servers on 127.0.0.1 (written here, speaking
// just enough of each protocol): a scripted journal raises exactly the expected alerts, each
// delivered once per channel; a restart sends nothing twice; a dead Telegram server costs the
// email channel nothing and every failure is journaled; secrets never reach the journal or the
// output.

import CarryCore
import CarryEngine
import CarryJournal
import CarryTesting
import Foundation
import Testing

/// A loopback TCP server on a free port, one thread, one connection at a time.
private final class LoopbackServer: @unchecked Sendable {
    let fd: Int32
    let port: Int
    private let lock = NSLock()
    private var stopped = false

    init(handle: @escaping @Sendable (Int32) -> Void) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, len) } }
        guard bound == 0, listen(listener, 16) == 0 else { throw CLIError("cannot listen on 127.0.0.1") }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) } }
        fd = listener
        port = Int(UInt16(bigEndian: addr.sin_port))
        Thread {
            while true {
                let c = accept(listener, nil, nil)
                if c < 0 { return }
                handle(c)
                close(c)
            }
        }.start()
    }

    func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    deinit { stop() }
}

private struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Reads a line ending in CRLF (without it); nil at end of stream.
private func readLine(_ fd: Int32) -> String? {
    var bytes: [UInt8] = []
    var b: UInt8 = 0
    while read(fd, &b, 1) == 1 {
        if b == 0x0A { return String(decoding: bytes.last == 0x0D ? bytes.dropLast() : bytes[...], as: UTF8.self) }
        bytes.append(b)
    }
    return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
}

private func write(_ fd: Int32, _ s: String) {
    let bytes = Array(s.utf8)
    _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
}

/// Messages received by the fakes.
private final class Inbox: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}

/// Telegram's sendMessage: one POST per message, answered {"ok":true,…}.
private func fakeTelegram(_ inbox: Inbox) throws -> LoopbackServer {
    try LoopbackServer { c in
        guard let requestLine = readLine(c) else { return }
        var length = 0
        while let h = readLine(c), !h.isEmpty {
            if h.lowercased().hasPrefix("content-length:") { length = Int(h.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? 0 }
        }
        var body = [UInt8](repeating: 0, count: length)
        var got = 0
        while got < length {
            let n = body.withUnsafeMutableBytes { read(c, $0.baseAddress! + got, length - got) }
            if n <= 0 { break }
            got += n
        }
        inbox.add(requestLine + "\n" + String(decoding: body, as: UTF8.self))
        let answer = "{\"ok\":true,\"result\":{\"message_id\":1}}"
        write(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(answer.utf8.count)\r\nConnection: close\r\n\r\n\(answer)")
    }
}

/// An SMTP server that accepts every message (RFC 5321's happy path).
private func fakeSMTP(_ inbox: Inbox) throws -> LoopbackServer {
    try LoopbackServer { c in
        write(c, "220 fake ESMTP\r\n")
        var data = false
        var message = ""
        while let line = readLine(c) {
            if data {
                if line == "." {
                    data = false
                    inbox.add(message)
                    message = ""
                    write(c, "250 queued\r\n")
                } else {
                    message += line + "\n"
                }
                continue
            }
            let verb = line.prefix(4).uppercased()
            switch verb {
            case "EHLO", "HELO": write(c, "250 fake\r\n")
            case "MAIL", "RCPT", "RSET", "NOOP": write(c, "250 ok\r\n")
            case "DATA":
                data = true
                write(c, "354 go ahead\r\n")
            case "QUIT":
                write(c, "221 bye\r\n")
                return
            default: write(c, "502 not implemented\r\n")
            }
        }
    }
}

/// A journal shaped like a session's, written by the real event codec: a config, two pairs'
/// instruments, and a scripted sequence of facts and decisions.
private func scriptedJournal(_ path: String) throws {
    let j = try Journal.openOrCreate(path, create: JournalCreateOptions(purpose: .paper))
    let w = try j.makeWriter()
    defer { try? w.close() }
    let t0 = Timestamp(ms: 1_765_000_000_000)
    var n: Int64 = 0
    func at() -> Timestamp { n += 1; return t0.adding(ms: n * 60_000) }
    func rec(_ e: Event) -> EventDraft { let t = at(); return EventDraft(e, eventTime: t, recordTime: t) }
    let btcPerp = InstrumentId(1), ethPerp = InstrumentId(3)
    func def(_ id: UInt32, _ symbol: String, _ kind: InstrumentKind) -> Event {
        .instrumentDefined(InstrumentDefined(id: InstrumentId(id), venue: .bybit, kind: kind, symbol: symbol, baseAsset: String(symbol.dropLast(4)), quoteAsset: "USDT",
                                             tickSize: Fixed("0.01")!, qtyStep: Fixed("0.001")!, minQty: Fixed("0.001")!, minNotional: Fixed(5),
                                             fundingIntervalMinutes: kind == .spot ? 0 : 480, maxLeverage: Fixed(10)))
    }
    func funding(_ id: InstrumentId, _ rate: String) -> Event {
        .fundingSettled(FundingSettled(instrumentId: id, ratePerInterval: Fixed(rate)!, intervalMinutes: 480, markPrice: nil))
    }
    _ = try w.append([
        rec(.runStarted(RunStarted(mode: .paper, sourceJournal: JournalId(high: 0, low: 0), sourceFirstSeq: 0, sourceLastSeq: 0, from: t0, to: .distantFuture, seed: 0, carryVersion: "test"))),
        rec(.configApplied(ConfigApplied(source: "test", text: "initialCapitalUsdt: 100000\nrisk.maxDrawdown: 0.05\nbarInterval: 1h\n"))),
        rec(def(0, "BTCUSDT", .spot)), rec(def(1, "BTCUSDT", .linearPerpetual)), rec(def(2, "ETHUSDT", .spot)), rec(def(3, "ETHUSDT", .linearPerpetual)),
        rec(funding(btcPerp, "0.0001")),        // below the threshold: nothing
        rec(funding(btcPerp, "0.0006")),        // crosses above 0.0005: funding.above BTCUSDT
        rec(funding(btcPerp, "0.0007")),        // still above: no new crossing
        rec(funding(ethPerp, "-0.0002")),       // crosses below −0.0001: funding.below ETHUSDT
        rec(.pairTransition(PairTransition(pairId: 9, spot: InstrumentId(0), perp: btcPerp, from: .opening, to: .unwinding, cause: .legFailed, observed: .zero))),
        rec(.riskBreached(RiskBreached(rule: .deltaDrift, action: .warned, instrumentId: ethPerp, limit: Fixed("0.02")!, observed: Fixed("0.05")!))),
        rec(.riskBreached(RiskBreached(rule: .deltaDrift, action: .warned, instrumentId: ethPerp, limit: Fixed("0.02")!, observed: Fixed("0.06")!))),   // duplicate within the window
        rec(.killSwitchChanged(KillSwitchChanged(engaged: true, source: .operatorCommand, reason: "scripted"))),
        rec(.alertRaised(AlertRaised(severity: .warning, code: "funding.missing", message: "BTCUSDT settlement 2025-12-06T08:00Z: expected 1.25, the venue paid nothing"))),
        rec(.runEnded(RunEnded(outcome: .completed, inputEvents: 0, message: "scripted"))),
    ])
}

private func alertsConfig(_ scratch: ScratchDirectory, telegramPort: Int, smtpPort: Int) throws -> String {
    let path = scratch.sub("alerts.yaml")
    try """
    rules: {fundingAbove: 0.0005, fundingBelow: -0.0001, quietAfter: 1h}
    dedupWindow: 1h
    retry: {attempts: 2, backoff: 50ms}
    telegram: {chatId: "4242", baseUrl: "http://127.0.0.1:\(telegramPort)"}
    email: {smtpUrl: "smtp://127.0.0.1:\(smtpPort)", from: carry@localhost, to: [ops@localhost], username: carry}
    """.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Suite("carry alerts", .serialized)
struct AlertsTests {
    let carry = Fixtures.executable("carry")
    let secrets = ["TELEGRAM_BOT_TOKEN": "123456:SECRET-bot-token-xyz", "SMTP_PASSWORD": "SECRET-smtp-pass-xyz"]

    @Test("a scripted journal: exactly the expected alerts, once each, on both channels; a restart sends nothing again; secrets nowhere")
    func scripted() throws {
        let scratch = ScratchDirectory("alerts")
        let telegramInbox = Inbox(), mailInbox = Inbox()
        let telegram = try fakeTelegram(telegramInbox)
        let smtp = try fakeSMTP(mailInbox)
        defer { telegram.stop(); smtp.stop() }
        let journal = scratch.sub("session")
        try scriptedJournal(journal)
        let config = try alertsConfig(scratch, telegramPort: telegram.port, smtpPort: smtp.port)
        let r = try runProcess(carry, ["alerts", "--journal", journal, "--config", config, "--once", "--env-file", scratch.sub("none.env")],
                               environment: secrets, timeoutSeconds: 60)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("7 raised, 12 sent, 0 failed, 1 suppressed"), "\(r.stdout)")
        let expected = ["funding.above BTCUSDT", "funding.below ETHUSDT", "leg.unwind BTCUSDT", "delta.drift ETHUSDT", "kill.engaged", "funding.ledger funding.missing"]
        let texts = telegramInbox.all
        #expect(texts.count == 6, "\(texts)")
        #expect(texts.allSatisfy { $0.hasPrefix("POST /bot123456:SECRET-bot-token-xyz/sendMessage HTTP/1.1") && $0.contains("\"chat_id\":\"4242\"") })
        #expect(texts.contains { $0.contains("BTCUSDT funding 0.000600000000 per 8 h crossed above 0.0005") })
        #expect(texts.contains { $0.contains("ETHUSDT funding -0.000200000000 per 8 h crossed below -0.0001") })
        #expect(texts.contains { $0.contains("kill switch engaged (operator: scripted)") })
        #expect(texts.contains { $0.contains("funding.missing: BTCUSDT settlement") })
        let mails = mailInbox.all
        #expect(mails.count == 6, "\(mails)")
        for subject in expected {
            let rule = subject.split(separator: " ")[0]
            #expect(mails.filter { $0.contains("Subject: [carry ") && $0.contains("] \(rule)") }.count == 1, "\(rule) in \(mails.map { $0.prefix(300) })")
        }
        #expect(mails.allSatisfy { $0.contains("From: carry@localhost") && $0.contains("To: ops@localhost") })

        // The alerter's journal: every outcome, caused by the session record that raised it.
        let state = try Journal.open(journal + ".alerts")
        var codes: [String: Int] = [:]
        var bytes = Data()
        try state.withSnapshot { snap in
            _ = try snap.scan { view in
                if case .alertRaised(let a) = try view.decode() { codes[a.code, default: 0] += 1 }
                bytes.append(contentsOf: UnsafeRawBufferPointer(view.bytes))
                return true
            }
        }
        #expect(codes == ["alert.sent.telegram": 6, "alert.sent.email": 6, "alert.suppressed": 1], "\(codes)")

        // A restart: everything was handled; nothing is sent again.
        let again = try runProcess(carry, ["alerts", "--journal", journal, "--config", config, "--once", "--env-file", scratch.sub("none.env")],
                                   environment: secrets, timeoutSeconds: 60)
        #expect(again.status == 0 && again.stdout.contains("0 raised, 0 sent"), "\(again.stdout)\(again.stderr)")
        #expect(telegramInbox.all.count == 6 && mailInbox.all.count == 6)

        // The secrets: in the requests the servers needed, nowhere else.
        for secret in secrets.values {
            #expect(!String(decoding: bytes, as: UTF8.self).contains(secret))
            #expect(!(r.stdout + r.stderr + again.stdout + again.stderr).contains(secret))
        }
        #expect(!mails.joined().contains(secrets["SMTP_PASSWORD"]!))
    }

    @Test("a dead Telegram server: its failures journaled after the retries, the email channel delivers everything regardless; no token in the failure text")
    func deadChannel() throws {
        let scratch = ScratchDirectory("alerts-dead")
        let mailInbox = Inbox()
        let smtp = try fakeSMTP(mailInbox)
        defer { smtp.stop() }
        let dead = try LoopbackServer { _ in }   // take a free port…
        let deadPort = dead.port
        dead.stop()                              // …and close it: connections are refused
        let journal = scratch.sub("session")
        try scriptedJournal(journal)
        let config = try alertsConfig(scratch, telegramPort: deadPort, smtpPort: smtp.port)
        let r = try runProcess(carry, ["alerts", "--journal", journal, "--config", config, "--once", "--env-file", scratch.sub("none.env")],
                               environment: secrets, timeoutSeconds: 60)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("6 sent, 6 failed"), "\(r.stdout)")
        #expect(mailInbox.all.count == 6)
        let state = try Journal.open(journal + ".alerts")
        var failures: [String] = []
        try state.withSnapshot { snap in
            _ = try snap.scan { view in
                if case .alertRaised(let a) = try view.decode(), a.code == "alert.failed.telegram" { failures.append(a.message) }
                return true
            }
        }
        #expect(failures.count == 6)
        #expect(failures.allSatisfy { $0.contains("failed after 2 attempts: telegram: connectionRefused") && !$0.contains("SECRET") }, "\(failures)")
    }

    @Test("bad input: a missing secret, no channel, an unknown key, no journal: exit 2 with what to do, nothing sent")
    func badInput() throws {
        let scratch = ScratchDirectory("alerts-bad")
        let journal = scratch.sub("session")
        try scriptedJournal(journal)
        func run(_ yaml: String, env: [String: String], journal path: String? = nil) throws -> ProcessResult {
            let file = scratch.sub("bad.yaml")
            try yaml.write(toFile: file, atomically: true, encoding: .utf8)
            return try runProcess(carry, ["alerts", "--journal", path ?? journal, "--config", file, "--once", "--env-file", scratch.sub("none.env")],
                                  environment: env, timeoutSeconds: 30)
        }
        let noToken = try run("telegram: {chatId: \"1\", baseUrl: \"http://127.0.0.1:9\"}", env: ["TELEGRAM_BOT_TOKEN": ""])
        #expect(noToken.status == 2 && noToken.stderr.contains("TELEGRAM_BOT_TOKEN is not set"), "\(noToken.stderr)")
        let noChannel = try run("rules: {fundingAbove: 0.001}", env: [:])
        #expect(noChannel.status == 2 && noChannel.stderr.contains("no channel configured"), "\(noChannel.stderr)")
        let unknown = try run("rules: {fundingAbov: 0.001}\ntelegram: {chatId: \"1\"}", env: secrets)
        #expect(unknown.status == 2 && unknown.stderr.contains("Did you mean `fundingAbove`?"), "\(unknown.stderr)")
        let missing = try run("telegram: {chatId: \"1\", baseUrl: \"http://127.0.0.1:9\"}", env: secrets, journal: scratch.sub("nothing"))
        #expect(missing.status == 2 && missing.stderr.contains("no journal at"), "\(missing.stderr)")
    }
}
