-- The API reference as data (lua/nk_api.c, nk._api), help(), print(net) and
-- nk.sandbox. Checked: every function and method has an entry and every
-- entry names something that exists; the options each call accepts are
-- exactly the ones its entry documents; help() finds functions, names,
-- kinds and objects; the network summary lists what the network holds; the
-- sandbox stimulates every built-in model and reports what it did.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")

local function printed(f, ...)
  local lines = {}
  local saved = print
  print = function(...)
    local parts = {}
    for k = 1, select("#", ...) do parts[k] = tostring((select(k, ...))) end
    lines[#lines + 1] = table.concat(parts, "\t")
  end
  local ok, err = pcall(f, ...)
  print = saved
  if not ok then error(err, 0) end
  return table.concat(lines, "\n")
end

local function entry(name, kind)
  for _, e in ipairs(nk._api) do
    if e.name == name and e.kind == kind then return e end
  end
end

-- ---- every function and method has an entry, and no entry is stale ---------------

T.ok(type(nk._api) == "table" and #nk._api > 50, "nk._api lists the API")
for _, e in ipairs(nk._api) do
  T.ok(type(e.usage) == "string" and #e.usage > 0, e.name .. ": a usage line")
  T.ok(type(e.doc) == "string" and #e.doc > 10, e.name .. ": a description")
  T.ok(type(e.topic) == "string", e.name .. ": a topic")
end
for k, v in pairs(nk) do
  if type(v) == "function" and k:sub(1, 1) ~= "_" then
    T.ok(entry("nk." .. k) ~= nil, "nk." .. k .. " has a reference entry")
  end
end

local net = nk.network{seed = 3}
local a = net:population("lif", 20, {name = "a", positions = {kind = "box", size = {10, 10, 10}}})
local b = net:population("hh", 5, {name = "b"})
local proj = net:connect(a, b, {rule = "all_to_all", weight = 2})
local src = net:source("dc", a:slice(1, 4), {amplitude = 400})
local sp = net:monitor("spikes", a)
local vm = net:monitor("state", b, {vars = {"v", "m"}, every = 10})
local sel = net:region{"sphere", center = {0, 0, 0}, radius = 100}
local objects = {net = net, pop = a, proj = proj, src = src, m = sp, sel = sel}
for prefix, obj in pairs(objects) do
  local methods = getmetatable(obj).methods
  T.ok(type(methods) == "table", prefix .. ": its metatable has its methods")
  for name in pairs(methods or {}) do
    T.ok(entry(prefix .. ":" .. name) ~= nil,
         string.format("%s:%s has a reference entry", prefix, name))
  end
  for _, e in ipairs(nk._api) do
    local p, name = e.name:match("^(%a+):([%w_]+)$")
    if p == prefix then
      T.ok(methods[name] ~= nil, e.name .. " exists")
    end
  end
end
for _, e in ipairs(nk._api) do
  local fname = e.name:match("^nk%.([%w_]+)$")
  if fname then T.ok(nk[fname] ~= nil, e.name .. " exists") end
  local pname = e.name:match("^nk%.plot%.([%w_]+)$")
  if pname then T.ok(nk.plot[pname] ~= nil, e.name .. " exists") end
end

-- ---- the options a call accepts are the ones its entry lists ---------------------

-- The list in "unknown option 'x' for F (expected one of: a, b, c)".
local function refused(f, ...)
  local ok, err = pcall(f, ...)
  if ok then return nil end
  local list = tostring(err):match("expected one of: ([^)]*)%)")
  if not list then return nil, tostring(err) end
  local names = {}
  for n in list:gmatch("[^, ]+") do names[#names + 1] = n end
  return names
end

local bogus = {zzz_not_an_option = 1}
local calls = {
  {"nk.network", nil, function() return nk.network(bogus) end},
  {"net:population", nil, function() return net:population("lif", 2, bogus) end},
  {"net:connect", nil, function() return net:connect(a, a, bogus) end},
  {"net:run", nil, function() return net:run(1, bogus) end},
  {"net:region", nil, function() return net:region{"sphere", radius = 5, zzz_not_an_option = 1} end},
  {"nk.model", nil, function() return nk.model{name = "x", zzz_not_an_option = 1} end},
  {"nk.sandbox", nil, function() return nk.sandbox("lif", bogus) end},
  {"positions", nil, function() return a:place{kind = "box", zzz_not_an_option = 1} end},
}
for _, kind in ipairs({"dc", "step", "ramp", "ac", "noise", "array", "equation", "callback",
                       "poisson", "bernoulli", "spike_times"}) do
  calls[#calls + 1] = {"net:source", kind, function() return net:source(kind, a, bogus) end}
end
calls[#calls + 1] = {"net:source", "global", function() return net:source("global", bogus) end}
for _, kind in ipairs({"state", "rate", "field", "output"}) do
  calls[#calls + 1] = {"net:monitor", kind, function() return net:monitor(kind, a, bogus) end}
end
for _, f in ipairs({"raster", "trace", "rate"}) do
  calls[#calls + 1] = {"nk.plot." .. f, nil, function()
    return nk.plot[f](f == "trace" and vm or sp, "x.png", bogus)
  end}
end
for _, c in ipairs(calls) do
  local what = c[1] .. (c[2] and ("('" .. c[2] .. "')") or "")
  local got, err = refused(c[3])
  T.ok(got ~= nil, what .. " refuses an unknown option with the list (" .. tostring(err) .. ")")
  if got then
    T.same_list(got, nk._options(c[1], c[2]), what .. ": the options refused against are "
                .. "the entry's")
  end
end
T.raises("takes no options", net.monitor, net, "spikes", a, bogus)
T.same_list(nk._options("net:source", "dc"), {"amplitude", "start", "stop"}, "dc's options")
T.eq(nk._options("no such function"), nil, "no options for an unknown name")
T.eq(nk._options("net:close"), nil, "no options for a function without an option table")

-- ---- help() -----------------------------------------------------------------

local h = printed(help)
T.ok(h:find("Topics:", 1, true) and h:find("sandbox", 1, true), "help() lists the topics")
T.eq(printed(help, net.connect), printed(help, "net:connect"),
     "help(net.connect) is help('net:connect')")
local hc = printed(help, "net:connect")
for _, o in ipairs(nk._options("net:connect")) do
  T.ok(hc:find(o, 1, true), "help('net:connect') documents option " .. o)
end
T.ok(printed(help, nk.sandbox):find("stimulus", 1, true), "help(nk.sandbox) lists its options")
T.ok(printed(help, "dc"):find("amplitude", 1, true), "help('dc'): the dc source")
T.ok(printed(help, "set_threads"):find("net:set_threads", 1, true), "help('set_threads')")
local hs = printed(help, net.source)
T.ok(hs:find("poisson", 1, true) and hs:find("frequency", 1, true),
     "help(net.source) lists every kind with its options")
local hn = printed(help, net)
T.ok(hn:find("network: 2 populations", 1, true), "help(net) starts with its summary")
T.ok(hn:find("net:run(ms[, options])", 1, true), "help(net) lists its methods")
-- each method's first sentence, not the text up to the first dot
T.ok(hn:find("continuing from net.t.", 1, true), "help(net): a dot inside a name ends no sentence")
T.ok(printed(help, net:populations()[1]):find("Neurons a..b (1-based, inclusive).", 1, true),
     "help(pop): '..' ends no sentence")
T.ok(printed(help, sp):find("m:times", 1, true), "help(monitor) lists a monitor's methods")
T.ok(printed(help, "sandbox"):find("nk.sandbox(model[, options])", 1, true), "help('sandbox')")
T.raises("did you mean 'network'", help, "netwrk")
T.raises("did you mean 'net:connect'", help, "net:conect")

-- ---- print(net) ---------------------------------------------------------------

net:run(5)
local s = tostring(net)
T.ok(s:find("network: 2 populations (25 neurons), 1 projection (100 synapses), 1 source, "
            .. "2 monitors", 1, true), "the summary's first line: " .. s:match("[^\n]*"))
T.ok(s:find("t = 5 ms", 1, true), "the time simulated so far")
T.ok(s:find("backend " .. T.backend, 1, true) and s:find("seed 3", 1, true), "backend and seed")
T.ok(s:find("\n    a%s+20  lif") and s:find("\n    b%s+5  hh"), "populations with sizes and models")
T.ok(s:find("a -> b (all_to_all", 1, true), "the projection")
do -- a slice on either side is named by its neurons, as pop:slice takes them
  local sn = nk.network{}
  local q = sn:population("lif", 10, {name = "q"})
  sn:connect(q:slice(1, 8), q, {rule = "all_to_all", weight = 1})
  sn:connect(q, q:slice(3, 10), {rule = "all_to_all", weight = 1})
  local d = tostring(sn)
  T.ok(d:find("q[1..8] -> q (all_to_all", 1, true) and d:find("q -> q[3..10] (all_to_all", 1, true),
       "slices in the projections: " .. d)
  sn:close()
end
T.ok(s:find("1: dc on 4 of 'a': 400 pA", 1, true), "the source")
T.ok(s:find("1: spike monitor on 20 neurons of 'a'", 1, true), "the spike monitor")
T.ok(s:find("2: state monitor 'b' on 5 neurons of 'b' (v, m)", 1, true), "the state monitor")
local mem = s:match("memory ([%d.]+ k?B)")
T.ok(mem ~= nil, "the memory it uses: " .. tostring(mem))
local big = nk.network{}
local p = big:population("lif", 1000)
big:connect(p, p, {rule = "fixed_total", total = 100000})
local kb = tonumber(tostring(big):match("memory ([%d.]+) MB"))
T.ok(kb and kb >= 1.0 and kb < 3, "100000 synapses take 1-3 MB (" .. tostring(kb) .. ")")
big:close()
-- Built for two threads, a network also holds the gaps between its thread
-- chunks (3 x 256 entries of every array the threads write), the chunks'
-- spike lists (two: one per step parity) and each projection's split table:
-- for 20000 LIF neurons with two receptors, about 37 + 2 x 166 + 80 kB.
local function built_mb(threads)
  local n = nk.network{}
  n:set_threads(threads)
  local p = n:population("lif", 20000)
  n:connect(p, p, {rule = "fixed_total", total = 100000})
  n:run(0.1)
  local mb = tonumber(tostring(n):match("memory ([%d.]+) MB"))
  n:close()
  return mb
end
if T.cpu then -- (the CUDA backend's memory has no thread chunks)
  local mb1, mb2 = built_mb(1), built_mb(2)
  T.ok(mb1 and mb2 and mb2 - mb1 > 0.3 and mb2 - mb1 < 0.7,
       "two threads' chunk gaps and tables are counted (" .. tostring(mb1) .. " MB with one, "
       .. tostring(mb2) .. " MB with two)")
end

-- ---- per-neuron states: pop:set and init lists ---------------------------------

do
  local n2 = nk.network{}
  local iz = n2:population("izhikevich", 4, {init = {v = {-60, -61, -62, -63}, u = -14}})
  T.eq(iz:get("v", 3), -62, "init: one value per neuron")
  T.eq(iz:get("u", 4), -14, "init: a number for all")
  iz:slice(2, 3):set{u = {1, 2}}
  T.eq(iz:get("u", 1), -14, "pop:set on a slice leaves the others")
  T.eq(iz:get("u", 2), 1, "pop:set on a slice: its first neuron")
  T.eq(iz:get("u", 3), 2, "pop:set on a slice: its second neuron")
  iz:set{v = nk.uniform(5, 6)}
  T.ok(iz:get("v", 4) >= 5 and iz:get("v", 4) <= 6, "pop:set with nk.uniform")
  T.raises("'v' has 2 values, expected one per neuron (4)", iz.set, iz, {v = {1, 2}})
  T.raises("unknown state variable 'zz'", iz.set, iz, {zz = 1})
  T.raises("must be a number, nk.uniform(lo, hi) or a list of 4 numbers", iz.set, iz, {v = "x"})
  T.raises("got nk.normal (draw the values in Lua and give a list)", iz.set, iz,
           {v = nk.normal(0, 1)})
  T.raises("init 'v' has 1 values, expected one per neuron (2)", n2.population, n2, "lif", 2,
           {init = {v = {1}}})
  T.raises("init v[2] must be a number", n2.population, n2, "lif", 2, {init = {v = {1, "a"}}})
  T.eq(#n2:populations(), 1, "a refused population is not made")
  n2:run(1)
  T.ok(iz:get("v", 1) > -100, "it runs after pop:set")
end

-- ---- what the sandbox asks of a model ------------------------------------------

T.eq(nk.model("lif").fires, true, "lif has a threshold")
T.eq(nk.model("morris_lecar").fires, false, "morris_lecar has none")
T.eq(nk.model("power_gpot").graded, true, "power_gpot is graded")
T.eq(nk.model("exp_curr").graded, false, "exp_curr takes spikes")

-- ---- the sandbox --------------------------------------------------------------

local r = nk.sandbox("lif", {quiet = true})
T.ok(r.amplitude > 0, "lif: a dc step is found (" .. tostring(r.amplitude) .. " pA)")
T.ok(#r.spikes >= 4, "lif: the step makes it fire at least 4 times (" .. #r.spikes .. ")")
for _, t in ipairs(r.spikes) do
  T.ok(t >= 10 and t < 90, "lif: spikes only during the step (" .. t .. " ms)")
end
T.eq(#r.t, #r.traces.v, "lif: a v sample per time")
T.eq(#r.t, 4000, "lif: 100 ms at dt 0.025 ms")
local r0 = nk.sandbox("lif", {quiet = true, amplitude = 0})
T.eq(#r0.spikes, 0, "lif without input stays silent")
T.near(r0.traces.v[#r0.traces.v], -70, 1e-6, "lif without input rests at v_rest")
local lower = nk.sandbox("lif", {quiet = true, amplitude = r.amplitude / 2})
T.ok(#lower.spikes < #r.spikes, "half the amplitude gives fewer spikes")
local out = printed(nk.sandbox, "hh", {plot = false})
T.ok(out:find("^hh: 1 neuron, 100 ms at dt 0.025 ms, a dc step of [%d.]+ pA from 10 to 90 ms"),
     "the sandbox says what it did: " .. out:match("[^\n]*"))
T.ok(out:find("spikes %(") and out:find("mean interval"), "and what came of it")
local ra = nk.sandbox("hh", {quiet = true, stimulus = {"ac", amplitude = 30, frequency = 20,
                                                       offset = 10}, ms = 200})
T.ok(#ra.spikes > 0, "a sine stimulus drives hh")
local rn = nk.sandbox("izhikevich", {quiet = true, n = 3, params = {d = 2}, vars = {"v", "u"}})
local seen = {}
for _, i in ipairs(rn.ids) do seen[i] = true end
T.ok(seen[1] and seen[2] and seen[3], "n = 3: three neurons fire")
T.ok(rn.traces.u ~= nil and #rn.traces.u == #rn.t, "vars = {v, u} records both")
T.eq(rn.net:populations()[1]:param("d"), 2, "params reach the population")
local rs = nk.sandbox("exp_curr", {quiet = true})
local peak = 0
for _, x in ipairs(rs.traces["syn.isyn"]) do peak = math.max(peak, x) end
T.ok(peak >= 100 and peak < 400, "exp_curr: the input current peaks above one spike's 100 pA ("
     .. peak .. ")")
local rg = nk.sandbox("power_gpot", {quiet = true})
local gmax = 0
for _, x in ipairs(rg.traces["syn.g"]) do gmax = math.max(gmax, x) end
T.ok(gmax > 0, "power_gpot: a graded conductance while the presynaptic neuron is depolarised")
for _, name in ipairs(nk.models("neuron")) do
  local ok, res = pcall(nk.sandbox, name, {quiet = true, ms = 50})
  T.ok(ok, "the sandbox runs " .. name .. (ok and "" or (": " .. tostring(res))))
  if ok and nk.model(name).fires and name ~= "poisson" then
    T.ok(#res.spikes > 0, name .. " fires in the sandbox")
  elseif ok and name ~= "poisson" then
    local lo, hi = math.huge, -math.huge
    for _, v in ipairs(res.traces.v) do lo, hi = math.min(lo, v), math.max(hi, v) end
    T.ok(hi - lo >= 15, name .. " (graded) moves by 15 mV or more (" .. (hi - lo) .. ")")
  end
end
for _, name in ipairs(nk.models("synapse")) do
  local ok, res = pcall(nk.sandbox, name, {quiet = true, ms = 50})
  T.ok(ok, "the sandbox runs synapse " .. name .. (ok and "" or (": " .. tostring(res))))
end
-- a model that blows up whenever it nears threshold: the scan says so, not
-- "no current made it fire" (AdEx without the guard on its exp term)
nk.model{name = "sb_adex_unguarded", kind = "neuron",
  params = {C_m = {281, "pF"}, g_L = {30, "nS"}, E_L = {-70.6, "mV"}, V_T = {-50.4, "mV"},
            Delta_T = {2, "mV"}, tau_w = {144, "ms"}, a = {4, "nS"}, b = {80.5, "pA"},
            V_reset = {-60, "mV"}, V_peak = {0, "mV"}},
  states = {v = {"E_L", "mV"}, w = {0, "pA"}},
  equations = {"dv/dt = (-g_L*(v - E_L) + g_L*Delta_T*exp((v - V_T)/Delta_T) - w + I)/C_m : mV",
               "dw/dt = (a*(v - E_L) - w)/tau_w : pA"},
  threshold = "v > V_peak", reset = {"v = V_reset", "w += b"}, method = "rk4"}
local blown = printed(nk.sandbox, "sb_adex_unguarded", {plot = false})
T.ok(blown:find("no stimulus %(a dc current of [%d.]+ pA or more made 'v' NaN or infinite before "
                .. "it fired 4 times"), "the scan names a model that blows up: " ..
     blown:match("[^\n]*"))
T.raises("unknown model 'hhh' (did you mean 'hh'?)", nk.sandbox, "hhh")
T.raises("unknown option 'amplitud' for nk.sandbox", nk.sandbox, "lif", {amplitud = 5})
T.raises("option 'ms' must be a number", nk.sandbox, "lif", {ms = -1})
T.raises("option 'plot' must be true, false or a file name", nk.sandbox, "lif", {plot = 3})
T.raises("option 'stimulus' must be {kind, options...}", nk.sandbox, "lif", {stimulus = "dc"})
T.raises("a model name or nk.model object expected", nk.sandbox, 42)

T.done("help")
