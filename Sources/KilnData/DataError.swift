// The error every reader and writer of KilnData throws, and whole-file reading with errno messages.

import Foundation

/// A problem with a data file: which file, which tensor (when one is involved), and what was expected.
public struct DataError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The file being read or written.
  public var path: String
  /// The tensor the problem concerns, when there is one.
  public var tensor: String?
  /// What is wrong, including what was expected and what was found.
  public var message: String

  /// Creates an error about `path` (and `tensor`, if given).
  public init(path: String, tensor: String? = nil, _ message: String) {
    self.path = path
    self.tensor = tensor
    self.message = message
  }

  /// `path: tensor 'name': message`.
  public var description: String {
    var s = path
    if let tensor { s += ": tensor '\(tensor)'" }
    return s + ": " + message
  }
}

/// Reading whole files into memory, with the system's reason when that fails.
enum FileBytes {
  /// The complete contents of the file at `path`.
  static func read(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw DataError(path: path, "cannot open: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      throw DataError(path: path, "cannot stat: \(String(cString: strerror(errno)))")
    }
    guard (info.st_mode & S_IFMT) == S_IFREG else { throw DataError(path: path, "not a regular file") }
    var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
    var filled = 0
    while filled < bytes.count {
      let n = bytes.withUnsafeMutableBytes { buffer in
        Foundation.read(fd, buffer.baseAddress! + filled, buffer.count - filled)
      }
      if n < 0 && errno == EINTR { continue }
      guard n >= 0 else { throw DataError(path: path, "cannot read: \(String(cString: strerror(errno)))") }
      if n == 0 { break }  // The file shrank while being read: keep what is there.
      filled += n
    }
    if filled < bytes.count { bytes.removeSubrange(filled...) }
    return bytes
  }

  /// Whether a regular file or directory exists at `path`.
  static func exists(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0
  }
}
