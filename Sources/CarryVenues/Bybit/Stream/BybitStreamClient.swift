// The Bybit v5 WebSocket client: one URL (`/v5/public/linear`, `/v5/public/spot` or
// `/v5/private`), its topics, typed messages out through an AsyncStream. The socket is
// swift-websocket's client; everything a frame means is `BybitStreamSession` (pure).
//
// Lifecycle of `run()`: connect → (private) auth → subscribe every topic (10 per request) →
// read, with a `ping` op every `pingIntervalMs` (Bybit advises 20 s; a connection that
// answers two pings in a row with nothing is given up) → on any end of the
// connection `disconnected`, a backoff with seeded equal jitter (doubling from
// `reconnectBaseMs` to `reconnectMaxMs`, reset after a connection that opened) → connect
// again, resubscribe, and `resyncRequired` once the venue acknowledged every subscription.
// An auth refusal ends the run: a wrong key does not get better by retrying.
//
// Invariant: the API key and signature go only into the auth frame; nothing logs a frame
// (the socket library's own logger is held at debug or above, where it logs no payloads).

public import Logging
import CarryCore
import Foundation
import Synchronization
import WSClient

/// Where the client connects and how it behaves.
public struct BybitStreamConfiguration: Sendable {
    /// `ws://127.0.0.1:PORT/v5/public/linear`, `wss://stream.bybit.com/v5/private`, …
    public var url: String
    public var topics: [BybitStreamTopic]
    /// Required for private topics.
    public var credentials: BybitCredentials?
    /// Interval between `ping` ops; Bybit advises 20 s.
    public var pingIntervalMs: Int64 = 20_000
    public var reconnectBaseMs: Int64 = 500
    public var reconnectMaxMs: Int64 = 30_000
    public var jitterSeed: UInt64 = 0x5EED_0F_57
    /// Stop after this many connections (nil: until the task is cancelled).
    public var maxConnections: Int?
    /// How long an auth request stays valid (`expires` = now + this).
    public var authValidityMs: Int64 = 10_000
    /// Topics per subscribe request (Bybit's spot stream takes at most 10).
    public var topicsPerRequest = 10
    public var maxFrameBytes = 1 << 22
    /// The wall clock in epoch ms (for `expires`); injectable for tests.
    public var nowMs: @Sendable () -> Int64 = { SystemVenueClock().nowMs }

    /// A configuration with the defaults above.
    public init(url: String, topics: [BybitStreamTopic], credentials: BybitCredentials? = nil) {
        self.url = url
        self.topics = topics
        self.credentials = credentials
    }
}

/// What a stream client has done so far.
public struct BybitStreamStats: Sendable, Equatable {
    /// Connections opened.
    public var connections = 0
    /// Text frames received.
    public var frames = 0
    /// Data messages delivered (tickers, books, trades, klines, private updates).
    public var dataMessages = 0
    /// Text frames that carried topic data (a venue's "written" count).
    public var dataFrames = 0
    public var errors = 0
    public var pingsSent = 0
    public var pongs = 0
    public var duplicateExecutions = 0
    public var resyncsRequired = 0
}

