"""Brian2 twin of samples/microcircuit.lua: the cortical microcircuit of
Potjans & Diesmann (2014) with the parameters of NEST's example
(pynest/examples/Potjans_2014), in its spontaneous state.

    /usr/bin/python3 scripts/bench/brian2/microcircuit.py --ms 1000 [--scale 0.1] [--mode ...]

Eight populations (L23E 20683, L23I 5834, L4E 21915, L4I 5479, L5E 4850,
L5I 1065, L6E 14395, L6I 2948 neurons, times --scale, default 0.1 as the
sample's) of current-based LIF neurons with exponential synaptic currents:
C_m 250 pF, tau_m 10 ms, E_L = V_reset = -65 mV, V_th -50 mV, t_ref 2 ms
(v held), tau_syn 0.5 ms, solved exactly ('exact', as nkshell's
iaf_psc_exp). Initial v normal, -58 +- 10 mV. For each pair of populations
K = log(1 - C_a)/log(1 - 1/(N_pre N_post)) synapses of the full model,
times --scale, each between a source and a target drawn uniformly
(multapses and autapses allowed: nkshell's fixed_total). Weights 87.81 pA
(a PSP of 0.15 mV), twice that from L4E to L23E, -4 times from inhibitory
neurons, sd 10 %, redrawn while of the wrong sign; delays 1.5 ms
(excitatory) and 0.75 ms (inhibitory), sd 50 %, redrawn while below dt,
rounded to whole steps (halves up) as nkshell rounds them. Background:
PoissonInput of K_ext = 1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100
inputs of 8 Hz each, weight 87.81 pA, per population (nkshell: one Poisson
train of K_ext x 8 Hz per neuron, the same process).

The excitatory and inhibitory currents are one variable I here: both
decay with 0.5 ms, so their sum is what nkshell's two receptors give. All
recurrent synapses are one Synapses object with per-synapse weights and
delays (nkshell has one projection per pair of populations; the work per
spike is the same).

Timing: nkshell delivers a spike sent with a delay of d at the start of the
step d later, before that step's update; Brian2 applies on_pre after the
update, so its delay of d - dt is the same timing (nkshell's one-step
delays are Brian2's no delay). The PoissonInput acts after the update too,
one step later than nkshell's source: no difference for stationary input.
Random numbers (connections, weights, delays, initial v) are numpy's,
seeded with --seed; they are not nkshell's. State is float64 here, float32
in nkshell.

Per population rates after 100 ms (half the run when shorter than 200 ms)
go to stderr and the JSON line ("L23E_hz", ...). The default --scale is the
sample's default SCALE, and must stay so: scripts/bench/suite.lua runs both
without one.
"""
import math
import os
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

import numpy as np  # noqa: E402

NAMES = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
N_FULL = [20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948]
# connection probabilities: row = target, column = source
C_A = [
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0,      0.0076, 0],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0,      0.0042, 0],
    [0.0077, 0.0059, 0.0497, 0.135,  0.0067, 0.0003, 0.0453, 0],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0,      0.1057, 0],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.06,   0.3158, 0.0086, 0],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.001,  0.0034, 0.0005, 0.0277, 0.008,  0.0658, 0.1443],
]
K_EXT = [1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100]
DT = 0.1   # ms

p = common.parser("microcircuit", __doc__)
p.add_argument("--scale", type=float, default=0.1,
               help="fraction of the neurons and synapses of the full model (in-degrees kept)")
args = p.parse_args()
if not 0 < args.scale <= 1:
    p.error("--scale must be in (0, 1]")


def psc_per_mv(C_m, tau_m, tau_s):
    """pA of an exponential current whose PSP peaks at 1 mV."""
    sub = 1.0 / (tau_s - tau_m)
    pre = tau_m * tau_s / C_m * sub
    frac = (tau_m / tau_s) ** sub
    return 1.0 / (pre * (frac ** tau_m - frac ** tau_s))


def normal_clipped(rng, mean, sd, lo, hi, n):
    """n normal draws, each drawn again while outside [lo, hi]."""
    x = rng.normal(mean, sd, n)
    bad = np.flatnonzero((x < lo) | (x > hi))
    while bad.size:
        x[bad] = rng.normal(mean, sd, bad.size)
        bad = bad[(x[bad] < lo) | (x[bad] > hi)]
    return x


