// The C driver that runs the runtime's loaders for the Runtime*Tests: its source, its builds, its output.
import Foundation
import KilnCodegenC
import KilnHarness
import KilnTestSupport

/// One load as the driver reported it.
struct LoadResult: Equatable, CustomStringConvertible {
  /// The loader's return value.
  var code: Int32
  /// The detail message it wrote.
  var detail: String
  /// Every float of `params` afterwards, as bits (`RuntimeDriver.sentinel` where nothing was written).
  var bits: [UInt32]

  var status: RuntimeStatus? { RuntimeStatus(rawValue: code) }
  var description: String { "\(status.map { "\($0)" } ?? "code \(code)"): \(detail)" }
  /// Whether the loader left `params` untouched.
  var untouched: Bool { bits.allSatisfy { $0 == RuntimeDriver.sentinel } }
}

/// The runtime plus a small `main` (below), built as an executable: with ASan and UBSan (leaks included)
/// for the behaviour tests and the fuzz loop, and plainly to show it builds without them.
final class RuntimeDriver: Sendable {
  /// The float bits the driver fills `params` with before each load: a NaN no loader produces.
  static let sentinel: UInt32 = 0x7FC0_DEAD

  /// Built once per test process; the content-hash cache makes later runs free.
  static let sanitized = Result { try RuntimeDriver(sanitizers: [.address, .undefined]) }
  static let plain = Result { try RuntimeDriver(sanitizers: []) }

  let executable: URL

  convenience init(sanitizers: Set<BuildOptions.Sanitizer>) throws {
    try self.init(
      builder: try KernelBench.builder.get(),
      options: BuildOptions(openMP: false, warningsAsErrors: true, sanitizers: sanitizers))
  }

  /// Builds the driver with `builder` (a particular compiler) and `options`.
  init(builder: CBuilder, options: BuildOptions) throws {
    var source = "#include <math.h>\n#include <stddef.h>\n#include <string.h>\n"
    for file in try RuntimeSource.all { source += "\n" + file.text }
    source += "\n" + Self.main + "\n"
    let dir = try PackagePaths.temporaryDirectory("kiln-runtime-driver")
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = dir.appendingPathComponent("runtime_driver.c")
    try source.write(to: file, atomically: true, encoding: .utf8)
    executable = try builder.buildExecutable(sources: [file], options: options).url
  }

  /// Runs the driver; any exit but a clean 0 with empty stderr (a sanitizer report, a crash) throws.
  func run(_ arguments: [String]) throws -> String {
    var environment = ProcessInfo.processInfo.environment
    environment["ASAN_OPTIONS"] = "detect_leaks=1"
    let result = try runExecutable(executable, arguments: arguments, environment: environment)
    guard result.succeeded, result.stderr.isEmpty else {
      let how = "\(result.status)\(result.signaled ? " (a signal)" : "")"
      throw BenchError("runtime driver \(arguments.prefix(4)) exited with \(how):\n\(result.stderr)")
    }
    return result.stdout
  }

  /// Loads each file with `kiln_rt_load_safetensors` for the tensors of `table` (laid out in order).
  func loadSafeTensors(_ table: [(name: String, shape: [Int])], files: [String]) throws -> [LoadResult] {
    let specs = table.map { "\($0.name)=\($0.shape.map(String.init).joined(separator: ","))" }
    return try parse(run(["st"] + specs + ["--"] + files), expected: files.count)
  }

  /// Loads each file with `kiln_rt_load_weights_file`.
  func loadWeights(network: String, fingerprint: UInt64, count: Int, files: [String]) throws -> [LoadResult] {
    try parse(run(["wt", network, String(fingerprint, radix: 16), String(count)] + files), expected: files.count)
  }

