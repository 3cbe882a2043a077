-- samples/microcircuit.lua: the cortical microcircuit of Potjans & Diesmann
-- (2014), "The cell-type specific cortical microcircuit: relating structure
-- and activity in a full-scale spiking network model" (Cereb Cortex 24:785),
-- with the parameters of NEST's example (pynest/examples/Potjans_2014,
-- network_params.py and helpers.py), in its spontaneous state.
--
--   nkshell [--seed N] [--threads N] [--backend B] samples/microcircuit.lua
--           [OUTPUT.h5] [DURATION_MS] [SCALE]
--
-- 77,169 current-based leaky integrate-and-fire neurons under 1 mm² of
-- cortex in eight populations, an excitatory (E) and an inhibitory (I) one
-- in each of layers 2/3, 4, 5 and 6:
--
--   L23E 20683  L23I 5834  L4E 21915  L4I 5479
--   L5E   4850  L5I  1065  L6E 14395  L6I 2948
--
-- Neurons (NEST's iaf_psc_exp, here the library's model of that name, solved
-- exactly): C_m = 250 pF, tau_m = 10 ms, E_L = -65 mV, V_th = -50 mV,
-- V_reset = -65 mV, t_ref = 2 ms (v held at V_reset), exponential synaptic
-- currents with tau_syn = 0.5 ms. Initial v normal, mean -58 mV, sd 10 mV
-- (NEST's 'original' V0), drawn with Lua's math.random seeded from the
-- network's seed and the population's number, since a population's init
-- takes numbers, nk.uniform or a list but no normal distribution.
--
-- Connections: the paper's 8x8 table of connection probabilities C_a
-- (target x source) turned into a total number of synapses per pair of
-- populations, K = log(1 - C_a) / log(1 - 1/(N_pre N_post)), placed with
-- the fixed_total rule (NEST's fixed_total_number): each synapse joins a
-- source and a target drawn at random, multapses and autapses allowed.
-- Weights: a PSP of 0.15 mV, i.e. a PSC of 87.81 pA (NEST's conversion for
-- tau_syn 0.5 ms, tau_m 10 ms, C_m 250 pF), doubled from L4E to L23E,
-- times -4 from inhibitory neurons; normal with sd 10 % of the mean,
-- redrawn while of the wrong sign. Delays: excitatory 1.5 ms, inhibitory
-- 0.75 ms, normal with sd 50 % of the mean, redrawn while below dt (NEST's
-- normal_clipped), then rounded to whole steps. About 0.3 billion synapses
-- at full scale (10 bytes each here: some 3 GB).
--
-- Background: each neuron gets K_ext = 1600, 1500, 2100, 1900, 2000, 1900,
-- 2900, 2100 (in the order above) Poisson inputs of 8 Hz with the 87.81 pA
-- weight, written as one Poisson train of K_ext x 8 Hz per neuron (the sum
-- of independent Poisson trains; NEST's example does the same with one
-- poisson_generator per population). NEST gives these inputs a 1.5 ms
-- delay, which makes no difference to a stationary train. No thalamic
-- input. dt = 0.1 ms.
--
-- SCALE (default 0.1: 7,718 neurons, 29.9 million synapses; 1 is the full
-- model) multiplies every population's size and every K, so that each
-- neuron keeps the full model's in-degrees and weights (NEST's N_scaling =
-- SCALE with K_scaling = 1): the mean and variance of every neuron's input
-- stay those of the full model and the rates stay close to its rates. The
-- network gets denser as it shrinks (at SCALE 0.1 an L5E neuron gets its
-- 496 L5I synapses from 107 neurons, several each), so neurons share more of
-- their input. NEST's other way down, fewer synapses (K_scaling < 1) with
-- weights times 1/sqrt(K_scaling) and a DC current that makes up the lost
-- mean input, is not implemented.
--
-- Printed: the numbers of neurons and synapses, the construction time
-- and memory; after the run, per population its size, mean in-degree,
-- K_ext, and its spikes and mean rate (over all its neurons, silent ones
-- included) after a 100 ms transient (half the run when it is shorter
-- than 200 ms), beside the rates of NEST's full-scale simulation
-- (network_params.py: full_mean_rates); then whether every population
-- fires and the excitatory neurons of L2/3 and L6 are slower than those of
-- L4 and L5 (the paper's finding), the population farthest from NEST's
-- rate, and the construction, build and run times with the real-time
-- factor. The results file holds the spikes of the eight populations
-- (/spikes/L23E, ...).
--
-- What comes out (seed 1, 1000 ms; docs/samples.md has the times): at
-- SCALE 1, 0.84, 2.87, 4.39, 5.82, 7.29, 8.55, 1.11, 7.77 Hz against
-- NEST's 0.97, 2.87, 4.75, 5.40, 8.14, 9.08, 0.99, 7.52 Hz (within 14 %);
-- at the default 0.1, L2/3 fires faster (1.41 and 3.72 Hz) and the other
-- six are within 12 % of NEST's. Below about 0.05 the shared input makes
-- L2/3 and L5 wander in slow waves of a few hundred ms (at 0.02, L2/3E
-- 2.6 to 12 Hz over 200 ms, by seed); L4E and L6E stay near 4 and 1 Hz.
--
-- --backend and --threads pick the backend and the CPU threads as for any
-- script; --seed seeds the connections, weights, delays, initial values
-- and the Poisson input.

local output = arg and arg[1] or "microcircuit.h5"
local duration = tonumber(arg and arg[2]) or 1000
local scale = tonumber(arg and arg[3]) or 0.1
if duration <= 0 then error("DURATION_MS must be positive", 0) end
if scale <= 0 or scale > 1 then error("SCALE must be in (0, 1]", 0) end

local names = {"L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"}
local N_full = {20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948}
-- connection probabilities: row = target, column = source, in the order of names
local C_a = {
  {0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0,      0.0076, 0     },
  {0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0,      0.0042, 0     },
  {0.0077, 0.0059, 0.0497, 0.135,  0.0067, 0.0003, 0.0453, 0     },
  {0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0,      0.1057, 0     },
  {0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0     },
  {0.0548, 0.0269, 0.0257, 0.0022, 0.06,   0.3158, 0.0086, 0     },
  {0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252},
  {0.0364, 0.001,  0.0034, 0.0005, 0.0277, 0.008,  0.0658, 0.1443},
}
local K_ext = {1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100}
local nu_bg = 8                                           -- Hz per external input
local nest_rates = {0.971, 2.868, 4.746, 5.396, 8.142, 9.078, 0.991, 7.523}   -- Hz

local dt = 0.1
local neuron = {C_m = 250, tau_m = 10, E_L = -65, V_th = -50, V_reset = -65, t_ref = 2,
                tau_syn_ex = 0.5, tau_syn_in = 0.5}
local V0_mean, V0_sd = -58, 10                            -- mV
local PSP_e, PSP_sd, g = 0.15, 0.1, -4                    -- mV, relative sd, inhibitory factor
local d_exc, d_inh, d_sd = 1.5, 0.75, 0.5                 -- ms, ms, relative sd

-- The PSC (pA) whose PSP peaks at 1 mV: the exponential current filtered by
-- the membrane, v(t) = w tau_s/C_m (e^(-t/tau_m) - e^(-t/tau_s)) / (1 - tau_s/tau_m),
-- at its maximum (NEST's postsynaptic_potential_to_current).
local function psc_per_mv(C_m, tau_m, tau_s)
  local sub = 1 / (tau_s - tau_m)
  local pre = tau_m * tau_s / C_m * sub
  local frac = (tau_m / tau_s) ^ sub
  return 1 / (pre * (frac ^ tau_m - frac ^ tau_s))
end
local w_exc = PSP_e * psc_per_mv(neuron.C_m, neuron.tau_m, neuron.tau_syn_ex)   -- 87.81 pA

local function round(x) return math.floor(x + 0.5) end

-- one normal draw from Lua's generator (Box-Muller)
local function randn()
  return math.sqrt(-2 * math.log(1 - math.random())) * math.cos(2 * math.pi * math.random())
end

local mem0 = nk.memory()
local t0 = nk.clock()
local net = nk.network{dt = dt, output = output}   -- seed: 1, or --seed N
local pops, N = {}, {}
for k, name in ipairs(names) do
  N[k] = math.max(1, round(N_full[k] * scale))
  math.randomseed(net.seed, k)
  local v0 = {}
  for i = 1, N[k] do v0[i] = V0_mean + V0_sd * randn() end
  pops[k] = net:population("iaf_psc_exp", N[k], {name = name, params = neuron, init = {v = v0}})
end

local nsyn, indegree = 0, {}
for t = 1, 8 do
  indegree[t] = 0
  for s = 1, 8 do
    local p = C_a[t][s]
    if p > 0 then
      local K_full = math.log(1 - p) / math.log(1 - 1 / (N_full[s] * N_full[t]))
      local total = round(K_full * scale)
      if total > 0 then
        local exc = s % 2 == 1
        local w = exc and w_exc or g * w_exc
        if s == 3 and t == 1 then w = 2 * w end   -- L4E -> L23E
        local d = exc and d_exc or d_inh
        net:connect(pops[s], pops[t], {
          rule = "fixed_total", total = total,
          weight = exc and nk.normal(w, PSP_sd * w, 0, math.huge)
                       or nk.normal(w, -PSP_sd * w, -math.huge, 0),
          delay = nk.normal(d, d_sd * d, dt, math.huge)})
        nsyn = nsyn + total
        indegree[t] = indegree[t] + total / N[t]
      end
    end
  end
  net:source("poisson", pops[t], {rate = K_ext[t] * nu_bg, weight = w_exc})
end

local monitors = {}
for k, pop in ipairs(pops) do monitors[k] = net:monitor("spikes", pop) end
local construct_s = nk.clock() - t0
local mem = nk.memory()

local nn = 0
for k = 1, 8 do nn = nn + N[k] end
print(string.format("Potjans & Diesmann (2014) microcircuit at scale %g: %d neurons, %d synapses, " ..
                    "PSC %.2f pA (PSP %.2f mV), dt %g ms", scale, nn, nsyn, w_exc, PSP_e, dt))
print(string.format("  construction %.2f s (populations, connections); memory: resident %.0f MiB " ..
                    "(%.0f MiB before), peak %.0f MiB", construct_s, mem.rss / 2^20, mem0.rss / 2^20,
                    mem.peak / 2^20))
io.stdout:flush()

net:run(duration)
local build_s, run_s = net:timing()

local warm = math.min(100, duration / 2)
local T = (duration - warm) / 1000
print(string.format("simulated %g ms on the %s backend (%d threads); rates over %g..%g ms, " ..
                    "silent neurons included:", duration, net.backend, net.threads, warm, duration))
print("  population  neurons  in-degree  K_ext    spikes  rate Hz  NEST full scale Hz")
local rates = {}
for k, sp in ipairs(monitors) do
  local n = 0
  for _, t in ipairs(sp:times()) do
    if t >= warm then n = n + 1 end
  end
  rates[k] = n / N[k] / T
  print(string.format("  %-10s  %7d  %9.0f  %5d  %8d  %7.2f  %7.3f", names[k], N[k], indegree[k],
                      K_ext[k], n, rates[k], nest_rates[k]))
end

-- What the paper shows: every population active, the excitatory neurons of
-- L2/3 and L6 far slower than those of L4 and L5.
local silent, slowest, fastest, worst = {}, 1, 1, 1
local function off(k) return math.abs(math.log((rates[k] + 1e-3) / nest_rates[k])) end
for k = 1, 8 do
  if rates[k] == 0 then silent[#silent + 1] = names[k] end
  if rates[k] < rates[slowest] then slowest = k end
  if rates[k] > rates[fastest] then fastest = k end
  if off(k) > off(worst) then worst = k end
end
local layered = math.max(rates[1], rates[7]) < math.min(rates[3], rates[5])
print("what it shows:")
if #silent == 0 then
  print(string.format("  every population fires: from %.2f Hz (%s) to %.2f Hz (%s);",
                      rates[slowest], names[slowest], rates[fastest], names[fastest]))
else
  print("  silent populations: " .. table.concat(silent, ", ") .. ";")
end
print(string.format("  excitatory neurons: L2/3 %.2f Hz and L6 %.2f Hz, L4 %.2f Hz and L5 %.2f Hz: %s;",
                    rates[1], rates[7], rates[3], rates[5],
                    layered and "L2/3 and L6 slower than L4 and L5, as in the paper"
                             or "NOT the paper's order (L2/3 and L6 slower than L4 and L5)"))
print(string.format("  the farthest from NEST's full-scale rates is %s: %.2f Hz for %.3f.",
                    names[worst], rates[worst], nest_rates[worst]))
print(string.format("  construction %.2f s, build %.3f s, run %.2f s (real-time factor %.2f)",
                    construct_s, build_s, run_s, run_s / (duration / 1000)))
print("  results: " .. output)
