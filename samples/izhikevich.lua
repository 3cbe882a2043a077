-- samples/izhikevich.lua: the 1000-neuron network of Izhikevich (2003),
-- "Simple model of spiking neurons" (IEEE Trans Neural Netw 14:1569), the
-- paper's MATLAB program (its Fig. 3) in nkshell: heterogeneous regular
-- spiking and fast spiking neurons, random all-to-all coupling and thalamic
-- noise, which settle into a population rhythm in the alpha and gamma range.
--
--   nkshell samples/izhikevich.lua [OUTPUT.h5] [DURATION_MS]
--
-- The paper's program, line by line:
--   800 excitatory neurons, r uniform in [0, 1) per neuron:
--     a = 0.02, b = 0.2, c = -65 + 15 r^2, d = 8 - 6 r^2 (regular spiking,
--     with some intrinsically bursting and chattering ones as r grows);
--   200 inhibitory neurons, r uniform per neuron:
--     a = 0.02 + 0.08 r, b = 0.25 - 0.05 r, c = -65, d = 2 (fast spiking
--     to low-threshold spiking);
--   S = [0.5*rand(1000, 800), -rand(1000, 200)]: every neuron (itself
--     included) gets every excitatory neuron's spike with a weight uniform in
--     [0, 0.5) and every inhibitory one's with a weight in (-1, 0];
--   thalamic input I = [5*randn(800, 1); 2*randn(200, 1)], drawn anew each
--     millisecond, plus the weights of the spikes of the last millisecond;
--   v = -65, u = b*v to start; a step of 1 ms, v advanced in two Euler
--     half-steps, spikes at v >= 30 mV, then v = c, u += d.
--
-- How that is written here. The library's izhikevich model has a, b, c, d as
-- parameters, shared by a population, and a population's per-neuron values
-- are states, initialised to a constant or nk.uniform. So this sample
-- defines "izhikevich_r" with nk.model: r is a state without an equation (a
-- per-neuron constant, initialised with nk.uniform(0, 1)), and a, b, c, d
-- are the paper's expressions of r with the coefficients as parameters
-- (a = a0 + a1 r, b = b0 + b1 r, c = c0 + c1 r^2, d = d0 + d1 r^2): the
-- paper's distributions exactly, one r per neuron as in the paper. The
-- paper's integration scheme is written out in the equations (two half-steps
-- for v as intermediates, and dv/dt = (v2 - v)/dt, which forward Euler
-- takes to v2; u from the new v), and u starts at b*v (the first step uses
-- b*v in place of u: a population's initial values cannot be expressions).
-- The spikes act as the paper's I = I + sum(S(:, fired), 2): a synapse
-- model whose current is the arriving weight for one step (forward Euler
-- takes ds/dt = -s/dt to 0 over the step), after one step of delay, so a
-- spike at the end of one millisecond drives the next. The thalamic input
-- is an "equation" source, 5*randn() pA into C_m = 1 pF (I/C_m is the
-- paper's I, mV/ms), constant over a step: a new draw each millisecond.
-- dt = 1 ms, double precision (MATLAB's).
--
-- What differs from the paper's program: only the random numbers (and so
-- the exact spikes). The same program in plain Lua (MATLAB's algorithm,
-- Lua's generator) gives over seeds 1-8 7.5-7.8 Hz excitatory and 7.0-7.6 Hz
-- inhibitory (means 7.68 and 7.26), its spectrum peaking at 8-9 Hz (once at
-- 31 Hz); this sample gives 7.3-8.1 and 7.0-7.7 Hz over seeds 1-8 (means
-- 7.69 and 7.40), peaking at 7-9 Hz.
-- (With "delta" synapses, which jump v at the start of the step instead,
-- and two plain Euler half-steps for v and u (max_dt = 0.5), the rates are
-- a little higher, and with some seeds the start tips the network into a
-- seizure, every neuron firing every millisecond, then silence.)
--
-- Printed: the rates of both populations, and the spectrum of the
-- population rate of all 1000 neurons (1 ms bins after a 100 ms warm-up):
-- where it peaks, where it peaks within 25-80 Hz, and the share of the
-- power in the alpha (8-13 Hz) and gamma (30-50 Hz) bands, against the
-- share a flat spectrum would give them (the rhythms are there when alpha
-- holds over 3 times its flat share and gamma over 1.5 times). The results file holds the spikes
-- (/spikes/exc, /spikes/inh), each population's rate in 1 ms bins
-- (/rate/exc, /rate/inh) and v and u of the first 5 neurons of each
-- (/report/exc, /report/inh; row 1, t = 0, holds u = 0 before the first
-- step sets it to b*v).

local output = arg and arg[1] or "izhikevich.h5"
local duration = tonumber(arg and arg[2]) or 1000
if duration < 200 then error("DURATION_MS must be at least 200 ms", 0) end

-- The paper's step: v advanced in two Euler half-steps with the same I,
-- then u in one step of 1 ms from the new v. As intermediates evaluated at
-- the step's start, with forward Euler over dt: v + dt*(v2 - v)/dt = v2.
-- u0 is u, except in the first step, where it is the paper's initial b*v.
local izh = nk.model{
  name = "izhikevich_r",
  doc = "Izhikevich (2003) with a, b, c, d functions of a per-neuron constant r, and the paper's two half-steps for v",
  params = {a0 = {0.02, "1/ms"}, a1 = {0, "1/ms"}, b0 = {0.2, "1/ms"}, b1 = {0, "1/ms"},
            c0 = {-65, "mV"}, c1 = {0, "mV"}, d0 = {8, "mV/ms"}, d1 = {0, "mV/ms"},
            v_peak = {30, "mV"}},
  states = {v = {-65, "mV"}, u = {0, "mV/ms"}, r = 0},
  equations = {
    "a = a0 + a1*r",
    "b = b0 + b1*r",
    "u0 = t < 0.5*dt ? b*v : u",
    "v1 = v + 0.5*dt*(0.04*v^2 + 5*v + 140 - u0 + I)",
    "v2 = v1 + 0.5*dt*(0.04*v1^2 + 5*v1 + 140 - u0 + I)",
    "dv/dt = (v2 - v)/dt : mV",
    "du/dt = (u0 - u)/dt + a*(b*v2 - u0) : mV/ms",
  },
  threshold = "v >= v_peak",
  reset = {"v = c0 + c1*r^2", "u += d0 + d1*r^2"},
  method = "euler",
}
-- The paper adds the weights of the spikes fired at the start of a step
-- to I for that step only: a current s = w that forward Euler takes to 0
-- over the step (s + dt*(-s/dt)).
local pulse = nk.model{
  name = "izhikevich_pulse", kind = "synapse",
  doc = "a current equal to the arriving weight for one step (the paper's I = I + sum(S(:, fired), 2))",
  states = {s = {0, "pA"}},
  equations = "ds/dt = -s/dt : pA",
  on_pre = "s = w", current = "s", method = "euler",
}

local t0 = nk.clock()
local net = nk.network{dt = 1, output = output, precision = "double"}   -- seed: 1, or --seed N
local exc = net:population(izh, 800, {name = "exc",
  params = {a0 = 0.02, b0 = 0.2, c0 = -65, c1 = 15, d0 = 8, d1 = -6},
  init = {r = nk.uniform(0, 1)}})
local inh = net:population(izh, 200, {name = "inh",
  params = {a0 = 0.02, a1 = 0.08, b0 = 0.25, b1 = -0.05, c0 = -65, d0 = 2},
  init = {r = nk.uniform(0, 1)}})

for _, post in ipairs{exc, inh} do
  net:connect(exc, post, {rule = "all_to_all", weight = nk.uniform(0, 0.5), synapse = pulse,
                          receptor = "syn"})
  net:connect(inh, post, {rule = "all_to_all", weight = nk.uniform(-1, 0), synapse = pulse,
                          receptor = "syn"})
end
net:source("equation", exc, {I = "5*randn()"})
net:source("equation", inh, {I = "2*randn()"})

local sp_exc = net:monitor("spikes", exc)
local sp_inh = net:monitor("spikes", inh)
local r_exc = net:monitor("rate", exc, {bin = 1})
local r_inh = net:monitor("rate", inh, {bin = 1})
net:monitor("state", exc:slice(1, 5), {vars = {"v", "u"}})
net:monitor("state", inh:slice(1, 5), {vars = {"v", "u"}})
local construct_s = nk.clock() - t0

print(net)
net:run(duration)
local build_s, run_s = net:timing()

-- the population rate of all 1000 neurons, 1 ms bins, after the warm-up
local warm = 100
local re, ri = r_exc:values(), r_inh:values()
local x, mean = {}, 0
for k = warm + 1, #re do
  x[#x + 1] = (800 * re[k] + 200 * ri[k]) / 1000
  mean = mean + x[#x]
end
mean = mean / #x
-- power spectrum at 1 Hz steps, 1..200 Hz (the 500 Hz Nyquist limit is far)
local power, total = {}, 0
for f = 1, 200 do
  local w, c, s = 2 * math.pi * f / 1000, 0, 0
  for k = 1, #x do
    local d = x[k] - mean
    c, s = c + d * math.cos(w * k), s + d * math.sin(w * k)
  end
  power[f] = c * c + s * s
  total = total + power[f]
end
local function peak_in(lo, hi)
  local best, best_f = -1, lo
  for f = lo, hi do
    if power[f] > best then best, best_f = power[f], f end
  end
  return best_f
end
local function share(lo, hi)
  local p = 0
  for f = lo, hi do p = p + power[f] end
  return p / total
end
local peak_f, gamma_f = peak_in(5, 200), peak_in(25, 80)
local alpha, gamma = share(8, 13), share(30, 50)

print(string.format("simulated %g ms of %d neurons on the %s backend", duration, #exc + #inh, net.backend))
print(string.format("  exc (regular spiking, 800): %d spikes, %.2f Hz", sp_exc:count(), sp_exc:rate()))
print(string.format("  inh (fast spiking, 200):    %d spikes, %.2f Hz", sp_inh:count(), sp_inh:rate()))
print(string.format("  population rate after %d ms: mean %.2f Hz; its spectrum peaks at %d Hz, " ..
                    "and within 25-80 Hz at %d Hz", warm, mean, peak_f, gamma_f))
print(string.format("  power in alpha (8-13 Hz): %.1f %%, in gamma (30-50 Hz): %.1f %% " ..
                    "(a flat spectrum: %.1f %% and %.1f %%)", 100 * alpha, 100 * gamma, 600 / 200, 2100 / 200))
print("what it shows:")
local as_paper = alpha / 0.03 > 3 and gamma / 0.105 > 1.5
print(string.format("  the rhythms: alpha (8-13 Hz) holds %.1f times a flat spectrum's share of the power, " ..
                    "gamma (30-50 Hz) %.1f times: %s", alpha / 0.03, gamma / 0.105,
                    as_paper and "the alpha and gamma rhythms of the paper's Fig. 3"
                    or "not the alpha and gamma rhythms of the paper's Fig. 3"))
print(string.format("  construction %.3f s, build %.3f s, run %.3f s", construct_s, build_s, run_s))
print("  results: " .. output)
