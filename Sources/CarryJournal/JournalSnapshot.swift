// Reading a journal: by seq range, by time range, and single records, all inside one read
// transaction so the view is consistent while a writer keeps appending.
//
// Invariants: every record handed to a caller has passed its checksum and its seq matches
// its key; seqs seen by a scan are contiguous. Anything else is reported as corruption
// with the seq, never skipped.

public import CarryCore

/// A consistent, read-only view of a journal (one LMDB read transaction).
public final class JournalSnapshot {
    let journal: Journal
    let txn: LMDBTxn

    init(journal: Journal, txn: LMDBTxn) {
        self.journal = journal
        self.txn = txn
    }

    var path: String { journal.path }

    func fail(_ status: LMDBStatus, _ doing: String) -> JournalError {
        JournalError.from(status, path: path, doing: doing)
    }

    func corrupt(_ error: CodecError) -> JournalError {
        JournalError(.corrupt, "\(error.message). The journal is damaged; run `carry-journal verify \(path)` and restore from a copy.", path: path)
    }

    // MARK: Bounds

    /// The last seq (0 when empty).
    public func lastSeq() throws -> UInt64 {
        do {
            let c = try txn.cursor(journal.eventsDB)
            defer { c.close() }
            guard let (k, _) = try c.get(.last) else { return 0 }
            return try Self.seqKey(k, path: path)
        } catch let s as LMDBStatus {
            throw fail(s, "finding the last seq")
        }
    }

    /// The first seq (0 when empty; 1 otherwise).
    public func firstSeq() throws -> UInt64 {
        do {
            let c = try txn.cursor(journal.eventsDB)
            defer { c.close() }
            guard let (k, _) = try c.get(.first) else { return 0 }
            return try Self.seqKey(k, path: path)
        } catch let s as LMDBStatus {
            throw fail(s, "finding the first seq")
        }
    }

    /// Number of records, from LMDB's own count.
    public func count() -> Int { txn.stat(journal.eventsDB).entries }

    /// The first seq whose event time went backwards (0: the journal is in time order).
    /// Records from there on are indexed by time.
    public func disorderFromSeq() throws -> UInt64 {
        guard let v = try Journal.metaValue(txn, journal.metaDB, MetaKey.disorderFromSeq), v.count == 8 else { return 0 }
        return fromLE(v, UInt64.self)
    }

    @inline(__always)
    static func seqKey(_ k: UnsafeRawBufferPointer, path: String) throws -> UInt64 {
        guard k.count == 8 else {
            throw JournalError(.corrupt, "an events key of \(k.count) bytes (expected 8). Run `carry-journal verify \(path)`.", path: path)
        }
        return k.loadUnaligned(as: UInt64.self)
    }

    // MARK: Single records

    /// Runs `body` on the checked record at `seq`; nil when there is none.
    public func withRecord<T>(at seq: UInt64, _ body: (RecordView) throws -> T) throws -> T? {
        let raw: UnsafeRawBufferPointer?
        do {
            raw = try txn.get(journal.eventsDB, integerKey: seq)
        } catch let error as LMDBStatus {
            throw fail(error, "reading seq \(seq)")
        }
        guard let raw else { return nil }
        let header: RecordHeader
        do throws(CodecError) {
            header = try RecordCodec.check(raw, expectedSeq: seq)
        } catch {
            throw corrupt(error)
        }
        return try body(RecordView(header: header, bytes: raw))
    }

    /// The decoded event at `seq`; nil when there is none.
    public func event(at seq: UInt64) throws -> RecordedEvent? {
        try withRecord(at: seq) { view in
            do throws(CodecError) { return try view.decodeRecorded() } catch { throw corrupt(error) }
        }
    }

    // MARK: Scans

    /// Walks every record in key order with no check at all (no CRC, no seq test, no
    /// decode), handing `body` the key and the stored bytes: the floor that checked reads are
    /// measured against (`carry-bench verify`). Never use it to read events. Returns the count.
    @discardableResult
    public func rawScan(_ body: (UInt64, UnsafeRawBufferPointer) -> Void) throws -> Int {
        let cursor: LMDBCursor
        do { cursor = try txn.cursor(journal.eventsDB) } catch let error as LMDBStatus { throw fail(error, "opening a cursor") }
        defer { cursor.close() }
        var count = 0
        do {
            var entry = try cursor.get(.first)
            while let (k, v) = entry {
                body(k.count == 8 ? k.loadUnaligned(as: UInt64.self) : 0, v)
                count += 1
                entry = try cursor.get(.next)
            }
        } catch let s as LMDBStatus {
            throw fail(s, "scanning")
        }
        return count
    }

