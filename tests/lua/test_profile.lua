-- net:profile(): the time per phase of building and of the last profiled
-- run (lua/nk_lua.c, nk_run in engine/src/net.c, nk_profile in nk.h).
-- Checked: the table's shape, signs and sums, the step count, the spike and
-- synaptic event counts against the spike monitors and the connections,
-- which runs reset it (a profiled run, and only a profiled run, counts
-- included; {profile = true} is for one run), turning timing on and off,
-- how it prints, and the refusals.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")

local BUILD = {"parse", "connect", "codegen", "compile", "output"}
local PHASES = {"sources", "update", "deliver", "record", "write"}

local function is_num(x) return type(x) == "number" and x == x end

-- Every field there, a number >= 0; the phases sum to no more than the total.
local function check_shape(p, what)
  T.ok(type(p) == "table" and type(p.build) == "table" and type(p.run) == "table",
       what .. ": {build = {...}, run = {...}}")
  for _, k in ipairs(BUILD) do
    T.ok(is_num(p.build[k]) and p.build[k] >= 0,
         string.format("%s: build.%s is a number >= 0 (%s)", what, k, tostring(p.build[k])))
  end
  local sum = 0
  for _, k in ipairs(PHASES) do
    T.ok(is_num(p.run[k]) and p.run[k] >= 0,
         string.format("%s: run.%s is a number >= 0 (%s)", what, k, tostring(p.run[k])))
    sum = sum + (tonumber(p.run[k]) or 0)
  end
  T.ok(is_num(p.run.total) and p.run.total >= 0, what .. ": run.total >= 0")
  T.ok(math.type(p.run.steps) == "integer" and p.run.steps >= 0, what .. ": run.steps an integer")
  T.ok(math.type(p.run.threads) == "integer" and p.run.threads >= 0,
       what .. ": run.threads an integer")
  T.ok(math.type(p.run.spikes) == "integer" and p.run.spikes >= 0, what .. ": run.spikes")
  T.ok(math.type(p.run.events) == "integer" and p.run.events >= 0, what .. ": run.events")
  T.ok(is_num(p.run.finish) and p.run.finish >= 0 and p.run.finish <= p.run.write,
       string.format("%s: run.finish (%s) is part of run.write (%s)", what,
                     tostring(p.run.finish), tostring(p.run.write)))
  T.ok(sum <= (p.run.total or 0) * 1.05 + 1e-6,
       string.format("%s: the phases (%g s) sum to no more than the total (%g s)", what, sum,
                     p.run.total or -1))
  return sum
end

