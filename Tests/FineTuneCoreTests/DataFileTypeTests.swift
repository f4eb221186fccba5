// Files that are not regular files, and folder trees that are not trees: a FIFO named x.png
// hung every reader (open() blocks until a writer comes); a symlink loop made the walk go round
// until its depth limit, and a second link listed an image twice. Each case runs under a time
// limit, so a hang fails the test instead of stopping the run.

import Foundation
import XCTest
@testable import FineTuneCore

final class DataFileTypeTests: XCTestCase {
    let tiny: [UInt8] = try! ImageEncoder.png(Image(width: 4, height: 4, channels: 3, filledWith: 90))

    /// Collects warnings (from any thread).
    final class Warnings: @unchecked Sendable {
        private let lock = NSLock()
        private var messages: [String] = []
        func append(_ message: String) { lock.lock(); messages.append(message); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return messages }
    }

    func makeFIFO(_ path: String) {
        XCTAssertEqual(mkfifo(path, 0o644), 0, "mkfifo \(path)")
    }

    func link(_ path: String, to destination: String) {
        XCTAssertNoThrow(try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: destination))
    }

    func testAFIFONamedLikeAnImageIsSkippedOrRefusedWithoutBeingOpened() throws {
        let folder = DataTempFolder()
        folder.write("a/0.png", tiny)
        folder.write("b/1.png", tiny)
        let fifo = folder.path + "/a/x.png"
        makeFIFO(fifo)
        makeFIFO(folder.path + "/b/.pipe")
        link(folder.path + "/b/pipe.png", to: ".pipe")          // a link to a FIFO is no better
        let warnings = Warnings()
        let dataset = try XCTUnwrap(finishing("listing a folder with a FIFO") {
            try ImageDataset.folder(folder.path, warn: { warnings.append($0) })
        }?.get())
        XCTAssertEqual(dataset.samples.map { ($0.path as NSString).lastPathComponent }, ["0.png", "1.png"])
        XCTAssertEqual(warnings.all, ["\(fifo): skipped, it is a named pipe, not a regular file",
                                      "\(folder.path)/b/pipe.png: skipped, it is a named pipe, not a regular file"])
        // Read directly (predict's arguments, a stale dataset list): refused at once.
        let read = finishing("reading a FIFO") { try ImageDecoder.read(fifo) }
        XCTAssertThrowsError(try read?.get()) { error in
            XCTAssertEqual(error as? DataError, .unreadable(path: fifo, reason: "it is a named pipe, not a regular file"))
        }
        // The loader skips it with its warning, and the epoch ends.
        let listed = ImageDataset(classes: dataset.classes, samples: dataset.samples + [.init(path: fifo, label: 0)])
        let loaderWarnings = Warnings()
        let loader = DataLoader(dataset: listed, transform: EvalTransform(resize: 8, crop: 8),
                                options: .init(batchSize: 2, shuffle: false), warn: { loaderWarnings.append($0) })
        let images = finishing("an epoch over a FIFO") { loader.epoch(0).reduce(0) { $0 + $1.count } }
        XCTAssertEqual(try images?.get(), 2)
        XCTAssertTrue(loaderWarnings.all.contains { $0.contains("x.png") && $0.contains("named pipe") }, "\(loaderWarnings.all)")
    }

    func testSymlinkLoopsAndSecondLinksAreWalkedOnceWithAWarning() throws {
        let folder = DataTempFolder()
        folder.write("a/0.png", tiny)
        folder.write("a/deep/1.png", tiny)
        folder.write("b/2.png", tiny)
        link(folder.path + "/a/deep/up", to: "../..")          // a loop back to the root
        link(folder.path + "/a/self", to: ".")                 // a loop onto itself
        link(folder.path + "/b/again.png", to: "../a/0.png")   // a second path to an image
        link(folder.path + "/b/a-too", to: "../a/deep")        // a second path to a folder
        link(folder.path + "/c", to: "a")                      // a class folder that is another class
        link(folder.path + "/b/gone.png", to: "missing.png")   // a dangling link
        let warnings = Warnings()
        let dataset = try XCTUnwrap(finishing("walking a tree with symlink loops") {
            try ImageDataset.folder(folder.path, warn: { warnings.append($0) })
        }?.get())
        XCTAssertEqual(dataset.classes, ["a", "b"])
        XCTAssertEqual(dataset.samples.map { String($0.path.dropFirst(folder.path.count + 1)) },
                       ["a/0.png", "a/deep/1.png", "b/2.png"])
        let skipped = warnings.all.map { String($0.dropFirst(folder.path.count + 1).prefix { $0 != ":" }) }
        XCTAssertEqual(skipped, ["c", "a/deep/up", "a/self", "b/gone.png", "b/a-too", "b/again.png"], "\(warnings.all)")
        guard warnings.all.count == 6 else { return }
        XCTAssertTrue(warnings.all[3].contains("No such file"), warnings.all[3])
        XCTAssertTrue(warnings.all[5].contains("the same file as \(folder.path)/a/0.png"), warnings.all[5])
        // The walk predict uses on a folder argument is the same.
        let files = try XCTUnwrap(finishing("listing images for predict") {
            try ImageDataset.imageFiles(under: folder.path, warn: { _ in })
        }?.get())
        XCTAssertEqual(files.count, 3)
    }

    func testAManifestThatIsAFIFOOrListsOneIsRefused() throws {
        let folder = DataTempFolder()
        folder.write("img/0.png", tiny)
        makeFIFO(folder.path + "/list.txt")
        let manifest = finishing("reading a FIFO as a manifest") { try ImageDataset.manifest(folder.path + "/list.txt") }
        XCTAssertThrowsError(try manifest?.get()) { error in
            XCTAssertEqual(error as? DataError, .unreadable(path: folder.path + "/list.txt",
                                                            reason: "it is a named pipe, not a regular file"))
        }
        makeFIFO(folder.path + "/img/1.png")
        folder.write("lists-a-fifo.txt", Array("img/0.png cat\nimg/1.png dog\n".utf8))
        let listing = finishing("a manifest listing a FIFO") { try ImageDataset.manifest(folder.path + "/lists-a-fifo.txt") }
        XCTAssertThrowsError(try listing?.get()) { error in
            XCTAssertEqual("\(error)", "\(folder.path)/img/1.png: cannot read the file (listed on line 2 of "
                           + "\(folder.path)/lists-a-fifo.txt, but it is a named pipe, not a regular file)")
        }
    }
}
