// Record framing (header + payload + CRC-32C), the per-batch hash chain, and the borrowed
// view readers decode from.
//
// Invariants: a record's checksum covers its header and payload; the header's seq equals
// the LMDB key; the chain digest of batch b is
//   SHA-256(digest(b-1) ‖ u64le(firstSeq) ‖ u64le(lastSeq) ‖ record(firstSeq) ‖ … ‖ record(lastSeq))
// with digest(0) = SHA-256("carry.journal.chain.v1" ‖ journal id), so the chain also binds
// the journal's identity.

public import CarryCore
internal import CCarrySupport

/// An event ready to be journaled: the writer assigns its seq.
public struct EventDraft: Sendable {
    public var event: Event
    /// When the fact happened (or, for a decision, the time of its input).
    public var eventTime: Timestamp
    /// When it is journaled: the wall clock live, the simulated clock in a backtest.
    public var recordTime: Timestamp
    /// The input that caused it (decisions), or none.
    public var causation: CausationRef

    /// Builds a draft.
    public init(_ event: Event, eventTime: Timestamp, recordTime: Timestamp, causation: CausationRef = .none) {
        self.event = event
        self.eventTime = eventTime
        self.recordTime = recordTime
        self.causation = causation
    }
}

/// Encoding and checking of framed records.
public enum RecordCodec {
    /// Appends the framed record of `draft` at `seq` to `writer`; returns its length.
    @discardableResult
    public static func encode(_ draft: EventDraft, seq: UInt64, into writer: inout ByteWriter) -> Int {
        let start = writer.count
        let header = RecordHeader(layoutVersion: draft.event.layoutVersion, kindCode: draft.event.kind.rawValue, payloadLength: 0,
                                  seq: seq, eventTime: draft.eventTime, recordTime: draft.recordTime, causation: draft.causation)
        header.encode(to: &writer)
        draft.event.encodePayload(to: &writer)
        let payloadLength = writer.count - start - RecordHeader.size
        writer.patch(UInt32(payloadLength), at: start + 4)
        let crc = writer.withUnsafeBytes { raw in
            carry_crc32c(0, raw.baseAddress! + start, raw.count - start)
        }
        writer.write(crc)
        return writer.count - start
    }

    /// Encodes one draft into a fresh array (tests, tools).
    public static func encode(_ draft: EventDraft, seq: UInt64) -> [UInt8] {
        var w = ByteWriter(capacity: 160)
        encode(draft, seq: seq, into: &w)
        return w.bytes
    }

    /// The CRC-32C stored in a record's trailer.
    static func storedChecksum(_ record: UnsafeRawBufferPointer) -> UInt32 {
        UInt32(littleEndian: record.loadUnaligned(fromByteOffset: record.count - 4, as: UInt32.self))
    }

    /// Checks the frame and checksum of a stored record and returns its header.
    /// `expectedSeq` is the LMDB key the record was stored under.
    public static func check(_ record: UnsafeRawBufferPointer, expectedSeq: UInt64?) throws(CodecError) -> RecordHeader {
        let header = try RecordHeader.decode(record: record)
        let computed = carry_crc32c(0, record.baseAddress!, record.count - 4)
        guard computed == storedChecksum(record) else {
            throw CodecError(.badChecksum, "seq \(expectedSeq ?? header.seq): checksum mismatch (stored \(hex32(storedChecksum(record))), computed \(hex32(computed)))")
        }
        if let expectedSeq, header.seq != expectedSeq {
            throw CodecError(.badHeader, "record stored under seq \(expectedSeq) says it is seq \(header.seq)")
        }
        return header
    }
}

/// A borrowed, checked record inside a read transaction. Valid only inside the closure
/// that received it; decode what you keep.
public struct RecordView {
    /// The checked header.
    public let header: RecordHeader
    /// The whole record (header, payload, checksum).
    public let bytes: UnsafeRawBufferPointer

    /// The payload bytes.
    @inlinable
    public var payload: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[RecordHeader.size..<(RecordHeader.size + Int(header.payloadLength))])
    }

    /// Decodes the payload.
    @inlinable
    public func decode() throws(CodecError) -> Event {
        try Event.decode(kind: header.kindCode, version: header.layoutVersion, payload: payload)
    }

    /// Decodes the payload with the header fields.
    public func decodeRecorded() throws(CodecError) -> RecordedEvent {
        RecordedEvent(seq: header.seq, eventTime: header.eventTime, recordTime: header.recordTime, causation: header.causation, event: try decode())
    }
}

