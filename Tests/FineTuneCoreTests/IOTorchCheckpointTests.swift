import Foundation
import XCTest
@testable import FineTuneCore

/// `.pth` files written by torch.save (tools/make_pth_fixtures.py), checked value for value
/// against the same tensors written as Float32 safetensors by the fixture script.
final class IOTorchCheckpointTests: XCTestCase {
    func assertSameTensors(_ pth: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let ours = try StateDict.load(contentsOf: IOFixture.url(pth))
        let reference = try SafeTensorsFile(contentsOf: IOFixture.url(expected)).tensors
        XCTAssertEqual(Set(ours.names), Set(reference.map(\.name)), pth, file: file, line: line)
        for r in reference {
            let t = try XCTUnwrap(ours[r.name], file: file, line: line)
            XCTAssertEqual(t.shape, r.shape, "\(pth) \(r.name)", file: file, line: line)
            XCTAssertEqual(t.values.map(\.bitPattern), r.values.map(\.bitPattern), "\(pth) \(r.name)", file: file, line: line)
        }
    }

    func testTinyStateDictInPickleOrder() throws {
        try assertSameTensors("io-tiny.pth", "io-tiny.expected.safetensors")
        let sd = try StateDict.load(contentsOf: IOFixture.url("io-tiny.pth"))
        XCTAssertEqual(sd.names, [
            "conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked",
            "layer1.0.conv1.weight", "layer1.0.bn1.weight", "layer1.0.bn1.bias", "layer1.0.bn1.running_mean",
            "layer1.0.bn1.running_var", "layer1.0.bn1.num_batches_tracked", "fc.weight", "fc.bias",
        ])
        XCTAssertEqual(sd["bn1.num_batches_tracked"]?.values, [1])  // int64 in the file
        XCTAssertEqual(sd["bn1.num_batches_tracked"]?.shape, [])
    }

    func testParametersViewsOffsetsAndHalfTypes() throws {
        try assertSameTensors("io-views.pth", "io-views.expected.safetensors")
        let sd = try StateDict.load(contentsOf: IOFixture.url("io-views.pth"))
        XCTAssertEqual(sd["shared_b"]?.values, [6, 7, 8, 9, 10, 11])
        XCTAssertEqual(sd["expanded"]?.values, [1.5, -2, 1.5, -2, 1.5, -2])
        XCTAssertEqual(sd["half"]?.values, [1, -0.5, 65504, 0x1p-24])
        XCTAssertEqual(sd["num_batches_tracked"]?.values, [7])
    }

    func testPickleProtocol4Zip64AndTheLegacyFormat() throws {
        try assertSameTensors("io-views-p4.pth", "io-views.expected.safetensors")
        try assertSameTensors("io-views-zip64.pth", "io-views.expected.safetensors")
        try assertSameTensors("io-legacy.pth", "io-views.expected.safetensors")
        let legacy = try IOFixture.data("io-legacy.pth")
        for n in 0..<legacy.count {
            XCTAssertThrowsError(try StateDict.read(data: legacy.prefix(n), file: "t.pth"), "prefix \(n)")
        }
    }

