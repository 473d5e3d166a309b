// `kiln train NET.kiln --data fashion-mnist|csv:FILE`: train with the compiled training step, report and save.
import ArgumentParser
import Foundation
import KilnDriver

struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Train a network on Fashion-MNIST or a CSV table with its generated C training step.",
    discussion: """
      Flags override the spec's train section. Checkpoints go to --checkpoint-dir: last.safetensors after every \
      epoch, best.safetensors at the best validation loss. A NaN or infinite loss stops the run (exit 1) and keeps \
      the last good checkpoint.
      """)

  @Argument(help: "The network spec (.kiln) with a train section.")
  var spec: String

  @Option(help: "The samples: fashion-mnist (Debian's dataset-fashion-mnist) or csv:FILE.")
  var data: String

  @Option(help: "For csv:FILE, the column to predict.")
  var target: String?

  @Option(help: "Epochs to train (counted from the start when resuming).")
  var epochs: Int?

  @Option(help: "A new optimizer: sgd, adagrad, rmsprop, adadelta, adam, amsgrad, adamw, adamax, nadam.")
  var optimizer: String?

  @Option(help: "The learning rate.")
  var lr: Double?

  @Option(help: "Momentum (sgd, rmsprop).")
  var momentum: Double?

  @Option(name: .customLong("weight-decay"), help: "L2 penalty (decoupled for adamw).")
  var weightDecay: Double?

  @Option(help: "Seed of initialization, shuffling, the validation split and dropout.")
  var seed: UInt64?

  @Option(name: .customLong("validation-split"), help: "Fraction of the training samples held out, in [0, 1).")
  var validationSplit: Double?

  @Option(help: "Train on the first N training samples only.")
  var limit: Int?

  @Option(name: .customLong("test-limit"), help: "Evaluate on the first N test samples only.")
  var testLimit: Int?

  @Option(help: "Write the best weights here as safetensors, with PyTorch's names.")
  var out: String?

  @Option(help: "Continue from this checkpoint.")
  var resume: String?

  @Option(name: .customLong("checkpoint-dir"), help: "Where last.safetensors and best.safetensors go.")
  var checkpointDirectory = "checkpoints"

  @Option(help: "Write the loss and accuracy curves here as SVG.")
  var plot: String?

  @Option(help: "Write the history and final metrics here as JSON.")
  var metrics: String?

  @Option(help: "OpenMP threads (default: OpenMP's).")
  var threads: Int?

  @OptionGroup var build: BuildFlags

  @OptionGroup var passes: PassFlags

  func run() throws {
    try failingClearly {
      let graph = try NetworkLoader.graph(path: spec)
      var options = TrainingOptions(data: try DataSource(argument: data, target: target))
      options.epochs = epochs
      options.batch = build.batch
      options.optimizer = optimizer
      options.learningRate = lr
      options.momentum = momentum
      options.weightDecay = weightDecay
      options.seed = seed
      options.validationSplit = validationSplit
      options.limit = limit
      options.testLimit = testLimit
      options.out = out
      options.resume = resume
      options.checkpointDirectory = checkpointDirectory
      options.plot = plot
      options.metrics = metrics
      options.threads = threads
      options.compile = build.options
      options.compile.passes = passes.options
      let live = isatty(STDERR_FILENO) != 0
      var barShown = false
      let report = try Trainer.run(graph, specName: URL(fileURLWithPath: spec).lastPathComponent, options: options) {
        event in
        switch event {
        case .batch(let progress):
          guard live else { return }
          FileHandle.standardError.write(Data(("\r" + progress.bar()).utf8))
          barShown = true
        case .epoch(let record):
          if barShown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
          barShown = false
          say(record.line + "\n")
        case .note(let text):
          say(text + "\n")
        }
      }
      say("\n" + report.summary)
    }
  }
}

/// Writes `text` to standard output at once (unbuffered, so epoch lines show as they finish, also in a pipe).
private func say(_ text: String) {
  FileHandle.standardOutput.write(Data(text.utf8))
}