  private func parse(_ output: String, expected: Int) throws -> [LoadResult] {
    let lines = output.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
    guard lines.count == expected else { throw BenchError("driver printed \(lines.count) lines for \(expected) files") }
    return try lines.map { line in
      let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
      guard fields.count == 3, let code = Int32(fields[0]) else { throw BenchError("unreadable driver line '\(line)'") }
      let bits = try fields[2].split(separator: " ").map { word in
        guard let value = UInt32(word, radix: 16) else { throw BenchError("bad float bits '\(word)'") }
        return value
      }
      return LoadResult(code: code, detail: Self.unescape(fields[1]), bits: bits)
    }
  }

  /// Undoes the driver's `\xNN` escapes of control bytes and backslashes.
  static func unescape(_ text: Substring) -> String {
    var bytes: [UInt8] = []
    var rest = Array(text.utf8)[...]
    while let byte = rest.first {
      if byte == UInt8(ascii: "\\"), rest.count >= 4,
        let value = UInt8(String(decoding: rest.dropFirst(2).prefix(2), as: UTF8.self), radix: 16)
      {
        bytes.append(value)
        rest = rest.dropFirst(4)
      } else {
        bytes.append(byte)
        rest = rest.dropFirst()
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// The driver's main program, compiled after the runtime.
  static let main = #"""
    /* The runtime test driver: loads files with the Kiln C runtime and prints one line per file:
     * <status code> TAB <detail, escaped> TAB <the params as float bits in hex, space-separated>. */

    #define DRIVER_SENTINEL 0x7fc0deadu /* a NaN the loaders never produce: params they did not write */

    static void print_escaped(const char *text) {
      for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c < 0x20 || *c == 0x7f || *c == '\\') printf("\\x%02x", *c);
        else putchar(*c);
      }
    }

    static void print_result(int code, const char *detail, const float *params, long count) {
      printf("%d\t", code);
      print_escaped(detail);
      putchar('\t');
      for (long i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &params[i], 4);
        printf(i == 0 ? "%08lx" : " %08lx", (unsigned long)bits);
      }
      putchar('\n');
    }

    static void fill_sentinel(float *params, long count) {
      const uint32_t bits = DRIVER_SENTINEL;
      for (long i = 0; i < count; i++) memcpy(&params[i], &bits, 4);
    }

    /* st NAME=D0,D1,... ... -- FILE...: each tensor at the next offset; "NAME=" is a scalar. */
    static int run_safetensors(int argc, char **argv) {
      int count = 0;
      while (count < argc && strcmp(argv[count], "--") != 0) count++;
      if (count == argc) return fprintf(stderr, "st: missing --\n"), 2;
      kiln_rt_tensor *tensors = calloc((size_t)count + 1, sizeof *tensors);
      if (tensors == NULL) return 2;
      long total = 0;
      for (int i = 0; i < count; i++) {
        char *equals = strchr(argv[i], '=');
        if (equals == NULL) return fprintf(stderr, "st: '%s' has no '='\n", argv[i]), free(tensors), 2;
        *equals = '\0';
        tensors[i].name = argv[i];
        tensors[i].offset = total;
        long elements = 1;
        for (char *cursor = equals + 1; *cursor != '\0' && tensors[i].rank < 4;) {
          tensors[i].shape[tensors[i].rank] = strtol(cursor, &cursor, 10);
          elements *= tensors[i].shape[tensors[i].rank++];
          if (*cursor == ',') cursor++;
        }
        total += elements;
      }
      float *params = malloc(((size_t)total + 1) * sizeof *params);
      if (params == NULL) return free(tensors), 2;
      char detail[512];
      for (int f = count + 1; f < argc; f++) {
        fill_sentinel(params, total);
        int code = kiln_rt_load_safetensors(argv[f], tensors, count, params, detail, sizeof detail);
        print_result(code, detail, params, total);
      }
      free(params);
      free(tensors);
      return 0;
    }

