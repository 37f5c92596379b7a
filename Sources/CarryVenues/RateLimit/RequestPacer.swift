// Pacing and backoff shared by the Bybit clients: a token per request from the endpoint
// group's bucket, and exponential backoff with equal jitter from a seeded generator (so a
// test replays the same waits from its seed). Time only through the injected clock.

import CarryCore

/// The rate limiter and the jitter source of one client.
struct RequestPacer {
    private(set) var limiter: RateLimiter
    private var rng: SplitMix64
    let backoffBaseMs: Int64
    let backoffMaxMs: Int64

    init(options: BybitClientOptions, nowMs: Int64) {
        limiter = RateLimiter(configs: options.rateLimits, fallback: options.defaultRateLimit, safety: options.safety, nowMs: nowMs)
        rng = SplitMix64(seed: options.jitterSeed)
        backoffBaseMs = options.backoffBaseMs
        backoffMaxMs = options.backoffMaxMs
    }

    /// Waits until `group` has a token, then spends it; returns the time waited.
    mutating func pace(_ group: EndpointGroup, clock: any VenueClock) -> Int64 {
        var waited: Int64 = 0
        while true {
            let d = limiter.delayMs(group, nowMs: clock.nowMs)
            if d <= 0 { break }
            waited += d
            clock.sleep(ms: d)
        }
        limiter.take(group, nowMs: clock.nowMs)
        return waited
    }

    /// Exponential backoff with equal jitter: half fixed, half random.
    mutating func backoff(_ attempt: Int) -> Int64 {
        Backoff.equalJitterMs(attempt: attempt, baseMs: backoffBaseMs, maxMs: backoffMaxMs, rng: &rng)
    }

    /// Corrects a group from a response's rate-limit headers.
    mutating func observe(_ response: HTTPResponse, group: EndpointGroup, venueNowMs: Int64?, nowMs: Int64) -> RateLimitStatus? {
        let status = RateLimitStatus(headers: response)
        if let status { limiter.observe(status, group: group, venueNowMs: venueNowMs, nowMs: nowMs) }
        return status
    }

    /// No request of `group` for `forMs`.
    mutating func block(_ group: EndpointGroup, forMs: Int64, nowMs: Int64) {
        limiter.block(group, forMs: forMs, nowMs: nowMs)
    }

    /// The wait a rate-limit answer asks for: the venue's reset when it gave one, else backoff;
    /// the group is blocked for it.
    mutating func rateLimitWait(_ group: EndpointGroup, status: RateLimitStatus?, venueNowMs: Int64?, attempt: Int, nowMs: Int64) -> Int64 {
        var wait = backoff(attempt)
        if let venueWait = limiter.resetDelay(status, venueNowMs: venueNowMs) { wait = min(max(venueWait, 1), backoffMaxMs) }
        limiter.block(group, forMs: wait, nowMs: nowMs)
        return wait
    }
}
