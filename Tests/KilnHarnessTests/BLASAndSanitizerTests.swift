// OpenBLAS through a built library, sanitizer executables, and unloading libraries that ran OpenMP.
import Foundation
import KilnTestSupport
import Testing

@testable import KilnHarness

@Suite struct BLASAndSanitizerTests {
  typealias Gemm = @convention(c) (
    Int32, Int32, Int32, UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?
  ) -> Void

  @Test func openBLASSgemmThroughABuiltLibrary() throws {
    let (builder, scratch) = try Fixture.builder()
    let source = try Fixture.write(
      """
      #include <cblas.h>
      /* c[m x n] = a[m x k] * b[k x n], row-major. */
      void kiln_gemm(int m, int n, int k, const float *a, const float *b, float *c) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
      }

      """, "gemm.c", in: scratch)
    let built = try builder.buildSharedLibrary(sources: [source], options: BuildOptions(blas: true))
    #expect(built.command.contains("-lopenblas"))
    let library = try SharedLibrary(built.url)
    let (m, n, k) = (7, 5, 33)
    var random = SeededRandom(seed: 42)
    let a = random.tensor([m, k]).data
    let b = random.tensor([k, n]).data
    var c = [Float](repeating: .nan, count: m * n)
    try library.withSymbol("kiln_gemm", as: Gemm.self) { gemm in
      a.withUnsafeBufferPointer { ap in
        b.withUnsafeBufferPointer { bp in
          c.withUnsafeMutableBufferPointer { cp in
            gemm(Int32(m), Int32(n), Int32(k), ap.baseAddress, bp.baseAddress, cp.baseAddress)
          }
        }
      }
    }
    var expected = [Float](repeating: 0, count: m * n)
    for i in 0..<m {
      for j in 0..<n {
        expected[i * n + j] = Float((0..<k).reduce(0.0) { $0 + Double(a[i * k + $1]) * Double(b[$1 * n + j]) })
      }
    }
    // 33 float products summed in a blocked order: a few ulps of a sum of magnitude ≲ 6.
    #expect(difference(c, expected, rtol: 1e-5, atol: 1e-5) == nil)
  }

  @Test func openBLASIsFoundForTheCompiler() throws {
    let blas = try OpenBLAS.detect(for: try Fixture.compiler())
    #expect(blas.linkFlags == ["-lopenblas"])
  }

  static let sanitized = BuildOptions(sanitizers: [.address, .undefined])

  @Test func cleanProgramRunsCleanUnderSanitizers() throws {
    let (builder, scratch) = try Fixture.builder()
    let source = try Fixture.write(
      """
      #include <stdio.h>
      #include <stdlib.h>
      int main(void) {
        float *v = malloc(64 * sizeof(float));
        if (!v) return 2;
      #pragma omp parallel for
        for (int i = 0; i < 64; i++) v[i] = (float)i * 0.5f;
        double sum = 0;
        for (int i = 0; i < 64; i++) sum += v[i];
        free(v);
        printf("sum=%g\\n", sum);
        return 0;
      }

      """, "clean.c", in: scratch)
    let built = try builder.buildExecutable(sources: [source], options: Self.sanitized)
    #expect(built.command.contains("-fsanitize=address,undefined"))
    let result = try runExecutable(built.url)
    #expect(result.succeeded, "\(result.stderr)")
    #expect(result.stdout == "sum=1008\n")
    #expect(!result.stderr.contains("Sanitizer"))
  }

  @Test func outOfBoundsReadIsCaughtByAddressSanitizer() throws {
    let (builder, scratch) = try Fixture.builder()
    let source = try Fixture.write(
      """
      #include <stdlib.h>
      int main(int argc, char **argv) {
        (void)argv;
        int n = 7 + argc;  /* 8, unknown to the compiler, so only AddressSanitizer can see the overflow */
        int *v = malloc(n * sizeof(int));
        for (int i = 0; i < n; i++) v[i] = i;
        int value = v[n];
        free(v);
        return value == 12345;
      }

      """, "oob.c", in: scratch)
    let built = try builder.buildExecutable(sources: [source], options: Self.sanitized)
    let result = try runExecutable(built.url)
    #expect(!result.succeeded)
    #expect(result.stderr.contains("AddressSanitizer"))
    #expect(result.stderr.contains("heap-buffer-overflow"))
  }

  @Test func signedOverflowIsCaughtByUndefinedBehaviorSanitizer() throws {
    let (builder, scratch) = try Fixture.builder()
    let source = try Fixture.write(
      """
      #include <limits.h>
      int main(int argc, char **argv) {
        (void)argv;
        int big = INT_MAX - 1 + argc;  /* INT_MAX */
        return big + argc > 0;         /* overflows */
      }

      """, "overflow.c", in: scratch)
    let built = try builder.buildExecutable(sources: [source], options: Self.sanitized)
    let result = try runExecutable(built.url)
    #expect(!result.succeeded)
    #expect(result.stderr.contains("runtime error"))
    #expect(result.stderr.contains("overflow"))
  }

  static let compilersWithUBSan = ["gcc", "clang-14"].filter {
    resolveExecutable($0, searchPath: ProcessInfo.processInfo.environment["PATH"]) != nil
  }

  /// UBSan (unlike ASan) works in a library loaded into this process, also with clang's shared runtime.
  @Test(arguments: compilersWithUBSan)
  func undefinedBehaviorSanitizedLibraryLoads(_ name: String) throws {
    let compiler = try CCompiler.probe(command: name, searchPath: ProcessInfo.processInfo.environment["PATH"]).get()
    let scratch = try PackagePaths.temporaryDirectory("kiln-ubsan-lib")
    let builder = CBuilder(compiler: compiler, cacheDirectory: scratch.appendingPathComponent("cache"))
    let source = try Fixture.write(
      "int kiln_add(int a, int b) { return a + b; }\nint kiln_five(void) { return kiln_add(2, 3); }\n",
      "add.c", in: scratch)
    let built = try builder.buildSharedLibrary(sources: [source], options: BuildOptions(sanitizers: [.undefined]))
    #expect(try Fixture.callInt(SharedLibrary(built.url), "kiln_five") == 5)
  }

  /// Releasing libraries whose OpenMP regions left worker threads idling must not crash the process:
  /// the runtime is pinned on load.
  @Test func unloadingAfterParallelWorkIsSafe() throws {
    let (builder, scratch) = try Fixture.builder()
    let source = try Fixture.write(Fixture.vectorLibrary, "vector.c", in: scratch)
    try Fixture.write(Fixture.scaleHeader, "scale.h", in: scratch)
    let url = try builder.buildSharedLibrary(sources: [source]).url
    for _ in 0..<5 {
      let library = try SharedLibrary(url)
      #expect(try Fixture.callInt(library, "kiln_region_threads") == 2)
    }
    Thread.sleep(forTimeInterval: 0.05)  // let idle workers run after the last dlclose
    #expect(try Fixture.callInt(SharedLibrary(url), "kiln_openmp_enabled") == 1)
  }
}
