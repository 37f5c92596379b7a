// The market journal decoded once for a whole sweep: one scan by time over the span every
// config needs, each record decoded at most once and handed to the `ReplayFeed` of every
// plan that reads it. A plan is what the replay depends on — the traded instruments, the bar
// interval, the warm-up start and the span — so configs that differ only in strategy,
// sizing, costs or risk share one tape. A tape holds its instants as a `ReplayFeed` handed
// them over (bars as decoded `BarClosed` values, settlements and interval changes typed) with
// their gap alerts, immutable and shared by every thread that runs its configs.

public import CarryCore
import CarryJournal
import CCarrySupport
import Foundation
import Synchronization

/// One instant of a tape: when, where its bars end in the tape's bar arrays, and its other
/// market events and the gap alerts they revealed (empty at most instants: no allocation).
public struct TapeInstant: Sendable {
    public var time: Timestamp
    /// The instant's bars are those of the tape's `marks[previous instant's barEnd ..< barEnd]`.
    public var barEnd: Int
    /// In seq order, as are the settlements.
    public var intervalChanges: [(seq: UInt64, change: FundingIntervalChanged)] = []
    public var settlements: [(seq: UInt64, settlement: FundingSettled)] = []
    public var alerts: [GapAlert] = []
}

/// One plan's market events, grouped by instant.
///
/// Every bar's mark in one array, in instant order then seq order, and the instants pointing
/// into it; the bars themselves (and their source seqs) by instrument, in time order. A
/// config reads the marks first — idle on the bar's instrument, it needs nothing else — so a
/// sweep streams 24 bytes a bar through the cache, contiguously, not 152 from an allocation
/// per instant; and the bars of the instruments it holds are read in time order within their
/// own arrays, the next one prefetched. (In perf: loads of per-instant arrays' headers were
/// the hot spots of the replay loop; copying the held instruments' bars out of one array of
/// all bars was 16 % of a swept config, 8 % by instrument with the prefetch; a bar read out of
/// a `(seq, bar)` tuple was copied twice, 168- and 152-byte memcpys.)
public struct PlanTape: Sendable {
    public var instants: [TapeInstant] = []
    public var marks: [BarMark] = []
    /// Bars by instrument index, each instrument's in time order (`BarMark.row`).
    public var bars: [[BarClosed]] = []
    /// Each bar's seq in the market journal, at the same place.
    public var barSeqs: [[UInt64]] = []
    /// Market records the plan reads (a run's `run.ended` input count).
    public var events: Int = 0
    /// Gap warnings, in the order found.
    public var warnings: [String] = []

    /// Market records of instant `k`.
    public func count(ofInstant k: Int) -> Int {
        let i = instants[k]
        return i.barEnd - (k == 0 ? 0 : instants[k - 1].barEnd) + i.intervalChanges.count + i.settlements.count
    }

    /// The bar a mark was taken from.
    public func bar(of mark: BarMark) -> BarClosed { bars[Int(mark.instrument)][Int(mark.row)] }

    /// Hands instant `k` to `sink` as the feed handed it over (each bar offered by its mark
    /// first).
    func replay<S: InstantSink>(instant k: Int, to sink: inout S) throws {
        let instant = instants[k]
        let time = instant.time
        let first = k == 0 ? 0 : instants[k - 1].barEnd
        try marks.withUnsafeBufferPointer { marks in
            try sink.begin(instant: time)
            var i = first
            while i < instant.barEnd {
                // The bars the config is idle on, by their marks, up to one it is not.
                i = sink.applyIdleMarks(UnsafeBufferPointer(rebasing: marks[i..<instant.barEnd]), at: time) + i
                guard i < instant.barEnd else { break }
                let c = Int(marks[i].instrument), row = Int(marks[i].row)
                try bars[c].withUnsafeBufferPointer { bars in
                    // The instrument's next bar, likely read at the next instant (a config
                    // holding an instrument holds it for many).
                    if row + 1 < bars.count { carry_prefetch(bars.baseAddress! + row + 1, MemoryLayout<BarClosed>.size) }
                    try sink.bar(bars[row], seq: barSeqs[c][row], at: time)
                }
                i += 1
            }
        }
        try sink.end(instant: time, intervalChanges: instant.intervalChanges, settlements: instant.settlements, alerts: instant.alerts)
    }
}

/// Records what a feed hands over, instant by instant, into a `PlanTape`.
struct TapeRecorder: InstantSink {
    var tape = PlanTape()
    /// Bars a column is reserved for when its first bar comes (0: grown as they come).
    private let barsPerInstrument: Int
    /// The prefault running over the reserved columns, stopped before any of them outgrows
    /// its reservation (the append would move it, and the prefault must not outlive it).
    fileprivate var prefault: Prefault?

