// A sweep file: a base backtest config and the overrides that make each swept config — a
// `grid:` (every combination of its keys' values) and/or a `list:` of override maps (each
// crossed with the grid). Keys are the backtest config's dotted keys (`composite.entryScore`,
// `risk.maxTotalNotionalUsdt`, `strategy_mode`); each override is written into the base
// document and the result goes through the backtest config's own strict parser, so a swept
// config is exactly what `carry backtest` would read. A refusal names the sweep file's line.
//
//   base: backtest-composite.yaml      # relative to the sweep file
//   objective: sharpe                  # optional: net | sharpe | calmar | apr
//   grid:
//     composite.entryScore: [0.2, 0.3, 0.4]
//     composite.feeGateMultiple: [0, 0.5, 1]
//   list:
//     - {strategy.maxHolding: 14d}
//     - {strategy.maxHolding: 30d, strategy.maxOpenPairs: 2}
//
// Order (the config numbers): list entries outermost, then grid keys in file order, the last
// key varying fastest. An override of `~` removes the key from the base document.

import CarryCore
import Foundation
import Yams

/// What a sweep ranks its configs by.
public enum SweepObjective: String, Sendable, CaseIterable, Codable {
    /// Net P&L.
    case net
    /// Sharpe after the collateral cost.
    case sharpe
    /// APR ÷ max drawdown.
    case calmar
    /// Annualised net return.
    case apr
}

/// One key set by a swept config, as the sweep file wrote it.
public struct SweepOverride: Sendable, Equatable, Codable {
    /// The dotted config key.
    public var key: String
    /// The value as written (`0.3`, `[BTCUSDT, ETHUSDT]`, `~` to remove the key).
    public var value: String
}

/// One config of a sweep.
public struct SweepPoint: Sendable {
    /// 1-based number in the sweep's order.
    public var number: Int
    public var overrides: [SweepOverride]
    /// The config, its `source` the file name it is written under (`007.yaml`).
    public var config: BacktestConfig
}

/// A parsed sweep file.
public struct SweepSpec {
    /// An override key with where it was written.
    struct Key {
        var path: String
        var line: Int
    }

    public let path: String
    /// The base config file (resolved against the sweep file's directory).
    public let basePath: String
    public let objective: SweepObjective?
    private let baseText: String
    private let axes: [(key: Key, values: [Node])]
    private let list: [(line: Int, entries: [(key: Key, value: Node)])]

    /// Every swept key, in the order the file names them (list keys after grid keys).
    public var sweptKeys: [String] {
        var keys = axes.map(\.key.path)
        for e in list { for (k, _) in e.entries where !keys.contains(k.path) { keys.append(k.path) } }
        return keys
    }

    /// How many configs the file describes (before any is parsed).
    public var count: Int {
        axes.reduce(1) { $0 * $1.values.count } * max(1, list.count)
    }

