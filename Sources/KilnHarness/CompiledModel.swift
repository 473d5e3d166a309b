// A generated module loaded into this process: its context API called from Swift.
import Foundation

/// What the harness needs to know of a generated module's API.
public struct ModelInterface: Hashable, Sendable {
  public struct Value: Hashable, Sendable {
    public var name: String
    /// Floats per sample.
    public var size: Int
    public init(name: String, size: Int) {
      self.name = name
      self.size = size
    }
  }
  /// The C prefix, e.g. `lenet5`.
  public var name: String
  public var inputs: [Value]
  public var outputs: [Value]
  public var maxBatch: Int
  /// Whether the weights are compiled in (otherwise a weights file must be loaded).
  public var embeddedWeights: Bool
  /// The training API of a module built for training; nil for an inference-only module.
  public var training: TrainingInterface?

  public init(
    name: String, inputs: [Value], outputs: [Value], maxBatch: Int, embeddedWeights: Bool,
    training: TrainingInterface? = nil
  ) {
    self.name = name
    self.inputs = inputs
    self.outputs = outputs
    self.maxBatch = maxBatch
    self.embeddedWeights = embeddedWeights
    self.training = training
  }
}

/// A failure reported by generated code: its error code, `strerror` text and the context's detail.
public struct ModelError: Error, CustomStringConvertible, Sendable, Equatable {
  public var code: Int32
  public var message: String
  public var description: String { message }
}

/// One context of a generated module (`<name>_create`), destroyed with the object.
public final class CompiledModel: @unchecked Sendable {
  public let interface: ModelInterface
  public let library: SharedLibrary
  let context: OpaquePointer

  private typealias Create = @convention(c) () -> OpaquePointer?
  private typealias Destroy = @convention(c) (OpaquePointer?) -> Void
  private typealias Load = @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> Int32
  private typealias SetThreads = @convention(c) (OpaquePointer?, Int32) -> Int32
  private typealias InferAll = @convention(c) (
    OpaquePointer?, UnsafePointer<UnsafePointer<Float>?>?, Int32, UnsafePointer<UnsafeMutablePointer<Float>?>?
  ) -> Int32
  private typealias StrError = @convention(c) (Int32) -> UnsafePointer<CChar>?
  private typealias LastError = @convention(c) (OpaquePointer?) -> UnsafePointer<CChar>?

  /// Loads the library and creates a context.
  public init(library url: URL, interface: ModelInterface) throws {
    self.interface = interface
    library = try SharedLibrary(url)
    let create = try library.symbol("\(interface.name)_create", as: Create.self)
    guard let ctx = create() else {
      throw ModelError(code: -11, message: "\(interface.name)_create() returned NULL: out of memory")
    }
    context = ctx
  }

  deinit {
    if let destroy = try? library.symbol("\(interface.name)_destroy", as: Destroy.self) {
      withExtendedLifetime(library) { destroy(context) }
    }
  }

  /// Loads weights from safetensors with the spec's names.
  public func loadWeights(safetensors path: String) throws { try load("load_weights", path) }

  /// Loads a Kiln weights file (`<name>.weights`).
  public func loadWeightsFile(_ path: String) throws { try load("load_weights_file", path) }

  private func load(_ function: String, _ path: String) throws {
    let rc = try library.withSymbol("\(interface.name)_\(function)", as: Load.self) { f in
      path.withCString { f(context, $0) }
    }
    try check(rc)
  }

  /// Sets the OpenMP threads of this context's calls.
  public func setThreads(_ threads: Int) throws {
    let rc = try library.withSymbol("\(interface.name)_set_threads", as: SetThreads.self) { $0(context, Int32(threads)) }
    try check(rc)
  }

  /// Runs `n` samples: `inputs[i]` holds n × inputs[i].size floats; returns each output's n × size floats.
  public func infer(_ inputs: [[Float]], n: Int) throws -> [[Float]] {
    guard inputs.count == interface.inputs.count else {
      throw ModelError(code: -1, message: "\(interface.name) takes \(interface.inputs.count) inputs, got \(inputs.count)")
    }
    for (x, spec) in zip(inputs, interface.inputs) where x.count != n * spec.size {
      throw ModelError(code: -1, message: "input '\(spec.name)' has \(x.count) floats, expected \(n) × \(spec.size)")
    }
    var outputs = interface.outputs.map { [Float](repeating: 0, count: max(n, 0) * $0.size) }
    let rc = try library.withSymbol("\(interface.name)_infer_all", as: InferAll.self) { f in
      try withPointers(inputs) { ins in
        try withMutablePointers(&outputs) { outs in f(context, ins, Int32(n), outs) }
      }
    }
    try check(rc)
    return outputs
  }

