import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A small HTTP/1.1 server on 127.0.0.1 for the download tests: serves files the tests make
/// (GET, with `Range: bytes=N-` answered by 206 unless told to ignore ranges), one request per
/// connection, each connection on a thread of its own, and records every request. It can misbehave on purpose: cut a
/// connection partway through a body, announce a size it does not send, answer with a status.
final class LoopbackHTTPServer: @unchecked Sendable {
    /// How the server answers one path.
    struct Route {
        var body: Data
        /// Answer every request with 200 and the whole body, as a server without range support.
        var ignoresRange = false
        /// Close the connection after this many body bytes, on the first `cuts` requests.
        var cutAfter: Int?
        var cuts = 1
        /// A status other than 200/206 (the body is sent as it is).
        var status: Int?
        /// The Content-Length to announce instead of the real one; nil leaves it out.
        var contentLength: Int??
    }

    /// What a client asked.
    struct Request {
        var line: String
        var headers: [String: String]
        var target: String { line.split(separator: " ").dropFirst().first.map(String.init) ?? "" }
    }

    let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var routes: [String: Route] = [:]
    private var served: [String: Int] = [:]
    private var recorded: [Request] = []
    private var clients: Set<Int32> = []
    private let stopped = DispatchSemaphore(value: 0)

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    func serve(_ path: String, _ route: Route) {
        lock.withLock { routes[path] = route }
    }

    var requests: [Request] { lock.withLock { recorded } }

    /// Stops accepting, ends the open connections and waits for the accepting thread to end.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        lock.withLock { for client in clients { shutdown(client, Int32(SHUT_RDWR)) } }
        stopped.wait()
        close(listener)
    }

    private func acceptLoop() {
        defer { stopped.signal() }
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            lock.withLock { _ = clients.insert(client) }
            Thread.detachNewThread { [self] in
                handle(client)
                lock.withLock { _ = clients.remove(client) }
                close(client)
            }
        }
    }

    /// Answers one request on the connection.
    private func handle(_ client: Int32) {
        guard let request = readRequest(client) else { return }
        lock.lock()
        recorded.append(request)
        // A proxy gets the whole URL as the target: serve its path.
        var path = request.target
        if let url = URL(string: path), url.host != nil { path = url.path }
        let route = routes[path]
        let count = served[path, default: 0]
        served[path] = count + 1
        lock.unlock()
        guard let route else { return send(client, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n") }
        var status = route.status ?? 200
        var body = route.body
        var extra = ""
        if route.status == nil, !route.ignoresRange, let range = request.headers["range"], range.hasPrefix("bytes="),
           let start = Int(range.dropFirst(6).prefix { $0.isNumber }) {
            if start >= route.body.count {
                return send(client, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\n\r\n")
            }
            status = 206
            body = route.body.subdata(in: start..<route.body.count)
            extra = "Content-Range: bytes \(start)-\(route.body.count - 1)/\(route.body.count)\r\n"
        }
        let length = route.contentLength ?? body.count
        send(client, "HTTP/1.1 \(status) \(status == 206 ? "Partial Content" : status == 200 ? "OK" : "Error")\r\n"
             + (length.map { "Content-Length: \($0)\r\n" } ?? "") + extra + "Connection: close\r\n\r\n")
        send(client, route.cutAfter.map { count < route.cuts ? body.prefix($0) : body } ?? body)
    }

    /// The request on the connection (headers only: the tests send GETs), or nil when it ends first.
    private func readRequest(_ client: Int32) -> Request? {
        var buffer = Data()
        let end = Data("\r\n\r\n".utf8)
        while buffer.range(of: end) == nil {
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = recv(client, &chunk, chunk.count, 0)
            guard n > 0 else { return nil }
            buffer.append(contentsOf: chunk[..<n])
        }
        let range = buffer.range(of: end)!
        let head = String(decoding: buffer[..<range.lowerBound], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Request(line: lines[0], headers: headers)
    }

    private func send(_ client: Int32, _ text: String) { send(client, Data(text.utf8)) }

    private func send(_ client: Int32, _ data: Data) {
        data.withUnsafeBytes { bytes in
            var done = 0
            while done < bytes.count {
                let n = Glibc.send(client, bytes.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return }
                done += n
            }
        }
    }
}
