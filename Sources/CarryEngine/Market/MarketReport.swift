// The per-stream report `carry import` and `carry gaps` print: count, first and last event
// time, and every hole found from the stream's cadence. Gaps are reported, never filled.

public import CarryCore

/// One stream of a market journal, summarised.
public struct StreamReport: Sendable {
    public var stream: MarketStream
    /// `binance BTCUSDT spot 1h bars`.
    public var name: String
    public var count: Int
    public var first: Timestamp?
    public var last: Timestamp?
    public var gaps: [Gap]

    /// Observations the gaps are missing.
    public var missing: Int { gaps.reduce(0) { $0 + $1.missing } }
}

extension MarketJournal {
    /// Every stream in stream order (instrument id, bars before funding).
    public func streamReports() throws -> [StreamReport] {
        try gapReport().map { entry in
            StreamReport(stream: entry.stream, name: describe(entry.stream), count: entry.census.count,
                         first: entry.census.first, last: entry.census.last, gaps: entry.census.gaps)
        }
    }
}

/// Renders stream reports as aligned text.
public enum MarketReportText {
    /// A table with one line per stream and one indented line per gap. With
    /// `gapsOnly`, streams without gaps are left out.
    public static func render(_ reports: [StreamReport], gapsOnly: Bool = false) -> String {
        let shown = gapsOnly ? reports.filter { !$0.gaps.isEmpty } : reports
        let nameWidth = max(6, shown.map(\.name.count).max() ?? 0)
        var out = pad("stream", nameWidth) + "  " + "count".leftPadded(7) + "  " + pad("first", 24) + "  " + pad("last", 24) + "  gaps\n"
        for r in shown {
            let gaps = r.gaps.isEmpty ? "none" : "\(r.gaps.count) (\(r.missing) missing)"
            out += pad(r.name, nameWidth) + "  " + String(r.count).leftPadded(7) + "  " + pad(r.first?.iso8601 ?? "-", 24) + "  "
                + pad(r.last?.iso8601 ?? "-", 24) + "  " + gaps + "\n"
            for g in r.gaps {
                out += "    gap after \(g.after.iso8601), next \(g.before.iso8601): \(g.missing) missing\n"
            }
        }
        let totalGaps = reports.reduce(0) { $0 + $1.gaps.count }
        let streamsWithGaps = reports.filter { !$0.gaps.isEmpty }.count
        out += "\(reports.count) streams, \(reports.reduce(0) { $0 + $1.count }) records; \(totalGaps) gaps in \(streamsWithGaps) streams (reported, never filled)\n"
        return out
    }

    static func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
}
