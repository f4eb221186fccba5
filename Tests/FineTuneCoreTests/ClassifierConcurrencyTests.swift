import Foundation
import XCTest
@testable import FineTuneCore

/// One `ImageClassifier` shared by concurrent tasks: every result equals the one the same call
/// gets when the calls run one by one.
final class ClassifierConcurrencyTests: XCTestCase {
    /// Compile-time: the classifier and its inputs may cross into other tasks.
    func testClassifierAndInputsAreSendable() {
        func sendable<T: Sendable>(_: T.Type) {}
        sendable(ImageClassifier.self)
        sendable(ImageInput.self)
        sendable(RGBPixels.self)
        sendable(Classification.self)
    }

    /// The calls each task makes: files, data and pixels, singles and batches, a bad input.
    static func calls() throws -> [[ImageInput]] {
        let paths = ClassifierFixture.images
        var calls: [[ImageInput]] = paths.map { [.file($0)] }
        calls += try paths.map { [.pixels(try ClassifierFixture.pixels(of: $0), name: $0)] }
        calls += try paths.map { [.encoded(try Data(contentsOf: URL(fileURLWithPath: $0)), name: $0)] }
        calls.append(paths.reversed().map { .file($0) })
        calls.append([.file(paths[0]), .encoded(Data([0xFF, 0xD8]), name: "cut"), .file(paths[1])])
        return calls
    }

    func run(concurrency: Int, batchSize: Int, repeats: Int = 3) async throws {
        let classifier = try ClassifierFixture.classifier(batchSize: batchSize, concurrency: concurrency)
        let calls = try Self.calls()
        let sequential = calls.map { classifier.classify($0, topK: 3) }
        let work = Array((0..<repeats).flatMap { _ in calls.indices }.shuffled())
        let concurrent = await withTaskGroup(of: (Int, [Result<Classification, Error>]).self) { group in
            for index in work {
                group.addTask { (index, classifier.classify(calls[index], topK: 3)) }
            }
            var all: [(Int, [Result<Classification, Error>])] = []
            for await result in group { all.append(result) }
            return all
        }
        XCTAssertEqual(concurrent.count, work.count)
        for (index, results) in concurrent {
            XCTAssertEqual(results.count, sequential[index].count)
            for (got, expected) in zip(results, sequential[index]) {
                switch (got, expected) {
                case let (.success(a), .success(b)):
                    XCTAssertEqual(a.logits, b.logits, "call \(index) (\(a.image))")
                    XCTAssertEqual(a.probabilities, b.probabilities)
                    XCTAssertEqual(a.image, b.image)
                case let (.failure(a), .failure(b)):
                    XCTAssertEqual("\(a)", "\(b)")
                default:
                    XCTFail("call \(index): \(got) vs \(expected)")
                }
            }
        }
    }

    func testConcurrentTasksGetTheSequentialResults() async throws {
        try await run(concurrency: 4, batchSize: 2)
    }

    /// Fewer workers than tasks: calls wait for one and still get their own results.
    func testCallsWaitForAWorkerWhenAllAreBusy() async throws {
        try await run(concurrency: 1, batchSize: 4, repeats: 2)
    }

    /// Threads, not only tasks: the same from plain threads, all sharing one classifier.
    func testConcurrentThreadsGetTheSequentialResults() throws {
        let classifier = try ClassifierFixture.classifier(batchSize: 3, concurrency: 3)
        let paths = ClassifierFixture.images
        let expected = try paths.map { try classifier.classify(imageAt: $0).logits }
        let got = UnsafeMutableBufferPointer<[Float]>.allocate(capacity: paths.count * 4)
        defer { got.deallocate() }
        got.initialize(repeating: [])
        DispatchQueue.concurrentPerform(iterations: got.count) { i in
            got[i] = (try? classifier.classify(imageAt: paths[i % paths.count]).logits) ?? []
        }
        for i in 0..<got.count { XCTAssertEqual(got[i], expected[i % paths.count], paths[i % paths.count]) }
    }

    func testConcurrencyIsRangeChecked() {
        for bad in [0, -1, Limits.threads + 1] {
            XCTAssertThrowsError(try ClassifierFixture.classifier(concurrency: bad)) {
                XCTAssertTrue("\($0)".contains("concurrency"), "\($0)")
            }
        }
    }
}
