// What stands between a request and the data: Bybit's rate limit (a rolling window per
// endpoint, advertised in X-Bapi-Limit headers, 10006 beyond it) and the faults a test
// switches on. Also the counters a test reads back (`/sim/stats`, and stdout on exit).
//
// Invariants: one decision per request, under one lock, in arrival order; times are passed
// in (milliseconds on any monotonic clock), so the gate is testable without sleeping.
// A request that arrives while its endpoint's window is already full is a violation: the
// client sent more than the limit it was told. Injected faults are never violations.

import CarryCore
import Synchronization

/// A fault the simulator can inject.
public enum SimFaultKind: String, Sendable, CaseIterable {
    /// HTTP 200 with retCode 10006 "Too many visits!" (and no remaining requests advertised).
    case rateLimit = "10006"
    /// HTTP 429 Too Many Requests.
    case http429 = "429"
    /// HTTP 503 from a failing gateway.
    case http5xx = "5xx"
    /// The answer comes `slowMs` late.
    case slow
    /// The connection is closed part-way through the body.
    case drop
    /// A rate-limit storm: `stormLength` consecutive requests answered 10006.
    case storm
    /// An order create refused for insufficient balance (110007, spot 170131).
    case rejectBalance = "reject-balance"
    /// An order create refused as below the minimum order value (110094, spot 170140).
    case rejectMinNotional = "reject-min-notional"
    /// An order placed, then the connection closed before the answer was complete.
    case dropAfterAccept = "drop-after-accept"
    /// An order placed, then HTTP 503 instead of the answer.
    case fail5xxAfterAccept = "5xx-after-accept"
    /// An accepted order fills in two parts, a bar apart.
    case partial

    /// Kinds counted on order creates (by the account or the private API), not on every request.
    public var isOrderFault: Bool {
        switch self {
        case .rejectBalance, .rejectMinNotional, .dropAfterAccept, .fail5xxAfterAccept, .partial: return true
        default: return false
        }
    }
}

/// Which faults fire, and when: each on every `every`-th market request, at a phase chosen
/// from `seed`, the first matching kind winning.
public struct SimFaultPlan: Sendable, Equatable {
    public var faults: [(kind: SimFaultKind, every: Int)]
    public var seed: UInt64
    public var slowMs: Int
    /// Requests answered 10006 in a row once a storm starts.
    public var stormLength = 5
    /// A maintenance window: from `startMs` after the server starts, for `lengthMs`, every
    /// request is answered 503.
    public var maintenance: (startMs: Int64, lengthMs: Int64)?

    public init(faults: [(kind: SimFaultKind, every: Int)] = [], seed: UInt64 = 1, slowMs: Int = 1500) {
        self.faults = faults
        self.seed = seed
        self.slowMs = slowMs
    }

    /// Every how many order creates an order fault fires (0: never).
    public func every(_ kind: SimFaultKind) -> Int { faults.first { $0.kind == kind }?.every ?? 0 }

    /// Parses `KIND:N` (`10006:7`, `429:11`, `5xx:5`, `slow:13`, `drop:17`).
    public static func parse(_ text: String) -> (kind: SimFaultKind, every: Int)? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let kind = SimFaultKind(rawValue: String(parts[0]).lowercased()), let n = Int(parts[1]), n >= 1 else { return nil }
        return (kind, n)
    }

    public static func == (a: SimFaultPlan, b: SimFaultPlan) -> Bool {
        a.seed == b.seed && a.slowMs == b.slowMs && a.faults.map(\.kind) == b.faults.map(\.kind) && a.faults.map(\.every) == b.faults.map(\.every)
            && a.stormLength == b.stormLength && a.maintenance?.startMs == b.maintenance?.startMs && a.maintenance?.lengthMs == b.maintenance?.lengthMs
    }
}

/// The advertised rate limit.
public struct SimRateLimit: Sendable, Equatable {
    /// Requests per window per endpoint (`X-Bapi-Limit`).
    public var limit: Int
    public var windowMs: Int64

    public init(limit: Int, windowMs: Int64 = 1000) {
        precondition(limit >= 1 && windowMs >= 1)
        self.limit = limit
        self.windowMs = windowMs
    }
}

/// The rate-limit headers of one answer.
public struct SimLimitHeaders: Sendable, Equatable {
    public var limit: Int
    public var remaining: Int
    /// Milliseconds from now until the window has room again.
    public var resetInMs: Int64
}

/// What to do with one request.
public enum SimDecision: Sendable, Equatable {
    /// Serve it (after `delayMs`).
    case serve(SimLimitHeaders, delayMs: Int)
    /// Over the limit (a violation) or an injected 10006.
    case reject10006(SimLimitHeaders)
    case reject429(SimLimitHeaders)
    case fail5xx
    case drop
    /// Inside a maintenance window: 503 for everything.
    case maintenance
}

