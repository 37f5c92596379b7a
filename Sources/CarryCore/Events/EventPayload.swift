// The contract every event payload meets: a kind, a layout version, a byte codec and a
// field view. One file per event family implements it.

/// A journaled event's payload.
public protocol EventPayload: Sendable, Equatable {
    /// The catalogue code.
    static var kind: EventKind { get }
    /// The layout this build writes. Decoders accept every version from 1 to this.
    static var layoutVersion: UInt8 { get }
    /// Appends the payload bytes.
    func encode(to writer: inout ByteWriter)
    /// Decodes a payload of the given layout version; must consume every byte.
    init(from reader: inout ByteReader, version: UInt8) throws(CodecError)
    /// The fields in layout order, for tools.
    var fields: [EventField] { get }
    /// The instrument the event concerns, if any (for filtering by symbol).
    var instrument: InstrumentId? { get }
}

extension EventPayload {
    /// Most layouts are at version 1.
    public static var layoutVersion: UInt8 { 1 }
    /// Most events concern no single instrument.
    public var instrument: InstrumentId? { nil }

    /// Checks the version before decoding; shared by every payload.
    @inlinable
    static func requireVersion(_ version: UInt8) throws(CodecError) {
        guard version >= 1 && version <= layoutVersion else {
            throw CodecError(.unsupportedVersion, "\(kind.name) layout v\(version); this build reads up to v\(layoutVersion). Upgrade Carry to read this journal.")
        }
    }
}
