// The liquidation price of each held perp position, remembered per instrument with the entry
// price and side it was computed for. The margin buffer is checked on every bar of a held
// pair's perp leg; the liquidation price only changes when the entry does (a fill), and
// computing it takes three 128-bit divisions.
//
// Invariant: `price(…)` returns exactly `margin.liquidationPrice(entry:short:)`; the memo is
// not state (two memos are equal whatever they hold), so a reducer rebuilt from its journal
// equals the one that wrote it.

/// Remembered liquidation prices, by perp instrument index.
struct LiquidationMemo: Sendable, Equatable {
    private struct Entry: Sendable {
        var entry: Fixed
        var short: Bool
        var price: Fixed
    }

    private var byInstrument: [Entry?] = []

    /// The liquidation price of a position of `id` entered at `entry` (`short` side).
    mutating func price(_ id: InstrumentId, entry: Fixed, short: Bool, margin: MarginModel) -> Fixed {
        let i = id.index
        if i < byInstrument.count, let e = byInstrument[i], e.short == short, e.entry.isIdentical(to: entry) { return e.price }
        let price = margin.liquidationPrice(entry: entry, short: short)
        while byInstrument.count <= i { byInstrument.append(nil) }
        byInstrument[i] = Entry(entry: entry, short: short, price: price)
        return price
    }

    /// A cache: never part of the reducer's state.
    static func == (a: LiquidationMemo, b: LiquidationMemo) -> Bool { true }
}
