import Foundation
import XCTest
import FineTuneCore

/// Runs the built `finetune` executable in a fresh temporary folder, and compiles C plugins there.
class CLITestCase: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("finetune-plugins-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    func compileExample(_ output: String, defines: [String] = []) throws {
        let source = Self.repositoryRoot.appendingPathComponent("plugins/example/tiny_cnn.c").path
        try cc(output, arguments: defines.map { "-D" + $0 } + [source])
    }

    func compileC(_ output: String, source: String) throws {
        let file = dir.appendingPathComponent(output + ".c")
        try source.write(to: file, atomically: true, encoding: .utf8)
        try cc(output, arguments: [file.path])
    }

    func cc(_ output: String, arguments: [String]) throws {
        let include = Self.repositoryRoot.appendingPathComponent("Sources/PluginABI/include").path
        let r = try run("/usr/bin/env", ["cc", "-shared", "-fPIC", "-I", include, "-o", dir.appendingPathComponent(output).path] + arguments)
        XCTAssertEqual(r.status, 0, "cc failed: \(r.stderr)")
    }

    /// The stderr line that names `file` in `folder`, if any.
    func line(_ r: (status: Int32, stdout: String, stderr: String), _ folder: URL, _ file: String) -> String? {
        r.stderr.split(separator: "\n").map(String.init).first { $0.contains(folder.appendingPathComponent(file).path + ":") }
    }

    func runFinetune(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        let exe = URL(fileURLWithPath: PluginCatalog.executableDir!).appendingPathComponent("finetune").path
        return try run(exe, arguments, environment: environment)
    }

    func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.currentDirectoryURL = dir
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "FINETUNE_PLUGIN_PATH")
        env["XDG_DATA_HOME"] = dir.appendingPathComponent("xdg-data").path  // no per-user plugins but the test's
        env.merge(environment) { $1 }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
