-- An LIF neuron under constant current fires at the analytic interspike
-- interval (../shared/ref/README.md, "LIF, analytic"): tau_m = 20 ms,
-- v_rest = v_reset = -70 mV, threshold -50 mV, R*I = 25 mV (C_m = 200 pF,
-- I = 250 pA), refractory 2 ms: first spike at 20 ln 5 = 32.18876 ms, then
-- every 2 + 20 ln 5 = 34.18876 ms, 29 spikes in 1 s. On a grid of step dt the
-- spike is stamped at the start of the step whose update crosses threshold.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")

local first = 20 * math.log(5)
local isi = 2 + first

local function run(dt, precision, drive)
  local net = nk.network{dt = dt, precision = precision}
  local params = {tau_m = 20, C_m = 200, v_rest = -70, v_reset = -70, v_thresh = -50, t_ref = 2}
  if drive == "I_e" then params.I_e = 250 end
  local p = net:population("lif", 1, {params = params})
  if drive == "dc" then net:source("dc", p, {amplitude = 250}) end
  local m = net:monitor("spikes", p)
  net:run(1000)
  return m:times()
end

for _, case in ipairs{{0.1, "double", "I_e"}, {0.1, "float", "dc"}, {0.01, "double", "dc"},
                      {0.01, "float", "I_e"}} do
  local dt, prec, drive = case[1], case[2], case[3]
  local name = string.format("dt %g %s %s", dt, prec, drive)
  local t = run(dt, prec, drive)
  T.eq(#t, 29, name .. ": spikes in 1 s")
  -- first spike: the step that crosses, stamped at its start: within one step before
  T.ok(t[1] <= first and t[1] > first - dt - 1e-9,
       string.format("%s: first spike at %g, analytic %g", name, t[1], first))
  -- intervals: the refractory 2 ms is whole steps, the climb is quantised
  local worst = 0
  for k = 2, #t do worst = math.max(worst, math.abs((t[k] - t[k - 1]) - isi)) end
  T.ok(worst < dt + 1e-9, string.format("%s: ISI off by at most one step (%g)", name, worst))
  -- on the grid: integration restarts 2 ms after the spike and crosses in
  -- the step ceil(first/dt) - 1 after that (exactly, in double precision)
  local steps = math.ceil(first / dt)
  local tol = prec == "double" and 1e-6 or dt + 1e-9
  T.near(t[1], (steps - 1) * dt, tol, name .. ": first spike on the grid")
  T.near(t[2] - t[1], 2 + (steps - 1) * dt, tol, name .. ": ISI on the grid")
end

-- forward Euler converges to the same answer with a small step
do
  local net = nk.network{dt = 0.01, precision = "double"}
  local p = net:population("lif", 1, {method = "euler", params = {tau_m = 20, C_m = 200,
    v_rest = -70, v_reset = -70, v_thresh = -50, t_ref = 2, I_e = 250}})
  local m = net:monitor("spikes", p)
  net:run(1000)
  local t = m:times()
  T.eq(#t, 29, "euler dt 0.01: 29 spikes")
  T.near(t[1], first, 0.05, "euler dt 0.01: first spike")
end

T.done("lif_analytic")
