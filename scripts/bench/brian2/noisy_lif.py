"""Brian2 twin of scripts/bench/noisy_lif.lua: 4000 LIF neurons driven by
white noise alone (no synapses).

    /usr/bin/python3 scripts/bench/brian2/noisy_lif.py --ms 1000 [--mode ...]

dv/dt = (mu - v)/tau + sigma*sqrt(2/tau)*xi, method euler (Euler-Maruyama),
tau 10 ms, sigma 5 mV, mu -52 mV, threshold -50 mV, reset -60 mV,
refractory 2 ms (v held, as nkshell's refractory period holds it), v0 =
-60 mV.
"""
import os
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

p = common.parser("noisy_lif", __doc__)
args = p.parse_args()
bench = common.Bench("noisy_lif", args)
from brian2 import Network, NeuronGroup, SpikeMonitor, collect, ms, mV  # noqa: E402

tau, sigma, mu = 10 * ms, 5 * mV, -52 * mV
eqs = "dv/dt = (mu - v)/tau + sigma*sqrt(2/tau)*xi : volt (unless refractory)"
P = NeuronGroup(4000, eqs, threshold="v > -50*mV", reset="v = -60*mV", refractory=2 * ms,
                method="euler")
P.v = -60 * mV
s = SpikeMonitor(P)

bench.run(args.ms, Network(collect()), globals())
bench.report(4000, 0, s.num_spikes, args.ms)
