// The funding ledger of a live session: each funding payment the venue reports (its
// transaction log's SETTLEMENT row, journaled as `funding.paid`) matched, per settlement, to
// the one the engine expected when the settlement reached it (`funding.settled`): its own
// position × the mark × the settled rate, rounded as `FundingMath.payment`. The mark is the
// venue's (the row's): a venue settles at its mark price, which no market endpoint publishes
// and which differs from the engine's last close, so the engine's own estimate (at its last
// close) is kept for the message only. A match is exact: one row, the engine's position, the
// settled rate, and the amount the engine computes from them to the unit. The venue's row is
// the truth — it is what the portfolio books, whatever the match says; a difference is an
// `alert.raised` (`funding.mismatch`), a settlement nobody paid on a position the engine holds
// (`funding.missing`) or a payment for a settlement the engine never saw (`funding.unmatched`)
// is one too, once `graceMs` has passed without its other half.
//
// Either half may come first (a live session releases the venue's row just before the
// settlement it belongs to; a late row comes after). Pure and part of the reducer's state,
// so a fold of the journal rebuilds it and repeats its alerts byte for byte. Off in backtests
// and paper sessions: the simulated exchange's payments are the engine's own arithmetic.

/// Expected and paid funding, matched per settlement.
public struct FundingLedger: Sendable, Equatable {
    /// One settlement of one perpetual.
    public struct Key: Sendable, Hashable {
        public var instrument: UInt32
        public var settlementMs: Int64
    }

    /// What is known of a settlement not yet matched.
    public struct Entry: Sendable, Equatable {
        /// What the engine expected (nil until the settlement reached it).
        public var expected: FundingPaid?
        /// The venue's payments (normally one).
        public var paid: [FundingPaid] = []
    }

    /// How long one half waits for the other before the ledger says so.
    public static let graceMs: Int64 = Millis.hour

    public private(set) var open: [Key: Entry] = [:]
    /// Settlements matched to the unit, and those that differed (alerted).
    public private(set) var matched = 0
    public private(set) var differed = 0
    /// Halves that found no other half within the grace (alerted).
    public private(set) var unmatched = 0

    public init() {}

    /// The settlement reached the engine: position, mark and rate as it sees them. A flat
    /// position with no payment waiting expects nothing and leaves no entry.
    mutating func expect(_ expected: FundingPaid, symbol: String) -> AlertRaised? {
        let key = Key(instrument: expected.instrumentId.rawValue, settlementMs: expected.settlementTime.ms)
        var entry = open[key] ?? Entry()
        if entry.paid.isEmpty && expected.positionQty.isZero { return nil }
        entry.expected = expected
        return settle(key, entry, symbol: symbol)
    }

    /// The venue paid (or charged).
    mutating func paid(_ payment: FundingPaid, symbol: String) -> AlertRaised? {
        let key = Key(instrument: payment.instrumentId.rawValue, settlementMs: payment.settlementTime.ms)
        var entry = open[key] ?? Entry()
        entry.paid.append(payment)
        return settle(key, entry, symbol: symbol)
    }

    /// Matches an entry holding both halves; keeps it open otherwise.
    private mutating func settle(_ key: Key, _ entry: Entry, symbol: String) -> AlertRaised? {
        guard let expected = entry.expected, let last = entry.paid.last else {
            open[key] = entry
            return nil
        }
        open.removeValue(forKey: key)
        let total = entry.paid.reduce(Fixed.zero) { $0 + $1.amount }
        let due = expected.positionQty.isZero ? Fixed.zero
            : FundingMath.payment(positionQty: expected.positionQty, markPrice: last.markPrice, ratePerInterval: expected.ratePerInterval)
        if entry.paid.count == 1 && total == due && last.positionQty == expected.positionQty && last.ratePerInterval == expected.ratePerInterval {
            matched += 1
            return nil
        }
        differed += 1
        return AlertRaised(severity: .warning, code: "funding.mismatch",
                           message: "funding \(symbol) at \(expected.settlementTime.iso8601): the venue paid \(total) in \(entry.paid.count) row(s) "
                               + "(position \(last.positionQty), mark \(last.markPrice), rate \(last.ratePerInterval)); the engine expected \(due) "
                               + "(position \(expected.positionQty), rate \(expected.ratePerInterval), the venue's mark; \(expected.amount) at its last close "
                               + "\(expected.markPrice)). The venue's row is booked.")
    }

    /// Entries older than the grace at `now`, alerted and dropped, oldest first.
    mutating func expire(now: Timestamp, symbol: (InstrumentId) -> String) -> [AlertRaised] {
        let due = open.keys.filter { now.msSince(Timestamp(ms: $0.settlementMs)) > Self.graceMs }
            .sorted { ($0.settlementMs, $0.instrument) < ($1.settlementMs, $1.instrument) }
        var alerts: [AlertRaised] = []
        for key in due {
            guard let entry = open.removeValue(forKey: key) else { continue }
            unmatched += 1
            let name = symbol(InstrumentId(key.instrument))
            let at = Timestamp(ms: key.settlementMs).iso8601
            if let expected = entry.expected {
                alerts.append(AlertRaised(severity: .warning, code: "funding.missing",
                                          message: "funding \(name) at \(at): the engine expected \(expected.amount) on a position of \(expected.positionQty) "
                                              + "and the venue reported no payment within \(Self.graceMs / Millis.minute) min"))
            } else {
                let total = entry.paid.reduce(Fixed.zero) { $0 + $1.amount }
                alerts.append(AlertRaised(severity: .warning, code: "funding.unmatched",
                                          message: "funding \(name) at \(at): the venue paid \(total) for a settlement the engine never saw "
                                              + "(no funding.settled within \(Self.graceMs / Millis.minute) min); booked"))
            }
        }
        return alerts
    }
}
