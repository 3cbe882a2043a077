-- Sources (stimuli): every kind against its definition (docs/stimuli-and-recording.md).
--
-- Currents are read back exactly through a pure integrator, dv/dt = I/C with
-- forward Euler and C = dt: over one step v grows by the step's current, so
-- v[k+1] - v[k] is the current (pA) the sources gave in step k. The LIF checks
-- compare v with the exact solution of C dv/dt = -(C/tau)(v - v_rest) + I.
-- Spike input goes through the delta synapse (v += w) into the integrator,
-- so v counts input spikes. Statistical checks state their tolerance from the
-- sample size (5 standard errors; the seeds are fixed, so they are repeatable).
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")

local DT = 0.1
nk.model{name = "stim_integ", doc = "test: a pure integrator of the input current",
         params = "C = 0.1 pF (0, inf)", states = "v = 0 mV",
         equations = "dv/dt = I/C : mV", method = "euler"}

local function integ_net(seed)
  return nk.network{dt = DT, precision = "double", seed = seed or 1}
end

-- The current of each step seen by state monitor m (which records v of an
-- integrator every step): I[k][j], k = 1 .. #rows - 1 for steps 0 .. #rows - 2.
local function currents(m)
  local rows = m:values("v")
  local I = {}
  for k = 1, #rows - 1 do
    local r = {}
    for j = 1, #rows[k] do r[j] = rows[k + 1][j] - rows[k][j] end
    I[k] = r
  end
  return I
end

-- One check for a whole table: the worst |got - want| against tol*(1 + |want|).
-- (A failure is reported at this helper's line; msg says which caller's line.)
local function all_near(got, want, tol, msg)
  msg = string.format("line %d: %s", debug.getinfo(2, "l").currentline, msg)
  local worst, where, gw, ww = -1, "?", nil, nil
  local function walk(g, w, path)
    if type(w) == "table" then
      if type(g) ~= "table" or #g ~= #w then
        worst, where = math.huge, path .. " (shape)"
        return
      end
      for i = 1, #w do walk(g[i], w[i], path .. "[" .. i .. "]") end
    else
      local d = type(g) == "number" and math.abs(g - w) / (1 + math.abs(w)) or math.huge
      if d > worst then worst, where, gw, ww = d, path, g, w end
    end
  end
  walk(got, want, "")
  T.ok(worst <= tol, string.format("%s: worst at %s: got %s, expected %s (rel %.3g > %g)", msg,
                                   where, tostring(gw), tostring(ww), worst, tol))
end

local function stats(xs)
  local n, s, s2 = #xs, 0, 0
  for i = 1, n do s = s + xs[i] end
  local mean = s / n
  for i = 1, n do s2 = s2 + (xs[i] - mean) ^ 2 end
  return mean, s2 / (n - 1)
end

-- ---- dc: the LIF's exact response to a current step -----------------------------------
-- tau_m = 20 ms, C_m = 200 pF (R = 0.1 GOhm), I = 150 pA: R*I = 15 mV. start =
-- 1.05 ms is between steps: the current is on from the first step at or after
-- it (1.1 ms) until the last step before stop (3.0 ms is off).
local LIF = {tau_m = 20, C_m = 200, v_rest = -70, v_reset = -70, v_thresh = 100}
local function lif_dc_expected(t, t_on, t_off, RI)
  if t <= t_on then return -70 end
  if t <= t_off then return -70 + RI * (1 - math.exp(-(t - t_on) / 20)) end
  return -70 + RI * (1 - math.exp(-(t_off - t_on) / 20)) * math.exp(-(t - t_off) / 20)
