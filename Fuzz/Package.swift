// swift-tools-version:6.0
import PackageDescription

/// libFuzzer targets for the readers of untrusted files, built with AddressSanitizer:
/// `make fuzz` (see the Makefile). Each target is one executable, `Fuzz<Name>`, whose single
/// source file exports `LLVMFuzzerTestOneInput`; libFuzzer supplies `main`. Seed inputs live in
/// `Corpus/<name>/`.
let fuzzTargets = ["SafeTensors", "TorchCheckpoint", "ELFCheck", "PNG", "JPEG", "Manifest", "ModelFile", "RunState", "Metrics", "ClassWeights"]

let package = Package(
    name: "finetune-fuzz",
    dependencies: [.package(name: "finetune", path: "..")],
    targets: fuzzTargets.map {
        .executableTarget(name: "Fuzz\($0)", dependencies: [.product(name: "FineTuneCore", package: "finetune")],
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])])
    },
    swiftLanguageModes: [.v5]
)
