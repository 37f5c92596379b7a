import CarryCore
import CarryTesting
import Testing

private func encode(_ event: Event) -> [UInt8] {
    var w = ByteWriter()
    event.encodePayload(to: &w)
    return w.bytes
}

private func decode(_ kind: EventKind, _ bytes: [UInt8], version: UInt8 = 1) throws(CodecError) -> Event {
    try decode(code: kind.rawValue, bytes, version: version)
}

private func decode(code: UInt16, _ bytes: [UInt8], version: UInt8 = 1) throws(CodecError) -> Event {
    let result: Result<Event, CodecError> = bytes.withUnsafeBytes { raw in
        Result { () throws(CodecError) -> Event in try Event.decode(kind: code, version: version, payload: raw) }
    }
    return try result.get()
}

private func peekInstrument(_ kind: EventKind, _ version: UInt8, _ bytes: [UInt8]) throws -> InstrumentId? {
    let r: Result<InstrumentId?, CodecError> = bytes.withUnsafeBytes { raw in
        Result { () throws(CodecError) -> InstrumentId? in try Event.instrument(kind: kind.rawValue, version: version, payload: raw) }
    }
    return try r.get()
}

private func peekInterval(_ version: UInt8, _ bytes: [UInt8]) throws -> UInt32 {
    let r: Result<UInt32, CodecError> = bytes.withUnsafeBytes { raw in
        Result { () throws(CodecError) -> UInt32 in try BarClosed.intervalSeconds(payload: raw, version: version) }
    }
    return try r.get()
}

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

@Suite("Event codec")
struct CodecTests {
    @Test("every kind round-trips over generated events", arguments: EventKind.allCases)
    func roundTrip(kind: EventKind) throws {
        var gen = EventGenerator(seed: 0xC0DE_0000 + UInt64(kind.rawValue))
        for _ in 0..<300 {
            let event = gen.event(kind)
            let bytes = encode(event)
            let back = try decode(kind, bytes, version: event.layoutVersion)
            #expect(back == event)
            #expect(back.kind == kind)
            // Exact spelling survives too (scale is part of the bytes).
            #expect(encode(back) == bytes)
        }
    }

