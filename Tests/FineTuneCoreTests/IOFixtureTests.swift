import Foundation
import XCTest
@testable import FineTuneCore

/// The committed weight-file fixtures (written by tools/make_pth_fixtures.py) and helpers the
/// IO tests share.
enum IOFixture {
    static let names = [
        "io-tiny.pth", "io-tiny.expected.safetensors", "io-compressed.pth", "io-views.pth", "io-views-p4.pth",
        "io-views-zip64.pth", "io-views.expected.safetensors", "io-legacy.pth", "io-malicious.pth",
        "io-malicious-eval.pth", "io-whole-model.pth", "io-halfs.safetensors",
    ]

    static func url(_ name: String) -> URL {
        let dot = name.firstIndex(of: ".")!
        return Bundle.module.url(forResource: "Fixtures/" + name[..<dot], withExtension: String(name[name.index(after: dot)...]))!
    }

    static func data(_ name: String) throws -> Data { try Data(contentsOf: url(name)) }

    /// The graph of io-tiny.pth's model: conv1 3->4 + bn1, layer1.0 (conv1 4->4 + bn1) with a
    /// residual add, pooled to 4 features; with a linear head when `classes` is given.
    static func tinyGraph(classes: Int? = nil) throws -> Graph {
        let b = GraphBuilder(inputHeight: 6, inputWidth: 6)
        var x = try b.input(channels: 3)
        x = try b.conv2d("conv1", x, Conv2DParams(outChannels: 4, kernel: 3))
        x = try b.batchNorm("bn1", x, eps: 1e-5, momentum: 0.1)
        x = try b.activation(nil, x, .relu)
        var y = try b.conv2d("layer1.0.conv1", x, Conv2DParams(outChannels: 4, kernel: 3))
        y = try b.batchNorm("layer1.0.bn1", y, eps: 1e-5, momentum: 0.1)
        x = try b.add(nil, x, y)
        _ = try b.setFeatures(try b.globalAvgPool(nil, x))
        var graph = b.graph
        if let classes { try graph.attachLinearHead(classes: classes) }
        return graph
    }

    /// A new empty folder, removed when the test ends.
    static func temporaryDirectory(_ test: XCTestCase) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("io-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }
}

/// Asserts that `body` throws an error whose description contains every one of `parts`.
func assertIOError<T>(_ body: @autoclosure () throws -> T, mentioning parts: [String],
                     file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected an error mentioning \(parts)", file: file, line: line)
    } catch {
        let text = "\(error)"
        for part in parts where !text.contains(part) {
            XCTFail("error does not mention '\(part)': \(text)", file: file, line: line)
        }
    }
}

final class IOFixtureTests: XCTestCase {
    func testFixturesArePresentAndSmall() throws {
        var total = 0
        for name in IOFixture.names { total += try IOFixture.data(name).count }
        XCTAssertLessThan(total, 200_000)
    }
}
