// Which kernel computes each lowered step: the one place that maps ops to kernel builders.
import KilnIR
import KilnPasses

/// Chooses and renders the kernel of each step.
public enum KernelCatalog {
  /// The kernel for `step`, named `step.kernelName`, with `template` saying which variant it is.
  public static func kernel(for step: Step, program: Program, options: KernelOptions) throws -> KernelFunction {
    var kernel = try render(step, program: program, options: options)
    // Training kernels (gradients, optimizer steps, training-mode forwards) name their template themselves.
    if kernel.template.isEmpty { kernel.template = template(of: step.op, usesBLAS: kernel.usesBLAS) }
    return kernel
  }

  /// The template a kernel of `op` renders. Conv and dense have two: the OpenBLAS one exactly when the kernel
  /// calls OpenBLAS (the builders choose; a depthwise conv takes the direct loops even with OpenBLAS on).
  static func template(of op: Op, usesBLAS: Bool) -> String {
    switch op {
    case .dense: return usesBLAS ? DenseBLASContext.template : DenseLoopsContext.template
    case .conv2d: return usesBLAS ? Conv2DGemmContext.template : Conv2DDirectContext.template
    case .maxPool: return MaxPoolContext.template
    case .avgPool: return AvgPoolContext.template
    case .globalAvgPool: return GlobalAvgPoolContext.template
    case .batchNorm: return BatchNormContext.template
    case .lrn: return LRNContext.template
    case .activation(let a) where a.isElementwise: return ActivationContext.template
    case .activation: return SoftmaxContext.template
    case .concat: return ConcatContext.template
    case .add, .mul: return ElementwiseBinaryContext.template
    case .input, .flatten, .reshape, .dropout, .loss, .gradient, .optimizerStep: return ""
    }
  }

  /// The builder call of `step`'s op.
  static func render(_ step: Step, program: Program, options: KernelOptions) throws -> KernelFunction {
    let name = step.kernelName
    let x = step.inputTypes.first ?? step.outputType
    switch step.op {
    case .dense(let d):
      return DenseKernel.make(name: name, layer: step.layer, dense: d, inFeatures: x.elementCount, options: options)
    case .conv2d(let c):
      return Conv2DKernel.make(name: name, layer: step.layer, conv: c, input: x, options: options)
    case .maxPool(let p):
      return try PoolKernel.make(name: name, max: true, pool: p, input: x)
    case .avgPool(let p):
      return try PoolKernel.make(name: name, max: false, pool: p, input: x)
    case .globalAvgPool:
      return try GlobalAvgPoolKernel.make(name: name, input: x)
    case .batchNorm(let b) where options.training:
      return try BatchNormTrainingKernel.make(name: name, layer: step.layer, batchNorm: b, input: x)
    case .batchNorm(let b):
      return try BatchNormKernel.make(name: name, layer: step.layer, batchNorm: b, input: x, activation: .identity)
    case .lrn(let l):
      return try LRNKernel.make(name: name, lrn: l, input: x)
    case .activation(let a) where a.isElementwise:
      return try ActivationKernel.make(name: name, activation: a, perSample: x.elementCount)
    case .activation(let a):
      return try SoftmaxKernel.make(name: name, log: a == .logSoftmax, input: x)
    case .concat:
      return try ConcatKernel.make(name: name, inputs: step.inputTypes)
    case .add, .mul:
      return ElementwiseBinaryKernel.make(name: name, op: step.op, perSample: x.elementCount)
    case .dropout(let rate) where options.training:
      return try DropoutTrainingKernel.make(name: name, layer: step.layer, rate: rate, perSample: x.elementCount)
    case .loss(let kind) where options.training:
      return try LossKernel.make(name: name, kind: kind, prediction: x, target: step.inputTypes.last ?? x)
    case .input, .flatten, .reshape, .dropout, .loss:
      throw EmitError("no kernel for \(step.op.name) '\(step.layer)': lowering should have removed it")
    case .gradient(let g) where DenseGradientKernel.differentiates(g):
      return try DenseGradientKernel.make(name: name, gradient: g, options: options)
    case .gradient(let g) where Conv2DGradientKernel.differentiates(g):
      return try Conv2DGradientKernel.make(name: name, gradient: g, options: options)
    case .optimizerStep(let s): return try OptimizerStepKernel.make(name: step.kernelName, step: s, options: options)
    case .gradient(let g) where !GradientKernels.isDenseOrConv(g.forward):
      return try GradientKernels.make(
        name: name, gradient: g, inputTypes: step.inputTypes, outputType: step.outputType, options: options)
    case .gradient(let g):
      throw EmitError("no C kernel for the gradient of \(g.forward.name) '\(g.forwardName)' toward \(g.target)")
    }
  }
}
