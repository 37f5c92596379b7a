// Recovery is a fold: the engine's whole state — pairs, orders (unknown ones included), the
// kill switch, the halt, peak equity, cool-downs — is rebuilt by feeding every journaled
// input to a fresh reducer in seq order. Because each input's decisions are journaled right
// after it (the pipeline's order), the fold also checks them: the reducer must decide again,
// byte for byte, what the journal says it decided. Nothing is sent while folding; what was
// in flight is resolved afterwards (unsent intents are sent — their client order ids make a
// duplicate impossible — and unknown outcomes are queried).

/// Why a journal cannot be folded into an engine.
public struct RecoveryError: Error, Equatable, CustomStringConvertible {
    public var seq: UInt64
    public var message: String
    public var description: String { "seq \(seq): \(message)" }
}

/// Rebuilds an engine from its journal.
public struct Recovery: Sendable {
    public private(set) var reducer: CarryReducer
    /// The seq the next record must have.
    public private(set) var nextSeq: UInt64
    /// Decisions the last input produced that the journal has not shown yet.
    private var expected: [Decision] = []
    private var expectedHead = 0

    /// Starts from a fresh engine; the journal's first record must be `firstSeq`.
    public init(reducer: CarryReducer, firstSeq: UInt64 = 1) {
        self.reducer = reducer
        self.nextSeq = firstSeq
    }

    /// Folds one record. Throws on a seq gap, a decision the reducer does not make again, or a
    /// decision where none was due — each means the journal is not this engine's.
    public mutating func fold(_ r: RecordedEvent) throws(RecoveryError) {
        guard r.seq == nextSeq else { throw RecoveryError(seq: r.seq, message: "expected seq \(nextSeq): the journal has a gap or is out of order") }
        nextSeq += 1
        if expectedHead < expected.count {
            let d = expected[expectedHead]
            expectedHead += 1
            guard d.event == r.event, d.causation == r.causation else {
                throw RecoveryError(seq: r.seq, message: "the journal says \(r.event.kind) but the engine decides \(d.event.kind) here: config or code differs from the run's")
            }
            return
        }
        if let input = EngineInput(r.event) {
            expected = reducer.apply(input, time: r.eventTime, ref: .local(r.seq), nextSeq: r.seq + 1)
            expectedHead = 0
            return
        }
        // An alert no input caused is a session's own note (a stream reconnect, the day's
        // balance): it carries no engine state. Every alert the reducer raises names its input.
        if case .alertRaised = r.event, !r.causation.isSet { return }
        if r.event.kind.category == .decision || r.event.kind == .reconciled {
            throw RecoveryError(seq: r.seq, message: "a \(r.event.kind) decision no input explains")
        }
        // Run control (run.started, config.applied, run.ended) carries no engine state.
    }

    /// True when every decision of the last input has been seen (a journal cut here is whole).
    public var isComplete: Bool { expectedHead >= expected.count }

    /// Folds a journal from its first record.
    public static func rebuild(_ reducer: CarryReducer, from records: some Sequence<RecordedEvent>, firstSeq: UInt64 = 1) throws(RecoveryError) -> Recovery {
        var r = Recovery(reducer: reducer, firstSeq: firstSeq)
        for record in records { try r.fold(record) }
        guard r.isComplete else { throw RecoveryError(seq: r.nextSeq, message: "the journal ends inside an input's decisions (a torn batch)") }
        return r
    }
}
