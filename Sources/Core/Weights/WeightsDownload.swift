import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Where a download stands, for a progress bar.
public struct DownloadProgress: Sendable {
    public var url: String
    /// Bytes of the file so far, with those a resumed download already had.
    public var received: Int
    /// The whole file's size, when the server gives it.
    public var total: Int?
    /// Bytes per second over this transfer, and seconds since it started.
    public var bytesPerSecond: Double
    public var elapsed: Double

    /// Seconds left at the current rate; infinity while unknown.
    public var eta: Double {
        guard let total, bytesPerSecond > 0 else { return .infinity }
        return Double(max(total - received, 0)) / bytesPerSecond
    }
}

/// Downloads one file over HTTP or HTTPS with the platform's client (URLSession; on Linux
/// FoundationNetworking, over libcurl), resumably and checked, into its place.
///
/// The bytes go to `NAME.partial` beside the destination. A partial file from an earlier
/// attempt is continued with a `Range` request: a 206 answer appends at the right offset, a
/// server that ignores the range (200) starts over. A connection cut after some bytes arrived is
/// retried from where it stopped. Every size the server states or sends is checked against
/// `limit` (with overflow checks) before it is written. The finished file's SHA-256 is handed to
/// `verify`; only then is the file flushed and renamed into place. A partial file the server
/// cannot continue (416) is started over. A file that fails `verify` or a size check is deleted;
/// one cut off, or stopped by `shouldStop` (polled as bytes arrive and every 0.2 s), is kept
/// for the next attempt. Folders this download created are removed again when it fails and
/// leaves them empty.
///
/// Proxies: on Linux libcurl itself reads `http_proxy`, `https_proxy`/`HTTPS_PROXY`,
/// `all_proxy` and `no_proxy` (FoundationNetworking ignores `connectionProxyDictionary` there);
/// on Apple platforms the system's proxy settings apply.
enum WeightsDownload {
    /// Attempts after a connection cut that still brought bytes.
    static let retries = 4

    static func fetch(_ url: URL, to destination: URL, limit: Int,
                      verify: (_ digest: String, _ file: String) throws -> Void,
                      progress: @escaping (DownloadProgress) -> Void, shouldStop: @escaping () -> Bool) throws {
        let folder = destination.deletingLastPathComponent()
        let created = try makeFolders(folder)
        let partial = folder.appendingPathComponent(destination.lastPathComponent + ".partial")
        do {
            var attempt = 0
            var digest: String
            while true {
                let transfer = try Transfer(url: url, partial: partial, limit: limit, progress: progress, shouldStop: shouldStop)
                do {
                    digest = try transfer.run()
                    break
                } catch let cut as Transfer.Cut {
                    attempt += 1
                    guard cut.worthRetrying, attempt <= retries else {
                        throw WeightsError.unreachable(url: url.absoluteString, reason: cut.reason,
                                                       fileName: destination.lastPathComponent, folder: folder.path)
                    }
                }
            }
            do { try verify(digest, partial.path) } catch {
                unlink(partial.path)
                throw error
            }
            guard rename(partial.path, destination.path) == 0 else {
                throw WeightsError.cache(folder: folder.path, reason: "cannot rename \(partial.lastPathComponent) into place: \(errnoText())")
            }
            AtomicFile.syncFolder(folder.path)
        } catch {
            if let status = try? RegularFile.status(partial.path), status.st_size == 0 { unlink(partial.path) }
            for folder in created.reversed() { rmdir(folder.path) }  // only when empty
            throw error
        }
    }

    /// Creates `folder` and its missing parents; returns those it created, outermost first.
    static func makeFolders(_ folder: URL) throws -> [URL] {
        var missing: [URL] = []
        var f = folder.standardizedFileURL
        while f.path != "/", !FileManager.default.fileExists(atPath: f.path) {
            missing.insert(f, at: 0)
            f = f.deletingLastPathComponent()
        }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            for f in missing.reversed() { rmdir(f.path) }
            throw WeightsError.cache(folder: folder.path, reason: "cannot create it")
        }
        return missing
    }
}