/// A SHA-256 digest.
public struct Digest: Hashable, Sendable, CustomStringConvertible {
    /// The 32 bytes.
    public var bytes: [UInt8]

    /// Wraps 32 bytes.
    public init(bytes: [UInt8]) {
        precondition(bytes.count == 32)
        self.bytes = bytes
    }

    /// Reads 32 bytes from a buffer.
    init(_ raw: UnsafeRawBufferPointer) {
        precondition(raw.count >= 32)
        bytes = Array(raw.prefix(32))
    }

    /// 64 lowercase hex digits.
    public var description: String {
        let digits: [Character] = Array("0123456789abcdef")
        var s = ""
        s.reserveCapacity(64)
        for b in bytes {
            s.append(digits[Int(b >> 4)])
            s.append(digits[Int(b & 15)])
        }
        return s
    }

    /// The first 12 hex digits, for summaries.
    public var short: String { String(description.prefix(12)) }
}

/// Incremental SHA-256.
public struct SHA256Hasher {
    var ctx = carry_sha256_ctx()

    /// A fresh hasher.
    public init() { carry_sha256_init(&ctx) }

    /// Feeds bytes.
    public mutating func update(_ raw: UnsafeRawBufferPointer) {
        guard raw.count > 0 else { return }
        carry_sha256_update(&ctx, raw.baseAddress, raw.count)
    }

    /// Feeds a little-endian integer.
    public mutating func update(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { update($0) }
    }

    /// Feeds an array.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest; the hasher must not be used afterwards.
    public mutating func finish() -> Digest {
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBufferPointer { carry_sha256_final(&ctx, $0.baseAddress) }
        return Digest(bytes: out)
    }
}

/// The per-batch hash chain.
enum Chain {
    /// The digest before the first batch: binds the chain to the journal id.
    static func genesis(_ id: JournalId) -> Digest {
        var h = SHA256Hasher()
        h.update(Array("carry.journal.chain.v1".utf8))
        h.update(id.high)
        h.update(id.low)
        return h.finish()
    }

    /// Starts hashing a batch.
    static func begin(previous: Digest, firstSeq: UInt64, lastSeq: UInt64) -> SHA256Hasher {
        var h = SHA256Hasher()
        h.update(previous.bytes)
        h.update(firstSeq)
        h.update(lastSeq)
        return h
    }

    /// Encodes a chain entry: firstSeq, lastSeq, digest.
    static func encodeEntry(firstSeq: UInt64, lastSeq: UInt64, digest: Digest) -> [UInt8] {
        var w = ByteWriter(capacity: 48)
        w.write(firstSeq)
        w.write(lastSeq)
        w.writeRaw(digest.bytes)
        return w.bytes
    }

    /// Decodes a chain entry, or nil when it is not 48 bytes.
    static func decodeEntry(_ raw: UnsafeRawBufferPointer) -> (firstSeq: UInt64, lastSeq: UInt64, digest: Digest)? {
        guard raw.count == 48 else { return nil }
        let first = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        let last = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        return (first, last, Digest(UnsafeRawBufferPointer(rebasing: raw[16..<48])))
    }
}

/// 8 lowercase hex digits.
@usableFromInline
func hex32(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 8 - s.count) + s
}

/// CRC-32C of a buffer (exposed for tools and tests).
public func crc32c(_ raw: UnsafeRawBufferPointer) -> UInt32 {
    guard raw.count > 0 else { return 0 }
    return carry_crc32c(0, raw.baseAddress, raw.count)
}

extension RecordView {
    /// The instrument this record is about (nil: none), without decoding it when the layout
    /// allows — see `Event.instrument(kind:version:payload:)`.
    @inlinable
    public func instrument() throws(CodecError) -> InstrumentId? {
        try Event.instrument(kind: header.kindCode, version: header.layoutVersion, payload: payload)
    }

    /// A bar's interval in seconds without decoding it; nil for other kinds.
    @inlinable
    public func barIntervalSeconds() throws(CodecError) -> UInt32? {
        guard header.kindCode == EventKind.barClosed.rawValue else { return nil }
        return try BarClosed.intervalSeconds(payload: payload, version: header.layoutVersion)
    }

    /// Decodes a bar.closed record straight into a `BarClosed`. Throws for any other kind.
    @inlinable
    public func decodeBar() throws(CodecError) -> BarClosed {
        guard header.kindCode == EventKind.barClosed.rawValue else {
            throw CodecError(.unknownKind, "record \(header.seq) is kind \(header.kindCode), not bar.closed")
        }
        return try BarClosed.decode(payload: payload, version: header.layoutVersion)
    }
}
