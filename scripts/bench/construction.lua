-- scripts/bench/construction.lua: one case of the construction benchmark,
-- run by scripts/bench/construction.sh in a process of its own (so that the
-- peak memory is this case's alone).
--
--   nkshell scripts/bench/construction.lua edges EDGES.csv NEURONS.csv
--   nkshell scripts/bench/construction.lua indegree NEURONS INDEGREE
--
-- Prints "key=value" lines on stdout: times in seconds (nk.clock), memory in
-- bytes. rss_* are the resident set size before anything was built, after
-- construction (with the edge list freed) and after the first step; peak is
-- the largest resident size the process had. Memory comes from nk.memory()
-- and, as a cross-check, from /proc/self/status (VmRSS, VmHWM).

local mode = arg[1]
if mode ~= "edges" and mode ~= "indegree" then
  error("usage: construction.lua edges EDGES NEURONS | indegree NEURONS INDEGREE", 0)
end

local function proc_status()
  local t = {}
  local f = io.open("/proc/self/status")
  if f then
    for l in f:lines() do
      local k, v = l:match("^(Vm%w+):%s+(%d+) kB")
      if k then t[k] = tonumber(v) * 1024 end
    end
    f:close()
  end
  return t
end

-- Resident and peak bytes: nk.memory() where it exists, else /proc.
local function memory()
  collectgarbage()
  local s = proc_status()
  local rss, peak = s.VmRSS, s.VmHWM
  if nk.memory then
    local m = nk.memory()
    rss, peak = m.rss, m.peak
  end
  return rss or -1, peak or -1, s.VmRSS or -1, s.VmHWM or -1
end

local out = {}
local function put(k, v) out[#out + 1] = {k, v} end

local rss0 = memory()
put("rss_before", rss0)
local net = nk.network{dt = 0.1, seed = 1}
local pop, nsyn, projs
local t0 = nk.clock()

if mode == "edges" then
  local E, err = nk.read_edges(arg[2], {pre = "pre_root_id", post = "post_root_id",
                                        weight = "syn_count", sign = "nt_type",
                                        inhibitory = {"GABA", "GLUT"}, nodes = arg[3]})
  if not E then error(err, 0) end
  local t1 = nk.clock()
  put("read_s", t1 - t0)
  put("edges", #E)
  put("rss_edges", (memory()))
  pop = net:population("lif", E.nids, {name = "brain", ids = E})
  local t2 = nk.clock()
  put("population_s", t2 - t1)
  local exc, inh = net:connect(pop, pop, {rule = "edges", edges = E, weight = 3.4375, delay = 1.8,
                                          synapse = "exp_curr", params = {tau_syn = 5}})
  local t3 = nk.clock()
  put("connect_s", t3 - t2)
  projs = {exc, inh}
  E:free() -- the projections hold what they need
else
  local n, k = math.tointeger(tonumber(arg[2])), math.tointeger(tonumber(arg[3]))
  if not n or not k then error("indegree: NEURONS and INDEGREE must be integers", 0) end
  pop = net:population("lif", n, {name = "p"})
  local t1 = nk.clock()
  put("read_s", 0)
  put("population_s", t1 - t0)
  local c = net:connect(pop, pop, {rule = "fixed_indegree", indegree = k, weight = 1})
  put("connect_s", nk.clock() - t1)
  projs = {c}
end

local construct_s = nk.clock() - t0
nsyn = 0
for _, p in ipairs(projs) do nsyn = nsyn + #p end
put("construct_s", construct_s)
put("neurons", #pop)
put("synapses", nsyn)
local rss1, _, prss1 = memory()
put("rss_after", rss1)
put("proc_rss_after", prss1)

-- The first step: code generation (cached by content), buffers, ring buffers.
local t4 = nk.clock()
net:run(net.dt, {progress = false})
put("first_step_s", nk.clock() - t4)
local build_s = net:timing()
put("build_s", build_s)
local rss2, peak, prss2, ppeak = memory()
put("rss_first_step", rss2)
put("proc_rss_first_step", prss2)
put("peak", peak)
put("proc_peak", ppeak)

for _, kv in ipairs(out) do
  local v = kv[2]
  print(string.format(math.type(v) == "float" and "%s=%.6f" or "%s=%s", kv[1], v))
end
