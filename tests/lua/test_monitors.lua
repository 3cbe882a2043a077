-- Monitors: spikes, state, rate, field, output (docs/stimuli-and-recording.md).
--
-- Sampled monitors record at the start of every `every`-th step counted from
-- the step they were added at, before that step's update: row r is the state
-- at t0 + r*every*dt. The values are checked against the exact solution of a
-- LIF under a constant current (method "exact", double precision): v(t) =
-- v_rest + R*I*(1 - exp(-t/tau_m)), and against each other (field, output and
-- rate against state and spike monitors on the same neurons).
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")

local DT = 0.1
-- tau_m = 20 ms, C_m = 200 pF: R = 0.1 GOhm. No spikes (threshold 100 mV).
local QUIET = {tau_m = 20, C_m = 200, v_rest = -70, v_reset = -70, v_thresh = 100}

-- v of a neuron with R*I = ri mV, t ms after the current came on at v_rest
local function v_dc(ri, t) return -70 + ri * (1 - math.exp(-t / 20)) end

-- One check for a whole table: the worst |got - want| against tol*(1 + |want|).
local function all_near(got, want, tol, msg)
  msg = string.format("line %d: %s", debug.getinfo(2, "l").currentline, msg)
  local worst, where, gw, ww = -1, "?", nil, nil
  local function walk(g, w, path)
    if type(w) == "table" then
      if type(g) ~= "table" or #g ~= #w then
        worst, where = math.huge, path .. " (shape: " .. (type(g) == "table" and #g or type(g)) ..
                                         " vs " .. #w .. ")"
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

local function column(rows, j)
  local c = {}
  for r = 1, #rows do c[r] = rows[r][j] end
  return c
end

-- ---- state: every k steps, against the analytic v ------------------------------------------
do
  local net = nk.network{dt = DT, precision = "double"}
  local p = net:population("lif", 5, {method = "exact", params = QUIET})
  net:source("equation", p, {I = "50*i"}) -- R*I = 5*i mV
  local m3 = net:monitor("state", p, {vars = "v", every = 3})
  local m1 = net:monitor("state", p:slice(2, 4), {vars = {"v"}})
  net:run(10)
  T.eq(#m3, 34, "state every 3: rows at steps 0, 3, ..., 99")
  local want_t, want_v = {}, {}
  for r = 1, 34 do
    local t = (r - 1) * 3 * DT
    want_t[r] = t
    want_v[r] = {}
    for j = 1, 5 do want_v[r][j] = v_dc(5 * j, t) end
  end
  all_near(m3:times(), want_t, 1e-12, "state every 3: times() = t0 + r*every*dt")
  all_near(m3:values(), want_v, 1e-10, "state every 3: v = v_rest + RI(1 - exp(-t/tau))")
  all_near(m3:values("v"), want_v, 1e-10, "state: values('v') is values()")
  T.eq(m3:values()[1][5], -70, "state: row 1 is the state before the first update")
  all_near(m3:trace(4), column(want_v, 4), 1e-10, "state: trace(j) is column j")
  all_near(m3:trace("v", 4), column(want_v, 4), 1e-10, "state: trace(var, j)")
  T.same_list(m3:neurons(), {1, 2, 3, 4, 5}, "state: neurons()")
  T.eq(#m1, 100, "state every 1: a row per step")
  T.same_list(m1:neurons(), {2, 3, 4}, "state on a slice: neurons() in the population")
  -- every 3 picks rows 1, 4, 7, ... of every 1
  local picked = {}
  for r = 1, 34 do picked[r] = m1:values()[3 * (r - 1) + 1] end
  all_near(m3:values(), (function()
    local t = {}
    for r = 1, 34 do t[r] = {want_v[r][1], picked[r][1], picked[r][2], picked[r][3], want_v[r][5]} end
    return t
  end)(), 1e-10, "every 3 samples the same states as every 1")
  T.ok(tostring(m3):find("state monitor 'pop1' on 5 neurons of 'pop1' (v): 34 rows every 0.3 ms from 0.0 ms",
                         1, true), "tostring: " .. tostring(m3))
  -- a second run continues the rows
  net:run(5)
  T.eq(#m3, 50, "state: a later run appends (steps 0 .. 149 every 3)")
  T.near(m3:times()[50], 49 * 0.3, 1e-12, "state: times continue across runs")
  T.near(m3:values()[50][3], v_dc(15, 14.7), 1e-10, "state: values continue across runs")

  -- float precision: the same within float's resolution
  local nf = nk.network{dt = DT}
  local pf = nf:population("lif", 5, {method = "exact", params = QUIET})
  nf:source("equation", pf, {I = "50*i"})
  local mf = nf:monitor("state", pf, {vars = "v", every = 3})
  nf:run(10)
  all_near(mf:values(), want_v, 3e-6, "state (float): v")
end

-- ---- several variables and a receptor's state ----------------------------------------------
-- One input spike of 100 pA at 1.0 ms into an exponential current (tau_syn 2 ms)
-- on top of a DC: isyn = 100 exp(-(t-1)/2) and v = DC part + PSP part.
do
  local net = nk.network{dt = DT, precision = "double"}
  local p = net:population("lif", 3, {method = "exact", params = QUIET})
  net:source("dc", p, {amplitude = 50})
  net:source("spike_times", p:slice(2, 2), {times = {1.0}, weight = 100, params = {tau_syn = 2}})
  local m = net:monitor("state", p, {vars = {"v", "exc.isyn"}, every = 2})
  local m2 = net:monitor("state", p, {vars = {"exc.isyn", "v"}, every = 2})
  net:run(6)
  local wv, wi = {}, {}
  for r = 1, #m do
    local t = (r - 1) * 2 * DT
    local s = t - 1
    local psp = s > 1e-9 and (100 / 200) * (math.exp(-s / 20) - math.exp(-s / 2)) / 0.45 or 0
    local isyn = s > 1e-9 and 100 * math.exp(-s / 2) or 0
    wv[r] = {v_dc(5, t), v_dc(5, t) + psp, v_dc(5, t)}
    wi[r] = {0, isyn, 0}
  end
  T.eq(#m, 30, "two vars every 2: 30 rows")
  all_near(m:values("v"), wv, 1e-10, "values('v'): DC plus the PSP")
  all_near(m:values("exc.isyn"), wi, 1e-10, "values('exc.isyn'): the receptor's current")
  all_near(m:trace("exc.isyn", 2), column(wi, 2), 1e-10, "trace('exc.isyn', 2)")
  all_near(m2:values("v"), m:values("v"), 0, "the order of vars does not matter")
  all_near(m2:values("exc.isyn"), m:values("exc.isyn"), 0, "the order of vars does not matter (isyn)")
  T.raises("this monitor records 2 variables: name one (v, ...)", m.values, m)
  T.raises("this monitor does not record 'w' (it records: v, exc.isyn)", m.values, m, "w")
  T.raises("this monitor records 2 variables", m.trace, m, 1)
  T.raises("monitor:trace(): neuron 4 is not among the 3 monitored", m.trace, m, "v", 4)
  T.raises("monitor:ids(): a state monitor records no spikes (use neurons())", m.ids, m)
end

-- ---- spikes and rate: the rate's bins against the spike monitor's counts --------------------
do
  local net = nk.network{dt = DT, seed = 4}
  local N = 60
  local p = net:population("lif", N, {params = {I_e = 350, t_ref = 1}})
  net:source("poisson", p, {rate = 3000, weight = 60})
  local sp = net:monitor("spikes", p)
  local r = net:monitor("rate", p, {bin = 2})
  local sel = p:select{50, 3, 17, 4}
  local ssel = net:monitor("spikes", sel)
  local rsel = net:monitor("rate", sel, {bin = 0.5})
  net:run(51)
  local function bins(times, ids, keep, width, nb)
    local c = {}
    for b = 1, nb do c[b] = 0 end
    for k = 1, #times do
      local s = math.floor(times[k] / DT + 0.5)
      local b = s // math.floor(width / DT + 0.5) + 1
      if (not keep or keep[ids[k]]) and b <= nb then c[b] = c[b] + 1 end
    end
    return c
  end
  local t, ids = sp:times(), sp:ids()
  T.ok(#t > 200, "rate: the network fires (" .. #t .. " spikes)")
  T.eq(#r, 25, "rate: 25 full bins of 2 ms in 51 ms (the partial bin is not a row)")
  local c = bins(t, ids, nil, 2, 25)
  local want = {}
  for b = 1, 25 do want[b] = c[b] / (N * 0.002) end
  all_near(r:values(), want, 1e-12, "rate: Hz per bin = spikes / (neurons * bin)")
  local wt = {}
  for b = 1, 25 do wt[b] = (b - 1) * 2 end
  all_near(r:times(), wt, 1e-12, "rate: times() are the bins' starts")
  local mean = 0
  for b = 1, 25 do mean = mean + want[b] / 25 end
  T.near(r:rate(), mean, 1e-9, "rate monitor: rate() is the mean over the full bins")
  T.near(sp:rate(), #t / (N * 0.051), 1e-9, "spike monitor: rate() = count / (neurons * time)")
  T.eq(sp:count(), #t, "spike monitor: count()")
  T.eq(#sp, #t, "spike monitor: #m is the count")
  -- on a selection: only those neurons
  local keep = {[3] = true, [4] = true, [17] = true, [50] = true}
  local only = true
  for _, i in ipairs(ssel:ids()) do if not keep[i] then only = false end end
  T.ok(only, "spikes on a selection: only its neurons")
  local n_sel = 0
  for k = 1, #ids do if keep[ids[k]] then n_sel = n_sel + 1 end end
  T.eq(ssel:count(), n_sel, "spikes on a selection: every spike of its neurons")
  T.same_list(ssel:neurons(), {3, 4, 17, 50}, "spikes on a selection: neurons() sorted")
  local cs = bins(t, ids, keep, 0.5, 102)
  local ws = {}
  for b = 1, 102 do ws[b] = cs[b] / (4 * 0.0005) end
  all_near(rsel:values(), ws, 1e-12, "rate on a selection: bins of 0.5 ms over its 4 neurons")
  -- ids are 1-based in the population, also for a slice
  local sl = net:monitor("spikes", p:slice(11, 20))
  net:run(20)
  local inside = true
  for _, i in ipairs(sl:ids()) do if i < 11 or i > 20 then inside = false end end
  T.ok(sl:count() > 0 and inside, "spikes on a slice: ids() are the population's indices (11..20)")
end

-- ---- field: sum and mean against the state monitor -------------------------------------------
do
  local net = nk.network{dt = DT, precision = "double", seed = 8}
  local p = net:population("lif", 30, {params = {I_e = 300}})
  net:source("poisson", p, {rate = 400, weight = 40})
  local sel = p:select{2, 7, 11, 29, 30}
  local st = net:monitor("state", sel, {vars = {"v", "exc.isyn"}, every = 2})
  local fs = net:monitor("field", sel, {var = "v", op = "sum", every = 2})
  local fm = net:monitor("field", sel, {var = "exc.isyn", every = 2})
  local fall = net:monitor("field", p, {vars = "v", op = "mean", every = 4})
  local stall = net:monitor("state", p, {vars = "v", every = 4})
  net:run(30)
  local function reduce(rows, op)
    local out = {}
    for r = 1, #rows do
      local s = 0
      for j = 1, #rows[r] do s = s + rows[r][j] end
      out[r] = op == "sum" and s or s / #rows[r]
    end
    return out
  end
  T.eq(#fs, #st, "field: a row per sample")
  all_near(fs:values(), reduce(st:values("v"), "sum"), 1e-12, "field sum of v over a selection")
  all_near(fm:values(), reduce(st:values("exc.isyn"), "mean"), 1e-12,
           "field mean (the default) of exc.isyn")
  all_near(fall:values(), reduce(stall:values(), "mean"), 1e-12, "field mean over a population")
  all_near(fs:times(), st:times(), 0, "field: times() as the state monitor's")
  T.raises("monitor:trace(): only state and output monitors have traces", fs.trace, fs, 1)
end

-- ---- output: a function called with the values, which are also kept -------------------------
do
  local net = nk.network{dt = DT, precision = "double"}
  local p = net:population("lif", 6, {method = "exact", params = QUIET})
  net:source("equation", p, {I = "50*i"})
  net:source("spike_times", p, {times = {0.5}, weight = 30})
  local sel = p:select{6, 1, 4}
  local st = net:monitor("state", sel, {vars = {"v", "exc.isyn"}, every = 4})
  local one, two = {}, {}
  local o1 = net:monitor("output", sel, {vars = "v", every = 4, fn = function(t, v)
    one[#one + 1] = {t = t, v = v}
  end})
  local o2 = net:monitor("output", sel, {vars = {"v", "exc.isyn"}, every = 4, fn = function(t, vals)
    two[#two + 1] = {t = t, v = vals.v, i = vals["exc.isyn"]}
  end})
  net:run(5)
  T.eq(#one, 13, "output: called at steps 0, 4, ..., 48")
  T.eq(#one, #st, "output: one call per state row")
  local ts, vs, v2, i2 = {}, {}, {}, {}
  for k = 1, #one do ts[k], vs[k] = one[k].t, one[k].v end
  for k = 1, #two do v2[k], i2[k] = two[k].v, two[k].i end
  all_near(ts, st:times(), 1e-12, "output: t of each call")
  all_near(vs, st:values("v"), 0, "output, one var: a list over the neurons, as the state monitor's")
  all_near(v2, st:values("v"), 0, "output, two vars: values.v")
  all_near(i2, st:values("exc.isyn"), 0, "output, two vars: values['exc.isyn']")
  all_near(o1:values(), st:values("v"), 0, "output keeps the values like a state monitor")
  all_near(o2:values("exc.isyn"), st:values("exc.isyn"), 0, "output keeps every var")
  all_near(o1:times(), st:times(), 0, "output: times()")
  T.same_list(o1:neurons(), {1, 4, 6}, "output on a selection: neurons()")
  local w = {}
  for r = 1, #st do
    local t = (r - 1) * 0.4
    w[r] = {v_dc(5, t), v_dc(20, t), v_dc(30, t)}
  end
  -- the selection's neurons are 1, 4, 6 (R*I = 5, 20, 30 mV), before the input at 0.5 ms
  all_near({st:values("v")[1], st:values("v")[2]}, {w[1], w[2]}, 1e-10,
           "a selection records its own neurons, in ascending order")

  -- an error in the function stops the run with its message and a traceback
  local net2 = nk.network{dt = DT, precision = "double"}
  local q = net2:population("lif", 2, {method = "exact", params = QUIET})
  net2:source("dc", q, {amplitude = 100})
  local failing, calls = true, {}
  local o = net2:monitor("output", q, {vars = "v", fn = function(t, v)
    if failing and t >= 0.3 then error("cannot take " .. t) end
    calls[#calls + 1] = t
  end})
  local st2 = net2:monitor("state", q, {vars = "v"})
  local err = T.raises("output monitor 'pop1' at t = 0.3 ms", net2.run, net2, 1)
  T.ok(err and err:find("cannot take 0.3", 1, true) and err:find("stack traceback", 1, true),
       "output error: the function's message and a traceback")
  T.near(net2.t, 0.3, 1e-9, "output error: the run stopped at that step")
  failing = false
  net2:run(0.7)
  all_near(calls, {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}, 1e-12,
           "output: after the error the next run calls once per step, none twice")
  local wv = {}
  for r = 1, 10 do wv[r] = v_dc(10, (r - 1) * DT) end
  all_near(o:trace(1), wv, 1e-10, "output: rows stay one per step across the failed step")
  all_near(st2:trace(1), wv, 1e-10, "state: rows stay one per step across the failed step")
  T.eq(#st2, 10, "state: no row twice")
end

-- ---- a failed step (a source's error) is sampled once ---------------------------------------
do
  local net = nk.network{dt = DT, precision = "double"}
  local p = net:population("lif", 1, {method = "exact", params = QUIET})
  net:source("dc", p, {amplitude = 100})
  local bad = true
  net:source("callback", p, {fn = function(t)
    if bad and t >= 0.5 then error("boom") end
    return 0
  end})
  local m = net:monitor("state", p, {vars = "v"})
  local m2 = net:monitor("state", p, {vars = "v", every = 5})
  T.raises("callback source 2 at t = 0.5 ms", net.run, net, 1)
  bad = false
  net:run(0.5)
  local wt, wv = {}, {}
  for r = 1, 10 do wt[r], wv[r] = (r - 1) * DT, v_dc(10, (r - 1) * DT) end
  T.eq(#m, 10, "failed step: 10 rows for 10 steps")
  all_near(m:times(), wt, 1e-12, "failed step: times")
  all_near(m:trace(1), wv, 1e-10, "failed step: each row is its step's state")
  T.eq(#m2, 2, "failed step: every 5 gives rows at 0 and 0.5 ms")
  T.near(m2:trace(1)[2], v_dc(10, 0.5), 1e-10, "failed step: every 5, the row at 0.5 ms")
end

-- ---- monitors added after a first run --------------------------------------------------------
do
  local net = nk.network{dt = DT, precision = "double"}
  local p = net:population("lif", 4, {method = "exact",
    params = {tau_m = 20, C_m = 200, v_rest = -70, v_reset = -70, v_thresh = -60, t_ref = 2}})
  net:source("dc", p, {amplitude = 200}) -- R*I = 20 mV: fires every 2 + 20 ln 2 ms
  local early = net:monitor("spikes", p)
  net:run(25.05)
  local t_add = net.t
  T.near(t_add, 25.1, 1e-9, "runs are whole steps (25.05 ms -> 251 steps)")
  local v_at = p:get("v", 3)
  local st = net:monitor("state", p, {vars = "v", every = 2})
  local late = net:monitor("spikes", p)
  local rate = net:monitor("rate", p, {bin = 1})
  T.eq(#st, 0, "added after a run: nothing recorded yet")
  net:run(30)
  T.near(st:times()[1], t_add, 1e-9, "added after a run: row 1 is at the time it was added")
  T.eq(st:trace(3)[1], v_at, "added after a run: row 1 is the state at that time")
  T.near(st:times()[2], t_add + 0.2, 1e-9, "added after a run: then every 2 steps")
  T.eq(#st, 150, "added after a run: 150 rows in 30 ms")
  local all_t, n_late = early:times(), 0
  for _, x in ipairs(all_t) do if x >= t_add - 1e-9 then n_late = n_late + 1 end end
  T.ok(n_late > 0 and n_late < #all_t, "spikes before and after the monitor was added")
  T.eq(late:count(), n_late, "a spike monitor added later records only later spikes")
  T.ok(late:times()[1] >= t_add - 1e-9, "its first spike is after it was added")
  T.near(late:rate(), n_late / (4 * 0.030), 1e-9, "its rate() is over its own 30 ms")
  T.near(rate:times()[1], t_add, 1e-9, "a rate monitor added later: bins from that time")
  T.eq(#rate, 30, "a rate monitor added later: 30 bins of 1 ms")
  local sum = 0
  for _, x in ipairs(rate:values()) do sum = sum + x end
  T.near(sum * 4 * 0.001, n_late, 1e-9, "a rate monitor added later: its bins hold the later spikes")
end

-- ---- bad input: a clear error, and the session goes on --------------------------------------
do
  local net = nk.network{dt = DT}
  local p = net:population("lif", 3)
  local q = net:population("hh", 2, {name = "hhpop"})
  local sp = net:monitor("spikes", p)
  T.raises("unknown monitor kind 'stat' (did you mean 'state'?); known kinds: spikes, state, rate, " ..
           "field, output", net.monitor, net, "stat", p, {vars = "v"})
  T.raises("unknown monitor kind 'voltmeter'; known kinds: spikes, state, rate, field, output",
           net.monitor, net, "voltmeter", p)
  T.raises("unknown state variable 'xyzzy' for model 'lif' (expected one of: v)",
           net.monitor, net, "state", p, {vars = "xyzzy"})
  T.raises("unknown state variable 'zz' for model 'hh' (expected one of: v, m, h, n)",
           net.monitor, net, "state", q, {vars = {"v", "zz"}})
  T.raises("population 'pop1' has no receptor 'exc' (receptors are made by net:connect and " ..
           "net:source)", net.monitor, net, "state", p, {vars = "exc.isyn"})
  net:source("poisson", p, {rate = 10, weight = 1})
  T.raises("unknown state variable 'g' for model 'exp_curr' (expected one of: isyn)",
           net.monitor, net, "state", p, {vars = "exc.g"})
  T.raises("unknown option 'evry' for net:monitor('state') (did you mean 'every'?)",
           net.monitor, net, "state", p, {vars = "v", evry = 2})
  T.raises("unknown option 'bin' for net:monitor('state')", net.monitor, net, "state", p,
           {vars = "v", bin = 2})
  T.raises("net:monitor('spikes') takes no options (got 'every')", net.monitor, net, "spikes", p,
           {every = 2})
  T.raises("'every' must be a whole number of steps from 1 to 1e9, got 0", net.monitor, net, "state", p,
           {vars = "v", every = 0})
  T.raises("'every' must be a whole number of steps from 1 to 1e9, got 1.5", net.monitor, net, "state", p,
           {vars = "v", every = 1.5})
  T.raises("rate: bin (0.25 ms) must be a whole number of steps (dt = 0.1 ms)", net.monitor, net,
           "rate", p, {bin = 0.25})
  T.raises("rate: bin must be a positive number of ms, got 0", net.monitor, net, "rate", p, {bin = 0})
  T.raises("field: op must be 'sum' or 'mean', got 'max'", net.monitor, net, "field", p,
           {var = "v", op = "max"})
  T.raises("field: records one variable, got 2", net.monitor, net, "field", p,
           {vars = {"v", "exc.isyn"}})
  T.raises("state: needs the variables to record (vars = {\"v\", ...}; 'lif' has: v)",
           net.monitor, net, "state", p)
  T.raises("state: variable 'v' is listed twice", net.monitor, net, "state", p, {vars = {"v", "v"}})
  T.raises("'vars' must be a name or a list of names, got number", net.monitor, net, "state", p,
           {vars = 3})
  T.raises("needs option 'fn': a function(t, values)", net.monitor, net, "output", p, {vars = "v"})
  T.raises("needs options 'vars' and 'fn'", net.monitor, net, "output", p)
  T.raises("state: name 'a/b' must be non-empty, without '/'", net.monitor, net, "state", p,
           {vars = "v", name = "a/b"})
  net:monitor("state", p, {vars = "v", name = "vm"})
  T.raises("state: another state monitor is already named 'vm'", net.monitor, net, "state", p,
           {vars = "v", name = "vm"})
  T.raises("a monitor watches one population; this target spans 2", net.monitor, net, "state", net,
           {vars = "v"})
  T.raises("population, slice, selection or the network expected, got string", net.monitor, net,
           "spikes", "pop1")
  T.raises("monitor:values(): a spike monitor has times() and ids()", sp.values, sp)
  T.raises("only state and output monitors have traces", sp.trace, sp, 1)
  -- the session goes on: the network runs and its monitors record
  net:run(1)
  T.near(net.t, 1, 1e-9, "after the bad calls the network runs")
  local vm = net:monitor("state", p, {vars = "v", name = "vm2", every = 2})
  net:run(1)
  T.eq(#vm, 5, "a corrected call works and records")
  T.eq(#sp >= 0 and sp:count(), #sp, "the first monitor still records")
end

T.done("monitors")
