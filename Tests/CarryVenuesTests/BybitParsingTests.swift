import CarryCore
import CarryTesting
@testable import CarryVenues
import Foundation
import Testing

/// The parsers against Bybit's own published samples (copied into Tests/Fixtures/api-samples/bybit):
/// every number is read exactly, as the string the venue sent.
@Suite("Bybit v5 parsing: the venue's sample responses")
struct BybitParsingTests {
    static let samples = Fixtures.bybitSamples

    func sample(_ name: String) throws -> [UInt8] {
        let path = Self.samples + "/" + name
        guard let data = FileManager.default.contents(atPath: path) else {
            Issue.record("missing sample \(path) (Tests/Fixtures/api-samples/bybit ships with the repository)")
            throw BybitError(.malformed, "missing sample")
        }
        return Array(data)
    }

    @Test("funding history: rate and settlement time, newest first")
    func fundingHistory() throws {
        let docs = try BybitParser.fundingHistory(sample("docs/market_history-fund-rate.response.json"))
        #expect(docs == [BybitFundingRate(symbol: "ETHPERP", rate: try Fixed.parse("0.0001"), time: Timestamp(ms: 1_672_041_600_000))])
        let two = try BybitParser.fundingHistory(sample("nautilus/http_get_funding_history.json"))
        #expect(two.map(\.rate.description) == ["0.0001", "0.00015"])
        #expect(two.map(\.time.ms) == [1_709_884_800_000, 1_709_856_000_000])
        #expect(two[0].time > two[1].time)
    }

    @Test("kline: seven strings per row, exact decimals, newest first")
    func kline() throws {
        let rows = try BybitParser.klines(sample("docs/market_kline.response.json"))
        #expect(rows.count == 3)
        #expect(rows.map(\.start.ms) == [1_670_608_800_000, 1_670_605_200_000, 1_670_601_600_000])
        #expect(rows[0].open.description == "17071")
        #expect(rows[0].high.description == "17073")
        #expect(rows[0].low.description == "17027")
        #expect(rows[0].close.description == "17055.5")
        #expect(rows[0].volume.description == "268611")
        #expect(rows[0].turnover.description == "15.74462667")
        let bar = rows[1].bar(InstrumentId(3), intervalSeconds: 3600)
        #expect(bar.closeTime.ms == 1_670_605_200_000 + 3_600_000)
        #expect(bar.volumeQuote.description == "0.24469757")
        let linear = try BybitParser.klines(sample("nautilus/http_get_klines_linear.json"))
        #expect(linear.map(\.close.description) == ["27455"])
        #expect(linear[0].volume.description == "123.45")
    }

    @Test("instruments-info, linear perpetual: tick, qty step, min notional, funding interval")
    func instrumentsLinear() throws {
        let page = try BybitParser.instruments(sample("docs/market_instrument.response.linear.perpetual.json"), category: .linear)
        #expect(page.nextPageCursor == "")
        let btc = try #require(page.list.first)
        #expect(btc.symbol == "BTCUSDT" && btc.baseCoin == "BTC" && btc.quoteCoin == "USDT")
        #expect(btc.isPerpetual && btc.status == "Trading")
        #expect(btc.tickSize.description == "0.10")
        #expect(btc.qtyStep.description == "0.001")
        #expect(btc.minQty.description == "0.001")
        #expect(btc.minNotional.description == "5")
        #expect(btc.maxLeverage.description == "100.00")
        #expect(btc.fundingIntervalMinutes == 480)
        let d = btc.definition
        #expect(d.kind == .linearPerpetual && d.venue == .bybit && d.fundingIntervalMinutes == 480)
    }

    @Test("instruments-info, spot: base precision as the quantity step, min order amount as min notional")
    func instrumentsSpot() throws {
        let page = try BybitParser.instruments(sample("docs/market_instrument.response.spot.json"), category: .spot)
        let btc = try #require(page.list.first)
        #expect(btc.tickSize.description == "0.1")
        #expect(btc.qtyStep.description == "0.000001")
        #expect(btc.minQty.description == "0.000011")
        #expect(btc.minNotional.description == "5")
        #expect(btc.fundingIntervalMinutes == 0 && !btc.isPerpetual)
        #expect(btc.definition.kind == .spot)
    }

    @Test("instruments-info: every linear instrument of nautilus' larger sample parses")
    func instrumentsMany() throws {
        let page = try BybitParser.instruments(sample("nautilus/http_get_instruments_linear.json"), category: .linear)
        #expect(!page.list.isEmpty)
        #expect(page.list.allSatisfy { $0.tickSize > Fixed(0) && $0.qtyStep > Fixed(0) })
    }

    @Test("tickers: mark, index, funding rate, next settlement; empty strings are absent")
    func tickers() throws {
        let inverse = try #require(try BybitParser.tickers(sample("docs/market_tickers.response.inverse.json")).first)
        #expect(inverse.markPrice?.description == "114898.43")
        #expect(inverse.indexPrice?.description == "114890.92")
        #expect(inverse.fundingRate?.description == "0.0001")
        #expect(inverse.nextFundingTime?.ms == 1_760_371_200_000)
        #expect(inverse.fundingIntervalHours == 8)
        #expect(inverse.venueBasis == nil)
        #expect(inverse.basis == (try Fixed.parse("7.51")))
        let p = try #require(inverse.prediction(InstrumentId(1), intervalMinutes: 60))
        #expect(p.intervalMinutes == 480 && p.nextSettlementTime.ms == 1_760_371_200_000)
        let spot = try #require(try BybitParser.tickers(sample("docs/market_tickers.response.spot.json")).first)
        #expect(spot.bid1Price?.description == "20517.96" && spot.ask1Price?.description == "20527.77")
        #expect(spot.lastPrice?.description == "20533.13")
        #expect(spot.markPrice == nil && spot.fundingRate == nil)
        #expect(spot.prediction(InstrumentId(1), intervalMinutes: 480) == nil)
    }

    @Test("server time: to the millisecond from timeNano")
    func serverTime() throws {
        #expect(try BybitParser.serverTime(sample("docs/market_time.response.json")).time.ms == 1_688_639_403_423)
    }

    @Test("a malformed number is reported with its path, never read as something else")
    func malformed() throws {
        let body = Array(#"{"retCode":0,"retMsg":"OK","result":{"list":[{"symbol":"X","fundingRate":"0.0001","fundingRateTimestamp":"1"},{"symbol":"X","fundingRate":"12,5","fundingRateTimestamp":"2"}]},"time":1}"#.utf8)
        #expect {
            _ = try BybitParser.fundingHistory(body)
        } throws: { error in
            let e = error as? BybitError
            return e?.code == .malformed && e!.message.contains("result.list[1].fundingRate") && e!.message.contains("12,5")
        }
        let broken = Array(#"{"retCode":0,"retMsg":"OK","result":{"list":[["1","10","9","11","10","1","1"]]}}"#.utf8)
        #expect(throws: BybitError.self) { _ = try BybitParser.klines(broken) }   // high below low
        #expect(throws: BybitError.self) { _ = try BybitParser.envelope(Array("<html>502</html>".utf8)) }
        let env = try BybitParser.envelope(Array(#"{"retCode":10001,"retMsg":"params error","result":{},"time":5}"#.utf8))
        #expect(env == BybitEnvelope(retCode: 10001, retMsg: "params error", time: 5))
    }
}
