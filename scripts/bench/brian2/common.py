"""Shared harness of the Brian2 benchmark twins (scripts/bench/brian2/*.py).

Every twin runs as

    /usr/bin/python3 scripts/bench/brian2/MODEL.py --ms DURATION \
        [--mode standalone|runtime] [--threads N] [--workdir DIR] [--seed S] [model args]

and prints, as the LAST line of its stdout, one JSON object:

    {"model", "simulator": "brian2", "mode", "neurons", "synapses", "sim_ms",
     "build_s", "run_s", "spikes", "rate_hz", "peak_mb", "threads", ...extras}

Everything else Brian2, numpy, make and the compiler print goes to stderr:
the process's file descriptor 1 is pointed at stderr for the whole run and
the JSON line is written to the saved original stdout, so a driver can read
stdout as exactly one JSON line.

What the numbers are:

- standalone (default): Brian2's C++ standalone device
  (set_device('cpp_standalone', build_on_run=False)). build_s is the wall
  time of device.build(compile=True, run=False): code generation and the
  compilation of the project (make -j; a fresh directory every time, so no
  object file is reused). run_s is the run-loop time that the binary itself
  writes to <workdir>/results/last_run_info.txt (its first number): the time
  steps only, without loading the arrays or writing the results; with
  --reps N the binary runs N times and run_s is the median (run_s_all lists
  them all); with --between CMD, the shell command CMD runs before each of
  those runs (NK_BENCH_REP=1, 2, ... in its environment; between_rc lists
  its exit statuses), which is how the suite interleaves nkshell's runs
  with Brian2's. peak_mb is
  the maximum resident set size of the standalone binary alone (a small
  wrapper starts it and takes os.wait4's ru_maxrss, KiB, of that one child;
  RUSAGE_CHILDREN of this process would also count the compiler). --threads
  N > 1 sets prefs.devices.cpp_standalone.openmp_threads = N; 0 and 1 mean
  one thread (no OpenMP).
- runtime: Brian2's runtime mode with its default code generation target
  (Cython where it works, else numpy; "codegen_target" says which).
  build_s = 0, run_s is the wall time of run() (with a cold Cython cache that
  includes compiling the extensions), peak_mb is ru_maxrss of this Python
  process (RUSAGE_SELF).

rate_hz is the mean over all neurons: spikes / neurons / (sim_ms / 1000).
The default workdir is a fresh temporary directory, removed at the end.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

# Keep stdout for the one JSON line: from here on, fd 1 is stderr.
_JSON_FD = os.dup(1)
sys.stdout.flush()
os.dup2(2, 1)

# A hook called by os.wait4 on the standalone binary: "python3 common.py
# --rusage-wrapper OUT CMD..." runs CMD and writes its ru_maxrss (KiB) to OUT.
if __name__ == "__main__" and len(sys.argv) > 3 and sys.argv[1] == "--rusage-wrapper":
    os.dup2(_JSON_FD, 1)   # the binary's own stdout (Brian2 sends it to a file)
    p = subprocess.Popen(sys.argv[3:])
    _, status, ru = os.wait4(p.pid, 0)
    with open(sys.argv[2], "w") as f:
        f.write("%d\n" % ru.ru_maxrss)
    sys.exit(os.waitstatus_to_exitcode(status) if status else 0)

import warnings  # noqa: E402

import numpy as np  # noqa: E402


def parser(model, doc=None):
    """The common command line; a twin adds its own arguments to it."""
    p = argparse.ArgumentParser(prog=model + ".py", description=doc)
    p.add_argument("--ms", type=float, required=True, help="simulated duration, ms")
    p.add_argument("--mode", choices=("standalone", "runtime"), default="standalone")
    p.add_argument("--threads", type=int, default=1,
                   help="OpenMP threads of the standalone binary (0/1: one)")
    p.add_argument("--workdir", default=None, help="project directory (default: a fresh temp dir)")
    p.add_argument("--seed", type=int, default=1, help="Brian2's random seed")
    p.add_argument("--keep", action="store_true", help="keep the temporary workdir")
    p.add_argument("--reps", type=int, default=1,
                   help="standalone: run the compiled binary this many times and report the "
                        "median run-loop time (the results are those of the last run)")
    p.add_argument("--between", default=None, metavar="CMD",
                   help="standalone: a shell command run before each run of the binary, with "
                        "NK_BENCH_REP set to the run's number (1, 2, ...); the benchmark suite "
                        "runs nkshell's side so, interleaved with Brian2's runs")
    return p


class Bench:
    """Sets Brian2 up for the chosen mode, runs, reports."""

    def __init__(self, model, args, default_mode=None):
        self.model = model
        self.args = args
        self.mode = args.mode
        self.threads = max(1, args.threads) if self.mode == "standalone" else 1
        self.temp = args.workdir is None
        self.workdir = (tempfile.mkdtemp(prefix="brian2_%s_" % model) if self.temp
                        else os.path.abspath(args.workdir))
        os.makedirs(self.workdir, exist_ok=True)
        self.extra = {}
        warnings.simplefilter("default")   # to stderr, as every warning
        import brian2 as b2
        self.b2 = b2
        b2.prefs.logging.file_log = False
        b2.prefs.logging.delete_log_on_exit = True
        if self.mode == "standalone":
            b2.set_device("cpp_standalone", build_on_run=False)
            if self.threads > 1:
                b2.prefs.devices.cpp_standalone.openmp_threads = self.threads
            self.rusage_file = os.path.join(self.workdir, "binary_maxrss_kib.txt")
            b2.prefs.devices.cpp_standalone.run_cmd_unix = [
                sys.executable, os.path.abspath(__file__), "--rusage-wrapper",
                self.rusage_file, "./main"]
        else:
            # Cython's cache and Brian2's runtime files go where they always do.
            self.extra["codegen_target"] = None
        b2.seed(args.seed)
        b2.defaultclock.dt = 0.1 * b2.ms

    def run(self, duration_ms, net, namespace):
        """Runs (and in standalone mode builds) the network for duration_ms.
        net is a brian2.Network (Network(collect()) in the twin's module) and
        namespace the twin's globals(): the magic run() would look for both
        in this module instead."""
        b2 = self.b2

        def runner(d):
            net.run(d, namespace=namespace)
        if self.mode == "standalone":
            runner(duration_ms * b2.ms)
            t0 = time.perf_counter()
            b2.device.build(directory=self.workdir, compile=True, run=False,
                            with_output=False)
            self.build_s = time.perf_counter() - t0
            runs = []
            between = []
            for rep in range(1, max(1, self.args.reps) + 1):
                if self.args.between:
                    # the other side's run, between two of ours: a slow
                    # spell of the machine falls on both sides alike
                    env = dict(os.environ, NK_BENCH_REP=str(rep))
                    rc = subprocess.call(self.args.between, shell=True, env=env)
                    between.append(rc)
                t0 = time.perf_counter()
                b2.device.run(directory=self.workdir, with_output=False, run_args=[])
                self.extra["binary_wall_s"] = round(time.perf_counter() - t0, 4)
                with open(os.path.join(self.workdir, "results", "last_run_info.txt")) as f:
                    runs.append(float(f.read().split()[0]))
            self.run_s = sorted(runs)[(len(runs) - 1) // 2]
            self.extra["run_s_all"] = runs
            if self.args.between:
                self.extra["between_rc"] = between
            with open(self.rusage_file) as f:
                self.peak_mb = int(f.read().split()[0]) / 1024.0
        else:
            t0 = time.perf_counter()
            runner(duration_ms * b2.ms)
            self.run_s = time.perf_counter() - t0
            self.build_s = 0.0
            self.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
            target = b2.prefs.codegen.target
            if target == "auto":
                try:
                    from brian2.codegen.runtime.cython_rt.cython_rt import CythonCodeObject
                    target = "cython" if CythonCodeObject.is_available() else "numpy"
                except Exception:
                    target = "numpy"
            self.extra["codegen_target"] = target

    def report(self, neurons, synapses, spikes, sim_ms, **extra):
        """Prints the JSON line (the last on stdout) and cleans up."""
        out = {
            "model": self.model,
            "simulator": "brian2",
            "mode": self.mode,
            "neurons": int(neurons),
            "synapses": int(synapses),
            "sim_ms": float(sim_ms),
            "build_s": round(float(self.build_s), 4),
            "run_s": round(float(self.run_s), 4),
            "spikes": int(spikes),
            "rate_hz": round(float(spikes) / max(int(neurons), 1) / (sim_ms / 1000.0), 4),
            "peak_mb": round(float(self.peak_mb), 1),
            "threads": int(self.threads),
        }
        out.update(self.extra)
        out.update(extra)
        if self.temp and not self.args.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            out["workdir"] = self.workdir
        sys.stderr.flush()
        os.write(_JSON_FD, (json.dumps(out) + "\n").encode())


def events(*pairs):
    """Synaptic events, counted as nkshell counts them: for each (spike
    monitor, Synapses from the monitored group) pair, every spike times the
    connections of the neuron that fired."""
    import numpy as np
    total = 0
    for mon, syn in pairs:
        i = np.asarray(mon.i[:], dtype=np.int64)
        src = np.asarray(syn.i[:], dtype=np.int64)
        if i.size == 0 or src.size == 0:
            continue
        deg = np.bincount(src, minlength=int(max(i.max(), src.max())) + 1)
        total += int(deg[i].sum())
    return total


def n_synapses(*syns):
    """The number of synapses of Synapses objects (after the run in standalone mode)."""
    return sum(int(len(s)) for s in syns)


def log(*a):
    print(*a, file=sys.stderr, flush=True)
