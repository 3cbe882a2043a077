-- Threads (engine/backends/cpu/cpu.c): the same network gives the same bits
-- for any thread count. A network of nine populations (1668 neurons: current
-- and conductance IF, adex with conductance synapses, izhikevich, hh, a
-- graded Morris-Lecar circuit, a stochastic model with randn(), an rk45
-- population), projections within and between populations and between
-- slices, with one delay and with random delays, and every kind of source
-- and monitor, runs with 1, 2, 3, 4 and 7 threads, in float and double
-- precision; everything it records and the final value of every state of
-- every neuron are compared with the one-thread run as IEEE bytes
-- (string.pack "<d"), never with a tolerance. Then: changing the thread
-- count between runs, a checkpoint written with one count and continued with
-- another, how many threads a network gets, a divergence's message, and
-- refused values.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")

local COUNTS = {1, 2, 3, 4, 7}
local MS = 100

-- On the CUDA backend (suite lua-cuda) the thread count is asked for as here
-- and ignored: one host thread drives the device, and the bits must still be
-- those of the one-thread run. The threads a run used: n on the CPU.
local function ran(n) return T.cpu and n or 1 end

-- ---- packing and comparing ------------------------------------------------------------------
local function pack_list(xs)
  local parts = {}
  for i = 1, #xs do parts[i] = string.pack("<d", xs[i]) end
  return string.pack("<I4", #xs) .. table.concat(parts)
end

local function pack_rows(rows)
  local parts = {}
  for r = 1, #rows do
    parts[r] = type(rows[r]) == "table" and pack_list(rows[r]) or string.pack("<d", rows[r])
  end
  return string.pack("<I4", #rows) .. table.concat(parts)
end

-- Where two packed strings first differ (a byte offset).
local function first_diff(a, b)
  if #a ~= #b then return string.format("lengths %d and %d bytes", #a, #b) end
  for k = 1, #a do
    if a:byte(k) ~= b:byte(k) then return string.format("at byte %d", k) end
  end
  return "nowhere"
end

-- One check per entry of want: got[name] holds the same bytes.
local function same_records(got, want, what)
  local bad = 0
  local names = {}
  for name in pairs(want) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    T.count = T.count + 1
    if got[name] ~= want[name] then
      bad = bad + 1
      T.failed = T.failed + 1
      io.stderr:write(string.format("%s: check failed: %s: '%s' differs (%s)\n", arg[0], what,
                                    name, got[name] and first_diff(got[name], want[name])
                                    or "missing"))
    end
  end
  for name in pairs(got) do
    if want[name] == nil then
      T.ok(false, what .. ": unexpected record '" .. name .. "'")
    end
  end
  return bad, #names
end

-- ---- the network ----------------------------------------------------------------------------
nk.model{name = "thr_noisy", doc = "test: leaky integrator with white noise (euler)",
         params = {tau = {10, "ms"}, E_L = {-65, "mV"}, sigma = {4, "mV"}, C_m = {100, "pF"},
                   v_th = {-52, "mV"}, v_r = {-65, "mV"}},
         states = {v = {"E_L", "mV"}},
         equations = "dv/dt = (E_L - v)/tau + I/C_m + sigma*randn()/sqrt(dt) : mV",
         threshold = "v > v_th", reset = "v = v_r", refractory = 1, method = "euler"}

-- name, model, size, options. Sizes are not multiples of 64: the last block of
-- a population is partial and chunk boundaries fall inside populations.
local POPS = {
  {"exc", "lif", 650, {params = {tau_m = 20, C_m = 200, v_rest = -60, v_reset = -60,
                                 v_thresh = -50, t_ref = 2},
                       init = {v = nk.uniform(-60, -50)}},
   {exc = "exp_curr", inh = "exp_curr", fast = "alpha_curr"}},
  {"inh", "lif", 170, {params = {tau_m = 10, C_m = 200, v_rest = -60, v_reset = -60,
                                 v_thresh = -50, t_ref = 1},
                       init = {v = nk.uniform(-60, -50)}},
   {exc = "exp_curr", inh = "exp_curr"}},
  {"cond", "lif_cond", 300, {init = {v = nk.uniform(-60, -50)}},
   {exc = "exp_cond", inh = "exp_cond"}},
  {"ad", "adex", 100, {init = {v = nk.uniform(-70, -55)}}, {exc = "exp_cond", inh = "exp_cond"}},
  {"iz", "izhikevich", 200, {init = {v = nk.uniform(-70, -60)}},
   {exc = "exp_curr", gpot = "power_gpot"}},
  {"hh", "hh", 8, {}, {exc = "exp_curr"}},
  {"ml", "morris_lecar", 140, {init = {v = nk.uniform(-60, -20)}},
   {gpot = "power_gpot", sig = "sigmoid"}},
  {"noisy", "thr_noisy", 70, {init = {v = nk.uniform(-65, -55)}}, {d = "delta"}},
  {"r45", "lif", 30, {method = "rk45", params = {tau_m = 15, C_m = 150, t_ref = 2}},
   {exc = "exp_curr"}},
}

-- What the state monitors record.
local STATE_VARS = {
  ["state/exc"] = {"v", "exc.isyn", "fast.isyn", "fast.xsyn"},
  ["state/cond"] = {"v", "exc.g", "inh.g"},
  ["state/ad"] = {"v", "w", "exc.g"},
  ["state/ml"] = {"v", "n", "gpot.g", "sig.g"},
  ["state/iz"] = {"v", "u", "gpot.g", "exc.isyn"},
  ["state/hh"] = {"v", "m", "h", "n"},
}

-- Builds and runs the network; returns every record and state, packed, keyed
-- by a name, and the network.
local function run(prec, threads, opts)
  opts = opts or {}
  local net = nk.network{dt = 0.1, seed = opts.seed or 7, precision = prec, threads = threads}
  local P, order = {}, {}
  for _, d in ipairs(POPS) do
    local o = {name = d[1]}
    for k, v in pairs(d[4]) do o[k] = v end
    P[d[1]] = net:population(d[2], d[3], o)
    order[#order + 1] = d[1]
  end
  local e, i, c, a, z, h, m, q, r = P.exc, P.inh, P.cond, P.ad, P.iz, P.hh, P.ml, P.noisy, P.r45
  -- within and between populations; one delay (udelay) and random delays
  net:connect(e, e, {rule = "fixed_indegree", indegree = 20, weight = 20, delay = 1.5})
  net:connect(e, i, {rule = "bernoulli", p = 0.05, weight = 25, delay = nk.uniform(0.5, 3)})
  net:connect(i, e, {rule = "fixed_indegree", indegree = 10, weight = -60,
                     delay = nk.uniform(0.8, 2.4)})
  net:connect(i, i, {rule = "fixed_outdegree", outdegree = 15, weight = -40, delay = 0.7})
  -- slices as pre and post, across chunk boundaries
  net:connect(e:slice(100, 400), c:slice(50, 260), {rule = "bernoulli", p = 0.05, weight = 1.5,
                                                    delay = nk.uniform(1, 5)})
  net:connect(i, c, {rule = "fixed_indegree", indegree = 8, weight = -3, delay = 1.2})
  net:connect(c, c, {rule = "fixed_total", total = 3000, weight = 0.8, delay = 2})
  -- adex with conductance synapses
  net:connect(c, a, {rule = "fixed_indegree", indegree = 15, weight = 2, synapse = "exp_cond",
                     params = {tau_syn = 5, E_rev = 0}, delay = nk.uniform(1, 6)})
  net:connect(i:slice(1, 100), a, {rule = "fixed_indegree", indegree = 5, weight = -4,
                                   synapse = "exp_cond", params = {tau_syn = 10, E_rev = -80}})
  net:connect(z, z, {rule = "bernoulli", p = 0.05, weight = 3, delay = nk.uniform(0.5, 2)})
  net:connect(e:slice(1, 130), z:slice(61, 190), {rule = "one_to_one", weight = 5, delay = 3})
  net:connect(e, h, {rule = "fixed_indegree", indegree = 30, weight = 1.5, delay = 4.4})
  net:connect(h, e:slice(600, 650), {rule = "all_to_all", weight = 40, delay = 1})
  -- the graded circuit: every step, every connection carries weight x g(v_pre)
  net:connect(m, m, {rule = "bernoulli", p = 0.1, synapse = "power_gpot", receptor = "gpot",
                     weight = 0.5, params = {threshold = -50, slope = 0.02, saturation = 0.4,
                                             reverse = 0}})
  net:connect(m:slice(1, 70), m:slice(71, 140), {rule = "one_to_one", synapse = "sigmoid",
                                                 receptor = "sig", weight = -1,
                                                 params = {E_rev = -80}})
  net:connect(m:slice(10, 130), z, {rule = "fixed_indegree", indegree = 4, synapse = "power_gpot",
                                    receptor = "gpot", weight = 20})
  net:connect(q, q, {rule = "bernoulli", p = 0.1, weight = 30, synapse = "delta", receptor = "d",
                     delay = nk.uniform(1, 3)})
  net:connect(q, r, {rule = "all_to_all", weight = 20, delay = 2.5})
  net:connect(r, e:slice(300, 360), {rule = "all_to_all", weight = 30, delay = 1.1})
  -- sources: every kind
  local cb_log = {}
  net:source("poisson", e, {rate = 8000, weight = 20})
  net:source("poisson", i, {rate = 7000, weight = 22})
  net:source("poisson", c, {rate = 3000, weight = 0.6})
  net:source("poisson", z, {rate = 500, weight = 2, start = 20})
  net:source("bernoulli", i:slice(50, 170), {p = 0.05, weight = 30})
  -- a list of neurons, out of order and across chunk boundaries (each
  -- thread draws its chunk's part of a source)
  net:source("poisson", e:select{650, 2, 64, 65, 300, 1, 129, 63}, {rate = 30000, weight = 12})
  net:source("bernoulli", c:select{260, 1, 129, 128, 64}, {p = 0.3, weight = 0.9})
  net:source("noise", a, {mean = 450, std = 200, interval = 1.3, start = 2})
  net:source("noise", q, {mean = 60, std = 30})
  net:source("dc", h, {amplitude = 8, start = 10, stop = 120})
  net:source("dc", r, {amplitude = 200})
  net:source("ac", z:slice(1, 100), {amplitude = 5, frequency = 40, phase = 30, offset = 4})
  net:source("step", m, {times = {0, 30, 80}, amplitudes = {30, 80, 45}})
  net:source("ramp", c:slice(200, 300), {from = 0, to = 300, start = 10, stop = 140})
  net:source("spike_times", e:slice(1, 4), {times = {{10, 20.05, 20.1}, {}, {33.3, 99.9}, {1}},
                                            weight = 900, receptor = "fast",
                                            synapse = "alpha_curr", params = {tau_syn = 0.7}})
  net:source("equation", e:slice(200, 650), {I = "60*rand() + 20*randn() + 5*sin(i)"})
  net:source("equation", i, {I = "t < 50 ? 0 : 40*rand()"})
  net:source("array", i:slice(1, 3), {values = {{0, 100, 200}, {300, 0, 50}, {20, 30, 40}},
                                      interval = 33.3, after = "hold"})
  net:source("callback", a:slice(40, 42), {every = 7, fn = function(t)
    cb_log[#cb_log + 1] = t
    return {100 * math.sin(t / 20), 50, -30}
  end})
  net:source("global", {amplitude = 3, frequency = 6})
  -- monitors: spikes on every population; state, rate, field, output
  local mons, out_log = {}, {}
  for _, name in ipairs(order) do mons["spikes/" .. name] = net:monitor("spikes", P[name]) end
  local function state(name, target, every)
    mons[name] = net:monitor("state", target, {vars = STATE_VARS[name], every = every})
  end
  state("state/exc", e:select{1, 2, 63, 64, 65, 128, 129, 333, 640, 650}, 3)
  state("state/cond", c:slice(60, 200), 5)
  state("state/ad", a, 4)
  state("state/ml", m, 2)
  state("state/iz", z:select{1, 64, 65, 199}, 1)
  state("state/hh", h, 10)
  mons["rate/exc"] = net:monitor("rate", e, {bin = 1})
  mons["rate/iz"] = net:monitor("rate", z:slice(60, 140), {bin = 2})
  mons["field/cond"] = net:monitor("field", c, {var = "v", op = "mean", every = 2})
  mons["output/noisy"] = net:monitor("output", q:select{1, 65, 70}, {vars = "v", every = 25,
    fn = function(t, v) out_log[#out_log + 1] = string.pack("<d", t) .. pack_list(v) end})
  net:run(opts.ms or MS, {profile = true})
  if opts.after then opts.after(net) end
  -- everything recorded, packed
  local rec = {}
  for name, mon in pairs(mons) do
    rec[name .. "/times"] = pack_list(mon:times())
    local kind = name:match("^[^/]+")
    if kind == "spikes" then
      rec[name .. "/ids"] = pack_list(mon:ids())
    elseif kind == "state" then
      for _, v in ipairs(STATE_VARS[name]) do
        rec[name .. "/" .. v] = pack_rows(mon:values(v))
      end
    else
      rec[name .. "/values"] = pack_rows(mon:values())
    end
  end
  rec["output/noisy/calls"] = table.concat(out_log)
  rec["callback/calls"] = pack_list(cb_log)
  -- the final value of every state of every neuron, receptors' included
  for _, d in ipairs(POPS) do
    local pop = P[d[1]]
    local vars = {}
    for st in pairs(nk.model(d[2]).states) do vars[#vars + 1] = st end
    for rx, syn in pairs(d[5]) do
      for st in pairs(nk.model(syn).states) do vars[#vars + 1] = rx .. "." .. st end
    end
    table.sort(vars)
    for _, var in ipairs(vars) do
      local xs = {}
      for j = 1, #pop do xs[j] = pop:get(var, j) end
      rec["final/" .. d[1] .. "/" .. var] = pack_list(xs)
    end
  end
  return rec, net, mons
end

local REF_FLOAT -- the float run on one thread

-- ---- every thread count against one thread, float and double --------------------------------
for _, prec in ipairs{"float", "double"} do
  local want, net1 = run(prec, 1)
  if prec == "float" then REF_FLOAT = want end
  -- the network is busy: the comparison means something
  local function count(name) return (#want[name] - 4) // 8 end
  for _, d in ipairs(POPS) do
    if d[2] ~= "morris_lecar" then -- graded: no threshold
      T.ok(count("spikes/" .. d[1] .. "/times") > 10,
           string.format("%s: population '%s' spikes (%d)", prec, d[1],
                         count("spikes/" .. d[1] .. "/times")))
    end
  end
  -- the graded circuit conducts: both graded receptors of 'ml' and the one of 'iz'
  for _, x in ipairs{"final/ml/gpot.g", "final/ml/sig.g", "final/iz/gpot.g"} do
    local sum = 0
    for k = 5, #want[x], 8 do sum = sum + math.abs(string.unpack("<d", want[x], k)) end
    T.ok(sum > 0, string.format("%s: graded conductance %s is not 0 (sum %g)", prec, x, sum))
  end
  T.eq(net1.threads, 1, prec .. ": threads = 1: net.threads")
  for _, n in ipairs(COUNTS) do
    if n > 1 then
      local t0 = nk.clock()
      local got, net = run(prec, n)
      T.eq(net.threads, n, string.format("%s: threads = %d: net.threads", prec, n))
      T.eq(net:profile().run.threads, ran(n),
           string.format("%s: threads = %d: the run used %d threads", prec, n, ran(n)))
      T.eq(net:profile().run.spikes, net1:profile().run.spikes,
           string.format("%s: threads = %d: profile's spike count as with 1 thread", prec, n))
      T.eq(net:profile().run.events, net1:profile().run.events,
           string.format("%s: threads = %d: profile's event count as with 1 thread", prec, n))
      local bad, all = same_records(got, want, string.format("%s, %d threads vs 1", prec, n))
      print(string.format("%s, %d threads: %d of %d records bit-identical to 1 thread (%.2f s)",
                          prec, n, all - bad, all, nk.clock() - t0))
    end
  end
end

-- ---- changing the thread count between runs -------------------------------------------------
-- 50 ms with one thread, then 50 ms with three, is 100 ms with one (the
-- reference of the float comparison above); so is 30 ms with seven, 30 with
-- one, 40 with two. Input in flight in the ring buffers crosses the changes.
do
  local want = REF_FLOAT
  local n_after
  local got = run("float", 1, {ms = 50, after = function(net)
    net:set_threads(3)
    T.eq(net.threads, 3, "set_threads(3): net.threads")
    net:run(50, {profile = true})
    n_after = net:profile().run.threads
  end})
  T.eq(n_after, ran(3), "set_threads(3): the next run used 3 threads")
  local bad, all = same_records(got, want, "50 ms on 1 thread + 50 ms on 3 vs 100 ms on 1")
  print(string.format("1 -> 3 threads between runs: %d of %d records bit-identical",
                      all - bad, all))
  local used = {}
  got = run("float", 7, {ms = 30, after = function(net)
    used[1] = net:profile().run.threads
    net:set_threads(1)
    net:run(30, {profile = true})
    used[2] = net:profile().run.threads
    net:set_threads(2)
    net:run(40, {profile = true})
    used[3] = net:profile().run.threads
  end})
  T.same_list(used, {ran(7), ran(1), ran(2)}, "7 -> 1 -> 2 threads: what the runs used")
  bad, all = same_records(got, want, "30 ms on 7 threads + 30 on 1 + 40 on 2 vs 100 ms on 1")
  print(string.format("7 -> 1 -> 2 threads between runs: %d of %d records bit-identical",
                      all - bad, all))
end

-- ---- a checkpoint crosses thread counts -----------------------------------------------------
-- 30 ms on 4 threads, a checkpoint, restored and run 30 ms on 2 threads, is
-- 60 ms on 1: random delays up to 6 ms keep input in flight at the checkpoint.
nk.model{name = "thr_noisy2", doc = "test: noisy leaky integrator",
         params = {tau = {10, "ms"}, sigma = {4, "mV"}}, states = {v = -65},
         equations = "dv/dt = (-65 - v)/tau + I/100 + sigma*randn()/sqrt(dt) : mV",
         threshold = "v > -52", reset = "v = -65", method = "euler"}
do
  local function build(threads)
    local net = nk.network{dt = 0.1, seed = 9, threads = threads}
    local e = net:population("lif", 300, {name = "e", params = {I_e = 300},
                                          init = {v = nk.uniform(-70, -55)}})
    local m = net:population("morris_lecar", 140, {name = "m", init = {v = nk.uniform(-60, -20)}})
    local q = net:population("thr_noisy2", 70, {name = "q"})
    net:connect(e, e, {rule = "fixed_indegree", indegree = 20, weight = 30,
                       delay = nk.uniform(0.5, 6)})
    net:connect(m, m, {rule = "bernoulli", p = 0.1, synapse = "power_gpot", weight = 0.5})
    net:connect(q, e, {rule = "all_to_all", weight = 5, delay = 4})
    net:source("poisson", e, {rate = 3000, weight = 20})
    net:source("equation", q, {I = "300*rand()"})
    net:source("step", m, {times = {0, 20}, amplitudes = {30, 80}})
    net:monitor("spikes", e)
    return net
  end
  local function records(net)
    local rec = {}
    for _, p in ipairs(net:populations()) do
      local vars = ({e = {"v", "exc.isyn"}, m = {"v", "n", "exc.g"}, q = {"v"}})[p.name]
      for _, var in ipairs(vars) do
        local xs = {}
        for j = 1, #p do xs[j] = p:get(var, j) end
        rec[p.name .. "/" .. var] = pack_list(xs)
      end
    end
    local sp = net:monitors()[1]
    rec.times, rec.ids = pack_list(sp:times()), pack_list(sp:ids())
    return rec
  end
  local ref = build(1)
  ref:run(60)
  local want = records(ref)
  T.ok((#want.times - 4) // 8 > 100, "checkpoint network: it spikes")
  local file = os.tmpname()
  local first = build(4)
  first:run(30)
  first:checkpoint(file)
  local net = nk.restore(file)
  os.remove(file)
  net:set_threads(2)
  net:run(30, {profile = true})
  T.eq(net:profile().run.threads, ran(2), "restored network: runs on 2 threads")
  local bad, all = same_records(records(net), want,
                                "30 ms on 4 threads + checkpoint + 30 ms on 2 vs 60 ms on 1")
  print(string.format("checkpoint 4 -> 2 threads: %d of %d records bit-identical", all - bad, all))
end

-- ---- how many threads a network gets --------------------------------------------------------
do
  -- an explicit count is capped at one thread per 64 neurons (here 130: 3 blocks)
  local net = nk.network{threads = 7}
  local p = net:population("lif", 130, {params = {I_e = 400}})
  T.eq(net.threads, 7, "net.threads is the number asked for")
  net:run(1, {profile = true})
  T.eq(net:profile().run.threads, ran(3), "130 neurons, 7 threads asked for: 3 run")
  net:set_threads(2)
  net:run(1, {profile = true})
  T.eq(net:profile().run.threads, ran(2), "set_threads(2): 2 run")
  -- 0: one per CPU, but no more than one per 1024 neurons
  local n0 = nk.network{threads = 0}
  T.ok(math.type(n0.threads) == "integer" and n0.threads >= 1,
       "threads = 0: net.threads is the CPU count (" .. tostring(n0.threads) .. ")")
  n0:population("lif", 1500)
  n0:run(1, {profile = true})
  T.eq(n0:profile().run.threads, 1, "threads = 0 and 1500 neurons: 1 thread (one per 1024)")
  n0:population("lif", 1000)
  n0:run(1, {profile = true})
  T.eq(n0:profile().run.threads, ran(math.min(2, n0.threads)),
       "threads = 0 and 2500 neurons: at most 2 threads (one per 1024)")
  -- counted in evaluations of the equations a step, not in neurons: hh
  -- evaluates its equations 40 times a step (rk4, ten sub-steps)
  local h1 = nk.network{threads = 0}
  h1:population("hh", 20)
  h1:run(0.2, {profile = true})
  T.eq(h1:profile().run.threads, 1, "threads = 0 and 20 hh neurons (800 evaluations): 1 thread")
  local h2 = nk.network{threads = 0}
  h2:population("hh", 200)
  h2:run(0.2, {profile = true})
  T.eq(h2:profile().run.threads, ran(math.min(4, h2.threads)),
       "threads = 0 and 200 hh neurons (8,000 evaluations): up to 4 threads (one per 64 neurons)")
  local nd = nk.network{}
  T.eq(nd.threads, n0.threads, "the default is threads = 0")
  -- a thread count changed during a run is refused, and the run goes on
  local n2 = nk.network{threads = 2}
  local q = n2:population("lif", 200, {params = {I_e = 400}})
  local msg
  n2:source("callback", q, {fn = function(t)
    if t == 0 then msg = select(2, pcall(n2.set_threads, n2, 1)) end
    return 0
  end})
  n2:run(1)
  T.ok(msg and msg:find("net:set_threads: not while the network is running", 1, true),
       "set_threads during a run is refused: " .. tostring(msg))
  T.eq(n2.threads, 2, "after the refusal: still 2 threads")
end

-- ---- a divergence: the same message and state for every thread count ------------------------
-- Two populations blow up (dv/dt = v^2) at the same step, in their neurons
-- from the 101st on (i counts from 0). With 4 threads, b1's chunks are
-- neurons 1-64, 65-192, 193-320, 321-400 and b2's 1-256, ...: update task 0
-- finds only b2 diverging, tasks 1-3 find b1 at 101, 193 and 321. The
-- message names the first population and its lowest diverging neuron
-- whatever the split, and every neuron was updated in the step that failed
-- (docs/engine.md), so the states after it are the same bits too.
nk.model{name = "thr_blowup", equations = "dv/dt = v*v*(i >= 100 ? 1 : 0.5)",
         states = {v = 0.1}, method = "euler"}
local function diverge(n)
  local net = nk.network{dt = 0.1, seed = 3, threads = n}
  local ok = net:population("lif", 300, {name = "ok", params = {I_e = 1000},
                                         init = {v = nk.uniform(-70, -55)}})
  local b1 = net:population("thr_blowup", 400, {name = "b1"})
  local b2 = net:population("thr_blowup", 1000, {name = "b2"})
  net:connect(ok, ok, {rule = "fixed_indegree", indegree = 10, weight = 50, delay = 0.5})
  local sp = net:monitor("spikes", ok)
  local st, msg = pcall(net.run, net, 50)
  local rec = {msg = tostring(msg), t = string.pack("<d", net.t),
               times = pack_list(sp:times()), ids = pack_list(sp:ids())}
  for name, pop in pairs{ok = ok, b1 = b1, b2 = b2} do
    local xs = {}
    for j = 1, #pop do xs[j] = pop:get("v", j) end
    rec["v/" .. name] = pack_list(xs)
  end
  return st, rec, sp:count()
end
do
  local st1, want, nspikes = diverge(1)
  T.ok(not st1, "the model diverges")
  T.ok(want.msg:find("population 'b1': neuron 101 of 400: variable 'v' became NaN or infinite " ..
                     "at step ", 1, true),
       "divergence: the message names population, neuron, variable and step: " .. want.msg)
  T.ok(nspikes > 0, "spikes were recorded before the divergence")
  for _, n in ipairs{2, 4, 7} do
    local st, got = diverge(n)
    T.ok(not st, n .. " threads: the model diverges")
    T.eq(got.msg, want.msg, n .. " threads: the same message as 1 thread")
    same_records(got, want, n .. " threads: divergence")
  end
end

-- ---- going on after a divergence -----------------------------------------------------------
-- Only the last neuron of 'bad' blows up, so with two or more threads the
-- other update tasks succeed in the step that diverges, and their threads
-- have already delivered their own chunks' spikes to their own chunks
-- (docs/engine.md, Threads). A diverged step delivers nothing (as with one
-- thread, and on the GPU), so those deliveries are taken back. Setting the
-- neuron to 0 (where it stays) and running on must then give the bits of
-- one thread: spikes, and every state of 'ok' and 'bad'.
nk.model{name = "thr_blowup_last", equations = "dv/dt = v*v*(i == 1151 ? 1 : 0)",
         states = {v = 0.1}, method = "euler"}
local function diverge_on(n)
  local net = nk.network{dt = 0.1, seed = 9, threads = n, precision = "double"}
  local ok = net:population("lif", 2000, {name = "ok", params = {I_e = 600, t_ref = 2},
                                          init = {v = nk.uniform(-70, -50)}})
  local bad = net:population("thr_blowup_last", 1152, {name = "bad"})
  net:connect(ok, ok, {rule = "fixed_indegree", indegree = 30, weight = 30, delay = 0.1})
  net:connect(ok, ok, {rule = "fixed_indegree", indegree = 10, weight = nk.uniform(20, 40),
                       delay = 0.1})
  net:connect(ok:slice(1, 600), ok, {rule = "fixed_indegree", indegree = 20, weight = -45,
                                     delay = nk.uniform(0.1, 1)})
  local sp = net:monitor("spikes", ok)
  local st, msg = pcall(net.run, net, 40)
  local before = sp:count()
  bad:slice(1152, 1152):set{v = 0}
  local st2, msg2 = pcall(net.run, net, 20)
  local rec = {times = pack_list(sp:times()), ids = pack_list(sp:ids()),
               t = string.pack("<d", net.t)}
  for name, pop in pairs{ok = ok, bad = bad} do
    local xs = {}
    for j = 1, #pop do xs[j] = pop:get("v", j) end
    rec["v/" .. name] = pack_list(xs)
  end
  local xs = {}
  for j = 1, #ok do xs[j] = ok:get("exc.isyn", j) end
  rec["isyn/ok"] = pack_list(xs)
  return st, tostring(msg), st2, tostring(msg2), before, sp:count(), rec
end
do
  local st, msg, st2, msg2, before, after, want = diverge_on(1)
  T.ok(not st and msg:find("population 'bad': neuron 1152 of 1152", 1, true),
       "the last neuron diverges: " .. msg)
  T.ok(st2, "after setting it to 0 the run goes on: " .. msg2)
  T.ok(before > 0 and after > before, "spikes before and after: " .. before .. ", " .. after)
  for _, n in ipairs{2, 3} do
    local _, gmsg, gst2, _, gbefore, _, got = diverge_on(n)
    T.eq(gmsg, msg, n .. " threads: the same divergence")
    T.ok(gst2, n .. " threads: the run goes on")
    T.eq(gbefore, before, n .. " threads: the same spikes before the divergence")
    same_records(got, want, n .. " threads: going on after a divergence")
  end
end

-- ---- steps started early --------------------------------------------------------------------
-- With only drawn sources and no graded projection, the threads start a step
-- before the last one has ended: a worker goes from its delivery straight on
-- to its next update while the calling thread records (docs/engine.md,
-- Threads). Steps that sample a state or field monitor, write a checkpoint,
-- or look at the threads' balance start the old way. Delays of one step (the
-- ring slot just read is written again at once) and random delays; every
-- record, the final states and the checkpoint file's continuation must be
-- the same bits for every thread count, and profile().run.early says the
-- early start was taken.
local function early(n, with_monitor, ck)
  local net = nk.network{dt = 0.1, seed = 5, threads = n, precision = "double"}
  local e = net:population("lif", 700, {name = "e", params = {tau_m = 20, C_m = 200,
                                        v_rest = -49, v_reset = -60, v_thresh = -50, t_ref = 2},
                                        init = {v = nk.uniform(-60, -50)}})
  local i = net:population("lif", 300, {name = "i", params = {v_rest = -55, t_ref = 1},
                                        init = {v = nk.uniform(-70, -52)}})
  net:connect(e, e, {rule = "bernoulli", p = 0.02, weight = 20, delay = 0.1})
  net:connect(e, i, {rule = "fixed_indegree", indegree = 30, weight = 30,
                     delay = nk.uniform(0.1, 2)})
  net:connect(i, e, {rule = "bernoulli", p = 0.05, weight = -80, delay = 0.1})
  net:connect(i:slice(10, 200), i, {rule = "fixed_total", total = 2000, weight = -20,
                                    delay = nk.uniform(0.5, 1.5)})
  net:source("poisson", i, {rate = 3000, weight = 25})
  net:source("bernoulli", e:slice(300, 520), {p = 0.02, weight = 40})
  local rec = {}
  local se, si = net:monitor("spikes", e), net:monitor("spikes", i)
  local sm = with_monitor and net:monitor("state", e:select{1, 64, 65, 350, 700},
                                          {vars = {"v", "exc.isyn"}, every = 7}) or nil
  local ro = {profile = true}
  if ck then ro.checkpoint_every, ro.checkpoint = 3.3, ck end
  net:run(60, ro)
  local pr = net:profile().run
  rec.times, rec.ids = pack_list(se:times()), pack_list(se:ids())
  rec.itimes, rec.iids = pack_list(si:times()), pack_list(si:ids())
  if sm then rec.state = pack_rows(sm:values("v")) .. pack_rows(sm:values("exc.isyn")) end
  for name, pop in pairs{e = e, i = i} do
    for _, v in ipairs{"v", "exc.isyn", "inh.isyn"} do
      local xs = {}
      for j = 1, #pop do xs[j] = pop:get(v, j) end
      rec[name .. "/" .. v] = pack_list(xs)
    end
  end
  local nsp = se:count() + si:count()
  net:close()
  return rec, pr, nsp
end
do
  local want, p1, nsp = early(1, true)
  T.ok(nsp > 500, "early-start network: it spikes (" .. nsp .. ")")
  T.eq(p1.early, 0, "one thread: no step starts early")
  for _, n in ipairs{2, 3} do
    local got, pr = early(n, false)
    local w2 = {}
    for k, v in pairs(want) do if k ~= "state" then w2[k] = v end end
    same_records(got, w2, n .. " threads, steps started early")
    -- (NKSHELL_RECUT, the threads-recut test, looks at the balance every
    -- few steps, and those steps start the old way)
    -- (a CUDA run starts no step early: the device queues them)
    local most = os.getenv("NKSHELL_RECUT") and 0 or 0.9 * pr.steps
    T.ok(pr.early > most or not T.cpu and pr.early == 0,
         string.format("%d threads: %d of %d steps started early", n, pr.early, pr.steps))
    print(string.format("%d threads: %d of %d steps started early", n, pr.early, pr.steps))
    local gm, pm = early(n, true)
    same_records(gm, want, n .. " threads, early starts and a state monitor every 7 steps")
    -- 600 steps: a sample every 7th, the balance every 256th and the
    -- engine's report every 64th start the old way
    T.ok(pm.early > 0 and pm.early < pm.steps - 85 or not T.cpu and pm.early == 0,
         string.format("%d threads with a state monitor: %d of %d steps started early", n,
                       pm.early, pm.steps))
  end
  -- checkpoints every 33 steps: each one sees a whole step, and the last
  -- one continues to the same bits
  local ck1, ck2 = os.tmpname(), os.tmpname()
  local a1 = early(1, false, ck1)
  local a2, pa = early(2, false, ck2)
  T.ok(pa.early > 0 or not T.cpu and pa.early == 0,
       "2 threads with checkpoints: steps still start early (" .. pa.early .. ")")
  local w2 = {}
  for k, v in pairs(a1) do if k ~= "state" then w2[k] = v end end
  same_records(a2, w2, "2 threads with checkpoints every 33 steps")
  -- the last checkpoint (59.4 ms) of each, continued on the other count
  -- to 60 ms, ends where the straight runs did
  for k, ck in ipairs{ck1, ck2} do
    local c = nk.restore(ck)
    c:set_threads(3 - k)
    T.ok(math.abs(c.t - 59.4) < 1e-9, "checkpoint " .. k .. ": the last one is at 59.4 ms (" ..
         c.t .. ")")
    c:run(0.6)
    local got = {}
    for _, pop in ipairs(c:populations()) do
      for _, v in ipairs{"v", "exc.isyn", "inh.isyn"} do
        local xs = {}
        for j = 1, #pop do xs[j] = pop:get(v, j) end
        got[pop.name .. "/" .. v] = pack_list(xs)
      end
    end
    local ws = {}
    for key, v in pairs(a1) do if key:find("/", 1, true) then ws[key] = v end end
    same_records(got, ws, "checkpoint of " .. k .. " thread(s), continued on " .. (3 - k))
    c:close()
  end
  os.remove(ck1)
  os.remove(ck2)
end

-- ---- refused values -------------------------------------------------------------------------
T.raises("option 'threads' for nk.network: expected 0 (one per CPU) to 256, got -1",
         nk.network, {threads = -1})
T.raises("option 'threads' for nk.network: expected 0 (one per CPU) to 256, got 257",
         nk.network, {threads = 257})
T.raises("option 'threads' for nk.network must be an integer, got 1.5", nk.network,
         {threads = 1.5})
T.raises("option 'threads' for nk.network must be an integer, got string", nk.network,
         {threads = "x"})
T.raises("option 'threads' for nk.network must be an integer, got boolean", nk.network,
         {threads = true})
T.raises("unknown option 'thread' for nk.network (did you mean 'threads'?)", nk.network,
         {thread = 2})
do
  local net = nk.network{threads = 2}
  net:population("lif", 10)
  T.raises("net:set_threads: expected 0 (one per CPU) to 256, got -2", net.set_threads, net, -2)
  T.raises("net:set_threads: expected 0 (one per CPU) to 256, got 1000", net.set_threads, net,
           1000)
  T.raises("net:set_threads: the thread count must be an integer, got 2.5", net.set_threads, net,
           2.5)
  T.raises("net:set_threads: the thread count must be an integer, got string", net.set_threads,
           net, "x")
  T.raises("net:set_threads: the thread count must be an integer, got no value", net.set_threads,
           net)
  T.eq(net.threads, 2, "after the refusals: still 2 threads")
  T.raises("net.threads is read-only: use net:set_threads(n)", function() net.threads = 4 end)
  T.eq(net.threads, 2, "net.threads cannot be assigned")
  net:set_threads(256)
  T.eq(net.threads, 256, "set_threads(256) is allowed")
  net:run(1, {profile = true})
  T.eq(net:profile().run.threads, 1, "10 neurons: one thread whatever was asked for")
  T.ok(not T.cpu or
       tostring(net):find("backend cpu (1 thread of " .. net.threads .. ": 10 neurons)", 1, true),
       "print(net) says how many threads the runs use: " .. tostring(net):match("backend [^\n]*"))
end

T.done("threads")
