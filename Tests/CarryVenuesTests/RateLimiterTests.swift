@testable import CarryVenues
import Testing

/// Token buckets on caller-supplied time: refill, correction from the venue's headers, and
/// venue-imposed waits.
@Suite("Rate limiter")
struct RateLimiterTests {
    @Test("a bucket lets the burst through at once, then one request per refill period")
    func burstThenRefill() {
        var b = TokenBucket(burst: 5, refillPerSecond: 10, nowMs: 1_000)
        for _ in 0..<5 {
            #expect(b.delayMs(1_000) == 0)
            b.take(1_000)
        }
        #expect(b.delayMs(1_000) == 100)
        #expect(b.delayMs(1_050) == 50)
        #expect(b.delayMs(1_100) == 0)
        b.take(1_100)
        #expect(b.delayMs(1_100) == 100)
    }

    @Test("refill never exceeds the burst")
    func refillCapped() {
        var b = TokenBucket(burst: 3, refillPerSecond: 100, nowMs: 0)
        b.take(0)
        _ = b.delayMs(60_000)
        #expect(b.tokens == 3)
    }

    @Test("a block holds every request until it passes, and is never shortened")
    func block() {
        var b = TokenBucket(burst: 5, refillPerSecond: 10, nowMs: 0)
        b.block(untilMs: 700, nowMs: 0)
        #expect(b.delayMs(0) == 700)
        b.block(untilMs: 300, nowMs: 100)
        #expect(b.delayMs(100) == 600)
        #expect(b.delayMs(700) > 0)   // emptied: the first token comes one refill period later
        #expect(b.delayMs(800) == 0)
    }

    @Test("headers: X-Bapi-Limit sizes the bucket to safety × limit per window")
    func headerResize() {
        var r = RateLimiter(configs: [:], fallback: RateLimitConfig(requestsPerSecond: 50, burst: 20), safety: 0.8, nowMs: 0)
        r.observe(RateLimitStatus(limit: 10, remaining: 9, resetMs: nil), group: .kline, venueNowMs: nil, nowMs: 0)
        let b = r.bucket(.kline)
        // allowed = 8 per second: burst 2 (a quarter), refill 6/s; burst + refill·window = 8.
        #expect(b.burst == 2)
        #expect(abs(b.refillPerMs * 1000 - 6) < 1e-9)
        #expect(b.burst + b.refillPerMs * 1000 <= 0.8 * 10)
        // Other groups are untouched.
        #expect(r.bucket(.fundingHistory).burst == 20)
    }

    @Test("headers: few remaining caps the tokens; none remaining blocks until the venue's reset")
    func headerCapAndBlock() {
        var r = RateLimiter(configs: [.kline: RateLimitConfig(requestsPerSecond: 5, burst: 5)], fallback: RateLimitConfig(requestsPerSecond: 5, burst: 5),
                            safety: 0.8, nowMs: 0)
        r.observe(RateLimitStatus(limit: 100, remaining: 21, resetMs: nil), group: .kline, venueNowMs: nil, nowMs: 0)
        #expect(abs(r.bucket(.kline).tokens - 1) < 1e-9)   // 21 − 0.2·100
        r.observe(RateLimitStatus(limit: 100, remaining: 0, resetMs: 5_000_450), group: .kline, venueNowMs: 5_000_000, nowMs: 10)
        #expect(r.delayMs(.kline, nowMs: 10) == 450)
        #expect(r.resetDelay(RateLimitStatus(limit: 1, remaining: 0, resetMs: 90), venueNowMs: 100) == nil)
    }

    @Test("the headers are read case-insensitively; absent or unreadable headers are no status")
    func headerParsing() {
        let ok = HTTPResponse(status: 200, headers: [("x-bapi-limit", "20"), ("X-Bapi-Limit-Status", " 7"), ("X-BAPI-LIMIT-RESET-TIMESTAMP", "1700000000123")], body: [])
        #expect(RateLimitStatus(headers: ok) == RateLimitStatus(limit: 20, remaining: 7, resetMs: 1_700_000_000_123))
        #expect(RateLimitStatus(headers: HTTPResponse(status: 200, headers: [("X-Bapi-Limit", "20")], body: [])) == nil)
        #expect(RateLimitStatus(headers: HTTPResponse(status: 200, headers: [("X-Bapi-Limit", "x"), ("X-Bapi-Limit-Status", "1")], body: [])) == nil)
    }

    @Test("paced by its buckets, a client never sends more than the advertised limit in any window")
    func neverOverLimit() {
        var r = RateLimiter(configs: [:], fallback: RateLimitConfig(requestsPerSecond: 10, burst: 5), safety: 0.8, nowMs: 0)
        let limit = 10
        var now: Int64 = 0
        var sent: [Int64] = []
        for _ in 0..<200 {
            let d = r.delayMs(.kline, nowMs: now)
            now += d
            r.take(.kline, nowMs: now)
            sent.append(now)
            let inWindow = sent.filter { $0 > now - 1000 }.count
            r.observe(RateLimitStatus(limit: limit, remaining: max(0, limit - inWindow), resetMs: nil), group: .kline, venueNowMs: nil, nowMs: now)
            now += 3   // the request's round trip
        }
        var worst = 0
        for (i, t) in sent.enumerated() {
            worst = max(worst, sent[i...].prefix { $0 < t + 1000 }.count)
        }
        #expect(worst <= limit)
        #expect(worst >= 6)   // and it does not crawl either
        #expect(now < 40_000)
    }
}
