// The configuration the pure core runs under, as plain values. Parsing and validation of
// YAML happen in CarryEngine; by the time a value reaches the core it is known to be valid.
//
// Units are in the names: rates are decimal fractions (0.0001 = 1 bp), `…PerInterval8h`
// is normalised to an 8-hour funding interval, `…Usdt` is an amount of the quote asset,
// `…Ms` is milliseconds.

/// Taker and maker fee rates of one market (a venue's spot or perp), as decimal fractions.
public struct FeeRates: Sendable, Equatable {
    public var taker: Fixed
    public var maker: Fixed

    /// Builds fee rates.
    public init(taker: Fixed, maker: Fixed) {
        self.taker = taker
        self.maker = maker
    }
}

/// Fees per venue, market kind and (optionally) symbol.
public struct FeeSchedule: Sendable, Equatable {
    /// Spot fees per venue, indexed by `Venue.rawValue`.
    public var spot: [UInt8: FeeRates]
    /// Perpetual fees per venue.
    public var perp: [UInt8: FeeRates]
    /// Per-symbol overrides: key `venue:kind:SYMBOL` (e.g. `binance:linear:BTCUSDT`).
    public var overrides: [String: FeeRates]

    /// Builds a schedule.
    public init(spot: [UInt8: FeeRates], perp: [UInt8: FeeRates], overrides: [String: FeeRates] = [:]) {
        self.spot = spot
        self.perp = perp
        self.overrides = overrides
    }

    /// The rates that apply to an instrument (override, else venue default, else zero).
    public func rates(for instrument: InstrumentDefined) -> FeeRates {
        if let o = overrides["\(instrument.venue):\(instrument.kind):\(instrument.symbol)"] { return o }
        let table = instrument.kind == .spot ? spot : perp
        return table[instrument.venue.rawValue] ?? FeeRates(taker: .zero, maker: .zero)
    }
}

/// How far fills land from the observed price.
public struct SlippageModel: Sendable, Equatable {
    /// Half the bid–ask spread, as a fraction of price, paid on every market order.
    public var halfSpread: Fixed
    /// Impact as a fraction of price per unit of participation: impact = coefficient ×
    /// (order value / bar quote volume). A 1 % participation with coefficient 0.1 costs 10 bp.
    public var impactCoefficient: Fixed
    /// The largest share of a bar's quote volume one order may take; larger orders are
    /// rejected by the simulated exchange rather than filled at a fantasy price.
    public var maxParticipation: Fixed

    /// Builds a slippage model.
    public init(halfSpread: Fixed, impactCoefficient: Fixed, maxParticipation: Fixed) {
        self.halfSpread = halfSpread
        self.impactCoefficient = impactCoefficient
        self.maxParticipation = maxParticipation
    }
}

/// Perpetual margin: isolated per position.
public struct MarginModel: Sendable, Equatable {
    /// Leverage of the perp leg (notional / margin).
    public var perpLeverage: Fixed
    /// Maintenance margin as a fraction of notional.
    public var maintenanceMarginRate: Fixed

    /// Builds a margin model.
    public init(perpLeverage: Fixed, maintenanceMarginRate: Fixed) {
        self.perpLeverage = perpLeverage
        self.maintenanceMarginRate = maintenanceMarginRate
    }

    /// The isolated-margin liquidation price of a perp position entered at `entry`:
    /// short: entry × (1 + 1/L) / (1 + mmr); long: entry × (1 − 1/L) / (1 − mmr).
    /// (Loss reaches the posted margin less the maintenance requirement at that price.)
    public func liquidationPrice(entry: Fixed, short: Bool) -> Fixed {
        let one = Fixed(1)
        let invLeverage = one.divided(by: perpLeverage, scale: 12, .toNearestOrEven)
        if short {
            let num = entry.multiplied(by: one + invLeverage, scale: 12, .toNearestOrEven)
            return num.divided(by: one + maintenanceMarginRate, scale: 8, .down)
        } else {
            let num = entry.multiplied(by: one - invLeverage, scale: 12, .toNearestOrEven)
            return num.divided(by: one - maintenanceMarginRate, scale: 8, .up)
        }
    }
}

/// Portfolio limits checked before any order is sent.
public struct RiskLimits: Sendable, Equatable {
    /// Largest notional of one pair (per leg), quote asset.
    public var maxPairNotionalUsdt: Fixed
    /// Largest total notional across open pairs (per leg), quote asset.
    public var maxTotalNotionalUsdt: Fixed
    /// Largest perp leverage allowed.
    public var maxLeverage: Fixed
    /// Smallest distance to liquidation, as a fraction of price, at entry (0.30 = the perp
    /// can move 30 % against us before liquidation).
    public var minMarginBuffer: Fixed
    /// When an open pair's distance to liquidation falls below this, it is closed.
    public var exitMarginBuffer: Fixed
    /// Peak-to-trough equity drawdown that engages the kill switch and flattens everything.
    public var maxDrawdown: Fixed
    /// Cash that must remain free after an entry, quote asset.
    public var minFreeCashUsdt: Fixed

    /// Builds limits.
    public init(maxPairNotionalUsdt: Fixed, maxTotalNotionalUsdt: Fixed, maxLeverage: Fixed, minMarginBuffer: Fixed,
                exitMarginBuffer: Fixed, maxDrawdown: Fixed, minFreeCashUsdt: Fixed) {
        self.maxPairNotionalUsdt = maxPairNotionalUsdt
        self.maxTotalNotionalUsdt = maxTotalNotionalUsdt
        self.maxLeverage = maxLeverage
        self.minMarginBuffer = minMarginBuffer
        self.exitMarginBuffer = exitMarginBuffer
        self.maxDrawdown = maxDrawdown
        self.minFreeCashUsdt = minFreeCashUsdt
    }
}

