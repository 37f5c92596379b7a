// Client-side rate limiting: one token bucket per endpoint group, sized from config and
// corrected by what the venue says in its headers.
//
// Why the bucket is sized as it is: a bucket of burst B refilled at r per ms lets through at
// most B + r·W requests in any window of W ms. Bybit counts requests in a rolling window
// (one second) against the limit L it advertises in `X-Bapi-Limit`, so the client keeps
// B + r·W ≤ safety·L, with safety < 1 to absorb the jitter between when we send and when
// the venue counts. Then no request of ours is ever over the advertised limit, whatever
// the timing.
//
// Invariants: pure arithmetic on times passed in (no clock read here); tokens never exceed
// the burst; a block (after a 10006/429/403 or a status of zero remaining) is only ever
// extended, never shortened, until it passes.

import Foundation

/// A token bucket on caller-supplied time.
public struct TokenBucket: Sendable, Equatable {
    /// Maximum tokens (the burst).
    public private(set) var burst: Double
    /// Tokens added per millisecond.
    public private(set) var refillPerMs: Double
    /// Tokens now (as of `updatedMs`).
    public private(set) var tokens: Double
    public private(set) var updatedMs: Int64
    /// No request before this time (a venue-imposed wait).
    public private(set) var blockedUntilMs: Int64 = 0

    /// A full bucket.
    public init(burst: Double, refillPerSecond: Double, nowMs: Int64) {
        precondition(burst >= 1 && refillPerSecond > 0, "a bucket needs a burst of at least 1 and a positive refill")
        self.burst = burst
        self.refillPerMs = refillPerSecond / 1000
        self.tokens = burst
        self.updatedMs = nowMs
    }

    mutating func refill(_ nowMs: Int64) {
        guard nowMs > updatedMs else { return }
        tokens = min(burst, tokens + Double(nowMs - updatedMs) * refillPerMs)
        updatedMs = nowMs
    }

    /// Milliseconds to wait before a request may go (0: now).
    public mutating func delayMs(_ nowMs: Int64) -> Int64 {
        refill(nowMs)
        if nowMs < blockedUntilMs { return blockedUntilMs - nowMs }
        if tokens >= 1 { return 0 }
        return max(1, Int64(((1 - tokens) / refillPerMs).rounded(.up)))
    }

    /// Spends one token (call when `delayMs` is 0).
    public mutating func take(_ nowMs: Int64) {
        refill(nowMs)
        precondition(tokens >= 1 && nowMs >= blockedUntilMs, "take() without waiting for delayMs()")
        tokens -= 1
    }

    /// Resizes the bucket to at most `burst` and `refillPerSecond`, keeping no more tokens
    /// than the new burst.
    public mutating func resize(burst newBurst: Double, refillPerSecond: Double, nowMs: Int64) {
        refill(nowMs)
        burst = max(1, newBurst)
        refillPerMs = max(refillPerSecond, 0.001) / 1000
        tokens = min(tokens, burst)
    }

    /// Caps the tokens (the venue says fewer requests remain than we thought).
    public mutating func cap(tokens limit: Double, nowMs: Int64) {
        refill(nowMs)
        tokens = min(tokens, max(0, limit))
    }

    /// No request before `untilMs`; the bucket is emptied so requests resume at the refill pace.
    public mutating func block(untilMs: Int64, nowMs: Int64) {
        refill(nowMs)
        blockedUntilMs = max(blockedUntilMs, untilMs)
        tokens = 0
        updatedMs = max(updatedMs, untilMs)
    }
}

/// Which bucket a request draws from. Bybit limits per endpoint; the public market
/// endpoints are grouped by path, the signed ones by what they touch (Bybit counts those per
/// account, not per IP: order create/cancel, position, account and wallet reads).
public enum EndpointGroup: String, Sendable, CaseIterable, Comparable {
    case fundingHistory = "market.funding"
    case kline = "market.kline"
    case instruments = "market.instruments"
    case tickers = "market.tickers"
    case time = "market.time"
    /// `/v5/order/*` and `/v5/execution/list`.
    case order = "private.order"
    /// `/v5/position/*`.
    case position = "private.position"
    /// `/v5/account/*` and `/v5/user/*`.
    case account = "private.account"

    public static func < (a: EndpointGroup, b: EndpointGroup) -> Bool { a.rawValue < b.rawValue }
}

/// The configured pace of one endpoint group.
public struct RateLimitConfig: Sendable, Equatable {
    /// Requests per second the client allows itself before the venue says otherwise.
    public var requestsPerSecond: Double
    /// The burst.
    public var burst: Double

