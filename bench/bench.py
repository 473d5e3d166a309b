# The side-by-side benchmark's driver: prepares weights, ONNX and inputs, runs every engine, writes results.json.
"""Driver of bench/run (run with bench/.venv's python): python bench.py KILN OUT_JSON [--quick]

1. For each network, builds bench/models.py's twin from a fixed seed, saves its state_dict as safetensors,
   exports ONNX (opset 17, dynamic batch) from the same model, and draws the inputs (batch 1 and 64) and a
   pool of 8 random training batches (inputs and labels), all saved in bench/.work/<net>/.
2. Compiles each spec with `kiln compile --weights` (the round trip: Kiln must accept the PyTorch names and
   layouts), and for training a copy of the spec whose train section is replaced by the benchmark's (SGD
   lr 0.01 momentum 0.9, batch 64, softmax cross-entropy, no weight decay or schedule) with --train.
3. Runs bench/engines.py once per (phase, engine, threads), one after another: inference for Kiln, ONNX
   Runtime and PyTorch at 1 and 2 threads, then training for Kiln and PyTorch at 1 and 2 threads.
4. Compares the saved outputs (largest absolute and relative difference of every pair of engines; whether
   Kiln's 1- and 2-thread outputs are bit-identical) and times `kiln compile` of LeNet-5 and ResNet-50
   (bench/compile_time.py, an empty build cache each time, probe records kept).
Writes everything, with the machine and package versions, to OUT_JSON; bench/report.py renders it.
"""
import json
import os
import platform
import re
import subprocess
import sys
import time
import warnings

import numpy as np
import safetensors.torch
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import models  # noqa: E402

TRAIN_SECTION = """train {
  loss: softmax_cross_entropy(logits, labels)
  optimizer: sgd(lr: 0.01, momentum: 0.9)
  batch: 64
}
"""
TRAIN_POOL = 8


def log(message):
  print(message, file=sys.stderr, flush=True)


def run(command, **kwargs):
  """Runs command, exiting with its output when it fails; returns its standard output."""
  done = subprocess.run(command, capture_output=True, text=True, **kwargs)
  if done.returncode != 0:
    sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stdout}{done.stderr}")
  return done.stdout


def prepare(net, work, seed=0):
  """Weights, ONNX, inputs and the training pool of one network (everything every engine reads)."""
  folder = os.path.join(work, net)
  os.makedirs(folder, exist_ok=True)
  model = models.build(net, seed)
  state = {k: v.contiguous() for k, v in model.state_dict().items()}
  safetensors.torch.save_file(state, os.path.join(folder, "weights.safetensors"))
  shape = models.NETWORKS[net]
  rng = np.random.default_rng(seed + 1)
  x64 = rng.standard_normal((64, *shape), dtype=np.float32)
  np.save(os.path.join(folder, "input64.npy"), x64)
  np.save(os.path.join(folder, "input1.npy"), np.ascontiguousarray(x64[:1]))
  np.save(os.path.join(folder, "train_x.npy"), rng.standard_normal((TRAIN_POOL, 64, *shape), dtype=np.float32))
  np.save(os.path.join(folder, "train_y.npy"), rng.integers(0, 10, (TRAIN_POOL, 64), dtype=np.int64))
  example = torch.from_numpy(x64[:1])
  # The TorchScript exporter (dynamo=False): the torch.export-based default needs onnxscript, which the
  # benchmark does not install. Exporting in eval mode, it folds each BatchNorm into the conv before it (as
  # Kiln's fold-batchnorm does), so ONNX Runtime gets only Conv, Relu, MaxPool, Add, GlobalAveragePool,
  # Flatten and Gemm nodes.
  warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export")
  torch.onnx.export(model, (example,), os.path.join(folder, "model.onnx"), opset_version=17,
                    input_names=["input"], output_names=["logits"],
                    dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, dynamo=False)


