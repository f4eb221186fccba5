// Datasets: ImageFolder trees, train/val trees, the stratified stable split, manifests, and
// the errors that name what is wrong.

import Foundation
import XCTest
@testable import FineTuneCore

final class DataDatasetTests: XCTestCase {
    let tiny: [UInt8] = try! ImageEncoder.png(Image(width: 2, height: 2, channels: 1, filledWith: 9))

    /// A folder with `files` (relative paths) each holding a tiny PNG.
    func tree(_ files: [String]) -> DataTempFolder {
        let folder = DataTempFolder()
        for file in files { folder.write(file, tiny) }
        return folder
    }

    func testImageFolderSortsClassesAndIgnoresHiddenAndNonImageFiles() throws {
        let folder = tree(["dog/b.png", "dog/a.JPG", "dog/nested/c.jpeg", "cat/x.png", "Zebra/z.png",
                           "cat/.hidden.png", "cat/notes.txt", ".git/objects/y.png", "cat/.thumbs/t.png"])
        let dataset = try ImageDataset.folder(folder.path)
        XCTAssertEqual(dataset.classes, ["Zebra", "cat", "dog"])       // code-point order, as Python's sorted()
        XCTAssertEqual(dataset.samples.map { String($0.path.dropFirst(folder.path.count + 1)) },
                       ["Zebra/z.png", "cat/x.png", "dog/a.JPG", "dog/b.png", "dog/nested/c.jpeg"])
        XCTAssertEqual(dataset.samples.map(\.label), [0, 1, 2, 2, 2])
        XCTAssertEqual(dataset.classCounts, [1, 1, 3])
    }

    func testTrainAndValidationTrees() throws {
        let folder = tree(["train/ant/1.png", "train/bee/2.png", "train/bee/3.png", "val/bee/4.png"])
        let (train, validation) = try ImageDataset.trainValidation(folder.path)
        XCTAssertEqual(train.classes, ["ant", "bee"])
        XCTAssertEqual(validation.classes, ["ant", "bee"])
        XCTAssertEqual(validation.samples.map(\.label), [1])
    }

    func testErrorsNameTheProblem() {
        let empty = tree(["train/ant/1.png", "val/ant/2.png", "val/wasp/3.png"])
        try! FileManager.default.createDirectory(atPath: empty.path + "/train/bee", withIntermediateDirectories: true)
        XCTAssertThrowsError(try ImageDataset.folder(empty.path + "/train")) { error in
            XCTAssertEqual(error as? DataError, .emptyClass(path: empty.path + "/train/bee"))
        }
        XCTAssertThrowsError(try ImageDataset.folder(empty.path + "/nowhere")) { error in
            XCTAssertEqual(error as? DataError, .missingFolder(path: empty.path + "/nowhere"))
        }
        XCTAssertThrowsError(try ImageDataset.folder(empty.path + "/val", classes: ["ant", "bee"])) { error in
            XCTAssertEqual(error as? DataError, .unknownLabel(label: "wasp", source: empty.path + "/val/wasp", known: ["ant", "bee"]))
            XCTAssertTrue("\(error)".contains("'wasp'"))
        }
        let noVal = tree(["train/ant/1.png"])
        XCTAssertThrowsError(try ImageDataset.trainValidation(noVal.path)) { error in
            XCTAssertEqual(error as? DataError, .missingFolder(path: noVal.path + "/val"))
        }
    }

    func testValidationSplitIsStratifiedSeededAndStable() throws {
        let files = (0..<20).map { "a/\($0).png" } + (0..<10).map { "b/\($0).png" } + ["c/only.png"]
        let folder = tree(files)
        let dataset = try ImageDataset.folder(folder.path)
        let (train, validation) = try dataset.split(validationFraction: 0.3, seed: 42)
        XCTAssertEqual(validation.classCounts, [6, 3, 0])              // round(0.3 n) per class
        XCTAssertEqual(train.classCounts, [14, 7, 1])
        XCTAssertEqual(Set(train.samples.map(\.path)).intersection(validation.samples.map(\.path)), [])
        // Same seed, same split; another seed, another split.
        XCTAssertEqual(try dataset.split(validationFraction: 0.3, seed: 42).validation, validation)
        XCTAssertNotEqual(try dataset.split(validationFraction: 0.3, seed: 43).validation.samples, validation.samples)
        // Adding files to class a leaves class b's split untouched.
        for i in 20..<35 { folder.write("a/\(i).png", tiny) }
        let grown = try ImageDataset.folder(folder.path).split(validationFraction: 0.3, seed: 42)
        XCTAssertEqual(grown.validation.samples.filter { $0.label == 1 }, validation.samples.filter { $0.label == 1 })
        // The split does not depend on where the dataset lives.
        let moved = DataTempFolder()
        for file in files { moved.write(file, tiny) }
        let elsewhere = try ImageDataset.folder(moved.path).split(validationFraction: 0.3, seed: 42)
        XCTAssertEqual(elsewhere.validation.samples.map { $0.path.dropFirst(moved.path.count) },
                       validation.samples.map { $0.path.dropFirst(folder.path.count) })
        XCTAssertThrowsError(try dataset.split(validationFraction: 1.0, seed: 0))
    }

    func testManifestWithCommasOrSpacesAndRelativePaths() throws {
        let folder = tree(["img/one.png", "img/two words.png", "img/three.png"])
        let manifest = """
            path,label
            # a comment

            img/one.png, dog
            img/two words.png,cat
            """
        folder.write("train.csv", Array(manifest.utf8))
        folder.write("val.txt", Array("img/three.png   dog\n\(folder.path)/img/one.png\tcat\n".utf8))
        let train = try ImageDataset.manifest(folder.path + "/train.csv")
        XCTAssertEqual(train.classes, ["cat", "dog"])
        XCTAssertEqual(train.samples, [.init(path: folder.path + "/img/one.png", label: 1),
                                       .init(path: folder.path + "/img/two words.png", label: 0)])
        let validation = try ImageDataset.manifest(folder.path + "/val.txt", classes: train.classes)
        XCTAssertEqual(validation.samples.map(\.label), [1, 0])

        folder.write("bad-label.txt", Array("img/three.png bird\n".utf8))
        XCTAssertThrowsError(try ImageDataset.manifest(folder.path + "/bad-label.txt", classes: train.classes)) { error in
            XCTAssertEqual(error as? DataError, .unknownLabel(label: "bird", source: folder.path + "/bad-label.txt", known: ["cat", "dog"]))
        }
        folder.write("bad-line.txt", Array("img/one.png dog\njustonefield\n".utf8))
        XCTAssertThrowsError(try ImageDataset.manifest(folder.path + "/bad-line.txt")) { error in
            XCTAssertEqual(error as? DataError, .badManifestLine(path: folder.path + "/bad-line.txt", line: 2, text: "justonefield"))
        }
        folder.write("missing.txt", Array("img/none.png dog\n".utf8))
        XCTAssertThrowsError(try ImageDataset.manifest(folder.path + "/missing.txt")) { error in
            XCTAssertTrue("\(error)".contains("none.png"))
        }
    }
}
