// The answers to a client's `op` requests (subscribe, unsubscribe, ping, auth), in the shapes
// Bybit sends on each stream (see api-samples/bybit/docs/websocket_wss-authentication.*):
//
//   linear   {"success":true,"ret_msg":"","conn_id":"…","req_id":"","op":"subscribe"}
//            {"success":true,"ret_msg":"pong","conn_id":"…","req_id":"","op":"ping"}
//   spot     {"success":true,"ret_msg":"subscribe","conn_id":"…","req_id":"10001","op":"subscribe"}
//            (req_id only when the client sent one)
//   private  {"success":true,"ret_msg":"","op":"auth","conn_id":"…"}
//            {"req_id":"test","op":"pong","args":["1675418560633"],"conn_id":"…"}
//
// Pure: a request's text in, a parsed request or the reply's text out.

import CarryCore
import CarryVenues
import Foundation

/// A client's request, parsed.
struct SimStreamRequest: Equatable {
    var op: String
    /// `req_id` as the client sent it (a string, or a number written back as one).
    var reqId: String?
    var args: [String]
    /// `args[1]` of an auth request: `expires`, sent as a JSON number.
    var expiresMs: Int64?

    /// Parses `{"op":…,"args":[…],"req_id":…}`; nil when it is not such an object.
    static func parse(_ text: String) -> SimStreamRequest? {
        guard let any = try? JSONSerialization.jsonObject(with: Data(text.utf8)), let d = any as? [String: Any], let op = d["op"] as? String else { return nil }
        var reqId: String? = nil
        if let s = d["req_id"] as? String { reqId = s } else if let n = d["req_id"] as? Int { reqId = String(n) }
        var args: [String] = []
        var expires: Int64? = nil
        for (i, a) in (d["args"] as? [Any] ?? []).enumerated() {
            if let s = a as? String {
                args.append(s)
            } else if let n = a as? Int {
                args.append(String(n))
                if i == 1 { expires = Int64(n) }
            }
        }
        if op == "auth", expires == nil, args.count > 1 { expires = Int64(args[1]) }
        return SimStreamRequest(op: op, reqId: reqId, args: args, expiresMs: expires)
    }
}

/// Reply texts per stream.
enum SimStreamReply {
    /// `success`/`ret_msg` for `op` on `path`.
    static func status(_ path: SimStreamPath, op: String, success: Bool, retMsg: String, connId: String, reqId: String?) -> String {
        let head = "\"success\":\(success),\"ret_msg\":\(JSON.string(retMsg))"
        switch path {
        case .linear:
            return "{\(head),\"conn_id\":\(JSON.string(connId)),\"req_id\":\(JSON.string(reqId ?? "")),\"op\":\(JSON.string(op))}"
        case .spot:
            let req = reqId.map { ",\"req_id\":\(JSON.string($0))" } ?? ""
            return "{\(head),\"conn_id\":\(JSON.string(connId))\(req),\"op\":\(JSON.string(op))}"
        case .privateStream:
            let req = reqId.map { "\"req_id\":\(JSON.string($0))," } ?? ""
            return "{\(req)\(head),\"op\":\(JSON.string(op)),\"conn_id\":\(JSON.string(connId))}"
        }
    }

    /// A subscribe's success message: spot echoes the op, the others send "".
    static func subscribed(_ path: SimStreamPath, connId: String, reqId: String?, op: String) -> String {
        status(path, op: op, success: true, retMsg: path == .spot ? op : "", connId: connId, reqId: reqId)
    }

    /// The answer to `ping`: public streams echo it with "pong"; the private stream sends `op: pong` with the venue's time.
    static func pong(_ path: SimStreamPath, connId: String, reqId: String?, nowMs: Int64) -> String {
        guard path == .privateStream else { return status(path, op: "ping", success: true, retMsg: "pong", connId: connId, reqId: reqId) }
        let req = reqId.map { "\"req_id\":\(JSON.string($0))," } ?? ""
        return "{\(req)\"op\":\"pong\",\"args\":[\(JSON.string(String(nowMs)))],\"conn_id\":\(JSON.string(connId))}"
    }
}

extension SimCredentials {
    /// Nil when `args` = [key, expires, signature] authenticate at wall time `nowMs`; else
    /// Bybit's refusal message. Key and signature are compared in constant time.
    func streamAuthRefusal(_ request: SimStreamRequest, nowMs: Int64) -> String? {
        guard request.args.count == 3, let expires = request.expiresMs else { return "Params Error: args must be [apiKey, expires, signature]" }
        guard HMACSHA256.constantTimeEquals(Array(request.args[0].utf8), Array(apiKey.utf8)) else { return "Invalid apikey" }
        guard expires > nowMs else { return "Request expired: expires \(expires) is not after the venue's time \(nowMs)" }
        let expected = BybitStreamRequest.authSignature(secret: secret, expiresMs: expires)
        guard HMACSHA256.constantTimeEquals(Array(request.args[2].utf8), Array(expected.utf8)) else { return "Signature verification failed" }
        return nil
    }
}
