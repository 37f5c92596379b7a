// Little-endian primitives for the hand-written event codec.
//
// Invariants: every multi-byte integer is little-endian; a Fixed is its Int64 mantissa
// followed by its scale byte, and an absent optional Fixed is mantissa 0 with scale 0xFF;
// a string is a UInt16 byte count followed by UTF-8. The reader never reads outside its
// buffer: every read is bounds-checked and throws a CodecError that names the field.

/// Why bytes could not be decoded. Carries the field and offset so a corrupt record can be
/// located by a person.
public struct CodecError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The category of failure.
    public enum Code: String, Sendable {
        /// Fewer bytes than the layout needs.
        case truncated
        /// A kind code this build does not know (written by a newer Carry, or corrupt).
        case unknownKind
        /// A layout version newer than this build understands.
        case unsupportedVersion
        /// A field holds a value outside its domain (bad enum, bad scale, invalid UTF-8).
        case invalidValue
        /// Bytes left over after the payload was decoded.
        case trailingBytes
        /// The record checksum does not match its bytes.
        case badChecksum
        /// The record header is malformed (format version, length mismatch).
        case badHeader
    }

    /// The category.
    public var code: Code
    /// What was being read and where.
    public var message: String

    /// Builds an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// Appends little-endian fields to a growable buffer.
///
/// Stores go straight into owned memory (no per-field array appends): encoding sits on the
/// journal's hot path. The pointer, count and capacity live in the struct so writes need no
/// dynamic exclusivity checks; a class instance only owns (and frees) the memory. Copies
/// share it until one of them writes (copy on write).
public struct ByteWriter: @unchecked Sendable {
    @usableFromInline
    final class Owner {
        @usableFromInline let base: UnsafeMutableRawPointer
        @usableFromInline init(base: UnsafeMutableRawPointer) { self.base = base }
        deinit { base.deallocate() }
    }

    @usableFromInline var owner: Owner
    @usableFromInline var base: UnsafeMutableRawPointer
    @usableFromInline var used: Int
    @usableFromInline var capacity: Int

