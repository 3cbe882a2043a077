"""Brian2 twin of scripts/bench/sandbox_hh.lua: one Hodgkin-Huxley neuron
against a DC step, v recorded every 0.1 ms, spikes recorded, results on disk.

    /usr/bin/python3 scripts/bench/brian2/sandbox_hh.py --ms 100 [--out PATH.npz] [--mode ...]

nkshell's built-in hh (engine/src/lib_neurons.c): the 1952 squid axon on a
100 um^2 patch, C = 1 pF, g_Na = 120 nS, g_K = 36 nS, g_L = 0.3 nS, E_Na =
50, E_K = -77, E_L = -54.387 mV, rates in 1/ms of u = v + 65 mV with
x/(exp(x) - 1) written 1/exprel(x); v starts at -65 mV, m, h, n at their
steady state there; a spike is v crossing 0 mV, refractory while v > 0 mV.
Input: 10 pA (10 uA/cm^2) for 10 <= t < 90 ms. It fires 6 spikes in 100 ms.

nkshell integrates hh with RK4 in sub-steps of 0.01 ms (its max_dt) inside
the network's 0.1 ms step and tests the threshold once per 0.1 ms step; here
RK4 runs at dt = 0.01 ms (at 0.1 ms it diverges) and the threshold is tested
every 0.01 ms, so spike times may differ by less than 0.1 ms; v is recorded
every 0.1 ms (StateMonitor dt), 1000 samples as nkshell's state monitor.

Runtime mode by default (the sandbox use: no project to compile). The
results go to --out (default: sandbox_hh.npz in the workdir, which is then
kept): t_ms, v_mV, spike_t_ms.
"""
import os
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

p = common.parser("sandbox_hh", __doc__)
p.set_defaults(mode="runtime")
p.add_argument("--out", default=None, help="results file (.npz)")
p.add_argument("--amp", type=float, default=10.0, help="DC amplitude, pA")
args = p.parse_args()
bench = common.Bench("sandbox_hh", args)
import numpy as np  # noqa: E402
from brian2 import (Network, NeuronGroup, SpikeMonitor, StateMonitor, TimedArray, collect,  # noqa: E402
                    defaultclock, ms, mV, nS, pA, pF)

out = args.out or os.path.join(bench.workdir, "sandbox_hh.npz")
if args.out is None:
    args.keep = True   # the results live in the workdir
defaultclock.dt = 0.01 * ms

C_m, g_Na, g_K, g_L = 1 * pF, 120 * nS, 36 * nS, 0.3 * nS
E_Na, E_K, E_L = 50 * mV, -77 * mV, -54.387 * mV
# 10 pA for 10 <= t < 90 ms, one value per step
steps = int(round(args.ms / 0.01))
I_values = np.zeros(steps + 1)
I_values[int(round(10 / 0.01)):int(round(90 / 0.01))] = args.amp
I_dc = TimedArray(I_values * pA, dt=defaultclock.dt)

eqs = """
u = (v + 65*mV)/mV : 1
alpha_m = 1/exprel((25 - u)/10)/ms : Hz
beta_m = 4*exp(-u/18)/ms : Hz
alpha_h = 0.07*exp(-u/20)/ms : Hz
beta_h = 1/(exp((30 - u)/10) + 1)/ms : Hz
alpha_n = 0.1/exprel((10 - u)/10)/ms : Hz
beta_n = 0.125*exp(-u/80)/ms : Hz
I_Na = g_Na*m**3*h*(E_Na - v) : amp
I_K = g_K*n**4*(E_K - v) : amp
I_L = g_L*(E_L - v) : amp
dv/dt = (I_Na + I_K + I_L + I_dc(t))/C_m : volt
dm/dt = alpha_m*(1 - m) - beta_m*m : 1
dh/dt = alpha_h*(1 - h) - beta_h*h : 1
dn/dt = alpha_n*(1 - n) - beta_n*n : 1
"""
G = NeuronGroup(1, eqs, threshold="v > 0*mV", refractory="v > 0*mV", method="rk4")
G.v = -65 * mV
G.m, G.h, G.n = 0.0529325, 0.5961208, 0.3176769
vm = StateMonitor(G, "v", record=True, dt=0.1 * ms)
sp = SpikeMonitor(G)

bench.run(args.ms, Network(collect()), globals())
np.savez(out, t_ms=np.asarray(vm.t / ms), v_mV=np.asarray(vm.v[0] / mV),
         spike_t_ms=np.asarray(sp.t / ms))
common.log("spikes %d (%s ms); %d samples of v; results: %s" % (
    sp.num_spikes, " ".join("%.2f" % x for x in sp.t / ms), len(vm.t), out))
bench.report(1, 0, sp.num_spikes, args.ms, out=out, samples=int(len(vm.t)))
