// The update formulas of every optimizer, element by element in Double, exactly as torch.optim computes them.
import Foundation
import KilnIR

/// One optimizer update of one parameter at step `t` (1 for the first update), with learning rate γ = `learningRate`.
///
/// Notation: p parameter, g gradient (already regularized), t step, γ learning rate; every operation is per element.
/// Each case cites the `torch.optim` class whose algorithm box and `_single_tensor_*` code it follows.
struct UpdateRule {
  var optimizer: Optimizer
  var learningRate: Double
  var step: Int

  /// Applies the rule to `p` with gradient `g`, reading and updating the state `slots` (by PyTorch name).
  /// `ReferenceOptimizer` guarantees every slot of `Optimizer.stateSlotNames` is present and shaped like `p`.
  func apply(_ p: inout [Double], _ g: [Double], _ slots: inout [String: [Double]]) {
    let lr = learningRate
    let t = Double(step)
    switch optimizer {
    case .sgd(_, let momentum, let dampening, let nesterov):
      // SGD: if μ ≠ 0, b ← g on the first step, else b ← μ·b + (1 − τ)·g (τ dampening);
      //      then g ← g + μ·b (Nesterov) or g ← b; finally p ← p − γ·g.
      guard momentum != 0 else {
        for i in p.indices { p[i] -= lr * g[i] }
        return
      }
      var b = slots["momentum_buffer"]!
      for i in p.indices {
        b[i] = step == 1 ? g[i] : momentum * b[i] + (1 - dampening) * g[i]
        let direction = nesterov ? g[i] + momentum * b[i] : b[i]
        p[i] -= lr * direction
      }
      slots["momentum_buffer"] = b

    case .adagrad(_, let eps):
      // Adagrad (lr_decay 0, initial_accumulator_value 0): s ← s + g²; p ← p − γ·g / (√s + ε).
      var s = slots["sum"]!
      for i in p.indices {
        s[i] += g[i] * g[i]
        p[i] -= lr * g[i] / (s[i].squareRoot() + eps)
      }
      slots["sum"] = s

    case .rmsprop(_, let alpha, let eps, let momentum):
      // RMSprop (centered false): v ← α·v + (1 − α)·g²; d ← √v + ε;
      //   μ > 0: b ← μ·b + g/d, p ← p − γ·b;  otherwise p ← p − γ·g/d.
      var v = slots["square_avg"]!
      var b = slots["momentum_buffer"] ?? []
      for i in p.indices {
        v[i] = alpha * v[i] + (1 - alpha) * g[i] * g[i]
        let d = v[i].squareRoot() + eps
        if momentum > 0 {
          b[i] = momentum * b[i] + g[i] / d
          p[i] -= lr * b[i]
        } else {
          p[i] -= lr * g[i] / d
        }
      }
      slots["square_avg"] = v
      if momentum > 0 { slots["momentum_buffer"] = b }

    case .adadelta(_, let rho, let eps):
      // Adadelta: v ← ρ·v + (1 − ρ)·g²; Δ ← √(u + ε) / √(v + ε) · g; u ← ρ·u + (1 − ρ)·Δ²; p ← p − γ·Δ
      // (v square_avg, u acc_delta; Δ uses u from before this step).
      var v = slots["square_avg"]!
      var u = slots["acc_delta"]!
      for i in p.indices {
        v[i] = rho * v[i] + (1 - rho) * g[i] * g[i]
        let delta = (u[i] + eps).squareRoot() / (v[i] + eps).squareRoot() * g[i]
        u[i] = rho * u[i] + (1 - rho) * delta * delta
        p[i] -= lr * delta
      }
      slots["square_avg"] = v
      slots["acc_delta"] = u

    case .adam(_, let beta1, let beta2, let eps, let amsgrad), .adamw(_, let beta1, let beta2, let eps, let amsgrad):
      // Adam / AdamW (their decay differs, see ReferenceOptimizer): m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²;
      //   AMSGrad: v̂ ← max(v̂, v) and v̂ replaces v below;
      //   p ← p − (γ / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε).
      var m = slots["exp_avg"]!
      var v = slots["exp_avg_sq"]!
      var vMax = slots["max_exp_avg_sq"] ?? []
      let stepSize = lr / (1 - pow(beta1, t))
      let correction2 = (1 - pow(beta2, t)).squareRoot()
      for i in p.indices {
        m[i] = beta1 * m[i] + (1 - beta1) * g[i]
        v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
        var second = v[i]
        if amsgrad {
          vMax[i] = max(vMax[i], v[i])
          second = vMax[i]
        }
        p[i] -= stepSize * m[i] / (second.squareRoot() / correction2 + eps)
      }
      slots["exp_avg"] = m
      slots["exp_avg_sq"] = v
      if amsgrad { slots["max_exp_avg_sq"] = vMax }

    case .adamax(_, let beta1, let beta2, let eps):
      // Adamax: m ← β1·m + (1 − β1)·g; u ← max(β2·u, |g| + ε); p ← p − (γ / (1 − β1ᵗ)) · m / u.
      var m = slots["exp_avg"]!
      var u = slots["exp_inf"]!
      let stepSize = lr / (1 - pow(beta1, t))
      for i in p.indices {
        m[i] = beta1 * m[i] + (1 - beta1) * g[i]
        u[i] = max(beta2 * u[i], abs(g[i]) + eps)
        p[i] -= stepSize * m[i] / u[i]
      }
      slots["exp_avg"] = m
      slots["exp_inf"] = u

    case .nadam(_, let beta1, let beta2, let eps):
      // NAdam (momentum_decay ψ = 4e-3): μₜ = β1·(1 − ½·0.96^(t·ψ)), μₜ₊₁ likewise at t + 1; Π ← Π·μₜ (mu_product,
      //   kept as float32 as PyTorch keeps it); m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²;
      //   d = √(v / (1 − β2ᵗ)) + ε;
      //   p ← p − γ·(1 − μₜ)/(1 − Π) · g/d − γ·μₜ₊₁/(1 − Π·μₜ₊₁) · m/d.
      let psi = Optimizer.nadamMomentumDecay
      let mu = beta1 * (1 - 0.5 * pow(0.96, t * psi))
      let muNext = beta1 * (1 - 0.5 * pow(0.96, (t + 1) * psi))
      let product = Double(Float(slots["mu_product"]![0] * mu))
      slots["mu_product"] = [product]
      var m = slots["exp_avg"]!
      var v = slots["exp_avg_sq"]!
      let correction2 = 1 - pow(beta2, t)
      let gradientScale = lr * (1 - mu) / (1 - product)
      let momentumScale = lr * muNext / (1 - product * muNext)
      for i in p.indices {
        m[i] = beta1 * m[i] + (1 - beta1) * g[i]
        v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
        let d = (v[i] / correction2).squareRoot() + eps
        p[i] -= gradientScale * g[i] / d
        p[i] -= momentumScale * m[i] / d
      }
      slots["exp_avg"] = m
      slots["exp_avg_sq"] = v
    }
  }
}
