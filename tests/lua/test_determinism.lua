-- The same network with the same seed gives identical spikes; another seed
-- gives different ones. Exercises every random path: initial values,
-- bernoulli and fixed_indegree connectivity, Poisson input.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")

local function build(seed)
  local net = nk.network{dt = 0.1, seed = seed}
  local lif = {tau_m = 20, C_m = 200, v_rest = -49, v_reset = -60, v_thresh = -50, t_ref = 5}
  local e = net:population("lif", 400, {name = "e", params = lif, init = {v = nk.uniform(-60, -50)}})
  local i = net:population("lif", 100, {name = "i", params = lif, init = {v = nk.uniform(-60, -50)}})
  net:connect(e, e, {rule = "bernoulli", p = 0.1, weight = 16.2, receptor = "exc", params = {tau_syn = 5}})
  net:connect(e, i, {rule = "fixed_indegree", indegree = 40, weight = 16.2, receptor = "exc", params = {tau_syn = 5}})
  net:connect(i, e, {rule = "bernoulli", p = 0.1, weight = -90, receptor = "inh", params = {tau_syn = 10}})
  net:connect(i, i, {rule = "fixed_indegree", indegree = 10, weight = -90, allow_multapses = false,
                     receptor = "inh", params = {tau_syn = 10}})
  net:source("poisson", e:slice(1, 50), {rate = 200, weight = 50, receptor = "exc"})
  local me, mi = net:monitor("spikes", e), net:monitor("spikes", i)
  net:run(300)
  local t, id = me:times(), me:ids()
  for k, v in ipairs(mi:times()) do t[#t + 1] = v end
  for k, v in ipairs(mi:ids()) do id[#id + 1] = v + 1000 end
  return t, id
end

local t1, i1 = build(1)
local t2, i2 = build(1)
local t3, i3 = build(2)
T.ok(#t1 > 100, "the network is active (" .. #t1 .. " spikes)")
T.same_list(t1, t2, "same seed: times")
T.same_list(i1, i2, "same seed: ids")
local differs = #t1 ~= #t3
for k = 1, math.min(#t1, #t3) do
  if t1[k] ~= t3[k] or i1[k] ~= i3[k] then differs = true break end
end
T.ok(differs, "another seed gives different spikes")

-- continuing a run in pieces gives the same spikes as one long run
local function pieces(n)
  local net = nk.network{seed = 5}
  local p = net:population("lif", 200, {params = {I_e = 300}, init = {v = nk.uniform(-70, -55)}})
  net:connect(p, p, {rule = "bernoulli", p = 0.05, weight = -20, delay = 1.3})
  net:source("poisson", p, {rate = 100, weight = 30})
  local m = net:monitor("spikes", p)
  for _ = 1, n do net:run(200 / n) end
  return m:times(), m:ids()
end
local ta, ia = pieces(1)
local tb, ib = pieces(4)
T.same_list(ta, tb, "one run vs four: times")
T.same_list(ia, ib, "one run vs four: ids")

-- Connections are built by several threads when a projection is large
-- enough (connect.c, par_rows: 65,536 synapses a thread at least), each
-- taking a run of rows: the synapses are the same for any thread count,
-- and an error is the one a single thread going row by row meets first.
-- Every rule but fixed_indegree and list builds its rows so (those two
-- build by target, on threads too: test_rules and test_edges).
local RULES = {"fixed_total", "fixed_outdegree", "all_to_all", "one_to_one", "bernoulli", "shape",
               "distance"}
local function synapses(threads, weight)
  local net = nk.network{seed = 11, threads = threads}
  local grid = {}
  for i = 1, 3000 do grid[i] = {(i - 1) % 60 * 10, (i - 1) // 60 * 10, (i - 1) % 7 * 4} end
  local a = net:population("lif", 3000, {positions = grid})
  local b = net:population("lif", 2000)
  local c = net:population("lif", 300000)
  local out = {}
  out[1] = net:connect(a, b, {rule = "fixed_total", total = 400000,
                              weight = weight or nk.normal(20, 8, 0), delay = nk.normal(2, 1, 0.1)})
  out[2] = net:connect(b, a, {rule = "fixed_outdegree", outdegree = 150, allow_multapses = false,
                              weight = nk.uniform(-30, -10), delay = nk.uniform(0.1, 4)})
  out[3] = net:connect(a:slice(1, 150), b, {rule = "all_to_all", weight = nk.normal(5, 2),
                                             delay = nk.uniform(0.1, 4)})
  out[4] = net:connect(c, c, {rule = "one_to_one", weight = 3, delay = nk.uniform(0.1, 2)})
  out[5] = net:connect(a, a, {rule = "bernoulli", p = 0.1, weight = 1, delay = 1})
  out[6] = net:connect(a, a, {rule = "shape", shape = {kind = "sphere", radius = 65}, p = 0.8,
                              weight = nk.uniform(1, 2), delay = 1})
  out[7] = net:connect(a, a, {rule = "distance", p = "exp(-d / 50)", weight = 1, delay = 1})
  local s = {}
  for k, p in ipairs(out) do s[k] = p:synapses() end
  net:close()
  return s
end
local one, four = synapses(1), synapses(4)
for k, rule in ipairs(RULES) do
  local what = "projection " .. k .. " (" .. rule .. ")"
  T.ok(#one[k].pre > 4 * 65536, what .. " is large enough for 4 threads (" .. #one[k].pre ..
       " synapses)")
  for _, f in ipairs{"pre", "post", "weight", "delay"} do
    T.same_list(one[k][f], four[k][f], what .. ": " .. f .. ", 1 thread vs 4")
  end
end
-- all_to_all and one_to_one: every pair, each once, in order
local pairs_ok = #one[3].pre == 150 * 2000 and #one[4].pre == 300000
for i = 1, #one[3].pre do
  local want_pre, want_post = (i - 1) // 2000 + 1, (i - 1) % 2000 + 1
  if one[3].pre[i] ~= want_pre or one[3].post[i] ~= want_post then pairs_ok = false break end
end
for i = 1, #one[4].pre do
  if one[4].pre[i] ~= i or one[4].post[i] ~= i then pairs_ok = false break end
end
T.ok(pairs_ok, "all_to_all: each source to every target, one_to_one: i to i, in order")
-- weights out of range in every run of rows: the first one is reported
local function refusal(threads)
  local ok, err = pcall(synapses, threads, nk.normal(0, 1e6))
  T.ok(not ok, threads .. " threads: weights over 1e6 are refused")
  return tostring(err)
end
local e1, e4 = refusal(1), refusal(4)
T.ok(e1:find("out of range", 1, true) ~= nil, "the refusal says why: " .. e1)
T.ok(e1 == e4, "the same refusal with 4 threads as with 1: " .. e4)

T.done("determinism")
