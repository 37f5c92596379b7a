// Where the private streams' messages come from: the account engine (or a test) hands the
// venue each change already as a topic and Bybit's message text; the hub publishes it to
// every authenticated subscriber, through the faults.
//
// Shape (api-samples/bybit/docs/websocket_private_*.response.json):
//   {"id":"…","topic":"execution","creationTime":1746270400355,"data":[{…}]}

public import CarryVenues

/// One private-topic message.
public struct SimPrivateMessage: Sendable, Equatable {
    public var topic: BybitStreamTopic
    /// The whole message, as sent.
    public var text: String

    public init(topic: BybitStreamTopic, text: String) {
        precondition(topic.isPrivate, "\(topic) is not a private topic")
        self.topic = topic
        self.text = text
    }

    /// `{"id":…,"topic":…,"creationTime":…,"data":[objects…]}`: Bybit's private envelope around
    /// data objects already in Bybit's shape.
    public init(topic: BybitStreamTopic, id: String, creationTimeMs: Int64, data: [String]) {
        self.init(topic: topic, text: "{\"id\":\(JSON.string(id)),\"topic\":\(JSON.string(topic.description)),\"creationTime\":\(creationTimeMs),"
                  + "\"data\":[\(data.joined(separator: ","))]}")
    }
}

/// A source of account changes for the private streams.
public protocol SimAccountFeed: Sendable {
    /// Every change from now on, in the order it happened.
    func privateMessages() -> AsyncStream<SimPrivateMessage>
}

extension SimStreamServer {
    /// Publishes `feed`'s messages until it ends or the task is cancelled.
    static func relay(_ feed: any SimAccountFeed, to hub: SimStreamHub) async {
        for await m in feed.privateMessages() {
            if Task.isCancelled { return }
            hub.publishPrivate(m.topic, m.text)
        }
    }
}
