// The Templates/ folder as a resource bundle: C kernel bodies (kernels/) and the C runtime (runtime/).
import Foundation

/// Where the template files are at run time.
public enum KilnTemplates {
  /// `Templates/kernels`: one `<name>.c.mustache` per kernel.
  public static var kernels: URL { resources.appendingPathComponent("kernels") }
  /// `Templates/runtime`: C shared by every generated module (safetensors reading, error strings).
  public static var runtime: URL { resources.appendingPathComponent("runtime") }

  static var resources: URL {
    // NOTE: SwiftPM copies the folders into the module's resource bundle beside the executable.
    Bundle.module.resourceURL ?? Bundle.module.bundleURL
  }
}
