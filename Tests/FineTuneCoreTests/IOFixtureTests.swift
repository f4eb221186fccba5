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

/// Torch checkpoints written byte by byte, so a test can state any size, stride, offset or
/// count a crafted file might hold: a state_dict pickle (protocol 2, the opcodes torch.save
/// uses), a zip archive of stored entries, and the legacy (pre-1.6) layout.
enum CraftedTorch {
    /// One `_rebuild_tensor_v2(storage, offset, size, stride)` entry of a state_dict.
    struct Tensor {
        var name: String
        var storageKey = "0"
        var storageType = "FloatStorage"
        /// The element count the persistent id claims.
        var storageCount: Int
        var offset = 0
        var shape: [Int]
        var strides: [Int]
    }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func int(_ v: Int) -> [UInt8] { [0x8a, 0x08] + le(Int64(v)) }                    // LONG1, 8 bytes
    static func string(_ s: String) -> [UInt8] { [0x58] + le(UInt32(s.utf8.count)) + Array(s.utf8) }  // BINUNICODE
    static func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }
    static func tuple(_ items: [[UInt8]]) -> [UInt8] { [0x28] + items.joined() + [0x74] }  // MARK ... TUPLE

    /// The pickle of a state_dict holding `tensors`, in order.
    static func pickle(_ tensors: [Tensor]) -> [UInt8] {
        var p: [UInt8] = [0x80, 0x02, 0x7d]                                                   // PROTO 2, EMPTY_DICT
        for t in tensors {
            let pid = tuple([string("storage"), global("torch", t.storageType), string(t.storageKey), string("cpu"),
                             int(t.storageCount)])
            p += string(t.name) + global("torch._utils", "_rebuild_tensor_v2")
            p += tuple([pid + [0x51], int(t.offset), tuple(t.shape.map(int)), tuple(t.strides.map(int)), [0x89],
                        global("collections", "OrderedDict") + [0x29, 0x52]])               // BINPERSID; False; OrderedDict()
            p += [0x52, 0x73]                                                                 // REDUCE, SETITEM
        }
        return p + [0x2e]                                                                     // STOP
    }

    /// One stored zip entry; `zip64` replaces its size and local header offset by a zip64
    /// extra field holding these values.
    struct Entry {
        var name: String
        var bytes: [UInt8]
        var zip64: (size: UInt64, offset: UInt64)?
        init(_ name: String, _ bytes: [UInt8], zip64: (size: UInt64, offset: UInt64)? = nil) {
            (self.name, self.bytes, self.zip64) = (name, bytes, zip64)
        }
    }

    /// A zip archive of stored entries, as torch.save writes it.
    static func zip(_ entries: [Entry]) -> Data {
        var file: [UInt8] = [], directory: [UInt8] = []
        for e in entries {
            let crc = e.bytes.withUnsafeBytes { CRC32.checksum($0) }
            let name = Array(e.name.utf8), size = le(UInt32(e.bytes.count))
            let offset = file.count
            file += le(UInt32(0x0403_4b50)) + le(UInt16(20)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt32(0)) + le(crc)
            file += size + size + le(UInt16(name.count)) + le(UInt16(0)) + name + e.bytes
            var extra: [UInt8] = [], sizes = size + size, at = le(UInt32(offset))
            if let z = e.zip64 {
                extra = le(UInt16(1)) + le(UInt16(24)) + le(z.size) + le(z.size) + le(z.offset)
                sizes = le(UInt32.max) + le(UInt32.max)
                at = le(UInt32.max)
            }
            directory += le(UInt32(0x0201_4b50)) + le(UInt16(20)) + le(UInt16(20)) + le(UInt16(0)) + le(UInt16(0))
            directory += le(UInt32(0)) + le(crc) + sizes + le(UInt16(name.count)) + le(UInt16(extra.count))
            directory += le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt32(0)) + at + name + extra
        }
        let end = le(UInt32(0x0605_4b50)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(entries.count)) + le(UInt16(entries.count))
            + le(UInt32(directory.count)) + le(UInt32(file.count)) + le(UInt16(0))
        return Data(file + directory + end)
    }

    /// A zip-format checkpoint: `archive/data.pkl` for `tensors` and `archive/data/<key>` for each storage.
    static func checkpoint(_ tensors: [Tensor], storages: [String: [UInt8]]) -> Data {
        zip([Entry("archive/data.pkl", pickle(tensors))]
            + storages.sorted { $0.key < $1.key }.map { Entry("archive/data/" + $0.key, $0.value) })
    }

    /// A legacy checkpoint: magic, protocol version, system info, the state_dict, the storage
    /// keys, then each storage as an element count (`count`, or the real one) and its bytes.
    static func legacy(_ tensors: [Tensor], storages: [(key: String, count: Int64?, bytes: [UInt8])]) -> Data {
        var d: [UInt8] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]
        d += [0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e, 0x80, 0x02, 0x7d, 0x2e]                  // 1001, {}
        d += pickle(tensors)
        d += [0x80, 0x02, 0x5d, 0x28] + storages.map { string($0.key) }.joined() + [0x65, 0x2e]  // [keys]
        for s in storages { d += le(s.count ?? Int64(s.bytes.count / 4)) + s.bytes }
        return Data(d)
    }

    /// `values` as Float32 storage bytes.
    static func floats(_ values: [Float]) -> [UInt8] { values.flatMap { le($0.bitPattern) } }
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
