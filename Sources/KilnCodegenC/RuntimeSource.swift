// The C runtime pasted into every generated module (Templates/runtime), and its status codes in Swift.
import Foundation
import KilnTemplates

/// One file of the C runtime.
public struct RuntimeFile: Hashable, Sendable {
  /// The file name under Templates/runtime, e.g. `safetensors.c`.
  public var name: String
  /// Its C text, to paste verbatim.
  public var text: String
}

/// The C runtime: plain C files under Templates/runtime, pasted verbatim into each generated `.c` (after
/// `<math.h>`, `<stddef.h>` and `<string.h>`), in `RuntimeSource.order`. Everything in them is `static` and
/// prefixed `kiln_rt_`, so two models linked into one program never clash; `kiln_status.h` is guarded so a
/// model's public header may carry it too.
public enum RuntimeSource {
  /// Every runtime file, in the order they must be pasted (each uses only the ones before it).
  public static let order = [
    "kiln_status.h", "errors.c", "file.c", "json.c", "safetensors_header.c", "safetensors.c", "weights_file.c",
    "profile.c",
  ]

  /// The runtime file the kernels' call sequence uses on every call (the profiling clock): the one file kept out
  /// of the code gcc compiles at -O1 (`CPrinter.coldCode`).
  public static let kernelClock = "profile.c"

  /// The files only a training module pastes, after `order`: saving safetensors atomically (checkpoints), the
  /// per-step dropout seed and the checkpoint metadata reader. A module built without training has none of them.
  public static let trainingOrder = ["safetensors_save.c", "training.c"]

  /// The text of the runtime file `name` (one of `order` or `trainingOrder`).
  /// - Throws: `TemplateError` when the file is missing from the bundle.
  public static func text(_ name: String) throws -> String {
    let url = KilnTemplates.runtime.appendingPathComponent(name)
    do { return try String(contentsOf: url, encoding: .utf8) } catch {
      throw TemplateError("cannot read the C runtime file \(name) at \(url.path): \(error)")
    }
  }

  /// Every runtime file in `order`.
  public static var all: [RuntimeFile] {
    get throws { try order.map { RuntimeFile(name: $0, text: try text($0)) } }
  }

  /// Every training-only runtime file in `trainingOrder`.
  public static var training: [RuntimeFile] {
    get throws { try trainingOrder.map { RuntimeFile(name: $0, text: try text($0)) } }
  }

  /// The names of the files actually present in Templates/runtime, for the test that `order` lists them all.
  public static func bundledNames() throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: KilnTemplates.runtime.path)
      .filter { !$0.hasPrefix(".") }.sorted()
  }
}

/// The status codes of `kiln_status.h` (`enum kiln_status`): what every generated module's functions return.
public enum RuntimeStatus: Int32, CaseIterable, Sendable {
  case ok = 0
  case nullArgument = -1
  case invalidArgument = -2
  case badBatch = -3
  case batchTooLarge = -4
  case io = -5
  case format = -6
  case missingTensor = -7
  case unexpectedTensor = -8
  case shapeMismatch = -9
  case dtype = -10
  case wrongNetwork = -11
  case size = -12
  case checksum = -13
  case outOfMemory = -14
  case noWeights = -15

  /// The C enumerator, e.g. `KILN_ERR_MISSING_TENSOR`.
  public var cName: String {
    switch self {
    case .ok: return "KILN_OK"
    case .nullArgument: return "KILN_ERR_NULL_ARGUMENT"
    case .invalidArgument: return "KILN_ERR_INVALID_ARGUMENT"
    case .badBatch: return "KILN_ERR_BAD_BATCH"
    case .batchTooLarge: return "KILN_ERR_BATCH_TOO_LARGE"
    case .io: return "KILN_ERR_IO"
    case .format: return "KILN_ERR_FORMAT"
    case .missingTensor: return "KILN_ERR_MISSING_TENSOR"
    case .unexpectedTensor: return "KILN_ERR_UNEXPECTED_TENSOR"
    case .shapeMismatch: return "KILN_ERR_SHAPE_MISMATCH"
    case .dtype: return "KILN_ERR_DTYPE"
    case .wrongNetwork: return "KILN_ERR_WRONG_NETWORK"
    case .size: return "KILN_ERR_SIZE"
    case .checksum: return "KILN_ERR_CHECKSUM"
    case .outOfMemory: return "KILN_ERR_OUT_OF_MEMORY"
    case .noWeights: return "KILN_ERR_NO_WEIGHTS"
    }
  }
}
