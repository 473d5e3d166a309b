# Kiln against ONNX Runtime on one thread, taking turns block by block: ratios that share the host's drift.
"""Run by `bench/run --paired` (bench/.venv's python): python bench/paired.py WORK OUT_MD

bench/run times each engine in a process of its own, one after another; on this shared host, whose speed drifts
by 20-30 % from minute to minute, that puts whichever engine ran during a slow spell at a disadvantage. Here
each engine lives in a worker process of its own, set up once (Kiln's library through ctypes, an ONNX Runtime
session), and the parent has them take turns: ROUNDS rounds, each timing a block of calls of one engine and then
a block of the other (the order alternating between rounds), so both see the same minutes. (Separate processes
keep the engines' thread pools and allocators apart, as in the full run.) Each engine's median is over all its
timed calls; the ratio is ONNX Runtime's median over Kiln's, and the spread of the per-round ratios is shown
beside it.

One thread only: at two threads each engine's idle pool spins (OpenMP's, ONNX Runtime's) while the other runs,
so a paired two-thread figure would measure the interference. Uses the weights, ONNX files, inputs and Kiln
libraries that `bench/run` left in WORK (run it first).
"""
import os
import sys

# Before numpy, OpenMP or ONNX Runtime read them.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import engines  # noqa: E402

NETS = ["mlp_784_512_256_10", "lenet5", "vgg_bn", "resnet20"]
ROUNDS = 10
BLOCK_SECONDS = 0.25  # per engine per round, and at least BLOCK_CALLS calls
BLOCK_CALLS = 3


def block(call):
  """Per-call times (µs) of one block: at least BLOCK_CALLS calls and BLOCK_SECONDS."""
  times, total = [], 0.0
  while len(times) < BLOCK_CALLS or total < BLOCK_SECONDS:
    t0 = time.perf_counter_ns()
    call()
    elapsed = (time.perf_counter_ns() - t0) / 1000.0
    times.append(elapsed)
    total += elapsed / 1e6
  return times


def worker(engine, work):
  """Serves blocks over stdin/stdout: each line "NET BATCH" runs one timed block and answers its times as JSON."""
  callables = {}
  for line in sys.stdin:
    net, batch = line.split()
    if net not in callables:
      x1 = np.ascontiguousarray(np.load(os.path.join(work, net, "input1.npy")))
      x64 = np.ascontiguousarray(np.load(os.path.join(work, net, "input64.npy")))
      run1, run64, _ = engines.infer_callables(engine, net, work, 1, x1, x64)
      callables[net] = {"1": run1, "64": run64}
    print(json.dumps(block(callables[net][batch])), flush=True)


class Worker:
  """One engine's worker process."""

  def __init__(self, engine, work):
    self.process = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", engine, work],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

  def block(self, net, batch):
    self.process.stdin.write(f"{net} {batch}\n")
    self.process.stdin.flush()
    line = self.process.stdout.readline()
    if not line:
      sys.exit(f"the {net} worker stopped (status {self.process.wait()})")
    return json.loads(line)

  def close(self):
    self.process.stdin.close()
    self.process.wait()


def paired(kiln, ort, net, batch):
  """Alternating blocks; returns each engine's times and the per-round ratios (ORT median / Kiln median)."""
  for w in (kiln, ort):  # warm-up
    w.block(net, batch)
  times = {"kiln": [], "ort": []}
  ratios = []
  for r in range(ROUNDS):
    order = [("kiln", kiln), ("ort", ort)] if r % 2 == 0 else [("ort", ort), ("kiln", kiln)]
    medians = {}
    for name, w in order:
      t = w.block(net, batch)
      times[name] += t
      medians[name] = statistics.median(t)
    ratios.append(medians["ort"] / medians["kiln"])
  return times, ratios


def main():
  work, out = sys.argv[1], sys.argv[2]
  for net in NETS:
    needs = ("weights.safetensors", "model.onnx", "input1.npy", "input64.npy", os.path.join("kiln", f"lib{net}.so"))
    for need in needs:
      if not os.path.exists(os.path.join(work, net, need)):
        sys.exit(f"{os.path.join(work, net, need)} is missing: run bench/run (the full benchmark) first")
  rows = []
  kiln, ort = Worker("kiln", work), Worker("ort", work)
  for net in NETS:
    for batch in (1, 64):
      times, ratios = paired(kiln, ort, net, batch)
      row = {"network": net, "batch": batch,
             "kiln_median_us": statistics.median(times["kiln"]), "ort_median_us": statistics.median(times["ort"]),
             "kiln_min_us": min(times["kiln"]), "ort_min_us": min(times["ort"]),
             "calls": (len(times["kiln"]), len(times["ort"])), "round_ratios": ratios}
      row["ratio"] = row["ort_median_us"] / row["kiln_median_us"]
      rows.append(row)
      print(f"{net} batch {batch}: Kiln {row['kiln_median_us']:.1f} µs, ONNX Runtime {row['ort_median_us']:.1f} µs, "
            f"{row['ratio']:.2f}× (rounds {min(ratios):.2f}–{max(ratios):.2f}×)", file=sys.stderr, flush=True)
  kiln.close()
  ort.close()
  load = os.getloadavg()[0]
  lines = [
    "# Kiln against ONNX Runtime, 1 thread, taking turns block by block",
    "",
    f"Written by `bench/run --paired` (bench/paired.py) on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
    f"1-minute load average at the end {load:.2f}. Same machine, libraries, weights and inputs as "
    "[RESULTS.md](RESULTS.md)'s run before it (bench/.work).",
    "",
    f"Method: Kiln's library and an ONNX Runtime session (CPU, ORT_ENABLE_ALL, 1 intra-op thread), each in a "
    "worker process set up once, "
    f"{ROUNDS} rounds of a ≥ {BLOCK_SECONDS} s block of calls of each (order alternating), after a warm-up block "
    "each: both engines see the same minutes of this host, whose speed drifts. Ratio: ONNX Runtime's median over "
    "Kiln's (> 1 means Kiln is faster); the rounds column is the range of the per-round ratios.",
    "",
    "| network | batch | Kiln median µs (min) | ONNX Runtime median µs (min) | Kiln vs ONNX Runtime | rounds "
    "| calls (Kiln / ORT) |",
    "|---|---|---|---|---|---|---|",
  ]
  for r in rows:
    lines.append(
      f"| {r['network']} | {r['batch']} | {r['kiln_median_us']:,.1f} ({r['kiln_min_us']:,.1f}) | "
      f"{r['ort_median_us']:,.1f} ({r['ort_min_us']:,.1f}) | {r['ratio']:.2f}× | "
      f"{min(r['round_ratios']):.2f}–{max(r['round_ratios']):.2f}× | {r['calls'][0]} / {r['calls'][1]} |")
  temporary = out + ".tmp"
  with open(temporary, "w") as f:
    f.write("\n".join(lines) + "\n")
  os.replace(temporary, out)
  print("\n".join(lines))
  print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
  if len(sys.argv) == 4 and sys.argv[1] == "--worker":
    worker(sys.argv[2], sys.argv[3])
  else:
    main()
