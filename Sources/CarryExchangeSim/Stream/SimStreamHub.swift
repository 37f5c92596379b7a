// The loopback venue's WebSocket side apart from sockets: connections, their subscriptions and
// auth, what each topic publishes (through `SimStreamMarket` for public topics, the account
// feed for private ones), the faults, and the counters `/sim/stats` reports.
//
// Counting (what a test checks a client against): every data message the venue generates for
// a subscriber is `published`; it is then either `written` to the socket or `lost` — swallowed
// by the lose fault, queued when its connection was killed, or generated for a topic whose
// subscriber the venue killed and that nobody has resubscribed yet (an "orphaned" topic). So
// at rest `published == written + lost`, and a client that received everything written saw
// exactly `written` data messages.
//
// Invariants: one lock over all state, so deliveries are in one order; a killed connection
// receives nothing more; op replies are never faulted or counted as data.

public import CarryCore
public import CarryVenues
import Synchronization

/// What the writer of a connection sends next.
enum SimOutgoing: Sendable {
    case text(String, isData: Bool)
    /// Close the connection now (a fault).
    case kill
}

/// WebSocket faults, each counted.
public struct SimStreamFaults: Sendable, Equatable {
    /// Kill the connection after every N-th data message the venue generates (0: never).
    public var dropEvery = 0
    /// Of the messages just before each such kill, this many are lost in flight (< dropEvery).
    public var loseBeforeDrop = 0
    /// Send every N-th execution message twice (0: never).
    public var duplicateExecutionEvery = 0

    public init(dropEvery: Int = 0, loseBeforeDrop: Int = 0, duplicateExecutionEvery: Int = 0) {
        precondition(dropEvery >= 0 && loseBeforeDrop >= 0 && duplicateExecutionEvery >= 0)
        precondition(loseBeforeDrop == 0 || loseBeforeDrop < dropEvery, "loseBeforeDrop must be below dropEvery")
        self.dropEvery = dropEvery
        self.loseBeforeDrop = loseBeforeDrop
        self.duplicateExecutionEvery = duplicateExecutionEvery
    }
}

/// The WebSocket counters.
public struct SimStreamStats: Sendable, Equatable {
    /// WebSocket connections opened.
    public var connections = 0
    /// Data messages generated for subscribers (orphaned topics included).
    public var published = 0
    /// Data messages put on the wire.
    public var written = 0
    /// Data messages that never reached a socket (see the file comment).
    public var lost = 0
    /// Connections killed by `dropEvery`.
    public var drops = 0
    /// Connections killed on command (`POST /sim/fault/ws-drop`).
    public var commandedDrops = 0
    /// Execution messages sent a second time.
    public var duplicates = 0
    /// Auth requests accepted and refused.
    public var authAccepted = 0
    public var authRefused = 0
    /// Subscribe requests refused (unknown topic, not authorized, already subscribed).
    public var subscribeRefused = 0
    /// Op replies sent (never faulted, never counted as data).
    public var replies = 0

    /// The counters as a JSON object.
    public var json: String {
        "{\"connections\":\(connections),\"published\":\(published),\"written\":\(written),\"lost\":\(lost),\"drops\":\(drops),"
            + "\"commandedDrops\":\(commandedDrops),\"duplicates\":\(duplicates),\"authAccepted\":\(authAccepted),\"authRefused\":\(authRefused),"
            + "\"subscribeRefused\":\(subscribeRefused),\"replies\":\(replies)}"
    }
}

/// Connections and topics of the loopback venue's streams.
public final class SimStreamHub: Sendable {
    let market: SimStreamMarket
    let credentials: SimCredentials
    let faults: SimStreamFaults
    /// The wall clock in epoch ms (auth `expires` is checked against it: clients sign with theirs).
    let wallNowMs: @Sendable () -> Int64

    private struct Connection {
        var path: SimStreamPath
        var outbox: AsyncStream<SimOutgoing>.Continuation
        var topics: [BybitStreamTopic] = []
        var authenticated = false
        var enqueued = 0
        var written = 0
        var killed = false
    }

    private struct TopicKey: Hashable {
        var path: SimStreamPath
        var topic: BybitStreamTopic
    }

    private struct State {
        var connections: [Int: Connection] = [:]
        var nextId = 1
        var topics: [TopicKey: SimTopicState] = [:]
        /// Topics whose subscribers the venue killed, with how many.
        var orphans: [TopicKey: Int] = [:]
        var dataCount = 0
        var executionCount = 0
        var stats = SimStreamStats()
    }
    private let state = Mutex(State())

