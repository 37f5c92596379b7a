import CarryCore
@testable import CarryExchangeSim
import CarryVenues
import Foundation
import Testing

/// The venue's stream hub without sockets: private topics behind auth, the duplicate-execution
/// fault (counted, and undone by the client's session), and the drop/lose accounting.
@Suite("Stream hub: private topics, faults, counting")
struct StreamHubTests {
    static let data: SimMarketData = {
        do { return try SimMarketData.load(journalPath: SourceJournal.shared.path, venue: nil, now: nil) } catch { fatalError("\(error)") }
    }()

    func hub(_ faults: SimStreamFaults) -> SimStreamHub {
        SimStreamHub(market: SimStreamMarket(data: Self.data, halfSpread: Fixed(mantissa: 1, scale: 4)), credentials: SimCredentials(), faults: faults,
                     wallNowMs: { 1_000_000 })
    }

    /// The next `n` texts of an outbox (all already queued: the hub yields synchronously).
    func take(_ outbox: AsyncStream<SimOutgoing>, _ n: Int) async -> [SimOutgoing] {
        var out: [SimOutgoing] = []
        for await item in outbox {
            out.append(item)
            if out.count == n { break }
        }
        return out
    }

    func text(_ o: SimOutgoing) -> String? { if case .text(let t, _) = o { t } else { nil } }

    func execution(_ id: String, type: String = "Trade") -> String {
        #"{"id":"x","topic":"execution","creationTime":5,"data":[{"category":"linear","symbol":"BTCUSDT","execId":"\#(id)","orderId":"o","orderLinkId":"l","side":"Buy","execType":"\#(type)","execPrice":"100.5","execQty":"0.010","execFee":"0.0005","execTime":"5"}]}"#
    }

    @Test("private topics need auth; every 3rd execution is sent twice; the client's session delivers each execId once")
    func duplicates() async throws {
        let h = hub(SimStreamFaults(duplicateExecutionEvery: 3))
        let (id, outbox) = h.open(.privateStream)
        let now = Timestamp(ms: 1)
        h.receive(id, #"{"op":"subscribe","args":["execution"]}"#, now: now)
        let expires = 1_000_000 + 5_000
        let sig = BybitStreamRequest.authSignature(secret: SimCredentials.defaultSecret, expiresMs: Int64(expires))
        h.receive(id, #"{"op":"auth","args":["\#(SimCredentials.defaultAPIKey)",\#(expires),"\#(sig)"]}"#, now: now)
        h.receive(id, #"{"op":"subscribe","req_id":"s","args":["execution"]}"#, now: now)
        for i in 1...6 { h.publishPrivate(.execution, execution("e\(i)")) }
        h.publishPrivate(.execution, execution("f1", type: "Funding"))
        let frames = await take(outbox, 3 + 7 + 2).compactMap(text)
        #expect(frames[0].contains(#""success":false"#) && frames[0].contains("Request not authorized"))
        #expect(frames[1].contains(#""op":"auth""#) && frames[1].contains(#""success":true"#))
        #expect(frames[2].contains(#""success":true"#))
        let stats = h.stats
        #expect(stats.duplicates == 2 && stats.published == 9 && stats.authAccepted == 1 && stats.subscribeRefused == 1)
        var session = BybitStreamSession()
        _ = session.opened(subscribeRequests: 0, topics: [.execution])
        let messages = frames.dropFirst(3).flatMap { session.receive(Array($0.utf8)) }
        let fills = messages.compactMap { if case .execution(let e) = $0 { e.execId } else { nil } }
        let funding = messages.compactMap { if case .fundingExecution(let e) = $0 { e } else { nil } }
        #expect(fills == ["e1", "e2", "e3", "e4", "e5", "e6"])
        #expect(funding.map(\.execId) == ["f1"] && funding[0].execQty.description == "0.010")
        #expect(session.duplicateExecutions == 2 && session.dataFrames == 9)
        h.close(id)
    }

    @Test("drop every 5, lose 2: the 4th and 5th messages never leave, the connection is killed, its topic orphaned until resubscribed")
    func dropAndLose() async throws {
        let h = hub(SimStreamFaults(dropEvery: 5, loseBeforeDrop: 2))
        let expires = 1_000_000 + 5_000
        let sig = BybitStreamRequest.authSignature(secret: SimCredentials.defaultSecret, expiresMs: Int64(expires))
        let (a, outboxA) = h.open(.privateStream)
        h.receive(a, #"{"op":"auth","args":["\#(SimCredentials.defaultAPIKey)",\#(expires),"\#(sig)"]}"#, now: Timestamp(ms: 1))
        h.receive(a, #"{"op":"subscribe","args":["order"]}"#, now: Timestamp(ms: 1))
        for i in 1...7 { h.publishPrivate(.order, "{\"n\":\(i)}") }
        let items = await take(outboxA, 2 + 3 + 1)
        #expect(items.compactMap(text).suffix(3) == ["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"])
        if case .kill = items.last! {} else { Issue.record("no kill after the 5th message") }
        var s = h.stats
        // 1–3 queued, 4–5 lost in flight, then the kill; 6–7 published to the orphaned topic and lost.
        #expect(s.drops == 1 && s.published == 7 && s.lost == 4)
        for _ in 1...3 { h.wrote(a) }
        h.close(a)
        s = h.stats
        #expect(s.written == 3 && s.published == s.written + s.lost)
        // A new connection resubscribes: the topic is no longer orphaned.
        let (b, outboxB) = h.open(.privateStream)
        h.receive(b, #"{"op":"auth","args":["\#(SimCredentials.defaultAPIKey)",\#(expires),"\#(sig)"]}"#, now: Timestamp(ms: 1))
        h.receive(b, #"{"op":"subscribe","args":["order"]}"#, now: Timestamp(ms: 1))
        h.publishPrivate(.order, "{\"n\":8}")
        let itemsB = await take(outboxB, 3)
        #expect(itemsB.compactMap(text).last == "{\"n\":8}")
        s = h.stats
        #expect(s.lost == 4 && s.published == 8)
        h.close(b)
        #expect(h.stats.lost == 5, "the queued, unwritten 8th message counts as lost at close")
    }
}
