import Foundation
import XCTest
@testable import FineTuneCore

final class IOSafeTensorsTests: XCTestCase {
    /// Awkward values: signed zero, infinities, a NaN with a payload, subnormals, extremes.
    let tensors = [
        NamedTensor(name: "conv.weight", shape: [2, 1, 2, 2], values: [
            0, -0.0, .infinity, -.infinity, Float(bitPattern: 0x7fc0_1234), .leastNonzeroMagnitude,
            .greatestFiniteMagnitude, 1.0 / 3.0]),
        NamedTensor(name: "bn.num_batches_tracked", shape: [], values: [7]),
        NamedTensor(name: "empty", shape: [0, 3], values: []),
        NamedTensor(name: "head.bias", shape: [3], values: [0.5, -1.25, 1e-30]),
    ]

    func bits(_ t: [NamedTensor]) -> [String: [UInt32]] {
        Dictionary(uniqueKeysWithValues: t.map { ($0.name, $0.values.map(\.bitPattern)) })
    }

    func testRoundTripKeepsEveryBitShapeAndMetadata() throws {
        let metadata = ["format_version": "1", "classes": "[\"a\",\"b\"]"]
        let data = try SafeTensorsWriter.encode(tensors, metadata: metadata)
        let read = try SafeTensorsFile(data: data, file: "memory")
        XCTAssertEqual(read.metadata, metadata)
        XCTAssertEqual(read.tensors.map(\.name), tensors.map(\.name))
        XCTAssertEqual(read.tensors.map(\.shape), tensors.map(\.shape))
        XCTAssertEqual(bits(read.tensors), bits(tensors))
        // Writing what was read gives the same file, byte for byte.
        XCTAssertEqual(try SafeTensorsWriter.encode(read.tensors, metadata: read.metadata), data)
        // The data section starts 8-byte aligned.
        let headerLength = data.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        XCTAssertEqual(headerLength % 8, 0)
    }

