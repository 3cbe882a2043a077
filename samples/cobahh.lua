-- samples/cobahh.lua: a random network of Hodgkin-Huxley neurons with
-- exponential conductance synapses, Brette et al. (2007) benchmark 3, as in
-- Brian2's examples/COBAHH.py, in nkshell's units.
--
--   nkshell samples/cobahh.lua [OUTPUT.h5] [DURATION_MS]
--
-- 4000 Traub & Miles (1991) neurons, 3200 excitatory and 800 inhibitory, each
-- pair connected with probability 2 %, conductance synapses with reversal
-- potentials (0 mV, tau 5 ms, 6 nS excitatory; -80 mV, tau 10 ms, 67 nS
-- inhibitory), no external input: the initial conductances start the
-- activity and the network sustains it (at about 36 Hz).
--
-- Brian2 writes the membrane per unit area and multiplies by the area,
-- 20000 um^2: 1 uF/cm^2 is C_m = 200 pF, 5e-5 S/cm^2 is g_L = 10 nS, 100 and
-- 30 mS/cm^2 are g_Na = 20000 nS and g_K = 6000 nS. E_L = -60, E_K = -90,
-- E_Na = 50 mV, V_T = -63 mV; a spike is v crossing -20 mV, refractory 3 ms
-- (spikes only: v keeps its dynamics), no reset. The rate functions are
-- Brian2's, with x/(exp(x) - 1) written 1/exprel(x) (the same values, without
-- the 0/0 at x = 0). Solver: exponential Euler at dt = 0.1 ms, as Brian2's
-- (method='exponential_euler'): each variable advanced exactly over the step
-- with the others held.
--
-- These are the library's hh_traub equations, but the model is defined here
-- with nk.model for the initial values: the benchmark starts from random
-- conductances (a receptor's state cannot be given initial values), so ge
-- and gi are states of the neuron, and two one-line synapse models add a
-- spike's weight to them; and Brian2's m, h, n start at 0 (the example sets
-- only v, ge, gi), hh_traub's at their resting values.
--
-- What differs from Brian2's example: it draws v = E_L + (randn*5 - 5) mV,
-- ge = (randn*1.5 + 4)*10 nS, gi = (randn*12 + 20)*10 nS from normal
-- distributions; nkshell's populations take constant or uniform initial
-- values, so these are uniform with the same means and standard deviations
-- (mean -+ sqrt(3) sd). The Brian2 twin, scripts/bench/brian2/cobahh.py,
-- draws the same uniform values (or, with --init normal, the example's).
-- Delays are one step (Brian2's example has none: its input acts from the
-- next step, as one step of delay does here). State is float32 (nk.network's
-- default; Brian2 uses float64).

local output = arg and arg[1] or "cobahh.h5"
local duration = tonumber(arg and arg[2]) or 1000

local traub = nk.model{
  name = "cobahh_traub",
  doc = "Traub & Miles HH (Brette et al. 2007 benchmark 3), the conductances ge, gi as its own states",
  params = {C_m = {200, "pF"}, g_L = {10, "nS"}, E_L = {-60, "mV"}, E_K = {-90, "mV"},
            E_Na = {50, "mV"}, g_Na = {20000, "nS"}, g_K = {6000, "nS"}, V_T = {-63, "mV"},
            E_e = {0, "mV"}, E_i = {-80, "mV"}, tau_e = {5, "ms"}, tau_i = {10, "ms"},
            v_spike = {-20, "mV"}, t_ref = {3, "ms"}},
  states = {v = {"E_L", "mV"}, m = 0, h = 0, n = 0, ge = {0, "nS"}, gi = {0, "nS"}},
  equations = {
    "alpha_m = 1.28/exprel((13 - v + V_T)/4)",
    "beta_m = 1.4/exprel((v - V_T - 40)/5)",
    "alpha_h = 0.128*exp((17 - v + V_T)/18)",
    "beta_h = 4/(1 + exp((40 - v + V_T)/5))",
    "alpha_n = 0.16/exprel((15 - v + V_T)/5)",
    "beta_n = 0.5*exp((10 - v + V_T)/40)",
    "dv/dt = (g_L*(E_L - v) + ge*(E_e - v) + gi*(E_i - v) - g_Na*(m*m*m)*h*(v - E_Na)" ..
      " - g_K*(n*n*n*n)*(v - E_K) + I)/C_m : mV",
    "dm/dt = alpha_m*(1 - m) - beta_m*m : 1",
    "dn/dt = alpha_n*(1 - n) - beta_n*n : 1",
    "dh/dt = alpha_h*(1 - h) - beta_h*h : 1",
    "dge/dt = -ge/tau_e : nS",
    "dgi/dt = -gi/tau_i : nS",
  },
  threshold = "v > v_spike", refractory = "t_ref", method = "exponential_euler",
}
-- A spike adds its weight (nS) to the target's ge or gi (Brian2's on_pre).
local to_ge = nk.model{name = "cobahh_ge", kind = "synapse", doc = "ge += w",
                       on_pre = "ge += w", current = "0", method = "euler"}
local to_gi = nk.model{name = "cobahh_gi", kind = "synapse", doc = "gi += w",
                       on_pre = "gi += w", current = "0", method = "euler"}

local s3 = math.sqrt(3)
local init = {v = nk.uniform(-65 - 5 * s3, -65 + 5 * s3),        -- mean -65 mV, sd 5
              ge = nk.uniform(40 - 15 * s3, 40 + 15 * s3),        -- mean 40 nS, sd 15
              gi = nk.uniform(200 - 120 * s3, 200 + 120 * s3)}    -- mean 200 nS, sd 120

local t0 = nk.clock()
local net = nk.network{dt = 0.1, output = output}   -- seed: 1, or --seed N
local exc = net:population(traub, 3200, {name = "exc", init = init})
local inh = net:population(traub, 800, {name = "inh", init = init})

local e = {rule = "bernoulli", p = 0.02, weight = 6, delay = 0.1, synapse = to_ge, receptor = "ge"}
local i = {rule = "bernoulli", p = 0.02, weight = 67, delay = 0.1, synapse = to_gi, receptor = "gi"}
for _, post in ipairs{exc, inh} do
  net:connect(exc, post, e)
  net:connect(inh, post, i)
end

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
