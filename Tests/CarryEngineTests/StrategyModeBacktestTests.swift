// strategy_mode over the bundled history: `simple` is v1.0 (the default run and an explicit
// simple run are byte-identical, and their decisions digest to the golden taken from v1.0's own
// run journal, modulo the record kinds added since v1.0), and a composite run's
// fill is explained by `carry-journal explain` down to every component of its signal — value,
// weight and source event.

import CarryCore
import CarryEngine
import CarryJournal
import CarryTesting
import Foundation
import Testing

/// A digest of a run's decisions, comparable with a run journal v1.0 wrote.
///
/// Since v1.0 (55e9629) the engine also journals kinds v1.0 did not have (pair.transition,
/// and, when they happen, cancel.intended, entry.skipped, order.unknown/expired/status,
/// venue.snapshot). Those records are left out and the rest numbered densely from 1, as
/// `carry-journal diff --ignore-kind` does; every seq a decision names (its causation, an
/// intent's pairId, a fill's intentSeq and the simulated exchange's executionId made from it,
/// a signal component's local source) is replaced by that number. Then SHA-256 over the
/// signal.computed, order.intended, order.filled and funding.paid records in seq order, each
/// fed as u64le(kind code) ‖ u64le(event time, ms) ‖ u64le(its number) ‖ u64le(causation,
/// renumbered; source-journal links as they are) ‖ u64le(payload length) ‖ payload (encoded
/// with the seqs renumbered). For a v1.0 journal the numbering is the identity, and the
/// payloads are the stored bytes (checked as the digest is made).
enum DecisionDigest {
    static let kinds: [EventKind] = [.signalComputed, .orderIntended, .orderFilled, .fundingPaid]
    /// Kinds v1.0 did not journal.
    static let newerKinds: Set<UInt16> = Set([EventKind.pairTransition, .cancelIntended, .entrySkipped, .orderUnknown, .orderExpired, .orderStatus,
                                              .venueSnapshot].map(\.rawValue))

    static func of(journal path: String) throws -> (digest: Digest, counts: [EventKind: Int], dropped: Int) {
        let codes = Set(kinds.map(\.rawValue))
        let journal = try Journal.open(path, readOnly: true)
        // Pass 1: the dense numbering of the records v1.0 would have written.
        var number: [UInt64: UInt64] = [:]
        var dropped = 0
        try journal.withSnapshot { snap in
            _ = try snap.scan { view in
                if newerKinds.contains(view.header.kindCode) {
                    dropped += 1
                } else {
                    number[view.header.seq] = UInt64(number.count + 1)
                }
                return true
            }
        }
        /// A local seq renumbered; a link to a dropped record becomes a value no record has.
        func renumber(_ seq: UInt64) -> UInt64 { seq == 0 ? 0 : number[seq] ?? UInt64.max }
        func renumber(_ ref: CausationRef) -> UInt64 { ref.isExternal || !ref.isSet ? ref.raw : renumber(ref.seq) }

        var hasher = SHA256Hasher()
        var counts: [EventKind: Int] = [:]
        try journal.withSnapshot { snap in
            _ = try snap.scan { view in
                let h = view.header
                guard codes.contains(h.kindCode) else { return true }
                let stored = Array(view.payload)
                var event = try view.decode()
                var identity = number[h.seq] == h.seq
                switch event {
                case .signalComputed(var s):
                    for i in s.components.indices {
                        let ref = CausationRef(raw: s.components[i].sourceSeq)
                        let raw = renumber(ref)
                        identity = identity && raw == ref.raw
                        s.components[i].sourceSeq = raw
                    }
                    event = .signalComputed(s)
                case .orderIntended(var o):
                    identity = identity && renumber(o.pairId) == o.pairId
                    o.pairId = renumber(o.pairId)
                    event = .orderIntended(o)
                case .orderFilled(var x):
                    let old = x.intentSeq
                    x.intentSeq = renumber(old)
                    identity = identity && x.intentSeq == old
                    // The simulated exchange names an execution `sim-<intent seq>-<n>`.
                    let prefix = "sim-\(old)-"
                    if old != 0 && x.executionId.hasPrefix(prefix) { x.executionId = "sim-\(x.intentSeq)-" + x.executionId.dropFirst(prefix.count) }
                    event = .orderFilled(x)
                default:
                    break
                }
                var w = ByteWriter()
                event.encodePayload(to: &w)
                let payload = w.bytes
                // Nothing renumbered: what is digested is exactly what was stored.
                if identity && renumber(h.causation) == h.causation.raw && payload != stored {
                    throw BacktestError("seq \(h.seq): re-encoding \(EventKind(rawValue: h.kindCode)!.name) does not give the stored bytes", badInput: false)
                }
                hasher.update(UInt64(h.kindCode))
                hasher.update(UInt64(bitPattern: h.eventTime.ms))
                hasher.update(renumber(h.seq))
                hasher.update(renumber(h.causation))
                hasher.update(UInt64(payload.count))
                hasher.update(payload)
                counts[EventKind(rawValue: h.kindCode)!, default: 0] += 1
                return true
            }
        }
        return (hasher.finish(), counts, dropped)
    }

