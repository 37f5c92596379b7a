// The account engine as the private streams' feed: every `SimAccountUpdate` becomes the
// matching Bybit topic message (`order`, `execution`, `position`, `wallet`), its data object
// the REST list item (`SimJSON`, Bybit's topics carry the same fields) with the `category`
// the topics add, stamped with the time of the change.

import CarryCore
import CarryVenues

extension SimAccount: SimAccountFeed {
    /// The account's changes from now on, as private-topic messages.
    public func privateMessages() -> AsyncStream<SimPrivateMessage> {
        let updates = subscribe()
        return AsyncStream { continuation in
            let task = Task {
                var n = 0
                for await u in updates {
                    n += 1
                    continuation.yield(SimPrivateMessage(u, sequence: n))
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

extension SimPrivateMessage {
    /// The topic message of one account change; `sequence` numbers the message ids.
    init(_ update: SimAccountUpdate, sequence: Int) {
        switch update {
        case .order(let o):
            self.init(topic: .order, id: "sim-order-\(sequence)", creationTimeMs: o.updatedTime.ms, data: [Self.categorized(o.category, SimJSON.order(o))])
        case .execution(let e):
            self.init(topic: .execution, id: "sim-execution-\(sequence)", creationTimeMs: e.time.ms,
                      data: [Self.categorized(e.instrument.kind == .spot ? "spot" : "linear", SimJSON.execution(e))])
        case .position(let p):
            self.init(topic: .position, id: "sim-position-\(sequence)", creationTimeMs: p.updatedTime.ms, data: [Self.categorized("linear", SimJSON.position(p))])
        case .wallet(let w):
            self.init(topic: .wallet, id: "sim-wallet-\(sequence)", creationTimeMs: w.updatedTime.ms, data: [SimJSON.walletAccount(w, coins: nil)])
        }
    }

    /// `object` with `"category":…` first (the topics carry it; the REST items sit under a category).
    static func categorized(_ category: String, _ object: String) -> String {
        precondition(object.hasPrefix("{"))
        return "{\"category\":\(JSON.string(category))," + object.dropFirst()
    }
}