    /// A recorder for a plan whose span holds about `barsPerInstrument` bars per instrument
    /// (0: unknown), its columns for `instruments` (raw ids) reserved now.
    init(barsPerInstrument: Int = 0, instruments: [UInt32] = []) {
        self.barsPerInstrument = max(0, barsPerInstrument)
        tape.marks.reserveCapacity(self.barsPerInstrument * instruments.count)
        for raw in instruments { reserveColumn(Int(raw)) }
    }

    private mutating func reserveColumn(_ c: Int) {
        while tape.bars.count <= c {
            tape.bars.append([])
            tape.barSeqs.append([])
        }
        if tape.bars[c].capacity == 0 {
            tape.bars[c].reserveCapacity(barsPerInstrument)
            tape.barSeqs[c].reserveCapacity(barsPerInstrument)
        }
    }

    /// The reserved storage of the tape's columns, as (start, bytes): what a prefault may
    /// make resident ahead of the bars written into it.
    var reservedRegions: [(UnsafeMutableRawPointer, Int)] {
        var out: [(UnsafeMutableRawPointer, Int)] = []
        func add<T>(_ a: [T]) {
            guard a.capacity > 0, let base = a.withUnsafeBufferPointer({ $0.baseAddress }) else { return }
            out.append((UnsafeMutableRawPointer(mutating: base), a.capacity * MemoryLayout<T>.stride))
        }
        add(tape.marks)
        for c in tape.bars.indices {
            add(tape.bars[c])
            add(tape.barSeqs[c])
        }
        return out
    }

    mutating func begin(instant time: Timestamp) {}

    mutating func bar(_ bar: BarClosed, seq: UInt64, at time: Timestamp) {
        let c = bar.instrumentId.index
        if c >= tape.bars.count || tape.bars[c].capacity == 0 { reserveColumn(c) }
        if let prefault, tape.marks.count == tape.marks.capacity || tape.bars[c].count == tape.bars[c].capacity
            || tape.barSeqs[c].count == tape.barSeqs[c].capacity {
            prefault.stop()
        }
        tape.marks.append(BarMark(bar, row: tape.bars[c].count))
        tape.bars[c].append(bar)
        tape.barSeqs[c].append(seq)
    }

    /// Keeps copies sized to the instant's lists, none for an empty one: the feed's lists are
    /// reused from instant to instant, and a list kept here as given was shared, so the feed's
    /// next `removeAll(keepingCapacity:)` allocated a fresh buffer of the largest capacity
    /// yet — at every instant, settlements or not (15 % of a decode in perf).
    mutating func end(instant time: Timestamp, intervalChanges: [(seq: UInt64, change: FundingIntervalChanged)],
                      settlements: [(seq: UInt64, settlement: FundingSettled)], alerts: [GapAlert]) {
        tape.instants.append(TapeInstant(time: time, barEnd: tape.marks.count, intervalChanges: Self.compact(intervalChanges),
                                         settlements: Self.compact(settlements), alerts: Self.compact(alerts)))
    }

    private static func compact<T>(_ list: [T]) -> [T] {
        guard !list.isEmpty else { return [] }
        var copy: [T] = []
        copy.reserveCapacity(list.count)
        copy.append(contentsOf: list)
        return copy
    }
}

/// The decoded market of a sweep: one tape per distinct plan.
public struct MarketTape: Sendable {
    public var source: SourceRange
    public var tapes: [PlanTape]
    /// Tape index of each plan given to `decode`, in that order.
    public var tapeOfPlan: [Int]
    /// Records decoded (each once, whatever the number of plans).
    public var decoded: Int

    /// The key under which plans share a tape.
    struct PlanKey: Hashable {
        var instruments: [UInt32]
        var interval: UInt32
        var warmupFrom: Int64
        var from: Int64
        var to: Int64
        /// Zero-basis plans read other records (spot bars copied as the perp's), so they never
        /// share a tape with plans that price the perp from its own bars.
        var zeroBasis: Bool

        init(_ plan: BacktestPlan) {
            instruments = plan.pairs.flatMap { [$0.spot.id.rawValue, $0.perp.id.rawValue] }.sorted()
            interval = plan.config.barIntervalSeconds
            warmupFrom = plan.warmupFrom.ms
            from = plan.from.ms
            to = plan.to.ms
            zeroBasis = plan.config.zeroBasis
        }
    }