t0 = time.perf_counter()
rng = np.random.default_rng(args.seed)
w_exc = 0.15 * psc_per_mv(250.0, 10.0, 0.5)   # pA: 87.81
n_pop = [max(1, int(math.floor(n * args.scale + 0.5))) for n in N_FULL]
first = np.concatenate([[0], np.cumsum(n_pop)]).astype(np.int64)
pre, post, weight, steps = [], [], [], []
for tgt in range(8):
    for src in range(8):
        c = C_A[tgt][src]
        if c <= 0:
            continue
        K_full = math.log(1 - c) / math.log(1 - 1 / (N_FULL[src] * N_FULL[tgt]))
        total = int(math.floor(K_full * args.scale + 0.5))
        if total <= 0:
            continue
        exc = src % 2 == 0
        w_mean = w_exc if exc else -4 * w_exc
        if src == 2 and tgt == 0:
            w_mean *= 2   # L4E -> L23E
        d_mean = 1.5 if exc else 0.75
        pre.append((first[src] + rng.integers(0, n_pop[src], total)).astype(np.int32))
        post.append((first[tgt] + rng.integers(0, n_pop[tgt], total)).astype(np.int32))
        weight.append(normal_clipped(rng, w_mean, 0.1 * abs(w_mean), 0 if exc else -np.inf,
                                     np.inf if exc else 0, total))
        d = normal_clipped(rng, d_mean, 0.5 * d_mean, DT, np.inf, total)
        steps.append(np.maximum(1, np.floor(d / DT + 0.5 + 1e-9)).astype(np.int32))
pre, post = np.concatenate(pre), np.concatenate(post)
weight, steps = np.concatenate(weight), np.concatenate(steps)
v0 = rng.normal(-58.0, 10.0, int(first[-1]))
draw_s = time.perf_counter() - t0
common.log("microcircuit at scale %g: %d neurons, %d synapses, drawn in %.2f s"
           % (args.scale, first[-1], pre.size, draw_s))

bench = common.Bench("microcircuit", args)
from brian2 import (Network, NeuronGroup, PoissonInput, Synapses, SpikeMonitor, collect,  # noqa: E402
                    Hz, ms, mV, pA, pF)

C_m, tau_m, tau_syn = 250 * pF, 10 * ms, 0.5 * ms
E_L, V_th, V_reset = -65 * mV, -50 * mV, -65 * mV
w_ext = w_exc * pA

t1 = time.perf_counter()
eqs = """
dv/dt = (E_L - v)/tau_m + I/C_m : volt (unless refractory)
dI/dt = -I/tau_syn : amp
"""
P = NeuronGroup(int(first[-1]), eqs, threshold="v > V_th", reset="v = V_reset",
                refractory=2 * ms, method="exact")
P.v = v0 * mV
P.I = 0 * pA
S = Synapses(P, P, "w : amp", on_pre="I_post += w")
S.connect(i=pre, j=post)
S.w = weight * pA
S.delay = (steps - 1) * DT * ms
drive = [PoissonInput(P[int(first[k]):int(first[k + 1])], "I", N=K_EXT[k], rate=8 * Hz,
                      weight="w_ext") for k in range(8)]
sp = SpikeMonitor(P)
construct_s = time.perf_counter() - t1

bench.run(args.ms, Network(collect(), drive), globals())
warm = min(100.0, args.ms / 2)
t_sp = np.asarray(sp.t[:] / ms)
i_sp = np.asarray(sp.i[:])
late = np.bincount(i_sp[t_sp >= warm], minlength=int(first[-1]))
rates = {}
for k, name in enumerate(NAMES):
    rates[name + "_hz"] = round(float(late[first[k]:first[k + 1]].sum() / n_pop[k]
                                      / ((args.ms - warm) / 1000.0)), 4)
common.log("rates over %g..%g ms: %s" % (warm, args.ms, ", ".join(
    "%s %.2f Hz" % (n, rates[n + "_hz"]) for n in NAMES)))
counts = np.bincount(i_sp, minlength=int(first[-1]))
bench.report(int(first[-1]), int(pre.size), int(i_sp.size), args.ms, scale=args.scale,
             events=int((np.bincount(pre, minlength=int(first[-1])) * counts).sum()),
             draw_s=round(draw_s, 3), construct_s=round(construct_s, 3), **rates)