    /// The golden: `Tests/Fixtures/v1.0-default-decisions.txt` (see Tests/Fixtures/README.md).
    static func golden() throws -> (digest: String, records: Int, counts: [EventKind: Int]) {
        let text = try String(contentsOfFile: Fixtures.repoRoot + "/Tests/Fixtures/v1.0-default-decisions.txt", encoding: .utf8)
        var digest = ""
        var records = 0
        var counts: [EventKind: Int] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { continue }
            if parts[0] == "digest" {
                digest = String(parts[1])
            } else if parts[0] == "records" {
                records = Int(parts[1]) ?? 0
            } else if let kind = kinds.first(where: { $0.name == parts[0] }), let n = Int(parts[1]) {
                counts[kind] = n
            }
        }
        return (digest, records, counts)
    }
}

@Suite("strategy_mode on the bundled history", .serialized)
struct StrategyModeBacktestTests {
    @Test("strategy_mode: simple is v1.0: the default and an explicit simple run are byte-identical, and their signals, intents, fills and payments digest to v1.0's golden (kinds added since v1.0 left out, seqs renumbered)")
    func simpleIsV10() throws {
        let golden = try DecisionDigest.golden()
        #expect(golden.digest.count == 64 && golden.records > 0 && golden.counts.count == 4)
        // The v1.0 baseline journal itself, when given (CARRY_V10_BASELINE=DIR): the golden is its digest.
        if let baseline = ProcessInfo.processInfo.environment["CARRY_V10_BASELINE"], !baseline.isEmpty {
            let v10 = try DecisionDigest.of(journal: baseline)
            print("v1.0 baseline \(baseline): digest \(v10.digest), \(try rawRecords(baseline).count) records, \(v10.dropped) dropped, "
                  + DecisionDigest.kinds.map { "\($0.name) \(v10.counts[$0] ?? 0)" }.joined(separator: ", "))
            #expect(v10.dropped == 0 && v10.digest.description == golden.digest && v10.counts == golden.counts)
        }
        let dir = ScratchDirectory("simple-v10")
        let byDefault = try runBacktest(try backtestConfig(""), dir, "default")
        let explicit = try runBacktest(try backtestConfig("strategy_mode: simple\n"), dir, "simple")
        // The two runs are the same journal, record for record.
        #expect(byDefault.contentHash == explicit.contentHash)
        #expect(try rawRecords(byDefault.runJournalPath) == rawRecords(explicit.runJournalPath))
        #expect(byDefault.stateHash == explicit.stateHash)
        let a = try DecisionDigest.of(journal: byDefault.runJournalPath)
        let b = try DecisionDigest.of(journal: explicit.runJournalPath)
        #expect(a.digest == b.digest && a.counts == b.counts)
        // And they are v1.0's decisions: the same records once the kinds added since are left out,
        // and the same signals, intents, fills and payments, at the same times, in the same order.
        #expect(byDefault.events.run - a.dropped == golden.records, "\(byDefault.events.run) records, \(a.dropped) of kinds newer than v1.0")
        #expect(a.counts == golden.counts, "counts \(a.counts), v1.0 \(golden.counts)")
        #expect(a.digest.description == golden.digest, "digest \(a.digest), v1.0 \(golden.digest)")
        #expect(byDefault.summary.pairsOpened == 49)
    }

