// Loading a built shared library into this process and looking up its C functions.
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A shared library opened with `dlopen(RTLD_NOW | RTLD_LOCAL)`, closed when the last reference goes.
///
/// Function pointers obtained from `symbol(_:as:)` are valid only while the library is alive, and Swift
/// may release an object right after its last use, before a pointer taken from it is called. Call
/// through `withSymbol(_:as:_:)`, or hold the library in `withExtendedLifetime` or in a stored property
/// of the object that makes the calls.
public final class SharedLibrary: @unchecked Sendable {
  // NOTE: @unchecked Sendable is sound: the handle is immutable after init and dlsym/dlclose are thread-safe.
  private let handle: UnsafeMutableRawPointer
  /// The file the library was loaded from.
  public let url: URL

  /// Loads the library, resolving every symbol now so a missing dependency fails here, not mid-call.
  /// - Throws: `HarnessError.libraryLoadFailed` with the path and dlerror()'s message.
  public init(_ url: URL) throws {
    self.url = url
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw HarnessError.libraryLoadFailed(path: url.path, reason: "no such file")
    }
    _ = dlerror()  // clear any stale error
    guard let handle = dlopen(url.path, RTLD_NOW | RTLD_LOCAL) else {
      throw HarnessError.libraryLoadFailed(path: url.path, reason: Self.lastError() ?? "dlopen failed")
    }
    self.handle = handle
    Self.pinThreadingRuntimes()
  }

  /// Runtimes that keep worker threads alive after a parallel region returns.
  static let threadingRuntimes = ["libgomp.so.1", "libomp.so.5", "libomp.so", "libiomp5.so", "libopenblas.so.0"]

  /// Marks every already-loaded threading runtime as never to be unloaded.
  ///
  /// NOTE: OpenMP worker threads idle inside the runtime (libgomp, libomp) after a region ends. If
  /// dlclose of the last library using it unmapped the runtime, those threads would jump into unmapped
  /// code and crash the process. `RTLD_NOLOAD | RTLD_NODELETE` loads nothing new; it only pins a runtime
  /// that is already there, so closing a model library stays safe.
  static func pinThreadingRuntimes() {
    for name in threadingRuntimes {
      if let runtime = dlopen(name, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) {
        dlclose(runtime)  // drops only the reference NOLOAD just took; NODELETE stays
      }
    }
    _ = dlerror()
  }

  deinit {
    dlclose(handle)
  }

  /// The C function `name`, as the `@convention(c)` function type `type`, e.g.
  /// `try library.symbol("axpy", as: (@convention(c) (Int32, Float, UnsafePointer<Float>?,
  /// UnsafeMutablePointer<Float>?) -> Void).self)`.
  ///
  /// The caller vouches that `type` matches the C declaration; a pointer-sized type is required.
  /// - Throws: `HarnessError.symbolNotFound` naming the library and the symbol.
  public func symbol<T>(_ name: String, as type: T.Type) throws -> T {
    guard MemoryLayout<T>.size == MemoryLayout<UnsafeRawPointer>.size else {
      throw HarnessError.symbolNotFound(
        library: url.path, symbol: name,
        reason: "\(T.self) is not a @convention(c) function type (size \(MemoryLayout<T>.size))")
    }
    return unsafeBitCast(try address(of: name), to: T.self)
  }

  /// Calls `body` with the C function `name` while this library is guaranteed to stay loaded.
  /// - Throws: `HarnessError.symbolNotFound`, or what `body` throws.
  public func withSymbol<T, Result>(
    _ name: String, as type: T.Type, _ body: (T) throws -> Result
  ) throws -> Result {
    let function = try symbol(name, as: type)
    return try withExtendedLifetime(self) { try body(function) }
  }

  /// The raw address of a symbol (a function or a global).
  /// - Throws: `HarnessError.symbolNotFound` naming the library and the symbol.
  public func address(of name: String) throws -> UnsafeMutableRawPointer {
    _ = dlerror()
    guard let pointer = dlsym(handle, name) else {
      throw HarnessError.symbolNotFound(
        library: url.path, symbol: name, reason: Self.lastError() ?? "dlsym returned NULL")
    }
    return pointer
  }

  private static func lastError() -> String? {
    guard let message = dlerror() else { return nil }
    return String(cString: message)
  }
}
