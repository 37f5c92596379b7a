import CarryCore
import CarryExchangeSim
import CarryTesting
import CarryVenues
import Foundation
import Logging
import Synchronization
import Testing

/// The stream client against the loopback venue's WebSockets, on 127.0.0.1, over the bundled
/// Binance BTC/ETH slice (`SourceJournal`): values checked against the market journal read
/// independently (`marketContent`), faults counted against the venue's own counters.
@Suite("Streams end to end: client ↔ loopback venue", .serialized)
struct StreamEndToEndTests {
    static let hour: Int64 = 3_600_000
    /// 2026-03-19T00:00:00Z, inside the journal's span.
    static let t0 = Timestamp(ms: 1_773_878_400_000)

    func options(clock: ManualVenueClock, faults: SimStreamFaults = SimStreamFaults()) -> ExchangeSimOptions {
        var o = ExchangeSimOptions(journalPath: SourceJournal.shared.path)
        o.stream.clock = { clock.now }
        o.stream.pollMs = 5
        o.stream.faults = faults
        return o
    }

    /// The journal's 1 h bars of a stream, by open time: [open, high, low, close, volumeBase, volumeQuote].
    func bars(_ key: String) throws -> [Int64: [String]] {
        let content = try marketContent(SourceJournal.shared.path, venue: .binance, from: Timestamp(ms: 0), to: SourceJournal.shared.now)
        var out: [Int64: [String]] = [:]
        for line in content[key] ?? [] {
            let f = line.split(separator: " ").map(String.init)
            out[Int64(f[0])!] = Array(f[1...])
        }
        #expect(!out.isEmpty, "no bars for \(key)")
        return out
    }