    /// Scans `market` once and builds the tape of every distinct plan among `plans`.
    public static func decode(_ plans: [BacktestPlan], market: MarketJournal) throws -> MarketTape {
        var keys: [PlanKey] = []
        var feeds: [ReplayFeed] = []
        var tapeOfPlan: [Int] = []
        var keyIndex: [PlanKey: Int] = [:]
        for plan in plans {
            let key = PlanKey(plan)
            if let k = keyIndex[key] {
                tapeOfPlan.append(k)
            } else {
                keyIndex[key] = keys.count
                tapeOfPlan.append(keys.count)
                keys.append(key)
                feeds.append(ReplayFeed(plan: plan, describe: market.describe))
            }
        }
        // Each recorder sized for its span's bars up front: grown by doubling, the instrument
        // columns were copied on the way and held up to twice their size (0.7 GB peak).
        var recorders = keys.map { k in
            TapeRecorder(barsPerInstrument: Int((k.to - k.warmupFrom) / max(1, Int64(k.interval) * 1000)) + 2, instruments: k.instruments)
        }
        // The tape's columns made resident by another core while this one decodes into them:
        // three quarters of a decode was the page faults of writing fresh memory (a virtual
        // machine's are microseconds each), and the sweep's other cores wait for the tape.
        let prefault = Prefault(regions: recorders.flatMap(\.reservedRegions))
        defer { prefault.stop() }
        for f in recorders.indices { recorders[f].prefault = prefault }
        var any: [Bool] = []
        for k in keys {
            for raw in k.instruments {
                while any.count <= Int(raw) { any.append(false) }
                any[Int(raw)] = true
            }
        }
        let source = try SourceRange(market.journal)
        guard !feeds.isEmpty else { return MarketTape(source: source, tapes: [], tapeOfPlan: [], decoded: 0) }
        let from = Timestamp(ms: keys.map(\.warmupFrom).min()!)
        let through = Timestamp(ms: keys.map(\.to).max()!)
        let barKind = EventKind.barClosed.rawValue
        let fundingKind = EventKind.fundingSettled.rawValue
        let intervalKind = EventKind.fundingIntervalChanged.rawValue
        var decoded = 0
        try market.journal.withSnapshot { snap in
            try snap.scanByTime(from: from, through: through) { view in
                let kind = view.header.kindCode
                guard kind == barKind || kind == fundingKind || kind == intervalKind else { return true }
                guard let id = try view.instrument(), id.index < any.count, any[id.index] else { return true }
                let interval = try view.barIntervalSeconds()
                let t = view.header.eventTime
                let seq = view.header.seq
                if kind == barKind {
                    var bar: BarClosed?
                    for f in feeds.indices where feeds[f].reads(id, barInterval: interval, at: t) {
                        if bar == nil { bar = try view.decodeBar(); decoded += 1 }
                        try feeds[f].add(seq: seq, time: t, bar: bar!, to: &recorders[f])
                    }
                } else {
                    var event: Event?
                    for f in feeds.indices where feeds[f].reads(id, barInterval: nil, at: t) {
                        if event == nil { event = try view.decode(); decoded += 1 }
                        try feeds[f].add(seq: seq, time: t, event: event!, to: &recorders[f])
                    }
                }
                return true
            }
        }
        var tapes: [PlanTape] = []
        for f in feeds.indices {
            try feeds[f].finish(to: &recorders[f])
            var tape = recorders[f].tape
            tape.events = feeds[f].events
            tape.warnings = feeds[f].warnings
            tapes.append(tape)
        }
        return MarketTape(source: source, tapes: tapes, tapeOfPlan: tapeOfPlan, decoded: decoded)
    }
}

/// Makes memory resident on a thread of its own, a slice of every region at a time (all of
/// them in step, as a decode fills its columns in step), until done or stopped. Only page
/// residency changes, never a byte, so it may run over memory being written.
private final class Prefault: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let joined = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    init(regions: [(UnsafeMutableRawPointer, Int)]) {
        // Addresses as integers: the thread only hands them to the kernel.
        let spans = regions.map { (Int(bitPattern: $0.0), $0.1) }
        let steps = 64
        let thread = Thread { [self] in
            defer { done.signal() }
            for step in 0..<steps {
                for (start, bytes) in spans {
                    if self.stopped.load(ordering: .relaxed) { return }
                    let from = bytes * step / steps, to = bytes * (step + 1) / steps
                    guard let p = UnsafeMutableRawPointer(bitPattern: start + from), to > from else { continue }
                    if carry_populate_write(p, to - from) != 0 { return }
                }
            }
        }
        thread.start()
    }

    /// Stops it and waits for its thread to end (at once when it already has).
    func stop() {
        stopped.store(true, ordering: .relaxed)
        guard !joined.exchange(true, ordering: .acquiringAndReleasing) else { return }
        done.wait()
    }
}