    /// Visits records in seq order (or reverse) between `from` and `through` inclusive,
    /// until `body` returns false. Returns how many records were visited.
    @discardableResult
    public func scan(from: UInt64 = 1, through: UInt64 = UInt64.max, reverse: Bool = false, _ body: (RecordView) throws -> Bool) throws -> Int {
        guard from <= through else { return 0 }
        let cursor: LMDBCursor
        do { cursor = try txn.cursor(journal.eventsDB) } catch let error as LMDBStatus { throw fail(error, "opening a cursor") }
        defer { cursor.close() }
        var visited = 0
        do {
            var entry: (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)?
            if reverse {
                entry = try cursor.get(.setRange, integerKey: through == UInt64.max ? through : through &+ 1)
                entry = entry == nil ? try cursor.get(.last) : try cursor.get(.prev)
            } else {
                entry = try cursor.get(.setRange, integerKey: from)
            }
            var expected: UInt64? = nil
            while let (k, v) = entry {
                let seq = try Self.seqKey(k, path: path)
                if reverse ? seq < from : seq > through { break }
                if let e = expected, seq != e {
                    throw JournalError(.corrupt, "seq \(e) is missing (next record is seq \(seq)). Run `carry-journal verify \(path)`.", path: path)
                }
                let header: RecordHeader
                do throws(CodecError) { header = try RecordCodec.check(v, expectedSeq: seq) } catch { throw corrupt(error) }
                visited += 1
                guard try body(RecordView(header: header, bytes: v)) else { break }
                expected = reverse ? seq &- 1 : seq &+ 1
                entry = try cursor.get(reverse ? .prev : .next)
            }
        } catch let s as LMDBStatus {
            throw fail(s, "scanning")
        }
        return visited
    }

    /// Visits records in event-time order (ties by seq) with event time in
    /// [`from`, `through`] and seq in `seqs`, until `body` returns false.
    ///
    /// Records before `disorderFromSeq` are in time order already and are read
    /// sequentially; later ones come from the time index; the two streams are merged.
    @discardableResult
    public func scanByTime(from: Timestamp = .distantPast, through: Timestamp = .distantFuture,
                           seqs: ClosedRange<UInt64> = 1...UInt64.max, _ body: (RecordView) throws -> Bool) throws -> Int {
        let disorder = try disorderFromSeq()
        let prefixEnd = disorder == 0 ? seqs.upperBound : min(seqs.upperBound, disorder - 1)
        // Start of the sorted prefix: the first seq at or after `from` (bisection on time).
        var prefixSeq = max(seqs.lowerBound, 1)
        if from > Timestamp.distantPast, prefixSeq <= prefixEnd {
            prefixSeq = try firstSeq(atOrAfter: from, lower: prefixSeq, upper: min(prefixEnd, try lastSeq()))
        }
        let prefixCursor: LMDBCursor
        let indexCursor: LMDBCursor
        do {
            prefixCursor = try txn.cursor(journal.eventsDB)
            indexCursor = try txn.cursor(journal.timeDB)
        } catch let error as LMDBStatus { throw fail(error, "opening cursors") }
        defer {
            prefixCursor.close()
            indexCursor.close()
        }
        var visited = 0
        do {
            var p = prefixSeq <= prefixEnd ? try prefixCursor.get(.setRange, integerKey: prefixSeq) : nil
            if disorder == 0 {
                // Written in time order throughout (imports, backtests): the merge below with
                // an empty index, as one sequential pass.
                while let (k, v) = p {
                    let seq = try Self.seqKey(k, path: path)
                    if seq > prefixEnd { break }
                    let h: RecordHeader
                    do throws(CodecError) { h = try RecordCodec.check(v, expectedSeq: seq) } catch { throw corrupt(error) }
                    if h.eventTime > through { break }
                    if h.eventTime >= from && seqs.contains(seq) {
                        visited += 1
                        guard try body(RecordView(header: h, bytes: v)) else { return visited }
                    }
                    p = try prefixCursor.get(.next)
                }
                return visited
            }
            var startKey = TimeIndexKey.encode(time: from, seq: 0)
            var i = disorder == 0 ? nil : try startKey.withUnsafeMutableBytes { try indexCursor.get(.setRange, key: UnsafeRawBufferPointer($0)) }
            while true {
                // Current candidate from the sorted prefix.
                var pHeader: RecordHeader? = nil
                var pBytes: UnsafeRawBufferPointer? = nil
                while let (k, v) = p {
                    let seq = try Self.seqKey(k, path: path)
                    if seq > prefixEnd { p = nil; break }
                    let h: RecordHeader
                    do throws(CodecError) { h = try RecordCodec.check(v, expectedSeq: seq) } catch { throw corrupt(error) }
                    if h.eventTime > through { p = nil; break }
                    if h.eventTime < from || !seqs.contains(seq) { p = try prefixCursor.get(.next); continue }
                    pHeader = h
                    pBytes = v
                    break
                }
                // Current candidate from the index.
                var iKey: (time: Timestamp, seq: UInt64)? = nil
                while let (k, _) = i {
                    guard let decoded = TimeIndexKey.decode(k) else {
                        throw JournalError(.corrupt, "a time-index key of \(k.count) bytes. Run `carry-journal verify \(path)`.", path: path)
                    }
                    if decoded.time > through { i = nil; break }
                    if !seqs.contains(decoded.seq) { i = try indexCursor.get(.next); continue }
                    iKey = decoded
                    break
                }
                let takePrefix: Bool
                switch (pHeader, iKey) {
                case (nil, nil): return visited
                case (.some, nil): takePrefix = true
                case (nil, .some): takePrefix = false
                case let (ph?, ik?): takePrefix = (ph.eventTime, ph.seq) < (ik.time, ik.seq)
                }
                visited += 1
                if takePrefix {
                    guard try body(RecordView(header: pHeader!, bytes: pBytes!)) else { return visited }
                    p = try prefixCursor.get(.next)
                } else {
                    let seq = iKey!.seq
                    let more = try withRecord(at: seq) { try body($0) }
                    guard let more else {
                        throw JournalError(.corrupt, "the time index names seq \(seq), which does not exist. Run `carry-journal verify \(path)`.", path: path)
                    }
                    guard more else { return visited }
                    i = try indexCursor.get(.next)
                }
            }
        } catch let s as LMDBStatus {
            throw fail(s, "scanning by time")
        }
    }