    @Test("public topics: tickers (funding, mark, index, book), orderbook.1, publicTrade and kline match the journal; deltas merge as the clock moves")
    func publicTopics() async throws {
        let clock = ManualVenueClock(Self.t0)
        let sim = try await InProcessSim.start(options(clock: clock))
        let perp = try bars("linear BTCUSDT bars 3600")
        let spot = try bars("spot BTCUSDT bars 3600")
        let content = try marketContent(SourceJournal.shared.path, venue: .binance, from: Timestamp(ms: 0), to: Self.t0)
        let settled = try #require(content["linear BTCUSDT funding"]?.last).split(separator: " ").map(String.init)
        var config = BybitStreamConfiguration(url: sim.url(.linear), topics: [.ticker("BTCUSDT"), .orderbookTop("BTCUSDT"), .trade("BTCUSDT"), .kline(interval: "60", symbol: "BTCUSDT")])
        config.pingIntervalMs = 1_000   // long enough that a loaded machine never looks silent
        let rec = StreamRecorder(config)
        let first = try await rec.wait("snapshots") { m in m.contains { $0.ticker != nil } && m.contains { $0.book != nil } && m.contains { $0.kline != nil } }

        let lastOpen = Self.t0.ms - Self.hour
        let close = try #require(perp[lastOpen])[3]
        let ticker = try #require(first.compactMap(\.ticker).last)
        #expect(ticker.symbol == "BTCUSDT" && ticker.time == Self.t0)
        #expect(ticker.lastPrice?.description == close && ticker.markPrice?.description == close)
        #expect(ticker.indexPrice?.description == spot[lastOpen]?[3])
        #expect(ticker.fundingRate?.description == settled[1])
        // The next settlement after t0 on the last settlement's 8 h cadence (Binance's times carry ms jitter).
        let lastSettlement = Int64(settled[0])!
        let step = Int64(settled[2])! * 60_000
        #expect(ticker.nextFundingTime?.ms == lastSettlement + ((Self.t0.ms - lastSettlement) / step + 1) * step)
        #expect(ticker.nextFundingTime.map { $0 > Self.t0 && $0.ms - Self.t0.ms <= step } == true)
        #expect(ticker.fundingIntervalHours?.description == "8")
        // Book: one tick-rounded level either side of the close, 1 bp away (tick 0.10, qty step 0.001).
        let c = try Fixed.parse(close)
        let h = Fixed(mantissa: 1, scale: 4)
        let bid = c.multiplied(by: Fixed(1) - h, scale: 12, .down).rounded(toMultipleOf: try Fixed.parse("0.1"), .down)
        let ask = c.multiplied(by: Fixed(1) + h, scale: 12, .up).rounded(toMultipleOf: try Fixed.parse("0.1"), .up)
        let size = try Fixed.parse(perp[lastOpen]![4]).rounded(toMultipleOf: try Fixed.parse("0.001"), .down)
        #expect(ticker.bid1Price == bid && ticker.ask1Price == ask && ticker.bid1Size == size && ticker.ask1Size == size)
        #expect(bid < c && c < ask)
        let book = try #require(first.compactMap(\.book).last)
        #expect(book.bidPrice == bid && book.askPrice == ask && book.bidSize == size && book.time == Self.t0)
        let k = try #require(first.compactMap(\.kline).last)
        #expect(k.bar.start.ms == lastOpen && k.end.ms == Self.t0.ms - 1 && k.confirm && k.interval == "60")
        #expect([k.bar.open, k.bar.high, k.bar.low, k.bar.close, k.bar.volume, k.bar.turnover].map(\.description) == perp[lastOpen])
        #expect(!first.contains { $0.trade != nil }, "no trade before one happens")

        // One hour later: a delta (merged), a trade, a kline, a new book.
        clock.set(Self.t0.adding(ms: Self.hour))
        let next = try #require(perp[Self.t0.ms])
        let after = try await rec.wait("the next hour") { m in m.contains { $0.trade != nil } && m.compactMap(\.ticker).count >= 2 && m.compactMap(\.kline).count >= 2 }
        let merged = try #require(after.compactMap(\.ticker).last)
        #expect(merged.markPrice?.description == next[3] && merged.lastPrice?.description == next[3] && merged.time.ms == Self.t0.ms + Self.hour)
        #expect(merged.fundingRate == ticker.fundingRate, "unchanged fields survive the delta")
        #expect(merged.indexPrice?.description == spot[Self.t0.ms]?[3])
        let trade = try #require(after.compactMap(\.trade).first)
        #expect(trade.price.description == next[3] && trade.size.description == next[4] && trade.time.ms == Self.t0.ms + Self.hour - 1)
        #expect(trade.side == (try Fixed.parse(next[3]) >= Fixed.parse(next[0]) ? .buy : .sell))
        let k2 = try #require(after.compactMap(\.kline).last)
        #expect(k2.bar.start == Self.t0 && [k2.bar.open, k2.bar.high, k2.bar.low, k2.bar.close, k2.bar.volume, k2.bar.turnover].map(\.description) == next)
        #expect(rec.client.stats.errors == 0)
        // The venue's ticker was a delta: only the changed fields went over the wire (checked raw in the third-party test);
        // what it wrote is what the client read.
        try await rec.wait("pongs") { _ in rec.client.stats.pongs >= 1 }
        let ws = try await sim.wsStats()
        #expect(ws["written"] == rec.client.stats.dataFrames)
        #expect(ws["lost"] == 0 && ws["published"] == ws["written"])
        await rec.stop()
        await sim.stop()
    }

