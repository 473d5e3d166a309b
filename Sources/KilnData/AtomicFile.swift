// Crash-safe file replacement: write a temporary file beside the target, fsync it, rename it over.

import Foundation

/// Writes files so that a reader (or a crash) never sees a half-written file: the bytes go to a
/// temporary file in the same directory, which is flushed to disk and then renamed over the target.
public enum AtomicFile {
  /// Replaces the file at `path` with `bytes`, atomically. An existing file keeps its permissions;
  /// a new one gets 0644 (minus the umask). On failure the target is untouched and no temporary file is left.
  public static func write(_ bytes: [UInt8], to path: String) throws {
    let directory = (path as NSString).deletingLastPathComponent
    let base = (path as NSString).lastPathComponent
    guard !base.isEmpty else { throw DataError(path: path, "cannot write: the path names no file") }
    let dirPath = directory.isEmpty ? "." : directory
    let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    let temporary = (dirPath as NSString).appendingPathComponent(".\(base).\(getpid()).\(suffix).tmp")

    var mode: mode_t = 0o644
    var existing = stat()
    if stat(path, &existing) == 0 { mode = existing.st_mode & 0o7777 }

    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, mode)
    guard fd >= 0 else { throw failure(path, "cannot create a temporary file in \(dirPath)") }
    var committed = false
    defer {
      if !committed { unlink(temporary) }
    }
    do {
      defer { close(fd) }
      if fchmod(fd, mode) != 0 { throw failure(path, "cannot set permissions") }
      try writeAll(fd, bytes, path: path)
      if fsync(fd) != 0 { throw failure(path, "cannot flush to disk") }
    }
    if rename(temporary, path) != 0 { throw failure(path, "cannot rename the temporary file over it") }
    committed = true
    // Make the rename itself durable; a failure here leaves a complete file, so it is not an error.
    let dirFD = open(dirPath, O_RDONLY)
    if dirFD >= 0 {
      _ = fsync(dirFD)
      close(dirFD)
    }
  }

  /// Replaces the file at `path` with `data`, atomically.
  public static func write(_ data: Data, to path: String) throws {
    try write([UInt8](data), to: path)
  }

  private static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
    var written = 0
    while written < bytes.count {
      let n = bytes.withUnsafeBytes { buffer in
        Foundation.write(fd, buffer.baseAddress! + written, buffer.count - written)
      }
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else { throw failure(path, "cannot write") }
      written += n
    }
  }

  private static func failure(_ path: String, _ what: String) -> DataError {
    DataError(path: path, "\(what): \(String(cString: strerror(errno)))")
  }
}