    /// A hub publishing `market`'s topics, accepting `credentials` on the private stream.
    public init(market: SimStreamMarket, credentials: SimCredentials, faults: SimStreamFaults, wallNowMs: @escaping @Sendable () -> Int64) {
        self.market = market
        self.credentials = credentials
        self.faults = faults
        self.wallNowMs = wallNowMs
    }

    /// The counters so far.
    public var stats: SimStreamStats { state.withLock { $0.stats } }

    // MARK: Connections

    /// Registers a connection on `path`; its writer drains the returned stream.
    func open(_ path: SimStreamPath) -> (id: Int, outbox: AsyncStream<SimOutgoing>) {
        let (stream, continuation) = AsyncStream.makeStream(of: SimOutgoing.self, bufferingPolicy: .unbounded)
        let id = state.withLock { s in
            let id = s.nextId
            s.nextId += 1
            s.connections[id] = Connection(path: path, outbox: continuation)
            s.stats.connections += 1
            return id
        }
        return (id, stream)
    }

    /// The connection ended: what it queued and never wrote is lost.
    func close(_ id: Int) {
        state.withLock { s in
            guard let c = s.connections.removeValue(forKey: id) else { return }
            s.stats.lost += c.enqueued - c.written
            c.outbox.finish()
        }
    }

    /// The writer put one data message on the wire.
    func wrote(_ id: Int) {
        state.withLock { s in
            s.connections[id]?.written += 1
            s.stats.written += 1
        }
    }

    /// Kills every connection (on `path`, if given); returns how many.
    public func dropAll(path: SimStreamPath? = nil) -> Int {
        state.withLock { s in
            let ids = s.connections.keys.sorted().filter { path == nil || s.connections[$0]!.path == path }
            for id in ids where !s.connections[id]!.killed { kill(&s, id) }
            s.stats.commandedDrops += ids.count
            return ids.count
        }
    }

    private func kill(_ s: inout State, _ id: Int) {
        guard var c = s.connections[id], !c.killed else { return }
        for t in c.topics { s.orphans[TopicKey(path: c.path, topic: t), default: 0] += 1 }
        c.topics = []
        c.killed = true
        c.outbox.yield(.kill)
        s.connections[id] = c
    }

    // MARK: Requests

    /// Handles one text frame from connection `id` at venue time `now`.
    func receive(_ id: Int, _ text: String, now: Timestamp) {
        state.withLock { s in
            guard let c = s.connections[id], !c.killed else { return }
            let connId = "carry-sim-\(id)"
            guard let r = SimStreamRequest.parse(text) else {
                reply(&s, id, SimStreamReply.status(c.path, op: "", success: false, retMsg: "error:request is not a JSON object with an op", connId: connId, reqId: nil))
                return
            }
            switch r.op {
            case "ping":
                reply(&s, id, SimStreamReply.pong(c.path, connId: connId, reqId: r.reqId, nowMs: now.ms))
            case "auth":
                authenticate(&s, id, r, connId: connId)
            case "subscribe":
                subscribe(&s, id, r, connId: connId, now: now)
            case "unsubscribe":
                let topics = r.args.compactMap(BybitStreamTopic.init(name:))
                s.connections[id]?.topics.removeAll { topics.contains($0) }
                reply(&s, id, SimStreamReply.subscribed(c.path, connId: connId, reqId: r.reqId, op: "unsubscribe"))
            default:
                reply(&s, id, SimStreamReply.status(c.path, op: r.op, success: false, retMsg: "error:unsupported op \(r.op)", connId: connId, reqId: r.reqId))
            }
        }
    }

    private func authenticate(_ s: inout State, _ id: Int, _ r: SimStreamRequest, connId: String) {
        let path = s.connections[id]!.path
        let refusal = path == .privateStream ? credentials.streamAuthRefusal(r, nowMs: wallNowMs()) : "error:auth is only for /v5/private"
        if refusal == nil {
            s.connections[id]?.authenticated = true
            s.stats.authAccepted += 1
        } else {
            s.stats.authRefused += 1
        }
        reply(&s, id, SimStreamReply.status(path, op: "auth", success: refusal == nil, retMsg: refusal ?? "", connId: connId, reqId: r.reqId))
    }