-- The profile's run part, as a string of exact values (to see it unchanged).
local function run_bits(p)
  local parts = {}
  for _, k in ipairs(PHASES) do parts[#parts + 1] = string.format("%s=%a", k, p.run[k]) end
  parts[#parts + 1] = string.format("total=%a steps=%d threads=%d", p.run.total, p.run.steps,
                                    p.run.threads)
  return table.concat(parts, " ")
end

-- A network with some of everything a step does: sources, an update,
-- deliveries and recording.
-- Returns the network and a function giving the spikes and synaptic events
-- of the runs so far (from its spike monitors and connections).
local function network(opts)
  local net = nk.network{dt = 0.1, seed = 2, threads = opts and opts.threads or 2,
                         output = opts and opts.output}
  local e = net:population("lif", 400, {name = "e", params = {I_e = 300},
                                        init = {v = nk.uniform(-70, -55)}})
  local i = net:population("lif", 100, {name = "i", params = {I_e = 300}})
  local projs = {
    net:connect(e, e, {rule = "fixed_indegree", indegree = 20, weight = 20, delay = 1.5}),
    net:connect(e, i, {rule = "fixed_indegree", indegree = 20, weight = 30,
                       delay = nk.uniform(1, 3)}),
    net:connect(i:slice(1, 60), e:slice(50, 400), {rule = "fixed_indegree", indegree = 10,
                                                   weight = -40}),
  }
  net:source("poisson", e, {rate = 2000, weight = 30})
  net:source("noise", i, {mean = 50, std = 20})
  local sp = {e = net:monitor("spikes", e), i = net:monitor("spikes", i)}
  net:monitor("state", i:slice(1, 10), {vars = {"v", "exc.isyn"}, every = 2})
  net:monitor("rate", e, {bin = 1})
  -- connections per presynaptic neuron (1-based in its population), per population
  local out = {e = {}, i = {}}
  for k, pj in ipairs(projs) do
    local o = out[k == 3 and "i" or "e"]
    for _, pre in ipairs(pj:synapses().pre) do o[pre] = (o[pre] or 0) + 1 end
  end
  local function counts()
    local spikes, events = 0, 0
    for name, m in pairs(sp) do
      spikes = spikes + m:count()
      for _, id in ipairs(m:ids()) do events = events + (out[name][id] or 0) end
    end
    return spikes, events
  end
  return net, counts
end

-- ---- before any run -------------------------------------------------------------------------
do
  local net = network()
  local p = net:profile()
  check_shape(p, "before any run")
  T.eq(p.run.steps, 0, "before any run: no steps profiled")
  T.eq(p.run.total, 0, "before any run: run.total is 0")
  T.eq(p.run.spikes, 0, "before any run: no spikes")
  T.eq(p.run.events, 0, "before any run: no events")
  T.eq(net:profile(true), nil, "net:profile(true) returns nothing")
  T.eq(net:profile(false), nil, "net:profile(false) returns nothing")
end

-- ---- a profiled run -------------------------------------------------------------------------
do
  local net, counts = network()
  net:run(30, {profile = true})
  local p = net:profile()
  local sum = check_shape(p, "after a profiled run")
  local spikes, events = counts()
  T.ok(spikes > 100, "the network fires (" .. spikes .. " spikes)")
  T.eq(p.run.spikes, spikes, "run.spikes: the spikes the monitors recorded")
  T.eq(p.run.events, events, "run.events: each spike times its connections")
  T.eq(p.run.steps, 300, "run.steps: 30 ms at dt = 0.1 are 300 steps")
  -- (on the CUDA backend one host thread drives the device)
  T.eq(p.run.threads, T.cpu and 2 or 1, "run.threads: the threads that ran them")
  T.ok(p.run.update > 0, "run.update > 0")
  T.ok(p.run.total > 0, "run.total > 0")
  -- On the CUDA backend a run also spends time outside its steps' phases
  -- (copies to and from the device at its start and end, among others):
  -- on an H100 the phases were once 0.037 of 0.086 s, four scripts
  -- running at once.
  if T.cpu then
    T.ok(sum > 0.5 * p.run.total,
         string.format("the phases are most of the run (%g of %g s)", sum, p.run.total))
  else
    T.ok(sum > 0 and sum <= p.run.total,
         string.format("the phases are part of the run (%g of %g s)", sum, p.run.total))
  end
  -- printing
  local s = tostring(p)
  for _, k in ipairs(PHASES) do
    T.ok(s:find("\n  " .. k .. " ", 1, true), "tostring: a line for '" .. k .. "'")
  end
  for _, k in ipairs(BUILD) do
    T.ok(s:find("\n  " .. k .. " ", 1, true), "tostring: a line for build's '" .. k .. "'")
  end
  T.ok(s:find(T.cpu and "(300 steps, 2 threads)" or "(300 steps, on the GPU)", 1, true),
       "tostring: steps and threads (on CUDA: the GPU):\n" .. s)
  T.eq(p.run.gpu, not T.cpu, "run.gpu: the steps ran on a GPU")
  -- the device's own time on the windows of steps it ran alone: on CUDA
  -- some (this run's steps need no host), never more than the run
  if T.cpu then
    T.eq(p.run.device, 0, "run.device: none on the CPU")
  else
    T.ok(p.run.device > 0 and p.run.device <= p.run.total,
         string.format("run.device: part of the run (%g of %g s)", p.run.device, p.run.total))
    T.ok(s:find("the device's own time on the steps it ran alone", 1, true),
         "tostring: the device's time:\n" .. s)
  end
  T.ok(s:find("^build "), "tostring: starts with the build total")
  -- a second call gives the same values
  T.eq(run_bits(net:profile()), run_bits(p), "net:profile() twice: the same values")
  -- the table is a copy: changing it changes nothing
  p.run.steps = -1
  T.eq(net:profile().run.steps, 300, "the returned table is a copy")

  -- {profile = true} is for that run only: the next run is not profiled and
  -- leaves the profile (spikes and events included) as it was
  local before = run_bits(net:profile())
  net:run(5)
  T.eq(run_bits(net:profile()), before, "{profile = true} is for one run: the next is not profiled")
  T.eq(net:profile().run.steps, 300, "still the 300 steps of the profiled run")
  net:run(7, {profile = false})
  T.eq(run_bits(net:profile()), before, "{profile = false}: the last profile is unchanged")
  -- a profiled run starts a new profile, with its own spikes and events
  local s0, e0 = counts()
  net:run(4, {profile = true})
  local s1, e1 = counts()
  T.eq(net:profile().run.steps, 40, "a profiled run starts from 0: 40 steps")
  T.eq(net:profile().run.spikes, s1 - s0, "spikes: the profiled run's")
  T.eq(net:profile().run.events, e1 - e0, "events: the profiled run's")
  -- net:profile(true) turns it on again
  net:profile(true)
  net:run(2)
  T.eq(net:profile().run.steps, 20, "net:profile(true): the next run is profiled (20 steps)")
  net:profile(false)
  before = run_bits(net:profile())
  net:run(3)
  T.eq(run_bits(net:profile()), before, "net:profile(false): the next run leaves it unchanged")
  check_shape(net:profile(), "after runs with and without timing")
  -- a run of no steps, profiled
  net:run(0, {profile = true})
  T.eq(net:profile().run.steps, 0, "a profiled run of 0 ms: 0 steps")
  -- set_threads: the next profiled run says how many ran it
  net:set_threads(3)
  local s2, e2 = counts()
  net:run(5, {profile = true})
  local s3, e3 = counts()
  T.eq(net:profile().run.threads, T.cpu and 3 or 1, "after set_threads(3): run.threads")
  T.eq(net:profile().run.steps, 50, "after set_threads(3): run.steps = 50")
  T.ok(e3 > e2, "after set_threads(3): the network still fires")
  T.eq(net:profile().run.spikes, s3 - s2, "after set_threads(3): spikes")
  T.eq(net:profile().run.events, e3 - e2, "after set_threads(3): events, each spike times its connections")
end

-- ---- one thread, profiled: events counted as the spikes are delivered ------------------------
do
  local net, counts = network{threads = 1}
  net:run(20, {profile = true})
  local spikes, events = counts()
  T.ok(events > 0, "one thread: the network fires")
  T.eq(net:profile().run.spikes, spikes, "one thread: run.spikes")
  T.eq(net:profile().run.events, events, "one thread: run.events, each spike times its connections")
end

-- ---- one thread, never profiled -------------------------------------------------------------
do
  local net = network{threads = 1}
  net:run(5)
  local p = net:profile()
  check_shape(p, "never profiled")
  T.eq(p.run.steps, 0, "never profiled: no steps")
  T.eq(p.run.update, 0, "never profiled: run.update is 0")
  net:run(5, {profile = true})
  T.eq(net:profile().run.threads, 1, "threads = 1: run.threads = 1")
  T.eq(net:profile().run.steps, 50, "profiled after an unprofiled run: only its own steps")
end

-- ---- graded connections: one event per connection and step -------------------------------------
do
  local net = nk.network{dt = 0.1, threads = 2}
  local m = net:population("morris_lecar", 150, {init = {v = nk.uniform(-60, -20)}})
  local pj = net:connect(m, m, {rule = "fixed_indegree", indegree = 7, synapse = "power_gpot",
                                weight = 0.5})
  net:run(4, {profile = true})
  T.eq(#pj, 1050, "graded: 150 x 7 connections")
  T.eq(net:profile().run.spikes, 0, "graded: no spikes")
  T.eq(net:profile().run.events, 40 * 1050, "graded: 40 steps x 1050 connections")
end

-- ---- a results file: its writing is a phase -------------------------------------------------
do
  local file = T.tmpname("profile")
  local net = network{output = file}
  net:run(10, {profile = true})
  local p = net:profile()
  check_shape(p, "with a results file")
  T.eq(p.run.steps, 100, "with a results file: 100 steps")
  T.ok(p.run.write > 0, "with a results file: run.write > 0")
  net:close()
  os.remove(file)
end

-- ---- a run stopped by a divergence: the steps done ------------------------------------------
do
  nk.model{name = "prof_blowup", equations = "dv/dt = v*v", states = {v = 0.1}, method = "euler"}
  local net = nk.network{dt = 0.1}
  net:population("prof_blowup", 3)
  local ok = pcall(net.run, net, 100, {profile = true})
  T.ok(not ok, "the model diverges")
  local p = net:profile()
  check_shape(p, "after a divergence")
  local done = math.floor(net.t / 0.1 + 0.5)
  T.ok(done > 0 and done < 1000, "the run stopped early (" .. done .. " steps)")
  T.eq(p.run.steps, done, "after a divergence: run.steps are the steps done")
end

-- ---- refusals -------------------------------------------------------------------------------
do
  local net = network()
  T.raises("option 'profile' for net:run must be true or false, got string", net.run, net, 10,
           {profile = "yes"})
  T.raises("option 'profile' for net:run must be true or false, got number", net.run, net, 10,
           {profile = 1})
  T.raises("bad argument #1 to 'net:profile' (true or false expected, got number)",
           net.profile, net, 1)
  T.raises("bad argument #1 to 'net:profile' (true or false expected, got string)", net.profile, net,
           "on")
  T.eq(net.t, 0, "the refused runs did not run")
  T.eq(net:profile().run.steps, 0, "the refused calls did not profile")
  -- a run refused for its duration had already turned profiling on, for
  -- every run after it
  T.raises("duration must be a finite number of ms >= 0, got -1", net.run, net, -1,
           {profile = true})
  net:run(1)
  T.eq(net:profile().run.steps, 0, "a refused {profile = true} run profiles no later run")
end

T.done("profile")
