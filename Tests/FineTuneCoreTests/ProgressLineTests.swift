import XCTest
@testable import FineTuneCore

/// The progress line never wraps: it fits the width, keeps its leading fields, drops the last
/// extras first and the bar when there is no room for it.
final class ProgressLineTests: XCTestCase {
    let head = "finetune 1/2  batch 31/62  loss 0.4321  acc 0.8750"
    let extras = ["run ETA 3:12", "elapsed 0:45", "lr 1.00e-04", "123.4 img/s", "epoch ETA 0:20", "epoch 6/7 of the run"]

    func testTheLineFitsEveryWidthAndKeepsTheLeadingFields() {
        for width in [20, 40, 60, 80, 100, 132, 200] {
            let line = ProgressLine.fit(head: head, extras: extras, width: width, done: 31, of: 62)
            XCTAssertLessThanOrEqual(line.count, width, "\(width): \(line)")
            XCTAssertTrue(line.contains(String(head.prefix(width))), "\(width): \(line)")
        }
        let eighty = ProgressLine.fit(head: head, extras: extras, width: 79, done: 31, of: 62)
        XCTAssertTrue(eighty.contains("run ETA 3:12"), eighty)
        XCTAssertFalse(eighty.contains("epoch 6/7 of the run"), eighty)
        let wide = ProgressLine.fit(head: head, extras: extras, width: 200, done: 31, of: 62)
        XCTAssertTrue(wide.hasPrefix("[" + String(repeating: "█", count: 12) + String(repeating: "·", count: 12) + "] "), wide)
        for extra in extras { XCTAssertTrue(wide.contains(extra), wide) }
        XCTAssertFalse(ProgressLine.fit(head: head, extras: extras, width: 55, done: 1, of: 2).contains("["), "no room for a bar")
    }

    func testTheBarIsBoundedWhateverTheCounts() {
        for (done, total) in [(0, 0), (-3, 10), (15, 10), (10, 10)] {
            let line = ProgressLine.fit(head: "x", extras: [], width: 40, done: done, of: total)
            XCTAssertEqual(line.filter { $0 == "█" || $0 == "·" }.count, 24, line)
        }
    }
}
