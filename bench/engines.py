# One engine at one thread count, in its own process: times inference (and training) and saves the outputs.
"""Worker of bench/run: python engines.py ENGINE THREADS PHASE WORK_DIR NETWORKS... [--min-time S]
  [--min-reps N] [--max-time S] [--warmup S]

ENGINE is kiln, ort or torch; PHASE is infer or train. Each (engine, threads, phase) runs in a fresh process,
so thread pools are set once and the engines' OpenMP runtimes never meet (kiln's process imports no torch).
Only the calls themselves are timed, one perf_counter_ns pair around each, after a warm-up; nothing of
process start, imports, library loading or weight loading is counted.

infer: for each network, batch-1 latency on WORK/<net>/input1.npy and batch-64 time on input64.npy; the
  outputs of those two calls are saved as WORK/out/<engine>-t<threads>-<net>-b{1,64}.npy for the parent to
  compare. Kiln runs WORK/<net>/kiln/lib<net>.so (compiled by the parent with --weights) and loads the same
  safetensors again through <net>_load_weights; ORT runs WORK/<net>/model.onnx; PyTorch runs bench/models.py
  with the safetensors weights, in eval mode under torch.inference_mode().
train: for each network, SGD momentum 0.9 lr 0.01 steps on batch 64 with softmax cross-entropy, cycling
  over WORK/<net>/train_x.npy / train_y.npy (a fixed pool of random batches). Kiln calls <net>_train_step
  of WORK/<net>/kiln-train/lib<net>.so; PyTorch runs zero_grad, forward, loss, backward and step.
Prints one JSON object: {"load_1min", "inference": [...], "training": [...]}, each row with the median, min
and max of the per-call times.
"""
import ctypes
import json
import os
import re
import statistics
import sys
import time

import numpy as np


def measure(call, timing):
  """Times call() repeatedly: a warm-up of timing["warmup"] s (at least 3 calls), then until at least
  timing["min_reps"] calls and timing["min_time"] s are done, or, for slow calls (a loaded machine), until
  timing["max_time"] s are spent on at least 10 calls. Returns the per-call times in µs."""
  start = time.perf_counter()
  warm = 0
  while warm < 3 or time.perf_counter() - start < timing["warmup"]:
    call()
    warm += 1
  times = []
  total = 0.0
  while (len(times) < timing["min_reps"] or total < timing["min_time"]) and \
      (len(times) < 10 or total < timing["max_time"]):
    t0 = time.perf_counter_ns()
    call()
    elapsed = (time.perf_counter_ns() - t0) / 1000.0
    times.append(elapsed)
    total += elapsed / 1e6
  return times


def summary(times_us):
  """Median, min and max of per-call times (µs), and the count."""
  return {"median_us": statistics.median(times_us), "min_us": min(times_us), "max_us": max(times_us),
          "reps": len(times_us)}


class KilnModel:
  """A Kiln-generated library loaded with ctypes: <net>_create, _load_weights, _set_threads, _infer and,
  for a --train build, _train_step. Every failing status raises with the module's own message."""

  def __init__(self, lib_path, name, weights, threads):
    self.lib = ctypes.CDLL(lib_path)
    self.name = name
    fn = lambda suffix: getattr(self.lib, f"{name}_{suffix}")
    fn("create").restype = ctypes.c_void_p
    fn("create").argtypes = []
    fn("last_error").restype = ctypes.c_char_p
    fn("last_error").argtypes = [ctypes.c_void_p]
    fn("load_weights").argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    fn("set_threads").argtypes = [ctypes.c_void_p, ctypes.c_int]
    fn("infer").argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    if hasattr(self.lib, f"{name}_train_step"):
      fn("train_step").argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    self.ctx = fn("create")()
    if not self.ctx:
      raise RuntimeError(f"{lib_path}: {name}_create returned NULL")
    self.check(fn("load_weights")(self.ctx, weights.encode()), "load_weights")
    self.check(fn("set_threads")(self.ctx, threads), "set_threads")
    self._infer = fn("infer")
    self._train = getattr(self.lib, f"{name}_train_step", None)

  def check(self, rc, what):
    """Raises naming the call and the module's last error when rc is a failure status."""
    if rc != 0:
      detail = getattr(self.lib, f"{self.name}_last_error")(self.ctx).decode()
      raise RuntimeError(f"{self.name}_{what} failed with status {rc}: {detail}")

  def infer_fn(self, x, out):
    """A no-argument callable running x (contiguous float32, batch first) into out."""
    px, po, n, call, ctx = x.ctypes.data, out.ctypes.data, x.shape[0], self._infer, self.ctx
    def run():
      rc = call(ctx, px, n, po)
      if rc != 0:
        self.check(rc, "infer")
    # The callable holds raw pointers into x and out: it keeps the arrays alive too, or a caller that drops
    # them would have Kiln write into freed memory (a reproducer that did corrupted the heap).
    run.arrays = (x, out)
    return run

  def train_fn(self, xs, ys, losses):
    """A no-argument callable taking one SGD step on the next batch of the pool (xs[i], ys[i]); the batch's
    loss goes to losses."""
    pointers = [(x.ctypes.data, y.ctypes.data) for x, y in zip(xs, ys)]
    loss = ctypes.c_float()
    ploss = ctypes.addressof(loss)
    state = {"i": 0}
    call, ctx, n = self._train, self.ctx, xs[0].shape[0]
    def run():
      px, py = pointers[state["i"] % len(pointers)]
      state["i"] += 1
      rc = call(ctx, px, py, n, ploss)
      if rc != 0:
        self.check(rc, "train_step")
      losses.append(loss.value)
    return run