    /// The pickle calls os.system("touch io-malicious-ran"): refused, and the command never ran.
    func testMaliciousPickleIsRefusedAndNothingRuns() throws {
        let dir = try IOFixture.temporaryDirectory(self)
        let previous = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(dir.path))
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }

        assertIOError(try StateDict.load(contentsOf: IOFixture.url("io-malicious.pth")),
                     mentioning: ["io-malicious.pth", "posix.system", "nothing from it was executed"])
        assertIOError(try StateDict.load(contentsOf: IOFixture.url("io-malicious-eval.pth")),
                     mentioning: ["io-malicious-eval.pth", "builtins.eval"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("io-malicious-ran").path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    func testForbiddenOpcodesAndGlobals() {
        func pickle(_ body: [UInt8]) -> [UInt8] { [0x80, 0x02] + body + [0x2e] }
        func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }
        let cases: [([UInt8], String)] = [
            (global("builtins", "getattr"), "builtins.getattr"),
            (global("torch", "load"), "torch.load"),
            (global("torch.storage", "_load_from_bytes"), "torch.storage._load_from_bytes"),
            ([0x69] + Array("os\nsystem\n".utf8), "os.system"),                           // INST
            (global("collections", "OrderedDict") + [0x29, 0x81], "NEWOBJ"),             // NEWOBJ
            ([0x82, 0x01], "extension"),                                                   // EXT1
            (global("torch._utils", "_rebuild_tensor_v2") + [0x29, 0x52], "unexpected arguments"),
            (global("torch", "FloatStorage") + [0x29, 0x52], "cannot be called"),
            ([0x68, 0x05], "memo"),
            ([0x30], "empty stack"),
            ([0xff], "unknown opcode"),
            ([0x29] + [UInt8](repeating: 0x85, count: 100_000), "nest more than"),          // TUPLE1 bomb
            ([0x7d, 0x71, 0x00, 0x8c, 0x05] + Array("model".utf8) + [0x68, 0x00, 0x73], "contains itself"),
            ([0x5d, 0x71, 0x00, 0x85, 0x30, 0x68, 0x00, 0x4b, 0x01, 0x61], "changed after being used"),
        ]
        for (body, expected) in cases {
            assertIOError(try TorchPickle.load(pickle(body)), mentioning: [expected])
        }
    }

    func testTruncatedCorruptedAndMutatedCheckpointsAreErrors() throws {
        let good = try IOFixture.data("io-tiny.pth")
        for n in stride(from: 0, to: good.count, by: 3) {
            XCTAssertThrowsError(try StateDict.read(data: good.prefix(n), file: "t.pth"), "prefix \(n)")
        }
        // A flipped byte in a tensor's data fails the CRC-32 check.
        var corrupted = good
        let zip = try ZipArchive(data: good, file: "x")
        let entry = try XCTUnwrap(zip.entries["io-tiny/data/0"])
        corrupted[entry.localHeaderOffset + 30 + entry.name.utf8.count + 70] ^= 0x40
        assertIOError(try StateDict.read(data: corrupted, file: "c.pth"), mentioning: ["c.pth", "CRC"])

        var rng = FineTuneCore.SplitMix64(seed: 7)
        for _ in 0..<2000 {
            var bad = good
            bad[Int(rng.next() % UInt64(good.count))] = UInt8(truncatingIfNeeded: rng.next())
            _ = try? StateDict.read(data: bad, file: "fuzz")
        }
        // The unpickler itself, on mutated pickles (the CRC would stop these first).
        let pkl = try zip.withBytes(of: "io-tiny/data.pkl") { Array($0) }
        for _ in 0..<3000 {
            var bad = pkl
            for _ in 0..<Int(rng.next() % 3 + 1) {
                bad[Int(rng.next() % UInt64(pkl.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            _ = try? TorchPickle.load(bad)
        }
    }

    func testCompressedLegacyEmptyAndForeignFiles() throws {
        assertIOError(try StateDict.load(contentsOf: IOFixture.url("io-compressed.pth")),
                     mentioning: ["io-compressed.pth", "compressed", "torch.save"])
        assertIOError(try StateDict.load(contentsOf: IOFixture.url("io-whole-model.pth")),
                     mentioning: ["io-whole-model.pth", "torch.nn.modules.conv.Conv2d", "whole pickled model", ".state_dict()"])
        assertIOError(try StateDict.read(data: Data(), file: "e.pth"), mentioning: ["e.pth", "empty"])
        assertIOError(try StateDict.read(data: Data("hello world, not weights".utf8), file: "x.txt"),
                     mentioning: ["x.txt", "neither"])
        // A zip file without data.pkl.
        let emptyZip = Data([0x50, 0x4b, 0x05, 0x06] + [UInt8](repeating: 0, count: 18))
        assertIOError(try StateDict.read(data: emptyZip, file: "z.zip"), mentioning: ["z.zip", "data.pkl"])
    }
}

/// Crafted checkpoints whose sizes, strides, offsets and counts overflow or point outside
/// their storage or the file: each is an error naming the file, in both formats, never a crash
/// or garbage values.
final class IOTorchCheckpointHostileTests: XCTestCase {
    typealias T = CraftedTorch.Tensor
    let four = CraftedTorch.floats([1, 2, 3, 4])

    /// Reads `tensors` (viewing one storage "0" of `four`) as a zip and as a legacy checkpoint.
    func assertBoth(_ tensors: [T], mentioning parts: [String], line: UInt = #line) {
        assertIOError(try StateDict.read(data: CraftedTorch.checkpoint(tensors, storages: ["0": four]), file: "crafted.pth"),
                      mentioning: ["crafted.pth"] + parts, line: line)
        assertIOError(try StateDict.read(data: CraftedTorch.legacy(tensors, storages: [("0", nil, four)]), file: "legacy.pth"),
                      mentioning: ["legacy.pth"] + parts, line: line)
    }

    func testTheCraftingHelpersWriteReadableCheckpoints() throws {
        let tensors = [T(name: "w", storageCount: 4, shape: [2, 2], strides: [1, 2]),
                       T(name: "b", storageCount: 4, offset: 1, shape: [3, 1], strides: [1, 99]),
                       T(name: "e", storageCount: 4, offset: 3, shape: [2, 3], strides: [0, 0])]
        for data in [CraftedTorch.checkpoint(tensors, storages: ["0": four]),
                     CraftedTorch.legacy(tensors, storages: [("0", nil, four)])] {
            let sd = try StateDict.read(data: data, file: "ok.pth")
            XCTAssertEqual(sd.names, ["w", "b", "e"])
            XCTAssertEqual(sd["w"]?.values, [1, 3, 2, 4])
            XCTAssertEqual(sd["b"]?.values, [2, 3, 4])
            XCTAssertEqual(sd["e"]?.values, [4, 4, 4, 4, 4, 4])
        }
    }

    func testSizesStridesAndOffsetsThatOverflowOrLeaveTheStorage() {
        let cases: [(T, [String])] = [
            (T(name: "w", storageCount: 4, shape: [2, 2], strides: [.max, 1]), ["'w'", "reaches past"]),         // size x stride
            (T(name: "w", storageCount: 4, shape: [3], strides: [1 << 62]), ["'w'", "reaches past"]),             // wraps to a small index
            (T(name: "w", storageCount: 4, shape: [1 << 32, 1 << 32], strides: [0, 0]), ["'w'", "more than"]),   // numel overflows
            (T(name: "w", storageCount: 4, shape: [1 << 20, 1 << 12], strides: [0, 0]), ["'w'", "more than"]),   // numel over the limit
            (T(name: "w", storageCount: 4, offset: Int.max, shape: [2], strides: [1]), ["'w'", "reaches past"]), // offset overflows
            (T(name: "w", storageCount: 4, offset: Int.max - 2, shape: [4], strides: [1]), ["'w'", "reaches past"]),
            (T(name: "w", storageCount: 4, offset: 3, shape: [2], strides: [1]), ["'w'", "reaches past"]),        // past the storage
            (T(name: "w", storageCount: 4, offset: -1, shape: [2], strides: [1]), ["'w'", "negative"]),
            (T(name: "w", storageCount: 4, shape: [2], strides: [-1]), ["'w'", "negative"]),
            (T(name: "w", storageCount: 5, shape: [2], strides: [1]), ["'w'", "too few"]),                        // storage larger than its bytes
            (T(name: "w", storageCount: Int.max / 2, shape: [2], strides: [1]), ["'w'", "too few"]),              // count x size overflows
            (T(name: "w", storageCount: 4, shape: [Int](repeating: 1, count: 9), strides: [Int](repeating: 1, count: 9)),
             ["'w'", "9 dimensions"]),
        ]
        for (tensor, parts) in cases { assertBoth([tensor], mentioning: parts) }
    }

    /// Views that repeat a storage (stride 0, shared storages) cannot make a small file ask for gigabytes.
    func testExpandedAndSharedViewsAreBoundedByTheFileSize() {
        assertBoth([T(name: "w", storageCount: 4, shape: [1 << 31], strides: [0])], mentioning: ["'w'", "per byte of the file"])
        let many = (0..<64).map { T(name: "w\($0)", storageCount: 4, shape: [1 << 17], strides: [0]) }
        assertBoth(many, mentioning: ["per byte of the file"])
    }

    func testLegacyStorageCountsThatOverflowOrLeaveTheFile() {
        let tensors = [T(name: "w", storageCount: 4, shape: [4], strides: [1])]
        for count: Int64 in [5, -1, .max, .max / 4 + 1, 1 << 61] {
            assertIOError(try StateDict.read(data: CraftedTorch.legacy(tensors, storages: [("0", count, four)]), file: "legacy.pth"),
                          mentioning: ["legacy.pth", "storage '0' claims \(count) elements"])
        }
    }

    func testZipEntriesPastTheFileOrOverflowing() {
        let tensors = [T(name: "w", storageCount: 4, shape: [4], strides: [1])]
        let pickle = CraftedTorch.pickle(tensors)
        func read(storage: CraftedTorch.Entry) throws -> StateDict {
            try StateDict.read(data: CraftedTorch.zip([.init("archive/data.pkl", pickle), storage]), file: "z.pth")
        }
        let cases: [((size: UInt64, offset: UInt64), String)] = [
            ((16, 1 << 40), "no local header"),                        // local header past the file
            ((16, UInt64(Int.max) - 10), "no local header"),           // header offset + 30 overflows
            ((UInt64(Int.max), 0), "runs past the end"),               // start + size overflows
            ((1 << 40, 0), "runs past the end"),                       // size past the file
            ((UInt64.max, 0), "out of range"),                         // does not fit in Int
        ]
        for (zip64, expected) in cases {
            assertIOError(try read(storage: .init("archive/data/0", four, zip64: zip64)), mentioning: ["z.pth", expected])
        }
        // Many storages over the same bytes would each be checked over all of them.
        let storage = CraftedTorch.Entry("archive/data/0", [UInt8](repeating: 0, count: 4000))
        let at = UInt64(30 + "archive/data.pkl".utf8.count + pickle.count)
        let copies = (1...2).map { CraftedTorch.Entry("archive/data/\($0)", [], zip64: (4000, at)) }
        assertIOError(try StateDict.read(data: CraftedTorch.zip([.init("archive/data.pkl", pickle), storage] + copies), file: "z.pth"),
                      mentioning: ["z.pth", "overlapping entries"])
        // The end record's directory offset and size, and an entry count no checkpoint has.
        var data = CraftedTorch.zip([.init("archive/data.pkl", pickle), .init("archive/data/0", four)])
        let end = data.count - 22
        for (field, value, expected) in [(16, UInt32.max - 1, "outside the file"), (12, UInt32.max - 1, "outside the file")] {
            var bad = data
            bad.replaceSubrange((end + field)..<(end + field + 4), with: CraftedTorch.le(value))
            assertIOError(try StateDict.read(data: bad, file: "z.pth"), mentioning: ["z.pth", expected])
        }
        data.replaceSubrange((end + 10)..<(end + 12), with: CraftedTorch.le(UInt16(0xfffe)))
        assertIOError(try StateDict.read(data: data, file: "z.pth"), mentioning: ["z.pth", "bad central directory entry"])
    }

    func testDeepNestingHugeMemoIndexAndValueBombsInACheckpoint() {
        func checkpoint(_ body: [UInt8]) -> Data {
            CraftedTorch.zip([.init("archive/data.pkl", [0x80, 0x02] + body + [0x2e])])
        }
        let cases: [([UInt8], String)] = [
            ([UInt8](repeating: 0x5d, count: 100) + [UInt8](repeating: 0x61, count: 99), "nest more than 64"),  // [[[...]]]
            ([0x7d, 0x72] + CraftedTorch.le(UInt32.max), "memo index 4294967295"),                                // LONG_BINPUT
            ([0x7d, 0x70] + Array("99999999999\n".utf8), "memo index 99999999999"),                               // PUT
            ([0x7d, 0x70] + Array("-1\n".utf8), "bad memo index"),
            ([0x7d] + [UInt8](repeating: 0x32, count: Limits.pickleValues), "more than \(Limits.pickleValues) values"), // DUP
            ([UInt8](repeating: 0x28, count: Limits.pickleValues + 1), "more than \(Limits.pickleValues) values"),      // MARK
        ]
        for (body, expected) in cases {
            assertIOError(try StateDict.read(data: checkpoint(body), file: "p.pth"), mentioning: ["p.pth", expected])
        }
    }
}