extension WeightsDownload {
    /// One HTTP request and its answer, appended to the partial file. Its state is touched on
    /// the session's delegate queue only, until `run` has seen the task complete.
    final class Transfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
        /// The transfer ended without the whole file; `worthRetrying` when another request can
        /// get further (this one wrote bytes, or the partial file was discarded to start over).
        struct Cut: Error {
            var reason: String
            var worthRetrying: Bool
        }

        let url: URL
        let partial: URL
        let limit: Int
        let progress: (DownloadProgress) -> Void
        let shouldStop: () -> Bool
        let fd: Int32
        /// Bytes in the partial file, and their hash so far.
        var offset: Int
        var hasher = SHA256()
        var total: Int?
        var received = 0
        var failure: Error?
        let started = Date()
        let done = DispatchSemaphore(value: 0)

        /// Opens the partial file (an earlier attempt's is hashed, to be continued; one over the
        /// limit, or not a regular file, is discarded).
        init(url: URL, partial: URL, limit: Int, progress: @escaping (DownloadProgress) -> Void,
             shouldStop: @escaping () -> Bool) throws {
            self.url = url
            self.partial = partial
            self.limit = limit
            self.progress = progress
            self.shouldStop = shouldStop
            if let old = try? RegularFile.status(partial.path), !RegularFile.isRegular(old) || Int(old.st_size) > limit {
                unlink(partial.path)
            }
            fd = open(partial.path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
            guard fd >= 0 else {
                throw WeightsError.cache(folder: partial.deletingLastPathComponent().path, reason: "cannot open \(partial.lastPathComponent): \(errnoText())")
            }
            offset = 0
            super.init()
            guard let had = hasher.update(readingAll: fd) else {  // deinit closes fd
                throw WeightsError.cache(folder: partial.deletingLastPathComponent().path, reason: "cannot read \(partial.lastPathComponent): \(errnoText())")
            }
            offset = had
        }

        deinit { close(fd) }

        /// Runs the request to its end; the SHA-256 of the whole partial file.
        func run() throws -> String {
            // Not `.ephemeral`: FoundationNetworking's makes a URLCache of its own, which creates a
            // folder under $XDG_CACHE_HOME; `.default` uses `URLCache.shared` (the CLI sets one
            // without a disk folder), and nothing here is cached.
            let configuration = URLSessionConfiguration.default
            configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
            configuration.urlCache = nil
            configuration.httpCookieStorage = nil
            configuration.httpShouldSetCookies = false
            configuration.timeoutIntervalForRequest = 60  // without a byte (libcurl's timer restarts on data)
            configuration.timeoutIntervalForResource = 7 * 24 * 3600
            let queue = OperationQueue()
            queue.maxConcurrentOperationCount = 1
            let session = URLSession(configuration: configuration, delegate: self, delegateQueue: queue)
            var request = URLRequest(url: url)
            request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
            request.setValue("finetune/\(FineTuneVersion.release)", forHTTPHeaderField: "User-Agent")
            if offset > 0 { request.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range") }
            let task = session.dataTask(with: request)
            task.resume()
            while done.wait(timeout: .now() + .milliseconds(200)) == .timedOut {
                if shouldStop() { queue.addOperation { self.stop(task) } }
            }
            session.finishTasksAndInvalidate()
            if let failure { throw failure }
            var h = hasher
            return SHA256.hex(h.finalize())
        }

        func stop(_ task: URLSessionTask) {
            fail(WeightsError.interrupted(url: url.absoluteString, partial: partial.path), task)
        }

        func fail(_ error: Error, _ task: URLSessionTask) {
            guard failure == nil else { return }
            failure = error
            task.cancel()
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
            completionHandler(.allow)
            guard let http = response as? HTTPURLResponse else {
                return fail(WeightsError.httpStatus(url: url.absoluteString, status: 0), dataTask)
            }
            let length = http.expectedContentLength >= 0 && http.expectedContentLength <= Int64(Int.max)
                ? Int(http.expectedContentLength) : nil
            switch http.statusCode {
            case 206 where offset > 0:
                // Content-Range: bytes START-END/TOTAL
                let range = header(http, "Content-Range") ?? ""
                let numbers = range.split(whereSeparator: { !$0.isNumber }).map { Int($0) }
                guard range.hasPrefix("bytes "), numbers.count == 3, let start = numbers[0], let end = numbers[1], let whole = numbers[2],
                      start == offset, end >= start, end < whole else {
                    unlink(partial.path)
                    return fail(WeightsError.badSize(url: url.absoluteString, reason: "asked for the bytes from \(offset) on, the server "
                                                     + "sent '\(range.prefix(80))'; the partial file was deleted, run again to start over"), dataTask)
                }
                total = whole
            case 200:
                if offset > 0 {  // the server ignored the range: start over
                    guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else {
                        return fail(WeightsError.cache(folder: partial.deletingLastPathComponent().path, reason: errnoText()), dataTask)
                    }
                    offset = 0
                    hasher = SHA256()
                }
                total = length
            case 416 where offset > 0:  // a partial file the server cannot continue: start over
                unlink(partial.path)
                return fail(Cut(reason: "the server cannot continue the partial file", worthRetrying: true), dataTask)
            default:
                return fail(WeightsError.httpStatus(url: url.absoluteString, status: http.statusCode), dataTask)
            }
            if let total, total > limit {
                unlink(partial.path)
                fail(WeightsError.badSize(url: url.absoluteString, reason: "the server announces \(total) bytes, over the limit of \(limit)"), dataTask)
            }
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            guard failure == nil else { return }
            if shouldStop() { return stop(dataTask) }
            guard let end = CheckedSize.sum(offset, data.count), end <= min(total ?? limit, limit) else {
                unlink(partial.path)
                let bound = total.map { "the \($0) bytes it announced" } ?? "the limit of \(limit) bytes"
                return fail(WeightsError.badSize(url: url.absoluteString, reason: "the server sent more than \(bound)"), dataTask)
            }
            let written = data.withUnsafeBytes { bytes -> Bool in
                var done = 0
                while done < bytes.count {
                    let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { return false }
                    done += n
                }
                return true
            }
            guard written else {
                return fail(WeightsError.cache(folder: partial.deletingLastPathComponent().path, reason: "cannot write: \(errnoText())"), dataTask)
            }
            hasher.update(data)
            offset = end
            received += data.count
            let elapsed = Date().timeIntervalSince(started)
            progress(DownloadProgress(url: url.absoluteString, received: offset, total: total,
                                      bytesPerSecond: elapsed > 0 ? Double(received) / elapsed : 0, elapsed: elapsed))
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
            defer { done.signal() }
            guard failure == nil else { return }
            if let error {
                failure = Cut(reason: Self.reason(error), worthRetrying: received > 0)
            } else if let total, offset < total {
                failure = Cut(reason: "the connection ended at byte \(offset) of \(total)", worthRetrying: received > 0)
            } else if fsync(fd) != 0 {
                failure = WeightsError.cache(folder: partial.deletingLastPathComponent().path, reason: "cannot flush to disk: \(errnoText())")
            }
        }

        /// A header's value, its name matched in any case.
        func header(_ response: HTTPURLResponse, _ name: String) -> String? {
            response.allHeaderFields.first { ($0.key as? String)?.lowercased() == name.lowercased() }?.value as? String
        }

        /// A transport error in words.
        static func reason(_ error: Error) -> String {
            switch (error as? URLError)?.code {
            case .cannotConnectToHost?: return "cannot connect to the server"
            case .cannotFindHost?, .dnsLookupFailed?: return "no such host"
            case .notConnectedToInternet?: return "not connected to a network"
            case .timedOut?: return "timed out"
            case .networkConnectionLost?: return "the connection was cut"
            case .secureConnectionFailed?, .serverCertificateUntrusted?, .serverCertificateHasBadDate?,
                 .serverCertificateNotYetValid?, .serverCertificateHasUnknownRoot?: return "the TLS connection failed"
            default: return error.localizedDescription
            }
        }
    }
}
