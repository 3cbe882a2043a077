-- prelude.lua: the pure-Lua part of the nk module, embedded into nkshell and
-- run when the module opens. It receives the nk table and the method tables
-- of networks, populations and monitors (for help()).
local nk, methods = ...

--- nk.uniform(lo, hi): a uniform distribution, for initial values
--- (init = {v = nk.uniform(-60, -50)}). Draws come from the network's seed.
function nk.uniform(lo, hi)
  if type(lo) ~= "number" or type(hi) ~= "number" then
    error(string.format("nk.uniform(lo, hi): expected two numbers, got %s and %s",
                        type(lo), type(hi)), 2)
  end
  if not (lo <= hi) then
    error(string.format("nk.uniform(%g, %g): expected lo <= hi", lo, hi), 2)
  end
  return setmetatable({kind = "uniform", lo = lo, hi = hi}, nk._dist_mt)
end

nk._dist_mt = {
  __tostring = function(d)
    if d.kind == "uniform" then return string.format("uniform(%g, %g)", d.lo, d.hi) end
    local s = string.format("%s(%g, %g", d.kind, d.mean, d.sd)
    if d.min ~= -math.huge or d.max ~= math.huge then
      s = s .. string.format(", %g, %g", d.min, d.max)
    end
    return s .. ")"
  end,
}

local function normal_like(kind, what)
  return function(mean, sd, min, max)
    local fname = "nk." .. kind
    if type(mean) ~= "number" or type(sd) ~= "number" then
      error(string.format("%s(%s, sd[, min, max]): expected numbers, got %s and %s", fname,
                          what, type(mean), type(sd)), 2)
    end
    if not (sd >= 0) then
      error(string.format("%s(%g, %g): the standard deviation must be >= 0", fname, mean, sd), 2)
    end
    min, max = min or -math.huge, max or math.huge
    if type(min) ~= "number" or type(max) ~= "number" or not (min <= max) then
      error(string.format("%s: expected a range min <= max, got %s and %s", fname,
                          tostring(min), tostring(max)), 2)
    end
    return setmetatable({kind = kind, mean = mean, sd = sd, min = min, max = max}, nk._dist_mt)
  end
end

--- nk.normal(mean, sd[, min, max]): a normal distribution for weights and
--- delays, redrawn while outside [min, max] (a clipped normal, as NEST's
--- normal_clipped).
nk.normal = normal_like("normal", "mean")
--- nk.lognormal(mu, sigma[, min, max]): exp of a normal(mu, sigma) draw.
nk.lognormal = normal_like("lognormal", "mu")

