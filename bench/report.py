# Renders bench/results.json as bench/RESULTS.md and prints the table of medians and ratios.
"""python3 bench/report.py [RESULTS_JSON [RESULTS_MD]]  (defaults: bench/results.json, bench/RESULTS.md)

Needs only the standard library, so RESULTS.md can be regenerated from a committed results.json anywhere.
Ratios are Kiln over the other engine in speed (time of the other / time of Kiln, or Kiln's images/s over the
other's): above 1 means Kiln is faster.
"""
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ENGINES = {"kiln": "Kiln", "ort": "ONNX Runtime", "torch": "PyTorch"}
SMALL = ("mlp_784_512_256_10", "lenet5")
CONV = ("vgg_bn", "resnet20")


def index(rows, *keys):
  """Rows keyed by the tuple of the given fields."""
  return {tuple(r[k] for k in keys): r for r in rows}


def rate(row, batch=64):
  """Images (samples) per second at the median, min and max call time."""
  return batch * 1e6 / row["median_us"], batch * 1e6 / row["max_us"], batch * 1e6 / row["min_us"]


def fmt(x, digits=0):
  return f"{x:,.{digits}f}"


def ratio(x):
  return f"{x:.2f}×"


def tables(results):
  """The Markdown tables: summary of medians and ratios, then full rows with min/max."""
  inf = index(results["inference"], "network", "engine", "threads", "batch")
  train = index(results["training"], "network", "engine", "threads")
  nets = results["networks"]
  out = ["## Medians and ratios", "",
         "Batch 1: µs per inference (lower is better). Batch 64: images/s (higher is better). "
         "Ratios: Kiln's speed over the other engine's (> 1 means Kiln is faster).", "",
         "| network | threads | Kiln b1 µs | ORT b1 µs | PyTorch b1 µs | vs ORT | vs PyTorch "
         "| Kiln b64 img/s | ORT b64 img/s | PyTorch b64 img/s | vs ORT | vs PyTorch |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|"]
  for net in nets:
    for t in (1, 2):
      b1 = {e: inf[(net, e, t, 1)]["median_us"] for e in ENGINES}
      b64 = {e: rate(inf[(net, e, t, 64)])[0] for e in ENGINES}
      out.append(f"| {net} | {t} | {fmt(b1['kiln'], 1)} | {fmt(b1['ort'], 1)} | {fmt(b1['torch'], 1)} "
                 f"| {ratio(b1['ort'] / b1['kiln'])} | {ratio(b1['torch'] / b1['kiln'])} "
                 f"| {fmt(b64['kiln'])} | {fmt(b64['ort'])} | {fmt(b64['torch'])} "
                 f"| {ratio(b64['kiln'] / b64['ort'])} | {ratio(b64['kiln'] / b64['torch'])} |")
  out += ["", "Training, batch 64, SGD momentum 0.9 lr 0.01, softmax cross-entropy (samples/s, higher is better):", "",
          "| network | threads | Kiln samples/s | PyTorch samples/s | Kiln vs PyTorch | first-step loss Kiln / PyTorch |",
          "|---|---|---|---|---|---|"]
  for net in nets:
    for t in (1, 2):
      k, p = train.get((net, "kiln", t)), train.get((net, "torch", t))
      if not k or not p:
        continue
      out.append(f"| {net} | {t} | {fmt(rate(k)[0])} | {fmt(rate(p)[0])} | {ratio(rate(k)[0] / rate(p)[0])} "
                 f"| {k['first_loss']:.4f} / {p['first_loss']:.4f} |")
  return out