/// A Bybit v5 stream that reconnects by itself. Start `run()` in a task; read `messages`.
public final class BybitStreamClient: Sendable {
    public let configuration: BybitStreamConfiguration
    /// Every message, in order; finishes when `run()` returns.
    public let messages: AsyncStream<BybitStreamMessage>
    private let continuation: AsyncStream<BybitStreamMessage>.Continuation
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var session = BybitStreamSession()
        var stats = BybitStreamStats()
        var authRefused = false
        /// Pings sent since the connection last delivered a frame.
        var pingsUnanswered = 0
    }

    /// A client; nothing connects before `run()`.
    public init(configuration: BybitStreamConfiguration, logger: Logger) {
        precondition(configuration.credentials != nil || !configuration.topics.contains(where: \.isPrivate), "private topics need credentials")
        precondition(configuration.pingIntervalMs >= 1 && configuration.topicsPerRequest >= 1)
        self.configuration = configuration
        self.logger = logger
        (messages, continuation) = AsyncStream.makeStream(of: BybitStreamMessage.self, bufferingPolicy: .unbounded)
    }

    /// The counters so far.
    public var stats: BybitStreamStats {
        state.withLock { s in
            var st = s.stats
            st.duplicateExecutions = s.session.duplicateExecutions
            st.pongs = s.session.pongs
            st.dataFrames = s.session.dataFrames
            return st
        }
    }

    /// Connects, and reconnects after every loss, until cancelled, `maxConnections` is
    /// reached or the venue refuses auth; then finishes `messages`.
    public func run() async {
        var rng = SplitMix64(seed: configuration.jitterSeed)
        var failuresInARow = 0
        while !Task.isCancelled {
            let opened = await connectOnce()
            let (refused, count) = state.withLock { ($0.authRefused, $0.stats.connections) }
            if refused || Task.isCancelled { break }
            if let max = configuration.maxConnections, count >= max { break }
            failuresInARow = opened ? 1 : failuresInARow + 1
            let waitMs = Backoff.equalJitterMs(attempt: failuresInARow, baseMs: configuration.reconnectBaseMs, maxMs: configuration.reconnectMaxMs, rng: &rng)
            logger.info("stream reconnecting", metadata: ["url": "\(configuration.url)", "waitMs": "\(waitMs)"])
            try? await Task.sleep(for: .milliseconds(waitMs))
        }
        continuation.finish()
    }

    /// One connection, start to end; true if it opened.
    private func connectOnce() async -> Bool {
        let opened = Atomic<Bool>(false)
        var socketLogger = logger
        socketLogger.logLevel = max(logger.logLevel, .debug)   // trace would dump frame bytes
        var wsConfig = WebSocketClientConfiguration()
        wsConfig.maxFrameSize = configuration.maxFrameBytes
        wsConfig.autoPing = .disabled   // Bybit wants its own `ping` op, sent below
        let reason: String
        do {
            try await WebSocketClient.connect(url: configuration.url, configuration: wsConfig, logger: socketLogger) { inbound, outbound, _ in
                opened.store(true, ordering: .relaxed)
                try await self.serve(inbound: inbound, outbound: outbound)
            }
            reason = "closed by the venue"
        } catch is CancellationError {
            reason = "cancelled"
        } catch {
            reason = "\(error)"
        }
        let didOpen = opened.load(ordering: .relaxed)
        if didOpen {
            emit([state.withLock { $0.session.closed(reason: reason) }])
            logger.info("stream disconnected", metadata: ["url": "\(configuration.url)", "reason": "\(reason)"])
        } else {
            emit([.error(BybitStreamError(.connection, "cannot connect to \(configuration.url): \(reason)"))])
        }
        return didOpen
    }

    /// Sends auth and subscriptions, then reads and pings until the connection ends.
    private func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let requests = openingRequests()
        let subscribeCount = requests.count - (configuration.credentials == nil ? 0 : 1)
        emit(state.withLock { s in
            s.stats.connections += 1
            s.pingsUnanswered = 0
            return s.session.opened(subscribeRequests: subscribeCount, topics: configuration.topics)
        })
        logger.info("stream connected", metadata: ["url": "\(configuration.url)", "topics": "\(configuration.topics.count)"])
        for r in requests { try await outbound.write(.text(r)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.pingLoop(outbound) }
            group.addTask { try await self.readLoop(inbound) }
            try await group.next()
            group.cancelAll()
        }
    }

    private func openingRequests() -> [String] {
        var out: [String] = []
        if let c = configuration.credentials {
            out.append(BybitStreamRequest.auth(c, expiresMs: configuration.nowMs() + configuration.authValidityMs, reqId: "auth"))
        }
        var i = 0
        while i < configuration.topics.count {
            let batch = Array(configuration.topics[i..<min(i + configuration.topicsPerRequest, configuration.topics.count)])
            out.append(BybitStreamRequest.subscribe(batch, reqId: "sub-\(out.count)"))
            i += configuration.topicsPerRequest
        }
        return out
    }

    /// Pings every `pingIntervalMs`. Two pings in a row without any frame since (not even a
    /// pong) mean the connection is dead whatever TCP says: it ends here and the client
    /// reconnects. Counted in pings, not wall time, so a process that was merely not scheduled
    /// for a while (its reader too) does not give up a live connection.
    private func pingLoop(_ outbound: WebSocketOutboundWriter) async throws {
        var n = 0
        while true {
            try await Task.sleep(for: .milliseconds(configuration.pingIntervalMs))
            let unanswered = state.withLock { $0.pingsUnanswered }
            if unanswered >= 2 { throw BybitStreamSilent(pings: unanswered, intervalMs: configuration.pingIntervalMs) }
            n += 1
            try await outbound.write(.text(BybitStreamRequest.ping(reqId: "ping-\(n)")))
            state.withLock { s in
                s.stats.pingsSent += 1
                s.pingsUnanswered += 1
            }
        }
    }

    private func readLoop(_ inbound: WebSocketInboundStream) async throws {
        for try await message in inbound.messages(maxSize: configuration.maxFrameBytes) {
            let bytes: [UInt8]
            switch message {
            case .text(let s): bytes = Array(s.utf8)
            case .binary(let b): bytes = Array(b.readableBytesView)
            }
            let (out, refused) = state.withLock { s in
                s.stats.frames += 1
                s.pingsUnanswered = 0
                let out = s.session.receive(bytes)
                s.authRefused = s.authRefused || out.contains { if case .error(let e) = $0 { e.code == .authRejected } else { false } }
                return (out, s.authRefused)
            }
            emit(out)
            if refused { return }
        }
    }

    private func emit(_ out: [BybitStreamMessage]) {
        guard !out.isEmpty else { return }
        state.withLock { s in
            for m in out {
                switch m {
                case .ticker, .orderbookTop, .trade, .kline, .order, .execution, .fundingExecution, .position, .wallet: s.stats.dataMessages += 1
                case .error: s.stats.errors += 1
                case .resyncRequired: s.stats.resyncsRequired += 1
                default: break
                }
            }
        }
        for m in out { continuation.yield(m) }
    }
}

/// A connection that delivered nothing, not even a pong, for too long.
struct BybitStreamSilent: Error, CustomStringConvertible {
    var pings: Int
    var intervalMs: Int64
    var description: String { "no frame from the venue since \(pings) pings sent \(intervalMs) ms apart" }
}
