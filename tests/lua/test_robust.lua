-- Nothing the user types may crash nkshell: every entry point, called with
-- every kind of wrong argument, raises a Lua error or returns; the session
-- goes on. (Run under AddressSanitizer in CI, this also checks memory.)
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")

local net = nk.network{}
local pop = net:population("lif", 10, {name = "p"})
local mon = net:monitor("spikes", pop)
local proj = net:connect(pop, pop, {weight = 1})
local other = nk.network{}
local opop = other:population("lif", 3)

local values = {nil, true, false, 0, -1, 1.5, 1e300, -1e300, 0/0, math.huge, -math.huge,
                math.maxinteger, math.mininteger, "", "lif", "p", "spikes", "poisson", "dc",
                string.rep("x", 5000), "a\0b", {}, {1, 2, 3}, {rule = "bernoulli"},
                {params = {tau_m = "x"}}, {init = {v = {}}}, {name = {}}, print,
                coroutine.create(function() end), io.stdout, net, pop, mon, proj, opop,
                nk.uniform(0, 1), setmetatable({}, {__index = function() error("boom") end})}
local nvalues = 38

local calls = {
  {"nk.network", nk.network},
  {"nk.model", nk.model},
  {"nk.describe", nk.describe},
  {"nk.uniform", nk.uniform},
  {"net:population", function(a, b, c) return net:population(a, b, c) end},
  {"net:connect", function(a, b, c) return net:connect(a, b, c) end},
  {"net:source", function(a, b, c) return net:source(a, b, c) end},
  {"net:monitor", function(a, b, c) return net:monitor(a, b, c) end},
  {"net:run", function(a, b) return net:run(a, b) end},
  {"net:code", function(a) return net:code(a) end},
  {"net.population", function(a, b, c) return net.population(a, b, c) end},
  {"pop:slice", function(a, b) return pop:slice(a, b) end},
  {"pop:get", function(a, b) return pop:get(a, b) end},
  {"pop:param", function(a) return pop:param(a) end},
  {"pop.slice", function(a, b) return pop.slice(a, b) end},
  {"mon.count", function(a) return mon.count(a) end},
  {"mon.times", function(a) return mon.times(a) end},
  {"tostring", tostring},
}

local n, errors = 0, 0
for _, c in ipairs(calls) do
  for i = 1, nvalues do
    for j = 1, nvalues, 5 do
      local ok = pcall(c[2], values[i], values[j], values[(i + j) % nvalues + 1])
      n = n + 1
      if not ok then errors = errors + 1 end
    end
  end
end
T.ok(n > 5000, "made " .. n .. " calls")
T.ok(errors > n / 2, "most of them were refused with an error (" .. errors .. ")")

-- option tables with every kind of value
local keys = {"dt", "seed", "backend", "output", "precision", "name", "params", "init", "method",
              "rule", "p", "indegree", "weight", "delay", "synapse", "receptor", "rate",
              "amplitude", "start", "stop", "allow_autapses", "allow_multapses", "progress"}
for _, k in ipairs(keys) do
  for i = 1, nvalues do
    local o = {[k] = values[i]}
    pcall(nk.network, o)
    pcall(net.population, net, "lif", 2, o)
    pcall(net.connect, net, pop, pop, o)
    pcall(net.source, net, "poisson", pop, o)
    pcall(net.source, net, "dc", pop, o)
  end
end

-- the network still answers: the fuzzing gave it sources like a dc current
-- of 1e300 pA, so running it either works or stops with the divergence message
local ok, err = pcall(net.run, net, 10)
T.ok(ok or tostring(err):find("became NaN or infinite", 1, true), "run: " .. tostring(err))
T.ok(type(mon:count()) == "number", "monitor still answers")
local fresh = nk.network{}
local fp = fresh:population("lif", 5, {params = {I_e = 400}})
local fm = fresh:monitor("spikes", fp)
fresh:run(50)
T.ok(fm:count() > 0, "a new network runs normally afterwards")
-- objects of a closed network refuse politely
other:close()
T.raises("closed", function() return #opop end)
T.raises("closed", function() return other:run(1) end)
-- ... but printing one still works (tostring(pop) raised, tostring(net) did not)
do
  local cn = nk.network{}
  local cp = cn:population("lif", 4)
  local objs = {population = cp, projection = cn:connect(cp, cp, {weight = 1}),
                monitor = cn:monitor("spikes", cp), source = cn:source("dc", cp, {amplitude = 1}),
                selection = cp:select{1, 3}}
  cn:close()
  for what, o in pairs(objs) do
    T.eq(tostring(o), what .. " (its network has been closed)", "tostring of a closed " .. what)
  end
  -- a closed network's selection: sel:parts refuses as sel:neurons does (it
  -- returned a table of selections), and another network names the closing
  local sel = objs.selection
  T.raises("this network has been closed", sel.parts, sel)
  T.raises("this network has been closed", sel.neurons, sel)
  local on = nk.network{}
  on:population("lif", 4)
  T.raises("(the selection belongs to another network, which has been closed)", on.monitor, on,
           "spikes", sel)
  on:close()
