// swift-tools-version:6.0
// An app that classifies images with a model trained by `finetune`, using the library.
import PackageDescription

// Where finetune's git repository is: the address you clone it from. Without
// FINETUNE_PACKAGE_URL, the repository this example sits in (it needs a release tag);
// scripts/example.sh passes a tagged clone of the checkout.
let repository = Context.environment["FINETUNE_PACKAGE_URL"]
    ?? "file://" + Context.packageDirectory.split(separator: "/").dropLast(2).map { "/" + $0 }.joined()
// SwiftPM names a dependency by the last part of its address, without ".git" ("finetune" once
// published; a clone's folder name here).
let name = repository.split(separator: "/").last.map { $0.hasSuffix(".git") ? String($0.dropLast(4)) : String($0) }!

let package = Package(
    name: "ClassifyImages",
    dependencies: [
        .package(url: repository, from: "0.4.0"),
    ],
    targets: [
        .executableTarget(
            name: "ClassifyImages",
            dependencies: [
                .product(name: "FineTuneCore", package: name),
                // The backbones this app's models use: each product is a plugin library that
                // SwiftPM builds next to the executable, where the library finds it.
                .product(name: "ResNet", package: name),
            ]
        ),
    ]
)
