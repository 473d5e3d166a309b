// Shared fixtures of the harness tests: the detected compiler (probed once), fresh caches, C sources.
import Foundation
import KilnTestSupport

@testable import KilnHarness

enum Fixture {
  /// The compiler this machine provides, detected once for all tests.
  static let detected: Result<CCompiler, any Error> = Result { try CCompiler.detect() }

  static func compiler() throws -> CCompiler { try detected.get() }

  /// A builder with the detected compiler and an empty cache of its own, plus a scratch folder.
  static func builder() throws -> (builder: CBuilder, scratch: URL) {
    let scratch = try PackagePaths.temporaryDirectory("kiln-harness")
    let builder = CBuilder(compiler: try compiler(), cacheDirectory: scratch.appendingPathComponent("cache"))
    return (builder, scratch)
  }

  /// Writes `text` to `dir/name` and returns its URL.
  @discardableResult
  static func write(_ text: String, _ name: String, in dir: URL) throws -> URL {
    let url = dir.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url
  }

  /// A library with an OpenMP loop over float pointers and functions telling how it was built.
  /// It includes a quoted header so header changes can be tested, and no <omp.h>.
  static let vectorLibrary = """
    #include "scale.h"
    #ifdef _OPENMP
    int omp_get_num_threads(void);
    #endif

    /* y[i] = a * x[i] + y[i] + KILN_OFFSET, in parallel when built with OpenMP. */
    void kiln_scale_add(int n, float a, const float *restrict x, float *restrict y) {
    #pragma omp parallel for
      for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i] + KILN_OFFSET;
    }

    /* How many threads a two-thread parallel region really ran with: 1 when built without OpenMP. */
    int kiln_region_threads(void) {
      int threads = 1;
    #pragma omp parallel num_threads(2)
      {
    #ifdef _OPENMP
    #pragma omp single
        threads = omp_get_num_threads();
    #endif
      }
      return threads;
    }

    int kiln_openmp_enabled(void) {
    #ifdef _OPENMP
      return 1;
    #else
      return 0;
    #endif
    }

    """

  static let scaleHeader = "#define KILN_OFFSET 0.5f\n"

  /// Calls the C function `int name(void)` of `library`.
  static func callInt(_ library: SharedLibrary, _ name: String) throws -> Int32 {
    try library.withSymbol(name, as: IntFunction.self) { $0() }
  }

  typealias ScaleAdd = @convention(c) (Int32, Float, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?) -> Void
  typealias IntFunction = @convention(c) () -> Int32
}