end

-- messages from a fuzzing pass (round 4)
do
  local mn = nk.network{}
  local mp = mn:population("lif", 10, {name = "exc"})
  T.raises("select: neuron 4 is not in the slice 'exc'[2..4] (1..3: indices count from the "
           .. "slice's first neuron)", function() mp:slice(2, 4):select{4} end)
  T.raises("select: neuron 11 is not in 'exc' (1..10)", function() mp:select{11} end)
  T.raises('help: no topic, function or model called "a\\0b": a name holds no zero byte',
           help, "a\0b")
  local vm = mn:monitor("state", mp, {vars = {"v"}})
  T.raises("monitor:count(): a state monitor records no spikes (#m is its number of samples",
           vm.count, vm)
  T.raises("monitor:rate(): a state monitor records no spikes", vm.rate, vm)
  local rm = mn:monitor("rate", mp, {bin = 1})
  mn:run(2)
  T.eq(rm:rate(), 0, "a rate monitor's rate() is its mean rate")
  T.eq(#vm, 20, "#vm counts the samples")
  -- a trailing nil (an unpacked argument list) does not make the options a target
  local g = mn:source("global", {amplitude = 1}, nil)
  T.ok(tostring(g):find("global", 1, true), "global source with a trailing nil: " .. tostring(g))
  T.raises("region: a sphere needs a finite radius > 0 (um), got inf",
           mn.region, mn, {"sphere", center = {0, 0, 0}, radius = math.huge})
  T.raises("grid: center and spacing must be finite (um)", mn.population, mn, "lif", 4,
           {positions = {kind = "grid", spacing = {1, math.huge, 1}}})
end

-- a callback may not change the structure of the network that calls it, nor
-- run or close it; the run stops with the reason and the network goes on
do
  local rnet = nk.network{}
  local rp = rnet:population("lif", 5, {params = {I_e = 400}})
  local rm = rnet:monitor("spikes", rp)
  local tries = {
    {"net:run: not while the network is running", function() rnet:run(1) end},
    {"net:monitor: not while the network is running", function() rnet:monitor("spikes", rp) end},
    {"net:population: not while the network is running", function() rnet:population("lif", 2) end},
    {"net:connect: not while the network is running",
     function() rnet:connect(rp, rp, {rule = "one_to_one", weight = 1}) end},
    {"net:source: not while the network is running",
     function() rnet:source("dc", rp, {amplitude = 1}) end},
    {"net:close: not while the network is running", function() rnet:close() end},
    {"net:close: not while the network is running", function() local x <close> = rnet end},
  }
  for _, c in ipairs(tries) do
    local src = rnet:source("callback", rp, {fn = function() c[2](); return 0 end})
    local t0 = rnet.t
    T.raises(c[1], rnet.run, rnet, 5)
    T.eq(rnet.t, t0, "the run stopped at its first step (" .. c[1] .. ")")
    src:remove()
  end
  rnet:run(50)
  T.ok(rm:count() > 0, "the network runs normally afterwards")
end
-- a callback's result with metamethods that raise is read raw: the run stops
-- with the reason (the raw length is 0, not 3) and the network is not left
-- running for good
do
  local cnet = nk.network{}
  local cp = cnet:population("lif", 3)
  local bad = setmetatable({}, {__len = function() error("boom") end,
                                __index = function() error("boom") end})
  local src = cnet:source("callback", cp, {fn = function() return bad end})
  T.raises("returned 0 values, expected 3", cnet.run, cnet, 1)
  T.raises("returned 0 values, expected 3", cnet.run, cnet, 1)
  src:remove()
  cnet:run(1)
  T.ok(cnet.t > 0, "the network runs after a callback returned a table with raising metamethods")
  T.ok(pcall(cnet.close, cnet), "and closes")
end

-- paths that are not regular files, or that name the results file, are
-- refused with the reason: a FIFO would block the reader for good, and a
-- results file renamed over a device or a checkpoint destroys it
do
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p '" .. dir .. "'"))
  local fifo = dir .. "/pipe.h5"
  local have_fifo = os.execute("mkfifo '" .. fifo .. "' 2>/dev/null")
  if have_fifo then
    T.raises("not a regular file", nk.network, {output = fifo})
    T.raises("FIFO", nk.restore, fifo)
    T.raises("FIFO", nk.read_edges, fifo)
    local fnet = nk.network{}
    local fp = fnet:population("lif", 2)
    T.raises("FIFO", fnet.source, fnet, "array", fp, {file = fifo})
    T.raises("not a regular file", fnet.load_gexf, fnet, fifo)
    T.raises("FIFO", fnet.checkpoint, fnet, fifo)
    fnet:close()
    local f = io.open(fifo, "w+") -- a FIFO opened for reading and writing does not block
    T.ok(f ~= nil, "the FIFO is still a FIFO (nothing replaced it)")
    if f then f:close() end
  end
  local out, ck = dir .. "/res.h5", dir .. "/ck.h5"
  local onet = nk.network{output = out}
  local op = onet:population("lif", 3, {params = {I_e = 500}})
  onet:monitor("spikes", op)
  onet:run(5)
  T.raises("would overwrite the network's results file", onet.checkpoint, onet, out)
  T.raises("would overwrite the network's results file", onet.checkpoint, onet,
           dir .. "/../" .. dir:match("[^/]+$") .. "/res.h5.part")
  local src = onet:source("callback", op, {fn = function()
    onet:checkpoint(out .. ".part")
    return 0
  end})
  T.raises("would overwrite the network's results file", onet.run, onet, 1)
  src:remove()
  T.ok(pcall(onet.checkpoint, onet, ck), "a checkpoint of another name is written")
  -- nor over another open network's results file (it replaced the file)
  local other = nk.network{}
  other:population("lif", 3)
  T.raises("would overwrite another open network's results file '" .. out .. "'",
           other.checkpoint, other, out)
  T.raises("would overwrite another open network's results file", other.checkpoint, other,
           out .. ".part")
  T.raises("would overwrite another open network's results file", other.run, other, 10,
           {checkpoint_every = 5, checkpoint = out})
  other:close()
  onet:run(1)
  onet:close()
  T.eq(nk.read(out).attrs.format, nil, "the results file is still the results (no checkpoint)")
  T.raises("is the checkpoint itself", nk.restore, ck, {output = ck})
  T.ok(pcall(nk.read, ck), "the checkpoint is still there")
  os.execute("rm -rf '" .. dir .. "'")
end

-- numbers too big to count in steps or neurons are refused, not wrapped
do
  local bnet = nk.network{}
  local bp = bnet:population("lif", 3)
  T.raises("at most 2^62 steps", bnet.run, bnet, 1e18)
  T.eq(bnet.t, 0, "a refused run takes no step")
  T.raises("at most 2147483647", bnet.monitor, bnet, "rate", bp, {bin = 1e18})
  T.raises("more neurons than can be counted", bnet.population, bnet, "lif", 8,
           {positions = {kind = "grid", shape = {(1 << 61) + 1, 8, 1}}})
  local ck = os.tmpname()
  os.remove(ck)
  bnet:run(2, {checkpoint_every = 1e300, checkpoint = ck})
  T.eq(io.open(ck) and "written" or "none", "none", "checkpoint_every = 1e300 ms: none in a 2 ms run")
  os.remove(ck)
  bnet:close()
  -- source times and intervals of 2^62 steps or more are "never" (they
  -- overflowed: a step at 1e18 ms acted from t = 0, an array of interval
  -- 1e18 played a row per step)
  local function spikes(kind, o)
    local n = nk.network{}
    local p = n:population("lif", 1)
    n:source(kind, p, o)
    local m = n:monitor("spikes", p)
    n:run(20)
    local c = m:count()
    n:close()
    return c
  end
  for _, t in ipairs{1e17, 1e18, 1e300} do
    T.eq(spikes("step", {times = {t}, amplitudes = {1000}}), 0,
         "a step at " .. t .. " ms does not act within 20 ms")
    T.ok(spikes("array", {values = {1000, 0}, interval = t}) > 0,
         "an array of interval " .. t .. " ms holds its first row")
  end
end

-- one step's synaptic input is summed in Q32.32 fixed point (below 2^31 in
-- magnitude): weights that could sum past it are refused before the run
-- (they wrapped, and the input came out with the wrong sign), and so is a
-- Poisson drive whose count x weight would
do
  for _, c in ipairs{{2100, true}, {2200, false}} do
    local wnet = nk.network{}
    local pre = wnet:population("lif", c[1])
    local post = wnet:population("lif", 1, {name = "target"})
    wnet:connect(pre, post, {weight = 1e6, synapse = "delta"})
    if c[2] then
      T.ok(pcall(wnet.run, wnet, 0.1), c[1] .. " synapses of weight 1e6 onto one neuron: runs")
    else
      T.raises("population 'target', neuron 1: the weights of the synapses onto receptor",
               wnet.run, wnet, 0.1)
    end
    wnet:close()
  end
  local pnet = nk.network{}
  local pp = pnet:population("lif", 2)
  T.raises("would leave the range of one step's input", pnet.source, pnet, "poisson", pp,
           {rate = 3e7, weight = 1e6})
  local ps = pnet:source("poisson", pp, {rate = 1000, weight = 1e6})
  T.raises("would leave the range of one step's input", ps.set, ps, {rate = 3e7})
  T.ok(tostring(ps):find("1000 Hz", 1, true), "the refused rate is not kept: " .. tostring(ps))
  -- a step's count is drawn as a 32-bit integer: past 2^31 spikes a step
  -- (rate 2.2e13 Hz at dt 0.1 ms) it wrapped around, whatever the weight
  T.raises("would pass 2^31 input spikes in one step", pnet.source, pnet, "poisson", pp,
           {rate = 2.2e13, weight = 1e-9})
  ps:set{weight = 1e-9}
  T.raises("would pass 2^31 input spikes in one step", ps.set, ps, {rate = 1e15})
  pnet:close()
  local qnet = nk.network{}
  local qp = qnet:population("lif", 1, {params = {v_thresh = 1e30}})
  qnet:source("poisson", qp, {rate = 1e13, weight = 1e-6})
  qnet:run(20)
  -- 1e9 spikes of 1e-6 pA a step (dt 0.1 ms), decaying by e^-0.05 a step
  -- (tau_syn 2 ms): at the steady state, after a step's decay,
  -- 1000 e^-0.05 / (1 - e^-0.05) pA; the count's spread is 3e-5 of it
  local isyn, want = qp:get("exc.isyn", 1), 1000 * math.exp(-0.05) / (1 - math.exp(-0.05))
  T.ok(math.abs(isyn / want - 1) < 1e-3, "1e13 Hz of weight 1e-6 pA: isyn = " .. isyn ..
       ", expected " .. want)
  qnet:close()
