"""Brian2 twin of samples/cuba.lua: Brian2's examples/CUBA.py (Vogels & Abbott
2005; Brette et al. 2007 benchmark 2) with samples/cuba.lua's parameters.

    /usr/bin/python3 scripts/bench/brian2/cuba.py --ms 1000 [--mode ...] [--method M]

4000 LIF neurons (3200 excitatory, 800 inhibitory), p = 0.02 from each
population onto all 4000, taum 20 ms, El -49 mV, Vt -50 mV, Vr -60 mV,
refractory 5 ms, we = 1.62 mV (nkshell: 16.2 pA into 200 pF / 20 ms),
wi = -9 mV (-90 pA), tau_e 5 ms, tau_i 10 ms, v0 uniform in [Vr, Vt].

Differences from Brian2's example, to do nkshell's work:
- method exponential_euler (nkshell's lif solver: v advanced exactly with the
  synaptic input held over the step, the input decaying exactly); the example
  uses 'linear' (exact for the whole linear system). --method linear runs
  the example's.
- excitatory and inhibitory inputs come from two Synapses objects per
  source population, as nkshell's two projections per source; the example's
  single Synapses(P, P) with a condition gives the same connectivity
  statistics.
Synapses have no delay: their effect shows in the next step's update, as
nkshell's one-step delay does.
"""
import os
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

p = common.parser("cuba", __doc__)
p.add_argument("--method", default="exponential_euler")
args = p.parse_args()
bench = common.Bench("cuba", args)
from brian2 import Network, NeuronGroup, Synapses, SpikeMonitor, collect, ms, mV  # noqa: E402

taum, taue, taui = 20 * ms, 5 * ms, 10 * ms
Vt, Vr, El = -50 * mV, -60 * mV, -49 * mV
we = 1.62 * mV    # 16.2 pA * (20 ms / 200 pF)
wi = -9.0 * mV    # -90 pA

eqs = """
dv/dt  = (ge + gi - (v - El))/taum : volt (unless refractory)
dge/dt = -ge/taue : volt
dgi/dt = -gi/taui : volt
"""
P = NeuronGroup(4000, eqs, threshold="v > Vt", reset="v = Vr", refractory=5 * ms,
                method=args.method)
P.v = "Vr + rand()*(Vt - Vr)"
P.ge = 0 * mV
P.gi = 0 * mV
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
             exc_hz=round(se.num_spikes / 3200 / sec, 4), inh_hz=round(si.num_spikes / 800 / sec, 4))
