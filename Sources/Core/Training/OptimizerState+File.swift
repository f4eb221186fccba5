import Foundation

/// `optimizer.safetensors` in a run folder: the optimiser's buffers as Float32 tensors named
/// `PARAMETER/BUFFER` (`layer4.1.conv2.weight/exp_avg`), in the kernel layout of `Model.Slot`,
/// and in `__metadata__` the optimiser's kind, its step count, each parameter's own step count
/// (a JSON object) and the number of the commit it belongs to (`TrainingState.generation`).
extension OptimizerState {
    /// The file's tensors and metadata.
    func safeTensors(generation: Int) throws -> SafeTensorsFile {
        var tensors: [NamedTensor] = []
        for name in parameters.keys.sorted() {
            for (buffer, values) in parameters[name]!.buffers.sorted(by: { $0.key < $1.key }) {
                tensors.append(NamedTensor(name: "\(name)/\(buffer)", shape: [values.count], values: values))
            }
        }
        let steps = try JSONEncoder().encode(parameters.mapValues(\.step))
        return SafeTensorsFile(tensors: tensors, metadata: [
            "kind": kind, "step_count": String(stepCount), "steps": String(decoding: steps, as: UTF8.self),
            "generation": String(generation),
        ])
    }

    /// Writes the state atomically.
    func write(to url: URL, generation: Int) throws {
        let file = try safeTensors(generation: generation)
        try SafeTensorsWriter.write(file.tensors, metadata: file.metadata, to: url)
    }

    /// Reads `url` and checks that it belongs to commit `generation` and that its counts are in
    /// range (`Optimizer.load` then checks every name and size against the model).
    init(contentsOf url: URL, generation: Int) throws {
        try self.init(SafeTensorsFile(contentsOf: url), generation: generation, file: url.path)
    }

    init(_ file: SafeTensorsFile, generation: Int, file name: String) throws {
        func bad(_ reason: String) -> TrainingError { .resume("\(name): \(reason)") }
        let m = file.metadata
        guard let saved = m["generation"].flatMap({ Int($0) }) else { throw bad("generation is missing") }
        guard saved == generation else {
            throw bad("was saved by commit \(saved), training-state.json by commit \(generation): the folder mixes "
                      + "files of two saves (copy a run folder whole)")
        }
        guard let kind = m["kind"], TrainingOptions.OptimizerKind(rawValue: kind) != nil else {
            throw bad("kind must be adam, adamw or sgd")
        }
        guard let stepCount = m["step_count"].flatMap({ Int($0) }), stepCount >= 0 else {
            throw bad("step_count must be a number >= 0")
        }
        guard let stepsText = m["steps"],
              let steps = try? JSONDecoder().decode([String: Int].self, from: Data(stepsText.utf8)) else {
            throw bad("steps must be a JSON object of parameter step counts")
        }
        var parameters: [String: Parameter] = [:]
        for (parameter, step) in steps {
            guard (0...stepCount).contains(step) else { throw bad("steps of \(parameter) must be from 0 to step_count (\(stepCount))") }
            parameters[parameter] = Parameter(step: step, buffers: [:])
        }
        for tensor in file.tensors {
            guard let slash = tensor.name.lastIndex(of: "/"), parameters[String(tensor.name[..<slash])] != nil else {
                throw bad("tensor \(tensor.name) is not PARAMETER/BUFFER of a parameter in steps")
            }
            let buffer = String(tensor.name[tensor.name.index(after: slash)...])
            parameters[String(tensor.name[..<slash])]!.buffers[buffer] = tensor.values
        }
        self.init(kind: kind, stepCount: stepCount, parameters: parameters)
    }
}
