-- samples/brunel.lua: Brunel (2000), "Dynamics of sparsely connected networks
-- of excitatory and inhibitory spiking neurons" (J Comput Neurosci 8:183),
-- model A: one network in the four states of the paper's Fig. 8, told apart
-- by their rate, the irregularity of single neurons and their synchrony.
--
--   nkshell samples/brunel.lua [OUTPUT.h5] [DURATION_MS] [SCALE]
--
-- The paper's network: N_E = 10,000 excitatory and N_I = 2,500 inhibitory
-- leaky integrate-and-fire neurons (tau = 20 ms, theta = 20 mV, V_r = 10 mV,
-- refractory 2 ms, v held at V_r meanwhile), each receiving C_E = 1000
-- excitatory and C_I = 250 inhibitory connections (epsilon = 0.1) that make
-- v jump by J = 0.1 mV (excitatory) or -g*J (inhibitory) after a delay
-- D = 1.5 ms ("delta" synapses; input that arrives during the refractory
-- period is lost), and C_E external excitatory Poisson inputs of rate nu_ext
-- each, also of J: one Poisson train of C_E*nu_ext per neuron here.
-- nu_thr = theta/(J*C_E*tau) = 10 Hz is the external rate that brings the
-- mean input to threshold. The four points of Fig. 8:
--
--   A  g = 3,   nu_ext/nu_thr = 2    synchronous regular (SR)
--   B  g = 6,   nu_ext/nu_thr = 4    synchronous irregular, fast (SI fast)
--   C  g = 5,   nu_ext/nu_thr = 2    asynchronous irregular (AI)
--   D  g = 4.5, nu_ext/nu_thr = 0.9  synchronous irregular, slow (SI slow)
--
-- All four are built side by side in one network (eight populations, no
-- connections between the copies) and run together, so that one run writes
-- one results file: spikes of every population (/spikes/X_exc, X_inh), and
-- per state the excitatory population rate in 0.5 ms bins (/rate/X_exc)
-- and the mean v of the excitatory neurons every step (/field/X_exc),
-- X = A, B, C, D.
--
-- Printed per state, measured on the excitatory neurons after a warm-up (the
-- first quarter of the run, at most 200 ms): the mean rate; the mean CV of
-- the interspike intervals (neurons with at least three spikes); a
-- synchrony measure chi; and the frequency at which the population rate's
-- spectrum peaks (2-500 Hz). chi is Golomb & Hansel's (2000) measure on
-- spike counts rather than voltages: with n_i(t) the spikes of neuron i in
-- 1 ms bins and n(t)/N their mean, chi^2 = var_t(n(t)/N) / mean_i
-- var_t(n_i(t)); about 1/sqrt(N) for independent neurons, 1 when all fire
-- in the same bins. (The voltage form tells the states apart less well
-- here: in this denser network shared input makes the sub-threshold v of
-- the AI state correlated too.) The AI state keeps a weak fast oscillation
-- (chi well above 1/sqrt(N), a spectral peak near 100-150 Hz), at SCALE 1
-- as well; it is the least synchronous of the four all the same.
--
-- SCALE (default 0.2) scales N_E and N_I and keeps the in-degrees C_E and
-- C_I: every neuron gets the paper's mean input and fluctuations (so the
-- states are those of the paper's phase diagram), but the network is denser
-- (epsilon = 0.5 at 0.2), so neurons share more of their input than the
-- paper's sparse network. SCALE 1 is the paper's size and about 4 times
-- slower (4.0-5.0 s against 0.8-1.5 s, docs/samples.md). State A costs most: at 0.2 its 2,500 neurons x 333 Hz x 1,250
-- synapses are 1e9 synaptic events per simulated second, three quarters of
-- the run.
-- Initial v uniform in [0, theta]. dt = 0.1 ms; exponential Euler (exact
-- for the leak between inputs).

