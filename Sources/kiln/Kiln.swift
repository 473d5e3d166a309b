// The kiln command: a thin shell over the Kiln libraries, one file per subcommand.
import ArgumentParser

@main
struct Kiln: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "kiln",
    abstract: "A compile-ahead neural-network compiler that emits plain, fast C.",
    subcommands: [Check.self, Compile.self, Run.self, Train.self, Plan.self, Profile.self, Init.self, Regenerate.self, Bench.self])
}
