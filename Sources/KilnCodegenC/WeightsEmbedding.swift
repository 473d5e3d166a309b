// Parameters as C: exact hex-float array literals for small models, a Kiln weights file for large ones.
import KilnIR
import KilnPasses

/// How a module carries its weights.
public enum WeightsPlacement: Hashable, Sendable {
  /// A `static const` array of hex-float literals inside the .c file.
  case embedded
  /// A separate `<name>.weights` file, checked by size, checksum and network fingerprint when loaded.
  case external
}

/// Weights above this many bytes go in a separate file rather than into the C source (about 1 MB).
public let defaultEmbedThreshold = 1 << 20

extension CPrinter {
  /// `_Alignas(64) static const float NAME[COUNT] = { … };`, 8 exact hex literals a line, with a comment
  /// naming each tensor where it starts. `params` is the padded params array of `program`.
  mutating func embeddedWeights(_ arrayName: String, program: Program, params: [Float]) {
    line("_Alignas(64) static const float \(arrayName)[\(max(params.count, 1))] = {")
    var starts: [Int: String] = [:]
    for slot in program.parameters { starts[slot.offset] = "\(slot.spec.name) \(slot.spec.dims)" }
    var i = 0
    while i < params.count {
      if let name = starts[i] { line("  /* \(name) */") }
      // A line stops early where the next tensor starts, so each tensor's comment sits at its first value.
      var end = min(i + 8, params.count)
      if let next = starts.keys.filter({ $0 > i && $0 < end }).min() { end = next }
      line("  " + params[i..<end].map { cFloat($0) }.joined(separator: ", ") + ",")
      i = end
    }
    if params.isEmpty { line("  0.0f") }
    line("};")
  }
}
