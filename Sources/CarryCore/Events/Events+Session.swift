// A trading session's own health, journaled periodically so that a report read from the
// journal alone can say how available the venue was (`carry report`).
//
// Not an engine input: the reducer never sees it, a replay writes it again as it was (like
// `run.started`), so it never affects a decision or parity.

/// A session's counts over one interval of wall time (deltas, not running totals, so the
/// records of a session continued across restarts simply add up).
public struct SessionStats: EventPayload {
    public static let kind = EventKind.sessionStats
    /// The wall time the counts cover, ms.
    public var intervalMs: UInt64
    /// Session loop steps completed.
    public var steps: UInt64
    /// Venue requests sent (REST, every attempt) and the attempts that failed (retried or given up).
    public var requests: UInt64
    public var failedRequests: UInt64
    /// Stream time connected and not connected, ms (0 and 0 for a session without streams).
    public var streamUpMs: UInt64
    public var streamDownMs: UInt64
    /// Stream reconnections.
    public var reconnects: UInt64

    /// Builds a stats record.
    public init(intervalMs: UInt64, steps: UInt64, requests: UInt64, failedRequests: UInt64, streamUpMs: UInt64 = 0, streamDownMs: UInt64 = 0,
                reconnects: UInt64 = 0) {
        self.intervalMs = intervalMs
        self.steps = steps
        self.requests = requests
        self.failedRequests = failedRequests
        self.streamUpMs = streamUpMs
        self.streamDownMs = streamDownMs
        self.reconnects = reconnects
    }

    public func encode(to w: inout ByteWriter) {
        w.write(intervalMs)
        w.write(steps)
        w.write(requests)
        w.write(failedRequests)
        w.write(streamUpMs)
        w.write(streamDownMs)
        w.write(reconnects)
    }

    public init(from r: inout ByteReader, version: UInt8) throws(CodecError) {
        try Self.requireVersion(version)
        intervalMs = try r.read(UInt64.self, "sessionStats.intervalMs")
        steps = try r.read(UInt64.self, "sessionStats.steps")
        requests = try r.read(UInt64.self, "sessionStats.requests")
        failedRequests = try r.read(UInt64.self, "sessionStats.failedRequests")
        streamUpMs = try r.read(UInt64.self, "sessionStats.streamUpMs")
        streamDownMs = try r.read(UInt64.self, "sessionStats.streamDownMs")
        reconnects = try r.read(UInt64.self, "sessionStats.reconnects")
        try r.finish("session.stats")
    }

    public var fields: [EventField] {
        [EventField("intervalMs", .uint(intervalMs)), EventField("steps", .uint(steps)), EventField("requests", .uint(requests)),
         EventField("failedRequests", .uint(failedRequests)), EventField("streamUpMs", .uint(streamUpMs)),
         EventField("streamDownMs", .uint(streamDownMs)), EventField("reconnects", .uint(reconnects))]
    }
}