def full_tables(results):
  """Every timed configuration with median, min and max, and the output differences."""
  out = ["## Every measurement (median, min, max)", "",
         "| network | engine | threads | batch | median µs | min µs | max µs | reps | images/s (median) | every round's median µs |",
         "|---|---|---|---|---|---|---|---|---|---|"]
  rounds = lambda r, scale=1: " / ".join(fmt(x / scale, 1 if scale == 1 else 2) for x in r.get("round_medians_us", [r["median_us"]]))
  for r in results["inference"]:
    out.append(f"| {r['network']} | {ENGINES[r['engine']]} | {r['threads']} | {r['batch']} | {fmt(r['median_us'], 1)} "
               f"| {fmt(r['min_us'], 1)} | {fmt(r['max_us'], 1)} | {r['reps']} | {fmt(r['batch'] * 1e6 / r['median_us'])} "
               f"| {rounds(r)} |")
  out += ["", "| training | engine | threads | median ms/step | min ms | max ms | steps timed | samples/s (median; min–max) | every round's median ms |",
          "|---|---|---|---|---|---|---|---|---|"]
  for r in results["training"]:
    m, lo, hi = rate(r)
    out.append(f"| {r['network']} | {ENGINES[r['engine']]} | {r['threads']} | {fmt(r['median_us'] / 1000, 2)} "
               f"| {fmt(r['min_us'] / 1000, 2)} | {fmt(r['max_us'] / 1000, 2)} | {r['reps']} | {fmt(m)} ({fmt(lo)}–{fmt(hi)}) "
               f"| {rounds(r, 1000)} |")
  out += ["", "## Output differences", "",
          "1-thread outputs on the same inputs (batch 1 and batch 64 together). Relative: the largest absolute "
          "difference over the largest |output| of the second engine.", "",
          "| network | engines | max abs diff | max rel diff |", "|---|---|---|---|"]
  for r in results["differences"]:
    out.append(f"| {r['network']} | {ENGINES[r['a']]} vs {ENGINES[r['b']]} | {r['max_abs']:.2e} | {r['max_rel']:.2e} |")
  same = results["kiln_threads_bit_identical"]
  out += ["", "Kiln's outputs at 1 and 2 threads bit-identical: " +
          ", ".join(f"{n} {'yes' if v else 'NO'}" for n, v in same.items()) + "."]
  out += ["", "## Compile time", "",
          "`kiln compile SPEC -o DIR` (release kiln, weights from the spec's seed; each time an empty build cache "
          "holding only the compiler and OpenBLAS probe records an earlier kiln run left, as on a machine that has "
          "used kiln before), then dlopen, `<name>_create` and, if the weights are in a separate file, "
          "`<name>_load_weights_file`. The first kiln run on a machine also probes the compiler and OpenBLAS "
          "(compiling and running two small programs): the last column is that run's time, on the smallest example.", "",
          "| spec | reps | compile s (median; min–max) | of which the C compiler s | load s | total s (median) | first kiln run s |",
          "|---|---|---|---|---|---|---|"]
  for c in results["compile"]:
    reps = c["reps"]
    med = lambda key: statistics.median(r[key] for r in reps)
    cs = [r["compile_s"] for r in reps]
    cc = [r["cc_s"] for r in reps if r.get("cc_s") is not None]
    cc_text = f"{statistics.median(cc):.2f}" if cc else "—"
    probes = f"{c['probe_s']:.2f}" if "probe_s" in c else "—"
    out.append(f"| {os.path.basename(c['spec'])} | {len(reps)} | {med('compile_s'):.2f} ({min(cs):.2f}–{max(cs):.2f}) "
               f"| {cc_text} | {med('load_s'):.2f} | {med('total_s'):.2f} | {probes} |")
  return out


def targets(results):
  """The issue's goals, each with the measured figure and met/missed."""
  inf = index(results["inference"], "network", "engine", "threads", "batch")
  train = index(results["training"], "network", "engine", "threads")
  rows = []
  def goal(name, value, bound):
    rows.append(f"| {name} | ≥ {bound:g}× | {value:.2f}× | {'met' if value >= bound else 'missed'} |")
  for net in SMALL:
    if (net, "kiln", 1, 1) in inf:
      goal(f"{net} batch 1 vs ONNX Runtime (1 thread)",
           inf[(net, "ort", 1, 1)]["median_us"] / inf[(net, "kiln", 1, 1)]["median_us"], 2.0)
  for net in CONV:
    if (net, "kiln", 1, 64) in inf:
      for t in (1, 2):
        goal(f"{net} batch 64 vs ONNX Runtime ({t} thread{'s' if t > 1 else ''})",
             inf[(net, "ort", t, 64)]["median_us"] / inf[(net, "kiln", t, 64)]["median_us"], 1.0)
  for net in SMALL + CONV:
    if (net, "kiln", 1) in train and (net, "torch", 1) in train:
      goal(f"{net} training vs PyTorch (1 thread)",
           train[(net, "torch", 1)]["median_us"] / train[(net, "kiln", 1)]["median_us"], 3.0 if net in SMALL else 1.2)
  for net in CONV:
    if (net, "kiln", 2, 64) in inf:
      goal(f"{net} batch 64, Kiln 2 threads over 1 thread",
           inf[(net, "kiln", 1, 64)]["median_us"] / inf[(net, "kiln", 2, 64)]["median_us"], 1.8)
  out = ["## The issue's targets", "", "| goal | target | measured | |", "|---|---|---|---|"] + rows
  for c in results["compile"]:
    median = statistics.median(r["total_s"] for r in c["reps"])
    bound = 2.0 if c["network"] == "lenet5" else 20.0
    out.append(f"| kiln compile {c['network']} to a loaded library | < {bound:g} s | {median:.2f} s "
               f"| {'met' if median < bound else 'missed'} |")
  return out