local output = arg and arg[1] or "brunel.h5"
local duration = tonumber(arg and arg[2]) or 1000
local scale = tonumber(arg and arg[3]) or 0.2
if duration < 20 then error("DURATION_MS must be at least 20 ms", 0) end
if scale <= 0 or scale > 1 then error("SCALE must be in (0, 1]", 0) end

local N_E = math.floor(10000 * scale + 0.5)
local N_I = math.floor(2500 * scale + 0.5)
local C_E, C_I = 1000, 250
if N_E < C_E then error(string.format("SCALE %g leaves %d excitatory neurons, fewer than C_E = %d", scale, N_E, C_E), 0) end
local J, D = 0.1, 1.5                          -- mV, ms
local tau, theta, V_r, t_ref = 20, 20, 10, 2    -- ms, mV, mV, ms
local nu_thr = theta / (J * C_E * tau) * 1000   -- Hz: 10
local lif = {tau_m = tau, C_m = 250, v_rest = 0, v_reset = V_r, v_thresh = theta, t_ref = t_ref}

local states = {
  {name = "A", g = 3,   nu = 2,   paper = "SR: synchronous regular"},
  {name = "B", g = 6,   nu = 4,   paper = "SI fast: synchronous irregular, fast oscillation"},
  {name = "C", g = 5,   nu = 2,   paper = "AI: asynchronous irregular"},
  {name = "D", g = 4.5, nu = 0.9, paper = "SI slow: synchronous irregular, slow oscillation"},
}
local bin = 0.5       -- ms, population rate bins
local sync_bin = 1    -- ms, bins of the synchrony measure

local t0 = nk.clock()
local net = nk.network{dt = 0.1, output = output}   -- seed: 1, or --seed N
for _, s in ipairs(states) do
  local init = {v = nk.uniform(0, theta)}
  local exc = net:population("lif", N_E, {name = s.name .. "_exc", params = lif, init = init})
  local inh = net:population("lif", N_I, {name = s.name .. "_inh", params = lif, init = init})
  for _, post in ipairs{exc, inh} do
    net:connect(exc, post, {rule = "fixed_indegree", indegree = C_E, weight = J, delay = D,
                            synapse = "delta", receptor = "syn"})
    net:connect(inh, post, {rule = "fixed_indegree", indegree = C_I, weight = -s.g * J, delay = D,
                            synapse = "delta", receptor = "syn"})
    net:source("poisson", post, {rate = C_E * s.nu * nu_thr, weight = J,
                                 synapse = "delta", receptor = "syn"})
  end
  s.sp = net:monitor("spikes", exc)
  s.sp_inh = net:monitor("spikes", inh)
  s.rate = net:monitor("rate", exc, {bin = bin})
  s.vmean = net:monitor("field", exc, {var = "v", op = "mean"})
end
local construct_s = nk.clock() - t0

print(string.format("Brunel (2000) model A, 4 states side by side: N_E = %d, N_I = %d per state " ..
                    "(scale %g), C_E = %d, C_I = %d, J = %g mV, D = %g ms, nu_thr = %g Hz",
                    N_E, N_I, scale, C_E, C_I, J, D, nu_thr))
net:run(duration)
local build_s, run_s = net:timing()

local warm = math.min(200, duration / 4)
local T = duration - warm

local function mean_var(xs, from)
  local n, m, m2 = 0, 0, 0
  for k = from, #xs do n = n + 1; m = m + xs[k]; m2 = m2 + xs[k] * xs[k] end
  m = m / n
  return m, math.max(m2 / n - m * m, 0)
end