/// Counters since start.
public struct SimStats: Sendable, Equatable {
    /// Market requests received.
    public var requests = 0
    /// Requests answered with data.
    public var served = 0
    /// Requests that arrived over the advertised limit.
    public var limitViolations = 0
    /// The most requests any endpoint received within one window (rejected ones included).
    public var maxInWindow = 0
    /// Faults injected, by kind.
    public var injected: [SimFaultKind: Int] = [:]
    /// Requests answered 503 inside a maintenance window.
    public var maintenanceRejects = 0

    /// `{"requests":…,"served":…,"limitViolations":…,"maxInWindow":…,"limit":…,"injected":{…}}`.
    public func json(limit: Int) -> String {
        let inj = SimFaultKind.allCases.map { "\"\($0.rawValue)\":\(injected[$0] ?? 0)" }.joined(separator: ",")
        return "{\"requests\":\(requests),\"served\":\(served),\"limitViolations\":\(limitViolations),\"maxInWindow\":\(maxInWindow),\"limit\":\(limit),"
            + "\"maintenanceRejects\":\(maintenanceRejects),\"injected\":{\(inj)}}"
    }
}

/// Rate limiting, fault injection and counters, shared by every connection.
public final class SimGate: Sendable {
    public let rateLimit: SimRateLimit
    public let plan: SimFaultPlan
    private let phases: [Int]

    private struct State {
        var windows: [String: [Int64]] = [:]   // arrival times per endpoint, oldest first
        var counter = 0
        var stats = SimStats()
        var stormLeft = 0
        var maintenance: (startMs: Int64, endMs: Int64)?
    }
    private let state = Mutex(State())

    public init(rateLimit: SimRateLimit, plan: SimFaultPlan) {
        self.rateLimit = rateLimit
        self.plan = plan
        var rng = SplitMix64(seed: plan.seed)
        phases = plan.faults.map { Int(rng.next() % UInt64($0.every)) }
        if let m = plan.maintenance { state.withLock { $0.maintenance = (m.startMs, m.startMs + m.lengthMs) } }
    }

    /// Starts a maintenance window now (a test's switch).
    public func startMaintenance(nowMs: Int64, lengthMs: Int64) {
        state.withLock { $0.maintenance = (nowMs, nowMs + lengthMs) }
    }

    /// Counts a fault injected outside the gate (order faults).
    public func count(_ kind: SimFaultKind, _ n: Int = 1) {
        state.withLock { $0.stats.injected[kind, default: 0] += n }
    }

    /// Decides the fate of a request to `endpoint` arriving at `nowMs`.
    public func admit(_ endpoint: String, nowMs: Int64) -> SimDecision {
        state.withLock { s in
            s.counter += 1
            s.stats.requests += 1
            let n = s.counter
            if let m = s.maintenance, nowMs >= m.startMs, nowMs < m.endMs {
                s.stats.maintenanceRejects += 1
                return .maintenance
            }
            var window = s.windows[endpoint, default: []]
            let cutoff = nowMs - rateLimit.windowMs
            if let drop = window.firstIndex(where: { $0 > cutoff }) { window.removeFirst(drop) } else { window.removeAll() }
            let overLimit = window.count >= rateLimit.limit
            window.append(nowMs)
            s.windows[endpoint] = window
            s.stats.maxInWindow = max(s.stats.maxInWindow, window.count)
            let reset = max(1, window[0] + rateLimit.windowMs - nowMs)
            let headers = SimLimitHeaders(limit: rateLimit.limit, remaining: max(0, rateLimit.limit - window.count), resetInMs: reset)
            if overLimit {
                s.stats.limitViolations += 1
                return .reject10006(SimLimitHeaders(limit: rateLimit.limit, remaining: 0, resetInMs: reset))
            }
            if s.stormLeft > 0 {
                s.stormLeft -= 1
                s.stats.injected[.storm, default: 0] += 1
                return .reject10006(SimLimitHeaders(limit: rateLimit.limit, remaining: 0, resetInMs: reset))
            }
            for (i, fault) in plan.faults.enumerated() where !fault.kind.isOrderFault && (n + phases[i]) % fault.every == 0 {
                s.stats.injected[fault.kind, default: 0] += 1
                switch fault.kind {
                case .storm:
                    s.stormLeft = plan.stormLength - 1
                    return .reject10006(SimLimitHeaders(limit: rateLimit.limit, remaining: 0, resetInMs: reset))
                case .rejectBalance, .rejectMinNotional, .dropAfterAccept, .fail5xxAfterAccept, .partial:
                    continue
                case .rateLimit: return .reject10006(SimLimitHeaders(limit: rateLimit.limit, remaining: 0, resetInMs: reset))
                case .http429: return .reject429(SimLimitHeaders(limit: rateLimit.limit, remaining: 0, resetInMs: reset))
                case .http5xx: return .fail5xx
                case .drop: return .drop
                case .slow:
                    s.stats.served += 1
                    return .serve(headers, delayMs: plan.slowMs)
                }
            }
            s.stats.served += 1
            return .serve(headers, delayMs: 0)
        }
    }

    /// The counters so far.
    public var stats: SimStats { state.withLock { $0.stats } }
}
