"""Brian2 twin of samples/coba.lua: Brette et al. (2007) benchmark 1, the
Vogels & Abbott (2005) network with exponential conductance synapses, as in
Brian's examples/COBA.py, written in absolute units.

    /usr/bin/python3 scripts/bench/brian2/coba.py --ms 1000 [--mode ...] [--init normal]

4000 LIF neurons (3200 excitatory, 800 inhibitory), p = 0.02 from each
population onto all 4000. C = 200 pF, g_L = 10 nS (tau_m 20 ms), E_L = -60
mV, threshold -50 mV, reset -60 mV, refractory 5 ms (v held), E_e = 0 mV,
E_i = -80 mV, tau_e 5 ms, tau_i 10 ms, we = 6 nS, wi = 67 nS (the example's
0.6 and 6.7 in units of g_L), forward Euler, no external input: the activity
is started by the initial conductances and sustains itself.

Initial values: the example draws v = E_L + (randn*5 - 5) mV, ge = (randn*1.5
+ 4)*10 nS, gi = (randn*12 + 20)*10 nS. nkshell's populations take constant
or uniform initial values only, so both twins draw them uniformly with the
same means and standard deviations (mean +- sqrt(3) sd): v in [-65 -+ 8.66]
mV, ge in [40 -+ 25.98] nS, gi in [200 -+ 207.85] nS. --init normal uses the
example's normal draws instead.

Synapses have no delay: their effect shows in the next step's update, as
nkshell's one-step delay does.
"""
import math
import os
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

p = common.parser("coba", __doc__)
p.add_argument("--init", choices=("uniform", "normal"), default="uniform")
p.add_argument("--method", default="euler")
args = p.parse_args()
bench = common.Bench("coba", args)
from brian2 import Network, NeuronGroup, Synapses, SpikeMonitor, collect, ms, mV, nS, pF  # noqa: E402

C_m, g_L = 200 * pF, 10 * nS
E_L, E_e, E_i = -60 * mV, 0 * mV, -80 * mV
V_t, V_r = -50 * mV, -60 * mV
tau_e, tau_i = 5 * ms, 10 * ms
we, wi = 6 * nS, 67 * nS

eqs = """
dv/dt  = (g_L*(E_L - v) + ge*(E_e - v) + gi*(E_i - v))/C_m : volt (unless refractory)
dge/dt = -ge/tau_e : siemens
dgi/dt = -gi/tau_i : siemens
"""
P = NeuronGroup(4000, eqs, threshold="v > V_t", reset="v = V_r", refractory=5 * ms,
                method=args.method)
if args.init == "normal":
    P.v = "E_L + (randn()*5 - 5)*mV"
    P.ge = "(randn()*1.5 + 4)*10*nS"
    P.gi = "(randn()*12 + 20)*10*nS"
else:
    r3 = math.sqrt(3.0)
    P.v = "E_L + (-5 + 5*r3*(2*rand() - 1))*mV"
    P.ge = "(4 + 1.5*r3*(2*rand() - 1))*10*nS"
    P.gi = "(20 + 12*r3*(2*rand() - 1))*10*nS"
Pe, Pi = P[:3200], P[3200:]
Ce = Synapses(Pe, P, on_pre="ge += we")
Ci = Synapses(Pi, P, on_pre="gi += wi")
Ce.connect(p=0.02)
Ci.connect(p=0.02)
se = SpikeMonitor(Pe)
si = SpikeMonitor(Pi)

bench.run(args.ms, Network(collect()), globals())
sec = args.ms / 1000.0
bench.report(4000, common.n_synapses(Ce, Ci), se.num_spikes + si.num_spikes, args.ms,
             events=common.events((se, Ce), (si, Ci)),
             exc_hz=round(se.num_spikes / 3200 / sec, 4), inh_hz=round(si.num_spikes / 800 / sec, 4),
             init=args.init)
