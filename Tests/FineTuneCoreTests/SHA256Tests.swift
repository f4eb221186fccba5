import Foundation
import XCTest
@testable import FineTuneCore

/// SHA-256 against FIPS 180-4's test vectors and against `sha256sum` on a file.
final class SHA256Tests: XCTestCase {
    func testKnownVectors() {
        XCTAssertEqual(SHA256.hex(of: Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(of: Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(of: Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex(of: Data(repeating: UInt8(ascii: "a"), count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Fed in uneven pieces (1, 63, 64, 65 bytes, ...), the digest is that of the whole.
    func testPiecesGiveTheDigestOfTheWhole() {
        let bytes = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var hasher = SHA256()
        var offset = 0
        for piece in [1, 63, 64, 65, 0, 127, 128, 1000].cycled(until: bytes.count) {
            let end = min(offset + piece, bytes.count)
            bytes[offset..<end].withUnsafeBytes { hasher.update($0) }
            offset = end
        }
        XCTAssertEqual(SHA256.hex(hasher.finalize()), SHA256.hex(of: bytes))
    }

    func testAFileAgreesWithSha256sum() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sha256-\(UUID().uuidString).bin")
        defer { try? FileManager.default.removeItem(at: url) }
        var rng = SplitMix64(seed: 3)
        try Data((0..<(3 << 20) + 17).map { _ in UInt8(truncatingIfNeeded: rng.next()) }).write(to: url)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sha256sum", url.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertEqual(try SHA256.hex(ofFileAt: url), String(text.prefix(64)))
    }
}

private extension Array where Element == Int {
    /// The sizes repeated until they add up to at least `total`.
    func cycled(until total: Int) -> [Int] {
        var result: [Int] = []
        var sum = 0
        while sum < total { for x in self { result.append(x); sum += x } }
        return result
    }
}
