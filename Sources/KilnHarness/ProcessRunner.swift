// Running a program to completion with Foundation's Process and capturing its output.
import Foundation

/// What a finished program did: its exit status (or signal) and everything it printed.
public struct ProcessResult: Sendable, Equatable {
  /// The exit status, or the signal number when `signaled`.
  public var status: Int32
  /// Whether the program was killed by a signal rather than exiting.
  public var signaled: Bool
  /// Everything written to standard output, decoded as UTF-8.
  public var stdout: String
  /// Everything written to standard error, decoded as UTF-8.
  public var stderr: String

  /// Whether the program exited normally with status 0.
  public var succeeded: Bool { status == 0 && !signaled }
}

/// Runs an executable (absolute path, or a name looked up on `PATH`) and waits for it.
///
/// Output goes to temporary files rather than pipes, so a program printing megabytes on both streams
/// can never deadlock against a reader that drains one pipe at a time.
/// - Parameter environment: the child's whole environment; nil inherits this process's.
public func runProcess(
  _ program: String, arguments: [String] = [], environment: [String: String]? = nil,
  currentDirectory: URL? = nil
) throws -> ProcessResult {
  let searchPath = (environment ?? ProcessInfo.processInfo.environment)["PATH"]
  guard let executable = resolveExecutable(program, searchPath: searchPath) else {
    throw HarnessError.launchFailed(program: program, reason: "no such executable file")
  }
  let scratch = FileManager.default.temporaryDirectory
    .appendingPathComponent("kiln-proc-\(UUID().uuidString)")
  do {
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
  } catch {
    throw HarnessError.fileSystem(path: scratch.path, reason: "cannot create a temporary directory (\(error))")
  }
  defer { try? FileManager.default.removeItem(at: scratch) }
  let outURL = scratch.appendingPathComponent("stdout")
  let errURL = scratch.appendingPathComponent("stderr")
  guard FileManager.default.createFile(atPath: outURL.path, contents: nil),
    FileManager.default.createFile(atPath: errURL.path, contents: nil),
    let outHandle = try? FileHandle(forWritingTo: outURL),
    let errHandle = try? FileHandle(forWritingTo: errURL)
  else {
    throw HarnessError.fileSystem(path: scratch.path, reason: "cannot create output capture files")
  }

  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = arguments
  if let environment { process.environment = environment }
  if let currentDirectory { process.currentDirectoryURL = currentDirectory }
  process.standardInput = FileHandle.nullDevice
  process.standardOutput = outHandle
  process.standardError = errHandle
  do {
    try process.run()
  } catch {
    try? outHandle.close()
    try? errHandle.close()
    throw HarnessError.launchFailed(program: executable, reason: "\(error)")
  }
  process.waitUntilExit()
  try? outHandle.close()
  try? errHandle.close()
  let out = (try? Data(contentsOf: outURL)) ?? Data()
  let err = (try? Data(contentsOf: errURL)) ?? Data()
  return ProcessResult(
    status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
    stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
}

/// Runs a built executable with arguments: the way to run sanitizer builds, which cannot be dlopen'd
/// into this (uninstrumented) process.
public func runExecutable(
  _ executable: URL, arguments: [String] = [], environment: [String: String]? = nil
) throws -> ProcessResult {
  try runProcess(executable.path, arguments: arguments, environment: environment)
}

/// The absolute path of an executable: `program` itself when it contains a slash, else the first match
/// on `searchPath` (colon-separated). Nil when there is no such executable file.
func resolveExecutable(_ program: String, searchPath: String?) -> String? {
  let fm = FileManager.default
  func isExecutableFile(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    return fm.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
      && fm.isExecutableFile(atPath: path)
  }
  if program.isEmpty { return nil }
  if program.contains("/") {
    let absolute = URL(fileURLWithPath: program).standardizedFileURL.path
    return isExecutableFile(absolute) ? absolute : nil
  }
  let directories = (searchPath ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
  for directory in directories where !directory.isEmpty {
    let candidate = "\(directory)/\(program)"
    if isExecutableFile(candidate) { return candidate }
  }
  return nil
}
