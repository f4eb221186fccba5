import XCTest
@testable import FineTuneCore

/// `--max-train-samples`: a stratified, seeded subset.
final class DataSubsetTests: XCTestCase {
    func dataset(_ counts: [Int]) -> ImageDataset {
        let classes = counts.indices.map { "c\($0)" }
        let samples = counts.enumerated().flatMap { c, n in
            (0..<n).map { ImageDataset.Sample(path: "/d/c\(c)/\($0).png", label: Int32(c)) }
        }
        return ImageDataset(classes: classes, samples: samples, root: "/d")
    }

    func testSubsetKeepsEachClassShareAndAtLeastOne() {
        let full = dataset([90, 9, 1])
        let subset = full.stratifiedSubset(count: 20, seed: 3)
        XCTAssertEqual(subset.count, 20)
        // one each, then 17 shared by the 89 and 8 left: 15.6 and 1.4 -> 16 and 1
        XCTAssertEqual(subset.classCounts, [17, 2, 1])
        XCTAssertTrue(subset.samples.allSatisfy(full.samples.contains))
        XCTAssertEqual(full.stratifiedSubset(count: 20, seed: 3), subset, "the same seed picks the same images")
        XCTAssertNotEqual(full.stratifiedSubset(count: 20, seed: 4).samples, subset.samples, "another seed others")
        XCTAssertEqual(full.stratifiedSubset(count: 100, seed: 3), full)
        XCTAssertEqual(full.stratifiedSubset(count: 2, seed: 3).classCounts, [1, 1, 0])
        XCTAssertEqual(dataset([5, 5]).stratifiedSubset(count: 5, seed: 0).classCounts, [3, 2], "a tie goes to the lower class")
    }
}