    /* wt NETWORK FINGERPRINT_HEX COUNT FILE... */
    static int run_weights(int argc, char **argv) {
      if (argc < 3) return fprintf(stderr, "wt: needs NETWORK FINGERPRINT COUNT FILE...\n"), 2;
      unsigned long long fingerprint = strtoull(argv[1], NULL, 16);
      long count = strtol(argv[2], NULL, 10);
      float *params = malloc(((size_t)count + 1) * sizeof *params);
      if (params == NULL) return 2;
      char detail[512];
      for (int f = 3; f < argc; f++) {
        fill_sentinel(params, count);
        int code = kiln_rt_load_weights_file(argv[f], argv[0], fingerprint, params, count, detail, sizeof detail);
        print_result(code, detail, params, count);
      }
      free(params);
      return 0;
    }

    /* Every status string, then the misuses: NULL and out-of-range arguments, small and absent detail buffers. */
    static int run_api(const char *missing_path) {
      for (int code = 1; code >= -17; code--) printf("strerror\t%d\t%s\n", code, kiln_rt_strerror(code));
      float params[4];
      char detail[256];
      kiln_rt_tensor table[2] = {{"a", 0, 1, {2, 0, 0, 0}}, {"a", 2, 1, {2, 0, 0, 0}}};
      kiln_rt_tensor bad_rank = {"b", 0, 5, {1, 1, 1, 1}};
      struct { const char *label; int code; } results[] = {
        {"st-null-path", kiln_rt_load_safetensors(NULL, table, 1, params, detail, sizeof detail)},
        {"st-null-params", kiln_rt_load_safetensors(missing_path, table, 1, NULL, detail, sizeof detail)},
        {"st-null-table", kiln_rt_load_safetensors(missing_path, NULL, 1, params, detail, sizeof detail)},
        {"st-negative-count", kiln_rt_load_safetensors(missing_path, table, -1, params, detail, sizeof detail)},
        {"st-duplicate-name", kiln_rt_load_safetensors(missing_path, table, 2, params, detail, sizeof detail)},
        {"st-bad-rank", kiln_rt_load_safetensors(missing_path, &bad_rank, 1, params, detail, sizeof detail)},
        {"wt-null-network", kiln_rt_load_weights_file(missing_path, NULL, 0, params, 4, detail, sizeof detail)},
        {"wt-negative-count", kiln_rt_load_weights_file(missing_path, "n", 0, params, -1, detail, sizeof detail)},
        {"st-no-detail", kiln_rt_load_safetensors(missing_path, table, 1, params, NULL, 0)},
        {"wt-no-detail", kiln_rt_load_weights_file(missing_path, "n", 0, params, 4, NULL, 0)},
      };
      for (size_t i = 0; i < sizeof results / sizeof results[0]; i++) {
        printf("%s\t%d\n", results[i].label, results[i].code);
      }
      char small[12];
      memset(small, 'x', sizeof small);
      int code = kiln_rt_load_safetensors(missing_path, table, 1, params, small, 8);
      printf("small-detail\t%d\t%s\t%c\n", code, small, small[8]);
      return 0;
    }

    /* Loses a block on purpose: the tests check that a leak makes the sanitized driver fail. */
    void *volatile driver_lost;
    static int run_leak(void) {
      driver_lost = malloc(64);
      driver_lost = NULL;
      return 0;
    }

    int main(int argc, char **argv) {
      if (argc == 2 && strcmp(argv[1], "leak") == 0) return run_leak();
      if (argc >= 2 && strcmp(argv[1], "st") == 0) return run_safetensors(argc - 2, argv + 2);
      if (argc >= 2 && strcmp(argv[1], "wt") == 0) return run_weights(argc - 2, argv + 2);
      if (argc == 3 && strcmp(argv[1], "api") == 0) return run_api(argv[2]);
      fprintf(stderr, "usage: driver st NAME=SHAPE... -- FILE... | wt NETWORK FINGERPRINT COUNT FILE... |"
                      " api MISSING | leak\n");
      return 2;
    }
    """#
}
