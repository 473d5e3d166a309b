// Writing to standard error and reporting diagnostics the way compilers do.
import ArgumentParser
import Foundation
import KilnIR

/// Writes a line to standard error.
func printError(_ message: String) {
  FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Prints every diagnostic to standard error with a count, and fails the command when any is an error.
func report(_ diagnostics: [Diagnostic]) throws {
  for d in diagnostics { printError(d.description) }
  let errors = diagnostics.filter { $0.severity == .error }.count
  if errors > 0 {
    printError("\(errors) error\(errors == 1 ? "" : "s")")
    throw ExitCode(1)
  }
}

/// Runs `body`, turning any thrown error into a message and exit code 1 instead of a crash trace.
func failingClearly<T>(_ body: () throws -> T) throws -> T {
  do {
    return try body()
  } catch let e as ExitCode {
    throw e
  } catch let e as DiagnosticError {
    try report(e.diagnostics)
    throw ExitCode(1)
  } catch {
    printError("error: \(error)")
    throw ExitCode(1)
  }
}
