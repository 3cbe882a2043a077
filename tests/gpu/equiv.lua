-- The GPU suite: the CPU suite's scenarios built twice by one function that
-- takes the backend's name, run on "cpu" and on "cuda", and compared
-- exactly; then the CUDA run again, compared with the first.
--
--   nkshell tests/gpu/equiv.lua            on a GPU (run_gpu_tests.sh)
--   NKSHELL_CUDA=emulate NKSHELL_CUDA_NVRTC_CHECK=90 nkshell tests/gpu/equiv.lua
--                                          anywhere (meson test cuda-emu): the
--                                          backend on the host, and every
--                                          generated module through NVRTC
--
-- Exits 77 (Meson: skipped) when the CUDA backend cannot run here.
--
-- What "the same" means: every number compared as its IEEE bits
-- (string.pack "<d"; a float32 state widens to a double exactly), never with
-- a tolerance, except that a NaN equals any NaN: x86 makes NaNs with the sign
-- bit set and keeps a payload through float32, where the GPU makes positive
-- ones and narrows every NaN to 0x7fffffff. Compared per network:
--   - every monitor: spike times and ids; sample times and every value of
--     state, output, rate and field monitors; the values handed to output
--     functions, as the functions received them;
--   - the final state: pop:get of every model state of every neuron, and the
--     network's checkpoint read back with nk.read: every state array, the
--     receptors' states, refractory counters, the ring buffers of scheduled
--     input, sources' and monitors' bookkeeping;
--   - the results file, dataset by dataset and attribute by attribute, and
--     rolling checkpoints, where a scenario writes them.
-- In files only the attributes 'backend' and 'output' (the results file's
-- name: each run writes its own) are left out.
-- No comparison here has a tolerance: the CUDA backend is meant to give the
-- CPU's bits (engine/backends/cuda/cuda.c, its header comment). A model that
-- cannot be made bit-identical would get a measured tolerance here, with a
-- comment saying what differs and by how much; none needs one today.
--
-- Each scenario says what it covers. Small networks (tens to hundreds of
-- neurons, 60 to 200 ms): about 45 s in emulation on 2 cores with a warm
-- code cache, most of it NVRTC. EQUIV_VERBOSE=1 prints each scenario's time
-- as it finishes; the times are printed on stderr at the end in any case.
-- EQUIV_ONLY=TEXT runs only the scenarios whose names contain TEXT.
--
-- The file is also its own helper for the checkpoint scenarios: run as
--   nkshell --resume CHECKPOINT equiv.lua resume BACKEND DUMP
-- it builds the checkpoint scenario's network on BACKEND, lets --resume load
-- the checkpoint into it, finishes the run and writes what it recorded to
-- DUMP (a Lua chunk), for the main script to compare.
local MODE, CHILD_BACKEND, CHILD_DUMP = ...
local HERE = arg[0]:match("(.*/)") or "./"
local T = dofile(HERE .. "../lua/check.lua")

local EMULATED = os.getenv("NKSHELL_CUDA") == "emulate"
local NKSHELL -- this interpreter, for the --resume runs: arg's lowest index
do
  local k = -1
  while arg[k - 1] do k = k - 1 end
  NKSHELL = arg[k]
end

if MODE ~= "resume" then
  local ok, net = pcall(nk.network, {backend = "cuda"})
  if not ok then
    print("skipped: " .. tostring(net))
    os.exit(77)
  end
  net:close()
end

-- ---- scratch directory ---------------------------------------------------------------------
local DIR
local _cleanup
if MODE ~= "resume" then
  DIR = os.tmpname()
  os.remove(DIR)
  assert(os.execute("mkdir '" .. DIR .. "'"), "cannot make " .. DIR)
  _cleanup = setmetatable({}, {__close = function() os.execute("rm -rf '" .. DIR .. "'") end})
end
local _close_dir <close> = _cleanup
local function path(name) return DIR .. "/" .. name end

-- ---- recording what a network did ----------------------------------------------------------
-- A recorder holds the network, its monitors with their kinds and variables
-- (monitors do not say their kind), and lists the script captured itself
-- (what output functions received).
local Rec = {}
Rec.__index = Rec

local function recorder(net)
  return setmetatable({net = net, mons = {}, kept = {}, files = {}}, Rec)
end

