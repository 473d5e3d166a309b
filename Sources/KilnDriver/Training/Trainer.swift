// The training loop of `kiln train`: epochs of seeded mini-batches through the compiled train step, validation,
// schedule, checkpoints, early stopping, and the final metrics of the best weights.
import Foundation
import KilnData
import KilnHarness
import KilnIR
import KilnPasses
import KilnReference

/// Trains a network on real data with its compiled training module.
public enum Trainer {
  /// The checkpoint written after every epoch (and before the first, so a good one always exists).
  public static let lastCheckpoint = "last.safetensors"
  /// The checkpoint of the epoch with the best validation loss (training loss without validation).
  public static let bestCheckpoint = "best.safetensors"

  /// Trains `graph` as `options` say, reporting progress to `observe`; returns the run's history and final metrics.
  ///
  /// Each epoch visits the training samples in the order `SampleOrder.shuffled(seed, epoch)`; the last batch may be
  /// smaller. After each epoch the validation loss (`ReferenceOps.loss` on the module's inference outputs) and
  /// accuracy are measured, the schedule sets the next rate, `last.safetensors` is written and, when the monitored
  /// loss improved, `best.safetensors`. A NaN or infinite step loss throws a `TrainingError` naming the epoch and
  /// step; the checkpoints of the last good epoch stay. At the end the best weights are evaluated and written.
  public static func run(
    _ spec: Graph, specName: String, options: TrainingOptions, observe: (TrainingEvent) -> Void = { _ in }
  ) throws -> TrainingReport {
    var graph = spec
    let config = try options.resolve(spec.training)
    graph.training = config
    let data = try TrainingData.load(
      options.data, loss: config.loss, validationFraction: config.validationSplit, seed: config.seed,
      limit: options.limit, testLimit: options.testLimit)
    guard !data.trainingIndices.isEmpty else {
      throw TrainingError("no training samples are left after the validation split")
    }

    var compile = options.compile
    compile.training = true
    compile.maxBatch = config.batchSize
    let (model, _, _) = try Compilation.load(graph, specName: specName, options: compile) {
      try ParameterSource.parameters(for: graph, weightsPath: nil, seed: config.seed)
    }
    guard let interface = model.interface.training else {
      throw TrainingError("\(graph.name): the module was built without its training step")
    }
    try data.check(against: graph, targetSize: interface.targetSize, classLabels: interface.classLabels)
    if let threads = options.threads {
      guard threads >= 1 else { throw TrainingError("--threads \(threads); expected at least 1") }
      try model.setThreads(threads)
    }
    try model.setSeed(config.seed)

    let directory = URL(fileURLWithPath: options.checkpointDirectory)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let last = directory.appendingPathComponent(lastCheckpoint).path
    let best = directory.appendingPathComponent(bestCheckpoint).path
    // A last batch of one sample cannot train a batch norm over one value per channel (no batch variance: the
    // module refuses it, as PyTorch does), so such an epoch leaves that sample out (drop_last, for it alone).
    let dropsLoneSample =
      config.batchSize > 1 && data.trainingIndices.count % config.batchSize == 1 && hasLoneValueBatchNorm(graph)
    if dropsLoneSample {
      observe(
        .note(
          "\(data.trainingIndices.count) samples leave a last batch of 1, which a batch norm over one value per "
            + "channel cannot train on: each epoch leaves its last sample out"))
    }
    let samplesPerEpoch = data.trainingIndices.count - (dropsLoneSample ? 1 : 0)
    let stepsPerEpoch = (samplesPerEpoch + config.batchSize - 1) / config.batchSize
    var schedule = LearningRateSchedule(config.schedule, initialRate: config.optimizer.learningRate)
    var firstEpoch = 0
    var history: [EpochRecord] = []
    var bestLoss = Double.infinity
    var bestEpoch: Int?
    var badEpochs = 0
    if let resume = options.resume {
      try model.loadCheckpoint(resume)
      let steps = try model.stepCount()
      guard steps % stepsPerEpoch == 0 else {
        throw TrainingError(
          "\(resume) was saved after \(steps) steps, not at the end of an epoch of \(stepsPerEpoch) steps "
            + "(\(data.trainingIndices.count) samples, batch \(config.batchSize)); resume with the same data and batch")
      }
      firstEpoch = steps / stepsPerEpoch
      let note = try SafeTensors.read(from: resume).metadata["kiln.note"].flatMap(TrainerState.decode)
      if let state = note, state.step == steps, state.scheduleKind == "\(config.schedule)" {
        // The rate itself comes from the checkpoint; the schedule's memory (a plateau's best accuracy and
        // patience count) and early stopping's from the note saved with it.
        schedule = state.restoring(schedule)
        history = state.history
        badEpochs = state.badEpochs
        if state.bestEpoch == nil || FileManager.default.fileExists(atPath: best) {
          bestLoss = state.bestLoss
          bestEpoch = state.bestEpoch
        } else {
          observe(.note("\(best) is missing: the best epoch is tracked afresh from here"))
        }
      } else {
        for _ in 0..<firstEpoch { schedule.epochEnded(metric: nil) }
        observe(
          .note(
            "\(resume) has no trainer state of this run (schedule \(config.schedule)): the schedule's memory and "
              + "early stopping restart"))
      }
      observe(.note("resumed from \(resume) after epoch \(firstEpoch) (step \(steps), lr \(try model.learningRate()))"))
    } else {
      try model.setLearningRate(Float(config.optimizer.learningRate))
    }
    func recordState() throws {
      let state = TrainerState(
        step: try model.stepCount(), scheduleKind: "\(config.schedule)", rate: schedule.rate,
        epochsEnded: schedule.epochsEnded, plateauBest: schedule.best, plateauBadEpochs: schedule.badEpochs,
        bestLoss: bestLoss, bestEpoch: bestEpoch, badEpochs: badEpochs, history: history)
      try model.setCheckpointNote(try state.encoded())
    }
    try recordState()
    try model.saveCheckpoint(last)

    var stoppedEarly = false
    let validation = try data.samples.subset(data.validationIndices)
    let started = Date()
    for epoch in firstEpoch..<config.epochs {
      let rate = Double(try model.learningRate())
      let epochStart = Date()
      let order = SampleOrder.shuffled(count: data.trainingIndices.count, seed: config.seed, epoch: epoch)
        .prefix(samplesPerEpoch).map { data.trainingIndices[$0] }
      var total = 0.0
      var done = 0
      for (step, indices) in try SampleOrder.batches(order, batchSize: config.batchSize).enumerated() {
        let batch = try data.samples.subset(indices)
        let loss = try model.trainStep(inputs: [batch.inputs.data], targets: targets(batch), n: indices.count)
        guard loss.isFinite else {
          let kept = epoch == 0 ? "the weights before training" : "the weights after epoch \(epoch)"
          throw TrainingError(
            "the loss became \(loss.isNaN ? "NaN" : "infinite") in epoch \(epoch + 1), step \(step + 1) of "
              + "\(stepsPerEpoch) (lr \(Float(rate))); stopped, and kept the last good checkpoint \(last) (\(kept)); "
              + "try a smaller --lr")
        }
        total += Double(loss) * Double(indices.count)
        done += indices.count
        observe(
          .batch(
            BatchProgress(
              epoch: epoch + 1, epochs: config.epochs, samplesDone: done, samplesTotal: order.count,
              elapsed: Date().timeIntervalSince(epochStart), loss: total / Double(done))))
      }
      let seconds = Date().timeIntervalSince(epochStart)
      let trainLoss = total / Double(done)
      let measured = validation.count > 0 ? try evaluate(model, validation, loss: config.loss) : nil
      let monitored = measured?.loss ?? trainLoss
      try model.setLearningRate(Float(schedule.epochEnded(metric: measured?.accuracy)))
      let improved = monitored < bestLoss
      if improved {
        bestLoss = monitored
        bestEpoch = epoch + 1
        badEpochs = 0
      } else {
        badEpochs += 1
      }
      let record = EpochRecord(
        epoch: epoch + 1, trainLoss: trainLoss, validationLoss: measured?.loss, validationAccuracy: measured?.accuracy,
        learningRate: rate, samplesPerSecond: seconds > 0 ? Double(done) / seconds : 0,
        elapsed: Date().timeIntervalSince(started), isBest: improved)
      history.append(record)
      try recordState()
      try model.saveCheckpoint(last)
      if improved { try model.saveCheckpoint(best) }
      observe(.epoch(record))
      if let patience = config.earlyStoppingPatience, badEpochs >= patience, epoch + 1 < config.epochs {
        observe(
          .note(
            "early stopping: no better \(validation.count > 0 ? "validation" : "training") loss for \(patience) epochs")
        )
        stoppedEarly = true
        break
      }
    }

    if bestEpoch != nil { try model.loadCheckpoint(best) }
    let final = try evaluate(model, data.evaluation, loss: config.loss, classNames: data.classNames)
    let report = TrainingReport(
      network: graph.name, data: options.data.name, history: history, bestEpoch: bestEpoch, stoppedEarly: stoppedEarly,
      evaluationName: data.evaluationName, evaluationLoss: final.loss, metrics: final.metrics)
    try write(report, model: model, options: options, observe: observe)
    return report
  }