def output_size(header, net):
  """The per-sample output size the generated header declares (#define <NET>_OUTPUT_SIZE n)."""
  with open(header) as f:
    match = re.search(rf"#define {net.upper()}_OUTPUT_SIZE (\d+)", f.read())
  if not match:
    raise RuntimeError(f"{header}: no {net.upper()}_OUTPUT_SIZE")
  return int(match.group(1))


def load_torch_model(net, weights):
  """bench/models.py's twin of `net` with the safetensors weights loaded strictly."""
  import safetensors.torch
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  import models
  model = models.CLASSES[net]()
  model.load_state_dict(safetensors.torch.load_file(weights), strict=True)
  return model


def infer_callables(engine, net, work, threads, x1, x64):
  """(batch-1 callable, batch-64 callable, function returning both outputs) for one engine and network."""
  weights = os.path.join(work, net, "weights.safetensors")
  if engine == "kiln":
    folder = os.path.join(work, net, "kiln")
    model = KilnModel(os.path.join(folder, f"lib{net}.so"), net, weights, threads)
    classes = output_size(os.path.join(folder, f"{net}.h"), net)
    o1 = np.zeros((1, classes), np.float32)
    o64 = np.zeros((x64.shape[0], classes), np.float32)
    return model.infer_fn(x1, o1), model.infer_fn(x64, o64), lambda: (o1, o64)
  if engine == "ort":
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(os.path.join(work, net, "model.onnx"), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    out = {}
    def run(key, x):
      def call():
        out[key] = session.run(None, {name: x})[0]
      return call
    return run(1, x1), run(64, x64), lambda: (out[1], out[64])
  import torch
  model = load_torch_model(net, weights).eval()
  t1, t64 = torch.from_numpy(x1), torch.from_numpy(x64)
  out = {}
  def run(key, x):
    def call():
      with torch.inference_mode():
        out[key] = model(x)
    return call
  return run(1, t1), run(64, t64), lambda: (out[1].numpy(), out[64].numpy())


def train_callable(engine, net, work, threads, losses):
  """A callable taking one training step (batch 64, SGD momentum 0.9 lr 0.01) on the next pooled batch."""
  weights = os.path.join(work, net, "weights.safetensors")
  xs = list(np.load(os.path.join(work, net, "train_x.npy")))
  ys = list(np.load(os.path.join(work, net, "train_y.npy")))
  if engine == "kiln":
    model = KilnModel(os.path.join(work, net, "kiln-train", f"lib{net}.so"), net, weights, threads)
    xs = [np.ascontiguousarray(x, np.float32) for x in xs]
    ys = [np.ascontiguousarray(y, np.int64) for y in ys]
    # The callable holds raw pointers into xs and ys: the returned tuple keeps them alive.
    return model.train_fn(xs, ys, losses), (model, xs, ys)
  import torch
  model = load_torch_model(net, weights).train()
  loss_fn = torch.nn.CrossEntropyLoss()
  opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
  tx = [torch.from_numpy(np.ascontiguousarray(x)) for x in xs]
  ty = [torch.from_numpy(np.ascontiguousarray(y)) for y in ys]
  state = {"i": 0}
  def step():
    i = state["i"] % len(tx)
    state["i"] += 1
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model(tx[i]), ty[i])
    loss.backward()
    opt.step()
    losses.append(loss.item())
  return step, model


def main():
  args = sys.argv[1:]
  timing = {"min_time": 1.0, "min_reps": 30, "max_time": 8.0, "warmup": 0.3}
  for key in list(timing):
    flag = "--" + key.replace("_", "-")
    if flag in args:
      i = args.index(flag)
      timing[key] = float(args[i + 1])
      del args[i:i + 2]
  engine, threads, phase, work, *nets = args
  threads = int(threads)
  if engine == "torch":
    import torch
    torch.set_num_threads(threads)
  # The machine's 1-minute load average as this process starts: how much else was running.
  result = {"load_1min": os.getloadavg()[0], "inference": [], "training": []}
  out_dir = os.path.join(work, "out")
  os.makedirs(out_dir, exist_ok=True)
  for net in nets:
    if phase == "infer":
      x1 = np.ascontiguousarray(np.load(os.path.join(work, net, "input1.npy")))
      x64 = np.ascontiguousarray(np.load(os.path.join(work, net, "input64.npy")))
      run1, run64, outputs = infer_callables(engine, net, work, threads, x1, x64)
      for batch, call in ((1, run1), (64, run64)):
        times = measure(call, timing)
        result["inference"].append({"network": net, "engine": engine, "threads": threads, "batch": batch,
                                    **summary(times)})
      # The last timed calls ran on these inputs: their outputs are what the parent compares.
      o1, o64 = outputs()
      np.save(os.path.join(out_dir, f"{engine}-t{threads}-{net}-b1.npy"), np.array(o1, np.float32))
      np.save(os.path.join(out_dir, f"{engine}-t{threads}-{net}-b64.npy"), np.array(o64, np.float32))
    else:
      losses = []
      step, keep = train_callable(engine, net, work, threads, losses)
      times = measure(step, timing)
      # losses[0] is of the first (warm-up) step: both engines take it from the same weights and batch.
      result["training"].append({"network": net, "engine": engine, "threads": threads, "batch": 64,
                                 "first_loss": losses[0], "last_loss": losses[-1], "steps": len(losses),
                                 **summary(times)})
      del keep
    print(f"  {engine} t{threads} {phase} {net} done", file=sys.stderr, flush=True)
  print(json.dumps(result))


if __name__ == "__main__":
  main()
