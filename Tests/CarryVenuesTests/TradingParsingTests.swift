import CarryCore
import CarryTesting
@testable import CarryVenues
import Foundation
import Testing

func bybitSample(_ name: String) throws -> [UInt8] {
    let path = Fixtures.bybitSamples + "/" + name
    guard let data = FileManager.default.contents(atPath: path) else { throw BybitError(.malformed, "missing sample \(path)") }
    return Array(data)
}

/// The signed endpoints' parsers against Bybit's published samples, exact to the digit.
@Suite("Bybit v5 parsing: signed endpoints")
struct TradingParsingTests {
    @Test("orders: realtime (docs, nautilus) and history")
    func orders() throws {
        let docs = try BybitParser.orders(bybitSample("docs/order_open-order.response.json"))
        #expect(docs.count == 1)
        #expect(docs[0].orderLinkId == "test-000005" && docs[0].side == .buy && docs[0].orderStatus == "New" && docs[0].isOpen)
        #expect(docs[0].price.description == "1600.00" && docs[0].qty.description == "0.10" && docs[0].leavesQty.description == "0.10")
        #expect(docs[0].createdTime == Timestamp(ms: 1_684_738_540_559) && docs[0].reduceOnly == false)
        let realtime = try BybitParser.orders(bybitSample("nautilus/http_get_orders_realtime.json"))
        #expect(realtime.count == 2 && realtime[0].orderId == "open-order-1" && realtime[0].price.description == "3930.41" && realtime[0].avgPrice == nil)
        let history = try BybitParser.orders(bybitSample("nautilus/http_get_orders_history.json"))
        #expect(history.count == 1 && history[0].orderStatus == "Cancelled" && !history[0].isOpen && history[0].price.description == "30000")
    }

