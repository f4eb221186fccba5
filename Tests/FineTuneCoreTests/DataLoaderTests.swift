// The loader: batch layout, determinism across runs and worker counts, reshuffling per
// epoch, skipping unreadable files with one warning and an end-of-epoch count, bounded prefetch.

import Foundation
import XCTest
@testable import FineTuneCore

final class DataLoaderTests: XCTestCase {
    /// Collects warnings from worker threads.
    final class Warnings: @unchecked Sendable {
        private let lock = NSLock()
        private var messages: [String] = []
        func append(_ message: String) { lock.lock(); messages.append(message); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return messages }
    }

    /// Folders kept until the test ends.
    var folders: [DataTempFolder] = []

    /// `count` small JPEGs in two classes, plus the given broken files in class "b".
    func dataset(count: Int, broken: [String: [UInt8]] = [:]) -> ImageDataset {
        let folder = DataTempFolder()
        folders.append(folder)
        for i in 0..<count {
            let image = DataBenchmark.syntheticImage(width: 40 + i % 7, height: 30 + i % 5, channels: 3, seed: UInt64(i))
            folder.write("\(i % 2 == 0 ? "a" : "b")/\(i).jpg", try! ImageEncoder.jpeg(image))
        }
        for (name, bytes) in broken { folder.write("b/" + name, bytes) }
        return try! ImageDataset.folder(folder.path)
    }

    let transform = TrainTransform(crop: RandomResizedCrop(size: 16),
                                   augmentations: [RandomHorizontalFlip(), ColorJitter(brightness: 0.3)])

    func batches(_ loader: DataLoader, epoch: Int) -> [Batch] { Array(loader.epoch(epoch)) }

    func testBatchLayoutAndLabels() {
        let data = dataset(count: 10)
        let loader = DataLoader(dataset: data, transform: transform, options: .init(batchSize: 4, shuffle: false))
        let all = batches(loader, epoch: 0)
        XCTAssertEqual(all.map(\.count), [4, 4, 2])
        XCTAssertEqual(all.flatMap(\.indices), Array(0..<10))
        for batch in all {
            XCTAssertEqual(batch.images.count, batch.count * 16 * 16 * 3)       // (N, H, W, 3)
            XCTAssertEqual([batch.height, batch.width], [16, 16])
            XCTAssertEqual(batch.labels, batch.indices.map { data.samples[$0].label })
        }
        let dropLast = DataLoader(dataset: data, transform: transform, options: .init(batchSize: 4, dropLast: true))
        XCTAssertEqual(batches(dropLast, epoch: 0).map(\.count), [4, 4])
    }

    func testSameSeedGivesIdenticalBatchesWhateverTheWorkers() {
        let data = dataset(count: 12)
        let one = DataLoader(dataset: data, transform: transform, options: .init(batchSize: 5, seed: 9, workers: 1, prefetch: 1))
        let three = DataLoader(dataset: data, transform: transform, options: .init(batchSize: 5, seed: 9, workers: 3, prefetch: 3))
        let first = batches(one, epoch: 1)
        for run in [batches(one, epoch: 1), batches(three, epoch: 1)] {
            XCTAssertEqual(run.map(\.indices), first.map(\.indices))
            XCTAssertEqual(run.map(\.images), first.map(\.images))
        }
        // Each epoch is reshuffled, and another seed gives another order.
        XCTAssertNotEqual(batches(one, epoch: 2).flatMap(\.indices), first.flatMap(\.indices))
        XCTAssertEqual(Set(batches(one, epoch: 2).flatMap(\.indices)), Set(0..<12))
        let other = DataLoader(dataset: data, transform: transform, options: .init(batchSize: 5, seed: 10))
        XCTAssertNotEqual(batches(other, epoch: 1).flatMap(\.indices), first.flatMap(\.indices))
    }

    func testUnreadableFilesAreSkippedWithOneWarningAndCounted() throws {
        let good = try ImageEncoder.jpeg(DataBenchmark.syntheticImage(width: 64, height: 48, channels: 3, seed: 1))
        let data = dataset(count: 6, broken: ["empty.jpg": [], "text.jpg": Array("hello".utf8),
                                                    "cut.jpg": Array(good.prefix(good.count / 2))])
        XCTAssertEqual(data.count, 9)
        let warnings = Warnings()
        let loader = DataLoader(dataset: data, transform: transform, options: .init(batchSize: 4, seed: 1),
                                warn: { warnings.append($0) })
        for epoch in 0..<2 {
            let run = loader.epoch(epoch)
            var images = 0
            for batch in run { images += batch.count }
            XCTAssertEqual(images, 6)
            XCTAssertEqual(run.skipped, 3)
        }
        let messages = warnings.all
        XCTAssertEqual(messages.filter { $0.hasPrefix("skipped ") }.count, 3, "one warning per file, not per epoch")
        for name in ["empty.jpg", "text.jpg", "cut.jpg"] {
            XCTAssertEqual(messages.filter { $0.contains(name) }.count, 1, name)
        }
        XCTAssertEqual(messages.filter { $0.contains("skipped 3 unreadable") }.count, 2, "a count at the end of each epoch")
        // A batch of nothing but unreadable files is passed over.
        let single = DataLoader(dataset: data, transform: transform, options: .init(batchSize: 1), warn: { _ in })
        XCTAssertEqual(batches(single, epoch: 0).map(\.count), [1, 1, 1, 1, 1, 1])
    }

    func testPrefetchIsBoundedAndDroppingAnEpochStopsTheWorkers() {
        let data = dataset(count: 40)
        let loader = DataLoader(dataset: data, transform: transform, options: .init(batchSize: 2, workers: 2, prefetch: 2))
        var run: DataLoader.Epoch? = loader.epoch(0)
        XCTAssertNotNil(run?.next())
        run = nil                                         // dropped after one of 20 batches
        // The next epoch still works (the old workers stopped without blocking anything).
        XCTAssertEqual(batches(loader, epoch: 1).reduce(0) { $0 + $1.count }, 40)
        XCTAssertEqual(loader.batchCount, 20)
    }
}
