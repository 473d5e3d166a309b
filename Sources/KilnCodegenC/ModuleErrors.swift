// The error codes of a generated module's C API, and their messages.

/// One error code of the generated API: `<NAME>_ERR_<suffix>`, equal to the runtime's `KILN_RT_ERR_<suffix>`.
struct ModuleErrorCode {
  var suffix: String
  var value: Int
  var meaning: String
  /// Whether the C runtime defines it too (the rest arise only in the module's own code).
  var inRuntime: Bool = true
}

/// Every error code, in the order the header lists them. The generated source asserts at compile time
/// that each equals the C runtime's code of the same name.
let moduleErrorCodes: [ModuleErrorCode] = [
  ModuleErrorCode(suffix: "NULL_ARGUMENT", value: -1, meaning: "a required pointer argument is NULL"),
  ModuleErrorCode(suffix: "BAD_BATCH", value: -2, meaning: "the batch is below 1 or above the compiled maximum"),
  ModuleErrorCode(suffix: "IO", value: -3, meaning: "a file could not be opened or read"),
  ModuleErrorCode(suffix: "FORMAT", value: -4, meaning: "the file is not a valid weights file"),
  ModuleErrorCode(suffix: "MISSING_TENSOR", value: -5, meaning: "the weights lack a tensor the network needs"),
  ModuleErrorCode(suffix: "SHAPE_MISMATCH", value: -6, meaning: "a tensor's shape is not the one the network needs"),
  ModuleErrorCode(suffix: "DTYPE", value: -7, meaning: "a tensor's element type is not supported"),
  ModuleErrorCode(suffix: "WRONG_NETWORK", value: -8, meaning: "the weights belong to another network"),
  ModuleErrorCode(suffix: "SIZE", value: -9, meaning: "the file has the wrong size"),
  ModuleErrorCode(suffix: "CHECKSUM", value: -10, meaning: "the file's checksum does not match its data"),
  ModuleErrorCode(suffix: "OUT_OF_MEMORY", value: -11, meaning: "memory could not be allocated"),
  ModuleErrorCode(suffix: "NO_WEIGHTS", value: -12, meaning: "no weights are loaded", inRuntime: false),
  ModuleErrorCode(suffix: "BAD_THREADS", value: -13, meaning: "the thread count must be at least 1", inRuntime: false),
]
