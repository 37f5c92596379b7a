// The private WebSocket streams of a live session (Bybit v5 `/v5/private`: order, execution,
// position, wallet), so fills reach the engine as they happen instead of a poll later.
//
// The stream client (`BybitStreamClient`) runs in its own task and reconnects by itself with
// backoff; this class only buffers what it delivers for the session's synchronous loop and
// wakes it. The loop drains the buffer at the top of a step, before it reads the venue's
// clock: stream fills become facts there (`LiveGateway.streamed`, de-duplicated with REST's by
// execution id) and go into the outbox's inbox like REST's, so they are journaled before the
// engine sees them, in the journal's one order — what a replay or a restart sees. REST polling
// stays underneath unchanged: an execution the stream lost (a drop, a gap before a reconnect)
// is read from `/v5/execution/list` at the next step, and one both delivered reaches the engine
// once.
//
// What the other topics do: an order's end wakes the loop (its status is then read over REST,
// after its fills); position and wallet updates are counted — the book the engine reconciles
// against is read over REST, consistently, on the reconciliation interval and after every
// reconnect (`reconcileDue`). A refused auth ends the stream (REST goes on; logged).
//
// Uptime: connected from the moment every subscription was acknowledged until the connection
// ends; down otherwise (connecting included). The session journals it in `session.stats`.

import CarryCore
public import CarryVenues
import Foundation
public import Logging
import Synchronization

/// A live session's private streams, buffered for its loop.
public final class LiveStream: Sendable {
    /// What arrived since the last drain.
    public struct Drained: Sendable {
        public var executions: [BybitExecution] = []
        /// Reconnections whose resubscription completed since the last drain: reconcile.
        public var reconnects = 0
        public var orderEnds = 0
        public var positionUpdates = 0
        public var walletUpdates = 0
    }

    /// Stream time so far, and reconnections.
    public struct Uptime: Sendable, Equatable {
        public var upMs: UInt64
        public var downMs: UInt64
        public var reconnects: UInt64
    }

    private struct State {
        var pending = Drained()
        var startedAt = Date()
        var upSince: Date?
        var upMs = 0.0
        var reconnects: UInt64 = 0
        var authRefused = false
    }

    public let client: BybitStreamClient
    private let state = Mutex(State())
    private let tasks = Mutex<[Task<Void, Never>]>([])
    private let wake: @Sendable () -> Void
    private let logger: Logger

    /// The private stream at `url` signed with `credentials`; `wake` is called when a fill, an
    /// order's end or a reconnect arrives.
    public init(url: String, credentials: BybitCredentials, logger: Logger, configure: (inout BybitStreamConfiguration) -> Void = { _ in },
                wake: @escaping @Sendable () -> Void) {
        var c = BybitStreamConfiguration(url: url, topics: [.order, .execution, .position, .wallet], credentials: credentials)
        configure(&c)
        client = BybitStreamClient(configuration: c, logger: logger)
        self.wake = wake
        self.logger = logger
    }

    /// Bybit's private stream for a REST base URL: mainnet and testnet hosts map to their
    /// stream hosts; any other (the loopback venue) serves both on one port.
    public static func privateURL(forBaseURL base: String) -> String {
        let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
        switch trimmed {
        case "https://api.bybit.com", "https://api.bytick.com": return "wss://stream.bybit.com/v5/private"
        case "https://api-testnet.bybit.com": return "wss://stream-testnet.bybit.com/v5/private"
        default:
            if trimmed.hasPrefix("https://") { return "wss://" + trimmed.dropFirst("https://".count) + "/v5/private" }
            if trimmed.hasPrefix("http://") { return "ws://" + trimmed.dropFirst("http://".count) + "/v5/private" }
            return trimmed + "/v5/private"
        }
    }

    /// Starts the client and the reader of its messages.
    public func start() {
        state.withLock { $0.startedAt = Date() }
        let client = client
        let runner = Task.detached { await client.run() }
        let reader = Task.detached { [self] in
            for await m in client.messages { self.take(m) }
        }
        tasks.withLock { $0 = [runner, reader] }
    }

    /// Stops both tasks (the connection closes).
    public func stop() {
        let running = tasks.withLock { t in
            defer { t.removeAll() }
            return t
        }
        for t in running { t.cancel() }
    }

    private func take(_ m: BybitStreamMessage) {
        var nudge = false
        state.withLock { s in
            switch m {
            case .execution(let e):
                s.pending.executions.append(e)
                nudge = true
            case .order(let o):
                if ["Filled", "Cancelled", "PartiallyFilledCanceled", "Rejected", "Deactivated"].contains(o.orderStatus) {
                    s.pending.orderEnds += 1
                    nudge = true
                }
            case .position: s.pending.positionUpdates += 1
            case .wallet: s.pending.walletUpdates += 1
            case .subscribed:
                if s.upSince == nil { s.upSince = Date() }
            case .disconnected:
                if let since = s.upSince { s.upMs += Date().timeIntervalSince(since) * 1000 }
                s.upSince = nil
            case .resyncRequired:
                s.reconnects += 1
                s.pending.reconnects += 1
                nudge = true
            case .error(let e):
                if e.code == .authRejected { s.authRefused = true }
            default:
                break
            }
        }
        switch m {
        case .disconnected(let connection, let reason):
            logger.warning("private stream disconnected; fills are read over REST until it is back", metadata: ["connection": "\(connection)", "reason": "\(reason)"])
        case .resyncRequired(let connection):
            logger.notice("private stream back; reconciling with the venue", metadata: ["connection": "\(connection)"])
        case .error(let e):
            logger.warning("private stream", metadata: ["error": "\(e)"])
        default:
            break
        }
        if nudge { wake() }
    }

    /// What arrived since the last call.
    public func drain() -> Drained {
        state.withLock { s in
            defer { s.pending = Drained() }
            return s.pending
        }
    }

    /// Stream time connected and not since `start()`, and reconnections.
    public var uptime: Uptime {
        state.withLock { s in
            let total = Date().timeIntervalSince(s.startedAt) * 1000
            let up = s.upMs + (s.upSince.map { Date().timeIntervalSince($0) * 1000 } ?? 0)
            return Uptime(upMs: UInt64(max(0, up)), downMs: UInt64(max(0, total - up)), reconnects: s.reconnects)
        }
    }

    /// The venue refused the stream's auth (REST carries on alone).
    public var authRefused: Bool { state.withLock { $0.authRefused } }
}
