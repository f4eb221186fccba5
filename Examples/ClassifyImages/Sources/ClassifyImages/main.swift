// Classifies image files with a model file from `finetune train` or `finetune import`:
//     ClassifyImages MODEL.safetensors IMAGE...
// The same code is in the README's "In a Swift app".
import FineTuneCore
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 2 else {
    print("usage: ClassifyImages MODEL.safetensors IMAGE...")
    exit(2)
}
let images = Array(arguments.dropFirst())
do {
    // Finds the backbone's plugin next to this executable (the ResNet product); an app that
    // ships plugins elsewhere passes catalog: PluginCatalog(pluginDirs: [folder]).
    let classifier = try ImageClassifier(contentsOf: URL(fileURLWithPath: arguments[0]))
    print("classes: \(classifier.classes.joined(separator: ", "))")

    // Files, in batches; an image that cannot be read gets its error, the others still run.
    var failed = false
    for result in classifier.classify(imagesAt: images, topK: 1) {
        switch result {
        case .success(let c): print("\(c.image): \(c.top[0].class) \(String(format: "%.4f", c.top[0].probability))")
        case .failure(let error): print("error: \(error)"); failed = true
        }
    }

    // Encoded images already in memory (JPEG or PNG bytes), classified from concurrent tasks:
    // the classifier is Sendable.
    let fromMemory = try await withThrowingTaskGroup(of: Classification.self) { group in
        for path in images {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            group.addTask { try classifier.classify(imageData: data, name: path, topK: 1) }
        }
        var results: [Classification] = []
        for try await result in group { results.append(result) }
        return results
    }
    print("classified in memory: \(fromMemory.count)")

    // Pixels an app decoded itself: 8-bit RGB, row after row.
    let gray = try RGBPixels(width: 64, height: 48, bytes: [UInt8](repeating: 128, count: 64 * 48 * 3))
    print("a gray picture: \(try classifier.classify(pixels: gray, topK: 1).top[0].class)")
    exit(failed ? 1 : 0)
} catch {
    print("error: \(error)")
    exit(1)
}