  /// Calls the raw entry with caller-built pointer arrays, for tests of NULL handling and the like.
  public func inferRaw(
    inputs: UnsafePointer<UnsafePointer<Float>?>?, n: Int32, outputs: UnsafePointer<UnsafeMutablePointer<Float>?>?
  ) throws -> Int32 {
    try library.withSymbol("\(interface.name)_infer_all", as: InferAll.self) { $0(context, inputs, n, outputs) }
  }

  /// The module's text for an error code.
  public func describe(_ code: Int32) -> String {
    let text = try? library.withSymbol("\(interface.name)_strerror", as: StrError.self) { f in f(code).map { String(cString: $0) } }
    return (text ?? nil) ?? "error \(code)"
  }

  /// The context's detail of its last failure.
  public var lastError: String {
    let text = try? library.withSymbol("\(interface.name)_last_error", as: LastError.self) { f in
      f(context).map { String(cString: $0) }
    }
    return (text ?? nil) ?? ""
  }

  /// Throws the module's error for a failing status code, with the context's detail.
  func check(_ rc: Int32) throws {
    guard rc != 0 else { return }
    let detail = lastError
    throw ModelError(code: rc, message: "\(interface.name): \(describe(rc))" + (detail.isEmpty ? "" : ": \(detail)"))
  }
}

/// Calls `body` with a C array of pointers to each array's storage.
func withPointers<R>(_ arrays: [[Float]], _ body: (UnsafePointer<UnsafePointer<Float>?>) throws -> R) rethrows -> R {
  func go(_ i: Int, _ acc: [UnsafePointer<Float>?]) throws -> R {
    if i == arrays.count { return try acc.withUnsafeBufferPointer { try body($0.baseAddress!) } }
    return try arrays[i].withUnsafeBufferPointer { try go(i + 1, acc + [$0.baseAddress]) }
  }
  return try go(0, [])
}

/// Calls `body` with a C array of pointers to 64-byte-aligned buffers of each array's size, then copies
/// what the C code wrote back into the arrays.
func withMutablePointers<R>(
  _ arrays: inout [[Float]], _ body: (UnsafePointer<UnsafeMutablePointer<Float>?>) throws -> R
) rethrows -> R {
  let buffers = arrays.map { a -> UnsafeMutablePointer<Float> in
    let raw = UnsafeMutableRawPointer.allocate(byteCount: max(a.count, 1) * 4, alignment: 64)
    let p = raw.bindMemory(to: Float.self, capacity: max(a.count, 1))
    p.initialize(from: a, count: a.count)
    return p
  }
  defer { buffers.forEach { UnsafeMutableRawPointer($0).deallocate() } }
  let pointers: [UnsafeMutablePointer<Float>?] = buffers
  let result = try pointers.withUnsafeBufferPointer { try body($0.baseAddress!) }
  for i in arrays.indices { arrays[i] = Array(UnsafeBufferPointer(start: buffers[i], count: arrays[i].count)) }
  return result
}

extension CompiledModel {
  /// Times `reps` calls of `<name>_infer_all` on batch `n` after `warmup` calls, with buffers allocated once
  /// (so only the generated code is timed). Returns each call's seconds.
  public func timeInference(n: Int, reps: Int, warmup: Int = 3) throws -> [Double] {
    let ins = interface.inputs.map { v -> UnsafeMutablePointer<Float> in
      let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n * v.size, 1))
      for i in 0..<(n * v.size) { p[i] = Float((i * 7919) % 200 - 100) / 50 }
      return p
    }
    let outs = interface.outputs.map { UnsafeMutablePointer<Float>.allocate(capacity: max(n * $0.size, 1)) }
    defer {
      ins.forEach { $0.deallocate() }
      outs.forEach { $0.deallocate() }
    }
    let inputPointers: [UnsafePointer<Float>?] = ins.map { UnsafePointer($0) }
    let outputPointers: [UnsafeMutablePointer<Float>?] = outs
    var times: [Double] = []
    try inputPointers.withUnsafeBufferPointer { i in
      try outputPointers.withUnsafeBufferPointer { o in
        for r in 0..<(warmup + reps) {
          let start = DispatchTime.now().uptimeNanoseconds
          let rc = try inferRaw(inputs: i.baseAddress, n: Int32(n), outputs: o.baseAddress)
          let end = DispatchTime.now().uptimeNanoseconds
          guard rc == 0 else { throw ModelError(code: rc, message: "\(interface.name): \(describe(rc))") }
          if r >= warmup { times.append(Double(end - start) / 1e9) }
        }
      }
    }
    return times
  }
}
