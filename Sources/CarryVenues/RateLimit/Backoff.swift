// Exponential backoff with equal jitter, shared by the REST client's retries and the
// WebSocket client's reconnects. Pure: the generator is passed in, so a test replays the
// same waits from its seed.

public import CarryCore

/// Waits between attempts.
public enum Backoff {
    /// The wait before attempt `attempt` (1 = the first retry): `baseMs` doubled per attempt,
    /// capped at `maxMs`; half of it fixed, half drawn from `rng`. Always ≥ 1 ms and ≤ `maxMs`
    /// (when `maxMs` ≥ 1).
    public static func equalJitterMs(attempt: Int, baseMs: Int64, maxMs: Int64, rng: inout SplitMix64) -> Int64 {
        let exp = min(maxMs, baseMs << Int64(min(max(attempt, 1) - 1, 20)))
        let half = max(1, exp / 2)
        return half + Int64(rng.next() % UInt64(half + 1))
    }
}
