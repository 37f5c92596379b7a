// Client order ids derived from the journal and the intent's seq, so a restart or a replay
// regenerates exactly the ids it sent before and a resend is refused by the venue as a
// duplicate instead of doubling an exposure.
//
// Form: "c" + the journal id's high 48 bits as 12 lower-case hex digits + "-" + the intent
// seq in decimal. At most 1 + 12 + 1 + 20 = 34 characters of [a-z0-9-]: valid for Bybit's
// orderLinkId (≤ 36 of [A-Za-z0-9_-]).

/// Client order ids (Bybit's `orderLinkId`).
public enum ClientOrderId {
    /// The longest id this scheme makes.
    public static let maxLength = 34

    /// The id of an intent journaled under `intentSeq` in journal `journal`.
    public static func make(journal: JournalId, intentSeq: UInt64) -> String {
        "c" + hex48(journal.high >> 16) + "-" + String(intentSeq)
    }

    /// The intent seq an id names, if it was made by `make` for this journal.
    public static func intentSeq(of id: String, journal: JournalId) -> UInt64? {
        let prefix = "c" + hex48(journal.high >> 16) + "-"
        guard id.hasPrefix(prefix) else { return nil }
        let digits = id.dropFirst(prefix.count)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let seq = UInt64(digits), String(seq) == digits else { return nil }
        return seq
    }

    /// True when `id` meets Bybit's orderLinkId rule: 1–36 characters of [A-Za-z0-9_-].
    public static func isValidForBybit(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard (1...36).contains(bytes.count) else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
        }
    }

    private static func hex48(_ v: UInt64) -> String {
        let s = String(v & 0xFFFF_FFFF_FFFF, radix: 16)
        return String(repeating: "0", count: 12 - s.count) + s
    }
}
