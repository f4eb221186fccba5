import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `metrics.jsonl` of a run folder: one `MetricsRecord` per line, appended as the run goes.
///
/// The log is not part of a commit; the state records its length at each commit instead
/// (`TrainingState.metricsBytes`) and a resumed run cuts it back to that length, dropping the
/// lines of the epoch that was lost. The file is opened without following a symbolic link, so
/// a tampered run folder cannot make the run write elsewhere.
struct MetricsLog {
    let url: URL

    /// Appends one line.
    func append(_ record: MetricsRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let line = try encoder.encode(record) + Data("\n".utf8)
        let fd = open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TrainingError.output("\(url.path): cannot append (\(errnoText()))") }
        defer { close(fd) }
        try line.withUnsafeBytes { bytes in
            var done = 0
            while done < bytes.count {
                let n = systemWrite(fd, bytes.baseAddress! + done, bytes.count - done)
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { throw TrainingError.output("\(url.path): cannot append (\(errnoText()))") }
                done += n
            }
        }
    }

    /// The length of the file in bytes (0 when there is none).
    var size: Int {
        var info = stat()
        return lstat(url.path, &info) == 0 ? Int(info.st_size) : 0
    }

    /// Cuts the file back to `length` bytes when it is longer.
    func truncate(to length: Int) throws {
        guard size > length else { return }
        let fd = open(url.path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0, ftruncate(fd, off_t(length)) == 0 else {
            if fd >= 0 { close(fd) }
            throw TrainingError.output("\(url.path): cannot cut back to the saved epoch (\(errnoText()))")
        }
        fsync(fd)
        close(fd)
    }

    /// The records of the file; a line that does not parse or holds a value out of range is
    /// left out and described in `skipped` ("metrics.jsonl line 7: ...").
    func read() -> (records: [MetricsRecord], skipped: [String]) {
        guard FileManager.default.fileExists(atPath: url.path) else { return ([], []) }
        let data: Data
        do { data = try RunFolder.readFile(url, limit: Limits.metricsBytes) } catch {
            return ([], ["\(error); the report leaves out its curves"])
        }
        return Self.records(in: data, name: url.lastPathComponent)
    }

    /// The records of the lines of `data`, checked as `read()` checks a file's; `name` stands
    /// for the file in the descriptions of the lines left out.
    static func records(in data: Data, name: String) -> (records: [MetricsRecord], skipped: [String]) {
        var records: [MetricsRecord] = [], skipped: [String] = []
        for (number, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated()
        where !line.isEmpty {
            let place = "\(name) line \(number + 1)"
            guard let record = try? JSONDecoder().decode(MetricsRecord.self, from: Data(line)) else {
                skipped.append("\(place): not a metrics record; left out")
                continue
            }
            if let problem = record.problem {
                skipped.append("\(place): \(problem); left out")
            } else {
                records.append(record)
            }
        }
        return (records, skipped)
    }
}

#if canImport(Glibc)
private let systemWrite = Glibc.write
#else
private let systemWrite = Darwin.write
#endif
