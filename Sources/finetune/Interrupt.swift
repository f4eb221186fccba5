import Foundation

/// Ctrl-C (SIGINT) and SIGTERM during training: the first asks the run to stop after the current
/// step, save and exit with status 128 + the signal (130, 143); the second exits at once, which
/// loses nothing saved (the run folder stays at its last commit).
enum Interrupt {
    /// The signal received first, or 0.
    nonisolated(unsafe) static var received: Int32 = 0

    static var requested: Bool { received != 0 }
    static var exitStatus: Int32 { 128 + received }

    static func install() {
        received = 0
        _ = notice.utf8CodeUnitCount  // initialised before a handler can read it
        for number in [SIGINT, SIGTERM] {
            signal(number) { number in
                if Interrupt.received != 0 { _exit(128 + number) }
                Interrupt.received = number
                // Only async-signal-safe calls here: write(2) of a static string.
                Interrupt.notice.withUTF8Buffer { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
            }
        }
    }

    static let notice: StaticString = "\nstopping after this step to save the run (press Ctrl-C again to quit at once: the run folder keeps its last save)\n"
}
