-- prelude.lua: the pure-Lua part of the nk module, embedded into nkshell and
-- run when the module opens. It receives the nk table and the method tables
-- of networks, populations and monitors (for help()).
local nk, methods = ...

-- A number as a message shows a value it refuses, as nk_fmt_num (nk.h) does:
-- the fewest digits, 6 or more, that read back as v (1000001 is not 1e+06),
-- and NaN as "nan" (Lua prints 0/0 as "-nan").
local function num(v)
  if v ~= v then return "nan" end
  for digits = 6, 16 do
    local s = string.format("%." .. digits .. "g", v)
    if tonumber(s) == v then return s end
  end
  return string.format("%.17g", v) -- 17 digits always read back (and inf is "inf")
end

--- nk.uniform(lo, hi): a uniform distribution, for initial values
--- (init = {v = nk.uniform(-60, -50)}). Draws come from the network's seed.
function nk.uniform(lo, hi)
  if type(lo) ~= "number" or type(hi) ~= "number" then
    error(string.format("nk.uniform(lo, hi): expected two numbers, got %s and %s",
                        type(lo), type(hi)), 2)
  end
  if not (lo <= hi) then
    error(string.format("nk.uniform(%s, %s): expected lo <= hi", num(lo), num(hi)), 2)
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
      error(string.format("%s(%s, %s): the standard deviation must be >= 0", fname, num(mean),
                          num(sd)), 2)
    end
    min, max = min or -math.huge, max or math.huge
    if type(min) ~= "number" or type(max) ~= "number" or not (min <= max) then
      error(string.format("%s: expected a range min <= max, got %s and %s", fname,
                          type(min) == "number" and num(min) or tostring(min),
                          type(max) == "number" and num(max) or tostring(max)), 2)
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
  -- errors point at the caller's line, not at the prelude's
  local ok, net = pcall(function()
    local o = nk._sonata_net_opts(dir)
    for k, v in pairs(opts or {}) do o[k] = v end
    local n = nk.network(o)
    n:load_sonata(dir)
    return n
  end)
  if not ok then
    local msg = tostring(net):gsub("^nk%.prelude:%d+: ", "")
                             :gsub("^net:load_sonata: ", "nk.load_model: ")
    error(msg, 2)
  end
  return net
end

-- ---- the API reference (nk._api, from lua/nk_api.c) -----------------------------

local api = nk._api
local api_by_name = {}   -- "net:connect" -> entry; "net:source dc" -> entry
for _, e in ipairs(api) do
  api_by_name[e.kind and (e.name .. " " .. e.kind) or e.name] = e
end

--- nk._options(fname[, kind]): the option names fname accepts (the list the
--- binding validates against), or nil when fname takes no option table.
function nk._options(fname, kind)
  local e = api_by_name[kind and (fname .. " " .. kind) or fname]
  if not e or not e.options then return nil end
  local names = {}
  for k, o in ipairs(e.options) do names[k] = o.name end
  return names
end