    @Test("executions: fills and funding are separated")
    func executions() throws {
        let docs = try BybitParser.executions(bybitSample("docs/order_execution.response.json"))
        #expect(docs.fills.count == 1 && docs.funding.isEmpty)
        #expect(docs.fills[0].execFee.description == "0.071409" && docs.fills[0].execPrice.description == "1190.15" && docs.fills[0].feeRate?.description == "0.0006")
        // What a live session maps a fill from: the order's remaining quantity, the fee's coin, the mark.
        #expect(docs.fills[0].leavesQty == .zero && docs.fills[0].feeCurrency == "" && docs.fills[0].markPrice?.description == "1183.54")
        #expect(docs.fills[0].execValue?.description == "119.015")
        let mixed = Array(#"""
            {"retCode":0,"retMsg":"OK","result":{"category":"linear","nextPageCursor":"","list":[
            {"symbol":"BTCUSDT","orderId":"","orderLinkId":"","side":"Sell","execType":"Funding","execPrice":"43000.10","execQty":"0.010","execFee":"-0.0430001","feeRate":"0.0001","isMaker":false,"execTime":"1700006400000","execId":"f-1"},
            {"symbol":"BTCUSDT","orderId":"o1","orderLinkId":"L1","side":"Sell","execType":"Trade","execPrice":"43000","execQty":"0.010","execFee":"0.2365","feeRate":"0.00055","isMaker":false,"execTime":"1700000000000","execId":"e-1"}]},"retExtInfo":{},"time":1}
            """#.utf8)
        let split = try BybitParser.executions(mixed)
        #expect(split.fills.map(\.execId) == ["e-1"] && split.funding.map(\.execId) == ["f-1"])
        #expect(split.funding[0].execFee == Fixed("-0.0430001")!)
        let nautilus = try BybitParser.executions(bybitSample("nautilus/http_get_executions.json"))
        #expect(nautilus.fills.first?.isMaker == true && nautilus.fills.first?.execQty.description == "0.100")
    }

    @Test("positions, wallet, fee rates, transaction log, account and key info")
    func account() throws {
        let pos = try BybitParser.positions(bybitSample("docs/position_position.response.json"))
        #expect(pos.count == 1 && pos[0].side == "Sell" && pos[0].size.description == "300" && pos[0].signedSize == Fixed(-300))
        #expect(pos[0].avgPrice.description == "27464.50441675" && pos[0].liqPrice == nil && pos[0].unrealisedPnl?.description == "-0.00029413")
        let npos = try BybitParser.positions(bybitSample("nautilus/http_get_positions.json"))
        #expect(npos.count == 3 && npos[0].symbol == "BTCUSDT" && npos[0].size.description == "0.5")

        let wallet = try BybitParser.wallet(bybitSample("docs/account_wallet-balance.response.json"))
        #expect(wallet.accountType == "UNIFIED" && wallet.totalEquity?.description == "3.31216591" && wallet.coin("BTC")?.walletBalance == .zero)
        #expect(wallet.totalAvailableBalance?.description == "3.00326056")

        let fees = try BybitParser.feeRates(bybitSample("docs/account_fee-rate.response.json"))
        #expect(fees == [BybitFeeRate(symbol: "ETHUSDT", takerFeeRate: Fixed("0.0006")!, makerFeeRate: Fixed("0.0001")!)])

        let log = try BybitParser.transactions(bybitSample("docs/account_transaction-log.response.json"))
        #expect(log.map(\.type) == ["SETTLEMENT", "TRADE", "TRADE"])
        #expect(log[0].funding?.description == "-0.003676" && log[0].change.description == "-0.003676" && log[1].funding == nil)
        #expect(log[0].cashBalance?.description == "5086.55825002" && log[0].transactionTime == Timestamp(ms: 1_672_128_000_000))
        // A settlement's mark and rate (what the funding ledger books), and its position signed by its side.
        #expect(log[0].tradePrice?.description == "0.3676" && log[0].feeRate?.description == "0.0001" && log[0].signedSize == Fixed(100))
        var short = log[0]
        short.side = "Sell"
        #expect(short.signedSize == Fixed(-100))
        short.size = Fixed(-100)
        #expect(short.signedSize == Fixed(-100))

        #expect(try BybitParser.accountInfo(bybitSample("docs/account_account-info.response.json")) == BybitAccountInfo(marginMode: "REGULAR_MARGIN", unifiedMarginStatus: 4))
        let key = try BybitParser.apiKeyInfo(bybitSample("nautilus/http_get_user_query_api.json"))
        #expect(key.readOnly && key.ips.count == 3 && key.permissions.first { $0.group == "ContractTrade" }?.names == ["Order", "Position"])
        #expect(try BybitParser.orderRef(bybitSample("docs/order_create-order.response.json")) == BybitOrderRef(orderId: "1321003749386327552", orderLinkId: "spot-test-postonly"))
        #expect(try BybitParser.cancelAll(bybitSample("docs/order_cancel-all.response.json")).count == 2)
    }

    static let fuzzed: [(String, @Sendable ([UInt8]) throws -> any Sendable)] = [
        ("docs/order_open-order.response.json", { try BybitParser.orders($0) }),
        ("nautilus/http_get_orders_history.json", { try BybitParser.orders($0) }),
        ("docs/order_execution.response.json", { try BybitParser.executions($0) }),
        ("nautilus/http_get_executions.json", { try BybitParser.executions($0) }),
        ("docs/position_position.response.json", { try BybitParser.positions($0) }),
        ("docs/account_wallet-balance.response.json", { try BybitParser.wallet($0) }),
        ("docs/account_fee-rate.response.json", { try BybitParser.feeRates($0) }),
        ("docs/account_transaction-log.response.json", { try BybitParser.transactions($0) }),
        ("docs/account_account-info.response.json", { try BybitParser.accountInfo($0) }),
        ("nautilus/http_get_user_query_api.json", { try BybitParser.apiKeyInfo($0) }),
        ("docs/order_create-order.response.json", { try BybitParser.orderRef($0) }),
        ("docs/order_cancel-all.response.json", { try BybitParser.cancelAll($0) }),
    ]

    @Test("fuzzed bodies (truncated, retyped, huge numbers, reordered): parsed or a clear malformed error, never a crash", arguments: 0..<fuzzed.count)
    func fuzz(_ index: Int) throws {
        let (name, parse) = Self.fuzzed[index]
        let original = try bybitSample(name)
        var rng = SplitMix64(seed: 0xF022 &+ UInt64(index))
        var failures = 0
        for _ in 0..<300 {
            let body = Self.mutate(original, &rng)
            do {
                _ = try parse(body)
            } catch let e as BybitError {
                failures += 1
                #expect(e.code == .malformed, "\(name): \(e)")
                #expect(e.message.contains("bytes, SHA-256"), "\(name): no fingerprint in \(e.message)")
            } catch {
                Issue.record("\(name): not a BybitError: \(error)")
            }
        }
        #expect(failures > 50, "\(name): the mutations should break most bodies (\(failures) of 300 did)")
    }

    /// One seeded mutation of a JSON body.
    static func mutate(_ body: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        let text = String(decoding: body, as: UTF8.self)
        let quotes = text.indices.filter { text[$0] == "\"" }
        switch rng.next() % 5 {
        case 0:   // truncated anywhere
            return Array(body.prefix(Int(rng.next() % UInt64(body.count))))
        case 1:   // a string value becomes a number, a bool, null, an object
            guard let (a, b) = valueSpan(text, quotes, &rng) else { return body }
            let replacements = ["12", "true", "null", "{}", "[1]"]
            return Array((String(text[..<a]) + replacements[Int(rng.next() % 5)] + String(text[text.index(after: b)...])).utf8)
        case 2:   // a huge or malformed number inside a string
            guard let (a, b) = valueSpan(text, quotes, &rng) else { return body }
            let replacements = ["\"99999999999999999999999999999\"", "\"1e400\"", "\"-\"", "\"0x10\"", "\"1.2.3\"", "\"\(String(repeating: "9", count: 300))\""]
            return Array((String(text[..<a]) + replacements[Int(rng.next() % 6)] + String(text[text.index(after: b)...])).utf8)
        case 3:   // a key renamed (a field goes missing)
            guard quotes.count > 2 else { return body }
            let i = quotes[Int(rng.next() % UInt64(quotes.count))]
            var copy = text
            copy.insert("x", at: copy.index(after: i))
            return Array(copy.utf8)
        default:  // reordered: members of the document in reverse order (must still parse)
            guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
                  let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return body }
            return Array(data)
        }
    }

    /// The span of a random quoted string (opening and closing quote).
    static func valueSpan(_ text: String, _ quotes: [String.Index], _ rng: inout SplitMix64) -> (String.Index, String.Index)? {
        guard quotes.count >= 4 else { return nil }
        let pair = Int(rng.next() % UInt64(quotes.count / 2))
        return (quotes[pair * 2], quotes[pair * 2 + 1])
    }
}
