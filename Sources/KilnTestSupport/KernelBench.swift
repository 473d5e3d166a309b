// Compiles many kernels into one shared library per test suite and calls them on Swift arrays.
import Foundation
import KilnCodegenC
import KilnHarness

/// One C library holding a set of kernels, each behind an exported wrapper `bench_<name>(int n, float **args)`.
/// Build one bench per suite (a C compile costs ~0.3 s; the content-hash cache makes reruns free).
public final class KernelBench: @unchecked Sendable {
  public let library: SharedLibrary
  public let kernels: [String: KernelFunction]
  /// The C source the bench compiled, for failure messages.
  public let source: String

  /// The compiler, detected once per test process.
  public static let builder: Result<CBuilder, Error> = Result { try CBuilder.detect() }

  /// Compiles `kernels` with `-Wall -Wextra -Werror`, OpenMP, and OpenBLAS when any kernel uses it.
  public init(_ kernels: [KernelFunction], options: BuildOptions? = nil) throws {
    var options = options ?? BuildOptions(warningsAsErrors: true)
    options.blas = options.blas || kernels.contains { $0.usesBLAS }
    var c = CPrinter()
    c.directive("#include <math.h>")
    c.directive("#include <stddef.h>")
    if options.blas { c.directive("#include <cblas.h>") }
    c.directive("#ifdef _OPENMP")
    c.directive("void omp_set_num_threads(int);")
    c.directive("#endif")
    c.line()
    c.function("void bench_set_threads(int threads)") { c in
      c.directive("#ifdef _OPENMP")
      c.line("omp_set_num_threads(threads);")
      c.directive("#else")
      c.line("(void)threads;")
      c.directive("#endif")
    }
    for k in kernels {
      c.text(k.definition)
      c.line()
      c.line("void bench_\(k.name)(int n, float **args);")
      c.function("void bench_\(k.name)(int n, float **args)") { c in
        let args = k.parameters.indices.map { "args[\($0)]" }
        c.line("\(k.name)(\((["n"] + args).joined(separator: ", ")));")
      }
    }
    source = c.text
    let dir = try PackagePaths.temporaryDirectory("kiln-bench")
    let file = dir.appendingPathComponent("bench.c")
    try source.write(to: file, atomically: true, encoding: .utf8)
    let build = try Self.builder.get().buildSharedLibrary(sources: [file], options: options)
    library = try SharedLibrary(build.url)
    self.kernels = Dictionary(uniqueKeysWithValues: kernels.map { ($0.name, $0) })
    try? FileManager.default.removeItem(at: dir)
  }

  /// Sets the OpenMP thread count for later calls.
  public func setThreads(_ threads: Int) throws {
    try library.withSymbol("bench_set_threads", as: (@convention(c) (Int32) -> Void).self) { $0(Int32(threads)) }
  }

  /// Runs `kernel` on batch `n`. `arguments` gives every input and parameter by parameter name
  /// (inputs hold `n ×` their per-sample size); returns every output by name. Scratch is filled with NaN
  /// first, so a kernel that reads scratch it did not write shows it.
  public func run(_ kernel: KernelFunction, n: Int, _ arguments: [String: [Float]]) throws -> [String: [Float]] {
    var buffers: [[Float]] = []
    for p in kernel.parameters {
      let count = (p.role == .input || p.role == .output) ? n * p.floats : p.floats
      switch p.role {
      case .input, .parameter:
        guard let values = arguments[p.name] else { throw BenchError("no argument '\(p.name)' for \(kernel.name)") }
        guard values.count == count else {
          throw BenchError("argument '\(p.name)' of \(kernel.name) has \(values.count) values, needs \(count)")
        }
        buffers.append(values)
      case .output: buffers.append([Float](repeating: .nan, count: count))
      case .scratch: buffers.append([Float](repeating: .nan, count: count))
      }
    }
    // Stable, separately allocated pointers for the call.
    let pointers = buffers.map { b -> UnsafeMutablePointer<Float> in
      let p = UnsafeMutablePointer<Float>.allocate(capacity: max(b.count, 1))
      p.initialize(from: b, count: b.count)
      return p
    }
    defer { pointers.forEach { $0.deallocate() } }
    var args: [UnsafeMutablePointer<Float>?] = pointers
    try library.withSymbol(
      "bench_\(kernel.name)", as: (@convention(c) (Int32, UnsafeMutablePointer<UnsafeMutablePointer<Float>?>) -> Void).self
    ) { f in
      args.withUnsafeMutableBufferPointer { f(Int32(n), $0.baseAddress!) }
    }
    var outputs: [String: [Float]] = [:]
    for (i, p) in kernel.parameters.enumerated() where p.role == .output {
      outputs[p.name] = Array(UnsafeBufferPointer(start: pointers[i], count: buffers[i].count))
    }
    return outputs
  }
}

/// A misuse of the bench by a test.
public struct BenchError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}
