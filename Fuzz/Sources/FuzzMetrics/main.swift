@testable import FineTuneCore
import Foundation

/// `metrics.jsonl` read back on `--resume`: every line parsed and checked, then the report
/// drawn from the records that pass (its charts, the learning rate at every step, the epoch table).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let (records, _) = MetricsLog.records(in: Data(bytes: start, count: count), name: "metrics.jsonl")
    _ = TrainingReport(title: "fuzz", records: records).html()
    return 0
}