    @Test("killed mid-stream: the client reconnects, resubscribes, signals resync; nothing applied twice, nothing lost unannounced")
    func dropsAndResync() async throws {
        let clock = ManualVenueClock(Self.t0.adding(ms: -48 * Self.hour))
        let sim = try await InProcessSim.start(options(clock: clock, faults: SimStreamFaults(dropEvery: 9, loseBeforeDrop: 2)))
        var config = BybitStreamConfiguration(url: sim.url(.linear), topics: [.ticker("BTCUSDT"), .ticker("ETHUSDT"), .orderbookTop("BTCUSDT"),
                                                                               .trade("ETHUSDT"), .kline(interval: "60", symbol: "BTCUSDT")])
        config.reconnectBaseMs = 10
        config.reconnectMaxMs = 100
        config.pingIntervalMs = 500
        let rec = StreamRecorder(config)
        try await rec.wait("first subscription") { $0.contains { $0.isSubscribed } }
        // 40 replayed hours, one every 40 ms of wall time.
        for hour in 1...40 {
            clock.set(Self.t0.adding(ms: Int64(hour - 48) * Self.hour))
            try await Task.sleep(for: .milliseconds(40))
        }
        // Quiescence: the client has seen every drop the venue made (one made at the last
        // message published loses that message, so "read all that was written" holds while
        // the close is still on its way), resubscribed after the last, and read all that was
        // written. A disconnect of the client's own (no frame for two pings: a starved
        // scheduler under a loaded machine) is counted apart, never hidden.
        let final = try await rec.wait("the client to catch up with the venue") { m in
            guard let ws = try? await sim.wsStats(), let written = ws["written"], let drops = ws["drops"] else { return false }
            let subscribedAfterLastDrop = m.lastIndex { $0.isSubscribed }.map { s in !m[s...].contains(where: \.isDisconnect) } ?? false
            let seen = m.filter(\.isDisconnect).count - m.filter(\.isSilenceDisconnect).count
            return subscribedAfterLastDrop && seen == drops && rec.client.stats.dataFrames == written
        }
        let ws = try await sim.wsStats()
        let stats = rec.client.stats
        let drops = try #require(ws["drops"])
        #expect(drops >= 4, "the fault fired (\(drops) drops)")
        #expect(ws["published"] == ws["written"]! + ws["lost"]!, "the venue accounts for every message")
        #expect(stats.dataFrames == ws["written"], "the client read every message written")
        #expect(ws["lost"]! >= 2 * drops, "each drop lost the messages before it")
        // One resync per reconnect, one reconnect per drop (or per silence the client announced).
        let resyncs = final.filter(\.isResync).count
        let silent = final.filter(\.isSilenceDisconnect).count
        #expect(resyncs == drops + silent && stats.connections == drops + silent + 1 && stats.resyncsRequired == drops + silent)
        // Nothing applied twice: each ticker's cross sequence strictly increases; a gap is
        // always preceded by a resync signal since the previous message of that symbol.
        for symbol in ["BTCUSDT", "ETHUSDT"] {
            var last: Int64 = 0
            var resyncSince = false
            var gaps = 0
            for m in final {
                if m.isResync { resyncSince = true }
                guard let t = m.ticker, t.symbol == symbol, let cs = t.crossSequence else { continue }
                #expect(cs > last, "\(symbol) cs \(cs) after \(last): applied twice")
                if cs != last + 1 {
                    gaps += 1
                    #expect(resyncSince || last == 0, "\(symbol) jumped \(last) → \(cs) with no resync signal: silently lost")
                }
                last = cs
                resyncSince = false
            }
            #expect(last > 10)
            #expect(gaps <= drops + 1)
        }
        let trades = final.compactMap(\.trade).map(\.tradeId)
        #expect(Set(trades).count == trades.count, "a trade delivered twice")
        #expect(final.compactMap(\.streamError).isEmpty)
        await rec.stop()
        await sim.stop()
    }

    @Test("POST /sim/fault/ws-drop kills the connections on command; the client comes back and asks for a resync")
    func dropOnCommand() async throws {
        let clock = ManualVenueClock(Self.t0)
        let sim = try await InProcessSim.start(options(clock: clock))
        var config = BybitStreamConfiguration(url: sim.url(.spot), topics: [.ticker("BTCUSDT")])
        config.reconnectBaseMs = 10
        let rec = StreamRecorder(config)
        try await rec.wait("subscribed") { $0.contains { $0.isSubscribed } && $0.contains { $0.ticker != nil } }
        let r = try await runProcessOffPool("/usr/bin/curl", ["-s", "-X", "POST", sim.baseURL + "/sim/fault/ws-drop"])
        #expect(r.stdout == "{\"dropped\":1}")
        let after = try await rec.wait("the resync") { $0.contains(where: \.isResync) && $0.compactMap(\.ticker).count >= 2 }
        #expect(after.compactMap(\.ticker).last?.lastPrice != nil)
        #expect(try await sim.wsStats()["commandedDrops"] == 1)
        let bad = try await runProcessOffPool("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", sim.baseURL + "/sim/fault/ws-drop?path=/v5/nope"])
        #expect(bad.stdout == "400")
        await rec.stop()
        await sim.stop()
    }

    @Test("auth: the good key authenticates and subscribes; a bad signature is refused in Bybit's shape; nothing logs the key or signature")
    func auth() async throws {
        let clock = ManualVenueClock(Self.t0)
        let sim = try await InProcessSim.start(options(clock: clock))
        let capture = LogCapture()
        let good = BybitCredentials(apiKey: SimCredentials.defaultAPIKey, secret: SimCredentials.defaultSecret)!
        var config = BybitStreamConfiguration(url: sim.url(.privateStream), topics: [.order, .execution, .position, .wallet], credentials: good)
        config.pingIntervalMs = 400
        let expires = Box(Int64(0))
        config.nowMs = { let t = SystemVenueClock().nowMs; expires.set(t + 10_000); return t }
        let rec = StreamRecorder(config, logger: capture.logger)
        let ok = try await rec.wait("auth and subscription") { m in m.contains { if case .authenticated = $0 { true } else { false } } && m.contains(where: \.isSubscribed) }
        #expect(ok.compactMap(\.streamError).isEmpty)
        try await rec.wait("a private pong") { _ in rec.client.stats.pongs >= 1 }
        await rec.stop()
        let goodSignature = BybitStreamRequest.authSignature(secret: SimCredentials.defaultSecret, expiresMs: expires.value)

        var badConfig = config
        badConfig.credentials = BybitCredentials(apiKey: SimCredentials.defaultAPIKey, secret: "not-the-secret")!
        let bad = StreamRecorder(badConfig, logger: capture.logger)
        let refused = try await bad.wait("the refusal") { $0.contains { $0.streamError?.code == .authRejected } }
        #expect(refused.first { $0.streamError != nil }?.streamError?.message == "the venue refused auth: Signature verification failed")
        await bad.stop()   // an auth refusal ends the run by itself; this only waits for it
        #expect(bad.client.stats.connections == 1, "a refused key is not retried")
        let badSignature = BybitStreamRequest.authSignature(secret: "not-the-secret", expiresMs: expires.value)

        let ws = try await sim.wsStats()
        #expect(ws["authAccepted"] == 1 && ws["authRefused"] == 1)
        let logged = capture.text
        #expect(logged.contains("stream connected"), "the capture saw the client's log lines")
        for secret in [SimCredentials.defaultAPIKey, SimCredentials.defaultSecret, "not-the-secret", goodSignature, badSignature, String(goodSignature.prefix(16))] {
            #expect(!logged.contains(secret), "a log line shows \(secret.prefix(6))…")
        }
        for m in ok + refused { #expect(!"\(m)".contains(SimCredentials.defaultSecret) && !"\(m)".contains(goodSignature)) }
        await sim.stop()
    }
}