/// The v1 "simple threshold" strategy.
public struct ThresholdStrategyConfig: Sendable, Equatable {
    /// Enter when the last settled rate, normalised to 8 h, is at least this.
    public var entryThresholdPerInterval8h: Fixed
    /// Exit when it falls below this.
    public var exitThresholdPerInterval8h: Fixed
    /// Exit after holding this long, whatever the rate.
    public var maxHoldingMs: Int64
    /// Notional of each leg of a new pair, quote asset.
    public var pairNotionalUsdt: Fixed
    /// At most this many pairs open at once.
    public var maxOpenPairs: Int
    /// A funding print older than this is stale: no entries on it.
    public var maxRateAgeMs: Int64

    /// Builds a strategy config.
    public init(entryThresholdPerInterval8h: Fixed, exitThresholdPerInterval8h: Fixed, maxHoldingMs: Int64, pairNotionalUsdt: Fixed,
                maxOpenPairs: Int, maxRateAgeMs: Int64) {
        self.entryThresholdPerInterval8h = entryThresholdPerInterval8h
        self.exitThresholdPerInterval8h = exitThresholdPerInterval8h
        self.maxHoldingMs = maxHoldingMs
        self.pairNotionalUsdt = pairNotionalUsdt
        self.maxOpenPairs = maxOpenPairs
        self.maxRateAgeMs = maxRateAgeMs
    }
}

/// What to do when one leg of a pair is filled and the other is not.
public enum LegFailurePolicy: UInt8, Sendable, Equatable {
    /// Close the filled leg (the default: never hold a naked leg longer than the budget).
    case unwind = 0
    /// Send the missing leg again as a market order.
    case complete = 1
}

/// How pairs are executed and kept hedged.
public struct ExecutionPolicy: Sendable, Equatable {
    /// The leg-risk budget, as full-pair-notional milliseconds: a pair may carry naked
    /// notional N for t ms while N × t ≤ budget × pair notional (30 s of the whole pair).
    public var legRiskBudgetMs: Int64
    /// Past the budget (or when a leg fails outright): unwind the filled leg, or complete the missing one.
    public var legFailure: LegFailurePolicy
    /// Delta drift band: |spot qty − perp qty| ÷ pair qty above this decides a rebalance.
    public var deltaBand: Fixed
    /// After a rebalancing order ends unfilled, wait this long before trying again.
    public var rebalanceRetryMs: Int64

    /// Builds a policy.
    public init(legRiskBudgetMs: Int64 = 30_000, legFailure: LegFailurePolicy = .unwind, deltaBand: Fixed = Fixed(mantissa: 2, scale: 2),
                rebalanceRetryMs: Int64 = 5 * 60_000) {
        self.legRiskBudgetMs = legRiskBudgetMs
        self.legFailure = legFailure
        self.deltaBand = deltaBand
        self.rebalanceRetryMs = rebalanceRetryMs
    }

    /// 30 s of leg risk, unwind, a 2 % band, 5 min between rebalancing attempts.
    public static let standard = ExecutionPolicy()
}

/// A spot instrument and the perpetual it hedges.
public struct PairSpec: Sendable, Equatable {
    public var spot: InstrumentId
    public var perp: InstrumentId

    /// Builds a pair.
    public init(spot: InstrumentId, perp: InstrumentId) {
        self.spot = spot
        self.perp = perp
    }
}

/// Everything the reducer and the simulated exchange need.
public struct EngineConfig: Sendable, Equatable {
    public var pairs: [PairSpec]
    /// Bar interval the engine prices from (seconds); bars of other intervals are ignored.
    public var barIntervalSeconds: UInt32
    public var initialCashUsdt: Fixed
    public var strategy: ThresholdStrategyConfig
    public var risk: RiskLimits
    public var fees: FeeSchedule
    public var slippage: SlippageModel
    public var margin: MarginModel
    /// Decision-to-order latency in ms: a fill uses the first price observable after
    /// decision time + latency.
    public var latencyMs: Int64
    /// Leg risk, delta band, rebalancing.
    public var execution: ExecutionPolicy
    /// `strategy_mode: composite` (v1.1) when set; nil is `simple`, v1.0's threshold strategy.
    public var composite: CompositeStrategyConfig?

    /// Builds an engine config.
    public init(pairs: [PairSpec], barIntervalSeconds: UInt32, initialCashUsdt: Fixed, strategy: ThresholdStrategyConfig, risk: RiskLimits,
                fees: FeeSchedule, slippage: SlippageModel, margin: MarginModel, latencyMs: Int64, execution: ExecutionPolicy = .standard,
                composite: CompositeStrategyConfig? = nil) {
        self.execution = execution
        self.composite = composite
        self.pairs = pairs
        self.barIntervalSeconds = barIntervalSeconds
        self.initialCashUsdt = initialCashUsdt
        self.strategy = strategy
        self.risk = risk
        self.fees = fees
        self.slippage = slippage
        self.margin = margin
        self.latencyMs = latencyMs
    }
}

/// The scale of amounts of the quote asset (cash, fees, funding, P&L): 8 decimals.
public let quoteScale = 8