  /// Whether a batch norm of `graph` normalizes one value per channel (its input is [C]), so batch statistics
  /// need at least two samples.
  static func hasLoneValueBatchNorm(_ graph: Graph) -> Bool {
    graph.nodes.contains { node in
      // A batch norm's output has its input's shape.
      guard case .batchNorm = node.op, let type = node.type else { return false }
      return BatchNorm.needsTwoSamples(input: type)
    }
  }

  /// The targets of `batch` as the train step takes them.
  static func targets(_ batch: LabeledSamples) -> TrainingTargets {
    switch batch.targets {
    case .classes(let labels): return .classes(labels.data)
    case .values(let values): return .values(values.data)
    }
  }

  /// The loss, accuracy and (with class names) full metrics of the model's inference on `samples`, run in chunks
  /// of the module's max batch.
  static func evaluate(
    _ model: CompiledModel, _ samples: LabeledSamples, loss: LossKind, classNames: [String]? = nil
  ) throws -> (loss: Double, accuracy: Double?, metrics: ClassificationMetrics?) {
    let outputSize = model.interface.outputs[0].size
    var outputs: [Float] = []
    outputs.reserveCapacity(samples.count * outputSize)
    let width = samples.count == 0 ? 0 : samples.inputs.count / samples.count
    var start = 0
    while start < samples.count {
      let n = min(model.interface.maxBatch, samples.count - start)
      let chunk = Array(samples.inputs.data[start * width..<(start + n) * width])
      outputs += try model.infer([chunk], n: n)[0]
      start += n
    }
    let prediction = Tensor(shape: [samples.count, outputSize], data: outputs)
    let value = try ReferenceOps.loss(loss, prediction: prediction, target: samples.lossTarget)
    guard case .classes(let labels) = samples.targets else { return (value, nil, nil) }
    let metrics = try ClassificationMetrics(
      scores: prediction, actual: labels.data.map { Int($0) },
      classNames: classNames.flatMap { $0.count == outputSize ? $0 : nil })
    return (value, metrics.accuracy, metrics)
  }

  /// Writes `--out`, `--plot` and `--metrics`.
  static func write(
    _ report: TrainingReport, model: CompiledModel, options: TrainingOptions, observe: (TrainingEvent) -> Void
  ) throws {
    if let out = options.out {
      guard let interface = model.interface.training else { return }
      let values = try model.parameters()
      let tensors = interface.parameters.map { p in
        NamedTensor(p.name, .f32(Tensor(shape: p.dims, data: values[p.name] ?? [])))
      }
      try SafeTensors.write(tensors, metadata: ["format": "pt"], to: out)
      observe(.note("wrote \(out) (the weights of epoch \(report.bestEpoch.map(String.init) ?? "-"))"))
    }
    if let plot = options.plot {
      try report.chart.write(to: plot)
      observe(.note("wrote \(plot)"))
    }
    if let metrics = options.metrics {
      try AtomicFile.write(Array(try report.json().utf8), to: metrics)
      observe(.note("wrote \(metrics)"))
    }
  }
}