    /// The first seq in [lower, upper] whose event time is ≥ `time`, assuming that range is
    /// in time order; `upper + 1` when none is.
    public func firstSeq(atOrAfter time: Timestamp, lower: UInt64, upper: UInt64) throws -> UInt64 {
        var lo = lower
        var hi = upper &+ 1
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            guard let t = try withRecord(at: mid, { $0.header.eventTime }) else {
                throw JournalError(.corrupt, "seq \(mid) is missing. Run `carry-journal verify \(path)`.", path: path)
            }
            if t < time { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    // MARK: Chain and hashes

    /// The last committed batch's seq and chain digest; nil for an empty journal.
    public func chainHead() throws -> (lastSeq: UInt64, digest: Digest)? {
        do {
            let c = try txn.cursor(journal.chainDB)
            defer { c.close() }
            guard let (_, v) = try c.get(.last) else { return nil }
            guard let e = Chain.decodeEntry(v) else {
                throw JournalError(.corrupt, "the last chain entry is malformed. Run `carry-journal verify \(path)`.", path: path)
            }
            return (e.lastSeq, e.digest)
        } catch let s as LMDBStatus {
            throw fail(s, "reading the chain")
        }
    }

    /// SHA-256 over every record in seq order within the range: equal for two journals
    /// exactly when their records are byte-identical, whatever their commit batching.
    public func contentHash(from: UInt64 = 1, through: UInt64 = UInt64.max) throws -> Digest {
        var h = SHA256Hasher()
        try scan(from: from, through: through) { view in
            h.update(view.bytes)
            return true
        }
        return h.finish()
    }
}

/// The time index key: event time (sign-flipped, big-endian) then seq (big-endian), so
/// LMDB's byte order is (time, seq) order.
enum TimeIndexKey {
    static func encode(time: Timestamp, seq: UInt64) -> [UInt8] {
        let t = UInt64(bitPattern: time.ms) ^ (1 << 63)
        return withUnsafeBytes(of: t.bigEndian) { Array($0) } + withUnsafeBytes(of: seq.bigEndian) { Array($0) }
    }

    /// Runs `body` on the 16-byte key without allocating.
    static func withKey<R>(time: Timestamp, seq: UInt64, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var key = ((UInt64(bitPattern: time.ms) ^ (1 << 63)).bigEndian, seq.bigEndian)
        return try withUnsafeBytes(of: &key) { try body($0) }
    }

    static func decode(_ raw: UnsafeRawBufferPointer) -> (time: Timestamp, seq: UInt64)? {
        guard raw.count == 16 else { return nil }
        let t = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)) ^ (1 << 63)
        let s = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        return (Timestamp(ms: Int64(bitPattern: t)), s)
    }
}
