// `kiln regenerate`: rewrite generated/ from examples/ (a test fails while it is stale).
import ArgumentParser
import Foundation
import KilnDriver

struct Regenerate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Rewrite generated/<name>/ for every network in examples/.")

  @Option(help: "The package root holding examples/ and generated/.")
  var root: String = "."

  func run() throws {
    try failingClearly {
      let url = URL(fileURLWithPath: root)
      guard FileManager.default.fileExists(atPath: url.appendingPathComponent("examples").path) else {
        throw ValidationError("no examples/ folder under \(url.path): run from the Kiln checkout or pass --root")
      }
      for path in try Regeneration.regenerate(root: url) { print("wrote \(path)") }
    }
  }
}
