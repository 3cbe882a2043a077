"""Brian2 twin of samples/cobahh.lua: Brian2's examples/COBAHH.py (Brette et al.
2007 benchmark 3), a random network of Traub & Miles HH neurons with
exponential conductance synapses.

    /usr/bin/python3 scripts/bench/brian2/cobahh.py --ms 1000 [--mode ...] [--init normal]

The example's equations, parameters, connectivity (p = 0.02 from each of the
3200 excitatory and 800 inhibitory neurons onto all 4000), threshold
(v > -20 mV), refractory period (3 ms, spikes only) and method
(exponential_euler), at dt = 0.1 ms. m, h, n start at 0, as in the example.

Initial values: the example draws v = El + (randn*5 - 5) mV, ge = (randn*1.5
+ 4)*10 nS, gi = (randn*12 + 20)*10 nS. nkshell's populations take constant
or uniform initial values only, so both twins draw them uniformly with the
same means and standard deviations (mean +- sqrt(3) sd). --init normal uses
the example's normal draws instead.

The example's Ce/Ci connect Pe/Pi to P as here. Synapses have no delay: their
effect shows in the next step's update, as nkshell's one-step delay does.
"""
import math
import os
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

p = common.parser("cobahh", __doc__)
p.add_argument("--init", choices=("uniform", "normal"), default="uniform")
args = p.parse_args()
bench = common.Bench("cobahh", args)
from brian2 import (Equations, Network, NeuronGroup, Synapses, SpikeMonitor, cm, collect,  # noqa: E402
                    mV, ms, msiemens, nS, siemens, ufarad, umetre)

area = 20000 * umetre ** 2
Cm = (1 * ufarad * cm ** -2) * area
gl = (5e-5 * siemens * cm ** -2) * area
El = -60 * mV
EK = -90 * mV
ENa = 50 * mV
g_na = (100 * msiemens * cm ** -2) * area
g_kd = (30 * msiemens * cm ** -2) * area
VT = -63 * mV
taue = 5 * ms
taui = 10 * ms
Ee = 0 * mV
Ei = -80 * mV
we = 6 * nS    # excitatory synaptic weight
wi = 67 * nS   # inhibitory synaptic weight

eqs = Equations("""
dv/dt = (gl*(El-v)+ge*(Ee-v)+gi*(Ei-v)-
         g_na*(m*m*m)*h*(v-ENa)-
         g_kd*(n*n*n*n)*(v-EK))/Cm : volt
dm/dt = alpha_m*(1-m)-beta_m*m : 1
dn/dt = alpha_n*(1-n)-beta_n*n : 1
dh/dt = alpha_h*(1-h)-beta_h*h : 1
dge/dt = -ge*(1./taue) : siemens
dgi/dt = -gi*(1./taui) : siemens
alpha_m = 0.32*(mV**-1)*(13*mV-v+VT)/
         (exp((13*mV-v+VT)/(4*mV))-1.)/ms : Hz
beta_m = 0.28*(mV**-1)*(v-VT-40*mV)/
        (exp((v-VT-40*mV)/(5*mV))-1)/ms : Hz
alpha_h = 0.128*exp((17*mV-v+VT)/(18*mV))/ms : Hz
beta_h = 4./(1+exp((40*mV-v+VT)/(5*mV)))/ms : Hz
alpha_n = 0.032*(mV**-1)*(15*mV-v+VT)/
         (exp((15*mV-v+VT)/(5*mV))-1.)/ms : Hz
beta_n = .5*exp((10*mV-v+VT)/(40*mV))/ms : Hz
""")

P = NeuronGroup(4000, model=eqs, threshold="v>-20*mV", refractory=3 * ms,
                method="exponential_euler")
Pe = P[:3200]
Pi = P[3200:]
Ce = Synapses(Pe, P, on_pre="ge+=we")
Ci = Synapses(Pi, P, on_pre="gi+=wi")
Ce.connect(p=0.02)
Ci.connect(p=0.02)

if args.init == "normal":
    P.v = "El + (randn() * 5 - 5)*mV"
    P.ge = "(randn() * 1.5 + 4) * 10.*nS"
    P.gi = "(randn() * 12 + 20) * 10.*nS"
else:
    r3 = math.sqrt(3.0)
    P.v = "El + (-5 + 5*r3*(2*rand() - 1))*mV"
    P.ge = "(4 + 1.5*r3*(2*rand() - 1))*10*nS"
    P.gi = "(20 + 12*r3*(2*rand() - 1))*10*nS"
se = SpikeMonitor(Pe)
si = SpikeMonitor(Pi)

bench.run(args.ms, Network(collect()), globals())
sec = args.ms / 1000.0
bench.report(4000, common.n_synapses(Ce, Ci), se.num_spikes + si.num_spikes, args.ms,
             events=common.events((se, Ce), (si, Ci)),
             exc_hz=round(se.num_spikes / 3200 / sec, 4), inh_hz=round(si.num_spikes / 800 / sec, 4),
             init=args.init)