def markdown(results):
  m = results["machine"]
  v = m["versions"]
  t = results["timing"]
  head = [
    "# Kiln against ONNX Runtime and PyTorch: inference, training and compile time",
    "",
    f"Generated by `bench/report.py` from `bench/results.json`, written by `bench/run{' --quick' if results['quick'] else ''}` "
    f"on {m['date']} ({results['wall_s'] / 60:.1f} min).",
    "",
    f"- Machine: {m['cpu']}" + (f" (family/model {m['cpu_family_model']})" if "cpu_family_model" in m else "") +
    f", {m['cores']} cores, AVX-512 {'yes' if m.get('avx512f') else 'no'}. Load when bench/run started: `{m['load_before']}`; "
    f"after set-up, when the benchmark started: `{m['load_at_start']}`.",
    f"- Versions: Kiln {v['kiln']}; torch {v['torch']}; onnxruntime {v['onnxruntime']}; onnx {v['onnx']}; "
    f"numpy {v['numpy']}; safetensors {v['safetensors']}; Python {v['python']}; {v['gcc']}; OpenBLAS: {v['openblas']}.",
    "",
    "## Method",
    "",
    "- Networks: the example specs, each mirrored by a PyTorch module in `bench/models.py` whose state_dict keys "
    "are Kiln's tensor names. One set of weights per network (fixed seed; random BatchNorm scale, shift and running "
    "statistics) is saved as safetensors, compiled into Kiln (`kiln compile --weights`, and loaded again through "
    "`<name>_load_weights`), loaded by PyTorch, and exported from the same model to ONNX (opset 17, dynamic batch; the exporter folds each BatchNorm into "
    "its conv in eval mode, as Kiln's fold-batchnorm does at load time). "
    "All engines run the same input arrays.",
    "- Kiln: the generated C (`kiln compile`, default flags: gcc -std=c11 -O3 -march=native -ffp-contract=fast "
    "-fopenmp, OpenBLAS where Kiln picks it) loaded with ctypes; `<name>_set_threads(ctx, T)`. "
    "OpenBLAS is single-threaded (the module calls "
    "`openblas_set_num_threads(1)` and parallelizes over blocks with OpenMP; OPENBLAS_NUM_THREADS=1 too).",
    "- ONNX Runtime: CPU execution provider, ORT_ENABLE_ALL, intra_op_num_threads = T, inter_op_num_threads = 1, "
    "sequential execution, `session.run` on a numpy array.",
    "- PyTorch: eager, `torch.set_num_threads(T)`, eval mode under `torch.inference_mode()`.",
    (f"- Rounds: {results.get('rounds', 1)}. Every (engine, threads) process runs once per round, one after another, "
     "the engines in the opposite order in the next round; each configuration reports the round with the lowest "
     "median (this host is shared: a slow spell would otherwise fall on whichever engine ran then); the last "
     "table lists every round's median." if results.get("rounds", 1) > 1 else
     "- Rounds: 1 (each configuration measured once)."),
    f"- Timing: each (engine, threads) runs in its own process; only the calls are timed "
    f"(perf_counter_ns around each call, Python call overhead included for every engine). Warm-up {t['warmup']} s, "
    f"then at least {t['min_reps']} calls and {t['min_time']} s (slow calls: at least 10 calls, then stop after "
    f"{t.get('max_time', '—')} s); median, min and max of the per-call times.",
    "- Training: batch 64, softmax cross-entropy, SGD lr 0.01 momentum 0.9 (no weight decay, no schedule), cycling "
    "over a fixed pool of 8 random batches (normal inputs, uniform labels). Kiln: `kiln compile --train` of the spec "
    "with that train section, `<name>_train_step`; PyTorch: zero_grad, forward, loss, backward, step. Both start "
    "from the same weights, so their first-step losses agree (up to dropout masks in vgg_bn).",
  ]
  loads = results.get("worker_load", [])
  if loads:
    head.append("- The machine's 1-minute load average as each engine's process started (it counts the benchmark "
                "itself; on these 2 cores, a load near or above 2 means other work shared the cores): " +
                "; ".join(f"{'r%d ' % w['round'] if 'round' in w else ''}{w['phase']} {ENGINES[w['engine']]} {w['threads']}t "
                          f"{w['load_1min']:.2f}" for w in loads) + ".")
    busiest = max(w["load_1min"] for w in loads)
    if busiest > m["cores"]:
      head.append(f"- **Noisy run:** the load reached {busiest:.2f} on {m['cores']} cores, so other work shared the "
                  "cores during it; 2-thread figures suffer most (a descheduled OpenMP or ORT worker stalls every "
                  "parallel region). Rerun on a quiet machine before quoting a ratio.")
  head.append("")
  return "\n".join(head + tables(results) + [""] + targets(results) + [""] + full_tables(results)) + "\n"


def main():
  src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "results.json")
  dst = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "RESULTS.md")
  with open(src) as f:
    results = json.load(f)
  text = markdown(results)
  with open(dst, "w") as f:
    f.write(text)
  print("\n".join(tables(results) + [""] + targets(results)))
  print(f"\nwrote {dst}")


if __name__ == "__main__":
  main()
