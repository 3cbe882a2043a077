-- The Lua API of issue #2: networks, populations, connections, sources,
-- monitors, runs that continue, printing.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")

T.ok(type(nk) == "table", "nk is a table")
T.eq(type(nk.version), "string", "nk.version")
local models = nk.models()
local have = {}
for _, m in ipairs(models) do have[m] = true end
T.ok(have.lif and have.exp_curr, "nk.models() lists lif and exp_curr")
T.ok(nk.describe("lif"):find("dv/dt", 1, true), "describe shows the equations")
T.ok(nk.describe("lif"):find("tau_m", 1, true), "describe shows parameters")

local net = nk.network{dt = 0.1, seed = 3}
T.eq(net.dt, 0.1, "net.dt")
T.eq(net.seed, 3, "net.seed")
T.eq(net.t, 0, "net.t starts at 0")
do -- backend "auto" (the default) takes the GPU where the CUDA backend can run, else the CPU
  local cuda_ok, cnet = pcall(nk.network, {backend = "cuda"})
  if cuda_ok then cnet:close() end
  local anet = nk.network{backend = "auto"}
  T.eq(anet.backend, cuda_ok and "cuda" or "cpu", "auto takes " .. (cuda_ok and "cuda" or "cpu")
       .. (cuda_ok and "" or " (" .. tostring(cnet) .. ")"))
  anet:close()
end
T.eq(net.output, nil, "no output by default")

local a = net:population("lif", 100, {name = "a", params = {tau_m = 15, I_e = 400},
                                      init = {v = -65}})