    private func subscribe(_ s: inout State, _ id: Int, _ r: SimStreamRequest, connId: String, now: Timestamp) {
        let c = s.connections[id]!
        var topics: [BybitStreamTopic] = []
        var refusal: String? = r.args.isEmpty ? "error:args is empty" : nil
        for name in r.args where refusal == nil {
            guard let t = BybitStreamTopic(name: name), t.isPrivate == (c.path == .privateStream),
                  t.isPrivate || market.resolve(t, on: c.path) != nil else {
                refusal = "Invalid topic: \(name)"
                break
            }
            if t.isPrivate && !c.authenticated { refusal = "Request not authorized" }
            if c.topics.contains(t) || topics.contains(t) { refusal = "error:already subscribed,topic:\(name)" }
            topics.append(t)
        }
        if let refusal {
            s.stats.subscribeRefused += 1
            reply(&s, id, SimStreamReply.status(c.path, op: "subscribe", success: false, retMsg: refusal, connId: connId, reqId: r.reqId))
            return
        }
        s.connections[id]?.topics += topics
        reply(&s, id, SimStreamReply.subscribed(c.path, connId: connId, reqId: r.reqId, op: "subscribe"))
        for t in topics {
            let key = TopicKey(path: c.path, topic: t)
            if let n = s.orphans[key] { s.orphans[key] = n > 1 ? n - 1 : nil }
            guard !t.isPrivate else { continue }
            // Others on the topic: the snapshot is as of the topic's last publication, so their
            // next update is this subscriber's too. Alone: as of now, the sequence carried on.
            var base = s.topics[key] ?? SimTopicState(time: now)
            if subscriberCount(s, key) == 1 && s.orphans[key] == nil { base = SimTopicState(time: now, sequence: base.sequence) }
            let (messages, st) = market.snapshot(t, on: c.path, state: base)
            s.topics[key] = st
            for m in messages { deliver(&s, id, m) }
        }
    }

    private func subscriberCount(_ s: State, _ key: TopicKey) -> Int {
        s.connections.values.filter { $0.path == key.path && $0.topics.contains(key.topic) }.count
    }

    private func reply(_ s: inout State, _ id: Int, _ text: String) {
        s.stats.replies += 1
        s.connections[id]?.outbox.yield(.text(text, isData: false))
    }

    // MARK: Publishing

    /// Publishes what every public topic has to say as the venue's clock reaches `now`.
    public func tick(now: Timestamp) {
        state.withLock { s in
            for key in activeKeys(s) where !key.topic.isPrivate {
                guard let st = s.topics[key] else { continue }
                let (messages, next) = market.update(key.topic, on: key.path, state: st, to: now)
                s.topics[key] = next
                for m in messages { publish(&s, key, m) }
            }
        }
    }

    /// Publishes a private topic's message (from the account feed) to every authenticated subscriber.
    public func publishPrivate(_ topic: BybitStreamTopic, _ message: String) {
        precondition(topic.isPrivate)
        state.withLock { s in
            let key = TopicKey(path: .privateStream, topic: topic)
            publish(&s, key, message)
            if topic == .execution && faults.duplicateExecutionEvery > 0 {
                s.executionCount += 1
                if s.executionCount % faults.duplicateExecutionEvery == 0 {
                    s.stats.duplicates += 1
                    publish(&s, key, message)
                }
            }
        }
    }

    /// Subscribed or orphaned topics, in a fixed order.
    private func activeKeys(_ s: State) -> [TopicKey] {
        var keys = Set(s.orphans.keys)
        for c in s.connections.values { for t in c.topics { keys.insert(TopicKey(path: c.path, topic: t)) } }
        return keys.sorted { ($0.path.rawValue, $0.topic.description) < ($1.path.rawValue, $1.topic.description) }
    }

    private func publish(_ s: inout State, _ key: TopicKey, _ message: String) {
        let orphaned = s.orphans[key] ?? 0
        s.stats.published += orphaned
        s.stats.lost += orphaned
        for id in s.connections.keys.sorted() where s.connections[id]!.path == key.path && s.connections[id]!.topics.contains(key.topic) {
            deliver(&s, id, message)
        }
    }

    /// One data message to one connection, through the drop and lose faults. A connection
    /// already killed (its subscribe snapshots are still being generated) gets nothing.
    private func deliver(_ s: inout State, _ id: Int, _ message: String) {
        s.stats.published += 1
        guard s.connections[id]?.killed == false else {
            s.stats.lost += 1
            return
        }
        s.dataCount += 1
        let phase = faults.dropEvery > 0 ? s.dataCount % faults.dropEvery : -1
        let lose = faults.loseBeforeDrop > 0 && (phase == 0 || phase > faults.dropEvery - faults.loseBeforeDrop)
        if lose {
            s.stats.lost += 1
        } else {
            s.connections[id]?.enqueued += 1
            s.connections[id]?.outbox.yield(.text(message, isData: true))
        }
        if phase == 0 {
            s.stats.drops += 1
            kill(&s, id)
        }
    }
}
