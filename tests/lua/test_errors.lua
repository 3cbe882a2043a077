-- Bad input gets a clear error naming what was wrong and what was expected,
-- and the session (this script) goes on.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")

-- nk.network
T.raises("dt must be a positive number of ms, got 0", nk.network, {dt = 0})
T.raises("dt must be a positive number of ms, got -0.1", nk.network, {dt = -0.1})
T.raises("option 'dt' for nk.network must be a number, got string", nk.network, {dt = "x"})
T.raises("unknown option 'dtt' for nk.network (did you mean 'dt'?)", nk.network, {dtt = 0.1})
T.raises("unknown option 'colour' for nk.network (expected one of: dt, seed, backend, output, precision, threads)",
         nk.network, {colour = 1})
T.raises("unknown backend 'gpu' (expected 'cpu', 'cuda' or 'auto')", nk.network, {backend = "gpu"})
T.raises("option 'seed' for nk.network must be an integer, got 1.5", nk.network, {seed = 1.5})
T.raises("bad argument #1 to 'nk.network' (table of options expected, got number)", nk.network, 5)
if T.cpu then -- (the suite's environment has NKSHELL_CUDA=off)
  T.raises("the CUDA backend cannot run here: ", nk.network, {backend = "cuda"})
end
-- an output path that cannot be written is refused before anything runs
T.raises("no-such-dir/x.h5", nk.network, {output = "no-such-dir/x.h5"})

local net = nk.network{}
-- populations
T.raises("unknown model 'lfi' (did you mean 'lif'?)", net.population, net, "lfi", 10)
T.raises("unknown model 'hodgkin' (nk.models() lists the models)", net.population, net, "hodgkin", 10)
T.raises("population size must be a positive integer, got 0", net.population, net, "lif", 0)
T.raises("population size must be a positive integer, got -5", net.population, net, "lif", -5)
T.raises("net:population: population size must be an integer, got 2.5", net.population, net, "lif", 2.5)
T.raises("population size must be an integer, got string", net.population, net, "lif", "ten")
T.raises("bad argument #1 to 'net:population' (model name expected, got number)", net.population, net, 3, 10)
T.raises("unknown parameter 'tau_mm' for model 'lif' (did you mean 'tau_m'?)",
         net.population, net, "lif", 10, {params = {tau_mm = 20}})
-- a failed call leaves nothing behind: the corrected call works, same name
T.raises("unknown parameter 'tau_mm' for model 'lif'", net.population, net, "lif", 10,
         {name = "retry", params = {tau_mm = 20}})
T.raises("unknown state variable 'vv' for model 'lif'", net.population, net, "lif", 10,
         {name = "retry", init = {vv = nk.uniform(0, 1)}})
T.eq(net:population("lif", 10, {name = "retry", params = {tau_m = 20}}).name, "retry",
     "the corrected call succeeds with the same name")
local rt = net:population("lif", 3, {name = "rtgt"})
T.raises("indegree 3 is more than the 2 candidate sources", net.connect, net, rt, rt,
         {rule = "fixed_indegree", indegree = 3, allow_multapses = false, allow_autapses = false,
          params = {tau_syn = 7}})
T.eq(#net:connect(rt, rt, {weight = 1, params = {tau_syn = 9}}), 9,
     "a failed connect leaves no receptor behind (a different tau_syn is accepted)")
T.raises("unknown option 'parms' for net:population (did you mean 'params'?)",
         net.population, net, "lif", 10, {parms = {}})
T.raises("parameter 'tau_m' must be a number, got string",
         net.population, net, "lif", 10, {params = {tau_m = "20"}})
T.raises("unknown state variable 'u' for model 'lif'", net.population, net, "lif", 10,
         {init = {u = 1}})
T.raises("'exp_curr' is a synapse model; a population needs a neuron model",
         net.population, net, "exp_curr", 10)
T.raises("unknown method 'rk9'", net.population, net, "lif", 10, {method = "rk9"})
local a = net:population("lif", 10, {name = "a"})
T.raises("a population called 'a' already exists", net.population, net, "lif", 10, {name = "a"})
T.raises("slice(0, 3): expected 1 <= first <= last <= 10", a.slice, a, 0, 3)
T.raises("slice(3, 11): expected 1 <= first <= last <= 10", a.slice, a, 3, 11)

-- connections
T.raises("unknown rule 'bernouli' (did you mean 'bernoulli'?)", net.connect, net, a, a,
         {rule = "bernouli", p = 0.1})
T.raises("rule 'bernoulli' needs option 'p'", net.connect, net, a, a, {rule = "bernoulli"})
T.raises("bernoulli: p must be in [0, 1], got 1.5", net.connect, net, a, a,
         {rule = "bernoulli", p = 1.5})
T.raises("rule 'fixed_indegree' needs option 'indegree'", net.connect, net, a, a,
         {rule = "fixed_indegree"})
T.raises("indegree 20 is more than the 10 source neurons", net.connect, net, a, a,
         {rule = "fixed_indegree", indegree = 20, allow_multapses = false})
-- a degree must fit 32 bits: one above said "must be >= 0"
T.raises("fixed_indegree: indegree must be in [0, 4294967295], got 4294967296", net.connect, net,
         a, a, {rule = "fixed_indegree", indegree = 2^32, allow_multapses = true})
T.raises("fixed_indegree: indegree must be in [0, 4294967295], got -1", net.connect, net, a, a,
         {rule = "fixed_indegree", indegree = -1})
T.raises("fixed_outdegree: outdegree must be in [0, 4294967295], got 4294967296", net.connect,
         net, a, a, {rule = "fixed_outdegree", outdegree = 2^32, allow_multapses = true})
T.raises("one_to_one: source and target must have the same size, got 10 and 3", net.connect,
         net, a, a:slice(1, 3), {rule = "one_to_one"})
T.raises("bad argument #2 to 'net:connect' (population expected, got string)", net.connect, net, a, "b")
-- another nk object is named by its type, not as "userdata"
T.raises("bad argument #1 to 'net:connect' (population expected, got nk.network)", net.connect, net,
         net, a)
T.raises("(population, slice, selection or the network expected, got nk.network)", net.source, net,
         "dc", nk.network{}, {amplitude = 1})
T.raises("bad argument #1 to 'net:population' (model name expected, got nk.population)",
         net.population, net, a, 3)
T.raises("(table of options expected, got nk.population)", net.connect, net, a, a, a)
T.raises("option 'synapse' for net:connect must be a model name or an nk.model object, got nk.network",
         net.connect, net, a, a, {synapse = net})
T.raises("unknown parameter 'tau_synn' for model 'exp_curr' (did you mean 'tau_syn'?)", net.connect,
         net, a, a, {params = {tau_synn = 3}})
T.raises("unknown model 'exp_cur' (did you mean 'exp_curr'?)", net.connect, net, a, a,
         {synapse = "exp_cur"})
T.raises("delay must be >= 0 ms, got -1", net.connect, net, a, a, {delay = -1})
net:connect(a, a, {weight = 1, receptor = "exc", params = {tau_syn = 5}})
T.raises("receptor 'exc' of population 'a' has tau_syn = 5; this asks for tau_syn = 10",
         net.connect, net, a, a, {weight = 1, params = {tau_syn = 10}})

-- a refused value is shown with the digits that tell it from the bound (%g
-- showed 1000001 as 1e+06 and 1.0000001 as 1), and NaN as "nan" (glibc
-- printed Lua's 0/0 as "-nan")
T.raises("weight 1000001 is out of range (|weight| <= 1e6", net.connect, net, a, a,
         {weight = 1000001})
T.raises("weight -1000000.5 is out of range", net.connect, net, a, a, {weight = -1000000.5})
T.raises("weight 1000001 of synapse 2 -> 1 is out of range", net.connect, net, a, a,
         {rule = "list", pre = {1, 2}, post = {1, 1}, weight = {1, 1000001}})
T.raises("delay 6553.5500001 ms of synapse 1 -> 1 is out of range (expected 0 <= delay <= 6553.5 ms",
         net.connect, net, a, a, {rule = "list", pre = {1}, post = {1}, delay = {6553.5500001}})
T.raises("delay 6553.5500001 ms is too long (at most 6553.5 ms", net.connect, net, a, a,
         {delay = 6553.5500001})
T.raises("bernoulli: p must be in [0, 1], got 1.0000001", net.connect, net, a, a,
         {rule = "bernoulli", p = 1.0000001})
do
  local g = net:population("lif", 2, {name = "placed"})
  T.raises("coordinate x of neuron 1 is nan", g.place, g, {{0 / 0, 0, 0}, {0, 0, 0}})
  g:place{{0, 0, 0}, {1, 0, 0}}
  T.raises("shape: p must be in [0, 1], got 1.0000001", net.connect, net, g, g,
           {rule = "shape", shape = {kind = "sphere", radius = 1}, p = 1.0000001})
end
T.raises("parameter 'tau_m' of model 'lif' must be in (0, inf), got -1e-07", net.population, net,
         "lif", 1, {params = {tau_m = -1e-7}})
nk.model{name = "ranged", equations = "dv/dt = -v/tau", params = "tau = 1 ms (0, 1000001]",
         states = "v = 0"}
T.raises("parameter 'tau' of model 'ranged' must be in (0, 1000001], got 1000002", net.population,
         net, "ranged", 1, {params = {tau = 1000002}})
T.raises("population size must be an integer, got 2.0000000001", net.population, net, "lif",
         2.0000000001)
T.raises("poisson: weight must be finite with |weight| <= 1e6, got 1000001", net.source, net,
         "poisson", a, {rate = 1, weight = 1000001})
do
  local s = net:source("poisson", a, {rate = 1, weight = 1})
  T.raises("poisson: 1000001 is not a valid value for 'weight'", s.set, s, {weight = 1000001})
  T.raises("poisson: nan is not a valid value for 'weight'", s.set, s, {weight = 0 / 0})
  s:remove()
end
T.raises("'every' must be a whole number of steps from 1 to 1e9, got 1.0000001", net.monitor, net,
         "state", a, {vars = {"v"}, every = 1.0000001})
T.raises("rate: bin (1.000002 ms) must be a whole number of steps", net.monitor, net, "rate", a,
         {bin = 1.000002})
T.raises("option 'width' for nk.plot.raster must be 50 to 10000 pixels, got 10000.0001",
         nk.plot.raster, net:monitor("spikes", a), "never-written.png", {width = 10000.0001})
T.raises("weight must be a finite number, got nan", net.connect, net, a, a, {weight = 0 / 0})
T.raises("delay must be >= 0 ms, got nan", net.connect, net, a, a, {weight = 1, delay = 0 / 0})
T.raises("weight nan of synapse 1 -> 1 is out of range", net.connect, net, a, a,
         {rule = "list", pre = {1}, post = {1}, weight = {0 / 0}})
T.raises("parameter 'tau_m' of model 'lif' must be finite, got nan", net.population, net, "lif", 1,
         {params = {tau_m = 0 / 0}})
T.raises("initial value of 'v' must be finite (within +-3.4e38: states are float32), got nan",
         a.set, a, {v = 0 / 0})
T.raises("run: duration must be a finite number of ms >= 0, got nan", net.run, net, 0 / 0)
T.raises("pop:get: neuron index must be an integer, got nan", a.get, a, "v", 0 / 0)
T.raises("pop:get: neuron index must be an integer below 2^63 in size, got 1e+20", a.get, a, "v",
         1e20)
T.raises("pop:slice: slice start must be an integer, got 1.5", a.slice, a, 1.5, 2)
local vm = net:monitor("state", a, {vars = {"v"}})
T.raises("m:trace: neuron (1-based within the monitor) must be an integer, got 1.5", vm.trace, vm,
         "v", 1.5)
T.raises("nk.model: option 'max_dt' must be a positive number of ms, got nan", nk.model,
         {name = "nanmax", equations = "dv/dt = -v", states = {v = 0}, max_dt = 0 / 0})
T.raises("nk.uniform(nan, 1): expected lo <= hi", nk.uniform, 0 / 0, 1)
T.raises("nk.normal(0, nan): the standard deviation must be >= 0", nk.normal, 0, 0 / 0)
T.raises("nk.normal: expected a range min <= max, got nan and 3", nk.normal, 0, 1, 0 / 0, 3)
T.raises("nk.sandbox: option 'ms' must be a number in [1e-09, 1e+07], got nan", nk.sandbox, "lif",
         {ms = 0 / 0, quiet = true})

-- sources
T.raises("unknown source kind 'poison' (did you mean 'poisson'?)", net.source, net, "poison", a, {})
T.raises("receptor 'exc' of population 'a' has tau_syn = 5; this asks for tau_syn = 1", net.source,
         net, "poisson", a, {rate = 5, weight = 1, params = {tau_syn = 1}})
T.raises("net:source('poisson') needs options 'rate' (Hz) and 'weight'", net.source, net, "poisson", a, {rate = 5})
T.raises("poisson: rate must be a finite number >= 0 Hz, got -5", net.source, net, "poisson", a,
         {rate = -5, weight = 1})
T.raises("net:source('dc') needs option 'amplitude' (pA)", net.source, net, "dc", a, {})
T.raises("unknown option 'amp' for net:source('dc') (did you mean 'amplitude'?)", net.source, net,
         "dc", a, {amp = 5})
T.raises("expected 0 <= start <= stop (ms), got start = 10, stop = 5", net.source, net, "dc", a,
         {amplitude = 1, start = 10, stop = 5})

-- monitors
T.raises("unknown monitor kind 'spike' (did you mean 'spikes'?)", net.monitor, net, "spike", a)
local other = nk.network{}
local b = other:population("lif", 5, {name = "b"})
T.raises("bad argument #2 to 'net:monitor' (population 'b' belongs to another network)", net.monitor,
         net, "spikes", b)
T.raises("bad argument #1 to 'net:connect' (population 'b' belongs to another network)", net.connect,
         net, b, a)

-- runs
T.raises("bad argument #1 to 'net:run' (duration in ms expected, got string)", net.run, net, "10")
-- a method's arguments are counted without self, as Lua counts them
T.raises("bad argument #2 to 'net:run' (table of options expected, got number)", net.run, net, 1, 5)
T.raises("bad argument #3 to 'net:population' (table of options expected, got string)",
         net.population, net, "lif", 2, "x")
T.raises("bad argument #1 to 'nk.network' (table of options expected, got number)", nk.network, 1)
-- a method is named as the reference names it however it is called: Lua
-- names it from the call ('get' for pop:get(), '?' for a method passed as a
-- value or tail-called, self then counted as argument #1)
T.raises("bad argument #1 to 'pop:get' (string expected, got no value)", a.get, a)
T.raises("bad argument #1 to 'pop:get' (string expected, got no value)", function() a:get() end)
T.raises("bad argument #1 to 'pop:param' (string expected, got no value)",
         function() return a:param() end)
T.raises("bad argument #1 to 'pop:set' (table expected, got number)", a.set, a, 5)
T.raises("bad argument #1 to 'pop:select' (table expected, got no value)", a.select, a)
T.raises("bad argument #1 to 'net:connect' (population expected, got no value)", net.connect, net)
T.raises("bad argument #1 to 'net:connect' (population expected, got no value)",
         function() net:connect() end)
T.raises("bad argument #1 to 'net:source' (string expected, got no value)", net.source, net)
T.raises("bad argument #1 to 'net:monitor' (string expected, got no value)", net.monitor, net)
T.raises("bad argument #1 to 'net:region' (table expected, got no value)", net.region, net)
T.raises("bad argument #1 to 'net:save_model' (string expected, got no value)", net.save_model, net)
T.raises("bad argument #1 to 'net:checkpoint' (string expected, got no value)", net.checkpoint, net)
T.raises("bad argument #1 to 'net:load_gexf' (string expected, got boolean)", net.load_gexf, net, true)
T.raises("bad argument #1 to 'net:code' (population expected, got no value)", net.code, net)
T.raises("bad argument #1 to 'net:save_model' (the string holds a zero byte (\\0) at position 2)",
         net.save_model, net, "x\0y")
do
  local m = net:monitor("spikes", a)
  T.raises("bad argument #1 to 'm:set_fn' (function expected, got no value)", m.set_fn, m)
  local s = net:source("dc", a, {amplitude = 0})
  T.raises("bad argument #1 to 'src:set' (table expected, got no value)", s.set, s)
  T.raises("bad argument #1 to 'src:set_fn' (function expected, got string)", s.set_fn, s, "f")
  s:remove()
end
T.raises("run: duration must be a finite number of ms >= 0, got -5", net.run, net, -5)
T.raises("run: duration must be a finite number of ms >= 0, got inf", net.run, net, math.huge)

-- models that do not parse: the message shows where
local err = T.raises("column 26: expected ')' but found end of input", nk.model,
                     {name = "bad", equations = "dv/dt = (v_rest - v/tau_m",
                      params = {v_rest = -70, tau_m = 10}, states = {v = -70}})
T.ok(err and err:find("^", 1, true), "the message draws a caret under the column")
T.raises("unknown name 'tau_mm' in equations (column 14) (did you mean 'tau_m'?)", nk.model,
         {name = "bad2", equations = "dv/dt = -v / tau_mm", params = {tau_m = 10}, states = {v = 0}})
-- a declaration's value is a number and a unit: an expression was read as
-- its first number, the rest taken for the unit (tau = 2 in unit "*5 ms")
T.raises("malformed declaration 'tau = 2*5 ms': a parameter's default is a number and a unit, "
         .. "not an expression ('*5 ms' is not a unit)", nk.model,
         {name = "expr1", equations = "dv/dt = -v/tau", params = "tau = 2*5 ms", states = "v = 0"})
T.raises("malformed declaration 'tau = 10 + 5': a parameter's default", nk.model,
         {name = "expr2", equations = "dv/dt = -v/tau", params = "tau = 10 + 5", states = "v = 0"})
T.raises("malformed declaration 'v = v0 - 5 mV': a state's initial value is a number or a "
         .. "parameter's name, and a unit, not an expression ('- 5 mV' is not a unit)", nk.model,
         {name = "expr3", equations = "dv/dt = -v", params = "v0 = 1 mV", states = "v = v0 - 5 mV"})
-- an exponent without digits is no unit: "2e ms" read as 2 in the unit "e ms"
T.raises("malformed declaration 'tau = 2e ms': the number's exponent has no digits", nk.model,
         {name = "expo1", equations = "dv/dt = -v/tau", params = "tau = 2e ms", states = "v = 0"})
T.raises("malformed declaration 'v = 1E': the number's exponent has no digits", nk.model,
         {name = "expo2", equations = "dv/dt = -v", states = "v = 1E"})
T.eq(nk.model{name = "expo3", equations = "dv/dt = -v/tau", params = "tau = 2e1 ms",
              states = "v = 0"}.params.tau.default, 20, "'2e1 ms' is 20 in ms")
T.eq(nk.model{name = "units_ok", equations = "dv/dt = -v*a", params = "a = 2 1/ms; b = -3.5e-2 mV/ms (-1, 1]",
              states = "v = 0 mV; w = b"}.name, "units_ok", "numbers with units and ranges still read")
T.raises("a model called 'lif' already exists", nk.model, {name = "lif", equations = "dv/dt = 0",
         states = {v = 0}})
T.raises("population 'pop1', method exponential_euler: 'dv/dt': ",
         function()
           nk.model{name = "quad", equations = "dv/dt = floor(v)", states = {v = 1},
                    method = "exponential_euler"}
           local n = nk.network{}
           n:population("quad", 1)
           n:run(1)
         end)

T.raises("'I' is reserved in a neuron model (the input current)", nk.model,
         {name = "resI", equations = "dv/dt = -v", params = {I = 1}, states = {v = 0}})
-- a model's own names come before the built-in constants (e, pi, t, i)
nk.model{name = "withe", equations = "dv/dt = e - v", params = {e = 5}, states = {v = 0},
         method = "euler"}
do
  local n = nk.network{precision = "double"}
  local p = n:population("withe", 1)
  n:run(100)
  T.near(p:get("v", 1), 5, 1e-3, "parameter 'e' is the parameter, not Euler's number")
end

-- a model that diverges stops the run with population, neuron, variable and step named
nk.model{name = "blowup", equations = "dv/dt = v*v", states = {v = 1}, method = "euler"}
local n3 = nk.network{dt = 0.1}
local bp = n3:population("blowup", 4, {name = "bp"})
T.raises("population 'bp': neuron 1 of 4: variable 'v' became NaN or infinite at step", n3.run, n3, 100)
T.ok(n3.t > 0 and n3.t < 100, "the run stopped early and time stands where it stopped")

-- a network's method called on something else names the method
T.raises("calling 'net:run' on bad self (nk.network expected, got number)", net.run, 5, 1)
T.raises("calling 'net:close' on bad self (nk.network expected, got no value)", net.close)
T.raises("calling 'net:population' on bad self (nk.network expected, got table)",
         net.population, {}, "lif", 1)
-- ... and so do the methods of populations, monitors, selections and sources
T.raises("calling 'pop:get' on bad self (nk.population expected, got number)", a.get, 5, "v", 1)
T.raises("calling 'm:trace' on bad self (nk.monitor expected, got nil)", vm.trace, nil, "v", 1)
local sel = a:select{1}
T.raises("calling 'sel:neurons' on bad self (nk.selection expected, got table)", sel.neurons, {})
local dc = net:source("dc", a, {amplitude = 0})
-- fields of nk objects are read-only, and setting one says so
T.raises("cannot set 'size' on an nk.population: its fields are read-only (states are set with "
         .. "pop:set{var = value})", function() a.size = 5 end)
T.raises("cannot set 'amplitude' on an nk.source: its fields are read-only (a source is changed "
         .. "with src:set{...})", function() dc.amplitude = 1 end)
T.raises("cannot set 'x' on an nk.monitor: its fields are read-only", function() vm.x = 1 end)
T.raises("cannot set 'x' on an nk.selection: its fields are read-only", function() sel.x = 1 end)
T.raises("calling 'src:set' on bad self (nk.source expected, got nk.population)", dc.set, a, {})

-- A long delay makes every receptor's ring buffer long (a slot a step):
-- refused at connect when those could not fit in memory (1e6 neurons and
-- 65,535 steps: 524 GB), naming the delay and the size; the network is
-- left as it was and runs.
do
  local rnet = nk.network{dt = 0.1}
  local big = rnet:population("lif", 1000000)
  T.raises("connect (one_to_one): the longest delay, 65535 steps (6553.5 ms at dt = 0.1 ms), "
           .. "needs ring buffers of 524.29 GB", rnet.connect, rnet, big, big,
           {rule = "one_to_one", weight = 1, delay = 6553.5})
  T.raises("more than the", rnet.connect, rnet, big, big,
           {rule = "one_to_one", weight = 1, delay = nk.uniform(6000, 6553.5)})
  local pj = rnet:connect(big, big, {rule = "one_to_one", weight = 1, delay = 0.5})
  T.eq(#rnet:projections(), 1, "the refused projections are not kept")
  rnet:run(0.2)
  T.near(rnet.t, 0.2, 1e-9, "the network runs after the refused delays")
  T.ok(tostring(pj):find("delay 0.5 ms", 1, true), "the projection kept: " .. tostring(pj))
  rnet:close()
end

-- a name given twice, once through an alias: which value would be used
-- depended on the order of Lua's table
do
  nk.model{name = "err_alias", params = {tau = 10}, states = {v = 0},
           equations = "dv/dt = -v/tau", aliases = "TAU = tau; V_m = v; VV = v"}
  local an = nk.network{}
  -- the same message whichever key the table gives first
  for _, params in ipairs{{TAU = 5, tau = 6}, {tau = 6, TAU = 5}, {tau = 6, TAU = 5, x = 1}} do
    T.raises("net:population: 'TAU' and 'tau' both give parameter 'tau' (the first is an alias "
             .. "of it); give it once", an.population, an, "err_alias", 1, {params = params})
  end
  T.raises("'VV' and 'V_m' both give state 'v' (both are aliases of it); give it once",
           an.population, an, "err_alias", 1, {init = {V_m = 5, VV = 6}})
  local p = an:population("err_alias", 2, {params = {TAU = 5}, init = {V_m = 3}})
  T.eq(p:param("tau"), 5, "a parameter given once through its alias")
  T.raises("pop:set: ", p.set, p, {V_m = 1, v = 2})
  T.eq(p:get("v", 1), 3, "the refused pop:set changed nothing")
  p:set{V_m = 4}
  T.eq(p:get("v", 2), 4, "a state set once through its alias")
  an:close()
end

-- intermediates that use each other in a cycle are refused where the model
-- is defined (they failed every run of any network that used the model)
T.raises("model 'err_cyc': intermediates refer to each other in a cycle: a1 -> a2 -> a1",
         nk.model, {name = "err_cyc", states = {v = 0},
                    equations = "a1 = a2 + b; b = 1; a2 = 2*a1; dv/dt = a1"})
T.raises("cycle: a -> a (", nk.model, {name = "err_cyc1", states = {v = 0},
                                       equations = "a = a + 1; dv/dt = a"})
nk.model{name = "err_nocyc", states = {v = 0}, equations = "b = c*2; c = 3; a = b + c; dv/dt = a"}

-- a grid with no neurons along an axis; the least rtol, to its last digit
T.raises("positions: grid: shape[1] must be >= 1, got 0", net.population, net, "lif", 3,
         {positions = {kind = "grid", shape = {0, 3, 1}}})
T.raises("give rtol >= 2.2204460492503131e-14", net.population, net, "hh", 1,
         {method = "rk45", rtol = 2.2204e-14})
net:population("hh", 1, {name = "least_rtol", method = "rk45", rtol = 2.2204460492503131e-14})

-- an edge list that is not text
do
  local f = T.tmpname("test_errors_edges")
  local h = assert(io.open(f, "wb"))
  h:write("\x89HDF\r\n\x1a\n\0\0\0")
  h:close()
  T.raises("this is an HDF5 file (SONATA edges: net:load_sonata), not a text (CSV/TSV) file",
           nk.read_edges, f)
  h = assert(io.open(f, "wb"))
  h:write("\x1f\x8b\x08\0")
  h:close()
  T.raises("this is compressed with gzip (gunzip it first)", nk.read_edges, f)
  os.remove(f)
end

-- a graded synapse that reads a state the presynaptic model lacks: refused
-- by net:connect, not by every run after it; the network is left as it was
do
  nk.model{name = "err_gq", kind = "synapse", params = {E_rev = 0}, states = {g = 0},
           graded = "q_pre", on_pre = "g = w", current = "g*(E_rev - v)"}
  local gn = nk.network{}
  local a, b = gn:population("lif", 2), gn:population("lif", 2)
  T.raises("graded synapse 'err_gq' uses 'q_pre', but the presynaptic model 'lif' has no such "
           .. "state (NAME_pre names a presynaptic state: v_pre)",
           gn.connect, gn, a, b, {rule = "all_to_all", weight = 1, synapse = "err_gq"})
  T.eq(#gn:projections(), 0, "the refused graded projection is not made")
  -- nor its receptor: 'exc' is free for another synapse model
  gn:connect(a, b, {rule = "all_to_all", weight = 1, synapse = "exp_curr"})
  gn:run(1)
  T.near(gn.t, 1, 1e-9, "the network runs after the refused graded projection")
end

-- a default receptor declared twice, or a parameter of it given twice: the
-- last one won; and a default receptor's bad synapse says where it came from
do
  local base = {states = {v = 0}, params = {tau = 10}, equations = "dv/dt = (-v + I)/tau",
                threshold = "v > 10", reset = "v = 0"}
  local function with(name, rx)
    local t = {name = name, receptors = rx}
    for k, v in pairs(base) do t[k] = v end
    return t
  end
  T.raises("receptor 'exc' is declared twice ('exc = exp_curr(...)' and 'exc = exp_cond(...)'); "
           .. "give each receptor once", nk.model,
           with("err_rx2", "exc = exp_curr(tau_syn = 5); exc = exp_cond(tau_syn = 2, E_rev = 0)"))
  T.raises("receptor 'exc': parameter 'tau_syn' is given twice", nk.model,
           with("err_rx3", "exc = exp_curr(tau_syn = 5, tau_syn = 3)"))
  nk.model(with("err_rx4", "exc = exp_cur(tau_syn = 5)"))
  local rn = nk.network{}
  local p = rn:population("err_rx4", 2)
  T.raises("default receptor 'exc' of model 'err_rx4' (exc = exp_cur(...)): unknown model "
           .. "'exp_cur' (did you mean 'exp_curr'?)", rn.source, rn, "poisson", p,
           {rate = 10, weight = 1})
  -- a default receptor that makes an exact system nonlinear: named once
  nk.model{name = "err_rx5", states = {v = 0}, params = {tau = 10}, method = "exact",
           equations = "dv/dt = (-v + I)/tau", threshold = "v > 10", reset = "v = 0",
           receptors = "exc = exp_cond(tau_syn = 5, E_rev = 0)"}
  local xp = rn:population("err_rx5", 2)
  local ok, e = pcall(rn.source, rn, "poisson", xp, {rate = 10, weight = 1})
  T.ok(not ok and tostring(e):find("net:source: receptor 'exc' (synapse 'exp_cond'): population "
       .. "'pop2': method exact", 1, true) and not tostring(e):find("default receptor", 1, true),
       "exact's refusal of a default receptor names it once: " .. tostring(e))
  -- each spike source lists its own options
  T.raises("unknown option 'bogus' for net:source('spike_times') (expected one of: times, "
           .. "weight, synapse, receptor, params, start, stop)", rn.source, rn, "spike_times", p,
           {times = {1}, weight = 1, bogus = 1})
  T.raises("net:source('poisson'): a Poisson source takes 'rate' (Hz), not 'times'", rn.source, rn,
           "poisson", p, {times = {1}, weight = 1})
end

-- an empty output name, and one too long for its directory: refused by
-- nk.network, not at the first run
T.raises("option 'output' for nk.network: expected a file name, got an empty string",
         nk.network, {output = ""})
T.raises("option 'output' for nk.restore: expected a file name, got an empty string",
         nk.restore, "any.ckpt.h5", {output = ""})
T.raises("is 303 characters, and with '.part' (the name a run writes until it is complete) 308, "
         .. "more than the 255 its directory allows", nk.network,
         {output = T.tmpname("x"):gsub("[^/]*$", "") .. string.rep("n", 300) .. ".h5"})

-- after all that, the first network still works
net:run(10)
T.near(net.t, 10, 1e-9, "the session goes on after errors")

T.done("errors")