    @Test("reading the instrument and a bar's interval without decoding agrees with decoding, for every kind", arguments: EventKind.allCases)
    func peeks(kind: EventKind) throws {
        var gen = EventGenerator(seed: 0xFEED_0000 + UInt64(kind.rawValue))
        var named = 0
        for _ in 0..<200 {
            let event = gen.event(kind)
            let bytes = encode(event)
            let instrument = try peekInstrument(kind, event.layoutVersion, bytes)
            let interval = kind == .barClosed ? try peekInterval(event.layoutVersion, bytes) : nil
            #expect(instrument == event.instrument)
            if instrument != nil { named += 1 }
            if case .barClosed(let b) = event { #expect(interval == b.intervalSeconds) }
        }
        // The market kinds always name an instrument, so the fast path was exercised.
        if kind.rawValue <= EventKind.fundingIntervalChanged.rawValue { #expect(named == 200) }
    }

    @Test("golden bytes pin the funding.settled layout")
    func goldenFunding() throws {
        let e = Event.fundingSettled(FundingSettled(instrumentId: InstrumentId(3), ratePerInterval: Fixed("0.0001")!,
                                                    intervalMinutes: 480, markPrice: Fixed("43127.5")!))
        // Produced independently with Python: struct.pack('<I',3)+pack('<qB',1,4)+pack('<I',480)+pack('<qB',431275,1)
        #expect(hex(encode(e)) == "03000000010000000000000004e0010000ab9406000000000001")
    }

    @Test("golden bytes pin the bar.closed layout (the 96-byte benchmark payload)")
    func goldenBar() throws {
        let bar = BarClosed(instrumentId: InstrumentId(7), intervalSeconds: 3600, openTime: Timestamp(ms: 1_709_193_600_000),
                            open: Fixed("61032.80")!, high: Fixed("62710.00")!, low: Fixed("59840.50")!, close: Fixed("62487.90")!,
                            volumeBase: Fixed("103584.338")!, volumeQuote: Fixed("6326076283.80371")!, tradeCount: 1_337_488)
        let bytes = encode(.barClosed(bar))
        #expect(bytes.count == 96)
        #expect(hex(bytes) == "07000000100e0000009ce0f38d010000f0205d00000000000218b05f000000000002324f5b00000000000256595f00000000000252922c060000000003d3c8f8705a3f0200050000000000000000ff0000000000000000ff9068140000000000")
        #expect(bar.closeTime.ms == 1_709_197_200_000)
    }

    @Test("golden bytes pin strings (order.rejected)")
    func goldenRejected() throws {
        let e = Event.orderRejected(OrderRejected(intentSeq: 42, code: 110_007, reason: "insufficient balance"))
        #expect(hex(encode(e)) == "2a00000000000000b7ad01001400696e73756666696369656e742062616c616e6365")
    }

    // Expected bytes from Python: struct.pack("<BBHIQqqQ", 1, 1, 4, 26, 0x0102030405060708, 1609459200000, -1, 9 | 1 << 63)
    @Test("the record header is 40 bytes in the documented order")
    func goldenHeader() throws {
        var w = ByteWriter()
        RecordHeader(layoutVersion: 1, kindCode: 4, payloadLength: 26, seq: 0x0102_0304_0506_0708, eventTime: Timestamp(ms: 1_609_459_200_000),
                     recordTime: Timestamp(ms: -1), causation: .source(9)).encode(to: &w)
        #expect(w.bytes.count == RecordHeader.size)
        #expect(hex(w.bytes) == "010104001a000000" + "0807060504030201" + "00703ebb76010000" + "ffffffffffffffff" + "0900000000000080")
    }

    @Test("every truncation of every kind is a clear error, never a crash", arguments: EventKind.allCases)
    func truncation(kind: EventKind) throws {
        var gen = EventGenerator(seed: 77 + UInt64(kind.rawValue))
        let bytes = encode(gen.event(kind))
        for cut in 0..<bytes.count {
            #expect(throws: CodecError.self) { try decode(kind, Array(bytes[0..<cut])) }
            do {
                _ = try decode(kind, Array(bytes[0..<cut]))
            } catch {
                #expect(error.code == .truncated || error.code == .invalidValue)
                #expect(error.message.contains("needs") || error.message.contains("unknown") || error.message.contains("UTF-8"))
            }
        }
        // One byte too many is refused too.
        #expect(throws: CodecError.self) { try decode(kind, bytes + [0]) }
    }

    @Test("corrupted bytes decode to an error or to a valid event, never a crash")
    func corruption() throws {
        var gen = EventGenerator(seed: 4242)
        var rng = SplitMix64(seed: 99)
        var errors = 0
        for _ in 0..<5000 {
            let event = gen.anyEvent()
            var bytes = encode(event)
            guard !bytes.isEmpty else { continue }
            let i = rng.below(bytes.count)
            bytes[i] ^= UInt8(1 + rng.below(255))
            do {
                let back = try decode(event.kind, bytes)
                #expect(back.kind == event.kind)
            } catch {
                errors += 1
                #expect(!error.message.isEmpty)
            }
        }
        #expect(errors > 0)
    }

    @Test("an unknown kind and a newer layout are refused with what to do")
    func unknownKindAndVersion() throws {
        do {
            _ = try decode(code: 31, [UInt8](repeating: 0, count: 8))
            Issue.record("kind 31 decoded")
        } catch {
            #expect(error.code == .unknownKind)
            #expect(error.message.contains("31"))
        }
        let bytes = encode(.clockTicked(ClockTicked(purpose: .scan)))
        do {
            _ = try decode(.clockTicked, bytes, version: 2)
            Issue.record("version 2 decoded")
        } catch {
            #expect(error.code == .unsupportedVersion)
            #expect(error.message.contains("Upgrade Carry"))
        }
    }

    @Test("invalid enum values and invalid UTF-8 are named in the error")
    func invalidValues() throws {
        var bytes = encode(.orderFilled(OrderFilled(intentSeq: 1, instrumentId: InstrumentId(0), side: .buy, price: 1, qty: 1, fee: 0, liquidity: .taker,
                                                    referencePrice: 1, leavesQty: 0, isLiquidation: false, executionId: "x")))
        bytes[12] = 9  // side
        do {
            _ = try decode(.orderFilled, bytes)
            Issue.record("side 9 decoded")
        } catch {
            #expect(error.code == .invalidValue)
            #expect(error.message.contains("fill.side"))
        }
        var rejected = encode(.orderRejected(OrderRejected(intentSeq: 1, code: 1, reason: "ok")))
        rejected[rejected.count - 1] = 0xFF
        #expect(throws: CodecError.self) { try decode(.orderRejected, rejected) }
    }

    @Test("kind names are unique and resolve both ways")
    func kindNames() {
        let names = EventKind.allCases.map(\.name)
        #expect(Set(names).count == names.count)
        for k in EventKind.allCases {
            #expect(EventKind(name: k.name) == k)
            #expect(EventKind(name: String(k.rawValue)) == k)
        }
        #expect(EventKind(name: "funding") == nil)
    }
}
