import CarryVenues
import Hummingbird
import HummingbirdWebSocket
import Logging
import Testing

/// A venue that accepts the connection and then says nothing, not even pong.
@Suite("Streams: a silent venue")
struct StreamSilenceTests {
    @Test("two pings in a row answered by nothing: the client gives the connection up and reconnects")
    func silent() async throws {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: Router(),
            // The server's own WebSocket-level ping is off too: the venue is silent in every
            // way, so the only reason the client may give is the silence of its `ping` ops.
            server: .http1WebSocketUpgrade(configuration: .init(ws: .init(autoPing: .disabled))) { _, _, _ in
                .upgrade([:]) { inbound, _, _ in
                    for try await _ in inbound {}
                }
            },
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            },
            logger: Logger(label: "silent", factory: { _ in SwiftLogNoOpLogHandler() }))
        let server = Task { try await app.runService() }
        let port = try await withDeadline(seconds: 120, "the silent server's port") {
            var it = ports.makeAsyncIterator()
            return await it.next()
        }
        var config = BybitStreamConfiguration(url: "ws://127.0.0.1:\(port)/v5/public/linear", topics: [.ticker("BTCUSDT")])
        // Wide enough that a loaded CI runner (pings are counted, not timed) is not the subject.
        config.pingIntervalMs = 250
        config.reconnectBaseMs = 10
        config.maxConnections = 2
        let rec = StreamRecorder(config)
        try await rec.finished()
        let reasons = rec.messages.compactMap { if case .disconnected(_, let reason) = $0 { reason } else { nil } }
        #expect(reasons.count == 2)
        #expect(reasons.allSatisfy { $0.contains("no frame from the venue since 2 pings sent 250 ms apart") }, "\(reasons)")
        #expect(rec.client.stats.connections == 2)
        #expect(rec.messages.filter(\.isSubscribed).isEmpty, "nothing was acknowledged")
        server.cancel()
        _ = try? await server.value
    }
}
