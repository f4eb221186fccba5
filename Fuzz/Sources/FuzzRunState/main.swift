@testable import FineTuneCore
import Foundation

/// The run state read back on `--resume`: parsing and every check of `training-state.json`,
/// alone and against the plan its options make (two layer groups, 4 batches per epoch).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    guard let state = try? TrainingState(data: data, file: "training-state.json") else { return 0 }
    let stages = Stage.plan(state.options, groups: ["features", "head"])
    _ = try? state.checkProgress(stageEpochs: stages.map(\.epochs), batches: 4, file: "training-state.json")
    return 0
}
