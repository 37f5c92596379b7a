import CarryCore
@testable import CarryVenues
import Testing

@Suite("Bybit request signing and credentials")
struct SigningTests {
    // Bybit's v5 guide ("Integration Guidance → Authentication", bybit-exchange.github.io/docs/v5/guide)
    // gives the exact strings to sign but masks key and signature (XXXXXXXXXX). The inputs
    // below are the guide's; the secret is ours, and the expected signatures were computed
    // independently with Python's hmac/hashlib (hmac.new(secret, msg, sha256).hexdigest()).
    static let key = "XXXXXXXXXX"
    static let secret = "YYYYYYYYYY"

    @Test("the guide's GET example: timestamp + key + recvWindow + query string")
    func guideGet() {
        let signer = BybitSigner(credentials: BybitCredentials(apiKey: Self.key, secret: Self.secret)!, recvWindowMs: 5000)
        let sign = signer.signature(timestampMs: 1_658_384_314_791, payload: Array("category=option&symbol=BTC-29JUL22-25000-C".utf8))
        #expect(sign == "37813c67fafb3017e92354eb88f218e7e52a98f9f5eb74cfcf0b21f17edb143b")
    }

    @Test("the guide's POST example: the raw body, spacing included")
    func guidePost() {
        let signer = BybitSigner(credentials: BybitCredentials(apiKey: Self.key, secret: Self.secret)!)
        let sign = signer.signature(timestampMs: 1_658_385_579_423, payload: Array(#"{"category": "option"}"#.utf8))
        #expect(sign == "4cbc693a498014a4d2c81ae4b7e33a28715cd1b6eec43163dc9b15acfa3c8763")
        // One space less is another signature: the venue must verify the bytes as sent.
        #expect(signer.signature(timestampMs: 1_658_385_579_423, payload: Array(#"{"category":"option"}"#.utf8)) != sign)
    }

    @Test("the five X-BAPI headers")
    func headers() {
        let signer = BybitSigner(credentials: BybitCredentials(apiKey: Self.key, secret: Self.secret)!, recvWindowMs: 7000)
        let h = Dictionary(uniqueKeysWithValues: signer.headers(timestampMs: 1_658_384_314_791, payload: Array("a=1".utf8)).map { ($0.name, $0.value) })
        #expect(h["X-BAPI-API-KEY"] == Self.key)
        #expect(h["X-BAPI-TIMESTAMP"] == "1658384314791")
        #expect(h["X-BAPI-RECV-WINDOW"] == "7000")
        #expect(h["X-BAPI-SIGN-TYPE"] == "2")
        #expect(h["X-BAPI-SIGN"] == BybitSigner.signature(secret: Self.secret, apiKey: Self.key, timestampMs: 1_658_384_314_791, recvWindowMs: 7000, payload: Array("a=1".utf8)))
        #expect(h["X-BAPI-SIGN"]?.count == 64)
    }

    @Test("credentials never print the key or the secret, however they are printed")
    func redacted() {
        let c = BybitCredentials(apiKey: "AKEY1234567890", secret: "SSECRET987654321")!
        for text in [c.description, c.debugDescription, "\(c)", String(reflecting: c), dumpText(c), "\([c])"] {
            #expect(!text.contains("AKEY1234567890") && !text.contains("SSECRET987654321"), "leaked in \(text)")
        }
    }

    @Test(".env is read, the environment wins per variable, unusable values are refused")
    func dotEnv() {
        let file = """
            # keys for the testnet
            export BYBIT_API_KEY="file-key"
            BYBIT_API_SECRET = 'file-secret'
            OTHER=1
            """
        #expect(DotEnv.parse(file) == ["BYBIT_API_KEY": "file-key", "BYBIT_API_SECRET": "file-secret", "OTHER": "1"])
        let fromFile = BybitCredentials.load(environment: [:], dotEnv: file)
        #expect(fromFile?.apiKey == "file-key" && fromFile?.secret == "file-secret")
        let mixed = BybitCredentials.load(environment: ["BYBIT_API_KEY": "env-key"], dotEnv: file)
        #expect(mixed?.apiKey == "env-key" && mixed?.secret == "file-secret")
        #expect(BybitCredentials.load(environment: [:], dotEnv: nil) == nil)
        #expect(BybitCredentials.load(environment: ["BYBIT_API_KEY": "k"], dotEnv: nil) == nil)
        #expect(BybitCredentials.load(environment: ["BYBIT_API_KEY": "has space", "BYBIT_API_SECRET": "s"], dotEnv: nil) == nil)
        #expect(BybitCredentials.load(environment: ["BYBIT_API_KEY": "", "BYBIT_API_SECRET": "s"], dotEnv: nil) == nil)
        #expect(BybitCredentials.load(environment: ["BYBIT_API_KEY": "", "BYBIT_API_SECRET": ""], dotEnv: file)?.apiKey == "file-key", "empty counts as unset")
        #expect(BybitCredentials.missingMessage.contains("BYBIT_API_KEY") && BybitCredentials.missingMessage.contains("BYBIT_API_SECRET"))
    }

    func dumpText(_ c: BybitCredentials) -> String {
        var s = ""
        dump(c, to: &s)
        return s
    }
}
