// Profiling generated modules: the per-step times of a -DKILN_PROFILE build, and a timed call on fixed buffers.
import Foundation

/// The steps of one inference call of a profiling build, in execution order.
public struct StepTimes: Hashable, Sendable {
  /// Each step's kernel (`k3_conv_c1`).
  public var names: [String]
  /// When each step started, in nanoseconds after the first step started.
  public var startNanoseconds: [UInt64]
  /// How long each step took, in nanoseconds.
  public var durationNanoseconds: [UInt64]
}

extension CompiledModel {
  private typealias Profile =
    @convention(c) (
      OpaquePointer?, UnsafeMutablePointer<CUnsignedLongLong>?, UnsafeMutablePointer<CUnsignedLongLong>?,
      UnsafeMutablePointer<UnsafePointer<CChar>?>?, Int32
    ) -> Int32

  /// Whether the module was built with `-DKILN_PROFILE` (`BuildOptions.profile`), i.e. exports `<name>_profile`.
  public var isProfilingBuild: Bool { (try? library.address(of: "\(interface.name)_profile")) != nil }

  /// The step times of this context's last successful inference call (zeros before the first one).
  /// - Throws: `ModelError` when the module was built without `-DKILN_PROFILE`.
  public func lastStepTimes() throws -> StepTimes {
    let symbol = "\(interface.name)_profile"
    guard let profile = try? library.symbol(symbol, as: Profile.self) else {
      throw ModelError(
        code: RuntimeCode.invalidArgument,
        message: "\(interface.name): the library has no \(symbol): it was built without -DKILN_PROFILE")
    }
    let count = withExtendedLifetime(library) { profile(context, nil, nil, nil, 0) }
    try check(min(count, 0))
    var starts = [CUnsignedLongLong](repeating: 0, count: Int(count))
    var durations = [CUnsignedLongLong](repeating: 0, count: Int(count))
    var names = [UnsafePointer<CChar>?](repeating: nil, count: Int(count))
    let rc: Int32 = withExtendedLifetime(library) {
      starts.withUnsafeMutableBufferPointer { s in
        durations.withUnsafeMutableBufferPointer { d in
          names.withUnsafeMutableBufferPointer { m in
            profile(context, s.baseAddress, d.baseAddress, m.baseAddress, count)
          }
        }
      }
    }
    try check(min(rc, 0))
    // The names point into the module's constant table, alive as long as the library.
    let steps = withExtendedLifetime(library) { names.map { $0.map { String(cString: $0) } ?? "" } }
    return StepTimes(
      names: steps, startNanoseconds: starts.map { UInt64($0) }, durationNanoseconds: durations.map { UInt64($0) })
  }
}

/// The status codes this file reports itself (the module's own are described by `CompiledModel.describe`).
enum RuntimeCode {
  /// KILN_ERR_INVALID_ARGUMENT.
  static let invalidArgument: Int32 = -2
}

/// One batch of inputs in fixed, 64-byte-aligned buffers, run through a module again and again: only the
/// generated code's `<name>_infer_all` is timed, never copies or allocation.
public final class PreparedInference {
  /// The module it runs.
  public let model: CompiledModel
  /// The batch.
  public let n: Int
  private let inputs: [UnsafeMutablePointer<Float>]
  private let outputs: [UnsafeMutablePointer<Float>]

  /// Copies `inputs` (`inputs[i]` holds n × the i-th input's size floats) into buffers of its own.
  /// - Throws: `ModelError` for a wrong number of inputs or a wrong size.
  public init(model: CompiledModel, inputs values: [[Float]], n: Int) throws {
    let spec = model.interface
    guard values.count == spec.inputs.count else {
      throw ModelError(
        code: RuntimeCode.invalidArgument,
        message: "\(spec.name) takes \(spec.inputs.count) inputs, got \(values.count)")
    }
    for (x, v) in zip(values, spec.inputs) where x.count != n * v.size {
      throw ModelError(
        code: RuntimeCode.invalidArgument, message: "input '\(v.name)' has \(x.count) floats, expected \(n) × \(v.size)"
      )
    }
    func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
      let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
      return raw.initializeMemory(as: Float.self, repeating: 0, count: max(count, 1))
    }
    self.model = model
    self.n = n
    self.inputs = values.map { x in
      let p = allocate(x.count)
      p.update(from: x, count: x.count)
      return p
    }
    self.outputs = spec.outputs.map { allocate(n * $0.size) }
  }

  deinit {
    inputs.forEach { UnsafeMutableRawPointer($0).deallocate() }
    outputs.forEach { UnsafeMutableRawPointer($0).deallocate() }
  }

  /// Runs the batch once and returns the nanoseconds the call took.
  /// - Throws: `ModelError` with the module's detail when the call fails.
  public func run() throws -> UInt64 {
    let ins: [UnsafePointer<Float>?] = inputs.map { UnsafePointer($0) }
    let outs: [UnsafeMutablePointer<Float>?] = outputs
    return try ins.withUnsafeBufferPointer { i in
      try outs.withUnsafeBufferPointer { o in
        let start = DispatchTime.now().uptimeNanoseconds
        let rc = try model.inferRaw(inputs: i.baseAddress, n: Int32(n), outputs: o.baseAddress)
        let end = DispatchTime.now().uptimeNanoseconds
        try model.check(rc)
        return end - start
      }
    }
  }

  /// What the last run wrote: each output's n × size floats.
  public var outputValues: [[Float]] {
    zip(outputs, model.interface.outputs).map { p, v in Array(UnsafeBufferPointer(start: p, count: n * v.size)) }
  }
}