-- rate (Hz) and mean CV of the interspike intervals after the warm-up
local function rate_cv(sp)
  local times, ids = sp:times(), sp:ids()
  local last, n, s1, s2, total = {}, {}, {}, {}, 0
  for k = 1, #times do
    local t, id = times[k], ids[k]
    if t >= warm then
      total = total + 1
      if last[id] then
        local isi = t - last[id]
        n[id], s1[id], s2[id] = (n[id] or 0) + 1, (s1[id] or 0) + isi, (s2[id] or 0) + isi * isi
      end
      last[id] = t
    end
  end
  local cv, ncv = 0, 0
  for id, k in pairs(n) do
    if k >= 2 then
      local m = s1[id] / k
      cv, ncv = cv + math.sqrt(math.max(s2[id] / k - m * m, 0)) / m, ncv + 1
    end
  end
  return total / N_E / (T / 1000), ncv > 0 and cv / ncv or 0 / 0, ncv
end

-- synchrony: chi of Golomb & Hansel (2000) computed on spike counts in 1 ms
-- bins instead of voltages: chi^2 = var_t(n(t)/N) / mean_i var_t(n_i(t)),
-- n_i(t) the spikes of neuron i in bin t (0 or 1: the refractory period is
-- longer than a bin) and n(t) their sum
local function chi(sp)
  local times, ids = sp:times(), sp:ids()
  local nb = math.floor(T / sync_bin)
  local pop, per = {}, {}
  for b = 1, nb do pop[b] = 0 end
  for k = 1, #times do
    local b = math.floor((times[k] - warm) / sync_bin) + 1
    if b >= 1 and b <= nb then
      pop[b] = pop[b] + 1
      per[ids[k]] = (per[ids[k]] or 0) + 1
    end
  end
  local _, var_pop = mean_var(pop, 1)
  local var_single = 0
  for _, n in pairs(per) do local p = n / nb; var_single = var_single + p * (1 - p) end
  if var_single == 0 then return 0 / 0 end
  return math.sqrt((var_pop / N_E^2) / (var_single / N_E))
end

-- the frequency (Hz) where the population rate's power spectrum peaks
local function peak_frequency(r)
  local x = r:values()
  local first = math.floor(warm / bin) + 1
  local m = mean_var(x, first)
  local best, best_f = -1, 0
  for f = 2, 500 do
    local w = 2 * math.pi * f * bin / 1000
    local re, im = 0, 0
    for k = first, #x do
      local d = x[k] - m
      re, im = re + d * math.cos(w * k), im + d * math.sin(w * k)
    end
    local p = re * re + im * im
    if p > best then best, best_f = p, f end
  end
  return best_f
end

print(string.format("simulated %g ms of %d neurons on the %s backend; measured over %g..%g ms, excitatory neurons:",
                    duration, 4 * (N_E + N_I), net.backend, warm, duration))
print("  state  g    nu_ext/nu_thr  rate Hz  CV ISI  chi    peak Hz  (Fig. 8)")
for _, s in ipairs(states) do
  local rate, cv = rate_cv(s.sp)
  s.rate_hz, s.cv, s.chi, s.f = rate, cv, chi(s.sp), peak_frequency(s.rate)
  print(string.format("  %-5s  %-3g  %-13g  %7.2f  %6.2f  %5.3f  %7d  %s",
                      s.name, s.g, s.nu, s.rate_hz, s.cv, s.chi, s.f, s.paper))
end
local A, B, C, Dd = states[1], states[2], states[3], states[4]
print("what it shows:")
print(string.format("  SR (A) fires fast and regularly (CV %.2f), synchronously (chi %.2f), at %.0f Hz;",
                    A.cv, A.chi, A.rate_hz))
print(string.format("  AI (C) fires irregularly (CV %.2f) and is %.1f times less synchronous than SR (chi %.2f);",
                    C.cv, A.chi / C.chi, C.chi))
print(string.format("  SI fast (B) oscillates at %d Hz, SI slow (D) at %d Hz, with irregular single neurons at %.1f and %.1f Hz.",
                    B.f, Dd.f, B.rate_hz, Dd.rate_hz))
print(string.format("  construction %.3f s, build %.3f s, run %.3f s", construct_s, build_s, run_s))
print("  results: " .. output)
