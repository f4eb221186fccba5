import ArgumentParser
import FineTuneCore

/// Runs a command's range checks (`InvalidOption.check`, ranges from `OptionRange` and `Limits`)
/// in its `validate()`, turning the first value out of range into a usage error that names the
/// option and what it accepts: "Error: --batch-size must be an integer from 1 to 65536".
func validateOptions(_ checks: () throws -> Void) throws {
    do { try checks() } catch let invalid as InvalidOption {
        throw ValidationError(invalid.description)
    }
}
