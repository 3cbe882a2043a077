-- samples/coba.lua: the Vogels & Abbott (2005) network with conductance
-- synapses (COBA), Brette et al. (2007) benchmark 1, with the parameters of
-- Brian's examples/COBA.py converted to nkshell's units.
--
--   nkshell samples/coba.lua [OUTPUT.h5] [DURATION_MS]
--
-- 4000 leaky integrate-and-fire neurons, 3200 excitatory and 800 inhibitory,
-- each pair connected with probability 2 %, exponential conductance synapses
-- with reversal potentials (0 mV, tau 5 ms excitatory; -80 mV, tau 10 ms
-- inhibitory), no external input: the initial conductances start the
-- activity and the network sustains it (at about 19 Hz).
--
-- Brian's example writes v relative to rest and the conductances in units of
-- the leak conductance: dv/dt = (-v + ge*(Ee - v) + gi*(Ei - v))/taum with
-- taum = 20 ms, we = 0.6, wi = 6.7. Here it is a membrane of C_m = 200 pF
-- and g_L = 10 nS (the same 20 ms) in absolute units:
--   C_m dv/dt = g_L*(E_L - v) + ge*(E_e - v) + gi*(E_i - v)
-- E_L = -60 mV, threshold -50 mV, reset -60 mV, refractory 5 ms (v held),
-- E_e = 0 mV, E_i = -80 mV, we = 6 nS and wi = 67 nS, forward Euler for
-- every variable (the example's method) at dt = 0.1 ms.
--
-- The model is defined here with nk.model rather than taken from the
-- library's lif_cond (the same equations, with exp_cond receptors) because
-- the benchmark starts from random conductances, and a receptor's state
-- cannot be given initial values: ge and gi are states of the neuron, and
-- two one-line synapse models add a spike's weight to them.
--
-- What differs from Brian's example: it draws the initial values from normal
-- distributions (v = E_L + (randn*5 - 5) mV, ge = (randn*1.5 + 4)*10 nS,
-- gi = (randn*12 + 20)*10 nS); nkshell's populations take constant or
-- uniform initial values, so these are uniform with the same means and
-- standard deviations (mean -+ sqrt(3) sd). The Brian2 twin,
-- scripts/bench/brian2/coba.py, draws the same uniform values (or, with
-- --init normal, the example's). Delays are one step (Brian's example has
-- none: its input acts from the next step, as one step of delay does here).
-- As in Brian2's example, the 4000 are one population, and the excitatory
-- and inhibitory neurons are slices of it (1-3200, 3201-4000): one pass
-- updates them and two projections deliver their spikes, where two
-- populations would take two passes and four projections (docs/
-- performance.md). States are stored in double precision, as Brian2 stores
-- them (float, nk.network's default, halves their memory).
--
-- Self-sustained activity can die out: with some seeds the network falls
-- silent within the first few hundred ms, and the rates fall to a fraction
-- of a hertz (here seed 32 of seeds 1-40; about 2 in 11 when the excitatory
-- and inhibitory neurons were two populations, and in Brian2, whose random
-- numbers differ). The default seed, 1, keeps firing.

local output = arg and arg[1] or "coba.h5"
local duration = tonumber(arg and arg[2]) or 1000

local coba = nk.model{
  name = "coba_lif",
  doc = "LIF with the exponential conductances ge, gi as its own states (Brette et al. 2007, benchmark 1)",
  params = {C_m = {200, "pF"}, g_L = {10, "nS"}, E_L = {-60, "mV"}, E_e = {0, "mV"},
            E_i = {-80, "mV"}, tau_e = {5, "ms"}, tau_i = {10, "ms"}, v_thresh = {-50, "mV"},
            v_reset = {-60, "mV"}, t_ref = {5, "ms"}},
  states = {v = {"E_L", "mV"}, ge = {0, "nS"}, gi = {0, "nS"}},
  equations = {
    "dv/dt = (g_L*(E_L - v) + ge*(E_e - v) + gi*(E_i - v) + I)/C_m : mV (unless refractory)",
    "dge/dt = -ge/tau_e : nS",
    "dgi/dt = -gi/tau_i : nS",
  },
  threshold = "v > v_thresh", reset = "v = v_reset", refractory = "t_ref", method = "euler",
}
-- A spike adds its weight (nS) to the target's ge or gi (Brian2's on_pre).
local to_ge = nk.model{name = "coba_ge", kind = "synapse", doc = "ge += w",
                       on_pre = "ge += w", current = "0", method = "euler"}
local to_gi = nk.model{name = "coba_gi", kind = "synapse", doc = "gi += w",
                       on_pre = "gi += w", current = "0", method = "euler"}

local s3 = math.sqrt(3)
local init = {v = nk.uniform(-65 - 5 * s3, -65 + 5 * s3),        -- mean -65 mV, sd 5
              ge = nk.uniform(40 - 15 * s3, 40 + 15 * s3),        -- mean 40 nS, sd 15
              gi = nk.uniform(200 - 120 * s3, 200 + 120 * s3)}    -- mean 200 nS, sd 120

local t0 = nk.clock()
local net = nk.network{dt = 0.1, output = output,   -- seed: 1, or --seed N
                       precision = "double"}
local neurons = net:population(coba, 4000, {name = "neurons", init = init})
local exc, inh = neurons:slice(1, 3200), neurons:slice(3201, 4000)

net:connect(exc, neurons, {rule = "bernoulli", p = 0.02, weight = 6, delay = 0.1,
                           synapse = to_ge, receptor = "ge"})
net:connect(inh, neurons, {rule = "bernoulli", p = 0.02, weight = 67, delay = 0.1,
                           synapse = to_gi, receptor = "gi"})

local sp_exc = net:monitor("spikes", exc)
local sp_inh = net:monitor("spikes", inh)

local construct_s = nk.clock() - t0
print(net)
net:run(duration)
local build_s, run_s = net:timing()

print(string.format("simulated %g ms of %d neurons on the %s backend",
                    duration, #exc + #inh, net.backend))
print(string.format("  exc: %d spikes, %.2f Hz", sp_exc:count(), sp_exc:rate()))
print(string.format("  inh: %d spikes, %.2f Hz", sp_inh:count(), sp_inh:rate()))
print(string.format("  construction %.3f s (populations, connectivity)", construct_s))
print(string.format("  build %.3f s (code generation, compilation, buffers, results file)", build_s))
print(string.format("  run %.3f s (%.3f s per simulated second)", run_s, run_s / (duration / 1000)))
print("  results: " .. output)