-- Words of text in lines of at most width characters, each starting with indent.
local function wrap(text, indent, width, first)
  local lines, line = {}, first or indent
  local empty = true
  for word in text:gmatch("%S+") do
    if not empty and #line + 1 + #word > width then
      lines[#lines + 1] = line
      line, empty = indent, true
    end
    line = line .. (empty and "" or " ") .. word
    empty = false
  end
  lines[#lines + 1] = line
  return table.concat(lines, "\n")
end

-- An entry as help() prints it: usage, what it does, its options.
local function entry_text(e)
  local out = {e.usage, wrap(e.doc, "  ", 78)}
  if e.options and #e.options > 0 then
    local w = 10
    for _, o in ipairs(e.options) do w = math.max(w, #o.name) end
    for _, o in ipairs(e.options) do
      local head = string.format("    %-" .. w .. "s  ", o.name)
      out[#out + 1] = wrap(o.doc, string.rep(" ", #head), 78, head)
    end
  elseif e.options then
    out[#out + 1] = "    (no options)"
  end
  return table.concat(out, "\n")
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
  nk.plot.raster(sp)                 -- a preview here; nk.plot.raster(sp, "r.png")
  nk.sandbox("hh")                   -- one neuron of a model, stimulated

  Units: ms, mV, pA, pF, nS, Hz, um.  Neuron indices in Lua are 1-based.

help(topic) for more, help(f) for a function (help(nk.network), help(net.run)),
help(object) for what an object is and can do. Tab completes names, options
and file names; .help lists the shell's commands (.timer, .load, ...). Topics:
  network      nk.network{...}: dt, seed, backend, output, precision, threads
  population   net:population(model, n, {...}), slices, pop:get, pop:param
  connect      net:connect(pre, post, {...}): rules, weights, delays, synapses
  space        positions: grids, boxes, spheres, cylinders, lists; regions
  edges        connectome files: CSV edge lists, SONATA, GEXF
  source       net:source(kind, target, {...}): currents and spike input
  monitor      net:monitor(kind, target, {...}): spikes, states, rates
  run          net:run(ms), Ctrl-C, net:timing(), net:profile(), net:code(pop)
  results      the results file, nk.read, checkpoints, nk.restore
  plot         nk.plot.raster, trace, rate: PNG, SVG, PDF or a preview here
  sandbox      nk.sandbox(model, {...}): one neuron under a stimulus
  model        nk.model{...}: define a model from its equations
  models       every model with its one-line description
  NAME         a model's equations, parameters, states and solver (help("lif"))]]

-- What a topic says before its entries (which come from nk._api).
local intros = {
  network = [[
net = nk.network{dt = 0.1, seed = 1, output = "run.h5", threads = 0}
print(net) shows its populations, projections, sources, monitors, memory and
time so far; its fields are read-only.]],
  population = [[
exc = net:population("lif", 3200, {name = "exc", params = {tau_m = 20},
                                   init = {v = nk.uniform(-60, -50)}})
#pop is its size; pop:slice(a, b) and pop:select{...} are targets too.]],
  connect = [[
net:connect(exc, inh, {rule = "bernoulli", p = 0.02, weight = nk.normal(16, 2, 0),
                       delay = 1.5, synapse = "exp_curr", params = {tau_syn = 5}})
Weights and delays: a number, nk.uniform, nk.normal, nk.lognormal, an
expression of the distance d ("2*exp(-d/50)"), or a list with rule list.]],
  space = [[
pop = net:population("lif", 1000, {positions = {kind = "box", size = {500, 500, 100}}})
sel = net:region{"sphere", center = {0, 0, 0}, radius = 100}]],
  edges = [[
E = nk.read_edges("connections.csv", {nodes = "neurons.csv"})
brain = net:population("lif", E.nids, {ids = E})
exc, inh = net:connect(brain, brain, {edges = E, weight = 0.5, delay = 1.8})]],
  source = [[
net:source("poisson", exc, {rate = 5, weight = 100})
net:source("dc", exc:slice(1, 10), {amplitude = 300, start = 100, stop = 200})
Every kind acts for start <= t < stop (ms). src:set{...} changes it.]],
  monitor = [[
sp = net:monitor("spikes", exc)
vm = net:monitor("state", exc:slice(1, 5), {vars = {"v"}, every = 10})
Monitors record from the step they were added at; they are written to the
results file.]],
  run = [[
net:run(1000)                   -- ms, continuing from net.t
net:run(500, {profile = true}); print(net:profile())
A run over a second shows its progress on the terminal. Ctrl-C stops it at
the end of the step, keeps what was recorded, and net:run goes on from there.]],
  results = [[
r = nk.read("run.h5"); print(#r.spikes.exc.timestamps)
net:checkpoint("t500.h5"); net2 = nk.restore("t500.h5")]],
  plot = [[
nk.plot.raster(sp, "raster.png")   -- .png, .svg or .pdf
nk.plot.trace(vm)                  -- without a file: a preview on the terminal]],
  sandbox = [[
nk.sandbox("hh")                                -- a dc step; spikes and a preview
nk.sandbox("adex", {amplitude = 600, ms = 300})
r = nk.sandbox("izhikevich", {params = {d = 2}, quiet = true}); print(#r.spikes)
nkshell --sandbox hh does the same from the command line.]],
  model = [[
m = nk.model{name = "myiaf", kind = "neuron", doc = "one line",
             params = {tau = {10, "ms", range = "(0, inf]"}, vt = -50},
             states = {v = {-65, "mV"}},
             equations = {"dv/dt = (-65 - v)/tau + I/250 : mV (unless refractory)"},
             threshold = "v > vt", reset = "v = -65", refractory = 2}
docs/models.md is the model syntax. nk.model("lif") returns an existing model:
m.name, m.kind, m.doc, m.params, m.states; print(m) shows its equations.]],
}

-- For the REPL's completion of help(": every topic name.
nk._help_topics = {"models"}
for name in pairs(intros) do nk._help_topics[#nk._help_topics + 1] = name end
table.sort(nk._help_topics)

local function topic_text(topic)
  local out = {intros[topic]}
  for _, e in ipairs(api) do
    if e.topic == topic then out[#out + 1] = "\n" .. entry_text(e) end
  end
  if topic == "plot" then
    for _, e in ipairs(api) do
      if e.name:match("^nk%.plot%.") and e.topic ~= "plot" then
        out[#out + 1] = "\n" .. entry_text(e)
      end
    end
  end
  return table.concat(out, "\n")
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

-- Functions -> their entry's name. Methods of each object type have a
-- prefix: net:run, pop:slice, m:times, ...
local prefixes = {network = "net", population = "pop", monitor = "m", projection = "proj",
                  edges = "E", selection = "sel", source = "src"}
local type_names = {["nk.network"] = "network", ["nk.population"] = "population",
                    ["nk.monitor"] = "monitor", ["nk.projection"] = "projection",
                    ["nk.edges"] = "edges", ["nk.selection"] = "selection",
                    ["nk.source"] = "source"}
local fn_names = {}
local function index_functions()
  for k, v in pairs(nk) do
    if type(v) == "function" and k:sub(1, 1) ~= "_" then fn_names[v] = "nk." .. k end
  end
  for k, v in pairs(nk.plot or {}) do
    if type(v) == "function" then fn_names[v] = "nk.plot." .. k end
  end
  for kind, t in pairs(methods or {}) do
    for k, v in pairs(t) do fn_names[v] = prefixes[kind] .. ":" .. k end
  end
end

-- What help(object) says of an nk object: its summary, then its methods.
local function object_text(what, kind)
  local out = {tostring(what), ""}
  local pfx = prefixes[kind]
  for _, e in ipairs(api) do
    if e.name:sub(1, #pfx + 1) == pfx .. ":" or e.name:sub(1, #pfx + 1) == pfx .. "." then
      -- the first sentence: up to a full stop followed by a space (not the
      -- dot of net.t, nk.model, a..b or ...)
      local first = e.doc:match("^(.-[^.]%.)%s") or e.doc
      out[#out + 1] = string.format("  %-44s %s", e.usage, first)
    end
  end
  return table.concat(out, "\n")
end

-- Every entry whose name or kind is what ("dc" -> net:source("dc")).
local function entries_named(what)
  local found = {}
  for _, e in ipairs(api) do
    local short = e.name:gsub("^[%a.]+[:.]", "")
    if e.name == what or e.kind == what or (short == what and e.kind == nil) then
      found[#found + 1] = e
    end
  end
  return found
end

--- help([x]): an overview and the topics; help("topic"), help("models"),
--- help("lif") (a model), help("net:connect") or help(net.connect) (a
--- function), help(obj) (what an object is and its methods).
function help(what)
  if what == nil or what == nk then
    print(overview)
    return
  end
  if next(fn_names) == nil then index_functions() end
  local tw = type(what)
  if tw == "function" then
    local name = fn_names[what]
    local e = name and api_by_name[name]
    if not e then
      error("help: no help for this function (help() lists the topics)", 2)
    end
    local text = entry_text(e)
    if name == "net:source" or name == "net:monitor" then
      text = text .. "\n\n" .. topic_text(e.topic)
    elseif name == "nk.models" then
      text = text .. "\n\n" .. models_text()
    end
    print(text)
    return
  elseif tw == "userdata" or tw == "table" then
    local mt = getmetatable(what)
    local mtname = type(mt) == "table" and rawget(mt, "__name")
    if mtname == "nk.model" then
      print(tostring(what))
    elseif type_names[mtname] then
      print(object_text(what, type_names[mtname]))
    elseif what == nk.plot then
      print(topic_text("plot"))
    else
      error("help: expected a topic, a model, a function or an nk object, got a " .. tw, 2)
    end
    return
  elseif tw ~= "string" then
    error(string.format("help: expected a topic, a model name, a model or a function, got %s",
                        tw), 2)
  end
  if what:find("\0", 1, true) then
    error(string.format("help: no topic, function or model called %q: a name holds no zero "
                        .. "byte (\\0, at position %d)", what, what:find("\0", 1, true)), 2)
  end
  if what == "models" then
    print(models_text())
  elseif intros[what] then
    print(topic_text(what))
  elseif api_by_name[what] then
    print(entry_text(api_by_name[what]))
  else
    local ok, m = pcall(nk.model, what)
    if ok then
      print(tostring(m))
      return
    end
    local found = entries_named(what)
    if #found > 0 then
      local texts = {}
      for k, e in ipairs(found) do texts[k] = entry_text(e) end
      print(table.concat(texts, "\n\n"))
      return
    end
    local candidates = {"models"}
    for name in pairs(intros) do candidates[#candidates + 1] = name end
    for _, e in ipairs(api) do candidates[#candidates + 1] = e.name end
    table.sort(candidates)
    local best = nk._suggest(what, candidates)
    local hint = best and string.format(" (did you mean '%s'?)", best)
      or (tostring(m):match("%(did you mean '[^']*'%?%)") and
          " " .. tostring(m):match("%(did you mean '[^']*'%?%)"))
      or " (help() lists the topics, help(\"models\") the models)"
    error(string.format("help: no topic, function or model called '%s'%s", what, hint), 2)
  end
end

-- ---- the sandbox --------------------------------------------------------------

local function sb_number(opts, key, default, lo, hi)
  local v = opts[key]
  if v == nil then return default end
  if type(v) ~= "number" or v ~= v or v < lo or v > hi then
    error(string.format("nk.sandbox: option '%s' must be a number in [%g, %g], got %s", key, lo,
                        hi, type(v) == "number" and num(v) or tostring(v)), 3)
  end
  return v
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- Two significant digits: 1234.5 -> 1200.
local function round2(x)
  if x == 0 then return 0 end
  local p = 10 ^ (math.floor(math.log(x, 10)) - 1)
  return math.floor(x / p + 0.5) * p
end

-- The smallest dc amplitude (pA) of a geometric scan from 0.5 pA to 50 nA
-- that makes the model fire at least 4 times between start and stop, found
-- with one population of 33 neurons (the first gets none): 0 when the model
-- fires on its own, nil when nothing in the scan makes it fire (and then,
-- second, the smallest amplitude under which a state became NaN or infinite
-- and that state's name, when one did). A graded model (no threshold) gets
-- the smallest that moves var by 15 or more (mV) by the end of the step.
local function find_amplitude(model, o, dt, start, stop, graded_var)
  local K = 32
  local amps = {0}
  for k = 0, K - 1 do amps[#amps + 1] = 0.5 * (1e5) ^ (k / (K - 1)) end
  -- a model that diverges under a strong current stops the scan's run, naming
  -- the neuron: scan again without that amplitude and the ones above it
  local diverged, dvar
  for _ = 1, 8 do
    local net = nk.network{dt = dt, seed = 1, threads = 1}
    local pop = net:population(model, #amps, {params = o.params, init = o.init})
    net:source("array", pop, {values = {amps}, after = "hold", start = start, stop = stop})
    local sp = net:monitor("spikes", pop)
    local ok, err = pcall(net.run, net, stop, {progress = false})
    local count = {}
    for _, i in ipairs(sp:ids()) do count[i] = (count[i] or 0) + 1 end
    if ok and graded_var then
      -- count[k] >= 4: moved far enough from where the unstimulated one is
      for k = 1, #amps do
        local d = math.abs(pop:get(graded_var, k) - pop:get(graded_var, 1))
        count[k] = (k > 1 and d >= 15) and 4 or 0
      end
    end
    net:close()
    local bad = not ok and tonumber(tostring(err):match("neuron (%d+) of %d+: variable"))
    if not ok and not bad then error(err, 0) end
    if not bad then
      if (count[1] or 0) >= 4 then return 0 end
      for k = 2, #amps do
        if (count[k] or 0) >= 4 then return round2(amps[k]) end
      end
      return nil, diverged, dvar
    end
    diverged = amps[bad]
    dvar = tostring(err):match("variable '([^']*)'")
    if bad <= 2 then return nil, diverged, dvar end
    for k = #amps, bad, -1 do amps[k] = nil end
  end
  return nil, diverged, dvar
end

local function spikes_line(times, ms)
  if #times == 0 then return "no spikes" end
  local shown = {}
  for k = 1, math.min(#times, 12) do shown[k] = string.format("%.1f", times[k]) end
  local s = string.format("%d spike%s (%.1f Hz) at %s%s ms", #times, #times == 1 and "" or "s",
                          #times / (ms / 1000), table.concat(shown, ", "),
                          #times > 12 and ", ..." or "")
  if #times >= 2 then
    s = s .. string.format("; first at %.2f ms, mean interval %.2f ms", times[1],
                           (times[#times] - times[1]) / (#times - 1))
  end
  return s
end

-- The picture: a trace of var, or with var nil a raster of spike monitor m.
local function show_trace(m, var, o, caption)
  if o.plot == false or not nk.plot then return end
  local draw = var and nk.plot.trace or nk.plot.raster
  local po = var and {var = var, title = caption} or {title = caption}
  if type(o.plot) == "string" then
    draw(m, o.plot, po)
    if not o.quiet then print("plot written to " .. o.plot) end
  elseif not o.quiet then
    draw(m, nil, po)
  end
end

local sandbox

--- nk.sandbox(model[, options]): one neuron (or a few) of a model under a
--- stimulus; see help("sandbox"). Errors point at the caller's line, not at
--- the prelude's.
function nk.sandbox(model, opts)
  local ok, r = pcall(sandbox, model, opts)
  if ok then return r end
  local msg = tostring(r):gsub("^nk%.prelude:%d+: ", "")
  if not msg:find("^nk%.sandbox") and not msg:find("^bad argument") then
    msg = "nk.sandbox: " .. msg
  end
  error(msg, 2)
end

sandbox = function(model, opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error("bad argument #2 to 'nk.sandbox' (table of options expected, got " .. type(opts) .. ")", 2)
  end
  nk._check_options(opts, "nk.sandbox")
  if type(model) ~= "string" and not (getmetatable(model) and getmetatable(model).__name == "nk.model") then
    error("bad argument #1 to 'nk.sandbox' (a model name or nk.model object expected, got "
          .. type(model) .. ")", 2)
  end
  local okm, m = pcall(nk.model, model)
  if not okm then error("nk.sandbox: " .. tostring(m):gsub("^[^:]*:%d+: ", ""), 2) end
  local ms = sb_number(opts, "ms", 100, 1e-9, 1e7)
  local dt = sb_number(opts, "dt", 0.025, 1e-6, 10)
  local n = math.floor(sb_number(opts, "n", 1, 1, 10000))
  if opts.plot ~= nil and type(opts.plot) ~= "boolean" and type(opts.plot) ~= "string" then
    error("nk.sandbox: option 'plot' must be true, false or a file name, got " .. type(opts.plot), 2)
  end
  local vars = opts.vars
  if type(vars) == "string" then vars = {vars} end
  local say = opts.quiet and function() end or print
  local result = {model = m.name, dt = dt, ms = ms}

  if m.kind == "synapse" then
    -- a synapse: spikes (or a depolarised presynaptic neuron, for graded
    -- synapses) into one lif neuron through it
    local graded = m.graded
    local state = sorted_keys(m.states)[1]
    local unit = state and m.states[state].unit or ""
    local weight = opts.amplitude or (unit == "pA" and 100 or unit == "nS" and 5
                                      or unit == "mV" and 5 or 1)
    local net = nk.network{dt = dt, seed = 1, threads = 1}
    local post = net:population("lif", n, {name = "post"})
    local what
    if graded then
      local pre = net:population("morris_lecar", 1, {name = "pre"})
      net:source("dc", pre, {amplitude = 100, start = ms * 0.2, stop = ms * 0.6})
      net:connect(pre, post, {synapse = m, receptor = "syn", weight = weight,
                              params = opts.params})
      what = string.format("a morris_lecar neuron depolarised by 100 pA from %g to %g ms, "
                           .. "graded into a lif neuron (weight %g)", ms * 0.2, ms * 0.6, weight)
    else
      local times = {ms * 0.1, ms * 0.3, ms * 0.35, ms * 0.4}
      net:source("spike_times", post, {times = times, weight = weight, synapse = m,
                                       receptor = "syn", params = opts.params})
      what = string.format("spikes at %g, %g, %g and %g ms into a lif neuron (weight %g)",
                           times[1], times[2], times[3], times[4], weight)
    end
    local rec = vars or (state and {"syn." .. state, "v"} or {"v"})
    local vm = net:monitor("state", post, {vars = rec})
    local sp = net:monitor("spikes", post)
    net:run(ms, {progress = false})
    say(string.format("%s (synapse): %s, %g ms", m.name, what, ms))
    result.net, result.pop, result.monitor = net, post, vm
    result.t, result.traces = vm:times(), {}
    for _, v in ipairs(rec) do
      result.traces[v] = vm:trace(v, 1)
      local lo, hi = math.huge, -math.huge
      for _, x in ipairs(result.traces[v]) do lo, hi = math.min(lo, x), math.max(hi, x) end
      say(string.format("  %-10s from %.4g to %.4g", v, lo, hi))
    end
    result.spikes = sp:times()
    say("  target: " .. spikes_line(result.spikes, ms))
    show_trace(vm, rec[1], opts, m.name .. ": " .. rec[1])
    return result
  end

  local start = sb_number(opts, "start", math.min(10, ms * 0.1), 0, ms)
  local stop = sb_number(opts, "stop", math.max(start, ms - math.min(10, ms * 0.1)), start, 1e7)
  local stim = opts.stimulus
  local amplitude, what
  if stim ~= nil then
    if type(stim) ~= "table" or type(stim[1]) ~= "string" then
      error("nk.sandbox: option 'stimulus' must be {kind, options...} of a current source, "
            .. "e.g. {\"ac\", amplitude = 100, frequency = 10}", 2)
    end
    local so = {}
    for k, v in pairs(stim) do if k ~= 1 then so[k] = v end end
    stim = {kind = stim[1], opts = so}
    what = (stim.kind:find("^[aeiou]") and "an " or "a ") .. stim.kind .. " source"
  else
    amplitude = opts.amplitude
    if amplitude ~= nil and type(amplitude) ~= "number" then
      error("nk.sandbox: option 'amplitude' must be a number (pA), got " .. type(amplitude), 2)
    end
    if amplitude == nil then
      local graded_var
      if not m.fires then
        graded_var = m.states.v and "v" or sorted_keys(m.states)[1]
      end
      local diverged, dvar
      amplitude, diverged, dvar = find_amplitude(m, opts, dt, start, stop, graded_var)
      if amplitude == nil and diverged then
        -- it did not fire because it blew up: say so, the model needs a look
        amplitude = 0
        what = string.format("no stimulus (a dc current of %.4g pA or more made '%s' NaN or "
                             .. "infinite before it fired 4 times: an unbounded term, exp() "
                             .. "of the state say, wants a guard; smaller ones did not make "
                             .. "it fire)", diverged, dvar or "a state")
      elseif amplitude == nil then
        amplitude = 0
        what = "no stimulus (no dc current from 0.5 pA to 50 nA made it fire)"
      elseif amplitude == 0 then
        what = "no stimulus (it fires on its own)"
      end
    end
    what = what or string.format("a dc step of %g pA from %g to %g ms", amplitude, start, stop)
  end
  local net = nk.network{dt = dt, seed = 1, threads = 1}
  local pop = net:population(m, n, {params = opts.params, init = opts.init})
  if stim then
    local src_opts = stim.opts
    if src_opts.start == nil then src_opts.start = start end
    if src_opts.stop == nil then src_opts.stop = stop end
    net:source(stim.kind, pop, src_opts)
  elseif amplitude ~= 0 then
    net:source("dc", pop, {amplitude = amplitude, start = start, stop = stop})
  end
  local names = sorted_keys(m.states)
  if vars == nil then
    vars = {}
    if m.states and m.states.v then vars[1] = "v" elseif names[1] then vars[1] = names[1] end
  end
  local vm = #vars > 0 and net:monitor("state", pop, {vars = vars}) or nil
  local sp = net:monitor("spikes", pop)
  net:run(ms, {progress = false})
  say(string.format("%s: %d neuron%s, %g ms at dt %g ms, %s", m.name, n, n == 1 and "" or "s",
                    ms, dt, what))
  result.net, result.pop, result.monitor, result.amplitude = net, pop, vm, amplitude
  result.spikes, result.ids = sp:times(), sp:ids()
  local first = {}
  for k, i in ipairs(result.ids) do
    if i == 1 then first[#first + 1] = result.spikes[k] end
  end
  local graded = not m.fires
  if not graded then
    say("  " .. (n > 1 and "neuron 1: " or "") .. spikes_line(first, ms))
  end
  if n > 1 then say(string.format("  all %d neurons: %d spikes", n, #result.spikes)) end
  result.traces = {}
  if vm then
    result.t = vm:times()
    for _, v in ipairs(vars) do result.traces[v] = vm:trace(v, 1) end
    if graded then
      local tr = result.traces[vars[1]]
      local lo, hi = math.huge, -math.huge
      for _, x in ipairs(tr) do lo, hi = math.min(lo, x), math.max(hi, x) end
      say(string.format("  graded (no threshold): %s from %.4g to %.4g, %.4g at the end", vars[1],
                        lo, hi, tr[#tr]))
    end
    show_trace(vm, vars[1], opts, string.format("%s: %s of neuron 1", m.name, vars[1]))
  else
    show_trace(sp, nil, opts, m.name .. ": spikes (the model has no state to trace)")
  end
  return result
end

-- The debug library could give an nk object another type's metatable or
-- another network as its user value, and the C functions would then read it
-- as what it is not (a selection printed as a population read out of
-- bounds). Those two functions refuse nk objects and nk metatables; the rest
-- of the library is as Lua has it.
if type(debug) == "table" then
  local getmt, setmt, setuv = debug.getmetatable, debug.setmetatable, debug.setuservalue
  local function nk_name(mt)
    local name = type(mt) == "table" and rawget(mt, "__name")
    return type(name) == "string" and name:find("^nk%.") and name
  end
  local function nk_object(v)
    return type(v) == "userdata" and nk_name(getmt(v))
  end
  debug.setmetatable = function(v, mt)
    local name = nk_object(v) or nk_name(mt)
    if name then
      error("debug.setmetatable: an " .. name .. " object's metatable is nkshell's own; it " ..
            "cannot be changed or given to another value", 2)
    end
    return setmt(v, mt)
  end
  if setuv then
    debug.setuservalue = function(u, ...)
      local name = nk_object(u)
      if name then
        error("debug.setuservalue: an " .. name .. " object's user values are nkshell's own",
              2)
      end
      return setuv(u, ...)
    end
  end
end
