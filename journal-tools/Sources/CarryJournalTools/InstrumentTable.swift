// Instrument names as a journal defines them.
//
// Invariants: a name comes only from `instrument.defined` events in the journal being read
// (a run journal carries the definitions of what it trades); the latest definition of an id
// wins; an id without a definition prints as `#id`, never as a guess. Lookups only: nothing
// iterates the dictionary for output (`all` sorts by id).

public import CarryCore

/// Maps instrument ids to the names tools print and filter by.
public struct InstrumentTable: Sendable {
    var definitions: [InstrumentId: InstrumentDefined] = [:]
    var venues: [Venue] = []

    /// An empty table.
    public init() {}

    /// Records a definition (later ones replace earlier ones for the same id).
    public mutating func add(_ definition: InstrumentDefined) {
        definitions[definition.id] = definition
        if !venues.contains(definition.venue) { venues.append(definition.venue) }
    }

    /// The definition of `id`, if the journal has one.
    public func definition(_ id: InstrumentId) -> InstrumentDefined? { definitions[id] }

    /// Every definition, by id.
    public var all: [InstrumentDefined] { definitions.values.sorted { $0.id < $1.id } }

    /// `BTCUSDT.linear`, `BTCUSDT.spot` (spot and perp share the venue's symbol, so the kind
    /// is part of the name); prefixed by the venue (`binance:BTCUSDT.linear`) when the
    /// journal defines instruments of more than one venue; `#7` when undefined.
    public func name(_ id: InstrumentId) -> String {
        guard let d = definitions[id] else { return id.description }
        let base = "\(d.symbol).\(d.kind.description)"
        return venues.count > 1 ? "\(d.venue.description):\(base)" : base
    }

    /// The ids a `--symbol` argument selects: a full name (`BTCUSDT.linear`,
    /// `bybit:BTCUSDT.spot`), a bare symbol (every kind of it), or an id (`#3` or `3`).
    /// Case-insensitive. Sorted by id.
    public func resolve(_ text: String) -> [InstrumentId] {
        let wanted = text.lowercased()
        if let raw = UInt32(wanted.hasPrefix("#") ? String(wanted.dropFirst()) : wanted) {
            return [InstrumentId(raw)]
        }
        return all.filter { d in
            let symbol = d.symbol.lowercased()
            let kind = "\(symbol).\(d.kind.description)"
            return wanted == symbol || wanted == kind || wanted == "\(d.venue.description):\(kind)"
                || wanted == "\(d.venue.description):\(symbol)"
        }.map(\.id)
    }
}
