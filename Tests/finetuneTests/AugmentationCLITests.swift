import Foundation
import XCTest

/// `train`'s augmentation options: values out of range, malformed pairs and RandAugment settings
/// without RandAugment are usage errors naming the option, found before the images are scanned.
final class AugmentationCLITests: CLITestCase {
    func testAugmentationOptionsAreCheckedBeforeTheImagesAreScanned() throws {
        let out = dir.appendingPathComponent("run").path
        let train = ["train", "--backbone", "resnet18", "--data", dir.appendingPathComponent("absent").path, "--output", out]
        let refused: [(extra: [String], mentions: String)] = [
            (["--crop-scale", "0,1"], "--crop-scale must be MIN,MAX with 0 < MIN <= MAX <= 1"),
            (["--crop-scale", "0.5,0.2"], "--crop-scale must be"),
            (["--crop-scale", "0.5"], "--crop-scale"),
            (["--crop-ratio", "2,1"], "--crop-ratio must be"),
            (["--crop-ratio", "nan,1"], "--crop-ratio must be"),
            (["--random-erasing", "1.5"], "--random-erasing must be a probability from 0 to 1"),
            (["--auto-augment", "auto"], "trivial-wide"),
            (["--auto-augment", "rand-augment", "--rand-augment-magnitude", "31"], "--rand-augment-magnitude must be an integer from 0 to 30"),
            (["--rand-augment-ops", "3"], "--rand-augment-ops applies to --auto-augment rand-augment only"),
            (["--auto-augment", "trivial-wide", "--rand-augment-magnitude", "5"], "--rand-augment-magnitude applies to"),
        ]
        for (extra, mentions) in refused {
            let r = try runFinetune(train + extra)
            XCTAssertEqual(r.status, 64, "\(extra): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(mentions), "\(extra): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(extra) made the output folder")
        }
        // Accepted values get past the checks, to the missing images.
        for extra in [["--auto-augment", "rand-augment", "--rand-augment-ops", "3", "--rand-augment-magnitude", "12"],
                      ["--auto-augment", "trivial-wide", "--random-erasing", "0.25", "--crop-scale", "0.25,1", "--crop-ratio", "0.5,2"]] {
            let r = try runFinetune(train + extra)
            XCTAssertEqual(r.status, 1, "\(extra): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("does not exist"), "\(extra): \(r.stderr)")
        }
    }

    func testTheHelpListsTheAugmentationOptions() throws {
        let help = try runFinetune(["train", "--help"], environment: ["COLUMNS": "100"])
        XCTAssertEqual(help.status, 0)
        for flag in ["--auto-augment <none|trivial-wide|rand-augment>", "--rand-augment-ops <N>", "--rand-augment-magnitude <M>",
                     "--random-erasing <P>", "--crop-scale <MIN,MAX>", "--crop-ratio <MIN,MAX>"] {
            XCTAssertTrue(help.stdout.contains(flag), flag)
        }
    }
}