    /// An empty writer with room for `capacity` bytes.
    public init(capacity: Int = 256) {
        self.capacity = Swift.max(capacity, 16)
        base = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 16)
        owner = Owner(base: base)
        used = 0
    }

    /// The bytes written so far, copied into an array.
    public var bytes: [UInt8] { Array(UnsafeRawBufferPointer(start: base, count: used)) }

    /// Runs `body` on the bytes written so far, without copying.
    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(owner) { try body(UnsafeRawBufferPointer(start: base, count: used)) }
    }

    /// Forgets the contents but keeps the storage, for reuse on hot paths.
    public mutating func removeAll() {
        if !isKnownUniquelyReferenced(&owner) { reallocate(capacity) }
        used = 0
    }

    /// Number of bytes written.
    @inlinable public var count: Int { used }

    @usableFromInline
    mutating func reallocate(_ newCapacity: Int) {
        let newBase = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        newBase.copyMemory(from: base, byteCount: used)
        owner = Owner(base: newBase)
        base = newBase
        capacity = newCapacity
    }

    /// Makes room for `n` more bytes and returns the offset to write them at.
    @inlinable
    mutating func claim(_ n: Int) -> Int {
        if !isKnownUniquelyReferenced(&owner) { reallocate(capacity) }
        let offset = used
        if offset + n > capacity {
            var c = capacity * 2
            while c < offset + n { c *= 2 }
            reallocate(c)
        }
        used = offset + n
        return offset
    }

    /// Writes an integer, little-endian.
    @inlinable
    public mutating func write<T: FixedWidthInteger>(_ value: T) {
        let at = claim(MemoryLayout<T>.size)
        base.storeBytes(of: value.littleEndian, toByteOffset: at, as: T.self)
    }

    /// Writes one byte.
    @inlinable public mutating func write(_ value: UInt8) {
        let at = claim(1)
        base.storeBytes(of: value, toByteOffset: at, as: UInt8.self)
    }
    /// Writes 0 or 1.
    @inlinable public mutating func write(_ value: Bool) { write(UInt8(value ? 1 : 0)) }
    /// Writes milliseconds as Int64.
    @inlinable public mutating func write(_ value: Timestamp) { write(value.ms) }
    /// Writes a dense id as UInt32.
    @inlinable public mutating func write(_ value: InstrumentId) { write(value.rawValue) }

    /// Writes a Fixed: mantissa then scale.
    @inlinable
    public mutating func write(_ value: Fixed) {
        let at = claim(9)
        base.storeBytes(of: value.mantissa.littleEndian, toByteOffset: at, as: Int64.self)
        base.storeBytes(of: value.scale, toByteOffset: at + 8, as: UInt8.self)
    }

    /// Writes an optional Fixed; absent is mantissa 0, scale 0xFF.
    @inlinable
    public mutating func write(_ value: Fixed?) {
        if let value {
            write(value)
        } else {
            let at = claim(9)
            base.storeBytes(of: Int64(0), toByteOffset: at, as: Int64.self)
            base.storeBytes(of: UInt8(0xFF), toByteOffset: at + 8, as: UInt8.self)
        }
    }

    /// Writes a string as UInt16 length + UTF-8. Strings are short by construction
    /// (symbols, reasons); longer text is cut at 65,535 bytes on a character boundary.
    public mutating func write(_ value: String) {
        var utf8 = Array(value.utf8)
        if utf8.count > Int(UInt16.max) {
            var end = Int(UInt16.max)
            while end > 0 && (utf8[end] & 0xC0) == 0x80 { end -= 1 }
            utf8 = Array(utf8[..<end])
        }
        write(UInt16(utf8.count))
        writeRaw(utf8)
    }

    /// Writes a long text (config documents) as UInt32 length + UTF-8.
    public mutating func writeLongText(_ value: String) {
        let utf8 = Array(value.utf8)
        write(UInt32(utf8.count))
        writeRaw(utf8)
    }

    /// Writes raw bytes with no length prefix.
    public mutating func writeRaw(_ raw: [UInt8]) {
        raw.withUnsafeBytes { writeRaw($0) }
    }

    /// Writes raw bytes with no length prefix.
    public mutating func writeRaw(_ raw: UnsafeRawBufferPointer) {
        guard raw.count > 0 else { return }
        let at = claim(raw.count)
        base.advanced(by: at).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
    }

    /// Overwrites 4 bytes at `offset` (used to patch a length after the payload is known).
    @inlinable
    public mutating func patch(_ value: UInt32, at offset: Int) {
        precondition(offset >= 0 && offset + 4 <= used)
        if !isKnownUniquelyReferenced(&owner) { reallocate(capacity) }
        base.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self)
    }
}

/// Reads little-endian fields from borrowed bytes without copying or allocating.
public struct ByteReader {
    /// The bytes being read; borrowed, valid only while the owner keeps them alive.
    public let buffer: UnsafeRawBufferPointer
    /// The next byte to read.
    public var offset: Int

    /// A reader at the start of `buffer`.
    @inlinable
    public init(_ buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
        self.offset = 0
    }

    /// Bytes not yet read.
    @inlinable public var remaining: Int { buffer.count - offset }

    @inlinable @inline(__always)
    mutating func need(_ n: Int, _ field: StaticString) throws(CodecError) {
        if _slowPath(buffer.count - offset < n) { throw truncated(n, field) }
    }

    /// The error of a short read, built off the hot path.
    @usableFromInline @inline(never)
    func truncated(_ n: Int, _ field: StaticString) -> CodecError {
        CodecError(.truncated, "\(field): needs \(n) bytes at offset \(offset), \(remaining) left")
    }

    /// The error of an out-of-range scale, built off the hot path.
    @usableFromInline @inline(never)
    func badScale(_ s: UInt8, _ field: StaticString) -> CodecError {
        CodecError(.invalidValue, "\(field): scale \(s) at offset \(offset + 8)")
    }