end

-- models that would silently do something else are refused: a second ODE
-- for a state, an expression named like a state or parameter, built-in names
-- (t, dt, i) taken as states or parameters (e and pi may be: test_errors)
T.raises("both define d/dt of 'v'", nk.model, {name = "dup_ode", states = {v = 0},
         equations = {"dv/dt = 1 : mV", "dv/dt = -1000 : mV"}})
T.raises("which is already a parameter", nk.model, {name = "shadow_p", params = {tau = 1},
         states = {v = 0}, equations = {"tau = 1000", "dv/dt = -v/tau : mV"}})
T.raises("which is already a state", nk.model, {name = "shadow_s", states = {v = 0, u = 0},
         equations = {"u = 2*v", "dv/dt = -v : mV"}})
for _, b in ipairs{"t", "dt", "i"} do
  T.raises("'" .. b .. "' is a built-in name", nk.model, {name = "builtin_" .. b,
           params = {[b] = 1}, states = {v = 0}, equations = "dv/dt = -v : mV"})
end
-- a float32 state cannot hold 1e300: refused, not stored as infinity
do
  local fnet = nk.network{}
  local fp = fnet:population("lif", 2)
  T.raises("states are float32", fp.set, fp, {v = 1e300})
  T.raises("states are float32", fnet.population, fnet, "lif", 2, {init = {v = nk.uniform(0, 1e300)}})
  local dnet = nk.network{precision = "double"}
  local dp = dnet:population("lif", 2)
  T.ok(pcall(dp.set, dp, {v = 1e300}), "a float64 state holds 1e300")
  fnet:close()
  dnet:close()
