# Times `kiln compile` of one spec to a loaded, ready library, from a fresh build cache each time.
"""Worker of bench/run: python compile_time.py KILN SPEC REPS WORK_DIR

Each repetition makes an empty KILN_CACHE_DIR (so no earlier build is reused) holding only the compiler and
OpenBLAS probe records of one earlier kiln run (as on any machine where kiln was used before; the probes are
measured separately as probe_s: the wall time of that first run, probes and a build of the smallest example,
from a cache with nothing in it), runs `kiln compile SPEC -o
DIR` with the machine's defaults (random weights from the spec's seed: no --weights, so no safetensors
reading is counted), then loads lib<name>.so with ctypes, calls <name>_create and, when the weights live in
a separate <name>.weights file, <name>_load_weights_file. compile_s is the wall time of the kiln process
(parse, passes, C emission, cc, link), cc_s the C compiler's share as kiln reports it, load_s the
loading's wall time; total_s is compile_s + load_s.
Prints one JSON object: {"spec", "network", "probe_s", "reps": [{"compile_s", "cc_s", "load_s", "total_s"}, ...]}.
"""
import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time


def main():
  kiln, spec, reps, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
  with open(spec) as f:
    match = re.search(r"^network\s+(\w+)", f.read(), re.M)
  if not match:
    sys.exit(f"{spec}: no 'network NAME' line")
  name = match.group(1)
  # One kiln run of the smallest example in a cache of its own leaves the probe records (<cache>/probes).
  warm = tempfile.mkdtemp(prefix="kiln-probes-", dir=work)
  tiny = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "mlp_3_5_4_5_2.kiln")
  t0 = time.perf_counter()
  done = subprocess.run([kiln, "compile", tiny, "-o", os.path.join(warm, "out")],
                        env=dict(os.environ, KILN_CACHE_DIR=warm), capture_output=True, text=True)
  probe_s = time.perf_counter() - t0
  if done.returncode != 0 or not os.path.isdir(os.path.join(warm, "probes")):
    sys.exit(f"kiln compile {tiny} did not leave probe records ({done.returncode}):\n{done.stdout}{done.stderr}")
  rows = []
  for rep in range(reps):
    cache = tempfile.mkdtemp(prefix="kiln-cache-", dir=work)
    shutil.copytree(os.path.join(warm, "probes"), os.path.join(cache, "probes"))
    out = os.path.join(work, f"compile-{name}-{rep}")
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, KILN_CACHE_DIR=cache)
    t0 = time.perf_counter()
    done = subprocess.run([kiln, "compile", spec, "-o", out], env=env, capture_output=True, text=True)
    t1 = time.perf_counter()
    if done.returncode != 0:
      sys.exit(f"kiln compile {spec} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    lib = ctypes.CDLL(os.path.join(out, f"lib{name}.so"))
    # NOTE: getattr, not lib[...]: indexing makes a fresh function object each time, without the restype.
    create = getattr(lib, f"{name}_create")
    create.restype = ctypes.c_void_p
    ctx = create()
    if not ctx:
      sys.exit(f"{name}_create returned NULL")
    weights = os.path.join(out, f"{name}.weights")
    if os.path.exists(weights):
      load = getattr(lib, f"{name}_load_weights_file")
      load.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
      rc = load(ctx, weights.encode())
      if rc != 0:
        sys.exit(f"{name}_load_weights_file({weights}) failed with status {rc}")
    t2 = time.perf_counter()
    # kiln's own account of its C compiler run: "built ... (compiled in 3.16 s; 3.95 s in all)".
    cc = re.search(r"compiled in ([0-9.]+) s", done.stdout + done.stderr)
    rows.append({"compile_s": t1 - t0, "cc_s": float(cc.group(1)) if cc else None, "load_s": t2 - t1,
                 "total_s": t2 - t0})
    print(f"  compile {name} #{rep + 1}: {t2 - t0:.2f} s", file=sys.stderr, flush=True)
    shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
  shutil.rmtree(warm, ignore_errors=True)
  print(json.dumps({"spec": spec, "network": name, "probe_s": probe_s, "reps": rows}))


if __name__ == "__main__":
  main()
