// The loopback venue's WebSocket endpoints on the exchange-sim's own port: an HTTP/1 upgrade
// on `/v5/public/linear`, `/v5/public/spot` or `/v5/private` (any other path stays plain HTTP),
// one writer and one reader per connection over `SimStreamHub`, and the loop that polls the
// venue's clock and publishes what is new.

public import CarryCore
import CarryVenues
import HummingbirdWebSocket
import Hummingbird
import HummingbirdCore
import NIOCore

/// The WebSocket side of `carry exchange-sim` (`/v5/private` accepts the venue's `credentials`).
public struct SimStreamOptions: Sendable {
    /// Half the quoted spread of the derived book, as a fraction of the close.
    public var halfSpread = Fixed(mantissa: 1, scale: 4)
    /// How often the venue's clock is polled for news (wall time).
    public var pollMs = 50
    public var faults = SimStreamFaults()
    /// The venue's clock (nil: the served data's `now`). Polled every `pollMs`, so a clock that
    /// advances publishes as it goes and one that stands still publishes only snapshots.
    public var clock: (@Sendable () -> Timestamp)?
    /// The wall clock in epoch ms, against which auth `expires` is checked.
    public var wallNowMs: @Sendable () -> Int64 = { SystemVenueClock().nowMs }
    /// What the private topics publish (nil: the venue's account).
    public var accountFeed: (any SimAccountFeed)?

    public init() {}
}

/// A connection the venue ended on purpose (a fault).
struct SimStreamKilled: Error {}

enum SimStreamServer {
    /// The HTTP/1 server with WebSocket upgrades on the stream paths.
    static func builder(hub: SimStreamHub, clock: @escaping @Sendable () -> Timestamp) -> HTTPServerBuilder {
        .http1WebSocketUpgrade { request, channel, _ in
            let path = request.path.map { String($0.prefix { $0 != "?" }) } ?? ""
            guard let stream = SimStreamPath(rawValue: path) else { return .dontUpgrade }
            return .upgrade([:]) { inbound, outbound, _ in
                try await serve(hub: hub, stream, channel: channel, inbound: inbound, outbound: outbound, clock: clock)
            }
        }
    }

    /// One connection: its writer drains the hub's outbox, its reader hands frames to the hub.
    /// A kill closes the TCP connection at once, with no WebSocket close handshake: a network
    /// drop, not a goodbye.
    static func serve(hub: SimStreamHub, _ path: SimStreamPath, channel: any Channel, inbound: WebSocketInboundStream,
                      outbound: WebSocketOutboundWriter, clock: @escaping @Sendable () -> Timestamp) async throws {
        let (id, outbox) = hub.open(path)
        defer { hub.close(id) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await item in outbox {
                    switch item {
                    case .text(let text, let isData):
                        try await outbound.write(.text(text))
                        if isData { hub.wrote(id) }
                    case .kill:
                        try? await channel.close()
                        throw SimStreamKilled()
                    }
                }
            }
            group.addTask {
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    if case .text(let text) = message { hub.receive(id, text, now: clock()) }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Polls `clock` every `pollMs` and publishes what is new, until cancelled.
    static func publishLoop(hub: SimStreamHub, clock: @escaping @Sendable () -> Timestamp, pollMs: Int) async {
        while !Task.isCancelled {
            hub.tick(now: clock())
            try? await Task.sleep(for: .milliseconds(pollMs))
        }
    }
}