--- nk.load_model(dir[, options]): a new network holding the model a
--- net:save_model(dir) wrote, with its dt and seed (options are
--- nk.network's: output, backend, precision; dt and seed override).
function nk.load_model(dir, opts)
  if type(dir) ~= "string" then
    error("bad argument #1 to 'nk.load_model' (a directory written by net:save_model expected, got "
          .. type(dir) .. ")", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #2 to 'nk.load_model' (table of nk.network options expected, got "
          .. type(opts) .. ")", 2)
  end
  local o = nk._sonata_net_opts(dir)
  for k, v in pairs(opts or {}) do o[k] = v end
  local net = nk.network(o)
  net:load_sonata(dir)
  return net
end

-- ---- help -------------------------------------------------------------------

local overview = [[
nkshell: build and run spiking networks from Lua.

  net = nk.network{dt = 0.1, seed = 1, output = "run.h5"}
  exc = net:population("lif", 3200, {name = "exc", params = {tau_m = 20},
                                     init = {v = nk.uniform(-60, -50)}})
  net:connect(exc, exc, {rule = "bernoulli", p = 0.02, weight = 16.2, delay = 0.1,
                         synapse = "exp_curr", params = {tau_syn = 5}})
  net:source("poisson", exc, {rate = 5, weight = 100})
  net:source("dc", exc:slice(1, 10), {amplitude = 300, start = 100, stop = 200})
  sp = net:monitor("spikes", exc)
  net:run(1000)                      -- ms
  print(sp:count(), sp:rate())       -- spikes, Hz; sp:times(), sp:ids()

  Units: ms, mV, pA, pF, nS, Hz.  Neuron indices in Lua are 1-based.

help(topic) for more, or help(f) for a function (help(nk.network)). Topics:
  network      nk.network{...}: dt, seed, backend, output, precision
  population   net:population(model, n, {...}), slices, pop:get, pop:param
  connect      net:connect(pre, post, {...}): rules, weights, delays, synapses
  space        positions: grids, boxes, spheres, cylinders, lists
  edges        connectome files: CSV edge lists, SONATA, GEXF
  source       net:source("poisson" | "dc", pop, {...})
  monitor      net:monitor("spikes", pop): count, times, ids, rate
  run          net:run(ms), net:timing(), net:profile(), net:code(pop), nk.clock()
  model        nk.model{...}: define a model from its equations
  models       every model with its one-line description
  NAME         a model's equations, parameters, states and solver (help("lif"))]]

local topics = {
  network = [[
net = nk.network{dt = 0.1, seed = 1, backend = "auto", output = "run.h5",
                 precision = "float", threads = 0}
  dt         time step, ms (default 0.1)
  seed       seeds every random number of the network (default 1, or --seed)
  backend    "cpu", "cuda" or "auto" (default, or --backend)
  output     results file (HDF5, SONATA layout); none by default
  precision  "float" (float32 state, default) or "double"
  threads    CPU threads (default 0: one per CPU, or --threads); results are
             the same bits for any number; net:set_threads(n) changes it
Fields: net.t, net.dt, net.seed, net.backend, net.output, net.threads.
print(net) summarizes; net:close() frees it. Methods: population, connect,
source, monitor, run, timing, profile, set_threads, code, close, populations,
projections, save_model, load_sonata, load_gexf (help("population"), ...).]],

  population = [[
pop = net:population(model, n, {name = "exc", params = {tau_m = 20},
                                 init = {v = nk.uniform(-60, -50)},
                                 method = "rk45", rtol = 1e-8, atol = 1e-9})
  model      a model name or an nk.model object (help("models") lists them)
  params     shared parameter values (help(model) lists them)
  init       initial values: a number or nk.uniform(lo, hi)
  positions  where the neurons are, um (help("space"))
  ids        external ids: a list of integers or an edge list (help("edges"))
  method     the solver, instead of the model's: euler, midpoint, heun, rk4,
             rk45, exponential_euler, exact
  rtol, atol rk45's tolerances (default 1e-6 each)
#pop, pop.name, pop.size, pop.model, pop.first, pop.last;
pop:slice(a, b) (1-based, inclusive), pop:get(var, i), pop:param(name),
pop:place(positions), pop:positions(), pop:ids(), pop:index_of(id).]],

  connect = [[
proj = net:connect(pre, post, {rule = "bernoulli", p = 0.02, weight = 16.2,
                               delay = 0.8, synapse = "exp_curr", receptor = "exc",
                               params = {tau_syn = 5}})
  rule       all_to_all (default), one_to_one, bernoulli (p), fixed_indegree
             (indegree), fixed_outdegree (outdegree), fixed_total (total),
             distance (p = "0.3*exp(-d/100)", d in um), shape (shape = {...},
             p), list (pre = {...}, post = {...}), edges (edges = E)
  weight     in the synapse's unit (pA for current synapses): a number,
             nk.uniform(lo, hi), nk.normal(mean, sd[, min, max]),
             nk.lognormal(mu, sigma[, min, max]), an expression of d
             ("2*exp(-d/50)"), or with rule list a list of numbers
  delay      ms, likewise; rounded to the nearest step, at least one step
  synapse    a synapse model name or nk.model object (default exp_curr)
  receptor   the synapse instance on the target this projection feeds
             (default "exc" for weight >= 0, "inh" otherwise)
  params     synapse parameters
  allow_autapses, allow_multapses   true by default
shape = {kind = "sphere" | "box" | "cylinder" | "cone", radius = um,
         length = um (along axis), angle = degrees (cone), size = {x, y, z}
         (box), axis = {0, 0, 1}, offset = {x, y, z}}: each source connects
         to the targets inside the shape placed at its position + offset.
Rules distance and shape and expressions of d need positions (help("space")).
Edge lists: E = nk.read_edges("conn.csv", {...}); help("edges").
#proj is the number of synapses; proj:synapses() returns them as tables;
proj.pre, proj.post, proj.synapse, proj.receptor, proj.params.]],

  space = [[
pop = net:population("lif", 1000, {positions = {kind = "box", size = {500, 500, 100}}})
  grid       {kind = "grid", spacing = {10, 10, 10}, shape = {nx, ny, nz},
             center = {0, 0, 0}} (shape defaults to a near-cube)
  box        {kind = "box", size = {x, y, z}, center = {...}}: uniform inside
  sphere     {kind = "sphere", radius = r, center = {...}}: uniform inside
  cylinder   {kind = "cylinder", radius = r, height = h, center = {...}}
             (axis along z)
  a list     {{x, y, z}, ...}, one per neuron
Positions are in um, random ones drawn from the network's seed.
pop:place(positions) sets them later; pop:positions() returns them.]],

  edges = [[
E = nk.read_edges("connections.csv", {pre = "pre_root_id", post = "post_root_id",
                  weight = "syn_count", sign = "nt_type", inhibitory = {"GABA", "GLUT"},
                  nodes = "neurons.csv"})
  CSV, TSV or blank-separated; a header names the columns (FlyWire's names
  are the defaults), or without one columns are numbers (1, 2, 3).
  sign       a +/- column or a neurotransmitter name; values in
             'inhibitory' (default GABA, GLUT, -, -1, inh) make the weight
             negative
  nodes      a file of ids (root_id column) so neurons without edges exist
#E edges, E.nids distinct ids, E:ids() (sorted), E:get(k), E:free().
brain = net:population("lif", E.nids, {ids = E})   -- neuron k has id E:ids()[k]
exc, inh = net:connect(brain, brain, {edges = E, weight = 0.5, delay = 1.8})
  weight scales the file's weights; the two signs become two projections.
brain:index_of(id) finds a neuron by id; brain:ids() lists them.
SONATA: net:save_model(dir), nk.load_model(dir), net:load_sonata{...}.
GEXF (Neurokernel): net:load_gexf(path).]],

  source = [[
net:source("poisson", pop, {rate = 5, weight = 100, synapse = "exp_curr",
                            receptor = "exc", params = {tau_syn = 5},
                            start = 0, stop = math.huge})
net:source("dc", pop, {amplitude = 300, start = 100, stop = 200})
  poisson    an independent Poisson train of rate Hz per neuron
  dc         a constant current of amplitude pA
Both act for start <= t < stop (ms).]],

  monitor = [[
sp = net:monitor("spikes", pop)
sp:count(), sp:times() (ms), sp:ids() (1-based within pop), sp:rate() (Hz).
Records from the next step on.]],

  run = [[
net:run(ms [, {progress = true}])  runs on from where the last run stopped;
                                   Ctrl-C stops it cleanly
net:timing()                       build and run seconds of the last run
net:run(ms, {profile = true})      times the run's phases; then net:profile()
                                   says where the time went (nkshell --profile:
                                   every run, on stderr)
net:code(pop)                      the C generated for a population
nk.clock()                         a monotonic wall clock, seconds]],

  model = [[
m = nk.model{name = "myiaf", kind = "neuron", doc = "one line",
             params = {tau = {10, "ms", range = "(0, inf]"}, vt = -50},
             states = {v = {"v_rest", "mV"}, m = {0.05, bounds = {0, 1}}},
             equations = {"dv/dt = ... : mV (unless refractory)", "y = ..."},
             threshold = "v > vt", reset = "v = v_reset", refractory = 2,
             method = "rk4", max_dt = 0.01, replace = false}
Also: on_pre, current, graded (synapses), receptors, aliases (neurons).
params/states may also be strings in the model syntax
("tau = 10 ms (0, inf]"); docs/models.md is the reference.
nk.model("lif") returns an existing model: m.name, m.kind, m.doc, m.params,
m.states; print(m) shows its equations. Wherever a model name is accepted,
the object is too. nk.models([kind]) lists the names.]],
}

local fn_topics = {
  [nk.network] = "network", [nk.model] = "model", [nk.models] = "models",
  [nk.describe] = "models", [nk.uniform] = "population", [nk.clock] = "run",
  [nk.normal] = "connect", [nk.lognormal] = "connect", [nk.read_edges] = "edges",
  [nk.load_model] = "edges",
}
local method_topics = {
  network = {population = "population", connect = "connect", source = "source",
             monitor = "monitor", run = "run", timing = "run", code = "run",
             profile = "run", set_threads = "network",
             close = "network", populations = "network", projections = "network",
             save_model = "edges", load_sonata = "edges", load_gexf = "edges"},
  population = {slice = "population", get = "population", param = "population",
                place = "space", positions = "space", ids = "edges", index_of = "edges"},
  monitor = {count = "monitor", times = "monitor", ids = "monitor", rate = "monitor"},
}
for kind, names in pairs(method_topics) do
  local t = methods and methods[kind]
  if t then
    for name, topic in pairs(names) do
      if t[name] then fn_topics[t[name]] = topic end
    end
  end
end

local function models_text()
  local lines = {}
  for _, kind in ipairs({"neuron", "synapse"}) do
    lines[#lines + 1] = kind .. " models:"
    for _, name in ipairs(nk.models(kind)) do
      lines[#lines + 1] = string.format("  %-14s %s", name, nk.model(name).doc)
    end
  end
  lines[#lines + 1] = 'help("NAME") shows a model; nk.model{...} defines one (help("model")).'
  return table.concat(lines, "\n")
end

-- Edit distance, for "did you mean" among the topics.
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = {[0] = i}
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

--- help([topic]): an overview and the topics; help("models"); help("lif") or
--- help(nk.model("lif")): a model; help(nk.network): a function's topic.
function help(what)
  if what == nil then
    print(overview)
    return
  end
  local tw = type(what)
  if tw == "function" then
    local topic = fn_topics[what]
    if not topic then
      error("help: no help for this function (help() lists the topics)", 2)
    end
    what = topic
  elseif tw == "userdata" and getmetatable(what) and getmetatable(what).__name == "nk.model" then
    print(tostring(what))
    return
  elseif tw ~= "string" then
    error(string.format("help: expected a topic, a model name, a model or a function, got %s",
                        tw), 2)
  end
  if what == "models" then
    print(models_text())
  elseif topics[what] then
    print(topics[what])
  else
    local ok, m = pcall(nk.model, what)
    if ok then
      print(tostring(m))
      return
    end
    local best, bd = nil, 3
    for name in pairs(topics) do
      local d = distance(what, name)
      if d < bd then best, bd = name, d end
    end
    local dm = distance(what, "models")
    if dm < 3 and dm <= bd then best = "models" end
    local hint = best and string.format(" (did you mean '%s'?)", best)
      or (tostring(m):match("%(did you mean '[^']*'%?%)") and
          " " .. tostring(m):match("%(did you mean '[^']*'%?%)"))
      or " (help() lists the topics, help(\"models\") the models)"
    error(string.format("help: no topic or model called '%s'%s", what, hint), 2)
  end
end