/// A value shared with a @Sendable closure.
final class Box<T: Sendable>: Sendable {
    private let v: Mutex<T>
    init(_ v: T) { self.v = Mutex(v) }
    var value: T { v.withLock { $0 } }
    func set(_ n: T) { v.withLock { $0 = n } }
    func update(_ change: (inout T) -> Void) { v.withLock { change(&$0) } }
}

/// `carry exchange-sim` as a process: the WebSocket flags reach the venue.
@Suite("Streams through the CLI")
struct StreamCLITests {
    @Test("--ws-drop-every and --api-key/--api-secret: drops counted in /sim/stats, one resync per reconnect, only the configured key authenticates")
    func flags() async throws {
        let sim = try await offPool { try RunningSim(journal: SourceJournal.shared.path, ["--ws-drop-every", "2", "--api-key", "cli-key", "--api-secret", "cli-secret"]) }
        var config = BybitStreamConfiguration(url: "ws://127.0.0.1:\(sim.port)/v5/public/linear",
                                              topics: [.ticker("BTCUSDT"), .orderbookTop("BTCUSDT"), .kline(interval: "60", symbol: "BTCUSDT")])
        config.reconnectBaseMs = 10
        config.reconnectMaxMs = 50
        config.maxConnections = 4
        let rec = StreamRecorder(config)
        try await rec.finished()
        let messages = rec.messages
        let r = try await runProcessOffPool("/usr/bin/curl", ["-s", "http://127.0.0.1:\(sim.port)/sim/stats"])
        let ws = (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["ws"] as? [String: Int] ?? [:]
        // The clock stands: every connection gets 3 snapshots, and every 2nd message venue-wide kills its connection.
        #expect(ws["drops"].map { $0 >= 3 } == true, "\(ws)")
        #expect(rec.client.stats.connections == 4 && messages.filter(\.isResync).count == 3)

        var priv = BybitStreamConfiguration(url: "ws://127.0.0.1:\(sim.port)/v5/private", topics: [.wallet],
                                            credentials: BybitCredentials(apiKey: "cli-key", secret: "cli-secret")!)
        priv.maxConnections = 1
        let good = StreamRecorder(priv)
        try await good.wait("auth") { $0.contains { if case .authenticated = $0 { true } else { false } } }
        await good.stop()
        priv.credentials = BybitCredentials(apiKey: SimCredentials.defaultAPIKey, secret: SimCredentials.defaultSecret)!
        let bad = StreamRecorder(priv)
        try await bad.finished()
        #expect(bad.messages.contains { $0.streamError?.message == "the venue refused auth: Invalid apikey" })
        let stopped = try await offPool { sim.stop() }
        #expect(stopped?.contains("\"ws\":{") == true && stopped?.contains("\"authAccepted\":1") == true)
    }

    @Test("bad WebSocket flags: exit 2 with a message naming the flag")
    func badFlags() throws {
        for (args, needle) in [(["--ws-drop-every", "3", "--ws-lose", "3"], "--ws-lose"), (["--ws-half-spread=-1"], "--ws-half-spread"),
                               (["--ws-poll", "0ms"], "--ws-poll"), (["--api-key", ""], "--api-key")] {
            let r = try runProcess(Fixtures.executable("carry"), ["exchange-sim", "--journal", SourceJournal.shared.path, "--port", "0"] + args)
            #expect(r.status == 2 && r.stderr.contains(needle), "\(args): \(r.status) \(r.stderr)")
        }
    }
}

/// A feed a test pushes account changes into.
final class TestAccountFeed: SimAccountFeed {
    let stream: AsyncStream<SimPrivateMessage>
    let continuation: AsyncStream<SimPrivateMessage>.Continuation

