// Manifests as hostile text: lines too long, NUL bytes, bytes that are not UTF-8, control
// characters in labels (they become class names printed on a terminal), the same file listed
// twice; absolute paths and `..` are fine. Each gives an error naming the manifest and line.

import Foundation
import XCTest
@testable import FineTuneCore

final class DataManifestTests: XCTestCase {
    let tiny: [UInt8] = try! ImageEncoder.png(Image(width: 2, height: 2, channels: 1, filledWith: 9))

    /// The error of parsing `text`, or nil when it parses.
    func parseError(_ bytes: [UInt8]) -> DataError? {
        do { _ = try ImageDataset.parseManifest(bytes, source: "m.txt"); return nil } catch { return error as? DataError }
    }

    func testHostileLinesAreRefusedNamingTheLine() {
        let good = Array("a.png cat\n".utf8)
        let long = good + [UInt8](repeating: 0x61, count: Limits.manifestLineBytes) + Array(".png cat\n".utf8)
        XCTAssertEqual(parseError(long), .badManifestEntry(path: "m.txt", line: 2,
                                                           reason: "the line is over the limit of \(Limits.manifestLineBytes) bytes"))
        XCTAssertEqual(parseError(good + Array("b.png\0.jpg cat\n".utf8)),
                       .badManifestEntry(path: "m.txt", line: 2, reason: "the line holds a NUL byte"))
        XCTAssertEqual(parseError(good + [0x62, 0xFF, 0xFE] + Array(".png cat".utf8)),
                       .badManifestEntry(path: "m.txt", line: 2, reason: "the line is not UTF-8 text"))
        let escape = parseError(good + Array("b.png \u{1B}[2J\u{1B}[31mcat\n".utf8))
        guard case .badManifestEntry("m.txt", 2, _)? = escape else { return XCTFail("\(String(describing: escape))") }
        let message = "\(escape!)"
        XCTAssertFalse(message.unicodeScalars.contains { $0.value == 0x1B }, "the terminal never sees the escape")
        XCTAssertTrue(message.contains("\\u{1B}[2J"), message)
        XCTAssertEqual(parseError(good + Array("b.png\n".utf8)), .badManifestLine(path: "m.txt", line: 2, text: "b.png"))
    }

    func testABOMCRLFAndOddButValidTextParse() throws {
        let text = "\u{FEFF}path,label\r\n# note\r\n\r\nsub dir/a b.png , two words\r\n../up.png\tcat\r\n/abs/x.jpg dog"
        let entries = try ImageDataset.parseManifest(Array(text.utf8), source: "m.txt")
        XCTAssertEqual(entries, [.init(line: 4, path: "sub dir/a b.png", label: "two words"),
                                 .init(line: 5, path: "../up.png", label: "cat"),
                                 .init(line: 6, path: "/abs/x.jpg", label: "dog")])
    }

    func testArbitraryBytesNeverCrashTheParser() {
        var random = SeededRandom(seed: 11)
        let alphabet: [UInt8] = Array("ab ,\t\n#./".utf8) + [0, 0x1B, 0xC3, 0xA9, 0xFF, 0x0D]
        for _ in 0..<2000 {
            let bytes = (0..<random.integer(0, 80)).map { _ in alphabet[random.integer(0, alphabet.count - 1)] }
            if let entries = try? ImageDataset.parseManifest(bytes, source: "m.txt") {
                for entry in entries {
                    XCTAssertFalse(entry.path.isEmpty || entry.label.isEmpty)
                    XCTAssertFalse(entry.label.hasControlCharacters)
                }
            }
        }
    }

    func testTheSameFileListedTwiceIsTakenOnceOrRefusedWhenLabelsDiffer() throws {
        let folder = DataTempFolder()
        folder.write("img/one.png", tiny)
        folder.write("img/two.png", tiny)
        folder.write("other/x.png", tiny)
        // `..` and absolute paths are fine as long as they name regular files.
        folder.write("list.txt", Array("img/one.png cat\nother/../img/one.png cat\n\(folder.path)/img/one.png cat\nimg/two.png dog\n".utf8))
        var warnings: [String] = []
        let dataset = try ImageDataset.manifest(folder.path + "/list.txt", warn: { warnings.append($0) })
        XCTAssertEqual(dataset.samples, [.init(path: folder.path + "/img/one.png", label: 0),
                                         .init(path: folder.path + "/img/two.png", label: 1)])
        XCTAssertEqual(warnings, [
            "\(folder.path)/list.txt:2: skipped, \(folder.path)/other/../img/one.png is listed already on line 1",
            "\(folder.path)/list.txt:3: skipped, \(folder.path)/img/one.png is listed already on line 1",
        ])
        folder.write("conflict.txt", Array("img/one.png cat\nimg/two.png dog\n./img/one.png dog\n".utf8))
        XCTAssertThrowsError(try ImageDataset.manifest(folder.path + "/conflict.txt", warn: { _ in })) { error in
            XCTAssertEqual(error as? DataError, .badManifestEntry(
                path: folder.path + "/conflict.txt", line: 3,
                reason: "lists \(folder.path)/./img/one.png with label 'dog', but line 1 gave it label 'cat'"))
        }
        // A folder listed as an image is not a regular file either.
        folder.write("folder.txt", Array("img cat\n".utf8))
        XCTAssertThrowsError(try ImageDataset.manifest(folder.path + "/folder.txt")) { error in
            XCTAssertTrue("\(error)".contains("it is a folder, not a regular file"), "\(error)")
        }
    }

    func testClassNamesWithControlCharactersAreRefusedAndShownEscaped() throws {
        let folder = DataTempFolder()
        folder.write("ok/a.png", tiny)
        folder.write("bell\u{07}/b.png", tiny)
        XCTAssertThrowsError(try ImageDataset.folder(folder.path)) { error in
            XCTAssertEqual("\(error)", "\(folder.path): cannot use 'bell\\u{7}' as a class name: it contains control characters; rename it")
        }
    }
}
