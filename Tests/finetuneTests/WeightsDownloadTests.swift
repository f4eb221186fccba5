import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
@testable import FineTuneCore

/// Weight sets fetched from a loopback HTTP server the tests run: the hash checked, a cut
/// connection resumed, an unreachable server named with the folder to use, the hub cache used
/// first, the mirror, the size cap, the proxy variables. Every folder is the test's own.
final class WeightsDownloadTests: XCTestCase {
    var dir: URL!
    var server: LoopbackHTTPServer!

    /// As the CLI does: no shared URL cache with a folder of its own in the user's cache.
    override class func setUp() {
        URLCache.shared = URLCache(memoryCapacity: 0, diskCapacity: 0, diskPath: NSTemporaryDirectory())
    }

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("finetune-weights-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        server = try LoopbackHTTPServer()
    }

    override func tearDownWithError() throws {
        server.stop()
        try? FileManager.default.removeItem(at: dir)
    }

    /// Caches inside the test's folder, neither of which exists yet.
    var cache: WeightsCache {
        WeightsCache(hubFolder: dir.appendingPathComponent("torch/hub/checkpoints"),
                     ownFolder: dir.appendingPathComponent("cache/finetune/weights"))
    }

    /// A file of `count` seeded bytes and a weight set served at /models/NAME, named as
    /// torchvision names its files (the hash's first 8 hex digits after a '-').
    func publish(count: Int = 300_000, sha256: String? = nil, route: (inout LoopbackHTTPServer.Route) -> Void = { _ in })
        -> (body: Data, set: WeightSet) {
        var rng = SplitMix64(seed: UInt64(count))
        let body = Data((0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        let digest = SHA256.hex(of: body)
        let name = "tiny-\(digest.prefix(8)).pth"
        var r = LoopbackHTTPServer.Route(body: body)
        route(&r)
        server.serve("/models/" + name, r)
        return (body, WeightSet(name: "IMAGENET1K_V1", file_name: name, url: server.url("/models/" + name), sha256: sha256 ?? digest,
                                crop_size: 64, resize_size: 72, interpolation: .bilinear, top1: 50))
    }

    func testAGoodFileIsPlacedAndThenFoundInTheCache() throws {
        let (body, set) = publish()
        var last: DownloadProgress?
        let file = try PretrainedWeights(cache: cache).file(of: set) { last = $0 }
        XCTAssertEqual(file, cache.ownFolder.appendingPathComponent(set.file_name))
        XCTAssertEqual(try Data(contentsOf: file), body)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache.ownFolder.path), [set.file_name], "no .partial left")
        XCTAssertEqual(last?.received, body.count)
        XCTAssertEqual(last?.total, body.count)
        XCTAssertEqual(server.requests.first?.headers["accept-encoding"], "identity")
        XCTAssertNil(server.requests.first?.headers["range"])
        // Found again without asking the server.
        XCTAssertEqual(try PretrainedWeights(cache: cache).file(of: set), file)
        XCTAssertEqual(server.requests.count, 1)
    }