    func testAtomicWriteReplacesTheFileAndLeavesNoTemporary() throws {
        let dir = try IOFixture.temporaryDirectory(self)
        let url = dir.appendingPathComponent("model.safetensors")
        try Data("old".utf8).write(to: url)
        try SafeTensorsWriter.write(tensors, metadata: ["k": "v"], to: url)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["model.safetensors"])
        XCTAssertEqual(try Data(contentsOf: url), try SafeTensorsWriter.encode(tensors, metadata: ["k": "v"]))
        let read = try SafeTensorsFile(contentsOf: url)
        XCTAssertEqual(bits(read.tensors), bits(tensors))
    }

    func testAFailedWriteLeavesTheOldFile() throws {
        let dir = try IOFixture.temporaryDirectory(self)
        let url = dir.appendingPathComponent("model.safetensors")
        try Data("old".utf8).write(to: url)
        let twice = [tensors[0], tensors[0]]
        assertIOError(try SafeTensorsWriter.write(twice, to: url), mentioning: ["conv.weight", "twice"])
        XCTAssertEqual(try Data(contentsOf: url), Data("old".utf8))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["model.safetensors"])
        assertIOError(try SafeTensorsWriter.write(tensors, to: dir.appendingPathComponent("no/such/dir.safetensors")),
                     mentioning: ["no/such/dir.safetensors", "cannot create"])
    }

    func testHalfBFloatDoubleAndInt64AreReadExactly() throws {
        let file = try SafeTensorsFile(contentsOf: IOFixture.url("io-halfs.safetensors"))
        let byName = Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, $0) })
        for name in ["f16", "bf16", "f64", "i64"] {
            let t = try XCTUnwrap(byName[name]), reference = try XCTUnwrap(byName[name + ".f32"])
            XCTAssertEqual(t.shape, reference.shape, name)
            XCTAssertEqual(t.values.map(\.bitPattern), reference.values.map(\.bitPattern), name)
        }
        XCTAssertEqual(file.metadata["note"], "each X.f32 holds the exact Float32 values of X")
    }

    func testHalfConversionCoversEveryBitPattern() {
        for bits in UInt16.min...UInt16.max {
            let ours = Float(halfBits: bits), reference = Float(Float16(bitPattern: bits))
            XCTAssertTrue(ours.bitPattern == reference.bitPattern || (ours.isNaN && reference.isNaN), "\(bits)")
        }
    }

    // MARK: bad files

    /// A header written by hand around 16 bytes of data.
    func file(header: String, dataBytes: Int = 16) -> Data {
        var d = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { d.append(contentsOf: $0) }
        d.append(Data(header.utf8))
        d.append(Data(count: dataBytes))
        return d
    }

    func testBadHeadersNameTheTensor() {
        let cases: [(String, [String])] = [
            (#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,20]}}"#, ["'w'", "outside"]),
            (#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#, ["'w'", "16 bytes", "needs 12"]),
            (#"{"w":{"dtype":"Q8","shape":[4],"data_offsets":[0,4]}}"#, ["'w'", "Q8"]),
            (#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, ["'w'", "shape"]),
            (#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, ["'w'", "data_offsets"]),
            (#"{"w":{"dtype":"F32","shape":[2]}}"#, ["'w'", "data_offsets"]),
            (#"{"w":{"dtype":"F32","shape":[3037000500,3037000500],"data_offsets":[0,16]}}"#, ["'w'", "larger"]),
            (#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#,
             ["'a'", "'b'", "overlap"]),
            (#"{"__metadata__":{"n":1}}"#, ["__metadata__", "'n'"]),
            (#"{"w":[1,2]"#, ["not valid JSON"]),
            (#"[1,2]"#, ["not a JSON object"]),
        ]
        for (header, parts) in cases {
            assertIOError(try SafeTensorsFile(data: file(header: header), file: "bad.safetensors"),
                         mentioning: ["bad.safetensors"] + parts)
        }
    }

    /// Headers that would make the JSON parser build millions of objects, or nest deeply, are
    /// refused before they are parsed.
    func testHeadersWithMillionsOfEntriesOrDeepNestingAreRefusedBeforeParsing() {
        func entries(_ n: Int) -> String { (0..<n).map { #""t\#($0)":{}"# }.joined(separator: ",") }
        func fields(_ n: Int) -> String { (0..<n).map { #""\#($0)":"""# }.joined(separator: ",") }
        // Entries and fields each within their limit, but too many values in all.
        let perEntry = Limits.safeTensorsMetadataEntries - 24
        let values = (0...Limits.safeTensorsHeaderValues / (2 * perEntry)).map { #""t\#($0)":{"# + fields(perEntry) + "}" }
            .joined(separator: ",")
        let cases: [(String, String)] = [
            ("{" + entries(Limits.tensorsPerFile + 1) + "}", "more than \(Limits.tensorsPerFile) tensors"),  // parsed, then refused
            ("{" + entries(Limits.tensorsPerFile + 2) + "}", "more than \(Limits.tensorsPerFile) tensors"),  // refused unparsed
            (#"{"__metadata__":{"# + fields(Limits.safeTensorsMetadataEntries + 1) + "}}", "more than \(Limits.safeTensorsMetadataEntries) fields"),
            (#"{"w":{"# + fields(Limits.safeTensorsMetadataEntries + 1) + "}}", "more than \(Limits.safeTensorsMetadataEntries) fields"),
            ("{" + values + "}", "more than \(Limits.safeTensorsHeaderValues) JSON values"),
            (#"{"w":{"dtype":"F32","shape":[[4]],"data_offsets":[0,16]}}"#, "nests deeper"),
            ("{" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}", "nests deeper"),
            (#"{"w":{}}]]]]{{{{"#, "not valid JSON"),
        ]
        for (header, expected) in cases {
            assertIOError(try StateDict.read(data: file(header: header), file: "big.safetensors"),
                          mentioning: ["big.safetensors", expected])
        }
        // Braces, brackets and commas inside strings are text.
        let quoted = #"{"a,{[\"\\":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        XCTAssertEqual(try SafeTensorsFile(data: file(header: quoted), file: "q").tensors.map(\.name), [#"a,{["\"#])
    }

    func testShapesOverTheLimitsAndControlCharactersInNames() {
        let cases: [(String, [String])] = [
            (#"{"w":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,4],"data_offsets":[0,16]}}"#, ["'w'", "9 dimensions"]),
            (#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}}"#, ["'w'", "larger"]),
            (#"{"\u001b]0;owned\u0007w":{"dtype":"F32","shape":[5],"data_offsets":[0,16]}}"#, ["\\u{1B}]0;owned\\u{7}w"]),
        ]
        for (header, parts) in cases {
            assertIOError(try SafeTensorsFile(data: file(header: header), file: "bad.safetensors"),
                          mentioning: ["bad.safetensors"] + parts)
        }
        XCTAssertThrowsError(try SafeTensorsFile(data: file(header: cases[2].0), file: "bad\u{1b}[2J.safetensors")) { error in
            XCTAssertFalse("\(error)".unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" }, "\(error)")
        }
    }

    func testEmptyShortAndTruncatedFilesAreErrorsNeverCrashes() throws {
        assertIOError(try SafeTensorsFile(data: Data(), file: "e.safetensors"), mentioning: ["e.safetensors", "empty"])
        assertIOError(try SafeTensorsFile(data: Data([1, 2, 3]), file: "s.safetensors"), mentioning: ["too short"])
        var huge = Data(count: 16)
        huge[7] = 0x7f
        assertIOError(try SafeTensorsFile(data: huge, file: "h.safetensors"), mentioning: ["header claims"])
        let good = try SafeTensorsWriter.encode(tensors, metadata: ["k": "v"])
        for n in 0..<good.count {
            XCTAssertThrowsError(try SafeTensorsFile(data: good.prefix(n), file: "t.safetensors"), "prefix \(n)")
        }
    }

    func testCorruptedBytesNeverCrash() throws {
        let good = try SafeTensorsWriter.encode(tensors, metadata: ["k": "v"])
        var rng = FineTuneCore.SplitMix64(seed: 42)
        for _ in 0..<3000 {
            var bad = good
            for _ in 0..<Int(rng.next() % 3 + 1) {
                bad[Int(rng.next() % UInt64(good.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            _ = try? SafeTensorsFile(data: bad, file: "fuzz")
        }
    }

    func testMissingFileAndFolderAreNamed() throws {
        let dir = try IOFixture.temporaryDirectory(self)
        assertIOError(try SafeTensorsFile(contentsOf: dir.appendingPathComponent("none.safetensors")),
                     mentioning: ["none.safetensors", "no such file"])
        assertIOError(try SafeTensorsFile(contentsOf: dir), mentioning: ["folder"])
        let pipe = dir.appendingPathComponent("pipe.safetensors")
        XCTAssertEqual(mkfifo(pipe.path, 0o600), 0)
        assertIOError(try StateDict.load(contentsOf: pipe), mentioning: ["pipe.safetensors", "not a regular file"])
        let empty = dir.appendingPathComponent("empty.safetensors")
        XCTAssertTrue(FileManager.default.createFile(atPath: empty.path, contents: Data()))
        assertIOError(try SafeTensorsFile(contentsOf: empty), mentioning: ["empty.safetensors", "empty"])
        assertIOError(try StateDict.load(contentsOf: empty), mentioning: ["empty.safetensors", "empty"])
        // A slice that does not start at index 0 reads the same.
        let good = try SafeTensorsWriter.encode(tensors)
        let slice = (Data([9, 9, 9]) + good).dropFirst(3)
        XCTAssertEqual(bits(try SafeTensorsFile(data: slice, file: "slice").tensors), bits(tensors))
    }
}
