// What one stream does with the frames of its connections, apart from the socket: replies
// (auth, subscribe, pong) tracked, data turned into typed messages (tickers merged, funding
// executions told apart from fills, duplicate executions dropped), and the point after a
// reconnect at which the engine must resync over REST. Pure, so it is tested frame by frame.
//
// Invariants: a reconnect's `resyncRequired` comes only once every resubscription has been
// acknowledged, so whatever the engine then reads over REST is followed by live messages with
// no hole between; an `execId` seen once is never delivered again (the venue may resend an
// execution, and a reconnect may replay one).

import CarryCore

/// A typed message from the stream client.
public enum BybitStreamMessage: Sendable, Equatable {
    /// A connection opened (`connection` counts from 1) and its requests were sent.
    case connected(connection: Int)
    /// Auth accepted (private stream).
    case authenticated(connection: Int)
    /// Every subscription of the connection was acknowledged.
    case subscribed(connection: Int, topics: [String])
    /// A ticker with every delta so far merged onto its snapshot.
    case ticker(BybitStreamTicker)
    case orderbookTop(BybitOrderbookTop)
    case trade(BybitPublicTrade)
    case kline(BybitStreamKline)
    case order(BybitOrder)
    /// A fill (execType other than `Funding`).
    case execution(BybitExecution)
    /// A funding settlement reported on the execution topic (execType `Funding`): not a fill.
    case fundingExecution(BybitExecution)
    case position(BybitPosition)
    case wallet(BybitWallet)
    /// The connection ended; anything sent until the next `resyncRequired` may be lost.
    case disconnected(connection: Int, reason: String)
    /// After a reconnect, once resubscribed: state built from the stream may have missed
    /// messages (private streams carry no gap-free sequence). Resync over REST before trusting it.
    case resyncRequired(connection: Int)
    /// Something went wrong that the caller journals; the stream goes on (auth refusal ends it).
    case error(BybitStreamError)
}

/// A stream problem as a value.
public struct BybitStreamError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// A frame did not parse (`parse` holds the hash and length of its bytes).
        case malformed
        /// A tickers delta before its snapshot.
        case deltaWithoutSnapshot
        /// The venue refused a subscription.
        case subscribeRejected
        /// The venue refused the auth handshake: wrong key or signature, or an expired request.
        case authRejected
        /// The connection could not be opened or broke.
        case connection
    }

    public var code: Code
    public var message: String
    public var parse: BybitStreamParseError?

    public init(_ code: Code, _ message: String, parse: BybitStreamParseError? = nil) {
        self.code = code
        self.message = message
        self.parse = parse
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// The frame-level state of one stream across its connections.
public struct BybitStreamSession: Sendable {
    /// The connection in progress (1 for the first).
    public private(set) var connection = 0
    private var pendingSubscribes = 0
    private var topics: [String] = []
    private var merger = BybitTickerMerger()
    private var seenExecIds: Set<String> = []
    private var execIdOrder: [String] = []
    private var execIdHead = 0
    /// How many exec ids are remembered for de-duplication.
    public let execIdMemory: Int
    /// Executions dropped because their `execId` had been delivered.
    public private(set) var duplicateExecutions = 0
    /// Pongs and ping replies received.
    public private(set) var pongs = 0
    /// Frames that carried topic data (duplicates included), to compare with what a venue wrote.
    public private(set) var dataFrames = 0

    public init(execIdMemory: Int = 10_000) {
        precondition(execIdMemory >= 1)
        self.execIdMemory = execIdMemory
    }

    /// A new connection is open and `subscribeRequests` subscribe ops for `topics` are sent.
    public mutating func opened(subscribeRequests: Int, topics: [BybitStreamTopic]) -> [BybitStreamMessage] {
        connection += 1
        pendingSubscribes = subscribeRequests
        self.topics = topics.map(\.description)
        merger.reset()
        var out: [BybitStreamMessage] = [.connected(connection: connection)]
        if subscribeRequests == 0 { out += allSubscribed() }
        return out
    }

    /// The messages of one text frame.
    public mutating func receive(_ bytes: [UInt8]) -> [BybitStreamMessage] {
        switch BybitStreamParser.parse(bytes) {
        case .failure(let e): return [.error(BybitStreamError(.malformed, e.message, parse: e))]
        case .success(let frame): return handle(frame)
        }
    }

    mutating func handle(_ frame: BybitStreamFrame) -> [BybitStreamMessage] {
        if case .reply = frame {} else { dataFrames += 1 }
        switch frame {
        case .reply(let r): return reply(r)
        case .ticker(let u):
            do { return [.ticker(try merger.apply(u))] } catch { return [.error(BybitStreamError(.deltaWithoutSnapshot, error.description))] }
        case .orderbookTop(let b): return [.orderbookTop(b)]
        case .trades(let list): return list.map { .trade($0) }
        case .klines(let list): return list.map { .kline($0) }
        case .orders(let list): return list.map { .order($0) }
        case .executions(let list): return list.compactMap { execution($0) }
        case .positions(let list): return list.map { .position($0) }
        case .wallets(let list): return list.map { .wallet($0) }
        }
    }

    mutating func reply(_ r: BybitOpReply) -> [BybitStreamMessage] {
        switch r.op {
        case "ping", "pong":
            pongs += 1
            return []
        case "auth":
            return r.success ? [.authenticated(connection: connection)] : [.error(BybitStreamError(.authRejected, "the venue refused auth: \(r.retMsg)"))]
        case "subscribe":
            guard r.success else { return [.error(BybitStreamError(.subscribeRejected, "the venue refused a subscription: \(r.retMsg)"))] }
            guard pendingSubscribes > 0 else { return [] }
            pendingSubscribes -= 1
            return pendingSubscribes == 0 ? allSubscribed() : []
        default:
            return []
        }
    }

    private func allSubscribed() -> [BybitStreamMessage] {
        var out: [BybitStreamMessage] = [.subscribed(connection: connection, topics: topics)]
        if connection > 1 { out.append(.resyncRequired(connection: connection)) }
        return out
    }

    private mutating func execution(_ e: BybitExecution) -> BybitStreamMessage? {
        guard seenExecIds.insert(e.execId).inserted else {
            duplicateExecutions += 1
            return nil
        }
        if execIdOrder.count < execIdMemory {
            execIdOrder.append(e.execId)
        } else {
            seenExecIds.remove(execIdOrder[execIdHead])
            execIdOrder[execIdHead] = e.execId
            execIdHead = (execIdHead + 1) % execIdMemory
        }
        return e.isFunding ? .fundingExecution(e) : .execution(e)
    }

    /// The connection ended.
    public func closed(reason: String) -> BybitStreamMessage { .disconnected(connection: connection, reason: reason) }
}