T.eq(#a, 100, "#pop")
T.eq(a.size, 100, "pop.size")
T.eq(a.name, "a", "pop.name")
T.eq(a.model, "lif", "pop.model")
T.eq(a:param("tau_m"), 15, "param set through options")
T.eq(a:param("C_m"), 250, "other parameters keep their defaults")
T.eq(a:get("v", 1), -65, "init value")
T.eq(tostring(a), "population 'a': 100 lif neurons", "tostring(pop)")

local s = a:slice(11, 20)
T.eq(#s, 10, "slice length")
T.eq(s.first, 11, "slice first")
T.eq(s.last, 20, "slice last")
T.eq(tostring(s), "population 'a'[11..20]: 10 of 100 lif neurons", "tostring(slice)")
T.eq(#s:slice(2, 3), 2, "slice of a slice")
T.eq(s:slice(2, 3).first, 12, "slice of a slice is relative")

local b = net:population("lif", 50)
T.eq(b.name, "pop2", "default name")

-- init from a distribution is deterministic and within bounds
local u = net:population("lif", 1000, {name = "u", init = {v = nk.uniform(-60, -50)}})
local lo, hi, sum = 0, -100, 0
lo = 0
for i = 1, 1000 do
  local v = u:get("v", i)
  lo = math.min(lo, v); hi = math.max(hi, v); sum = sum + v
end
T.ok(lo >= -60 and hi < -50, "uniform init within [lo, hi)")
T.near(sum / 1000, -55, 0.5, "uniform init mean")

local p = net:connect(a, b, {rule = "all_to_all", weight = 10, delay = 1.5})
T.eq(#p, 5000, "all_to_all synapse count")
T.ok(tostring(p):find("5000 synapses", 1, true), "tostring(projection): " .. tostring(p))
do -- a distribution's clip range is part of its description
  local n = nk.network{}
  local x = n:population("lif", 3)
  local function desc(o) return tostring(n:connect(x, x, o)):match("synapses, (.*)$") end
  T.eq(desc{weight = nk.normal(1, 0.5)}, "weight normal(1, 0.5), delay 0.1 ms", "no clip range")
  T.eq(desc{weight = nk.normal(1, 0.5, 0, 2), delay = nk.lognormal(0, 1, nil, 3)},
       "weight normal(1, 0.5, 0, 2), delay lognormal(0, 1, -inf, 3) ms", "clip ranges")
  -- an expression without d is a constant: no positions needed, its sign picks the receptor
  local c = n:connect(x, x, {rule = "one_to_one", weight = "-2 * 3", delay = "0.1 + 0.2"})
  T.eq(desc{rule = "one_to_one", weight = "-2 * 3", delay = "0.1 + 0.2"},
       "weight -6, delay 0.3 ms", "a constant expression")
  T.eq(c.receptor, "inh", "a negative constant expression feeds 'inh'")
  T.eq(c:synapses().weight[3], -6, "its value")
  -- pop:set reaches a receptor's states as pop:get and the monitors name them
  T.raises("pop:set: population 'pop1' has no receptor 'ampa'", x.set, x, {["ampa.isyn"] = 1})
  x:set{["inh.isyn"] = {1, 2, 3}}
  T.eq(x:get("inh.isyn", 2), 2, "a receptor state from a list")
  x:slice(2, 3):set{["inh.isyn"] = nk.uniform(4, 5)}
  local u2, u3 = x:get("inh.isyn", 2), x:get("inh.isyn", 3)
  T.ok(x:get("inh.isyn", 1) == 1 and u2 >= 4 and u2 < 5 and u3 >= 4 and u3 < 5 and u2 ~= u3,
       "a receptor state drawn on a slice: " .. u2 .. ", " .. u3)
  T.raises("unknown state variable 'g' for model 'exp_curr'", x.set, x, {["inh.g"] = 1})
  n:run(0.1)
  T.ok(x:get("inh.isyn", 1) < 1 and x:get("inh.isyn", 1) > 0.9, "the set value decays in a run")
end

local m = net:monitor("spikes", a)
local ms = net:monitor("spikes", a:slice(1, 10))
T.eq(m:count(), 0, "no spikes before running")

net:run(100)
T.near(net.t, 100, 1e-9, "net.t after run")
local c1 = m:count()
T.ok(c1 > 0, "driven neurons fire (I_e = 400 pA)")
net:run(100)
T.near(net.t, 200, 1e-9, "a second run continues")
T.ok(m:count() > c1, "more spikes after the second run")

local times, ids = m:times(), m:ids()
T.eq(#times, m:count(), "#times == count")
T.eq(#ids, m:count(), "#ids == count")
local sorted, inrange = true, true
for k = 1, #times do
  if k > 1 and times[k] < times[k - 1] then sorted = false end
  if ids[k] < 1 or ids[k] > 100 then inrange = false end
end
T.ok(sorted, "times are in order")
T.ok(inrange, "ids are 1-based within the population")
T.near(m:rate(), m:count() / (100 * 0.2), 1e-9, "rate = count / (n * seconds)")
-- the slice monitor sees only its neurons, with ids relative to the slice
local sids = ms:ids()
local ok = #sids > 0
for _, id in ipairs(sids) do if id < 1 or id > 10 then ok = false end end
T.ok(ok, "slice monitor ids within 1..10")
T.ok(ms:count() < m:count(), "slice monitor records fewer spikes")

-- a monitor added later records from then on
local late = net:monitor("spikes", a)
T.eq(late:count(), 0, "late monitor starts empty")
net:run(50)
T.ok(late:count() > 0 and late:count() < m:count(), "late monitor records only the new part")

T.ok(tostring(net):find("3 populations (1150 neurons)", 1, true), "tostring(net): " .. tostring(net))
T.ok(tostring(m):find("spikes", 1, true), "tostring(monitor)")
T.ok(net:code(a):find("nk_update", 1, true), "net:code shows the generated C")
do -- populations of one model compile to one text (one module, compiled once);
   -- net:code names the population above it
  local cnet = nk.network{}
  local c1 = cnet:population("lif", 10, {name = "first"})
  local c2 = cnet:population("lif", 3, {name = "second", params = {tau_m = 7}})
  cnet:run(0.1)
  local t1, t2 = cnet:code(c1), cnet:code(c2)
  T.ok(t1:find("^/%* population 'first' %*/\n") and t2:find("^/%* population 'second' %*/\n"),
       "net:code names the population")
  T.eq((t1:gsub("^[^\n]*\n", "")), (t2:gsub("^[^\n]*\n", "")), "two lif populations share their code")
  cnet:close()
end
local build_s, run_s = net:timing()
T.ok(build_s >= 0 and run_s > 0, "timing")

-- user-defined model (the minimal form; the full one is issue #3)
nk.model{name = "myiaf", equations = "dv/dt = (I + bias)/c", threshold = "v > vt",
         reset = "v = 0", params = {vt = 0.025, c = 5, bias = 0.01}, states = {v = 0}}
local net2 = nk.network{}
local q = net2:population("myiaf", 3)
local mq = net2:monitor("spikes", q)
net2:run(100)
-- v grows by bias/c = 0.002 mV per ms, 0.0002 per step: the update of step
-- 125 takes it to 0.0252 > 0.025 (126 steps from reset to reset, no
-- refractory period), so floor(1000 / 126) = 7 spikes in 1000 steps
T.eq(mq:count(), 3 * 7, "user-defined integrate-and-fire fires every 126 steps")
T.near(mq:times()[1], 12.5, 1e-9, "first spike stamped at the start of step 125")

-- close: the network is gone, its objects say so
net2:close()
T.raises("closed", function() return net2:run(1) end)
T.eq(tostring(net2), "network (closed)", "tostring of a closed network")

-- Populations whose generated text is the same share one compiled module
-- (and keep one copy of the text); each still runs on its own parameters
-- and state, as it would alone.
do
  local vs = {}   -- not drawn: a drawn value depends on the population's index
  for j = 1, 20 do vs[j] = -70 + 0.7 * j end
  local function counts(ies, together)
    local out = {}
    local shared = together and nk.network{} or nil
    for k, ie in ipairs(ies) do
      local sn = shared or nk.network{}
      local p = sn:population("lif", 20, {params = {I_e = ie}, init = {v = vs}})
      out[k] = {net = sn, pop = p, mon = sn:monitor("spikes", p)}
    end
    local res = {}
    for k, o in ipairs(out) do
      if not together or k == 1 then o.net:run(200) end
      res[k] = o.mon:count()
    end
    return res, out
  end
  local ies = {380, 450, 0, 600}
  local alone = counts(ies, false)
  local together, out = counts(ies, true)
  T.same_list(together, alone, "four lif populations in one network fire as each alone")
  T.ok(alone[2] > alone[1] and alone[3] == 0 and alone[4] > alone[2],
       "their currents set their rates")
  local c1, c4 = out[1].net:code(out[1].pop), out[1].net:code(out[4].pop)
  T.ok(#c4 > 1000 and c4:find("pop4", 1, true) and c1:gsub("pop1", "pop4") == c4,
       "net:code of a population sharing its module has the text, with its own name")
  for _, o in ipairs(out) do o.net:close() end
end

T.done("api")