end
for _, case in ipairs{{"exact", "double", 1e-10}, {"exponential_euler", "double", 1e-10},
                      {"exponential_euler", "float", 3e-6}} do
  local method, prec, tol = case[1], case[2], case[3]
  local net = nk.network{dt = DT, precision = prec}
  local p = net:population("lif", 3, {method = method, params = LIF})
  local src = net:source("dc", p:slice(2, 3), {amplitude = 150, start = 1.05, stop = 3})
  local m = net:monitor("state", p, {vars = "v"})
  net:run(6)
  local tt, want = m:times(), {}
  for r = 1, #tt do
    want[r] = {-70, lif_dc_expected(tt[r], 1.1, 3.0, 15), lif_dc_expected(tt[r], 1.1, 3.0, 15)}
  end
  local name = "dc (" .. method .. ", " .. prec .. ")"
  T.eq(#tt, 60, name .. ": one row per step")
  all_near(m:values("v"), want, tol, name .. ": v = v_rest + RI(1 - exp(-(t - t_on)/tau)), then decay")
  -- the first step with current is the one at 1.1 ms: v moves at 1.2 ms, not at 1.1
  local v = m:trace(2)
  T.eq(v[12], -70, name .. ": v still at rest at 1.1 ms (the step that starts the current)")
  T.ok(v[13] > -70, name .. ": v has risen by 1.2 ms")
  T.eq(src.amplitude, 150, name .. ": src.amplitude")
end

-- ---- step: switching at the step nearest each time --------------------------------------
-- times 0.5, 2.04, 3.06, 3.5 -> steps 5, 20, 31, 35 (nearest, not floor: 3.06 is step 31).
do
  local times, amps = {0.5, 2.04, 3.06, 3.5}, {100, -50, 0, 80}
  local first = {5, 20, 31, 35}
  local function I_of(k)
    local v = 0
    for q = 1, #first do if k >= first[q] then v = amps[q] end end
    return v
  end
  -- currents through the integrator
  local net = integ_net()
  local p = net:population("stim_integ", 1)
  net:source("step", p, {times = times, amplitudes = amps})
  local m = net:monitor("state", p, {vars = "v"})
  net:run(5)
  local want = {}
  for k = 1, 49 do want[k] = {I_of(k - 1)} end
  all_near(currents(m), want, 1e-12, "step: the current of every step")
  -- the LIF's exact response to the piecewise constant current
  local net2 = nk.network{dt = DT, precision = "double"}
  local q = net2:population("lif", 1, {method = "exact", params = LIF})
  net2:source("step", q, {times = times, amplitudes = amps})
  local m2 = net2:monitor("state", q, {vars = "v"})
  net2:run(5)
  local v, wv, a = -70, {}, math.exp(-DT / 20)
  for k = 1, 50 do
    wv[k] = {v}
    local inf = -70 + 0.1 * I_of(k - 1)
    v = inf + (v - inf) * a
  end
  all_near(m2:values("v"), wv, 1e-10, "step: LIF v against its exact piecewise solution")
end

-- ---- ramp: linear from 'from' at start to 'to' at stop, per step -------------------------
do
  local net = integ_net()
  local p = net:population("stim_integ", 2)
  local src = net:source("ramp", p, {from = 10, to = 30, start = 1, stop = 3})
  net:source("ramp", p:slice(2, 2), {from = -5, to = 5, start = 0.25, stop = 1.25})
  local m = net:monitor("state", p, {vars = "v"})
  net:run(4)
  local I, want = currents(m), {}
  for k = 1, #I do
    local t = (k - 1) * DT
    local a = (t >= 1 and t < 3) and 10 + 20 * (t - 1) / 2 or 0
    local b = (t >= 0.3 - 1e-9 and t < 1.25) and -5 + 10 * (t - 0.25) / 1 or 0
    want[k] = {a, a + b}
  end
  all_near(I, want, 1e-12, "ramp: from + (to - from)(t - start)/(stop - start) on start <= t < stop")
  T.near(I[11][1], 10, 1e-12, "ramp: 'from' at start (1.0 ms)")
  T.near(I[21][1], 20, 1e-12, "ramp: halfway at 2.0 ms")
  T.near(I[30][1], 29, 1e-12, "ramp: 29 pA in the last step before stop (2.9 ms)")
  T.eq(I[31][1], 0, "ramp: off at stop")
  T.eq(src.from, 10, "ramp: src.from")
  T.eq(src.to, 30, "ramp: src.to")
end

-- ---- ac: offset + amplitude sin(2 pi f t/1000 + phase), t the step's start -------------
do
  local net = integ_net()
  local p = net:population("stim_integ", 3)
  net:source("ac", p:slice(1, 1), {amplitude = 40, frequency = 100})
  net:source("ac", p:slice(2, 2), {amplitude = 40, frequency = 100, phase = 90, offset = 5})
  net:source("ac", p:slice(3, 3), {amplitude = 40, frequency = 100, phase = -45, start = 2.5})
  local m = net:monitor("state", p, {vars = "v"})
  net:run(20.1)
  local I, want = currents(m), {}
  for k = 1, #I do
    local t = (k - 1) * DT
    want[k] = {40 * math.sin(2 * math.pi * 100 * t / 1000),
               5 + 40 * math.sin(2 * math.pi * 100 * t / 1000 + math.pi / 2),
               t >= 2.5 - 1e-9 and 40 * math.sin(2 * math.pi * 100 * t / 1000 - math.pi / 4) or 0}
  end
  all_near(I, want, 1e-12, "ac: every step")
  -- phase 0, 100 Hz: zero at 0, 5, 10, 15 ms, positive in (0, 5), negative in (5, 10)
  local signs_ok, zeros = true, {}
  for k = 1, 200 do
    local t, x = (k - 1) * DT, I[k][1]
    local half = math.floor(t / 5 + 1e-9)
    if math.abs(t / 5 - math.floor(t / 5 + 0.5)) < 1e-9 then
      zeros[#zeros + 1] = math.abs(x) < 1e-9
    elseif (half % 2 == 0) ~= (x > 0) then
      signs_ok = false
    end
  end
  T.same_list(zeros, {true, true, true, true}, "ac: zero crossings at 0, 5, 10 and 15 ms")
  T.ok(signs_ok, "ac: positive in the first half period, negative in the second")
  T.near(I[1][2], 45, 1e-12, "ac: phase 90 starts at offset + amplitude")
  -- the equation source with the same sine gives the same bits. A probe
  -- neuron keeps each step's input exactly (dt = 1/8 ms, C = 1 pF: dt*I is
  -- exact): 'last' is dt * I of the step before.
  nk.model{name = "stim_probe", doc = "test: last = dt*I/C of the previous step",
           params = "C = 1 pF (0, inf)", states = "v = 0 mV; last = 0 mV",
           equations = "dv/dt = I/C : mV", threshold = "v == v", reset = "last = v; v = 0",
           method = "euler"}
  local net2 = nk.network{dt = 0.125, precision = "double"}
  local a = net2:population("stim_probe", 1)
  local b = net2:population("stim_probe", 1)
  net2:source("ac", a, {amplitude = 37, frequency = 13, phase = 30, offset = 2})
  net2:source("equation", b, {I = "2 + 37*sin(2*pi*13*t/1000 + 30*pi/180)"})
  local ma = net2:monitor("state", a, {vars = "last"})
  local mb = net2:monitor("state", b, {vars = "last"})
  net2:run(1000)
  T.eq(ma:trace(1)[2], 0.125 * (2 + 37 * math.sin(math.pi / 6)), "probe: dt * I at t = 0")
  T.same_list(ma:trace(1), mb:trace(1), "ac and the same equation: bit-identical currents (8000 steps)")
end

-- ---- noise: Gaussian per neuron, held for 'interval' ms from start --------------------------
do
  local N = 20000
  local net = integ_net(7)
  local p = net:population("stim_integ", N)
  net:source("noise", p, {mean = 5, std = 2})
  net:run(DT)
  local x0 = {}
  for i = 1, N do x0[i] = p:get("v", i) end
  net:run(DT)
  local x1, within = {}, 0
  for i = 1, N do
    x1[i] = p:get("v", i) - x0[i]
    if math.abs(x0[i] - 5) < 2 then within = within + 1 end
  end
  local m0, v0 = stats(x0)
  local m1 = stats(x1)
  T.near(m0, 5, 5 * 2 / math.sqrt(N), "noise: mean over neurons at one step")
  T.near(math.sqrt(v0), 2, 5 * 2 / math.sqrt(2 * N), "noise: std over neurons at one step")
  T.near(within / N, 0.682689, 5 * math.sqrt(0.6827 * 0.3173 / N), "noise: 68.3 % within one std")
  T.near(m1, 5, 5 * 2 / math.sqrt(N), "noise: mean at the next step")
  local c = 0
  for i = 1, N do c = c + (x0[i] - m0) * (x1[i] - m1) end
  c = c / (N - 1) / 4
  T.near(c, 0, 5 / math.sqrt(N), "noise: interval 0 draws anew every step (correlation)")

  -- interval 0.5 ms (5 steps) from start = 0.2: held on steps 2-6, 7-11, 12-16
  local net2 = integ_net(7)
  local q = net2:population("stim_integ", 40)
  local ns = net2:source("noise", q, {mean = 0, std = 10, interval = 0.5, start = 0.2})
  local m = net2:monitor("state", q, {vars = "v"})
  net2:run(1.8)
  local I = currents(m)
  local held, fresh, zero = true, true, true
  for j = 1, 40 do
    if I[1][j] ~= 0 or I[2][j] ~= 0 then zero = false end
    for k = 4, 17 do
      local same_slot = math.floor((k - 3) / 5) == math.floor((k - 4) / 5)
      local d = k > 3 and math.abs(I[k][j] - I[k - 1][j]) or 0
      if same_slot and d > 1e-9 then held = false end
      if not same_slot and d < 1e-6 then fresh = false end
    end
  end
  T.ok(zero, "noise: nothing before start")
  T.ok(held, "noise: the value is held within an interval counted from start")
  T.ok(fresh, "noise: a new value at 0.7 and 1.2 ms (every 5 steps from start)")
  T.eq(ns.std, 10, "noise: src.std")
  -- the same seed gives the same numbers; another seed others
  local function first_values(seed)
    local n3 = integ_net(seed)
    local r = n3:population("stim_integ", 5)
    n3:source("noise", r, {mean = 0, std = 1})
    n3:run(DT)
    local out = {}
    for i = 1, 5 do out[i] = r:get("v", i) end
    return out
  end
  T.same_list(first_values(3), first_values(3), "noise: reproducible with the same seed")
  T.ok(first_values(3)[1] ~= first_values(4)[1], "noise: another seed gives other numbers")
end

-- ---- array: rows per interval from start, then zero or hold ------------------------------
do
  local net = integ_net()
  local p = net:population("stim_integ", 6)
  -- neurons 1-2: rows of 2 values every 0.2 ms from 0.1 ms, then zero
  net:source("array", p:slice(1, 2), {values = {{1, 2}, {3, 4}, {5, 6}}, interval = 0.2,
                                       start = 0.1})
  -- neurons 3-4: the same, held after the last row
  net:source("array", p:slice(3, 4), {values = {{1, 2}, {3, 4}, {5, 6}}, interval = 0.2,
                                       start = 0.1, after = "hold"})
  -- neurons 5-6: one value per row for both, a row per step (interval 0)
  net:source("array", p:slice(5, 6), {values = {7, 8, 9}})
  local m = net:monitor("state", p, {vars = "v"})
  net:run(1.1)
  local want = {}
  for k = 1, 10 do
    local s = k - 1
    local row = s >= 1 and math.floor((s - 1) / 2) + 1 or 0
    local a = (row >= 1 and row <= 3) and {2 * row - 1, 2 * row} or {0, 0}
    local h = row >= 1 and {2 * math.min(row, 3) - 1, 2 * math.min(row, 3)} or {0, 0}
    local c = s < 3 and 7 + s or 0
    want[k] = {a[1], a[2], h[1], h[2], c, c}
  end
  all_near(currents(m), want, 1e-12, "array: row k on its interval, zero or hold after the last")

  -- an HDF5 file: a results file nkshell wrote (a state report, float32) read back
  local path = T.tmpname("test_stimuli_array")
  os.remove(path)
  local w = nk.network{dt = DT, precision = "double", output = path}
  local wp = w:population("stim_integ", 3)
  w:source("equation", wp, {I = "i*10 + t*3 + 0.3"})
  local wm = w:monitor("state", wp, {vars = "v", name = "drive"})
  w:run(0.5)
  local rows = wm:values()
  w:close()
  local f32 = function(x) return (string.unpack("f", string.pack("f", x))) end
  local r = integ_net()
  local rp = r:population("stim_integ", 3)
  r:source("array", rp, {file = path, dataset = "/report/drive/data"})
  local rm = r:monitor("state", rp, {vars = "v"})
  r:run(0.6)
  local wantf = {}
  for k = 1, 5 do wantf[k] = {f32(rows[k][1]), f32(rows[k][2]), f32(rows[k][3])} end
  all_near(currents(rm), wantf, 1e-12, "array from a file: the dataset's rows, one per step")
  T.raises("'" .. path .. "' holds", r.source, r, "array", rp, {file = path})
  T.raises("has no dataset '/nope'", r.source, r, "array", rp, {file = path, dataset = "/nope"})
  T.raises("'/report/drive' in '" .. path .. "' is a group, not a dataset; name one of the " ..
           "datasets in it", r.source, r, "array", rp, {file = path, dataset = "/report/drive"})
  T.raises("array: each row must hold 2 values (one per target neuron) or 1, got 3",
           r.source, r, "array", rp:slice(1, 2), {file = path, dataset = "/report/drive/data"})
  os.remove(path)
  T.raises("cannot open 'no-such-input.h5'", r.source, r, "array", rp, {file = "no-such-input.h5"})
  T.raises("is not an HDF5 file", r.source, r, "array", rp, {file = arg[0]})
  T.raises("give either 'values' or 'file', not both", r.source, r, "array", rp,
           {file = path, values = {1}})

  -- Neurokernel's layout (/I/data, found without naming it), made with h5import
  local h = io.popen("command -v h5import 2>/dev/null")
  local h5import = h:read("l")
  h:close()
  if h5import then
    local stem = path:gsub("%.h5$", "")
    local txt, conf, nkpath = stem .. ".txt", stem .. ".conf", stem .. "-I.h5"
    local ft = io.open(txt, "w")
    ft:write("1.5 -2\n3 4.25\n")
    ft:close()
    local fc = io.open(conf, "w")
    fc:write("PATH /I/data\nINPUT-CLASS TEXTFP\nRANK 2\nDIMENSION-SIZES 2 2\n" ..
             "OUTPUT-CLASS FP\nOUTPUT-SIZE 64\n")
    fc:close()
    os.execute(string.format("h5import '%s' -c '%s' -o '%s' >/dev/null 2>&1", txt, conf, nkpath))
    local n = integ_net()
    local q = n:population("stim_integ", 2)
    n:source("array", q, {file = nkpath, after = "hold"})
    local qm = n:monitor("state", q, {vars = "v"})
    n:run(0.4)
    all_near(currents(qm), {{1.5, -2}, {3, 4.25}, {3, 4.25}}, 1e-12,
             "array from /I/data (Neurokernel's input layout), held")
    os.remove(txt)
    os.remove(conf)
    os.remove(nkpath)
  else
    print("stimuli: h5import not found; the /I/data file check is skipped")
  end
end

-- ---- equation: t, i (1-based in the population), N, x, y, z, dt ---------------------------
do
  local net = integ_net(5)
  local pos = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {10, 11, 12}}
  local p = net:population("stim_integ", 4, {positions = pos})
  local q = net:population("stim_integ", 5)
  net:source("equation", p, {I = "1000*i + 100*N + x + 2*y - z + 7*t"})
  net:source("equation", q:slice(2, 3), {I = "1000*i + 100*N + t + dt"})
  net:source("equation", q:select{5, 1}, {I = "-i"})
  local mp = net:monitor("state", p, {vars = "v"})
  local mq = net:monitor("state", q, {vars = "v"})
  net:run(0.3)
  local wp, wq = {}, {}
  for k = 1, 2 do
    local t = (k - 1) * DT
    wp[k], wq[k] = {}, {}
    for i = 1, 4 do
      wp[k][i] = 1000 * i + 400 + pos[i][1] + 2 * pos[i][2] - pos[i][3] + 7 * t
    end
    wq[k] = {-1, 2000 + 500 + t + DT, 3000 + 500 + t + DT, 0, -5}
  end
  all_near(currents(mp), wp, 1e-12, "equation: i, N, x, y, z and t per neuron")
  all_near(currents(mq), wq, 1e-12, "equation: on a slice and a selection, i is the population's index")

  -- rand() is uniform in [0, 1) and randn() standard normal, per neuron and step
  local N = 10000
  local n2 = integ_net(9)
  local r = n2:population("stim_integ", N)
  local s = n2:population("stim_integ", N)
  n2:source("equation", r, {I = "rand()"})
  n2:source("equation", s, {I = "randn()"})
  n2:run(DT)
  local u, g, lo, hi = {}, {}, math.huge, -math.huge
  for i = 1, N do
    u[i], g[i] = r:get("v", i), s:get("v", i)
    lo, hi = math.min(lo, u[i]), math.max(hi, u[i])
  end
  local mu, vu = stats(u)
  local mg, vg = stats(g)
  T.near(mu, 0.5, 5 * math.sqrt(1 / 12 / N), "equation: rand() has mean 1/2")
  T.near(vu, 1 / 12, 5 * math.sqrt(1 / 180 / N), "equation: rand() has variance 1/12")
  T.ok(lo >= 0 and hi < 1, "equation: rand() in [0, 1)")
  T.near(mg, 0, 5 / math.sqrt(N), "equation: randn() has mean 0")
  T.near(vg, 1, 5 * math.sqrt(2 / N), "equation: randn() has variance 1")
