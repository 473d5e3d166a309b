// The errors of the C harness: each names the compiler, file, library or symbol involved and what to do.
import Foundation


/// Why finding a compiler, building, loading or running C code failed.
public enum HarnessError: Error, Sendable, CustomStringConvertible, Equatable {
  /// No default candidate compiler could build and run an OpenMP program; `tried` lists each with its reason.
  case noOpenMPCompiler(tried: [String])
  /// The compiler named by `--cc` or `CC` is missing or cannot build OpenMP code.
  case unusableCompiler(name: String, source: String, reason: String)
  /// OpenBLAS (`cblas.h` and `-lopenblas`) could not be used with this compiler.
  case openBLASNotFound(compiler: String, reason: String)
  /// The compiler rejected a build: the full command line and its (trimmed) diagnostics.
  case compileFailed(command: String, status: Int32, diagnostics: String)
  /// The options cannot be honoured for this kind of product.
  case invalidOptions(String)
  /// A file or directory could not be read, written or created.
  case fileSystem(path: String, reason: String)
  /// A program could not be started.
  case launchFailed(program: String, reason: String)
  /// `dlopen` refused a library.
  case libraryLoadFailed(path: String, reason: String)
  /// `dlsym` did not find a symbol, or the requested Swift type is not a C function pointer.
  case symbolNotFound(library: String, symbol: String, reason: String)

  public var description: String {
    switch self {
    case .noOpenMPCompiler(let tried):
      return "no C compiler that builds OpenMP code was found (tried: \(tried.joined(separator: "; "))). "
        + "Install one: apt-get install clang libomp-dev (or gcc); or set CC / pass --cc."
    case .unusableCompiler(let name, let source, let reason):
      return "the C compiler '\(name)' given by \(source) cannot be used: \(reason). "
        + "Pass --cc or set CC to a compiler that builds OpenMP code (e.g. gcc, or clang with libomp-dev)."
    case .openBLASNotFound(let compiler, let reason):
      return "OpenBLAS cannot be used with \(compiler): \(reason). Install it: apt-get install libopenblas-dev."
    case .compileFailed(let command, let status, let diagnostics):
      return "C compilation failed (exit status \(status)): \(command)\n\(diagnostics)"
    case .invalidOptions(let message):
      return "invalid build options: \(message)"
    case .fileSystem(let path, let reason):
      return "\(path): \(reason)"
    case .launchFailed(let program, let reason):
      return "cannot run \(program): \(reason)"
    case .libraryLoadFailed(let path, let reason):
      return "cannot load the shared library \(path): \(reason)"
    case .symbolNotFound(let library, let symbol, let reason):
      return "symbol '\(symbol)' not found in \(library): \(reason)"
    }
  }
}

/// Keeps the first and last lines of long compiler output so an error stays readable.
func trimmedDiagnostics(_ text: String, maxLines: Int = 60) -> String {
  let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    .map { $0.trimmingTrailingWhitespace() }
  var start = 0
  var end = lines.count
  while start < end && lines[start].isEmpty { start += 1 }
  while end > start && lines[end - 1].isEmpty { end -= 1 }
  let kept = Array(lines[start..<end])
  guard kept.count > maxLines else { return kept.joined(separator: "\n") }
  let head = kept.prefix(maxLines / 2)
  let tail = kept.suffix(maxLines / 2)
  return (head + ["… (\(kept.count - maxLines) lines omitted) …"] + tail).joined(separator: "\n")
}

extension Substring {
  fileprivate func trimmingTrailingWhitespace() -> String {
    var s = self
    while let last = s.last, last.isWhitespace { s.removeLast() }
    return String(s)
  }
}

/// Quotes one argument for display in a shell-like command line.
func shellQuoted(_ argument: String) -> String {
  let safe = argument.allSatisfy { $0.isLetter || $0.isNumber || "-_./=,:+@%".contains($0) }
  if safe && !argument.isEmpty { return argument }
  return "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