def train_spec(net, work):
  """A copy of examples/<net>.kiln with the benchmark's train section instead of its own."""
  with open(os.path.join(ROOT, "examples", f"{net}.kiln")) as f:
    text = f.read()
  text = re.sub(r"^train\s*\{.*?^\}\s*", "", text, flags=re.M | re.S).rstrip() + "\n\n" + TRAIN_SECTION
  path = os.path.join(work, net, "train.kiln")
  with open(path, "w") as f:
    f.write(text)
  return path


def compile_kiln(kiln, net, work, train):
  """kiln compile (--train) of one network with the benchmark's weights."""
  folder = os.path.join(work, net)
  weights = os.path.join(folder, "weights.safetensors")
  env = dict(os.environ, KILN_CACHE_DIR=os.path.join(work, "kiln-cache"))
  spec = os.path.join(ROOT, "examples", f"{net}.kiln")
  run([kiln, "compile", spec, "--weights", weights, "-o", os.path.join(folder, "kiln")], env=env)
  if train:
    run([kiln, "compile", train_spec(net, work), "--train", "--batch", "64", "--weights", weights,
         "-o", os.path.join(folder, "kiln-train")], env=env)


def worker(engine, threads, phase, work, nets, timing):
  """One engines.py process; returns its JSON. OpenMP and OpenBLAS see the thread count in the environment
  too (OpenBLAS single-threaded: Kiln's modules call openblas_set_num_threads(1) themselves)."""
  env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1")
  flags = [item for key, value in timing.items() for item in ("--" + key.replace("_", "-"), str(value))]
  command = [sys.executable, os.path.join(HERE, "engines.py"), engine, str(threads), phase, work, *nets, *flags]
  return json.loads(run(command, env=env).strip().splitlines()[-1])


def difference(a, b):
  """Largest |a - b|, and that divided by the largest |b| (the reference's scale)."""
  delta = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
  return delta, delta / max(float(np.max(np.abs(b))), 1e-30)


def compare(work, nets):
  """Every pair of engines' 1-thread outputs (batch 1 and 64 together), and Kiln's 1 vs 2 threads."""
  out = os.path.join(work, "out")
  load = lambda engine, t, net, b: np.load(os.path.join(out, f"{engine}-t{t}-{net}-b{b}.npy"))
  rows, identical = [], {}
  for net in nets:
    outputs = {e: np.concatenate([load(e, 1, net, 1).ravel(), load(e, 1, net, 64).ravel()])
               for e in ("kiln", "ort", "torch")}
    for a, b in (("kiln", "ort"), ("kiln", "torch"), ("ort", "torch")):
      absolute, relative = difference(outputs[a], outputs[b])
      rows.append({"network": net, "a": a, "b": b, "max_abs": absolute, "max_rel": relative})
    identical[net] = all(np.array_equal(load("kiln", 1, net, b), load("kiln", 2, net, b)) for b in (1, 64))
  return rows, identical


def machine():
  """CPU, cores, load, and the versions of everything measured."""
  def first(command, pattern=None):
    try:
      text = subprocess.run(command, capture_output=True, text=True).stdout
    except OSError:
      return "unknown"
    if pattern:
      match = re.search(pattern, text, re.M)
      return match.group(1).strip() if match else "unknown"
    return text.strip().splitlines()[0] if text.strip() else "unknown"
  import onnx
  import onnxruntime
  blas = first(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", "libopenblas0-pthread", "libopenblas0",
                "libopenblas-dev"])
  return {
    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    "cpu": first(["lscpu"], r"^Model name:\s*(.+)$"),
    "cpu_family_model": first(["lscpu"], r"^CPU family:\s*(\d+)") + "/" + first(["lscpu"], r"^Model:\s*(\d+)"),
    "avx512f": "avx512f" in first(["lscpu"], r"^Flags:\s*(.+)$").split(),
    "avx2": "avx2" in first(["lscpu"], r"^Flags:\s*(.+)$").split(),
    "cores": os.cpu_count(),
    "load_before": os.environ.get("KILN_BENCH_LOAD_BEFORE", "").strip() or first(["uptime"]),
    "load_at_start": first(["uptime"]),
    "versions": {
      "kiln": first(["git", "-C", ROOT, "describe", "--always", "--dirty"]),
      "torch": torch.__version__, "onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__,
      "numpy": np.__version__, "safetensors": safetensors.__version__,
      "python": platform.python_version(), "gcc": first(["gcc", "--version"]), "openblas": blas,
    },
  }