end

-- ---- callback: called every 'every' steps from start, values held in between -----------
do
  local net = integ_net()
  local p = net:population("stim_integ", 3)
  local calls = {}
  net:source("callback", p:slice(2, 3), {every = 3, start = 0.35, fn = function(t)
    calls[#calls + 1] = t
    return {100 * t, -100 * t}
  end})
  local n1 = 0
  net:source("callback", p:slice(1, 1), {fn = function(t) n1 = n1 + 1; return 2 * t end})
  local m = net:monitor("state", p, {vars = "v"})
  net:run(1.4)
  -- first call at the first step at or after 0.35 ms (0.4), then every 3 steps
  all_near(calls, {0.4, 0.7, 1.0, 1.3}, 1e-12, "callback: call times")
  T.eq(n1, 14, "callback: every = 1 calls once per step")
  local want = {}
  for k = 1, 13 do
    local s = k - 1
    local last = s >= 4 and (4 + 3 * math.floor((s - 4) / 3)) * DT or nil
    want[k] = {2 * s * DT, last and 100 * last or 0, last and -100 * last or 0}
  end
  all_near(currents(m), want, 1e-12, "callback: a list, one per neuron, held until the next call")

  -- an error inside the function stops the run at that step with the message and a
  -- traceback; the spikes so far are kept and the network goes on working
  local net2 = nk.network{dt = DT}
  local q = net2:population("lif", 4, {params = {I_e = 1000}})
  local sp = net2:monitor("spikes", q)
  local bad = net2:source("callback", q, {fn = function(t)
    if t >= 20 then error("no current for t = " .. t) end
    return 0
  end})
  local err = T.raises("callback source 1 at t = 20 ms", net2.run, net2, 50)
  T.ok(err and err:find("no current for t = 20", 1, true), "callback error: the function's message")
  T.ok(err and err:find("stack traceback", 1, true), "callback error: a Lua traceback")
  T.ok(err and err:find("test_stimuli.lua:%d+"), "callback error: the file and line of the error")
  T.near(net2.t, 20, 1e-9, "callback error: the network stopped at the failing step")
  local n_before, times = sp:count(), sp:times()
  T.ok(n_before > 0 and times[#times] < 20, "callback error: the spikes before it are kept")
  bad:remove()
  net2:run(10)
  T.near(net2.t, 30, 1e-9, "callback error: after removing the source a run works")
  T.ok(sp:count() > n_before, "callback error: recording goes on")
  -- wrong results
  local net3 = integ_net()
  local r = net3:population("stim_integ", 2)
  local cases = {
    {function() return {1, 2, 3} end, "the function returned 3 values, expected 2"},
    {function() return {1, "x"} end, "value 2 returned by the function is of type string, expected a number"},
    {function() return nil end, "the function returned a value of type nil; expected a number"},
    {function() return "5" end, "expected a number (pA, for every target neuron) or a list of 2"},
    {function() return 0 / 0 end, "(expected finite currents, pA)"},
    {function() return {1, math.huge} end, "value 2 is inf"},
  }
  for _, c in ipairs(cases) do
    local s = net3:source("callback", r, {fn = c[1]})
    T.raises(c[2], net3.run, net3, 1)
    s:remove()
  end
  net3:run(DT)
  T.near(net3.t, DT, 1e-9, "callback: the network runs after the bad functions are removed")
end

-- ---- global: every neuron of the network ------------------------------------------------
do
  local net = integ_net()
  local a = net:population("stim_integ", 3, {name = "a"})
  local b = net:population("stim_integ", 2, {name = "b"})
  local g1 = net:source("global", {I = "10*t + 1"})
  local g2 = net:source("global", {amplitude = 4, frequency = 250, phase = 30, offset = 1})
  local ma = net:monitor("state", a, {vars = "v"})
  local mb = net:monitor("state", b, {vars = "v"})
  net:run(1.1)
  local wa, wb = {}, {}
  for k = 1, 10 do
    local t = (k - 1) * DT
    local x = 10 * t + 1 + 1 + 4 * math.sin(2 * math.pi * 250 * t / 1000 + math.pi / 6)
    wa[k], wb[k] = {x, x, x}, {x, x}
  end
  all_near(currents(ma), wa, 1e-12, "global: every neuron of population a")
  all_near(currents(mb), wb, 1e-12, "global: every neuron of population b")
  T.eq(g1.size, 5, "global: src.size counts every neuron")
  T.eq(g2.frequency, 250, "global: src.frequency")
  T.raises("global: drives every neuron of the network (5), but the target holds 3",
           net.source, net, "global", a, {I = "t"})
  T.raises("global: unknown name 'i' in 'i' (an expression may use t (ms), dt, pi and e)",
           net.source, net, "global", {I = "i"})
  T.raises("rand() and randn() would give every neuron the same number",
           net.source, net, "global", {I = "rand()"})
  T.raises("give either 'I' (an expression of t) or the sine's options",
           net.source, net, "global", {I = "t", amplitude = 1})
  T.raises("a global source has no option 'amplitude' (it has: start, stop)",
           g1.set, g1, {amplitude = 2})
end

-- ---- regions and selections -------------------------------------------------------------
do
  local net = integ_net()
  local pos = {}
  for x = 0, 4 do for y = 0, 4 do for z = 0, 4 do pos[#pos + 1] = {10 * x, 10 * y, 10 * z} end end end
  local bpos = {{20, 20, 20}, {0, 0, 0}, {20, 30, 25}}
  local a = net:population("stim_integ", #pos, {name = "a", positions = pos})
  local b = net:population("stim_integ", 3, {name = "b", positions = bpos})
  local c = net:population("stim_integ", 2, {name = "c"})
  local shapes = {
    {{"sphere", center = {20, 20, 20}, radius = 10}, function(d) return d[1]^2 + d[2]^2 + d[3]^2 <= 100 end},
    {{"box", center = {20, 20, 20}, size = {20, 0, 40}},
     function(d) return math.abs(d[1]) <= 10 and d[2] == 0 and math.abs(d[3]) <= 20 end},
    {{"cylinder", center = {20, 20, 20}, radius = 10, height = 20},
     function(d) return d[1]^2 + d[2]^2 <= 100 and math.abs(d[3]) <= 10 end},
  }
  local expected_a = {7, 15, 15}
  local sels = {}
  for s, sh in ipairs(shapes) do
    local shape = sh[1][1]
    local sel = net:region(sh[1])
    local want = {a = {}, b = {}}
    for name, ps in pairs{a = pos, b = bpos} do
      for i, q in ipairs(ps) do
        if sh[2]({q[1] - 20, q[2] - 20, q[3] - 20}) then table.insert(want[name], i) end
      end
    end
    local got = sel:neurons()
    T.eq(#want.a, expected_a[s], shape .. ": the expected count in the grid")
    T.same_list(got.a or {}, want.a, shape .. ": neurons of a (faces and edges inside)")
    T.same_list(got.b or {}, want.b, shape .. ": neurons of b")
    T.eq(got.c, nil, shape .. ": a population without positions is skipped")
    T.eq(#sel, #want.a + #want.b, shape .. ": #sel")
    sels[s] = {sel, want}
  end
  -- the sphere: the centre and its six neighbours at exactly the radius
  T.same_list(sels[1][1]:neurons().a, {38, 58, 62, 63, 64, 68, 88}, "sphere: centre and 6 neighbours")
  local parts = sels[1][1]:parts()
  T.eq(#parts, 2, "sel:parts(): one selection per population")
  T.eq(#parts[1] + #parts[2], #sels[1][1], "sel:parts(): together the whole selection")
  local only_a = net:region{"sphere", center = {20, 20, 20}, radius = 10, populations = {a}}
  T.eq(#only_a, 7, "region: populations = {a} restricts it")
  -- a bad entry of populations is named by its place in the list
  local sphere = function(pops)
    return {"sphere", center = {20, 20, 20}, radius = 10, populations = pops}
  end
  T.raises("net:region: populations[2] must be a population of this network, got string",
           net.region, net, sphere{a, "b"})
  T.raises("net:region: populations[1] must be a population of this network, got nk.network",
           net.region, net, sphere{net})
  local other = nk.network{}
  other:population("lif", 1, {name = "elsewhere"})
  T.raises("net:region: populations[1] ('elsewhere') belongs to another network",
           net.region, net, sphere{other:populations()[1]})
  other:close()
  T.raises("net:region: populations[1] is a slice of 'a'; a region takes whole populations",
           net.region, net, sphere{a:slice(1, 3)})
  T.eq(#net:region(sphere{a:slice(1, #a)}), 7, "region: a slice of all of a is a")
  -- a source on a region that spans two populations drives exactly those neurons
  net:source("dc", sels[2][1], {amplitude = 3})
  net:source("dc", a:select{125, 1, 63}, {amplitude = 1000})
  local ma = net:monitor("state", a, {vars = "v"})
  local mb = net:monitor("state", b, {vars = "v"})
  local mc = net:monitor("state", c, {vars = "v"})
  net:run(0.2)
  local ia, ib, ic = currents(ma)[1], currents(mb)[1], currents(mc)[1]
  local wa, wb = {}, {}
  for i = 1, #pos do wa[i] = 0 end
  for i = 1, 3 do wb[i] = 0 end
  for _, i in ipairs(sels[2][2].a) do wa[i] = 3 end
  for _, i in ipairs(sels[2][2].b) do wb[i] = 3 end
  for _, i in ipairs{1, 63, 125} do wa[i] = wa[i] + 1000 end
  T.same_list(ia, wa, "region source: exactly the box's neurons of a (and the selection's)")
  T.same_list(ib, wb, "region source: exactly the box's neurons of b")
  T.same_list(ic, {0, 0}, "region source: nothing on c")
  -- bad regions and selections
  T.raises("region: population 'c' has no positions", net.region, net,
           {"sphere", center = {0, 0, 0}, radius = 1, populations = {c}})
  T.raises("unknown shape 'cone' (expected sphere, box or cylinder)", net.region, net,
           {"cone", center = {0, 0, 0}, radius = 1})
  T.raises("a sphere needs a finite radius > 0 (um), got 0", net.region, net,
           {"sphere", center = {0, 0, 0}})
  T.raises("unknown option 'radious' for net:region (did you mean 'radius'?)", net.region, net,
           {"sphere", center = {0, 0, 0}, radious = 1})
  local empty = net:region{"sphere", center = {1000, 0, 0}, radius = 1}
  T.eq(#empty, 0, "region: nothing inside is an empty selection")
  T.raises("the target holds no neurons", net.source, net, "dc", empty, {amplitude = 1})
  local n2 = integ_net()
  n2:population("stim_integ", 2)
  T.raises("no population of this network has positions", n2.region, n2,
           {"sphere", center = {0, 0, 0}, radius = 1})
  T.raises("select: neuron 2 is listed twice", a.select, a, {2, 3, 2})
  T.raises("select: neuron 126 is not in 'a' (1..125)", a.select, a, {126})
  T.raises("select: expected a non-empty list", a.select, a, {})
  T.raises("the selection belongs to another network", n2.source, n2, "dc", sels[1][1], {amplitude = 1})
  T.same_list(a:slice(10, 20):select{3, 1}:neurons().a, {10, 12}, "select on a slice: 1-based in the slice")
end

-- ---- spike input: poisson, bernoulli, spike_times ---------------------------------------
do
  -- Poisson counts per neuron over 100 ms at 50 Hz: mean = variance = 5
  local N = 10000
  local net = integ_net(21)
  local p = net:population("stim_integ", N)
  local src = net:source("poisson", p, {rate = 50, weight = 1, synapse = "delta"})
  net:run(100)
  local n = {}
  for i = 1, N do n[i] = p:get("v", i) end
  local mean, var = stats(n)
  T.near(mean, 5, 5 * math.sqrt(5 / N), "poisson: mean count = rate * T")
  T.near(var, 5, 5 * math.sqrt((5 * 16 - 25) / N), "poisson: variance = mean")
  T.near(var / mean, 1, 0.1, "poisson: Fano factor 1")
  T.eq(src.rate, 50, "poisson: src.rate")
  -- per step: 2000 Hz at 0.1 ms is Poisson(0.2) per neuron and step, several may arrive
  local net2 = integ_net(22)
  local q = net2:population("stim_integ", 200)
  net2:source("poisson", q, {rate = 2000, weight = 1, synapse = "delta"})
  local m = net2:monitor("state", q, {vars = "v"})
  net2:run(50.1)
  local I, h, tot = currents(m), {[0] = 0, 0, 0, 0}, 0
  for k = 1, #I do
    for j = 1, 200 do
      local c = math.min(I[k][j], 3)
      h[c] = h[c] + 1
      tot = tot + 1
    end
  end
  local l = 0.2
  local pk = {[0] = math.exp(-l), l * math.exp(-l), l * l / 2 * math.exp(-l)}
  pk[3] = 1 - pk[0] - pk[1] - pk[2]
  for c = 0, 3 do
    T.near(h[c] / tot, pk[c], 5 * math.sqrt(pk[c] * (1 - pk[c]) / tot) + 1e-4,
           "poisson: P(" .. c .. (c == 3 and "+" or "") .. " input spikes in a step)")
  end

  -- Per-step counts at larger means: 2 and 9.9 per step come from the
  -- inversion table, 25 from PTRS (nk_source_tab): each count's frequency
  -- against the Poisson pmf, and the mean and variance of the counts.
  for _, l in ipairs{2, 9.9, 25} do
    local netl = integ_net(25)
    local ql = netl:population("stim_integ", 400)
    netl:source("poisson", ql, {rate = l * 1e4, weight = 1, synapse = "delta"})
    local ml = netl:monitor("state", ql, {vars = "v"})
    netl:run(30.1)
    local Il, hist, tot, cs = currents(ml), {}, 0, {}
    for k = 1, #Il do
      for j = 1, 400 do
        local c = math.floor(Il[k][j] + 0.5)
        hist[c] = (hist[c] or 0) + 1
        tot = tot + 1
        cs[#cs + 1] = c
      end
    end
    local cm, cv = stats(cs)
    T.near(cm, l, 5 * math.sqrt(l / tot), "poisson " .. l .. " per step: mean count")
    T.near(cv, l, 5 * math.sqrt((2 * l * l + l) / tot), "poisson " .. l .. " per step: variance")
    local pk = math.exp(-l)
    for c = 0, math.floor(3 * l) + 5 do
      if c > 0 then pk = pk * l / c end
      T.near((hist[c] or 0) / tot, pk, 5 * math.sqrt(pk * (1 - pk) / tot) + 2e-4,
             "poisson " .. l .. " per step: P(count = " .. c .. ")")
    end
  end

  -- Bernoulli: at most one per step with probability p
  local net3 = integ_net(23)
  local r = net3:population("stim_integ", 5000)
  net3:source("bernoulli", r, {p = 0.02, weight = 1, synapse = "delta"})
  net3:run(50)
  local cnt = {}
  for i = 1, 5000 do cnt[i] = r:get("v", i) end
  local bm, bv = stats(cnt)
  T.near(bm, 10, 5 * math.sqrt(9.8 / 5000), "bernoulli: mean count p * steps")
  T.near(bv, 9.8, 1.0, "bernoulli: variance steps * p * (1 - p)")
  local net4 = integ_net(24)
  local s = net4:population("stim_integ", 50)
  net4:source("bernoulli", s, {p = 0.5, weight = 1, synapse = "delta"})
  local ms = net4:monitor("state", s, {vars = "v"})
  net4:run(20.1)
  local ones, zeros_ok = 0, true
  local Is = currents(ms)
  for k = 1, #Is do
    for j = 1, 50 do
      if Is[k][j] == 1 then ones = ones + 1 elseif Is[k][j] ~= 0 then zeros_ok = false end
    end
  end
  T.ok(zeros_ok, "bernoulli: 0 or 1 input spike per step")
  T.near(ones / (50 * #Is), 0.5, 5 * math.sqrt(0.25 / (50 * #Is)), "bernoulli: p = 0.5 per step")

  -- spike_times: each time arrives at its nearest step (halves round up), repeats add up
  local net5 = integ_net()
  local t5 = net5:population("stim_integ", 5)
  net5:source("spike_times", t5, {weight = 2, synapse = "delta", times = {
    {0.1, 0.25}, {}, {1.0, 1.0, 0.3}, {0}, {0.04, 0.05, 0.06, 0.149, 0.15}}})
  net5:source("spike_times", t5:slice(2, 3), {weight = 0.5, synapse = "delta", times = {0.7}})
  local m5 = net5:monitor("state", t5, {vars = "v"})
  net5:run(1.2)
  local want = {}
  for k = 1, 11 do want[k] = {0, 0, 0, 0, 0} end
  want[2][1], want[4][1] = 2, 2          -- 0.1 -> step 1, 0.25 -> step 3
  want[11][3], want[4][3] = 4, 2         -- twice 1.0, and 0.3
  want[1][4] = 2
  want[1][5], want[2][5], want[3][5] = 2, 6, 2
  want[8][2], want[8][3] = 0.5, 0.5     -- one list for every target neuron
  all_near(currents(m5), want, 1e-12, "spike_times: arrival steps")

  -- into a current synapse: the LIF's exact response to one exponential PSC
  local net6 = nk.network{dt = DT, precision = "double"}
  local u = net6:population("lif", 1, {method = "exact", params = LIF})
  net6:source("spike_times", u, {times = {1.0}, weight = 100, params = {tau_syn = 2}})
  local m6 = net6:monitor("state", u, {vars = {"v", "exc.isyn"}})
  net6:run(6)
  local tt, wv, wi = m6:times(), {}, {}
  for k = 1, #tt do
    local t = tt[k] - 1
    wv[k] = t <= 1e-9 and -70 or -70 + (100 / 200) * (math.exp(-t / 20) - math.exp(-t / 2)) / 0.45
    wi[k] = t <= 1e-9 and 0 or 100 * math.exp(-t / 2)
  end
  all_near(m6:trace("v", 1), wv, 1e-10, "spike_times into exp_curr: v against the analytic PSP")
  all_near(m6:trace("exc.isyn", 1), wi, 1e-10, "spike_times into exp_curr: isyn = w exp(-t/tau_syn)")
end

-- ---- start/stop windows, set and remove ------------------------------------------------------
do
  local net = integ_net(31)
  local p = net:population("stim_integ", 8)
  local w = {start = 0.5, stop = 1.0}
  local function opts(t) for k, v in pairs(w) do t[k] = v end return t end
  net:source("dc", p:slice(1, 1), opts{amplitude = 3})
  net:source("step", p:slice(2, 2), opts{times = {0}, amplitudes = {4}})
  net:source("ramp", p:slice(3, 3), opts{from = 1, to = 2})
  net:source("ac", p:slice(4, 4), opts{amplitude = 1, frequency = 10, offset = 5})
  net:source("noise", p:slice(5, 5), opts{mean = 50, std = 1})
  net:source("array", p:slice(6, 6), opts{values = {6}, after = "hold"})
  net:source("equation", p:slice(7, 7), opts{I = "7 + t"})
  net:source("callback", p:slice(8, 8), opts{fn = function(t) return 8 end})
  local m = net:monitor("state", p, {vars = "v"})
  net:run(1.6)
  local I, inside, outside = currents(m), true, true
  for k = 1, #I do
    local t = (k - 1) * DT
    for j = 1, 8 do
      if t >= 0.5 - 1e-9 and t < 1.0 - 1e-9 then
        if not (I[k][j] > 0) then inside = false end
      elseif I[k][j] ~= 0 then
        outside = false
      end
    end
  end
  T.ok(inside, "start/stop: every current kind is on for start <= t < stop")
  T.ok(outside, "start/stop: and off outside")
  -- spike input in a window
  local n2 = integ_net(32)
  local q = n2:population("stim_integ", 3)
  n2:source("poisson", q:slice(1, 1), {rate = 1e5, weight = 1, synapse = "delta", start = 0.3, stop = 0.6})
  n2:source("bernoulli", q:slice(2, 2), {p = 1, weight = 1, synapse = "delta", start = 0.3, stop = 0.6})
  n2:source("spike_times", q:slice(3, 3), {times = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7}, weight = 1,
                                           synapse = "delta", start = 0.3, stop = 0.6})
  local m2 = n2:monitor("state", q, {vars = "v"})
  n2:run(1.0)
  local J, ok_in, ok_out = currents(m2), true, true
  for k = 1, #J do
    local on = k >= 4 and k <= 6
    for j = 1, 3 do
      if on and not (J[k][j] > 0) then ok_in = false end
      if not on and J[k][j] ~= 0 then ok_out = false end
    end
  end
  T.ok(ok_in and ok_out, "start/stop: spike input only for start <= t < stop")

  -- set between runs changes the input; remove stops it
  local n3 = integ_net()
  local r = n3:population("stim_integ", 2)
  local dc = n3:source("dc", r, {amplitude = 10})
  local po = n3:source("poisson", r, {rate = 1e5, weight = 1, synapse = "delta"})
  n3:run(1)
  local v1 = r:get("v", 1)
  dc:set{amplitude = 20}
  po:set{rate = 0}
  n3:run(1)
  T.near(r:get("v", 1) - v1, 20 * 10, 1e-9, "set: the new amplitude, no more Poisson input")
  T.eq(dc.amplitude, 20, "set: src.amplitude reads the new value")
  dc:set{stop = 2.5}
  n3:run(1)
  T.near(r:get("v", 1) - v1, 20 * 15, 1e-9, "set: a new stop ends the current at 2.5 ms")
  dc:set{stop = math.huge}
  dc:remove()
  n3:run(1)
  T.near(r:get("v", 1) - v1, 20 * 15, 1e-9, "remove: no more current")
  T.eq(dc.kind, nil, "remove: a removed source has no kind")
  T.raises("source 1 was removed", dc.set, dc, {amplitude = 1})
  local dc2 = n3:source("dc", r, {amplitude = 1})
  T.raises("a dc source has no option 'rate' (it has: amplitude, start, stop)", dc2.set, dc2,
           {rate = 3})
  local eq = n3:source("equation", r, {I = "1"})
  T.raises("an equation source has no option 'rate'", eq.set, eq, {rate = 3})
  T.raises("is an equation source, not a callback", eq.set_fn, eq, print)
  T.raises("poisson: -1 is not a valid value for 'rate'", po.set, po, {rate = -1})
  dc2:set{stop = 1}
  T.raises("dc: start = 5 would give start = 5, stop = 1 (expected 0 <= start <= stop)",
           dc2.set, dc2, {start = 5})
  T.eq(dc2.start, 0, "a refused set leaves the option as it was")
  -- start and stop given together are one new window, whatever the table's
  -- order (one of these two was refused: "start = 5 would give start = 5, stop = 1")
  dc2:set{start = 5, stop = 8}
  T.ok(dc2.start == 5 and dc2.stop == 8, "set{start, stop} after the old stop: 5..8")
  dc2:set{start = 0.2, stop = 0.5}
  T.ok(dc2.start == 0.2 and dc2.stop == 0.5, "set{start, stop} before the old start: 0.2..0.5")
  T.raises("would give start = 3, stop = 2", dc2.set, dc2, {amplitude = 7, start = 3, stop = 2})
  T.ok(dc2.start == 0.2 and dc2.stop == 0.5 and dc2.amplitude == 1,
       "a refused set changes nothing, the other options of the call included")
  T.ok(tostring(po):find("poisson on 2 of 'pop1': 0 Hz x 1", 1, true), "tostring(src): " .. tostring(po))
end

-- ---- bad input: a clear error, and the session goes on ----------------------------------
do
  local net = integ_net()
  local p = net:population("stim_integ", 2)
  local nopos = net:population("lif", 2, {name = "nopos"})
  T.raises("unknown source kind 'dcc' (did you mean 'dc'?); known kinds: dc, step, ramp, ac, noise, " ..
           "array, equation, callback, global, poisson, bernoulli, spike_times", net.source, net, "dcc", p, {})
  T.raises("unknown source kind 'light'; known kinds: dc, step", net.source, net, "light", p, {})
  T.raises("unknown option 'amplitud' for net:source('dc') (did you mean 'amplitude'?)",
           net.source, net, "dc", p, {amplitud = 1})
  T.raises("unknown option 'rate' for net:source('dc') (expected one of: amplitude, start, stop)",
           net.source, net, "dc", p, {rate = 1})
  T.raises("net:source('dc') needs option 'amplitude' (pA)", net.source, net, "dc", p)
  T.raises("'times' has 2 entries and 'amplitudes' 1; expected the same number",
           net.source, net, "step", p, {times = {1, 2}, amplitudes = {1}})
  T.raises("step: times must be finite, >= 0 and strictly increasing (times[2] = 1)",
           net.source, net, "step", p, {times = {2, 1}, amplitudes = {1, 2}})
  T.raises("ramp: needs a finite 'stop' (ms)", net.source, net, "ramp", p, {to = 1})
  T.raises("ramp: expected 0 <= start <= stop (ms), got start = 5, stop = 3",
           net.source, net, "ramp", p, {to = 1, start = 5, stop = 3})
  T.raises("values[2] must be a list of 2 numbers like values[1]",
           net.source, net, "array", p, {values = {{1, 2}, {1}}})
  T.raises("array: each row must hold 2 values (one per target neuron) or 1, got 3",
           net.source, net, "array", p, {values = {{1, 2, 3}}})
  T.raises("'after' must be \"zero\" or \"hold\", got \"keep\"",
           net.source, net, "array", p, {values = {1}, after = "keep"})
  T.raises("uses x, y or z but population 'nopos' has no positions",
           net.source, net, "equation", nopos, {I = "x + 1"})
  T.raises("equation: unknown name 'foo' in 'foo + 1'", net.source, net, "equation", p, {I = "foo + 1"})
  T.raises("equation: the expression does not parse", net.source, net, "equation", p, {I = "1 +"})
  T.raises("noise: std must be >= 0 pA, got -1", net.source, net, "noise", p, {std = -1})
  T.raises("ac: frequency must be >= 0 Hz, got -2", net.source, net, "ac", p,
           {amplitude = 1, frequency = -2})
  T.raises("dc: expected 0 <= start <= stop (ms), got start = -1", net.source, net, "dc", p,
           {amplitude = 1, start = -1})
  T.raises("net:source('poisson') needs options 'rate' (Hz) and 'weight'", net.source, net,
           "poisson", p, {rate = 5})
  T.raises("a Poisson source takes 'rate' (Hz), not 'p'", net.source, net, "poisson", p,
           {rate = 5, weight = 1, p = 0.1})
  T.raises("bernoulli: p (the probability of an input spike per step) must be in [0, 1], got 2",
           net.source, net, "bernoulli", p, {p = 2, weight = 1})
  T.raises("'times' has 1 lists, expected one per target neuron (2)", net.source, net,
           "spike_times", p, {times = {{1}}, weight = 1})
  T.raises("spike_times: times must be finite and >= 0 ms, got -1", net.source, net,
           "spike_times", p, {times = {-1}, weight = 1})
  T.raises("needs option 'fn': a function(t) returning the current (pA), one number or a "
           .. "list with one per target neuron; got number", net.source, net, "callback", p, {fn = 3})
  T.raises("'every' must be a whole number of steps from 1 to 1e9, got 0", net.source, net, "callback", p,
           {fn = print, every = 0})
  T.raises("population, slice, selection or the network expected, got number", net.source, net,
           "dc", 5, {amplitude = 1})
  -- none of these left anything behind: the network builds and runs
  net:run(DT)
  T.near(net.t, DT, 1e-9, "after the bad calls the network runs")
  T.eq(p:get("v", 1), 0, "and no half-made source drives it")
end

T.done("stimuli")