    @inlinable @inline(__always)
    public mutating func read<T: FixedWidthInteger>(_: T.Type, _ field: StaticString) throws(CodecError) -> T {
        try need(MemoryLayout<T>.size, field)
        let v = T(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return v
    }

    /// Reads a 0/1 byte.
    @inlinable
    public mutating func readBool(_ field: StaticString) throws(CodecError) -> Bool {
        let b = try read(UInt8.self, field)
        guard b <= 1 else { throw CodecError(.invalidValue, "\(field): boolean byte \(b) at offset \(offset - 1)") }
        return b == 1
    }

    /// Reads a Timestamp.
    @inlinable
    public mutating func readTimestamp(_ field: StaticString) throws(CodecError) -> Timestamp {
        Timestamp(ms: try read(Int64.self, field))
    }

    /// Reads a dense instrument id.
    @inlinable
    public mutating func readInstrument(_ field: StaticString) throws(CodecError) -> InstrumentId {
        InstrumentId(try read(UInt32.self, field))
    }

    /// Reads a present Fixed.
    @inlinable @inline(__always)
    public mutating func readFixed(_ field: StaticString) throws(CodecError) -> Fixed {
        try need(9, field)
        let m = Int64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: Int64.self))
        let s = buffer.load(fromByteOffset: offset + 8, as: UInt8.self)
        if _slowPath(s > Fixed.maxScale) { throw badScale(s, field) }
        offset += 9
        return Fixed(mantissa: m, scale: s)
    }

    /// Reads an optional Fixed (scale 0xFF with mantissa 0 = absent).
    @inlinable
    public mutating func readOptionalFixed(_ field: StaticString) throws(CodecError) -> Fixed? {
        try need(9, field)
        let m = Int64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: Int64.self))
        let s = buffer[offset + 8]
        if s == 0xFF {
            guard m == 0 else { throw CodecError(.invalidValue, "\(field): absent value with mantissa \(m)") }
            offset += 9
            return nil
        }
        if _slowPath(s > Fixed.maxScale) { throw badScale(s, field) }
        offset += 9
        return Fixed(mantissa: m, scale: s)
    }

    /// Reads a UInt16-prefixed UTF-8 string, rejecting invalid UTF-8.
    public mutating func readString(_ field: StaticString) throws(CodecError) -> String {
        let n = Int(try read(UInt16.self, field))
        return try readUTF8(count: n, field)
    }

    /// Reads a UInt32-prefixed UTF-8 text.
    public mutating func readLongText(_ field: StaticString) throws(CodecError) -> String {
        let n = Int(try read(UInt32.self, field))
        return try readUTF8(count: n, field)
    }

    private mutating func readUTF8(count n: Int, _ field: StaticString) throws(CodecError) -> String {
        try need(n, field)
        let slice = UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + n)])
        guard let s = String(validating: slice.bindMemory(to: UInt8.self), as: UTF8.self) else {
            throw CodecError(.invalidValue, "\(field): invalid UTF-8 at offset \(offset)")
        }
        offset += n
        return s
    }

    /// Reads `n` raw bytes into an array.
    public mutating func readBytes(_ n: Int, _ field: StaticString) throws(CodecError) -> [UInt8] {
        try need(n, field)
        let out = Array(UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + n)]))
        offset += n
        return out
    }

    /// Reads an enum stored as its UInt8 raw value.
    @inlinable
    public mutating func readEnum<E: RawRepresentable>(_: E.Type, _ field: StaticString) throws(CodecError) -> E where E.RawValue == UInt8 {
        let raw = try read(UInt8.self, field)
        guard let v = E(rawValue: raw) else {
            throw CodecError(.invalidValue, "\(field): unknown value \(raw) at offset \(offset - 1)")
        }
        return v
    }

    /// Throws if any bytes are left: a payload must be consumed exactly.
    @inlinable
    public func finish(_ kind: StaticString) throws(CodecError) {
        if remaining != 0 {
            throw CodecError(.trailingBytes, "\(kind): \(remaining) unexpected bytes after offset \(offset)")
        }
    }
}
