// Conviction sizing: a stronger score gets a larger position under identical exchange rules,
// and — over thousands of seeded random cases of convictions, prices, quantity steps, minimum
// sizes and open books — the size never takes the open notional over the cap, always respects
// the step, the minimum quantity and the minimum notional of both legs, and is refused for
// lack of room exactly when the room is below the minimum size.

import CarryCore
import Testing

private func instrument(_ id: UInt32, kind: InstrumentKind, step: Fixed, minQty: Fixed, minNotional: Fixed) -> InstrumentDefined {
    InstrumentDefined(id: InstrumentId(id), venue: .binance, kind: kind, symbol: "XUSDT", baseAsset: "X", quoteAsset: "USDT", tickSize: f("0.01"),
                      qtyStep: step, minQty: minQty, minNotional: minNotional, fundingIntervalMinutes: kind == .spot ? 0 : 480,
                      maxLeverage: Fixed(10))
}

/// 10^-k.
private func step(_ k: Int) -> Fixed { Fixed(mantissa: 1, scale: UInt8(k)) }

@Suite("Conviction sizing")
struct ConvictionSizingTests {
    @Test("a stronger score gets a strictly larger quantity under the same rules: 0.5 → 156.25, 0.8 → 212.5 (entry 0.2, 10,000–25,000 USDT)")
    func strongerIsLarger() {
        let strategy = CompositeStrategy(config: compositeTestConfig(entryScore: "0.2", minNotional: "10000", maxNotional: "25000"), pairs: [],
                                         fees: testFees, slippage: noSlippage)
        let sizer = ConvictionSizer(minNotionalUsdt: Fixed(10_000), maxNotionalUsdt: Fixed(25_000))
        func size(_ score: String) -> SizeResult {
            sizer.size(SizeRequest(spot: spotDef(0), perp: perpDef(1), spotPrice: f("100"), perpPrice: f("99.5"),
                                   conviction: strategy.conviction(f(score)), capacityUsdt: Fixed(75_000)))
        }
        // Conviction (0.5 − 0.2) / 0.8 = 0.375 → 10,000 + 0.375 × 15,000 = 15,625 ÷ 100 (the dearer leg) = 156.25.
        #expect(size("0.5") == .qty(f("156.25")))
        // (0.8 − 0.2) / 0.8 = 0.75 → 21,250 → 212.5.
        #expect(size("0.8") == .qty(f("212.5")))
        // At the entry score the minimum, at 1 (or above) the maximum.
        #expect(size("0.2") == .qty(f("100")))
        #expect(size("1") == .qty(f("250")))
        // Same notional, priced at the dearer leg whichever it is.
        #expect(sizer.size(SizeRequest(spot: spotDef(0), perp: perpDef(1), spotPrice: f("80"), perpPrice: f("125"), conviction: f("0.75"),
                                       capacityUsdt: Fixed(75_000))) == .qty(f("170")))
    }

    @Test("the room under the cap: scaled down to it when it holds the minimum, refused when it does not")
    func room() {
        let sizer = ConvictionSizer(minNotionalUsdt: Fixed(10_000), maxNotionalUsdt: Fixed(25_000))
        func size(_ conviction: String, room: String) -> SizeResult {
            sizer.size(SizeRequest(spot: spotDef(0), perp: perpDef(1), spotPrice: f("100"), perpPrice: f("100"), conviction: f(conviction),
                                   capacityUsdt: f(room)))
        }
        #expect(size("1", room: "25000") == .qty(f("250")))
        #expect(size("1", room: "24999.99") == .scaled(f("249.999"), requestedUsdt: f("25000"), capacityUsdt: f("24999.99")))
        #expect(size("0", room: "10000") == .qty(f("100")))
        #expect(size("1", room: "10000") == .scaled(f("100"), requestedUsdt: f("25000"), capacityUsdt: f("10000")))
        #expect(size("1", room: "9999.99999999") == .noRoom(capacityUsdt: f("9999.99999999"), minimumUsdt: f("10000")))
        #expect(size("0", room: "0") == .noRoom(capacityUsdt: .zero, minimumUsdt: f("10000")))
        #expect(size("0", room: "-500") == .noRoom(capacityUsdt: .zero, minimumUsdt: f("10000")))
    }

    /// One random case: two legs with their own steps (powers of ten), minimum quantities and
    /// minimum notionals, prices of 2–6 decimals, a sizer range, a cap and the notional already open.
    struct Case: CustomStringConvertible {
        var spot: InstrumentDefined
        var perp: InstrumentDefined
        var spotPrice: Fixed
        var perpPrice: Fixed
        var minNotional: Fixed
        var maxNotional: Fixed
        var cap: Fixed
        var open: Fixed
        var conviction: Fixed

        init(_ rng: inout SplitMix64) {
            let spotStep = step(rng.below(7)), perpStep = step(rng.below(5))
            spot = instrument(0, kind: .spot, step: spotStep, minQty: spotStep.multiplied(by: Int64(1 + rng.below(50))),
                              minNotional: Fixed(Int64(rng.below(101))))
            perp = instrument(1, kind: .linearPerpetual, step: perpStep, minQty: perpStep.multiplied(by: Int64(1 + rng.below(20))),
                              minNotional: Fixed(Int64(rng.below(21))))
            // Prices from one unit of the last decimal to 1,000,000, spread over the decades.
            let scale = UInt8(2 + rng.below(5))
            var magnitude: Int64 = 1
            for _ in 0..<rng.below(Int(scale) + 7) { magnitude *= 10 }
            spotPrice = Fixed(mantissa: Int64(1 + rng.below(Int(magnitude))), scale: scale)
            // The perp within ±2 % of spot (and positive).
            let drift = spotPrice.multiplied(by: Fixed(mantissa: Int64(rng.below(4001)) - 2000, scale: 5), scale: Int(scale), .towardZero)
            perpPrice = Fixed.max(Fixed(mantissa: 1, scale: scale), spotPrice + drift)
            minNotional = Fixed(mantissa: Int64(100 + rng.below(5_000_000)), scale: 2)
            maxNotional = minNotional + Fixed(mantissa: Int64(rng.below(5_000_000)), scale: 2)
            cap = Fixed(Int64(1_000 + rng.below(200_000)))
            // Books from empty to beyond the cap (marks move after entry).
            open = Fixed(mantissa: Int64(rng.below(Int(cap.mantissa) * 120)), scale: 2)
            conviction = Fixed(mantissa: Int64(rng.below(1_400_001)) - 200_000, scale: 6)   // −0.2 … 1.2
        }

        var capacity: Fixed { Fixed.max(.zero, cap - open) }

        /// The notional asked for: min + clamp(conviction, 0, 1) × (max − min), 8 decimals toward zero.
        var requested: Fixed {
            let c = Fixed.min(Fixed(1), Fixed.max(.zero, conviction))
            return minNotional + (maxNotional - minNotional).multiplied(by: c, scale: 8, .towardZero)
        }

        var description: String {
            "spot \(spotPrice) step \(spot.qtyStep) minQty \(spot.minQty) minNotional \(spot.minNotional); perp \(perpPrice) step \(perp.qtyStep) "
                + "minQty \(perp.minQty) minNotional \(perp.minNotional); size \(minNotional)…\(maxNotional) conviction \(conviction); cap \(cap) open \(open)"
        }
    }

    /// Checks a quantity the sizer gave against the exchange's rules and the cap.
    static func checkQuantity(_ q: Fixed, _ c: Case, target: Fixed) {
        let step = Fixed.max(c.spot.qtyStep, c.perp.qtyStep)
        let dearer = Fixed.max(c.spotPrice, c.perpPrice)
        #expect(q.isPositive, "\(c)")
        #expect(q.isMultiple(of: c.spot.qtyStep) && q.isMultiple(of: c.perp.qtyStep), "\(q): \(c)")
        #expect(q >= c.spot.minQty && q >= c.perp.minQty, "\(q): \(c)")
        #expect(q.multiplied(by: c.spotPrice, scale: 8, .towardZero) >= c.spot.minNotional, "\(q): \(c)")
        #expect(q.multiplied(by: c.perpPrice, scale: 8, .towardZero) >= c.perp.minNotional, "\(q): \(c)")
        // Neither leg's notional exceeds the target; the open notional the reducer counts (perp
        // leg, rounded up to 8 decimals) stays under the cap.
        #expect(q.multiplied(by: dearer, scale: 8, .up) <= target, "\(q): \(c)")
        #expect(c.open + q.multiplied(by: c.perpPrice, scale: 8, .up) <= c.cap, "\(q): \(c)")
        // And it is the largest such quantity: one step more would exceed the target.
        #expect((q + step).multiplied(by: dearer, scale: 12, .towardZero) > target, "\(q): \(c)")
    }

    @Test("property (5,000 seeded cases): the cap is never exceeded; every size is a multiple of both steps and meets both minimums; noRoom exactly when the room is below the minimum size")
    func property() {
        var rng = SplitMix64(seed: 0xC0_11)
        var counts = (qty: 0, scaled: 0, tooSmall: 0, noRoom: 0)
        for _ in 0..<5_000 {
            let c = Case(&rng)
            let sizer = ConvictionSizer(minNotionalUsdt: c.minNotional, maxNotionalUsdt: c.maxNotional)
            let result = sizer.size(SizeRequest(spot: c.spot, perp: c.perp, spotPrice: c.spotPrice, perpPrice: c.perpPrice, conviction: c.conviction,
                                                capacityUsdt: c.cap - c.open))
            let noRoom = c.capacity < c.minNotional
            switch result {
            case .noRoom(let capacity, let minimum):
                counts.noRoom += 1
                #expect(noRoom, "\(c)")
                #expect(capacity == c.capacity && minimum == c.minNotional, "\(c)")
            case .qty(let q):
                counts.qty += 1
                #expect(!noRoom && c.requested <= c.capacity, "\(c)")
                Self.checkQuantity(q, c, target: c.requested)
            case .scaled(let q, let requested, let capacity):
                counts.scaled += 1
                #expect(!noRoom && c.requested > c.capacity, "\(c)")
                #expect(requested == c.requested && capacity == c.cap - c.open, "\(c)")
                Self.checkQuantity(q, c, target: c.capacity)
            case .tooSmall(let step, let raw):
                counts.tooSmall += 1
                #expect(!noRoom, "\(c)")
                #expect(step == Fixed.max(c.spot.qtyStep, c.perp.qtyStep))
                // The largest multiple of the step within the target fails one of the rules.
                let target = Fixed.min(c.requested, c.capacity)
                let dearer = Fixed.max(c.spotPrice, c.perpPrice)
                let q = raw.rounded(toMultipleOf: step, .towardZero)
                #expect(q.multiplied(by: dearer, scale: 12, .towardZero) <= target && (q + step).multiplied(by: dearer, scale: 12, .towardZero) > target,
                        "\(raw): \(c)")
                let fails = !q.isPositive || q < c.spot.minQty || q < c.perp.minQty
                    || q.multiplied(by: c.spotPrice, scale: 8, .towardZero) < c.spot.minNotional
                    || q.multiplied(by: c.perpPrice, scale: 8, .towardZero) < c.perp.minNotional
                #expect(fails, "\(q) would do: \(c)")
            }
        }
        // The generator reaches every outcome often enough for the property to mean something.
        #expect(counts.qty > 1_000 && counts.scaled > 300 && counts.noRoom > 1_000 && counts.tooSmall > 200, "\(counts)")
    }

    @Test("property (3,000 seeded cases): with room to spare, a higher conviction never gets less, and strictly more once the notionals differ by a step's worth")
    func monotone() {
        var rng = SplitMix64(seed: 0xC0_12)
        var strict = 0
        for _ in 0..<3_000 {
            var c = Case(&rng)
            c.open = .zero
            c.cap = Fixed(1_000_000_000)
            let low = Fixed(mantissa: Int64(rng.below(1_000_001)), scale: 6)
            let high = low + Fixed(mantissa: Int64(1 + rng.below(1_000_000)), scale: 6)
            let sizer = ConvictionSizer(minNotionalUsdt: c.minNotional, maxNotionalUsdt: c.maxNotional)
            func qty(_ conviction: Fixed) -> Fixed? {
                let r = sizer.size(SizeRequest(spot: c.spot, perp: c.perp, spotPrice: c.spotPrice, perpPrice: c.perpPrice, conviction: conviction,
                                               capacityUsdt: c.cap))
                if case .qty(let q) = r { return q }
                return nil
            }
            guard let a = qty(low), let b = qty(high) else { continue }
            #expect(a <= b, "\(low) → \(a), \(high) → \(b): \(c)")
            c.conviction = low
            let notionalLow = c.requested
            c.conviction = high
            let notionalHigh = c.requested
            let stepWorth = Fixed.max(c.spot.qtyStep, c.perp.qtyStep).multiplied(by: Fixed.max(c.spotPrice, c.perpPrice), scale: 12, .up)
            if notionalHigh - notionalLow >= stepWorth {
                strict += 1
                #expect(a < b, "\(low) → \(a), \(high) → \(b): \(c)")
            }
        }
        #expect(strict > 1_000)
    }
}