-- A new path for a file the network writes, compared (read with nk.read)
-- after the network is closed, under label.
local nfiles = 0
function Rec:file(label)
  nfiles = nfiles + 1
  local p = path(string.format("f%d.h5", nfiles))
  self.files[#self.files + 1] = {label, p}
  return p
end

-- net:monitor(kind, target, opts), remembered under label
function Rec:mon(label, kind, target, opts)
  local m = self.net:monitor(kind, target, opts)
  local vars = opts and (opts.vars or opts.var)
  if type(vars) == "string" then vars = {vars} end
  self.mons[#self.mons + 1] = {label = label, kind = kind, m = m, vars = vars}
  return m
end

-- A list the scenario fills (e.g. from an output function), compared as is.
function Rec:keep(label)
  local list = {}
  self.kept[#self.kept + 1] = {label = label, list = list}
  return list
end

-- An output monitor whose function appends every sample to a kept list:
-- t, then the values (per variable, in vars order, per neuron).
local function output_fn(vars, got)
  return function(t, values)
    got[#got + 1] = t
    if #vars == 1 then
      for _, x in ipairs(values) do got[#got + 1] = x end
    else
      for _, var in ipairs(vars) do
        for _, x in ipairs(values[var]) do got[#got + 1] = x end
      end
    end
  end
end

function Rec:output(label, target, opts)
  local vars = type(opts.vars) == "string" and {opts.vars} or opts.vars
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.fn = output_fn(vars, self:keep(label .. " fn(t, values)"))
  return self:mon(label, "output", target, o)
end

-- The same record for net2, a network restored from a checkpoint of this
-- recorder's network (its monitors in the same order): output monitors get
-- functions again, which start new kept lists.
function Rec:adopt(net2)
  local R = recorder(net2)
  local mons = net2:monitors()
  for k, e in ipairs(self.mons) do
    R.mons[k] = {label = e.label, kind = e.kind, m = mons[k], vars = e.vars}
    if e.kind == "output" then
      mons[k]:set_fn(output_fn(e.vars, R:keep(e.label .. " fn(t, values)")))
    end
  end
  return R
end

-- Empties the kept lists (what output functions got so far).
function Rec:forget()
  for _, k in ipairs(self.kept) do
    for i = #k.list, 1, -1 do k.list[i] = nil end
  end
end

-- Flattens what nk.read returned into entries {label, list}: a dataset's
-- numbers (rows one after another), its attributes, every group's, in
-- sorted order. skip(path) leaves a path out.
local function flatten_file(tbl, prefix, out, skip)
  local keys = {}
  for k in pairs(tbl) do
    if math.type(k) ~= "integer" then keys[#keys + 1] = tostring(k) end
  end
  table.sort(keys)
  local nums = {}
  local function walk(x)
    for i = 1, #x do
      if type(x[i]) == "table" then walk(x[i]) else nums[#nums + 1] = x[i] end
    end
  end
  walk(tbl)
  if #tbl > 0 then out[#out + 1] = {prefix, nums} end
  for _, k in ipairs(keys) do
    local v, p = tbl[k], prefix .. "/" .. k
    if not (skip and skip(p)) then
      if type(v) == "table" then
        flatten_file(v, p, out, skip)
      else
        out[#out + 1] = {p, {v}}
      end
    end
  end
  return out
end

-- Everything the network did, as an ordered list of {label, list}. Takes a
-- checkpoint (which does not perturb the network) unless nockpt. Closes the
-- network.
local function dump(R, nockpt)
  local out = {}
  local function put(label, list) out[#out + 1] = {label, list} end
  local function rows(vals)
    local flat = {}
    for _, row in ipairs(vals) do
      if type(row) == "table" then
        for _, x in ipairs(row) do flat[#flat + 1] = x end
      else
        flat[#flat + 1] = row
      end
    end
    return flat
  end
  for _, e in ipairs(R.mons) do
    local m, l = e.m, e.label
    put(l .. " times", m:times())
    if e.kind == "spikes" then
      put(l .. " ids", m:ids())
    elseif e.kind == "state" or e.kind == "output" then
      for _, v in ipairs(e.vars) do put(l .. " " .. v, rows(m:values(v))) end
    else
      put(l .. " values", rows(m:values()))
    end
  end
  for _, k in ipairs(R.kept) do put(k.label, k.list) end
  local net = R.net
  put("net.t", {net.t})
  for _, p in ipairs(net:populations()) do
    local states = {}
    for name in pairs(nk.model(p.model).states) do states[#states + 1] = name end
    table.sort(states)
    for _, s in ipairs(states) do
      local v = {}
      for i = 1, #p do v[i] = p:get(s, i) end
      put(string.format("final %s.%s", p.name, s), v)
    end
  end
  -- the backend's name differs, and the results file's name (each run
  -- writes its own) and run id (random, in the file and its checkpoints)
  local function no_backend(p)
    return p:match("/attrs/backend$") or p:match("/attrs/output$") or p:match("/attrs/run_id$")
  end
  if not nockpt and DIR then
    local ck = path("dump.ckpt.h5")
    net:checkpoint(ck)
    flatten_file(nk.read(ck), "checkpoint", out, no_backend)
    os.remove(ck)
  end
  net:close()
  -- files the network wrote (its results file, complete once it is closed;
  -- rolling checkpoints)
  for _, f in ipairs(R.files) do
    local ok, t = pcall(nk.read, f[2])
    if ok then
      flatten_file(t, f[1], out, no_backend)
    else
      put(f[1], {"cannot be read: " .. tostring(t)})
    end
    os.remove(f[2])
  end
  return out
end

-- ---- comparing -----------------------------------------------------------------------------
local function show(x)
  if math.type(x) == "float" then return string.format("%.17g", x) end
  return tostring(x)
end

local function bits(x)
  if x ~= x then return "NaN" end -- any NaN: the GPU's have other bits than x86's
  if math.type(x) == "float" then return string.pack("<d", x) end
  return x
end

-- Checks that two dumps hold the same labels and the same bits; one check
-- per entry. what: "scenario: cuda vs cpu". Returns the number that differ.
local function same(what, a, b)
  local bad = 0
  T.eq(#b, #a, what .. ": number of things recorded")
  local byb = {}
  for _, e in ipairs(b) do byb[e[1]] = e[2] end
  for _, e in ipairs(a) do
    local label, x = e[1], e[2]
    local y = byb[label]
    local msg
    if not y then
      msg = "missing in the second run"
    elseif #x ~= #y then
      msg = string.format("lengths differ: %d vs %d", #x, #y)
      for i = 1, math.min(#x, #y) do
        if bits(x[i]) ~= bits(y[i]) then
          msg = msg .. string.format("; first difference at %d: %s vs %s", i, show(x[i]),
                                     show(y[i]))
          break
        end
      end
    else
      local first, n, worst = nil, 0, 0
      for i = 1, #x do
        if bits(x[i]) ~= bits(y[i]) then
          n = n + 1
          first = first or i
          if type(x[i]) == "number" and type(y[i]) == "number" then
            local d = math.abs(x[i] - y[i])
            if d == d and d > worst then worst = d end
          end
        end
      end
      if first then
        msg = string.format("%d of %d differ, the first at %d: %s vs %s (largest difference %.3g)",
                            n, #x, first, show(x[first]), show(y[first]), worst)
      end
    end
    T.ok(msg == nil, string.format("%s: %s: %s", what, label, msg))
    if msg then bad = bad + 1 end
  end
  return bad
end

local TIMES = {}
local ONLY = os.getenv("EQUIV_ONLY") -- runs only the parts whose names contain it
-- A part that raises an error fails and the suite goes on, and every part's
-- networks are released before the next (on a GPU, a fault leaves its
-- context unusable until every network that holds it is gone).
local function timed(name, fn)
  if ONLY and ONLY ~= "" and not name:find(ONLY, 1, true) then return end
  local t0 = nk.clock()
  local ok, err = pcall(fn)
  T.ok(ok, name .. ": runs to its end: " .. tostring(not ok and err))
  collectgarbage()
  collectgarbage()
  TIMES[#TIMES + 1] = {name, nk.clock() - t0}
  if os.getenv("EQUIV_VERBOSE") then
    io.stderr:write(string.format("  %-60s %6.2f s\n", name, nk.clock() - t0))
  end
end

-- Builds and runs the scenario on the CPU, on CUDA and on CUDA again, and
-- compares. build(backend) returns a recorder after running.
local function scenario(name, build)
  timed(name, function()
    local ok, cpu = pcall(function() return dump(build("cpu")) end)
    T.ok(ok, name .. ": runs on the CPU: " .. tostring(not ok and cpu))
    local ok1, cu1 = pcall(function() return dump(build("cuda")) end)
    T.ok(ok1, name .. ": runs on CUDA: " .. tostring(not ok1 and cu1))
    local ok2, cu2 = pcall(function() return dump(build("cuda")) end)
    T.ok(ok2, name .. ": runs on CUDA again: " .. tostring(not ok2 and cu2))
    if ok and ok1 then same(name .. ": cuda vs cpu", cpu, cu1) end
    if ok1 and ok2 then same(name .. ": cuda run to run", cu1, cu2) end
  end)
end

-- A scenario's spike monitor must see spikes, or comparing it proves little.
local function fires(R, label, what)
  for _, e in ipairs(R.mons) do
    if e.label == label then
      T.ok(e.m:count() > 0, string.format("%s: '%s' fires (%d spikes)", what, label, e.m:count()))
      return
    end
  end
  T.ok(false, what .. ": no monitor " .. label)
end

-- threads: CPU threads (results do not depend on them; the default gives
-- these small networks one)
local function network(backend, o)
  o = o or {}
  return nk.network{backend = backend, dt = o.dt or 0.1, seed = o.seed or 7,
                    precision = o.precision or "float", output = o.output,
                    threads = backend == "cpu" and o.threads or nil}
end

-- per-neuron values lo .. hi, spread evenly
local function spread(n, lo, hi)
  local v = {}
  for i = 1, n do v[i] = lo + (hi - lo) * (i - 1) / math.max(1, n - 1) end
  return v
end

-- ---- the checkpoint scenario's network (also the --resume child's) -------------------------
-- Two populations with recurrent connections of mixed delays, current and
-- spike sources (noise, poisson, callback, spike_times) and every monitor
-- kind; runs for 100 ms in one or several pieces (ms: a list).
local function ckpt_callback(t) return {200, 300 + t, 400, 500 + 2 * t, 600} end
local function ckpt_net(backend, ms, hook)
  local net = network(backend, {seed = 11})
  local R = recorder(net)
  local a = net:population("lif", 60, {name = "a", init = {v = nk.uniform(-70, -52)}})
  local b = net:population("iaf_psc_alpha", 40, {name = "b"})
  net:connect(a, a, {rule = "fixed_indegree", indegree = 8, weight = nk.uniform(-40, 60),
                     delay = nk.uniform(0.1, 4), synapse = "exp_curr", receptor = "r"})
  net:connect(a, b, {rule = "bernoulli", p = 0.2, weight = 80, delay = 1.2})
  net:connect(b, a, {rule = "bernoulli", p = 0.2, weight = -50, delay = 3.3})
  net:source("noise", a, {mean = 700, std = 300, interval = 0.3})
  net:source("poisson", b, {rate = 2500, weight = 60})
  net:source("callback", b:slice(1, 5), {every = 7, fn = ckpt_callback})
  net:source("spike_times", a:slice(1, 3), {times = {{5, 5, 40}, {}, {77.7}}, weight = 900,
                                            receptor = "r"})
  R:mon("spikes a", "spikes", a)
  R:mon("spikes b", "spikes", b)
  R:mon("state a", "state", a:slice(1, 8), {vars = {"v", "r.isyn"}, every = 4})
  R:mon("rate b", "rate", b, {bin = 2})
  R:mon("field a", "field", a, {var = "v", op = "mean", every = 3})
  R:output("output b", b:select{2, 9}, {vars = "v", every = 5})
  for k, d in ipairs(ms) do
    net:run(d)
    if hook then hook(net, k, R) end
  end
  return R
end

-- serialises a dump as a Lua chunk (floats as %q: hexadecimal, exact)
local function serialise(d)
  local parts = {"return {\n"}
  for _, e in ipairs(d) do
    local vals = {}
    for i, x in ipairs(e[2]) do vals[i] = string.format("%q", x) end
    parts[#parts + 1] = string.format("{%q, {%s}},\n", e[1], table.concat(vals, ", "))
  end
  parts[#parts + 1] = "}\n"
  return table.concat(parts)
end

if MODE == "resume" then
  -- --resume loads the checkpoint at this network's first run and shortens
  -- the runs to what was left
  local d = dump(ckpt_net(CHILD_BACKEND, {50, 50}), true)
  local f = assert(io.open(CHILD_DUMP, "w"))
  f:write(serialise(d))
  f:close()
  return
end

-- ============================================================================================
-- Neuron models: each built-in model in its own network, driven by a
-- current spread over its neurons, its receptors by Poisson input of both
-- signs (the model's default receptors where it declares them, else
-- exp_curr), and a recurrent projection. Every state of every neuron is
-- recorded every step.
-- ============================================================================================
--   model, strongest dc (pA; neurons get 50 .. 100 % of it), exc weight, inh weight
local NEURONS = {
  {"lif", 1000, 60, -60},
  {"lif_cond", 500, 2, -4},
  {"iaf", 300, 30, -30},
  {"izhikevich", 10, 2, -2},
  {"adex", 1500, 100, -100},
  {"hh", 10, 2, -2},
  {"hh_traub", 500, 5, -10},
  {"connor_stevens", 20, 2, -2},
  {"morris_lecar", 60, 5, -5, graded = true},
  {"wilson", 20, 2, -2},
  {"rinzel", 10, 2, -2},
  {"poisson", 0, 0, 0, params = {rate = 150}},
  {"iaf_psc_exp", 1000, 60, -60},
  {"iaf_psc_alpha", 1000, 60, -60},
  {"iaf_cond_exp", 500, 2, -4},
  {"aeif_cond_exp", 1500, 2, -4},
  {"hh_psc_alpha", 1000, 60, -60},
}
do
  local covered = {}
  for _, c in ipairs(NEURONS) do covered[c[1]] = true end
  for _, m in ipairs(nk.models("neuron")) do
    T.ok(covered[m], "neuron model '" .. m .. "' has a scenario here")
  end
end
for _, c in ipairs(NEURONS) do
  local model, amp, we, wi = c[1], c[2], c[3], c[4]
  local states = {}
  for s in pairs(nk.model(model).states) do states[#states + 1] = s end
  table.sort(states)
  scenario("neuron " .. model, function(backend)
    local net = network(backend)
    local R = recorder(net)
    local n = 20
    local p = net:population(model, n, {name = model, params = c.params})
    if amp > 0 then
      net:source("array", p, {values = {spread(n, amp / 2, amp)}, after = "hold"})
    end
    if we ~= 0 then
      net:source("poisson", p, {rate = 1500, weight = we})  -- exc
      net:source("poisson", p, {rate = 800, weight = wi})   -- inh
      net:connect(p, p, {rule = "bernoulli", p = 0.3, weight = we, delay = 1})
    end
    R:mon("spikes", "spikes", p)
    if #states > 0 then R:mon("state", "state", p, {vars = states}) end
    net:run(100)
    if backend == "cpu" and not c.graded then fires(R, "spikes", model) end
    return R
  end)
end

-- ============================================================================================
-- Synapse models: a population of driven lif neurons onto one target
-- population per synapse model, through two receptors of that model: one fed
-- positive weights (one equal delay), one negative weights with per-edge
-- delays. Graded synapses between Morris-Lecar neurons (as samples/lamina.lua)
-- and from Morris-Lecar onto spiking neurons.
-- ============================================================================================
local SYNAPSES = {
  -- synapse, exc weight, inh weight, params
  {"delta", 3, -2},
  {"exp_curr", 300, -200},
  {"alpha_curr", 200, -150},
  {"exp_cond", 5, -3, {E_rev = 0}, {E_rev = -80}},
  {"alpha_cond", 4, -3, {E_rev = 0}, {E_rev = -80}},
  {"ampa", 6, -3},
  {"gaba_a", 6, -4, {E_rev = 0}},
  {"gaba_b", 8, -4},
  {"nmda", 8, -4, {Mg = 1.2}},
}
do
  local covered = {power_gpot = true, sigmoid = true}
  for _, c in ipairs(SYNAPSES) do covered[c[1]] = true end
  for _, m in ipairs(nk.models("synapse")) do
    T.ok(covered[m], "synapse model '" .. m .. "' has a scenario here")
  end
end
for _, c in ipairs(SYNAPSES) do
  local syn, we, wi, pe, pi_ = c[1], c[2], c[3], c[4], c[5]
  local svars = {}
  for s in pairs(nk.model(syn).states) do svars[#svars + 1] = s end
  table.sort(svars)
  scenario("synapse " .. syn, function(backend)
    local net = network(backend)
    local R = recorder(net)
    local d = net:population("lif", 30, {name = "drv", init = {v = nk.uniform(-70, -55)}})
    net:source("array", d, {values = {spread(30, 900, 1600)}, after = "hold"})
    local t = net:population("lif", 20, {name = "tgt", init = {v = nk.uniform(-70, -60)},
                                         params = {t_ref = 1}})
    net:source("dc", t, {amplitude = 700})
    net:connect(d, t, {rule = "bernoulli", p = 0.4, weight = we, delay = 0.5, synapse = syn,
                       receptor = "a", params = pe})
    net:connect(d, t, {rule = "bernoulli", p = 0.3, weight = wi, delay = nk.uniform(0.1, 3),
                       synapse = syn, receptor = "b", params = pi_})
    local vars = {"v"}
    for _, s in ipairs(svars) do vars[#vars + 1] = "a." .. s; vars[#vars + 1] = "b." .. s end
    R:mon("spikes drv", "spikes", d)
    R:mon("spikes tgt", "spikes", t)
    R:mon("state tgt", "state", t, {vars = vars})
    net:run(100)
    if backend == "cpu" then fires(R, "spikes tgt", syn) end
    return R
  end)
end

scenario("graded synapses", function(backend)
  local net = network(backend)
  local R = recorder(net)
  local hist = {threshold = -50, slope = 0.02, power = 1, saturation = 0.4, reverse = -80}
  local r = net:population("morris_lecar", 24, {name = "R"})
  local l = net:population("morris_lecar", 4, {name = "L"})
  local s = net:population("lif", 6, {name = "S"})
  net:source("equation", r, {I = "t < 10 ? 0 : 60*exp(-((i - 1) - (t - 10)/4)^2/8)"})
  local pre, post = {}, {}
  for k = 1, 24 do pre[k], post[k] = k, (k - 1) % 4 + 1 end
  net:connect(r, l, {rule = "list", pre = pre, post = post, weight = 5, synapse = "power_gpot",
                     receptor = "hist", params = hist})
  -- a second graded projection onto the same receptor, with a delay
  net:connect(r:slice(1, 8), l, {rule = "all_to_all", weight = 2, delay = 2, synapse = "power_gpot",
                                 receptor = "hist", params = hist})
  -- sigmoid onto spiking neurons, per-edge delays, excitatory and inhibitory
  net:connect(r, s, {rule = "bernoulli", p = 0.5, weight = 30, delay = nk.uniform(0.1, 2.5),
                     synapse = "sigmoid", receptor = "sg",
                     params = {V_half = -40, slope = 5, E_rev = 0}})
  net:connect(l, s, {rule = "all_to_all", weight = 2, synapse = "sigmoid", receptor = "sgi",
                     params = {V_half = -45, slope = 3, E_rev = -80}})
  net:source("dc", s, {amplitude = 300})
  R:mon("R v", "state", r, {vars = {"v", "n"}})
  R:mon("L v", "state", l, {vars = {"v", "n", "hist.g"}})
  R:mon("S", "state", s, {vars = {"v", "sg.g", "sgi.g"}})
  R:mon("spikes S", "spikes", s)
  net:run(100)
  if backend == "cpu" then fires(R, "spikes S", "graded") end
  return R
end)

-- ============================================================================================
-- Solvers: each method on a nonlinear spiking model (adex; izhikevich for
-- exponential_euler, which cannot differentiate adex's guarded dv/dt) and
-- on HH with its sub-steps (max_dt 0.01 at dt 0.1: ten per step), exact on
-- the linear ones; rk45 with tight and loose tolerances.
-- ============================================================================================
-- rk45's first tries overflow here (x' = -1000 x^3 from x = 1 at dt 0.1:
-- NaN in the stages), and are rejected with the step size cut
nk.model{name = "gpu_cubic", states = {x = 1}, params = {b = 1000},
         equations = "dx/dt = -b*x*x*x + I/1000 : 1"}
for _, precision in ipairs{"float", "double"} do
  scenario("solvers (" .. precision .. ")", function(backend)
    local net = network(backend, {precision = precision})
    local R = recorder(net)
    local methods = {"euler", "midpoint", "heun", "rk4", "rk45", "exponential_euler"}
    for _, m in ipairs(methods) do
      local model, amp, vars = "adex", 1600, {"v", "w"}
      if m == "exponential_euler" then model, amp, vars = "izhikevich", 15, {"v", "u"} end
      local a = net:population(model, 8, {name = model .. "_" .. m, method = m})
      net:source("array", a, {values = {spread(8, amp / 2, amp)}, after = "hold"})
      R:mon("spikes nonlinear " .. m, "spikes", a)
      R:mon("state nonlinear " .. m, "state", a, {vars = vars, every = 2})
      local h = net:population("hh", 6, {name = "hh_" .. m, method = m})
      net:source("array", h, {values = {spread(6, 6, 15)}, after = "hold"})
      R:mon("spikes hh " .. m, "spikes", h)
      R:mon("state hh " .. m, "state", h, {vars = {"v", "m", "h", "n"}})
    end
    local loose = net:population("hh", 6, {name = "hh_rk45_loose", method = "rk45", rtol = 1e-3,
                                            atol = 1e-3})
    net:source("array", loose, {values = {spread(6, 6, 15)}, after = "hold"})
    R:mon("spikes hh rk45 loose", "spikes", loose)
    local tight = net:population("adex", 8, {name = "adex_rk45_tight", method = "rk45",
                                             rtol = 1e-9, atol = 1e-9})
    net:source("array", tight, {values = {spread(8, 800, 1600)}, after = "hold"})
    R:mon("spikes adex rk45 tight", "spikes", tight)
    -- 300 HH neurons (a block of 256 and a tail) under rk45, each driven
    -- differently, so that they take different numbers of tries: the CPU
    -- tries a block's neurons in a vectorised loop, those done leaving it,
    -- the emulation and the GPU one neuron at a time
    local many = net:population("hh", 300, {name = "hh_rk45_many", method = "rk45"})
    net:source("array", many, {values = {spread(300, 2, 30)}, after = "hold"})
    net:source("poisson", many, {rate = 2000, weight = 1})
    R:mon("spikes hh rk45 many", "spikes", many)
    R:mon("state hh rk45 many", "state", many, {vars = {"v", "m", "h", "n"}, every = 3})
    local cubic = net:population("gpu_cubic", 300, {name = "cubic_rk45", method = "rk45"})
    net:source("array", cubic, {values = {spread(300, 0, 3000)}, after = "hold"})
    R:mon("state cubic rk45", "state", cubic, {vars = "x", every = 5})
    for _, m in ipairs{"lif", "iaf_psc_exp", "iaf_psc_alpha"} do
      local p = net:population(m, 10, {name = m .. "_exact", method = "exact"})
      net:source("array", p, {values = {spread(10, 600, 1500)}, after = "hold"})
      net:source("poisson", p, {rate = 2000, weight = 40})
      R:mon("spikes " .. m .. " exact", "spikes", p)
      R:mon("state " .. m .. " exact", "state", p, {vars = "v"})
    end
    net:run(60)
    if backend == "cpu" then
      for _, e in ipairs(R.mons) do
        if e.kind == "spikes" then fires(R, e.label, "solvers") end
      end
    end
    return R
  end)
end

-- ============================================================================================
-- The functions of nk_math.h that model code calls, over arguments that take
-- each of their paths (tanh beyond 22 and near 0, log1p near 0, pow of a
-- negative base to an odd power, sinh below 2^-28, sin above 6.7e9, ...). On the CPU they run
-- in the vectorised loop over neurons, each path computed and one selected;
-- in the emulation and on the GPU, one neuron at a time: the same bits. Once
-- in one step and once in sub-steps (2 a step, the CPU's loop of sub-steps
-- over a block), 300 neurons: a block of 256 and a tail.
-- ============================================================================================
local fn_eqs = {
  "dx/dt = 0 : 1",
  "da/dt = (tanh(x) + tanh(x/1000) + tanh(x*1e-12) - a)/tau : 1",
  "db/dt = (log(abs(x) + 1e-310) + log10(abs(x) + 1) + log1p(abs(x)/800 - 0.999) - b)/tau : 1",
  "dc/dt = (sinh(x/100) + cosh(x/100) + sinh(x*1e-12) + cosh(x*1e-12) - c)/tau : 1",
  "dd/dt = (pow(x/100, k) + pow(abs(x)/100 + 0.5, 1/3) + pow(abs(x) + 1, -e) - d)/tau : 1",
  "df/dt = (exp(x/100) + expm1(x/1000) + exprel(x/100) - f)/tau : 1",
  -- the trigonometric functions' reductions: none (below pi/4 and 2^-27),
  -- three pieces of pi/2, seven (above 1.6e6), and modulo 2^32 (6.7e9)
  "dg/dt = (sin(x/1000) + cos(x/3) + tan(x/700) + sin(x*1e-12) + cos(x*1e-12) + " ..
    "tan(x*1e-12) + sin(x*1e5) + cos(x*1e5) + tan(x*1e5) + sin(x*1e9) + cos(x*1e9) + " ..
    "tan(x*1e9) - g)/tau : 1",
}
local fn_states = {x = 0, a = 0, b = 0, c = 0, d = 0, f = 0, g = 0}
nk.model{name = "gpu_fns", params = {tau = 0.3, k = 3, e = 2.5}, states = fn_states,
         equations = fn_eqs, method = "euler"}
nk.model{name = "gpu_fns_sub", params = {tau = 0.3, k = 3, e = 2.5}, states = fn_states,
         equations = fn_eqs, method = "rk4", max_dt = 0.05}

scenario("functions of nk_math.h in model code", function(backend)
  local net = network(backend, {precision = "double"})
  local R = recorder(net)
  for _, m in ipairs{"gpu_fns", "gpu_fns_sub"} do
    local p = net:population(m, 300, {name = m})
    p:set{x = spread(300, -800, 800)}
    R:mon("state " .. m, "state", p, {vars = {"a", "b", "c", "d", "f", "g"}})
  end
  net:run(2)
  return R
end)

-- ============================================================================================
-- Refractoriness: a fixed period, a per-neuron period (an expression of i,
-- and of a state set per neuron), and a condition (Brian2's semantics), in
-- models of the script's own; rand() and randn() in equations, threshold and
-- reset, with euler and with a multi-stage solver.
-- ============================================================================================
nk.model{name = "gpu_refr_i", params = {tau = 10, v_th = -50},
         states = {v = -70},
         equations = "dv/dt = (-70 - v)/tau + I/100 : mV (unless refractory)",
         threshold = "v > v_th", reset = "v = -70", refractory = "0.5 + 0.3*i"}
nk.model{name = "gpu_refr_state", params = {tau = 10},
         states = {v = -70, r_ms = 2},
         equations = "dv/dt = (-70 - v)/tau + I/100 : mV (unless refractory)",
         threshold = "v > -50", reset = "v = -65", refractory = "r_ms"}
nk.model{name = "gpu_refr_cond", params = {tau = 5},
         states = {v = -70, a = 0},
         equations = {"dv/dt = (-70 - v)/tau + I/100 + a : mV (unless refractory)",
                      "da/dt = -a/2 : mV/ms"},
         threshold = "v > -50", reset = {"v = -45", "a = -3"}, refractory = "v > -52"}
nk.model{name = "gpu_noisy", params = {tau = 10, sigma = 4},
         states = {v = -70, u = 0},
         equations = {"dv/dt = (-70 - v + u)/tau + I/100 + sigma*randn()/sqrt(dt) : mV",
                      "du/dt = (rand() - 0.5) - u/20 : mV/ms"},
         threshold = "v > -50 and rand() < 0.8", reset = "v = -70 + 5*rand()", refractory = 1,
         method = "euler"}
-- the same in four sub-steps a step: on the CPU each sub-step a loop over
-- the block of its own, each neuron's place in its stream carried between
-- the loops (codegen.c, emit_substeps_outside)
nk.model{name = "gpu_noisy_sub", params = {tau = 10, sigma = 4},
         states = {v = -70, u = 0},
         equations = {"dv/dt = (-70 - v + u)/tau + I/100 + sigma*randn()/sqrt(dt) : mV",
                      "du/dt = (rand() - 0.5) - u/20 : mV/ms"},
         threshold = "v > -50 and rand() < 0.8", reset = "v = -70 + 5*rand()", refractory = 1,
         method = "heun", max_dt = 0.025}
-- sub-steps that draw nothing, after a draw held over the step and before
-- draws in the threshold and reset (which go on in the neuron's stream
-- after the held one's words)
nk.model{name = "gpu_noisy_sub2", params = {tau = 10, sigma = 4},
         states = {v = -70},
         equations = {"xi = randn() : 1 (constant over dt)",
                      "dv/dt = (-70 - v)/tau + I/100 + sigma*xi/sqrt(dt) : mV"},
         threshold = "v > -50 and rand() < 0.8", reset = "v = -70 + 5*rand()", refractory = 1,
         method = "rk4", max_dt = 0.05}

for _, precision in ipairs{"float", "double"} do
  scenario("refractoriness and rand() (" .. precision .. ")", function(backend)
    local net = network(backend, {precision = precision})
    local R = recorder(net)
    local fixed = net:population("lif", 10, {name = "fixed", params = {t_ref = 3}})
    local per_i = net:population("gpu_refr_i", 10, {name = "per_i"})
    local per_s = net:population("gpu_refr_state", 10, {name = "per_s"})
    per_s:set{r_ms = spread(10, 0.2, 6)}
    local cond = net:population("gpu_refr_cond", 10, {name = "cond"})
    local noisy = net:population("gpu_noisy", 20, {name = "noisy"})
    local noisy4 = net:population("gpu_noisy", 20, {name = "noisy_rk4", method = "rk4"})
    local noisy_sub = net:population("gpu_noisy_sub", 300, {name = "noisy_sub"})
    local noisy_sub2 = net:population("gpu_noisy_sub2", 300, {name = "noisy_sub2"})
    for _, p in ipairs{fixed, per_i, per_s, cond, noisy, noisy4, noisy_sub, noisy_sub2} do
      local lo, hi = 2500, 4000
      if p == fixed then lo, hi = 800, 3000 end
      net:source("array", p, {values = {spread(#p, lo, hi)}, after = "hold"})
      net:source("poisson", p, {rate = 1000, weight = 80, synapse = "exp_curr"})
      R:mon("spikes " .. p.name, "spikes", p)
    end
    R:mon("state cond", "state", cond, {vars = {"v", "a"}})
    R:mon("state noisy", "state", noisy, {vars = {"v", "u"}})
    R:mon("state noisy_rk4", "state", noisy4, {vars = {"v", "u"}})
    R:mon("state noisy_sub", "state", noisy_sub, {vars = {"v", "u"}})
    R:mon("state noisy_sub2", "state", noisy_sub2, {vars = {"v"}})
    net:run(100)
    if backend == "cpu" then
      for _, e in ipairs(R.mons) do
        if e.kind == "spikes" then fires(R, e.label, "refractoriness") end
      end
    end
    return R
  end)
end

-- ============================================================================================
-- Connectivity and delays, every monitor kind, and the results file: each
-- rule; equal delays (one step, several steps), per-edge delays, long
-- delays (the ring many slots long), weights of both signs in one
-- projection, several projections onto one receptor, slices as pre and
-- post, rows long enough for a warp per spike.
-- ============================================================================================
local function circuit(backend, o)
  o = o or {}
  local out = o.output and path(string.format("results_%s.h5", backend))
  local net = network(backend, {precision = o.precision, output = out, seed = 5, dt = o.dt,
                                threads = 3})
  local R = recorder(net)
  if out then R.files[1] = {"results file", out} end
  local a = net:population("lif", 100, {name = "A", init = {v = nk.uniform(-70, -52)},
                                        positions = {kind = "grid", shape = {10, 10, 1},
                                                     spacing = {20, 20, 20}}})
  local b = net:population("lif_cond", 80, {name = "B", init = {v = nk.uniform(-65, -55)}})
  local c = net:population("iaf_psc_exp", 30, {name = "C"})
  net:source("noise", a, {mean = 600, std = 250})
  net:source("poisson", b, {rate = 3000, weight = 1.5})
  net:source("dc", c, {amplitude = 350})
  -- equal delays
  net:connect(a, b, {rule = "bernoulli", p = 0.1, weight = nk.normal(2, 0.5, 0), delay = 1.0})
  net:connect(a, a, {rule = "one_to_one", weight = 20, delay = 0.1})
  -- per-edge delays, both signs in one projection, one receptor
  net:connect(a, a, {rule = "fixed_indegree", indegree = 12, weight = nk.uniform(-60, 80),
                     delay = nk.uniform(0.1, 6), synapse = "exp_curr", receptor = "mix"})
  -- a long delay (the ring longer than 2 slots), inhibition
  net:connect(b, a, {rule = "fixed_outdegree", outdegree = 10, weight = -40, delay = 15,
                     synapse = "exp_curr", receptor = "mix"})
  -- several projections onto one receptor, slices as pre and post
  net:connect(a:slice(1, 40), c:slice(11, 30), {rule = "fixed_total", total = 200, weight = 30,
                                                delay = 2.5})
  net:connect(b:slice(41, 80), c, {rule = "list", pre = {1, 2, 3, 40, 40}, post = {1, 1, 5, 30, 30},
                                   weight = {100, 50, -25, 70, 70}, delay = {0.3, 4, 8.8, 1, 1},
                                   receptor = "exc"})
  net:connect(b:slice(11, 20), c:slice(1, 10), {rule = "one_to_one", weight = 40, delay = 0.7,
                                               receptor = "exc"})
  -- rows of 80: a warp per spike on the device
  net:connect(a, b, {rule = "all_to_all", weight = 0.05, delay = 3, synapse = "exp_cond",
                     receptor = "dense", params = {tau_syn = 3, E_rev = 0}})
  -- by distance
  net:connect(a, a, {rule = "distance", p = "0.5*exp(-d/30)", weight = 15, delay = "0.2 + d/100",
                     synapse = "alpha_curr", receptor = "near"})
  -- by shape, a cone pointing along x
  net:connect(a, a, {rule = "shape", p = 0.6, weight = -25, delay = nk.uniform(0.5, 1.5),
                     shape = {kind = "cone", length = 70, angle = 30, axis = {1, 0, 0}},
                     synapse = "exp_curr", receptor = "mix"})
  R:mon("spikes A", "spikes", a)
  R:mon("spikes B", "spikes", b)
  R:mon("spikes C", "spikes", c:slice(5, 30))
  R:mon("state A", "state", a:slice(1, 10), {vars = {"v", "mix.isyn", "near.isyn"}, every = 3})
  R:mon("state B", "state", b:select{3, 50, 7}, {vars = {"v", "exc.g", "dense.g"}})
  R:mon("rate A", "rate", a, {bin = 2})
  R:mon("rate C", "rate", c:slice(1, 12), {bin = 0.5})
  R:mon("field A", "field", a, {var = "v", op = "mean", every = 2})
  R:mon("field B", "field", b, {var = "dense.g", op = "sum"})
  R:output("output A", a:select{2, 7}, {vars = "v", every = 5})
  R:output("output C", c:slice(3, 5), {vars = {"v", "exc.isyn"}, every = 7})
  for _, d in ipairs(o.ms or {100}) do net:run(d) end
  return R
end

scenario("connectivity, delays and monitors", function(backend)
  local R = circuit(backend)
  if backend == "cpu" then
    fires(R, "spikes A", "circuit")
    fires(R, "spikes B", "circuit")
    fires(R, "spikes C", "circuit")
  end
  return R
end)
scenario("connectivity, delays and monitors (double, dt 0.25)", function(backend)
  return circuit(backend, {precision = "double", dt = 0.25})
end)

-- Sizes: a population over several blocks of threads (600 = 256 + 256 +
-- 88), one of a single neuron, all of a population firing in the same step
-- into one target (600 additions to one ring slot) and into many (rows of
-- 600, a warp per spike), a projection without synapses.
scenario("sizes and synchronous input", function(backend)
  local net = network(backend)
  local R = recorder(net)
  local big = net:population("lif", 600, {name = "big"})
  local one = net:population("lif", 1, {name = "one"})
  local mid = net:population("iaf_psc_alpha", 100, {name = "mid", init = {V_m = nk.uniform(-70, -60)}})
  -- identical neurons under one current: they fire in the same steps
  net:source("dc", big, {amplitude = 1100})
  net:source("dc", one, {amplitude = 1500})
  net:source("dc", mid, {amplitude = 800})
  net:connect(big, one, {rule = "all_to_all", weight = nk.normal(0.5, 2), delay = 1,
                         synapse = "exp_curr", receptor = "many"})
  net:connect(one, big, {rule = "all_to_all", weight = nk.uniform(-300, 300), delay = 0.4,
                         synapse = "exp_curr", receptor = "fan"})
  net:connect(big, mid, {rule = "fixed_indegree", indegree = 150, weight = nk.normal(10, 8),
                         delay = nk.uniform(0.1, 2), synapse = "exp_curr", receptor = "sync"})
  net:connect(mid, big, {rule = "bernoulli", p = 0, weight = 5}) -- no synapses
  R:mon("spikes big", "spikes", big)
  R:mon("spikes one", "spikes", one)
  R:mon("spikes mid", "spikes", mid)
  R:mon("state one", "state", one, {vars = {"v", "many.isyn"}})
  R:mon("state mid", "state", mid:slice(1, 20), {vars = {"V_m", "sync.isyn"}})
  R:mon("field big", "field", big, {var = "fan.isyn", op = "sum"})
  net:run(60)
  if backend == "cpu" then
    fires(R, "spikes big", "sizes")
    fires(R, "spikes mid", "sizes")
  end
  return R
end)

-- Populations of one model and receptors share one update on the device
-- (cuda.c, gen_module) and its per-step constants' code (nk_consts_P), but
-- each has its own parameters, hence its own constants: membrane and
-- synaptic time constants, capacitances and currents all differ here.
scenario("one update, each population its own parameters", function(backend)
  local net = network(backend)
  local R = recorder(net)
  local pops = {}
  for k, p in ipairs{{tau_m = 10, C_m = 250, I_e = 400},
                     {tau_m = 30, C_m = 200, I_e = 420},
                     {tau_m = 17, C_m = 300, I_e = 700}} do
    pops[k] = net:population("lif", 40, {name = "p" .. k, params = p,
                                         init = {v = nk.uniform(-70, -60)}})
  end
  for k = 1, 3 do
    net:connect(pops[k], pops[k % 3 + 1], {rule = "fixed_indegree", indegree = 6,
                                           weight = nk.normal(40, 10), delay = 1,
                                           synapse = "exp_curr", receptor = "in",
                                           params = {tau_syn = 2 * k}})
  end
  for k = 1, 3 do
    R:mon("spikes p" .. k, "spikes", pops[k])
    R:mon("state p" .. k, "state", pops[k]:slice(1, 5), {vars = {"v", "in.isyn"}})
  end
  net:run(80)
  if backend == "cpu" then
    for k = 1, 3 do fires(R, "spikes p" .. k, "own parameters") end
  end
  return R
end)

-- A connectome edge list with both signs (two projections) and ids.
do
  local csv = path("edges.csv")
  local f = assert(io.open(csv, "w"))
  f:write("pre_root_id,post_root_id,syn_count,nt_type\n")
  local ids = {}
  for k = 1, 80 do ids[k] = 720575940000000000 + 7919 * k end
  local x = 12345
  for _ = 1, 700 do
    x = (x * 1103515245 + 12345) % 2147483648
    local i, j = x % 80 + 1, (x // 80) % 80 + 1
    local nt = ({"ACH", "GABA", "GLUT", "ACH", "DA"})[(x // 6400) % 5 + 1]
    f:write(string.format("%d,%d,%d,%s\n", ids[i], ids[j], (x // 32000) % 9 + 1, nt))
  end
  f:close()
  scenario("edges", function(backend)
    local net = network(backend)
    local R = recorder(net)
    local E = nk.read_edges(csv)
    local brain = net:population("lif", E.nids, {name = "brain", ids = E,
                                                 init = {v = nk.uniform(-70, -55)}})
    local exc, inh = net:connect(brain, brain, {edges = E, weight = 40, delay = 1.8})
    T.ok(exc ~= nil and inh ~= nil, "edges: two projections")
    E:free()
    net:source("noise", brain, {mean = 800, std = 300})
    R:mon("spikes", "spikes", brain)
    R:mon("state", "state", brain:slice(1, 10), {vars = {"v", "exc.isyn", "inh.isyn"}})
    net:run(60)
    if backend == "cpu" then fires(R, "spikes", "edges") end
    return R
  end)
end

-- Changes between runs: sources set and removed, spike input into a
-- receptor the device already has and into a new one, states set, a
-- projection and monitors added.
scenario("changes between runs", function(backend)
  local net = network(backend)
  local R = recorder(net)
  local a = net:population("lif", 40, {name = "a", init = {v = nk.uniform(-70, -55)}})
  local b = net:population("lif", 30, {name = "b"})
  net:connect(a, b, {rule = "bernoulli", p = 0.3, weight = 300, delay = 2})
  local dc = net:source("dc", a, {amplitude = 900})
  local po = net:source("poisson", b, {rate = 500, weight = 100})
  R:mon("spikes a", "spikes", a)
  R:mon("spikes b", "spikes", b)
  net:run(30)
  dc:set{amplitude = 1300}
  po:set{rate = 2000}
  a:slice(1, 10):set{v = -52}
  net:source("spike_times", b:slice(1, 5), {times = {35, 36, 50}, weight = 2000})
  net:source("bernoulli", a, {p = 0.05, weight = 500, receptor = "late"})
  R:mon("state b", "state", b:slice(1, 6), {vars = {"v", "exc.isyn"}, every = 2})
  net:run(30)
  dc:remove()
  po:set{weight = 300}
  net:connect(b, a, {rule = "fixed_indegree", indegree = 3, weight = -200, delay = 1.5})
  R:mon("state a", "state", a:slice(1, 6), {vars = {"v", "late.isyn", "inh.isyn"}})
  net:run(40)
  return R
end)

-- the results file, dataset by dataset (the attribute naming the backend
-- aside, if the file has one)
-- the same with a results file, compared dataset by dataset
scenario("results file", function(backend)
  return circuit(backend, {output = true})
end)

-- ============================================================================================
-- Steps that need nothing of the host: no sources (constant currents are
-- parameters, random input comes from a population of the poisson model),
-- spike monitors only, or a state monitor that samples rarely. The device
-- then runs up to 64 steps ahead and the host fetches the recorded spikes in
-- batches. Runs of lengths that are not multiples of 64 steps, a rolling
-- checkpoint taken during a run, a results file.
-- ============================================================================================
local function quiet_net(backend, ms, o)
  o = o or {}
  local net = network(backend, {seed = 21, output = o.files and path("quiet_" .. backend .. ".h5"),
                                threads = 4})
  local R = recorder(net)
  if o.files then R.files[1] = {"results file", net.output} end
  local a = net:population("lif", 300, {name = "a", params = {I_e = 500},
                                        init = {v = nk.uniform(-70, -55)}})
  local b = net:population("izhikevich", 50, {name = "b", params = {I_e = 20}})
  local noise = net:population("poisson", 40, {name = "noise", params = {rate = 200}})
  net:connect(noise, a, {rule = "fixed_outdegree", outdegree = 30, weight = 300, delay = 0.2,
                         synapse = "exp_curr", receptor = "r"})
  net:connect(a, a, {rule = "fixed_indegree", indegree = 20, weight = nk.uniform(-30, 40),
                     delay = nk.uniform(0.1, 8), synapse = "exp_curr", receptor = "r"})
  net:connect(a, b, {rule = "bernoulli", p = 0.1, weight = 2, delay = 2})
  net:connect(b, a, {rule = "all_to_all", weight = -15, delay = 0.5, synapse = "exp_curr",
                     receptor = "i"})
  R:mon("spikes a", "spikes", a:slice(11, 260))
  R:mon("spikes a, four", "spikes", a:select{1, 5, 100, 299})
  R:mon("spikes b", "spikes", b)
  if o.sample then
    R:mon("state b", "state", b:slice(1, 4), {vars = {"v", "u"}, every = 37})
    R:mon("field a", "field", a, {var = "r.isyn", op = "sum", every = 100})
  end
  for k, d in ipairs(ms) do
    if o.files and k == 2 then
      net:run(d, {checkpoint_every = 30, checkpoint = R:file("rolling checkpoint")})
    else
      net:run(d)
    end
  end
  return R
end
local QUIET_MS = {23.3, 100, 0.1, 76.6}
scenario("steps on the device alone", function(backend)
  local R = quiet_net(backend, QUIET_MS, {files = true})
  if backend == "cpu" then
    fires(R, "spikes a", "device alone")
    fires(R, "spikes b", "device alone")
  end
  return R
end)
scenario("steps on the device alone, a state monitor every 37 steps", function(backend)
  return quiet_net(backend, QUIET_MS, {sample = true})
end)

-- ============================================================================================
-- Sources: every kind, each on its own population, with start and stop.
-- The callback reads no states: on CUDA, pop:get during a run gives the
-- states of the run's start (docs/cuda.md, "What runs where"),
-- on the CPU the current ones.
-- ============================================================================================
scenario("sources", function(backend)
  local net = network(backend)
  local R = recorder(net)
  local n = 10
  local function pop(name)
    local p = net:population("lif", n, {name = name, init = {v = nk.uniform(-70, -60)}})
    R:mon("spikes " .. name, "spikes", p)
    return p
  end
  net:source("dc", pop("dc"), {amplitude = 1200, start = 10, stop = 60})
  net:source("step", pop("step"), {times = {5, 30.04, 70}, amplitudes = {800, 1500, 0}})
  net:source("ramp", pop("ramp"), {from = 0, to = 3000, start = 5, stop = 80})
  net:source("ac", pop("ac"), {amplitude = 800, frequency = 40, phase = 30, offset = 900,
                               start = 3, stop = 90})
  net:source("noise", pop("noise"), {mean = 900, std = 400, interval = 0.5, start = 2.05,
                                     stop = 95})
  local rows = {}
  for r = 1, 12 do rows[r] = spread(n, 500 + 100 * r, 700 + 150 * r) end
  net:source("array", pop("array"), {values = rows, interval = 5, after = "hold", start = 1})
  net:source("equation", pop("equation"), {I = "900 + 300*sin(2*pi*t/20 + i) + 400*randn()",
                                           start = 4, stop = 88})
  net:source("callback", pop("callback"), {every = 3, start = 2, fn = function(t)
    local v = {}
    for i = 1, n do v[i] = 1000 + 20 * i + 400 * math.sin(t / 7) end
    return v
  end})
  local gpop = pop("global")
  net:source("dc", gpop, {amplitude = 950})
  net:source("poisson", pop("poisson"), {rate = 3000, weight = 150, start = 5, stop = 80})
  net:source("bernoulli", pop("bernoulli"), {p = 0.3, weight = 300, synapse = "alpha_curr",
                                             receptor = "b", start = 10, stop = 70})
  local times = {}
  for i = 1, n do times[i] = {5, 5, 12.25 + i, 33.3, 95, 99.99} end
  net:source("spike_times", pop("spike_times"), {times = times, weight = 20000, receptor = "st",
                                                 synapse = "exp_curr", start = 6, stop = 96})
  -- on every neuron of the network: a sine and an expression of t
  net:source("global", {amplitude = 60, frequency = 25, phase = 10, start = 20})
  net:source("global", {I = "t < 50 ? 0 : 30*cos(2*pi*t/10)", stop = 90})
  R:mon("state global", "state", gpop, {vars = "v"})
  net:run(100)
  if backend == "cpu" then
    for _, e in ipairs(R.mons) do
      if e.kind == "spikes" then fires(R, e.label, "sources") end
    end
  end
  return R
end)

-- ============================================================================================
-- Sources on the device: with no source that needs the host (callbacks, a
-- global expression), spike times are added on the device (nk_stimes_k)
-- and every current is
-- computed on the device (nk_cur_k), added in the host's order: several
-- sources on one neuron (float sums depend on the order), lists out of
-- order, every kind with a window, equations (of x, y, i, N, t and random
-- numbers), numbers
-- changed by Lua in an output function during a run and between runs, a
-- source removed. In double too (the sums in double).
-- ============================================================================================
for _, precision in ipairs{"float", "double"} do
  scenario("current and spike-time sources on the device (" .. precision .. ")", function(backend)
    local net = network(backend, {precision = precision, seed = 11})
    local R = recorder(net)
    local n = 12
    local a = net:population("lif", n, {name = "a", init = {v = nk.uniform(-70, -60)}})
    local b = net:population("iaf_psc_exp", n, {name = "b"})
    local c = net:population("lif", 30, {name = "c", init = {v = nk.uniform(-70, -60)},
                                         positions = {kind = "grid", shape = {5, 6, 1},
                                                      spacing = {15, 15, 15}}})
    local dc = net:source("dc", a, {amplitude = 700.3, start = 10, stop = 160})
    net:source("step", a:select{3, 1, 12}, {times = {5, 30.04, 70}, amplitudes = {400.7, 900, 0}})
    local ramp = net:source("ramp", b, {from = 100, to = 1900, start = 5, stop = 80})
    local ac = net:source("ac", a:slice(2, 9), {amplitude = 300, frequency = 40, phase = 30,
                                                 offset = 100.1, start = 3, stop = 190})
    local noise = net:source("noise", b:slice(4, 12), {mean = 500, std = 300, interval = 0.5,
                                                       start = 2.05, stop = 150})
    net:source("noise", c, {mean = 650, std = 500})
    local rows = {}
    for r = 1, 12 do rows[r] = spread(n, 300 + 100 * r, 500 + 150 * r) end
    net:source("array", b, {values = rows, interval = 5, after = "hold", start = 1})
    net:source("array", a:select{7, 2}, {values = {{800}, {1200}, {100}}, interval = 20})
    local gone = net:source("dc", c:slice(1, 15), {amplitude = 250})
    net:source("global", {amplitude = 60, frequency = 25, phase = 10, start = 20})
    net:source("equation", c:slice(5, 25), {I = "300 + 200*sin(2*pi*t/15 + x/30 - y/50) + " ..
                                             "150*randn() + 3*i - N", start = 4, stop = 170})
    net:source("equation", a, {I = "100*cos(t/9 + i) + 50*rand()"})
    net:source("poisson", c, {rate = 4000, weight = 40})
    local times = {}
    for i = 1, 10 do times[i] = {5, 5, 12.25 + i, 33.3, 95, 99.99, 130, 130.05} end
    local st = net:source("spike_times", c:select{30, 2, 9, 11, 12, 13, 14, 15, 16, 1},
                          {times = times, weight = 9000, receptor = "st", synapse = "exp_curr",
                           start = 6, stop = 180})
    net:source("spike_times", b:slice(1, 3), {times = {{1, 1, 1}, {50}, {2, 150.3}}, weight = 30000})
    net:connect(c, a, {rule = "fixed_indegree", indegree = 5, weight = 30, delay = 1})
    for _, pp in ipairs{a, b, c} do R:mon("spikes " .. pp.name, "spikes", pp) end
    R:mon("state a", "state", a, {vars = "v"})
    R:mon("state b", "state", b:select{9, 4}, {vars = "V_m", every = 2})
    net:monitor("output", a:select{1}, {vars = "v", every = 400, fn = function(t)
      dc:set{amplitude = 700.3 + 2 * t}
      ac:set{frequency = 40 + t / 10}
      st:set{weight = 9000 + 10 * t}
    end})
    net:run(100)
    ramp:set{from = 1900, to = 50, stop = 190}
    st:set{weight = 12000}
    noise:set{std = 100}
    net:run(60)
    gone:remove()
    net:run(40)
    if backend == "cpu" then
      fires(R, "spikes a", "device currents")
      fires(R, "spikes b", "device currents")
      fires(R, "spikes c", "device currents")
    end
    return R
  end)
end

-- ============================================================================================
-- Drawn sources (poisson, bernoulli): drawn on the device in one launch per
-- step, from a plan the host sends again when Lua changes a rate, a p or a
-- weight (between runs, or in a callback during one); lists of neurons out
-- of order; a mean of 10 or more per step (PTRS); a source removed.
-- ============================================================================================
scenario("drawn sources", function(backend)
  local net = network(backend, {seed = 3})
  local R = recorder(net)
  local p = net:population("lif", 300, {name = "p", params = {v_rest = -65, v_reset = -65,
                                                              v_thresh = -50, t_ref = 2}})
  local q = net:population("lif", 70, {name = "q", params = {v_rest = -65, v_thresh = -50}})
  local a = net:source("poisson", p, {rate = 20000, weight = 30})
  local b = net:source("poisson", p:select{5, 1, 299, 250, 64}, {rate = 2e5, weight = 10,
                                                                 start = 30, stop = 150})
  local c = net:source("bernoulli", p:slice(100, 200), {p = 0.1, weight = 50})
  local big = net:source("poisson", p:slice(1, 50), {rate = 3e5, weight = 1})
  net:source("poisson", q, {rate = 9000, weight = 40, synapse = "exp_curr", receptor = "x",
                            params = {tau_syn = 2}})
  net:connect(p, p, {rule = "bernoulli", p = 0.05, weight = 20, delay = 1})
  net:connect(p, q, {rule = "fixed_indegree", indegree = 10, weight = 15, delay = 2})
  R:mon("spikes p", "spikes", p)
  R:mon("spikes q", "spikes", q)
  net:monitor("output", p:select{1}, {vars = "v", every = 500, fn = function(t)
    a:set{rate = 20000 + 100 * t}
  end})
  net:run(100)
  a:set{rate = 5000}
  c:set{p = 0.3}
  b:set{weight = 25}
  net:run(100)
  big:remove()
  net:run(50)
  if backend == "cpu" then
    fires(R, "spikes p", "drawn sources")
    fires(R, "spikes q", "drawn sources")
  end
  return R
end)

-- Currents of two kernels in one step: a population with a noise source
-- (nk_cur_heavy_k, the noise's normal draws) and one with a dc, a step and
-- a sine only (nk_cur_k).
scenario("currents with noise and without in one step", function(backend)
  local net = network(backend, {seed = 13})
  local R = recorder(net)
  local a = net:population("lif", 40, {name = "a", init = {v = nk.uniform(-70, -60)}})
  local b = net:population("lif", 40, {name = "b", init = {v = nk.uniform(-70, -60)}})
  net:source("dc", a, {amplitude = 500})
  net:source("step", a:slice(1, 20), {times = {10, 30}, amplitudes = {400, 0}})
  net:source("ac", a, {amplitude = 200, frequency = 30})
  net:source("dc", b, {amplitude = 300})
  net:source("noise", b, {mean = 400, std = 400})
  net:connect(a, b, {rule = "bernoulli", p = 0.2, weight = 30, delay = 1})
  R:mon("spikes a", "spikes", a)
  R:mon("spikes b", "spikes", b)
  R:mon("v b", "state", b:slice(1, 5), {vars = "v", every = 7})
  net:run(60)
  if backend == "cpu" then
    fires(R, "spikes a", "currents with noise and without")
    fires(R, "spikes b", "currents with noise and without")
  end
  return R
end)

-- A rate raised past the table's reach in a run, and lowered again, by a
-- callback: a step then launches nk_draw_big_k (PTRS) too, or no longer
-- does, so the steps recorded as a graph are recorded again.
scenario("drawn source past a mean of 10 a step in a run", function(backend)
  local net = network(backend, {seed = 11})
  local R = recorder(net)
  local p = net:population("lif", 60, {name = "p", params = {v_rest = -65, v_reset = -65,
                                                             v_thresh = -50, t_ref = 2}})
  local s = net:source("poisson", p, {rate = 3000, weight = 3})
  net:connect(p, p, {rule = "bernoulli", p = 0.1, weight = 10, delay = 1})
  R:mon("spikes p", "spikes", p)
  -- 15 ms at a mean of 0.3 a step, then 15 at 20 (PTRS), and so on
  net:monitor("output", p:select{1}, {vars = "v", every = 150, fn = function(t)
    s:set{rate = math.floor(t / 15 + 0.5) % 2 == 1 and 2e5 or 3000}
  end})
  net:run(90)
  if backend == "cpu" then fires(R, "spikes p", "drawn source past a mean of 10") end
  return R
end)

-- ============================================================================================
-- Runs in pieces, checkpoints, restoring across backends.
-- ============================================================================================
-- run 50 + run 50 on CUDA is run 100 on CUDA (and on the CPU); a network
-- restored on CUDA from a CUDA checkpoint continues as the straight run
timed("runs in pieces", function()
  local straight = dump(ckpt_net("cuda", {100}))
  same("run 50 + 50 on cuda vs run 100 on cuda", straight, dump(ckpt_net("cuda", {50, 50})))
  same("run 30 + 20 + 50 on cuda vs run 100 on cuda", straight,
       dump(ckpt_net("cuda", {30, 20, 50})))
  same("run 100 on cpu vs run 100 on cuda", straight, dump(ckpt_net("cpu", {100})))
  local q = dump(quiet_net("cuda", {200}))
  same("device alone: run 23.3 + 100 + 0.1 + 76.6 on cuda vs run 200 on cuda", q,
       dump(quiet_net("cuda", QUIET_MS)))
  same("device alone: run 6.4 x 31 + 1.6 on cuda vs run 200 on cuda", q,
       dump(quiet_net("cuda", {6.4, 6.4, 6.4, 6.4, 6.4, 6.4, 6.4, 6.4, 6.4, 6.4, 6.4, 6.4, 6.4,
                               6.4, 6.4, 6.4, 6.4, 6.4, 6.4, 6.4, 6.4, 6.4, 6.4, 6.4, 6.4, 6.4,
                               6.4, 6.4, 6.4, 6.4, 6.4, 1.6})))
end)

-- resumes the checkpoint ck on backend in a child nkshell (--resume), and
-- returns the dump the child wrote
local function resume_on(backend, ck)
  local out = path("resume_" .. backend .. ".lua")
  local cmd = string.format("'%s' --resume '%s' '%s' resume %s '%s' 2>&1", NKSHELL, ck, arg[0],
                            backend, out)
  local p = io.popen(cmd)
  local log = p:read("a")
  local ok = p:close()
  T.ok(ok, "the --resume run on " .. backend .. " succeeds: " .. log)
  if not ok then return nil end
  return dofile(out)
end

timed("checkpoints across backends", function()
  -- the reference: 50 ms, output functions' lists emptied (a restored or
  -- resumed network calls them only from the checkpoint on), 50 ms
  local straight = dump(ckpt_net("cpu", {50, 50}, function(_, k, R)
    if k == 1 then R:forget() end
  end), true)
  for _, from in ipairs{"cuda", "cpu"} do
    local ck = path("ck_" .. from .. ".h5")
    -- a checkpoint in the middle does not perturb the run
    local R1
    local through = dump(ckpt_net(from, {50, 50}, function(net, k, R)
      if k == 1 then net:checkpoint(ck); R:forget(); R1 = R end
    end), true)
    same("checkpoint taken during a " .. from .. " run: the run vs one without", straight, through)
    -- nk.restore continues on the backend the checkpoint was written with
    local ok, r = pcall(nk.restore, ck)
    T.ok(ok, "nk.restore of the " .. from .. " checkpoint: " .. tostring(not ok and r))
    if ok then
      T.eq(r.backend, from, "nk.restore keeps the backend")
      local R2 = R1:adopt(r)
      r:sources()[3]:set_fn(ckpt_callback)
      r:run(50)
      same("checkpoint on " .. from .. ", nk.restore, run on " .. from, straight, dump(R2, true))
    end
    -- --resume continues on the backend the script asks for
    for _, to in ipairs{"cpu", "cuda"} do
      local d = resume_on(to, ck)
      if d then
        same(string.format("checkpoint on %s, --resume on %s", from, to), straight, d)
      end
    end
  end
end)

-- ============================================================================================
-- A model that diverges: the same message on both backends, what was
-- recorded kept, and the session goes on.
-- ============================================================================================
nk.model{name = "gpu_blowup", params = {c = 5}, states = {v = 1},
         equations = "dv/dt = v*v/c : 1", method = "euler"}
-- host: the host takes part in every step (a callback source); else the
-- device runs ahead and the host finds the divergence up to 64 steps later.
-- The monitors on the device sample every step, so that the step that
-- diverged is sampled (before its update, as on the host) and none after.
for _, host in ipairs{true, false} do
  local what = host and "divergence (host every step)" or "divergence (device alone)"
  timed(what, function()
    local got = {}
    for _, backend in ipairs{"cpu", "cuda", "cuda"} do
      local net = network(backend)
      local R = recorder(net)
      local calm = net:population("lif", 10, {name = "calm", params = {I_e = host and 0 or 1200}})
      local p = net:population("gpu_blowup", 12, {name = "boom", init = {v = spread(12, 0.02, 0.09)}})
      R:mon("spikes calm", "spikes", calm)
      R:mon("state boom, every step", "state", p, {vars = "v"})
      R:mon("field boom", "field", p, {var = "v", op = "sum"})
      R:mon("rate calm", "rate", calm, {bin = 0.1})
      if host then
        net:source("callback", calm, {fn = function()
          local v = {}
          for i = 1, 10 do v[i] = 1200 end
          return v
        end})
        R:mon("state boom", "state", p, {vars = "v", every = 5})
      end
      local ok, err = pcall(net.run, net, 100)
      local t1 = net.t
      local ok2, err2 = pcall(net.run, net, 10)
      got[#got + 1] = {err = tostring(err), err2 = tostring(err2), ok = ok, ok2 = ok2, t1 = t1,
                       d = dump(R)}
    end
    T.ok(not got[1].ok, what .. ": the model diverges on the CPU")
    T.ok(got[1].err:find("boom", 1, true) ~= nil, what .. ": the message names the population: " ..
         got[1].err)
    T.ok(got[1].t1 > 6.4, what .. ": diverges after the first 64 steps, at " .. got[1].t1)
    for k = 2, 3 do
      T.eq(got[k].ok, false, what .. ": the model diverges on CUDA")
      T.eq(got[k].err, got[1].err, what .. ": CUDA's message is the CPU's")
      T.eq(got[k].t1, got[1].t1, what .. ": net.t after the divergence")
      T.eq(got[k].ok2, got[1].ok2, what .. ": running on after it, as on the CPU")
      T.eq(got[k].err2, got[1].err2, what .. ": running on after it, the same message")
      same(what .. ": what was recorded and the state, cuda vs cpu", got[1].d, got[k].d)
    end
  end)
end
timed("a session goes on after a divergence", function()
  local net = network("cuda")
  local p = net:population("lif", 5)
  net:source("dc", p, {amplitude = 1000})
  local s = net:monitor("spikes", p)
  local ok = pcall(net.run, net, 20)
  T.ok(ok and s:count() > 0, "a CUDA network runs after a divergence")
  net:close()
end)

-- A per-neuron refractory period below 0 ms (from t = 5 ms, on the third
-- neuron) or NaN (on the second) stops the run as a divergence does: the
-- same message on both backends, at the same step, with the same spikes kept.
nk.model{name = "gpu_refr_neg", states = {x = 0}, equations = "dx/dt = 1",
         threshold = "x > 0", reset = "x = 0", refractory = "t < 5 ? 1 : 1 - i"}
nk.model{name = "gpu_refr_nan", states = {x = 0}, equations = "dx/dt = 1",
         threshold = "x > 0", reset = "x = 0", refractory = "t < 5 ? 1 : (i - 1) / (i - 1)"}
for _, model in ipairs{"gpu_refr_neg", "gpu_refr_nan"} do
  timed("a refractory period that is " .. (model == "gpu_refr_neg" and "negative" or "NaN"),
        function()
    local got = {}
    for _, backend in ipairs{"cpu", "cuda"} do
      local net = network(backend)
      local p = net:population(model, 3, {name = "r"})
      local s = net:monitor("spikes", p)
      local ok, err = pcall(net.run, net, 20)
      got[#got + 1] = {ok = ok, err = tostring(err), t = net.t, n = s:count()}
      net:close()
    end
    T.ok(not got[1].ok and got[1].err:find("refractory period", 1, true) ~= nil,
         model .. ": the CPU stops, naming the refractory period: " .. got[1].err)
    T.eq(got[2].ok, false, model .. ": CUDA stops too")
    T.eq(got[2].err, got[1].err, model .. ": CUDA's message is the CPU's")
    T.eq(got[2].t, got[1].t, model .. ": net.t after it")
    T.eq(got[2].n, got[1].n, model .. ": the spikes kept")
  end)
end

-- ============================================================================================
-- Device memory: a network that does not fit is refused before anything is
-- allocated, with both sizes; "auto" then runs it on the CPU and says why,
-- once; monitors added after the build must fit too. NKSHELL_CUDA_MEMORY caps
-- what a network may plan to use, so these run on any device and under the
-- emulation: each case is a child nkshell with the variable set. The network
-- (2,000 neurons, 200,000 synapses, a spike monitor) needs about 3.7 MB.
-- ============================================================================================
local MEM_CHILD = [==[
local backend = ...
local net = nk.network{backend = backend, seed = 7}
local a = net:population("lif", 2000, {name = "a", init = {v = nk.uniform(-70, -50)}})
net:source("dc", a, {amplitude = 500})
net:connect(a, a, {rule = "fixed_indegree", indegree = 100, weight = 1})
local s = net:monitor("spikes", a)
local function report(tag, ok, err)
  print(string.format("%s|%s|%s|%s|%g|%d", tag, tostring(ok), tostring(err), net.backend, net.t,
                      s:count()))
end
report("first", pcall(net.run, net, 10))
print("print|" .. tostring(net):match("backend [^\n]*"))
net:monitor("state", a, {vars = {"v"}, every = 1})
report("second", pcall(net.run, net, 10))
report("third", pcall(net.run, net, 10))
]==]

local function mem_child(backend, cap)
  local script = path("mem_child.lua")
  local f = assert(io.open(script, "w"))
  f:write(MEM_CHILD)
  f:close()
  local errf = path("mem_child.err")
  local p = io.popen(string.format("NKSHELL_CUDA_MEMORY='%s' '%s' '%s' %s 2>'%s'", cap, NKSHELL,
                                   script, backend, errf))
  local out = {text = p:read("a")}
  out.exit = p:close()
  local e = io.open(errf)
  out.err = e and e:read("a") or ""
  if e then e:close() end
  for line in out.text:gmatch("[^\n]+") do
    local tag, rest = line:match("^(%a+)|(.*)$")
    if tag == "print" then
      out.print = rest
    elseif tag then
      local ok, err, be, t, n = rest:match("^(%a+)|(.*)|(%a+)|([%d.]+)|(%d+)$")
      out[tag] = {ok = ok == "true", err = err, backend = be, t = tonumber(t), n = tonumber(n)}
    end
  end
  return out
end

timed("device memory", function()
  -- the reference: the same network on the CPU, in this process
  local ref = {}
  do
    local net = nk.network{backend = "cpu", seed = 7}
    local a = net:population("lif", 2000, {name = "a", init = {v = nk.uniform(-70, -50)}})
    net:source("dc", a, {amplitude = 500})
    net:connect(a, a, {rule = "fixed_indegree", indegree = 100, weight = 1})
    local s = net:monitor("spikes", a)
    for k = 1, 3 do net:run(10); ref[k] = s:count() end
    net:close()
  end
  T.ok(ref[1] > 0 and ref[3] > ref[2], "device memory: the network fires (" .. ref[1] .. ")")
  local NEED = "the network needs about (%d+%.%d) MB of GPU memory, more than " ..
               "NKSHELL_CUDA_MEMORY allows %(1%.0 MB%)"

  -- backend "cuda": refused at the first run, before a step, with both sizes
  local c = mem_child("cuda", "1M")
  T.ok(c.exit, "cuda, 1M: the script ends normally: " .. c.err)
  T.eq(c.first and c.first.ok, false, "cuda, 1M: the first run is refused")
  local need = c.first and tonumber(c.first.err:match(NEED))
  T.ok(need and need > 1 and need < 10, "cuda, 1M: the message gives both sizes: " ..
       tostring(c.first and c.first.err))
  T.ok(c.first and c.first.err:find('use backend = "cpu"', 1, true) ~= nil,
       "cuda, 1M: the message says what to do")
  T.eq(c.first and c.first.backend, "cuda", "cuda, 1M: the network stays on cuda")
  T.eq(c.first and c.first.t, 0, "cuda, 1M: no step was taken")

  -- backend "auto": the CPU, the same spikes as there, and the reason once
  local au = mem_child("auto", "1M")
  T.ok(au.exit, "auto, 1M: the script ends normally: " .. au.err)
  for k, tag in ipairs{"first", "second", "third"} do
    local r = au[tag] or {}
    T.ok(r.ok, "auto, 1M: run " .. k .. " runs: " .. tostring(r.err))
    T.eq(r.backend, "cpu", "auto, 1M: run " .. k .. " on the CPU")
    T.eq(r.n, ref[k], "auto, 1M: run " .. k .. ": the CPU's spikes")
  end
  local _, told = au.err:gsub('nkshell: backend "auto" runs this network on the CPU: ' ..
                              NEED:gsub("%%%(", "%%("), "")
  T.eq(told, 1, "auto, 1M: stderr says why, once: " .. au.err)
  T.ok(au.print and au.print:find("not the GPU: the network needs about", 1, true) ~= nil,
       "auto, 1M: print(net) says why: " .. tostring(au.print))

  -- room for the network, not for a state monitor added after its first run
  -- (1,000 rows of 2,000 floats... 66 rows of 2,000 floats: 528 kB)
  local m = mem_child("cuda", "4M")
  T.ok(m.exit, "cuda, 4M: the script ends normally: " .. m.err)
  T.ok(m.first and m.first.ok, "cuda, 4M: the network fits: " .. tostring(m.first and m.first.err))
  T.eq(m.first and m.first.n, ref[1], "cuda, 4M: the CPU's spikes")
  for _, tag in ipairs{"second", "third"} do
    local r = m[tag] or {}
    T.eq(r.ok, false, "cuda, 4M: the " .. tag .. " run, with the monitor, is refused")
    T.ok(r.err and r.err:find("the monitors added since the network was built need about " ..
                              "528.0 kB of GPU memory, more than NKSHELL_CUDA_MEMORY allows " ..
                              "(4.0 MB, of which the network uses ", 1, true) ~= nil and
         r.err:find("sample less often (option 'every')", 1, true) ~= nil,
         "cuda, 4M: the " .. tag .. " run's message: " .. tostring(r.err))
    T.eq(r.backend, "cuda", "cuda, 4M: a refused monitor does not change the backend")
    T.eq(r.t, 10, "cuda, 4M: the " .. tag .. " run took no step")
    T.eq(r.n, ref[1], "cuda, 4M: the " .. tag .. " run keeps the spikes")
  end
  -- the same cap written other ways; with room for the monitor too
  for _, cap in ipairs{"4000000", "4MB", "4e6", "4000k"} do
    local r = mem_child("cuda", cap)
    T.ok(r.first and r.first.ok and r.second and not r.second.ok,
         "cuda, " .. cap .. ": read as 4M: " .. tostring(r.second and r.second.err))
  end
  local big = mem_child("cuda", "5M")
  T.ok(big.third and big.third.ok and big.third.n == ref[3],
       "cuda, 5M: the monitor fits, and the spikes are the CPU's: " ..
       tostring(big.third and (big.third.err .. " " .. big.third.n)))
  -- values that are not sizes
  for _, cap in ipairs{"lots", "0", "-4M", "4X", "0.5", "nan"} do
    local r = mem_child("cuda", cap)
    T.ok(r.first and not r.first.ok and r.first.err:find(
           "NKSHELL_CUDA_MEMORY: expected a size in bytes of at least 1, such as 8G, 512M or " ..
           "1000000, got '" .. cap .. "'", 1, true) ~= nil,
         "cuda, '" .. cap .. "': refused, naming the variable: " ..
         tostring(r.first and r.first.err))
  end
end)

-- ============================================================================================
-- Profiling and printing on CUDA.
-- ============================================================================================
timed("profile and print", function()
  local prof = {}
  for _, backend in ipairs{"cpu", "cuda"} do
    local net = network(backend)
    local a = net:population("lif", 50, {name = "a", init = {v = nk.uniform(-70, -52)}})
    net:source("dc", a, {amplitude = 900})
    net:connect(a, a, {rule = "bernoulli", p = 0.2, weight = 20, delay = 1})
    net:monitor("spikes", a)
    net:run(20, {profile = true})
    prof[backend] = net:profile()
    if backend == "cuda" then
      local text = tostring(net)
      T.eq(net.backend, "cuda", "net.backend")
      local dev = text:match("backend cuda %(([^)]*)%)")
      T.ok(dev ~= nil and #dev > 0, "print(net) names the device: " .. text:match("[^\n]*\n[^\n]*"))
      if EMULATED then
        T.eq(dev:match("^[^;]*"), "host emulation", "print(net) under NKSHELL_CUDA=emulate")
      else
        T.ok(dev and dev:find("sm_%d+") ~= nil, "print(net) gives the device's architecture: " ..
             tostring(dev))
      end
    end
    net:close()
  end
  local p, q = prof.cuda, prof.cpu
  T.ok(type(p) == "table" and type(p.run) == "table" and type(p.build) == "table",
       "net:profile() on cuda returns {build, run}")
  if type(p) == "table" and p.run and p.build then
    for _, ph in ipairs{"sources", "update", "deliver", "record", "write", "finish", "total"} do
      T.ok(type(p.run[ph]) == "number" and p.run[ph] >= 0, "profile: run." .. ph)
    end
    T.ok(p.run.update > 0 and p.run.total > 0, "profile: update and total take time")
    for _, ph in ipairs{"parse", "connect", "codegen", "compile", "output"} do
      T.ok(type(p.build[ph]) == "number" and p.build[ph] >= 0, "profile: build." .. ph)
    end
    T.ok(p.build.codegen > 0 and p.build.compile > 0, "profile: code generation and compile timed")
    T.eq(p.run.steps, 200, "profile: steps")
    T.eq(p.run.spikes, q.run.spikes, "profile: spikes as on the CPU")
    T.eq(p.run.events, q.run.events, "profile: synaptic events as on the CPU")
    T.ok(p.run.spikes > 0, "profile: spikes counted")
    local ok, text = pcall(tostring, p)
    T.ok(ok and text:find("update", 1, true) ~= nil, "the profile prints")
  end
end)

-- The profile's counts on CUDA are taken on the device (nk_count_k), in
-- steps queued alone, in graph windows and in host steps: the same spikes
-- and events as on the CPU for every kind of step, for graded projections
-- (each connection once per step), for the last profiled run only, and up to
-- a divergence (the step that diverged is not counted).
local function count_case(backend, case)
  local net = network(backend)
  local a = net:population("lif", 60, {name = "a", init = {v = nk.uniform(-70, -52)}})
  local b = net:population("lif", 40, {name = "b", init = {v = nk.uniform(-70, -52)}})
  net:source("dc", a:slice(1, 40), {amplitude = 700})
  net:source("poisson", b, {rate = 400, weight = 300, synapse = "delta", receptor = "drive"})
  net:connect(a, b, {rule = "bernoulli", p = 0.3, weight = 40, delay = nk.uniform(0.1, 2)})
  net:connect(b:slice(5, 30), a, {rule = "fixed_indegree", indegree = 3, weight = 60, delay = 0.5,
                                  receptor = "late"})
  net:connect(a:slice(41, 60), b:slice(1, 10), {rule = "all_to_all", weight = 10, delay = 1})
  if case == "host" then
    net:source("callback", b:slice(1, 3), {every = 5, fn = function(t) return {500, 0, 900} end})
  elseif case == "graded" then
    local m = net:population("morris_lecar", 6, {name = "m"})
    net:source("dc", m, {amplitude = 80})
    net:connect(m, b, {rule = "all_to_all", weight = 1, synapse = "sigmoid", receptor = "sg",
                       params = {V_half = -40, slope = 5, E_rev = 0}})
  elseif case == "diverges" then
    local boom = net:population("gpu_blowup", 4, {name = "boom", init = {v = spread(4, 0.2, 0.3)}})
    net:connect(a, boom, {rule = "all_to_all", weight = 0})
  end
  local out = {}
  net:run(7.3, {profile = true})
  out.first = net:profile().run
  local ok = pcall(net.run, net, 25.1, {profile = true})
  out.ok = ok
  out.second = net:profile().run
  out.text = tostring(net)
  net:close()
  return out
end

for _, case in ipairs{"device", "host", "graded", "diverges"} do
  timed("profile counts: " .. case, function()
    local cpu, gpu = count_case("cpu", case), count_case("cuda", case)
    T.eq(gpu.ok, cpu.ok, case .. ": the second run ends as on the CPU")
    T.eq(cpu.ok, case ~= "diverges", case .. ": the second run " ..
         (case == "diverges" and "diverges" or "completes"))
    for _, run in ipairs{"first", "second"} do
      local p, q = gpu[run], cpu[run]
      T.ok(q.spikes > 0 and q.events > q.spikes, case .. ", " .. run .. " run: spikes (" ..
           q.spikes .. ") and events (" .. q.events .. ") counted on the CPU")
      T.eq(p.spikes, q.spikes, case .. ", " .. run .. " run: spikes as on the CPU")
      T.eq(p.events, q.events, case .. ", " .. run .. " run: events as on the CPU")
      T.eq(p.steps, q.steps, case .. ", " .. run .. " run: steps as on the CPU")
    end
    T.ok(gpu.second.spikes > gpu.first.spikes, case .. ": the second, longer run's own counts")
    -- A step that queued anything but launches and zeroings while its graph
    -- was recorded would have sent the steps one at a time, with the same
    -- results: print(net) says so, and why. Every case's device steps go in
    -- graphs, graded synapses' too.
    local slow = gpu.text:match("steps launched one at a time: [^,)]*")
    T.eq(slow, nil, case .. ": the steps went in CUDA graphs")
  end)
end

local total = 0
for _, e in ipairs(TIMES) do total = total + e[2] end
for _, e in ipairs(TIMES) do
  io.stderr:write(string.format("  %-60s %6.2f s\n", e[1], e[2]))
end
io.stderr:write(string.format("  %-60s %6.2f s\n", "total", total))
os.execute("rm -rf '" .. DIR .. "'") -- T.done exits, which skips <close>
T.done("equiv")
