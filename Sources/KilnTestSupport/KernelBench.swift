// Compiles many kernels into one shared library per test suite and calls them on Swift arrays.
import Foundation
import KilnCodegenC
import KilnHarness

/// One C library holding a set of kernels, each behind an exported wrapper `bench_<name>(int n, void **args)`.
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
    c.directive("#include <stdint.h>")
    if options.blas { c.directive("#include <cblas.h>") }
    c.directive("#ifdef _OPENMP")
    c.directive("void omp_set_num_threads(int);")
    c.directive("#endif")
    c.line()
    c.text(TrainingABI.stepInfoDeclaration)
    c.line()
    c.text(KernelPrelude.vectorDeclarations)
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
      c.line("void bench_\(k.name)(int n, void **args);")
      c.function("void bench_\(k.name)(int n, void **args)") { c in
        let args = k.parameters.enumerated().map { i, p in "(\(p.cType))args[\(i)]" }
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

  /// The run-time scalars of a training kernel's `const kiln_step_info *` argument (same layout as C's).
  public struct StepInfo: Sendable {
    public var lr: Float
    public var step: Int64
    public var seed: UInt64
    public init(lr: Float, step: Int64, seed: UInt64) {
      self.lr = lr
      self.step = step
      self.seed = seed
    }
  }

  /// Runs `kernel` on batch `n`. `arguments` gives every float input, parameter, updated parameter and
  /// optimizer-state slot by parameter name (batched inputs hold `n ×` their per-sample size), `labels` the
  /// i64 inputs, `stepInfo` the scalars of a kernel that takes them. Returns every output, updated parameter
  /// and state slot by name, after the call. Outputs and scratch are filled with NaN first, so a kernel that
  /// reads what it did not write shows it.
  public func run(
    _ kernel: KernelFunction, n: Int, _ arguments: [String: [Float]], labels: [String: [Int64]] = [:],
    stepInfo: StepInfo? = nil
  ) throws -> [String: [Float]] {
    var pointers: [UnsafeMutableRawPointer?] = []
    var floatBuffers: [Int: (UnsafeMutablePointer<Float>, Int)] = [:]
    var owned: [UnsafeMutableRawPointer] = []
    defer { owned.forEach { $0.deallocate() } }
    func allocate<T>(_ values: [T]) -> UnsafeMutablePointer<T> {
      let p = UnsafeMutablePointer<T>.allocate(capacity: max(values.count, 1))
      p.initialize(from: values, count: values.count)
      owned.append(UnsafeMutableRawPointer(p))
      return p
    }
    for (i, p) in kernel.parameters.enumerated() {
      let count = p.count(batch: n)
      switch p.role {
      case .input where p.dtype == .i64:
        guard let values = labels[p.name] else { throw BenchError("no labels '\(p.name)' for \(kernel.name)") }
        guard values.count == count else {
          throw BenchError("labels '\(p.name)' of \(kernel.name) has \(values.count) values, needs \(count)")
        }
        pointers.append(UnsafeMutableRawPointer(allocate(values)))
      case .input, .parameter, .updatedParameter, .optimizerState:
        guard let values = arguments[p.name] else { throw BenchError("no argument '\(p.name)' for \(kernel.name)") }
        guard values.count == count else {
          throw BenchError("argument '\(p.name)' of \(kernel.name) has \(values.count) values, needs \(count)")
        }
        let buffer = allocate(values)
        floatBuffers[i] = (buffer, count)
        pointers.append(UnsafeMutableRawPointer(buffer))
      case .output, .scratch:
        let buffer = allocate([Float](repeating: .nan, count: count))
        floatBuffers[i] = (buffer, count)
        pointers.append(UnsafeMutableRawPointer(buffer))
      case .stepInfo:
        guard let stepInfo else { throw BenchError("\(kernel.name) takes step info; none was given") }
        pointers.append(UnsafeMutableRawPointer(allocate([stepInfo])))
      }
    }
    try library.withSymbol(
      "bench_\(kernel.name)",
      as: (@convention(c) (Int32, UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> Void).self
    ) { f in
      pointers.withUnsafeMutableBufferPointer { f(Int32(n), $0.baseAddress!) }
    }
    var results: [String: [Float]] = [:]
    for (i, p) in kernel.parameters.enumerated() {
      guard [.output, .updatedParameter, .optimizerState].contains(p.role), let (buffer, count) = floatBuffers[i] else {
        continue
      }
      results[p.name] = Array(UnsafeBufferPointer(start: buffer, count: count))
    }
    return results
  }
}

/// A misuse of the bench by a test.
public struct BenchError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}