    /// Reads and checks a sweep file (not yet the configs it makes: see `points`).
    public static func load(path: String) throws(ConfigError) -> SweepSpec {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError(source: path, key: "", value: nil, message: "cannot read the sweep file")
        }
        return try parse(yaml: text, path: path)
    }

    /// Parses a sweep file's text; `path` locates the base config and names errors.
    public static func parse(yaml: String, path: String) throws(ConfigError) -> SweepSpec {
        let root = try mapping(yaml, source: path, shape: "a sweep file is a mapping with `base:` and `grid:` and/or `list:`")
        func fail(_ node: Node?, _ key: String, _ message: String) -> ConfigError {
            ConfigError(source: located(path, node), key: key, value: nil, message: message)
        }
        var base: String?
        var objective: SweepObjective?
        var axes: [(key: Key, values: [Node])] = []
        var list: [(line: Int, entries: [(key: Key, value: Node)])] = []
        var sawGrid = false
        for (k, v) in root {
            guard let key = k.scalar?.string else { throw fail(k, "", "keys must be plain words") }
            switch key {
            case "base":
                guard let s = v.scalar?.string, !s.isEmpty else { throw fail(k, "base", "name the base backtest config file, e.g. base: backtest.yaml") }
                base = s
            case "objective":
                guard let s = v.scalar?.string, let o = SweepObjective(rawValue: s) else {
                    throw fail(v, "objective", "must be one of: \(SweepObjective.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                objective = o
            case "grid":
                sawGrid = true
                if isNull(v) { throw fail(k, "grid", "the grid is empty: give at least one key a list of values") }
                guard let map = v.mapping else { throw fail(v, "grid", "expected a mapping of config keys to lists of values") }
                if map.count == 0 { throw fail(v, "grid", "the grid is empty: give at least one key a list of values") }
                for (gk, gv) in map {
                    let name = try overrideKey(gk, path: path)
                    if axes.contains(where: { $0.key.path == name.path }) { throw fail(gk, "grid.\(name.path)", "appears twice") }
                    guard let values = gv.sequence else {
                        throw fail(gv, "grid.\(name.path)", "expected a list of values, e.g. [0.2, 0.3]; a single value belongs in the base config")
                    }
                    if values.isEmpty { throw fail(gv, "grid.\(name.path)", "the list of values is empty: the grid would have no configs") }
                    axes.append((name, Array(values)))
                }
            case "list":
                guard let items = v.sequence else { throw fail(v, "list", "expected a list of override maps, e.g. - {strategy.maxHolding: 14d}") }
                if items.isEmpty { throw fail(v, "list", "the list is empty: give at least one override map") }
                for item in items {
                    guard let map = item.mapping else { throw fail(item, "list", "each entry is a map of config keys to values") }
                    var entries: [(key: Key, value: Node)] = []
                    for (ek, ev) in map {
                        let name = try overrideKey(ek, path: path)
                        if entries.contains(where: { $0.key.path == name.path }) { throw fail(ek, "list.\(name.path)", "appears twice in one entry") }
                        entries.append((name, ev))
                    }
                    list.append((item.mark?.line ?? 0, entries))
                }
            default:
                throw fail(k, key, "unknown key. A sweep file has base, grid, list and objective.")
            }
        }
        guard let base else { throw ConfigError(source: path, key: "base", value: nil, message: "missing: name the base backtest config, e.g. base: backtest.yaml") }
        if !sawGrid && list.isEmpty { throw ConfigError(source: path, key: "grid", value: nil, message: "missing: give a grid: of keys to values and/or a list: of override maps") }
        for e in list {
            for (k, _) in e.entries where axes.contains(where: { $0.key.path == k.path }) {
                throw ConfigError(source: "\(path):\(k.line)", key: k.path, value: nil, message: "is both a grid key and a list key: set it in one place")
            }
        }
        let dir = (path as NSString).deletingLastPathComponent
        let basePath = base.hasPrefix("/") ? base : (dir.isEmpty ? base : dir + "/" + base)
        guard let baseText = try? String(contentsOfFile: basePath, encoding: .utf8) else {
            throw ConfigError(source: path, key: "base", value: base, message: "cannot read \(basePath) (a base path is relative to the sweep file)")
        }
        // The base alone must be a valid config.
        _ = try BacktestConfig.parse(yaml: baseText, source: basePath)
        return SweepSpec(path: path, basePath: basePath, objective: objective, baseText: baseText, axes: axes, list: list)
    }

    /// A YAML document's top mapping; `shape` says what is expected when it is not one.
    private static func mapping(_ yaml: String, source: String, shape: String) throws(ConfigError) -> Node.Mapping {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(source: source, key: "", value: nil, message: "not valid YAML: \(error)")
        }
        guard let map = node?.mapping else { throw ConfigError(source: source, key: "", value: nil, message: shape) }
        return map
    }

    private static func overrideKey(_ node: Node, path: String) throws(ConfigError) -> Key {
        guard let s = node.scalar?.string, !s.isEmpty, !s.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) else {
            throw ConfigError(source: located(path, node), key: "", value: nil, message: "a swept key is a dotted config key such as composite.entryScore")
        }
        return Key(path: s, line: node.mark?.line ?? 0)
    }

    static func located(_ path: String, _ node: Node?) -> String {
        node?.mark.map { "\(path):\($0.line)" } ?? path
    }

    /// The file names configs are written under: `001.yaml`… (at least three digits).
    public func label(_ number: Int) -> String {
        let width = max(3, String(count).count)
        let digits = String(number)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits + ".yaml"
    }

    /// Builds the configs numbered `numbers` (1-based, in the sweep's order; all by default),
    /// each through the strict parser; `adjust` applies command-line overrides (a span) after
    /// parsing. A refusal names the sweep file's line of the key at fault and the config.
    public func points(_ numbers: [Int]? = nil, adjust: (inout BacktestConfig) -> Void = { _ in }) throws(ConfigError) -> [SweepPoint] {
        let base = try Self.mapping(baseText, source: basePath, shape: "the base config must be a mapping")
        let gridCount = axes.reduce(1) { $0 * $1.values.count }
        var out: [SweepPoint] = []
        for number in numbers ?? Array(1...count) {
            precondition(number >= 1 && number <= count, "config \(number) is outside 1…\(count)")
            // Decompose the number: list entry outermost, the last grid key fastest.
            var rest = (number - 1) % gridCount
            var chosen: [(key: Key, value: Node)] = []
            for axis in axes.reversed() {
                chosen.insert((axis.key, axis.values[rest % axis.values.count]), at: 0)
                rest /= axis.values.count
            }
            if !list.isEmpty { chosen = list[(number - 1) / gridCount].entries + chosen }
            var document = base
            for (key, value) in chosen {
                document = try Self.setting(key.path.split(separator: ".").map(String.init)[...], to: Self.isNull(value) ? nil : value, in: document,
                                            source: "\(path):\(key.line)", fullKey: key.path)
            }
            let overrides = chosen.map { SweepOverride(key: $0.key.path, value: Self.text($0.value)) }
            let described = overrides.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
            var config: BacktestConfig
            do {
                config = try BacktestConfig.parse(root: try ConfigReader(source: basePath, path: "", node: document), source: basePath)
            } catch {
                // Name the line of the swept key at fault (or, for a combination, the config).
                let culprit = chosen.first { error.key == $0.key.path || error.key.hasPrefix($0.key.path + ".") || $0.key.path.hasPrefix(error.key + ".") }
                let place = culprit.map { "\(path):\($0.key.line)" } ?? path
                throw ConfigError(source: place, key: error.key, value: error.value,
                                  message: "\(error.message) (config \(number) of \(count): \(described.isEmpty ? "the base" : described))")
            }
            adjust(&config)
            config.source = label(number)
            config.canonicalText = config.canonical()
            out.append(SweepPoint(number: number, overrides: overrides, config: config))
        }
        return out
    }

    /// The base document with `value` written at the dotted key (nil removes it).
    private static func setting(_ key: ArraySlice<String>, to value: Node?, in map: Node.Mapping, source: String,
                                fullKey: String) throws(ConfigError) -> Node.Mapping {
        var pairs: [(Node, Node)] = map.map { ($0.key, $0.value) }
        let head = key.first!
        let index = pairs.firstIndex { $0.0.scalar?.string == head }
        if key.count == 1 {
            if let value {
                if let index { pairs[index].1 = value } else { pairs.append((Node(head), value)) }
            } else if let index {
                pairs.remove(at: index)
            }
        } else {
            var child = Node.Mapping([])
            if let index {
                if let m = pairs[index].1.mapping {
                    child = m
                } else if !isNull(pairs[index].1) {
                    throw ConfigError(source: source, key: fullKey, value: nil, message: "\(head) is a single value in the base config, not a section")
                }
            }
            let node = Node.mapping(try setting(key.dropFirst(), to: value, in: child, source: source, fullKey: fullKey))
            if let index { pairs[index].1 = node } else { pairs.append((Node(head), node)) }
        }
        return Node.Mapping(pairs, map.tag, map.style, map.mark)
    }

    private static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let s) = node else { return false }
        return s.style == .plain && (s.string == "~" || s.string == "null" || s.string.isEmpty)
    }

    /// A value as written: a scalar's text, a list in flow style.
    static func text(_ node: Node) -> String {
        if let s = node.scalar?.string { return s.isEmpty ? "~" : s }
        if let seq = node.sequence { return "[" + seq.map(text).joined(separator: ", ") + "]" }
        if let map = node.mapping { return "{" + map.map { "\(text($0.key)): \(text($0.value))" }.joined(separator: ", ") + "}" }
        return "?"
    }
}