    func testAWrongHashKeepsNothing() throws {
        let (_, set) = publish(sha256: String(repeating: "ab", count: 32))
        XCTAssertThrowsError(try PretrainedWeights(cache: cache).file(of: set)) { error in
            guard case WeightsError.hashMismatch(_, let expected, _, kept: false)? = error as? WeightsError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(expected, String(repeating: "ab", count: 32))
            XCTAssertTrue("\(error)".contains("the download was deleted"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("cache").path),
                       "neither the file, its .partial nor the folders made for it are left")

        // The whole declared digest is right, but the file name's torchvision prefix is not.
        var (body, renamed) = publish(count: 1000)
        renamed.file_name = "tiny-deadbeef.pth"
        server.serve("/models/tiny-deadbeef.pth", .init(body: body))
        renamed.url = server.url("/models/tiny-deadbeef.pth")
        XCTAssertEqual(renamed.digestPrefixes, [renamed.sha256, "deadbeef"])
        XCTAssertThrowsError(try PretrainedWeights(cache: cache).file(of: renamed)) { error in
            XCTAssertTrue("\(error)".contains("does not start with the published deadbeef"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("cache").path))
    }

    func testACutConnectionIsResumedWithARange() throws {
        let (body, set) = publish { $0.cutAfter = 100_000 }
        let file = try PretrainedWeights(cache: cache).file(of: set)
        XCTAssertEqual(try Data(contentsOf: file), body)
        XCTAssertEqual(server.requests.map { $0.headers["range"] }, [nil, "bytes=100000-"])
    }

    /// Asked to stop (Ctrl-C) once bytes have arrived, the download keeps them for the next call.
    func testAStoppedDownloadKeepsWhatArrived() throws {
        let (body, set) = publish(count: 2_000_000)
        var arrived = false
        XCTAssertThrowsError(try PretrainedWeights(cache: cache).file(of: set, progress: { _ in arrived = true }, shouldStop: { arrived })) { error in
            guard case WeightsError.interrupted(set.url, let partial)? = error as? WeightsError else { return XCTFail("\(error)") }
            let kept = (try? Data(contentsOf: URL(fileURLWithPath: partial))) ?? Data()
            XCTAssertTrue(!kept.isEmpty && kept.count < body.count && kept == body.prefix(kept.count), "\(kept.count) bytes kept")
        }
        let file = try PretrainedWeights(cache: cache).file(of: set)
        XCTAssertEqual(try Data(contentsOf: file), body)
        XCTAssertEqual(server.requests.count, 2)
        XCTAssertNotNil(server.requests.last?.headers["range"], "continued")
    }

    /// A partial file from an earlier run is continued (206), or started over when the server
    /// ignores the range (200).
    func testAPartialFileIsContinuedOrStartedOver() throws {
        for ignoresRange in [false, true] {
            let (body, set) = publish(count: ignoresRange ? 200_001 : 200_000) { $0.ignoresRange = ignoresRange }
            try FileManager.default.createDirectory(at: cache.ownFolder, withIntermediateDirectories: true)
            let partial = cache.ownFolder.appendingPathComponent(set.file_name + ".partial")
            try body.prefix(50_000).write(to: partial)
            let file = try PretrainedWeights(cache: cache).file(of: set)
            XCTAssertEqual(try Data(contentsOf: file), body, "ignoresRange \(ignoresRange)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: partial.path))
            XCTAssertEqual(server.requests.last?.headers["range"], "bytes=50000-")
        }
    }

    /// A partial file as long as the file or longer (416) is started over; a 206 answer that does
    /// not continue it is refused and the partial file deleted.
    func testAPartialFileTheServerCannotContinue() throws {
        let (body, set) = publish()
        try FileManager.default.createDirectory(at: cache.ownFolder, withIntermediateDirectories: true)
        let partial = cache.ownFolder.appendingPathComponent(set.file_name + ".partial")
        try (body + Data([1, 2, 3])).write(to: partial)
        XCTAssertEqual(try Data(contentsOf: try PretrainedWeights(cache: cache).file(of: set)), body)
        XCTAssertEqual(server.requests.map { $0.headers["range"] }, ["bytes=\(body.count + 3)-", nil])

        let (_, odd) = publish(count: 1000) { $0.status = 206 }  // the whole body, without a Content-Range
        let oddPartial = cache.ownFolder.appendingPathComponent(odd.file_name + ".partial")
        try Data(repeating: 7, count: 10).write(to: oddPartial)
        XCTAssertThrowsError(try PretrainedWeights(cache: cache).file(of: odd)) { error in
            guard case WeightsError.badSize(_, let reason)? = error as? WeightsError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("asked for the bytes from 10 on"), reason)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: oddPartial.path))
    }

    func testAnUnreachableServerNamesTheURLAndTheFolder() throws {
        // A port nothing listens on: bound, then closed.
        let closed = try LoopbackHTTPServer()
        let port = closed.port
        closed.stop()
        var (_, set) = publish()
        set.url = "http://127.0.0.1:\(port)/models/\(set.file_name)"
        XCTAssertThrowsError(try PretrainedWeights(cache: cache).file(of: set)) { error in
            guard case WeightsError.unreachable? = error as? WeightsError else { return XCTFail("\(error)") }
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix("cannot download \(set.url) ("), message)
            XCTAssertTrue(message.contains("put \(set.file_name) in \(cache.ownFolder.path)"), message)
            XCTAssertFalse(message.contains("\n"), "one line: \(message)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("cache").path), "no empty folders left")
    }

    func testAnHTTPErrorIsNamed() throws {
        let (_, set) = publish { $0.status = 404 }
        XCTAssertThrowsError(try PretrainedWeights(cache: cache).file(of: set)) { error in
            XCTAssertEqual(error as? WeightsError, .httpStatus(url: set.url, status: 404))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("cache").path))
    }

    func testTheHubCacheIsUsedFirstAndChecked() throws {
        let (body, set) = publish()
        try FileManager.default.createDirectory(at: cache.hubFolder, withIntermediateDirectories: true)
        let hub = cache.hubFolder.appendingPathComponent(set.file_name)
        try body.write(to: hub)
        XCTAssertEqual(try PretrainedWeights(cache: cache).file(of: set), hub)
        XCTAssertTrue(server.requests.isEmpty, "no download")
        XCTAssertFalse(FileManager.default.fileExists(atPath: cache.ownFolder.path))

        try body.dropLast().write(to: hub)
        XCTAssertThrowsError(try PretrainedWeights(cache: cache).file(of: set)) { error in
            guard case WeightsError.hashMismatch(hub.path, _, _, kept: true)? = error as? WeightsError else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("delete it to download it again"), "\(error)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: hub.path), "a user's file is never deleted")
    }

    func testTheMirrorReplacesSchemeAndHost() throws {
        let (body, published) = publish()
        server.serve("/pytorch/models/" + published.file_name, .init(body: body))
        var set = published
        set.url = "https://download.pytorch.invalid/models/" + set.file_name
        let file = try PretrainedWeights(cache: cache, mirror: server.url("/pytorch/")).file(of: set)
        XCTAssertEqual(try Data(contentsOf: file), body)
        XCTAssertEqual(server.requests.map(\.target), ["/pytorch/models/" + set.file_name])

        XCTAssertEqual(try WeightsMirror("http://mirror.example:8080").apply(to: URL(string: "https://download.pytorch.org/models/r.pth")!),
                       URL(string: "http://mirror.example:8080/models/r.pth"))
        for bad in ["ftp://mirror.example", "mirror.example", "http://", "http://m.example/?q=1"] {
            XCTAssertThrowsError(try PretrainedWeights(cache: cache, mirror: bad).url(of: set), bad) { error in
                XCTAssertEqual(error as? WeightsError, .badMirror(value: bad))
            }
        }
    }

    /// Sizes the server announces or sends over the limit are refused, and nothing is kept.
    func testTheDownloadIsCapped() throws {
        for announced in [true, false] {
            let (_, set) = publish(count: announced ? 5000 : 5001) { if !announced { $0.contentLength = .some(nil) } }
            var source = PretrainedWeights(cache: cache)
            source.downloadLimit = 4096
            XCTAssertThrowsError(try source.file(of: set)) { error in
                guard case WeightsError.badSize(_, let reason)? = error as? WeightsError else { return XCTFail("\(error)") }
                XCTAssertTrue(reason.contains(announced ? "announces 5000 bytes, over the limit of 4096" : "more than the limit of 4096 bytes"), reason)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("cache").path), "announced \(announced)")
        }
        // A server that sends more than it announced.
        let (_, liar) = publish(count: 3000) { $0.contentLength = 2000 }
        XCTAssertThrowsError(try PretrainedWeights(cache: cache).file(of: liar))
        XCTAssertFalse(FileManager.default.fileExists(atPath: cache.ownFolder.appendingPathComponent(liar.file_name).path))
    }

    /// libcurl, under FoundationNetworking, sends requests through `http_proxy` by itself.
    func testTheProxyVariableIsHonoured() throws {
        let (body, published) = publish()
        var set = published
        set.url = "http://weights.invalid/models/" + set.file_name
        let saved: [(String, String?)] = ["http_proxy", "no_proxy", "NO_PROXY"].map { name in
            (name, ProcessInfo.processInfo.environment[name])
        }
        defer { for (name, value) in saved { if let value { setenv(name, value, 1) } else { unsetenv(name) } } }
        setenv("http_proxy", server.url(""), 1)
        unsetenv("no_proxy")
        unsetenv("NO_PROXY")
        let file = try PretrainedWeights(cache: cache).file(of: set)
        XCTAssertEqual(try Data(contentsOf: file), body)
        XCTAssertEqual(server.requests.map(\.target), [set.url], "the proxy is asked for the whole URL")
    }

    func testCacheFoldersFollowTheEnvironment() {
        let both = WeightsCache(environment: ["TORCH_HOME": "/t", "XDG_CACHE_HOME": "/c", "HOME": "/h"])
        XCTAssertEqual(both.folders.map(\.path), ["/t/hub/checkpoints", "/c/finetune/weights"])
        let xdg = WeightsCache(environment: ["XDG_CACHE_HOME": "/c", "HOME": "/h"])
        XCTAssertEqual(xdg.folders.map(\.path), ["/c/torch/hub/checkpoints", "/c/finetune/weights"])
        let home = WeightsCache(environment: ["XDG_CACHE_HOME": "relative", "HOME": "/h"])
        XCTAssertEqual(home.folders.map(\.path), ["/h/.cache/torch/hub/checkpoints", "/h/.cache/finetune/weights"])
    }

    /// A plain name that is not a file names a weight set, in any case; the rest are paths.
    func testWeightsValuesNameSetsOrFiles() throws {
        let resnet50 = try PluginCatalog(directories: [PluginCatalog.executableDir!]).backbone(named: "resnet50")
        XCTAssertEqual(try WeightsArgument("imagenet").weightSet(of: resnet50)?.name, "IMAGENET1K_V2", "the default is the first listed")
        XCTAssertEqual(try WeightsArgument("ImageNet").weightSet(of: resnet50)?.name, "IMAGENET1K_V2")
        XCTAssertEqual(try WeightsArgument("imagenet1k_v1").weightSet(of: resnet50)?.file_name, "resnet50-0676ba61.pth")
        XCTAssertEqual(WeightsArgument("resnet50.pth"), .file("resnet50.pth"))
        XCTAssertEqual(WeightsArgument("weights/IMAGENET1K_V1"), .file("weights/IMAGENET1K_V1"))
        XCTAssertEqual(WeightsArgument("imagenet", fileExists: { $0 == "imagenet" }), .file("imagenet"))
        XCTAssertThrowsError(try WeightsArgument("IMAGENET1K_V3").weightSet(of: resnet50)) { error in
            XCTAssertEqual("\(error)", "resnet50 has no weight set named 'IMAGENET1K_V3', and no file of that name exists; "
                           + "its sets: IMAGENET1K_V2, IMAGENET1K_V1 (imagenet: the default, IMAGENET1K_V2)")
        }
        XCTAssertEqual(resnet50.weightSets[1].digestPrefixes, ["0676ba61", "0676ba61"], "declared and in the file name")
        let shufflenet = try PluginCatalog(directories: [PluginCatalog.executableDir!]).backbone(named: "shufflenet-v2-x1.0")
        XCTAssertEqual(shufflenet.weightSets[0].digestPrefixes, ["5666bf0f80", "5666bf0f80"])
    }
}
