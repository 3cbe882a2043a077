-- samples/lamina.lua: a row of cartridges of the fly's lamina, in the spirit
-- of Neurokernel's lamina LPU: graded (non-spiking) photoreceptors and
-- lamina monopolar cells (LMCs) as Morris-Lecar neurons, coupled by
-- Neurokernel's graded power-law synapse, and a bright bar that moves across
-- the eye: the LMCs' responses travel along the row with the bar.
--
--   nkshell samples/lamina.lua [OUTPUT.h5] [DURATION_MS]
--
-- The circuit: 20 cartridges in a row, one per ommatidium's optical axis,
-- 5 degrees apart (the fly's interommatidial angle). Each cartridge gets the
-- six photoreceptors R1-R6 that look at its point in space (neural
-- superposition) and holds two LMCs, L1 and L2; each photoreceptor drives
-- both LMCs of its cartridge through a power_gpot synapse (Neurokernel's
-- PowerGPotGPot: g = |w| min(saturation, slope max(0, v_pre -
-- threshold)^power), current g (reverse - v)) with reverse = -80 mV, the
-- histamine-gated chloride synapse of the fly (Neurokernel's HIST_RP): a
-- photoreceptor that depolarises hyperpolarises its LMCs, and the LMCs'
-- response to light is a dip in v. threshold = -50 mV (a little below the
-- photoreceptors' rest, so transmitter is released in the dark too, as in
-- the fly), slope 0.02 nS/mV, power 1, saturation 0.4 nS, weight 5.
--
-- Neurons: the library's morris_lecar (Neurokernel's MorrisLecar defaults,
-- rest -46.08 mV, C_m = 1 pF) for the photoreceptors and the LMCs alike.
-- Under the tonic histamine the LMCs rest lower, at -50.83 mV in the dark;
-- they start there (the sample solves for that state from the model's
-- equations: their slow n would otherwise drift for seconds). Neurokernel's
-- lamina uses its own photoreceptor model (microvilli, phototransduction)
-- and L1-L5, amacrine cells and lateral connections between cartridges,
-- with other Morris-Lecar parameters; here the photoreceptors are
-- Morris-Lecar membranes that take the light as a current, L1 and L2 are
-- identical, and there is no phototransduction delay: the membranes follow
-- the light within a fraction of a millisecond, so the responses peak as
-- the bar crosses.
--
-- The stimulus: a narrow bright bar moving at 250 degrees per second (one
-- cartridge every 20 ms) from left to right, its centre 3 cartridges to the
-- left of the row at 50 ms. A photoreceptor sees it through its acceptance
-- angle, a Gaussian 5 degrees wide at half height, as a light current of
-- 60 pA x exp(-(axis - bar)^2 / (2 sigma^2)), sigma = 5/2.355 degrees (60 pA
-- depolarises a photoreceptor by 13 mV, below the synapses' saturation):
-- an "equation" source on all photoreceptors, an expression of t and of the
-- neuron's index i (its cartridge is floor((i - 1)/6)). Nothing is random:
-- every seed gives the same result.
--
-- Recorded every 0.5 ms: v of R1 and of both LMCs of every cartridge
-- (/report/R1, /report/L1, /report/L2). Printed per cartridge: when the
-- bar's centre crosses its axis, when its photoreceptor's depolarisation
-- and its L1's and L2's hyperpolarisation peak, and how deep; then the
-- speed of the wave of LMC responses (a straight line fitted to the peak
-- times against position) beside the bar's.

local output = arg and arg[1] or "lamina.h5"
local duration = tonumber(arg and arg[2]) or 600
if duration < 100 then error("DURATION_MS must be at least 100 ms", 0) end

local n_cart, n_r = 20, 6
local spacing = 5                     -- degrees between neighbouring cartridges
local speed = 250                     -- degrees per second
local t_start, x_start = 50, -3 * spacing   -- the bar's centre at x_start at t_start
local sigma = 5 / 2.355               -- degrees, the acceptance angle's Gaussian
local I_max = 60                      -- pA
local every = 5                       -- steps (0.5 ms)

local hist = {threshold = -50, slope = 0.02, power = 1, saturation = 0.4, reverse = -80}
local w_hist = 5

-- The LMCs' state in the dark: v where dv/dt = 0 with n = n_inf(v), under
-- the tonic input of six photoreceptors at rest (bisection on the
-- morris_lecar equations, with the library's parameter values). Their n
-- relaxes with a time constant of about a second, so starting from the
-- model's default state would leave them drifting through the run.
local function dark_state(v_r)                       -- v_r: the photoreceptors' rest
  local ml = nk.model("morris_lecar")
  local p = {}
  for k, d in pairs(ml.params) do p[k] = d.default end
  local g_s = n_r * w_hist * math.min(hist.saturation, hist.slope * math.max(0, v_r - hist.threshold)^hist.power)
  local function n_inf(v) return 0.5 * (1 + math.tanh((v - p.V3) / p.V4)) end
  local function dvdt(v)
    local m_inf = 0.5 * (1 + math.tanh((v - p.V1) / p.V2))
    return p.offset - p.g_L * (v - p.V_L) - p.g_K * n_inf(v) * (v - p.V_K)
           - p.g_Ca * m_inf * (v - p.V_Ca) + g_s * (hist.reverse - v)
  end
  local lo, hi = -80, 0                               -- dvdt(lo) > 0 > dvdt(hi)
  for _ = 1, 60 do
    local mid = (lo + hi) / 2
    if dvdt(mid) > 0 then lo = mid else hi = mid end
  end
  return lo, n_inf(lo)
end

local t0 = nk.clock()
local net = nk.network{dt = 0.1, output = output}   -- seed: 1, or --seed N
local R = net:population("morris_lecar", n_cart * n_r, {name = "R"})
local v_dark, n_dark = dark_state(R:get("v", 1))
local L1 = net:population("morris_lecar", n_cart, {name = "L1", init = {v = v_dark, n = n_dark}})
local L2 = net:population("morris_lecar", n_cart, {name = "L2", init = {v = v_dark, n = n_dark}})

-- the bar's position (degrees) at t (ms), and photoreceptor i's axis
local bar = string.format("(%g + %g*(t - %g)/1000)", x_start, speed, t_start)
local axis = string.format("(%g*floor((i - 1)/%d))", spacing, n_r)
net:source("equation", R, {I = string.format("t < %g ? 0 : %g*exp(-(%s - %s)^2/(2*%g^2))",
                                             t_start, I_max, axis, bar, sigma)})

local pre, post = {}, {}
for c = 1, n_cart do
  for r = 1, n_r do
    pre[#pre + 1], post[#post + 1] = (c - 1) * n_r + r, c
  end
end
for _, L in ipairs{L1, L2} do
  net:connect(R, L, {rule = "list", pre = pre, post = post, weight = w_hist, synapse = "power_gpot",
                     receptor = "hist", params = hist})
end

local r1 = {}
for c = 1, n_cart do r1[c] = (c - 1) * n_r + 1 end
local m_r = net:monitor("state", R:select(r1), {vars = "v", every = every, name = "R1"})
local m_l1 = net:monitor("state", L1, {vars = "v", every = every})
local m_l2 = net:monitor("state", L2, {vars = "v", every = every})
local construct_s = nk.clock() - t0

net:run(duration)
local build_s, run_s = net:timing()

-- the time (ms) and size (mV, from the value at t_start) of the largest
-- rise (sign 1) or dip (sign -1) of monitored neuron j
local function peak(m, j, sign)
  local times, v = m:times(), m:trace("v", j)
  local base
  local best, best_t = -math.huge, 0 / 0
  for k = 1, #times do
    if times[k] >= t_start then
      base = base or v[k]
      local d = sign * (v[k] - base)
      if d > best then best, best_t = d, times[k] end
    end
  end
  return best_t, best
end

print(string.format("simulated %g ms: %d cartridges (%d photoreceptors, %d L1, %d L2) on the %s backend",
                    duration, n_cart, #R, #L1, #L2, net.backend))
print(string.format("LMCs in the dark: v = %.3f mV, n = %.5f; after %g ms of dark, L1 of the last cartridge is at %.3f mV",
                    v_dark, n_dark, t_start, m_l1:values()[math.floor(t_start / (every * net.dt)) + 1][n_cart]))
print(string.format("a bar moving at %g deg/s (one cartridge every %g ms), cartridges %g deg apart",
                    speed, spacing / speed * 1000, spacing))
print("  cartridge  axis deg  bar crosses ms  R1 peak ms (mV)  L1 dip ms (mV)   L2 dip ms (mV)")
local xs, ts, increasing, complete = {}, {}, true, true
for c = 1, n_cart do
  local x = spacing * (c - 1)
  local cross = t_start + (x - x_start) / speed * 1000
  local tr, dr = peak(m_r, c, 1)
  local t1, d1 = peak(m_l1, c, -1)
  local t2, d2 = peak(m_l2, c, -1)
  print(string.format("  %-9d  %-8g  %-14.1f  %6.1f (%.2f)   %6.1f (%.2f)   %6.1f (%.2f)",
                      c, x, cross, tr, dr, t1, d1, t2, d2))
  if cross > duration - 20 or d1 < 1 then complete = false end
  if c > 1 and not (t1 > ts[#ts]) then increasing = false end
  xs[#xs + 1], ts[#ts + 1] = x, t1
end

-- least squares t = a + x/v over the cartridges
local n, sx, st, sxx, sxt = #xs, 0, 0, 0, 0
for k = 1, n do sx, st, sxx, sxt = sx + xs[k], st + ts[k], sxx + xs[k]^2, sxt + xs[k] * ts[k] end
local slope = (n * sxt - sx * st) / (n * sxx - sx * sx)      -- ms per degree
local latency = (st - slope * sx) / n - (t_start - x_start / speed * 1000)
print("what it shows:")
print(string.format("  the L1 dips come one after another along the row: %s; the wave moves at %.1f deg/s " ..
                    "(the bar: %g), %.1f ms behind the bar's centre",
                    increasing and "every one later than its left neighbour's" or "NOT in order",
                    1000 / slope, speed, latency))
if not complete then
  print("  (the run ends before the bar has crossed every cartridge: give a longer DURATION_MS)")
end
print(string.format("  construction %.3f s, build %.3f s, run %.3f s", construct_s, build_s, run_s))
print("  results: " .. output)