    init() { (stream, continuation) = AsyncStream.makeStream(of: SimPrivateMessage.self) }

    func privateMessages() -> AsyncStream<SimPrivateMessage> { stream }
}

@Suite("Streams: private topics through the socket")
struct StreamPrivateTests {
    func sample(_ name: String) throws -> String { try String(contentsOfFile: Fixtures.bybitSamples + "/" + name, encoding: .utf8) }

    @Test("order, execution (fills and funding), position, wallet reach an authenticated client in order; duplicated executions are dropped by execId")
    func privateTopics() async throws {
        let feed = TestAccountFeed()
        var o = ExchangeSimOptions(journalPath: SourceJournal.shared.path)
        o.stream.accountFeed = feed
        o.stream.faults = SimStreamFaults(duplicateExecutionEvery: 2)
        let sim = try await InProcessSim.start(o)
        let creds = BybitCredentials(apiKey: SimCredentials.defaultAPIKey, secret: SimCredentials.defaultSecret)!
        let rec = StreamRecorder(BybitStreamConfiguration(url: sim.url(.privateStream), topics: [.order, .execution, .position, .wallet], credentials: creds))
        try await rec.wait("subscribed") { $0.contains(where: \.isSubscribed) }

        feed.continuation.yield(SimPrivateMessage(topic: .order, text: try sample("nautilus/ws_account_order_filled.json")))
        for i in 1...6 {
            let fill = #"{"category":"linear","symbol":"BTCUSDT","execId":"fill-\#(i)","orderId":"o1","orderLinkId":"carry-1","side":"Sell","execType":"Trade","execPrice":"95900.\#(i)","execQty":"0.001","execFee":"0.0527","execTime":"\#(1_746_270_400_000 + i)","isMaker":false}"#
            feed.continuation.yield(SimPrivateMessage(topic: .execution, id: "x\(i)", creationTimeMs: 1_746_270_400_000 + Int64(i), data: [fill]))
        }
        let funding = #"{"category":"linear","symbol":"BTCUSDT","execId":"funding-1","orderId":"","orderLinkId":"","side":"Sell","execType":"Funding","execPrice":"95901.48","execQty":"0.006","execFee":"-0.05754089","execTime":"1746288000000","isMaker":false}"#
        feed.continuation.yield(SimPrivateMessage(topic: .execution, id: "f1", creationTimeMs: 1_746_288_000_000, data: [funding]))
        feed.continuation.yield(SimPrivateMessage(topic: .position, text: try sample("nautilus/ws_account_position_short.json")))
        feed.continuation.yield(SimPrivateMessage(topic: .wallet, text: try sample("nautilus/ws_account_wallet.json")))

        let all = try await rec.wait("the wallet") { $0.contains { if case .wallet = $0 { true } else { false } } }
        let data = all.filter { switch $0 { case .order, .execution, .fundingExecution, .position, .wallet: true; default: false } }
        #expect(data.count == 10, "an order, six fills, a funding, a position and a wallet")
        guard case .order(let order) = data[0] else { Issue.record("first is not the order"); return }
        #expect(order.orderStatus == "Filled")
        let fills = data.compactMap { if case .execution(let e) = $0 { e } else { nil } }
        #expect(fills.map(\.execId) == (1...6).map { "fill-\($0)" })
        #expect(fills.map(\.execPrice.description) == (1...6).map { "95900.\($0)" })
        guard case .fundingExecution(let f) = data[7] else { Issue.record("funding is not apart from the fills"); return }
        #expect(f.execFee.description == "-0.05754089" && f.execQty.description == "0.006")
        guard case .position(let p) = data[8], case .wallet(let w) = data[9] else { Issue.record("position and wallet out of order"); return }
        #expect(p.side == "Sell" && w.coins.count == 2)
        // 7 executions, every 2nd sent twice: 3 duplicates, each seen and dropped.
        let ws = try await sim.wsStats()
        #expect(ws["duplicates"] == 3 && rec.client.stats.duplicateExecutions == 3)
        try await rec.wait("every frame written") { _ in (try? await sim.wsStats())?["written"] == rec.client.stats.dataFrames }
        #expect(rec.client.stats.dataFrames == 13)
        await rec.stop()
        await sim.stop()
    }
}

/// The private streams over the venue's real account: an order placed over signed REST, filled
/// by the venue's clock, settled at funding, each change pushed on the socket and equal to what
/// REST reports.
@Suite("Streams: the account's pushes against its REST view")
struct StreamAccountTests {
    @Test("order New → fill → Filled, position, wallet and funding executions on the private stream equal REST's; duplicated executions dropped")
    func accountPushes() async throws {
        let sim = try await offPool { try RunningSim(journal: SourceJournal.shared.path, ["--now", marchFirst.iso8601, "--limit", "1000", "--ws-dup-exec", "2"]) }
        let base = sim.baseURL
        let creds = BybitCredentials(apiKey: simKey, secret: simSecret)!
        let rec = StreamRecorder(BybitStreamConfiguration(url: "ws://127.0.0.1:\(sim.port)/v5/private", topics: [.order, .execution, .position, .wallet], credentials: creds))
        try await rec.wait("subscribed") { $0.contains(where: \.isSubscribed) }

        let outcome = try await offPool { simClient(try CurlHTTPTransport(), baseURL: base, clock: SystemVenueClock()).createOrder(perpSell("ws-perp")) }
        guard case .accepted(let orderId, _) = outcome else { Issue.record("not accepted: \(outcome)"); return }
        try await rec.wait("the New order") { $0.contains { if case .order(let o) = $0 { o.orderLinkId == "ws-perp" && o.orderStatus == "New" } else { false } } }
        _ = try await runProcessOffPool("/usr/bin/curl", ["-s", "-X", "POST", "\(base)/sim/advance?by=\(Millis.day)"])

        let rest = try await offPool { () -> RestView in
            let client = simClient(try CurlHTTPTransport(), baseURL: base, clock: SystemVenueClock())
            return RestView(executions: try client.executions(category: .linear, symbol: "BTCUSDT"), position: try client.positions(symbol: "BTCUSDT").first,
                            wallet: try client.walletBalance(), settlements: try client.transactionLog(category: .linear, type: "SETTLEMENT"))
        }
        let settlementCount = rest.settlements.count
        #expect(settlementCount >= 2, "a day holds at least two 8 h settlements")
        let all = try await rec.wait("the fill and every settlement") { m in
            m.contains { if case .order(let o) = $0 { o.orderStatus == "Filled" } else { false } }
                && m.filter { if case .fundingExecution = $0 { true } else { false } }.count == settlementCount
        }
        let orders = all.compactMap { if case .order(let o) = $0 { o } else { nil } }
        #expect(orders.map(\.orderStatus) == ["New", "Filled"] && orders.allSatisfy { $0.orderId == orderId })
        let fills = all.compactMap { if case .execution(let e) = $0 { e } else { nil } }
        #expect(fills.map(\.execId) == rest.executions.fills.map(\.execId))
        #expect(fills.first?.execPrice == rest.executions.fills.first?.execPrice && fills.first?.execFee == rest.executions.fills.first?.execFee)
        #expect(fills.first?.category == "linear" && fills.first?.orderLinkId == "ws-perp")
        let funding = all.compactMap { if case .fundingExecution(let e) = $0 { e } else { nil } }
        // A funding execution's fee is what the position paid; the log's `funding` what it received.
        #expect(funding.reduce(Fixed.zero) { $0 + $1.execFee } == -rest.settlements.reduce(Fixed.zero) { $0 + $1.funding! })
        let position = try #require(all.compactMap { if case .position(let p) = $0 { p } else { nil } }.last)
        #expect(position.side == "Sell" && position.size == rest.position?.size && position.avgPrice == rest.position?.avgPrice)
        let wallet = try #require(all.compactMap { if case .wallet(let w) = $0 { w } else { nil } }.last)
        #expect(wallet.coins.first { $0.coin == "USDT" }?.walletBalance == rest.wallet.coin("USDT")?.walletBalance)
        // The fill reached the stream before the order's Filled status (the venue's order of changes).
        let fillIndex = try #require(all.firstIndex { if case .execution = $0 { true } else { false } })
        let filledIndex = try #require(all.firstIndex { if case .order(let o) = $0 { o.orderStatus == "Filled" } else { false } })
        let newIndex = try #require(all.firstIndex { if case .order(let o) = $0 { o.orderStatus == "New" } else { false } })
        #expect(newIndex < fillIndex && newIndex < filledIndex)
        let r = try await runProcessOffPool("/usr/bin/curl", ["-s", "\(base)/sim/stats"])
        let ws = (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["ws"] as? [String: Int] ?? [:]
        #expect(ws["duplicates"].map { $0 >= 1 } == true && ws["duplicates"] == rec.client.stats.duplicateExecutions)
        await rec.stop()
        _ = try await offPool { sim.stop() }
    }
}

/// What REST says about the account after the day.
struct RestView: Sendable {
    var executions: BybitExecutions
    var position: BybitPosition?
    var wallet: BybitWallet
    var settlements: [BybitTransaction]
}

/// The public streams follow the venue's own clocks: the replay clock and `/sim/advance`.
@Suite("Streams: the venue's clocks")
struct StreamClockTests {
    @Test("--replay-speed: klines and trades arrive hour after hour, consecutive, as the replay passes their closes")
    func replay() async throws {
        let sim = try await offPool { try RunningSim(journal: SourceJournal.shared.path, ["--replay-speed", "3600", "--replay-start", marchFirst.iso8601]) }
        let rec = StreamRecorder(BybitStreamConfiguration(url: "ws://127.0.0.1:\(sim.port)/v5/public/linear",
                                                          topics: [.kline(interval: "60", symbol: "BTCUSDT"), .trade("BTCUSDT")]))
        let got = try await rec.wait("four replayed hours") { $0.compactMap(\.kline).count >= 4 }
        let starts = got.compactMap(\.kline).map(\.bar.start.ms)
        #expect(zip(starts, starts.dropFirst()).allSatisfy { $1 - $0 == Millis.hour }, "\(starts)")
        #expect(starts.first.map { $0 >= marchFirst.ms - Millis.hour } == true)
        // Each trade is its bar's close, at the bar's last millisecond (where that bar's kline came too).
        let klines = got.compactMap(\.kline)
        let matched = got.compactMap(\.trade).filter { t in t.time <= klines.last!.end }
        #expect(!matched.isEmpty)
        for t in matched { #expect(klines.contains { $0.end == t.time && $0.bar.close == t.price }, "trade at \(t.time.ms) matches no kline") }
        await rec.stop()
        _ = try await offPool { sim.stop() }
    }

    @Test("a standing clock publishes only snapshots; POST /sim/advance publishes the hour it passes")
    func advance() async throws {
        let sim = try await offPool { try RunningSim(journal: SourceJournal.shared.path, ["--now", marchFirst.iso8601]) }
        let rec = StreamRecorder(BybitStreamConfiguration(url: "ws://127.0.0.1:\(sim.port)/v5/public/linear", topics: [.ticker("BTCUSDT")]))
        try await rec.wait("the snapshot") { $0.contains { $0.ticker != nil } }
        try await Task.sleep(for: .milliseconds(300))
        #expect(rec.messages.compactMap(\.ticker).count == 1, "nothing new while the clock stands")
        _ = try await runProcessOffPool("/usr/bin/curl", ["-s", "-X", "POST", "\(sim.baseURL)/sim/advance?by=\(Millis.hour)"])
        let after = try await rec.wait("the next hour's delta") { $0.compactMap(\.ticker).count >= 2 }
        let tickers = after.compactMap(\.ticker)
        #expect(tickers[1].time.ms == marchFirst.ms + Millis.hour && tickers[0].time == marchFirst)
        await rec.stop()
        _ = try await offPool { sim.stop() }
    }
}