end

-- a value given for a population, a receptor or a model that would make every
-- run fail is refused where it is given, naming the population, the value and
-- what is accepted; the network is left as it was and runs (found by
-- fuzzing: a t_ref of 1e9 ms or a v_rest of 1e39 in float32 was accepted,
-- then every net:run failed, and a population cannot be removed)
do
  local function network()
    local n = nk.network{dt = 0.1}
    local good = n:population("lif", 2, {name = "good", params = {I_e = 1000}})
    return n, good, n:monitor("spikes", good)
  end
  local function still_runs(n, sp, what)
    local before = sp:count()
    local ok, e = pcall(n.run, n, 20)
    T.ok(ok, what .. ": the network runs afterwards (" .. tostring(e) .. ")")
    T.ok(sp:count() > before, what .. ": and its neurons fire")
    T.eq(#n:populations(), 1, what .. ": no population was added")
  end
  local cases = {
    {"t_ref = 1e9 ms", "lif", {params = {t_ref = 1e9}},
     "population 'x': the refractory period t_ref = 1e+09 ms is out of range (expected 0 to " ..
     "1e+08 ms: at most 1e9 steps of dt = 0.1 ms)"},
    {"v_rest = 1e39", "lif", {params = {v_rest = 1e39}},
     "population 'x': parameter 'v_rest' = 1e+39 is the initial value of state 'v', which must " ..
     "be finite (within +-3.4e38: states are float32)"},
    {"v_reset = -1e39", "lif", {params = {v_reset = -1e39}},
     "population 'x': the reset 'v = v_reset' stores -1e+39 in state 'v', which must be finite " ..
     "(within +-3.4e38: states are float32)"},
    {"a negative period", nk.model{name = "rob_negref", params = {t_ref = 2, t_off = 0},
                                   states = {v = 0}, equations = "dv/dt = 1 : mV",
                                   threshold = "v > 1", reset = "v = 0",
                                   refractory = "t_ref - t_off"},
     {params = {t_off = 3}},
     "population 'x': the refractory period t_ref - t_off = -1 ms is out of range"},
    {"a NaN period", nk.model{name = "rob_nanref", params = {a = -1}, states = {v = 0},
                              equations = "dv/dt = 1 : mV", threshold = "v > 1",
                              reset = "v = 0", refractory = "sqrt(a)"}, {},
     "population 'x': the refractory period sqrt(a) = nan ms is out of range"},
    {"max_dt 1e-9 ms", nk.model{name = "rob_tinydt", states = {v = 0},
                                equations = "dv/dt = -v : mV", max_dt = 1e-9}, {},
     "population 'x': max_dt 1e-09 ms of model 'rob_tinydt' needs 1e+08 sub-steps per step " ..
     "of dt = 0.1 ms (at most 1e6: expected max_dt >= 1e-07 ms)"},
    {"a state starting at 1e39", nk.model{name = "rob_bigv", states = {v = 1e39, u = 0},
                                          equations = "dv/dt = -v : mV"}, {init = {u = 1}},
     "population 'x': state 'v' of neuron 1 starts at 1e+39 (the initial value in model " ..
     "'rob_bigv'), which must be finite (within +-3.4e38: states are float32)"},
  }
  for _, c in ipairs(cases) do
    local n, _, sp = network()
    local o = c[3]
    o.name = "x"
    T.raises("net:population: " .. c[4], n.population, n, c[2], 1, o)
    still_runs(n, sp, c[1])
    n:close()
  end
  -- what a reset leaves in the state is what counts
  local r = nk.network{}
  T.ok(pcall(r.population, r, nk.model{name = "rob_twice", params = {big = 1e39},
                                       states = {v = 0}, equations = "dv/dt = 1 : mV",
                                       threshold = "v > 1", reset = {"v = big", "v = 0"}}, 1),
       "a reset that stores 1e39, then 0, is accepted")
  r:close()
  -- what is refused in float32 is kept in float64, and the boundaries hold
  local d = nk.network{precision = "double"}
  T.ok(pcall(d.population, d, "lif", 1, {params = {v_rest = 1e39, v_reset = -1e39}}),
       "float64 states hold 1e39")
  T.ok(pcall(d.population, d, "rob_bigv", 1), "a float64 state starts at 1e39")
  d:close()
  local n, _, sp = network()
  local bigv = n:population("rob_bigv", 2, {init = {v = 0}})
  T.eq(bigv:get("v", 2), 0, "an init replaces the initial value float32 cannot hold")
  -- a period of several parameters is judged once all are given, in any order
  local two = n:population("rob_negref", 1, {params = {t_ref = 5, t_off = 4}})
  T.eq(two:param("t_off"), 4, "t_ref - t_off = 1 ms is accepted")
  -- 1e9 steps is the longest period: a neuron refractory for the rest of the run
  local once = n:population("lif", 1, {params = {I_e = 1000, t_ref = 1e8}})
  local om = n:monitor("spikes", once)
  n:run(100)
  T.eq(om:count(), 1, "t_ref = 1e8 ms at dt = 0.1 ms: one spike, then refractory")
  T.ok(sp:count() > 1, "the other neurons go on firing")
  n:close()
  -- a receptor whose state would start beyond float32: refused before it is
  -- made, by net:connect and net:source
  nk.model{name = "rob_gbig", kind = "synapse", params = {g0 = 0}, states = {g = "g0"},
           equations = "dg/dt = -g/5 : nS", on_pre = "g += w", current = "g"}
  local rn, good, rsp = network()
  local why = "receptor 'exc' of population 'good': state 'g' of synapse 'rob_gbig' starts at " ..
              "1e+39 (parameter 'g0'), which must be finite (within +-3.4e38: states are float32)"
  T.raises("net:connect: " .. why, rn.connect, rn, good, good,
           {synapse = "rob_gbig", params = {g0 = 1e39}, weight = 1})
  T.raises("net:source: " .. why, rn.source, rn, "poisson", good,
           {synapse = "rob_gbig", params = {g0 = 1e39}, rate = 10, weight = 1})
  T.raises("has no receptor 'exc'", good.get, good, "exc.g", 1)
  T.eq(#rn:projections(), 0, "no projection was added")
  still_runs(rn, rsp, "g0 = 1e39")
  rn:close()
end

-- intermediates are substituted where used: an expression that would grow
-- past a million terms is refused (it took minutes and gigabytes), and so is
-- a chain deeper than 64, with what it is
do
  local eq = {"a1 = v"}
  for k = 2, 22 do eq[#eq + 1] = ("a%d = a%d + a%d"):format(k, k - 1, k - 1) end
  eq[#eq + 1] = "dv/dt = -a22*1e-9 : mV"
  local bnet = nk.network{}
  bnet:population(nk.model{name = "blowup", states = {v = 1}, equations = eq}, 1)
  T.raises("grows past 1000000 terms", bnet.run, bnet, 0.1)
  bnet:close()
  eq = {}
  for k = 1, 70 do eq[k] = ("a%d = %s + 1"):format(k, k == 1 and "v" or "a" .. (k - 1)) end
  eq[#eq + 1] = "dv/dt = -a70*0 : mV"
  local cnet = nk.network{}
  cnet:population(nk.model{name = "deep", states = {v = 1}, equations = eq}, 1)
  T.raises("or nest more than 64 deep", cnet.run, cnet, 0.1)
  cnet:close()
end

-- an intermediate squared 17 times (131,072 factors of v, within the
-- million terms) is fine for euler, but its derivative (exponential_euler,
-- exact) copies the factors at every level: it is refused, with the way
-- out, where it took 50 s and 2 GB
do
  local eq = {"a0 = v"}
  for k = 1, 17 do eq[#eq + 1] = ("a%d = a%d * a%d"):format(k, k - 1, k - 1) end
  eq[#eq + 1] = "dv/dt = -a17/10 : mV"
  local m = nk.model{name = "rob_square", states = "v = 0 mV", equations = eq}
  for _, method in ipairs{"exponential_euler", "exact"} do
    local dnet = nk.network{}
    local msg = "population 'pop1', method " .. method .. ": 'dv/dt': its derivative with "
                .. "respect to 'v' grows past 1000000 terms (the expression, once its "
                .. "intermediates are substituted, is too large to differentiate); use a method "
                .. "that does not differentiate (euler, midpoint, heun, rk4 or rk45)"
    if method == "exact" then -- (exact's form is checked when the population is made)
      T.raises(msg, dnet.population, dnet, m, 1, {method = method})
    else
      local p = dnet:population(m, 1, {method = method})
      T.raises(msg, dnet.code, dnet, p)
    end
    dnet:close()
  end
  -- the same used by 8 equations: each one within the million terms, but
  -- about 1 MB of C each (20 of them kept gcc -O3 busy for 80 s): refused
  -- by the size of the generated code
  local st = {"v = 0 mV"}
  for k = 1, 8 do
    eq[#eq + 1] = ("dx%d/dt = -x%d/10 + a17 : mV"):format(k, k)
    st[#st + 1] = ("x%d = 0 mV"):format(k)
  end
  local wide = nk.model{name = "rob_wide", states = table.concat(st, "; "), equations = eq,
                        method = "euler"}
  local wnet = nk.network{}
  local wp = wnet:population(wide, 1)
  T.raises("population 'pop1': the generated code grows past 4 MB", wnet.code, wnet, wp)
  wnet:close()
end

-- a selection is not a target of connect: the message says what to use
do
  local snet = nk.network{}
  local sp = snet:population("lif", 5)
  T.raises("a selection (pop:select, net:region) cannot be used here", snet.connect, snet,
           sp:select{1, 2}, sp, {weight = 1})
  snet:close()
end

-- a NaN option is named as such (callers took it for a missing option), a
-- zero byte in a string option is refused (C would cut the string there),
-- and a checkpoint file without an interval is refused (it was ignored)
do
  local onet = nk.network{}
  local op = onet:population("lif", 2)
  T.raises("option 'amplitude' for net:source('dc') is NaN", onet.source, onet, "dc", op,
           {amplitude = 0 / 0})
  T.raises("option 'name' for net:population holds a zero byte", onet.population, onet, "lif", 2,
           {name = "a\0b"})
  local ck = os.tmpname()
  T.raises("option 'checkpoint' needs 'checkpoint_every'", onet.run, onet, 1, {checkpoint = ck})
  os.remove(ck)
  onet:close()
end

-- a zero byte in a string argument (a path, a variable's name) is refused:
-- C read such a string only up to it, a path "d\0x" naming the file d
do
  local znet = nk.network{}
  local zp = znet:population("lif", 2)
  local dir = os.tmpname()
  os.remove(dir)
  T.raises("the string holds a zero byte (\\0) at position " .. (#dir + 1) .. ")",
           znet.save_model, znet, dir .. "\0x")
  T.ok(io.open(dir) == nil, "save_model wrote nothing at the path cut at the zero byte")
  T.raises("holds a zero byte (\\0) at position 2", zp.get, zp, "v\0x", 1)
  T.raises("holds a zero byte", znet.monitor, znet, "spikes\0x", zp)
  T.raises("holds a zero byte", nk.read_edges, dir .. "\0x")
  T.raises("holds a zero byte", nk.restore, dir .. "\0x")
  znet:run(1)
  T.eq(znet.t, 1, "the network still runs")
  znet:close()
end

-- receptor names are names (a dot could never be monitored, a quote broke
-- save_model's CSV); fields of the other kind of model are refused, not
-- ignored; a refractory period that uses I is computed per neuron
do
  local rnet = nk.network{}
  local rp = rnet:population("lif", 3)
  for _, bad in ipairs{"a.b", "", "x'y", "1st"} do
    T.raises("is not a name", rnet.connect, rnet, rp, rp, {weight = 1, receptor = bad})
  end
  rnet:close()
  T.raises("'on_pre' belongs to synapse models", nk.model, {name = "n_on_pre", states = {v = 0},
           equations = "dv/dt = -v : mV", on_pre = "v += w"})
  T.raises("'threshold' belongs to neuron models", nk.model, {name = "s_thr", kind = "synapse",
           states = {g = 0}, equations = "dg/dt = -g : nS", on_pre = "g += w",
           current = "g*(0 - v)", threshold = "g > 1"})
  nk.model{name = "refr_I", params = {tau = 10}, states = {v = 0},
           equations = "dv/dt = (I - v)/tau : mV", threshold = "v > 1", reset = "v = 0",
           refractory = "I > 100 ? 5 : 1"}
  local inet = nk.network{}
  local ip = inet:population("refr_I", 2)
  inet:source("dc", ip, {amplitude = 200})
  T.ok(pcall(inet.run, inet, 5), "a refractory period that uses I runs")
  inet:close()
end
-- nk.load_model's errors point at the caller's line, not the prelude's
do
  local dir = os.tmpname()
  os.remove(dir)
  local ok, e = pcall(nk.load_model, dir)
  T.ok(not ok and not tostring(e):find("prelude", 1, true),
       "load_model of a missing directory: no prelude line (" .. tostring(e) .. ")")
end

-- A script cannot reach the metatables of nk's objects through
-- getmetatable: taking a network's __gc or __index away changes nothing (a
-- network without its __gc leaked when collected; AddressSanitizer's leak
-- check in CI sees it), and the methods table a script may wrap is still
-- there.
do
  local tnet = nk.network{}
  local tpop = tnet:population("lif", 4)
  local tmon = tnet:monitor("spikes", tpop)
  for _, obj in ipairs{tnet, tpop, tmon, tnet:connect(tpop, tpop, {weight = 1})} do
    local mt = getmetatable(obj)
    mt.__gc, mt.__index, mt.__close, mt.__tostring = nil, nil, nil, nil
    T.ok(type(mt.methods) == "table" and type(mt.__name) == "string",
         tostring(obj) .. ": getmetatable gives its name and methods")
  end
  T.ok(getmetatable(nk.model("lif")).__name == "nk.model", "a model's __name")
  T.ok(pcall(tnet.run, tnet, 1) and tnet.t == 1 and tostring(tnet):find("network", 1, true),
       "a network whose metatable a script changed still runs, indexes and prints")
  tnet, tpop, tmon = nil, nil, nil
  collectgarbage()
end

-- Nor through the debug library: a selection given a population's
-- metatable was read as a population, out of bounds (AddressSanitizer).
do
  local dnet = nk.network{}
  local dpop = dnet:population("lif", 5)
  local sel = dpop:select{1, 3}
  T.raises("debug.setmetatable: an nk.selection object's metatable is nkshell's own",
           debug.setmetatable, sel, debug.getmetatable(dpop))
  T.raises("debug.setmetatable: an nk.network object's metatable is nkshell's own",
           debug.setmetatable, {}, debug.getmetatable(dnet))
  T.raises("debug.setuservalue: an nk.population object's user values are nkshell's own",
           debug.setuservalue, dpop, other, 1)
  T.ok(tostring(sel):find("selection", 1, true) and #dpop == 5, "the objects are unchanged")
  T.eq(debug.setmetatable({}, {__index = {x = 7}}).x, 7, "other values' metatables still change")
  dnet:close()
end

-- Populations are found by name through a hash table (a scan per added
-- population made 100,000 of them take 40 s). One refused after it was added
-- is taken out again, and every other name is still found.
do
  local hnet = nk.network{}
  for k = 1, 3000 do hnet:population("lif", 1, {name = "n" .. k}) end
  T.raises("unknown parameter 'nope'", hnet.population, hnet, "lif", 1,
           {name = "late", params = {nope = 1}})
  local late = hnet:population("lif", 2, {name = "late"})
  T.eq(#late, 2, "the name of a refused population is free again")
  T.raises("unknown parameter 'nope'", hnet.population, hnet, "lif", 1,
           {name = "later", params = {nope = 1}})
  local missed = 0
  for k = 1, 3000 do
    local ok, e = pcall(hnet.population, hnet, "lif", 1, {name = "n" .. k})
    if ok or not tostring(e):find("already exists", 1, true) then missed = missed + 1 end
  end
  T.eq(missed, 0, "every one of 3000 names is still found after the discards")
  T.raises("a population called 'late' already exists", hnet.population, hnet, "lif", 1,
           {name = "late"})
  T.eq(#hnet:population("lif", 1, {name = "later"}), 1, "a new name is not taken")
  hnet:close()
end

-- A model too big to compile in reasonable time and memory is refused
-- before the compiler starts (2,000 states made gcc take 23 GB and be killed).
do
  local states, eqs = {v = 0}, {"dv/dt = (1 - v) / 10"}
  for k = 1, 600 do
    states["s" .. k] = 0
    eqs[#eqs + 1] = ("ds%d/dt = -s%d"):format(k, k)
  end
  local big = nk.model{name = "states601", states = states, equations = eqs,
                       threshold = "v > 0.5", reset = "v = 0"}
  local bnet = nk.network{}
  bnet:population(big, 2, {name = "big"})
  T.raises("population 'big': model 'states601' has 601 state variables, more than the 512",
           bnet.run, bnet, 1)
  bnet:close()
end

-- Monitors keep every row in memory: a run whose rows could not fit is
-- refused before it starts, and the network runs on (the run went on until
-- the kernel killed nkshell; 10,000 neurons x 1e9 steps are 80 TB).
do
  local mnet = nk.network{}
  local mp = mnet:population("lif", 10000)
  local vm = mnet:monitor("state", mp, {vars = "v"})
  T.raises("for state monitor 'pop1', 10000 values a row), more than the", mnet.run, mnet, 1e8)
  T.eq(mnet.t, 0, "the refused run did not start")
  mnet:run(0.5)
  T.eq(#vm, 5, "the network runs on after the refusal")
  mnet:close()
end

-- A synapse that reads or writes a name the target's model lacks ('v' on
-- a model without v) is refused where it is attached, by net:source and
-- net:connect, with the message a run would give; the network is left
-- without it and runs.
do
  nk.model{name = "robust_nov", states = {u = 0}, equations = "du/dt = -u + I"}
  local rn = nk.network{}
  local p = rn:population("robust_nov", 2)
  T.raises("synapse 'exp_cond' (receptor 'exc') uses 'v', which is not a name of the synapse "
           .. "or of neuron model 'robust_nov'", rn.source, rn, "poisson", p,
           {synapse = "exp_cond", rate = 10, weight = 1})
  T.raises("synapse 'delta' (receptor 'exc') assigns to 'v' in on_pre, which is neither its "
           .. "state nor a state of neuron model 'robust_nov'", rn.connect, rn, p, p,
           {synapse = "delta", weight = 1})
  T.raises("synapse 'nmda' (receptor 'nm') uses 'v'", rn.connect, rn, p, p,
           {synapse = "nmda", receptor = "nm", weight = 1})
  local pj = rn:connect(p, p, {weight = 1})
  T.ok(tostring(pj):find("exp_curr on receptor 'exc'", 1, true),
       "receptor 'exc' is free for another synapse: " .. tostring(pj))
  rn:run(1)
  T.near(rn.t, 1, 1e-9, "the network runs")
  rn:close()
end

-- Initial values from a distribution table made by hand: its kind's
-- fields only, numbers (a misspelt field read as 0 before).
do
  local dn = nk.network{}
  T.raises("net:population: init 'v': a uniform distribution has the fields kind, lo, hi, got "
           .. "'high' (nk.uniform(lo, hi) makes one)", dn.population, dn, "lif", 3,
           {init = {v = {kind = "uniform", low = -60, high = -50}}})
  T.eq(#dn:populations(), 0, "no population was made")
  local p = dn:population("lif", 3, {init = {v = {kind = "uniform", lo = -60, hi = -50}}})
  T.ok(p:get("v", 1) >= -60 and p:get("v", 1) <= -50, "a table with lo and hi draws")
  T.raises("pop:set: the value of 'v': field 'lo' of the uniform distribution must be a number, "
           .. "got nothing", p.set, p, {v = {kind = "uniform"}})
  dn:close()
end

collectgarbage()
T.done("robust")