    @Test("carry-journal explain on a fill of the composite backtest (config/backtest-composite.yaml) lists every component of its signal with its value, weight and source event")
    func explainCompositeFill() throws {
        let dir = ScratchDirectory("explain-composite")
        let config = try BacktestConfig.load(path: Fixtures.repoRoot + "/config/backtest-composite.yaml")
        let weights = try #require(config.composite?.weights)
        let r = try runBacktest(config, dir, "run")
        #expect(r.summary.pairsOpened > 0, "the composite run should trade")

        // The first fill of an opening order, its intent and the entry signal behind it.
        var signals: [UInt64: SignalComputed] = [:]
        var intents: [UInt64: (intent: OrderIntended, cause: CausationRef)] = [:]
        var fill: (seq: UInt64, value: OrderFilled)?
        let run = try Journal.open(r.runJournalPath, readOnly: true)
        try run.withSnapshot { snap in
            _ = try snap.scan { v in
                switch try v.decode() {
                case .signalComputed(let s): signals[v.header.seq] = s
                case .orderIntended(let o): intents[v.header.seq] = (o, v.header.causation)
                case .orderFilled(let x) where fill == nil && intents[x.intentSeq]?.intent.reason == .open: fill = (v.header.seq, x)
                default: break
                }
                return true
            }
        }
        let picked = try #require(fill)
        let intent = try #require(intents[picked.value.intentSeq])
        let signalSeq = intent.cause.seq
        let signal = try #require(signals[signalSeq])
        #expect(signal.strategy == .composite && signal.action == .enter)
        // The five scored components are all there, with the configured weights.
        let scored: [(SignalFactor, Fixed)] = [(.fundingLevel, weights.level), (.fundingTrend, weights.trend), (.persistence, weights.persistence),
                                               (.basis, weights.basis), (.volume, weights.volume)]
        for (factor, weight) in scored {
            #expect(signal.components.first { $0.factor == factor }?.weight == weight, "\(factor)")
        }

        let tool = Fixtures.executable("carry-journal")
        let out = try runProcess(tool, ["explain", r.runJournalPath, String(picked.seq), "--source", BundledMarket.path])
        #expect(out.status == 0, "\(out.stderr)")
        let lines = out.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("explain \(picked.seq) ") == true, "\(lines.first ?? "")")
        let header = try #require(lines.firstIndex { $0.hasPrefix("signal \(signalSeq): composite enter") }, "\(out.stdout)")
        #expect(lines[header + 1].contains("FACTOR") && lines[header + 1].contains("VALUE") && lines[header + 1].contains("WEIGHT")
                && lines[header + 1].contains("SOURCE"))
        let table = Array(lines[(header + 2)...].prefix(signal.components.count))

        // Every component, in order: its factor, value and weight, and its source event resolved in
        // the market journal (kind, time, instrument) — which must be the right kind for the factor.
        let market = try Journal.open(BundledMarket.path, readOnly: true)
        #expect(table.count == signal.components.count)
        for (line, c) in zip(table, signal.components) {
            let cells = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            #expect(cells.count >= 4, "\(line)")
            guard cells.count >= 4 else { continue }
            #expect(cells[0] == c.factor.description && cells[1] == c.value.description && cells[2] == c.weight.description, "\(line)")
            if c.sourceSeq == 0 {
                #expect(cells[3] == "-", "\(line)")
                continue
            }
            let ref = CausationRef(raw: c.sourceSeq)
            #expect(ref.isExternal && cells[3] == "src:\(ref.seq)", "\(line)")
            let source = try #require(try market.withSnapshot { try $0.event(at: ref.seq) })
            #expect(cells.count >= 5 && cells[4] == source.event.kind.name, "\(line)")
            switch c.factor {
            case .fundingLevel, .fundingTrend, .persistence, .persistenceRun:
                // A settlement of the signal's own perp.
                guard case .fundingSettled(let x) = source.event else {
                    Issue.record("\(c.factor) sourced from \(source.event.kind.name)")
                    continue
                }
                #expect(x.instrumentId == signal.perp, "\(line)")
            case .predictedRate:
                #expect(source.event.kind == .fundingPredicted, "\(line)")
            case .basis, .basisRange, .volume:
                #expect(source.event.kind == .barClosed, "\(line)")
            default:
                Issue.record("unexpected sourced factor \(c.factor): \(line)")
            }
        }
        // The sources are inputs the decision could see: none after the signal's time.
        let signalTime = try #require(try run.withSnapshot { try $0.event(at: signalSeq) }).eventTime
        for c in signal.components where c.sourceSeq != 0 {
            let source = try #require(try market.withSnapshot { try $0.event(at: CausationRef(raw: c.sourceSeq).seq) })
            #expect(source.eventTime <= signalTime, "\(c.factor) from \(source.eventTime.iso8601), decided \(signalTime.iso8601)")
        }
        // The explanation also names the config in force (the composite one) and the run.
        #expect(out.stdout.contains("config in force:") && out.stdout.contains("| strategy_mode: composite"))
        #expect(out.stdout.contains("| composite.weights.level: \(weights.level)"))
    }

    @Test("a composite window longer than the data the run can see is refused with the key, the window and the span, before anything is journaled")
    func windowLongerThanData() throws {
        let dir = ScratchDirectory("window-too-long")
        var config = try BacktestConfig.load(path: Fixtures.repoRoot + "/config/backtest-composite.yaml")
        config.from = Timestamp(iso8601: "2025-10-01")
        config.to = Timestamp(iso8601: "2025-10-15")
        config.composite?.windows.persistence = 200   // 200 × 8 h = 66 days > 8 d warm-up + 14 d
        do {
            _ = try runBacktest(config, dir, "run")
            Issue.record("a 200-settlement window over 22 days of data was accepted")
        } catch let e as BacktestError {
            #expect(e.isBadInput)
            #expect(e.message.contains("composite.persistenceWindow: 200 settlements (1600h) is longer than the data") && e.message.contains("warmup 8d"), "\(e.message)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.sub("run") + "/journal"))
        // Just inside the data it runs.
        config.composite?.windows.persistence = 60   // 20 days ≤ 22
        #expect(throws: Never.self) { _ = try runBacktest(config, dir, "ok") }
    }
}
