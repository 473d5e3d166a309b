// What a C build asks of the compiler: optimization, OpenMP, OpenBLAS, warnings, sanitizers.

/// The options of one C build. Every field becomes compiler flags, and all of them key the build cache.
public struct BuildOptions: Sendable, Hashable {
  /// How the code is optimized.
  public enum Optimization: Sendable, Hashable {
    /// `-O3 -march=native -ffp-contract=fast`: fastest here, may not run on an older CPU.
    case native
    /// `-O3 -ffp-contract=fast` for a generic CPU of this architecture (`-march=x86-64-v2` on x86-64).
    case portable
    /// Exactly these flags (e.g. `["-O0", "-g"]` for debugging).
    case custom([String])

    /// Let the compiler fuse a·b + c into one fused multiply-add, as gcc does by default in its GNU C modes (what
    /// a user compiling the generated .c with plain `gcc -O3` gets). The warnings-as-errors builds ask for
    /// `-std=c11`, and in ISO C mode gcc turns contraction off: every kernel's multiply-adds were then a
    /// multiply and an add (no vfmadd in the whole of ResNet-20's library), and ResNet-20 at batch 64 took
    /// 1.25–1.3× as long (median 104–110 ms against 80–84 ms on 1 thread, Zen 3). The kernels' tolerances
    /// against the interpreter allow for either rounding.
    static let contraction = ["-ffp-contract=fast"]

    /// The flags this optimization level stands for.
    public var flags: [String] {
      switch self {
      case .native: return ["-O3", "-march=native"] + Self.contraction
      case .portable:
        #if arch(x86_64)
          return ["-O3", "-march=x86-64-v2"] + Self.contraction
        #else
          return ["-O3"] + Self.contraction
        #endif
      case .custom(let flags): return flags
      }
    }
  }

  /// A runtime checker compiled into the code.
  public enum Sanitizer: String, Sendable, Hashable, CaseIterable, Comparable {
    /// AddressSanitizer: out-of-bounds and use-after-free. Only in executables: it cannot be dlopen'd
    /// into a process that was not itself built with it.
    case address
    /// UndefinedBehaviorSanitizer: overflow, misaligned or null access, bad shifts.
    case undefined

    public static func < (a: Sanitizer, b: Sanitizer) -> Bool { a.rawValue < b.rawValue }
  }

  /// `-O3 -march=native -ffp-contract=fast` by default.
  public var optimization: Optimization
  /// Compile with `-fopenmp`. Without it the `#pragma omp` lines are ignored and the code runs sequentially.
  public var openMP: Bool
  /// Compile and link against OpenBLAS (`cblas.h`, `-lopenblas`).
  public var blas: Bool
  /// `-std=c11 -Wall -Wextra -Werror`: any warning fails the build.
  public var warningsAsErrors: Bool
  /// Runtime checkers to compile in (`-fsanitize=…`, with `-g` and no recovery).
  public var sanitizers: Set<Sanitizer>
  /// Compile the per-step timers of generated modules in (`-DKILN_PROFILE`): `<name>_profile` is exported and
  /// each kernel call reads the clock twice. Off, the module has neither.
  public var profile: Bool
  /// Appended after every other compile flag.
  public var extraFlags: [String]

  /// The defaults: `-O3 -march=native -ffp-contract=fast`, OpenMP on, no OpenBLAS, warnings allowed, no
  /// sanitizers, no profiling.
  public init(
    optimization: Optimization = .native, openMP: Bool = true, blas: Bool = false,
    warningsAsErrors: Bool = false, sanitizers: Set<Sanitizer> = [], profile: Bool = false, extraFlags: [String] = []
  ) {
    self.optimization = optimization
    self.openMP = openMP
    self.blas = blas
    self.warningsAsErrors = warningsAsErrors
    self.sanitizers = sanitizers
    self.profile = profile
    self.extraFlags = extraFlags
  }

  /// Flags that do not depend on the compiler or libraries: optimization, warnings, sanitizers, extras.
  var codeFlags: [String] {
    var flags = optimization.flags
    if warningsAsErrors { flags += ["-std=c11", "-Wall", "-Wextra", "-Werror"] }
    if !sanitizers.isEmpty {
      let names = sanitizers.sorted().map(\.rawValue).joined(separator: ",")
      // Stop at the first report so a sanitizer finding always shows as a failing exit status.
      flags += ["-g", "-fno-omit-frame-pointer", "-fsanitize=\(names)", "-fno-sanitize-recover=all"]
    }
    if profile { flags.append("-DKILN_PROFILE") }
    return flags + extraFlags
  }
}