def best_rounds(rows, keys):
  """Per configuration (the values of `keys`), the row of the round with the lowest median, carrying every
  round's median in `round_medians_us` (in round order)."""
  best, medians = {}, {}
  for row in rows:
    key = tuple(row[k] for k in keys)
    medians.setdefault(key, []).append(row["median_us"])
    if key not in best or row["median_us"] < best[key]["median_us"]:
      best[key] = row
  return [dict(row, round_medians_us=medians[key]) for key, row in best.items()]


def main():
  kiln, out_json = sys.argv[1], sys.argv[2]
  quick = "--quick" in sys.argv[3:]
  work = os.path.join(HERE, ".work")
  os.makedirs(work, exist_ok=True)
  info = machine()
  log(f"load when bench/run started: {info['load_before']}; now: {info['load_at_start']}")
  nets = ["mlp_784_512_256_10", "lenet5"] if quick else list(models.NETWORKS)
  timing = ({"min_time": 0.2, "min_reps": 10, "max_time": 2.0, "warmup": 0.05} if quick
            else {"min_time": 1.0, "min_reps": 30, "max_time": 8.0, "warmup": 0.3})
  started = time.time()
  for net in nets:
    log(f"prepare {net}: weights, ONNX, inputs; kiln compile --weights (and --train)")
    prepare(net, work)
    compile_kiln(kiln, net, work, train=True)
  results = {"machine": info, "quick": quick, "timing": timing, "networks": nets,
             "inference": [], "training": [], "worker_load": []}
  # Rounds: every (engine, threads) process runs once per round, the engines in the opposite order in the
  # next round, so a slow spell of this shared host falls on different engines. Each configuration keeps
  # the round with the lowest median (the least disturbed), and records every round's median.
  rounds = 1 if quick else 3
  results["rounds"] = rounds
  for round_index in range(rounds):
    for phase, engines in (("infer", ("kiln", "ort", "torch")), ("train", ("kiln", "torch"))):
      for engine in (engines if round_index % 2 == 0 else tuple(reversed(engines))):
        for threads in (1, 2):
          log(f"round {round_index + 1}/{rounds}, {phase}: {engine}, {threads} thread(s)")
          done = worker(engine, threads, phase, work, nets, timing)
          results["inference"] += done["inference"]
          results["training"] += done["training"]
          results["worker_load"].append({"round": round_index + 1, "phase": phase, "engine": engine,
                                         "threads": threads, "load_1min": done["load_1min"]})
  results["inference"] = best_rounds(results["inference"], ("network", "engine", "threads", "batch"))
  results["training"] = best_rounds(results["training"], ("network", "engine", "threads"))
  results["differences"], results["kiln_threads_bit_identical"] = compare(work, nets)
  results["compile"] = []
  specs = [(os.path.join(ROOT, "examples", "lenet5.kiln"), 1 if quick else 3),
           (os.path.join(HERE, "nets", "resnet50.kiln"), 1 if quick else 2)]
  for spec, reps in specs:
    log(f"compile time: {os.path.relpath(spec, ROOT)} x{reps} (empty build cache each, probe records kept)")
    results["compile"].append(json.loads(run(
      [sys.executable, os.path.join(HERE, "compile_time.py"), kiln, spec, str(reps), work]).strip().splitlines()[-1]))
  results["wall_s"] = time.time() - started
  with open(out_json, "w") as f:
    json.dump(results, f, indent=1)
  log(f"wrote {out_json} ({results['wall_s']:.0f} s)")


if __name__ == "__main__":
  main()
