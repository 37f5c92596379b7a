// Email over SMTP through libcurl (alerts). One message per call: libcurl speaks the dialogue
// (EHLO, optional AUTH, MAIL FROM, RCPT TO, DATA) and reads the message from memory.
//
// The password is handed to libcurl and nowhere else: it is not part of any error text.

import CCurl
import Foundation

/// Where and as whom mail is sent.
public struct SMTPSettings: Sendable, Equatable {
    /// `smtp://host:port` (or `smtps://…`).
    public var url: String
    public var from: String
    public var to: [String]
    public var username: String?
    /// From the environment; never logged.
    public var password: String?
    public var timeoutMs: Int = 10_000

    public init(url: String, from: String, to: [String], username: String? = nil, password: String? = nil) {
        self.url = url
        self.from = from
        self.to = to
        self.username = username
        self.password = password
    }
}

/// The message body being uploaded, read by libcurl's callback.
private final class UploadSource {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
}

/// Sends mail with libcurl.
public enum CurlSMTP {
    /// An RFC 5322 message (CRLF line ends, a `Date` and a `Message-ID` from the caller).
    public static func message(from: String, to: [String], subject: String, body: String, date: String, messageId: String) -> String {
        var lines = ["Date: \(date)", "From: \(from)", "To: \(to.joined(separator: ", "))", "Message-ID: <\(messageId)>", "Subject: \(subject)",
                     "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit", ""]
        // Dot-stuffing is libcurl's job; only line ends are normalised here.
        lines += body.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// Sends one message; throws a `TransportError` saying what failed (never the password).
    public static func send(_ message: String, settings: SMTPSettings) throws {
        guard let handle = curl_easy_init() else { throw TransportError(.other, url: settings.url, detail: "libcurl failed to initialise") }
        defer { curl_easy_cleanup(handle) }
        var recipients: UnsafeMutablePointer<curl_slist>? = nil
        for r in settings.to { recipients = curl_slist_append(recipients, "<\(r)>") }
        defer { if let recipients { curl_slist_free_all(recipients) } }
        let source = UploadSource(Array(message.utf8))
        let box = Unmanaged.passRetained(source)
        defer { box.release() }
        var ok = carry_curl_setopt_string(handle, CURLOPT_URL, settings.url) == CURLE_OK
        ok = ok && carry_curl_setopt_string(handle, CURLOPT_MAIL_FROM, "<\(settings.from)>") == CURLE_OK
        ok = ok && carry_curl_setopt_slist(handle, CURLOPT_MAIL_RCPT, recipients) == CURLE_OK
        ok = ok && carry_curl_setopt_long(handle, CURLOPT_UPLOAD, 1) == CURLE_OK
        ok = ok && carry_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, settings.timeoutMs) == CURLE_OK
        ok = ok && carry_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, min(settings.timeoutMs, 5000)) == CURLE_OK
        ok = ok && carry_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1) == CURLE_OK
        ok = ok && carry_curl_setopt_string(handle, CURLOPT_NOPROXY, "127.0.0.1,localhost,::1") == CURLE_OK
        if let user = settings.username { ok = ok && carry_curl_setopt_string(handle, CURLOPT_USERNAME, user) == CURLE_OK }
        if let password = settings.password { ok = ok && carry_curl_setopt_string(handle, CURLOPT_PASSWORD, password) == CURLE_OK }
        ok = ok && carry_curl_setopt_pointer(handle, CURLOPT_READDATA, box.toOpaque()) == CURLE_OK
        ok = ok && carry_curl_setopt_read_function(handle, { buffer, size, count, user in
            guard let buffer, let user else { return 0 }
            let src = Unmanaged<UploadSource>.fromOpaque(user).takeUnretainedValue()
            let n = min(size * count, src.bytes.count - src.offset)
            src.bytes.withUnsafeBufferPointer { b in
                for i in 0..<n { buffer[i] = CChar(bitPattern: b[src.offset + i]) }
            }
            src.offset += n
            return n
        }) == CURLE_OK
        guard ok else { throw TransportError(.other, url: settings.url, detail: "libcurl refused an SMTP option") }
        let code = curl_easy_perform(handle)
        guard code == CURLE_OK else {
            let kind: TransportError.Kind = code == CURLE_COULDNT_CONNECT ? .connectionRefused : (code == CURLE_OPERATION_TIMEDOUT ? .timeout : .other)
            throw TransportError(kind, url: settings.url, detail: "\(String(cString: curl_easy_strerror(code))) (libcurl \(code.rawValue))")
        }
    }
}