    /// Builds a config.
    public init(requestsPerSecond: Double, burst: Double) {
        self.requestsPerSecond = requestsPerSecond
        self.burst = burst
    }
}

/// What the venue said about the limit in one response.
public struct RateLimitStatus: Sendable, Equatable {
    /// `X-Bapi-Limit`: requests allowed per window.
    public var limit: Int
    /// `X-Bapi-Limit-Status`: requests left in the current window.
    public var remaining: Int
    /// `X-Bapi-Limit-Reset-Timestamp`: when the window frees up (venue clock, ms).
    public var resetMs: Int64?

    /// Builds a status.
    public init(limit: Int, remaining: Int, resetMs: Int64?) {
        self.limit = limit
        self.remaining = remaining
        self.resetMs = resetMs
    }

    /// Reads the three headers; nil when the limit headers are absent or unreadable.
    public init?(headers response: HTTPResponse) {
        guard let l = response.header("X-Bapi-Limit").flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }),
              let r = response.header("X-Bapi-Limit-Status").flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) else { return nil }
        self.init(limit: l, remaining: r, resetMs: response.header("X-Bapi-Limit-Reset-Timestamp").flatMap { Int64($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
    }
}

/// Token buckets per endpoint group.
public struct RateLimiter: Sendable {
    private var buckets: [EndpointGroup: TokenBucket] = [:]
    private let configs: [EndpointGroup: RateLimitConfig]
    /// The share of an advertised limit the client allows itself (< 1).
    public let safety: Double
    /// The venue's window for `X-Bapi-Limit`, in ms (Bybit: one second).
    public let windowMs: Double

    /// Buckets from `configs` (groups without one use `fallback`).
    public init(configs: [EndpointGroup: RateLimitConfig], fallback: RateLimitConfig, safety: Double = 0.8, windowMs: Double = 1000, nowMs: Int64) {
        var all: [EndpointGroup: RateLimitConfig] = [:]
        for g in EndpointGroup.allCases { all[g] = configs[g] ?? fallback }
        self.configs = all
        self.safety = safety
        self.windowMs = windowMs
        for g in EndpointGroup.allCases {
            let c = all[g]!
            buckets[g] = TokenBucket(burst: c.burst, refillPerSecond: c.requestsPerSecond, nowMs: nowMs)
        }
    }

    /// The bucket of a group (tests, stats).
    public func bucket(_ group: EndpointGroup) -> TokenBucket { buckets[group]! }

    /// Milliseconds before a request of `group` may go.
    public mutating func delayMs(_ group: EndpointGroup, nowMs: Int64) -> Int64 { buckets[group]!.delayMs(nowMs) }

    /// Spends a token of `group`.
    public mutating func take(_ group: EndpointGroup, nowMs: Int64) { buckets[group]!.take(nowMs) }

    /// Corrects `group` from the venue's headers. `venueNowMs` is the venue's clock in the
    /// same response (its `time` field), so a reset timestamp becomes a duration without
    /// trusting our clock against theirs.
    public mutating func observe(_ status: RateLimitStatus, group: EndpointGroup, venueNowMs: Int64?, nowMs: Int64) {
        guard status.limit > 0 else { return }
        let config = configs[group]!
        let allowed = safety * Double(status.limit)                  // per window
        let burst = max(1, min(config.burst, (allowed * 0.25).rounded(.down)))
        let perSecond = min(config.requestsPerSecond, max(0.5, (allowed - burst)) * 1000 / windowMs)
        buckets[group]!.resize(burst: burst, refillPerSecond: perSecond, nowMs: nowMs)
        // What is left in the venue's window bounds what we may still send in it.
        buckets[group]!.cap(tokens: Double(status.remaining) - (1 - safety) * Double(status.limit), nowMs: nowMs)
        if status.remaining <= 0 {
            block(group, forMs: resetDelay(status, venueNowMs: venueNowMs) ?? Int64(windowMs), nowMs: nowMs)
        }
    }

    /// The venue's wait, from its reset timestamp, in ms (nil when it gave none).
    public func resetDelay(_ status: RateLimitStatus?, venueNowMs: Int64?) -> Int64? {
        guard let reset = status?.resetMs, let now = venueNowMs, reset > now else { return nil }
        return reset - now
    }

    /// No request of `group` for `forMs`.
    public mutating func block(_ group: EndpointGroup, forMs: Int64, nowMs: Int64) {
        buckets[group]!.block(untilMs: nowMs + max(0, forMs), nowMs: nowMs)
    }
}
