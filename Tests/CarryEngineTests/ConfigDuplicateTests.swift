// A symbol listed twice in a backtest config would open two pairs on the same instruments
// (v1.0 accepted it); the config is refused, naming the repeat.

import CarryEngine
import Testing

@Suite("Backtest config: duplicate symbols")
struct ConfigDuplicateTests {
    @Test("a symbol listed twice (in any case) is refused with an error naming it; distinct symbols parse")
    func duplicateSymbols() throws {
        #expect(throws: ConfigError.self) { try BacktestConfig.parse(yaml: "symbols: [BTCUSDT, BTCUSDT]", source: "dup.yaml") }
        do {
            _ = try BacktestConfig.parse(yaml: "symbols: [BTCUSDT, ETHUSDT, btcusdt]", source: "dup.yaml")
            Issue.record("a repeated symbol was accepted")
        } catch {
            #expect(error.key == "symbols" && error.value == "BTCUSDT")
            #expect(error.description.contains("BTCUSDT is listed twice"))
        }
        let ok = try BacktestConfig.parse(yaml: "symbols: [BTCUSDT, ETHUSDT]", source: "ok.yaml")
        #expect(ok.symbols == ["BTCUSDT", "ETHUSDT"])
    }
}
