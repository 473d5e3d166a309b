// Source tensors (what weight files hold) → kernel tensors (what kernels read), for graphs with folded batch norms.
import Foundation
import KilnIR

/// One batch norm folded into a layer: which tensors the fold reads and writes, and their sizes.
public struct ParameterFold: Hashable, Sendable {
  /// The conv or dense layer: its kernel reads the folded `<layer>.weight` and `<layer>.bias`.
  public var layer: String
  /// The batch norm whose `.weight` (γ), `.bias` (β), `.running_mean` (μ), `.running_var` (σ²) are folded in.
  public var batchNorm: String
  public var epsilon: Double
  /// Whether the source holds `<layer>.bias` (else b = 0).
  public var sourceBias: Bool
  /// Output channels (conv filters, dense units).
  public var channels: Int
  /// Weights of one output channel: in/groups·kh·kw for a conv, in for a dense layer.
  public var weightsPerChannel: Int

  var weightName: String { "\(layer).weight" }
  var biasName: String { "\(layer).bias" }
  var gammaName: String { "\(batchNorm).weight" }
  var betaName: String { "\(batchNorm).bias" }
  var meanName: String { "\(batchNorm).running_mean" }
  var varianceName: String { "\(batchNorm).running_var" }
}

/// Why kernel parameters cannot be prepared from the source tensors given.
public struct PreparationError: Error, CustomStringConvertible, Sendable {
  public var description: String
}

extension Graph {
  /// The batch norms fold-batchnorm folded into this graph's layers, in node order. Requires inferred types.
  public func parameterFolds() -> [ParameterFold] {
    nodes.compactMap { n in
      let kernel = n.kernelParameters(inputTypes: n.inputs.compactMap { self[$0].type })
      guard let weight = kernel.first, weight.kind == .weight else { return nil }
      let channels = weight.dims.first ?? 0
      let perChannel = channels > 0 ? weight.elementCount / channels : 0
      let fold: FoldedBatchNorm?
      switch n.op {
      case .conv2d(let c): fold = c.foldedBatchNorm
      case .dense(let d): fold = d.foldedBatchNorm
      default: fold = nil
      }
      return fold.map {
        ParameterFold(
          layer: n.name, batchNorm: $0.name, epsilon: $0.epsilon, sourceBias: $0.sourceBias, channels: channels,
          weightsPerChannel: perChannel)
      }
    }
  }

  /// The tensors this graph's kernels (and the interpreter running it) read, from the tensors a weights file
  /// holds for it (`parameters()`): folded weights and biases are computed, everything else is passed through.
  /// - Throws: `PreparationError` naming a missing or mis-sized tensor.
  public func kernelTensors(from sources: [String: Tensor]) throws(PreparationError) -> [String: Tensor] {
    let values = try ParameterPreparation.kernelValues(
      from: sources.mapValues(\.data), kernel: kernelParameters(), folds: parameterFolds())
    var result: [String: Tensor] = [:]
    for spec in kernelParameters() { result[spec.name] = Tensor(shape: spec.dims, data: values[spec.name] ?? []) }
    return result
  }
}

/// Computes kernel tensors from source tensors; `<name>_prepare` in the generated C does the same.
public enum ParameterPreparation {
  /// The values of every `kernel` tensor: a folded weight or bias from its fold, anything else copied from
  /// the source of the same name.
  ///
  /// The fold, per output channel c, in Double and rounded to float once:
  ///
  ///     s_c  = γ_c / √(σ²_c + ε)
  ///     W'_c = W_c · s_c                (each of the channel's weightsPerChannel weights)
  ///     b'_c = (b_c − μ_c) · s_c + β_c  (b_c = 0 when the layer had no bias)
  ///
  /// - Throws: `PreparationError` naming a source tensor that is missing or has the wrong number of floats.
  public static func kernelValues(
    from sources: [String: [Float]], kernel: [ParameterSpec], folds: [ParameterFold]
  ) throws(PreparationError) -> [String: [Float]] {
    func source(_ name: String, _ count: Int) throws(PreparationError) -> [Float] {
      guard let v = sources[name] else {
        throw PreparationError(description: "no values for parameter '\(name)' (\(count) floats expected)")
      }
      guard v.count == count else {
        throw PreparationError(description: "parameter '\(name)' has \(v.count) floats, expected \(count)")
      }
      return v
    }
    var result: [String: [Float]] = [:]
    for f in folds {
      let (n, k) = (f.channels, f.weightsPerChannel)
      let w = try source(f.weightName, n * k)
      let b = f.sourceBias ? try source(f.biasName, n) : [Float](repeating: 0, count: n)
      let (gamma, beta) = (try source(f.gammaName, n), try source(f.betaName, n))
      let (mean, variance) = (try source(f.meanName, n), try source(f.varianceName, n))
      var folded = [Float](repeating: 0, count: n * k)
      var bias = [Float](repeating: 0, count: n)
      for c in 0..<n {
        let scale = Double(gamma[c]) / (Double(variance[c]) + f.epsilon).squareRoot()
        for i in (c * k)..<((c + 1) * k) { folded[i] = Float(Double(w[i]) * scale) }
        bias[c] = Float((Double(b[c]) - Double(mean[c])) * scale + Double(beta[c]))
      }
      result[f.weightName] = folded
      result[f.biasName] = bias
    }
    for spec in kernel where result[spec.name] == nil {
      result[spec.name] = try source(spec.name, spec.elementCount)
    }
    return result
  }
}
