/// "Did you mean" for symbols (fetch, backtest and series messages): edit distance, with a shared base asset or prefix ranking first.
public enum SymbolSuggestions {
    /// Up to `limit` symbols of `candidates` closest to `symbol` (ties in the order given:
    /// a venue's or journal's listing order puts the usual pair first).
    public static func closest(to symbol: String, in candidates: [String], limit: Int) -> [String] {
        let target = symbol.uppercased()
        var scored: [(score: Int, rank: Int, name: String)] = []
        for (rank, name) in candidates.enumerated() {
            var score = ConfigReader.editDistance(target, name)
            let prefix = zip(target.utf8, name.utf8).prefix { $0 == $1 }.count
            if prefix >= 3 { score -= 1 }
            if score <= max(2, target.utf8.count / 3) { scored.append((score, rank, name)) }
        }
        scored.sort { ($0.score, $0.rank) < ($1.score, $1.rank) }
        return scored.prefix(limit).map(\.name)
    }
}
