-- SONATA: net:save_model / nk.load_model round trip (identical network,
-- identical spikes), reading hand-made files with odd id widths, and the
-- messages for malformed input (tests/data/sonata; make_sonata.c there wrote
-- the HDF5 files).
local here = arg[0]:match("(.*/)") or "./"
local T = dofile(here .. "check.lua")
local data = here .. "../data/sonata/"

-- ---- round trip ----------------------------------------------------------------

local dir = T.tmpname("test_sonata"):gsub("%.h5$", "")
local net = nk.network{dt = 0.1, seed = 11}
local exc = net:population("lif", 80, {
  name = "exc", params = {tau_m = 20, v_thresh = -52},
  init = {v = nk.uniform(-70, -53)},
  positions = {kind = "box", size = {200, 100, 50}},
})
local ids = {}
for i = 1, 20 do ids[i] = 5000 + 3 * i end
local inh = net:population("iaf_psc_alpha", 20, {
  name = "inh", method = "rk45", rtol = 1e-5, atol = 1e-7,
  params = {tau_m = 8, t_ref = 1}, ids = ids,
  positions = {kind = "grid", spacing = {10, 10, 10}},
})
net:connect(exc, exc, {rule = "bernoulli", p = 0.1, weight = nk.normal(40, 15),
                       delay = nk.uniform(0.5, 3)})
net:connect(exc, inh, {rule = "fixed_indegree", indegree = 12, weight = nk.uniform(60, 90),
                       delay = 1})
net:connect(inh, exc:slice(11, 40), {rule = "all_to_all", weight = -50, delay = 0.8})
net:connect(exc:slice(21, 40), inh, {rule = "one_to_one", receptor = "slow", synapse = "exp_cond",
                                    params = {tau_syn = 7, E_rev = -5}, weight = 2, delay = 2.3})
net:connect(inh, inh, {rule = "bernoulli", p = 0.3, synapse = "sigmoid", receptor = "gap",
                       weight = 0.2})
-- a projection whose weights straddle zero keeps one named receptor
net:connect(inh, exc, {rule = "bernoulli", p = 0.2, weight = nk.normal(0, 20),
                       receptor = "mixed", synapse = "exp_curr", params = {tau_syn = 4}})
-- and one that came out empty
net:connect(exc, inh, {rule = "bernoulli", p = 0, weight = 5, receptor = "none",
                       synapse = "alpha_curr"})
net:save_model(dir)

for _, f in ipairs{"nodes.h5", "edges.h5", "node_types.csv", "edge_types.csv",
                   "circuit_config.json"} do
  local h = io.open(dir .. "/" .. f)
  T.ok(h ~= nil, "save_model wrote " .. f)
  if h then h:close() end
end
local h = io.open(dir .. "/node_types.csv")
local header = h and h:read("l") or ""
local row1 = h and h:read("l") or ""
if h then h:close() end
T.ok(header:find("^node_type_id population model_type model_template") ~= nil,
     "node_types.csv header: " .. header)
T.ok(row1:find(" exc point_neuron nk:lif ", 1, true) ~= nil, "node_types.csv row: " .. row1)

local net2 = nk.load_model(dir)
local A, B = net:populations(), net2:populations()
T.eq(#B, #A, "populations")
for k = 1, math.min(#A, #B) do
  local a, b = A[k], B[k]
  T.eq(b.name, a.name, "population name")
  T.eq(b.size, a.size, "size of " .. a.name)
  T.eq(b.model, a.model, "model of " .. a.name)
  for _, p in ipairs{"tau_m", "C_m", "v_rest", "v_reset", "v_thresh", "t_ref", "I_e"} do
    T.eq(b:param(p), a:param(p), a.name .. " parameter " .. p)
  end
  local bad = 0
  for i = 1, a.size do
    if a:get("v", i) ~= b:get("v", i) then bad = bad + 1 end
  end
  T.eq(bad, 0, a.name .. ": initial v of every neuron")
  local pa, pb = a:positions(), b:positions()
  T.ok(pa ~= nil and pb ~= nil, a.name .. " has positions")
  if pa and pb then
    bad = 0
    for i = 1, a.size do
      for c = 1, 3 do
        if pa[i][c] ~= pb[i][c] then bad = bad + 1 end
      end
    end
    T.eq(bad, 0, a.name .. ": positions")
  end
end
T.eq(B[1]:param("tau_m"), 20, "exc tau_m")
T.eq(B[2]:param("tau_syn_ex"), 2, "inh keeps its NEST parameters")
T.same_list(B[2]:ids() or {}, ids, "inh ids")
T.eq(B[1]:ids(), nil, "exc has no ids")

local P, Q = net:projections(), net2:projections()
T.eq(#Q, #P, "projections")
for k = 1, math.min(#P, #Q) do
  local p, q = P[k], Q[k]
  T.eq(q.pre.name, p.pre.name, "projection " .. k .. " pre")
  T.eq(q.post.name, p.post.name, "projection " .. k .. " post")
  T.eq(q.pre.first, p.pre.first, "projection " .. k .. " pre range")
  T.eq(q.post.first, p.post.first, "projection " .. k .. " post range (slice kept)")
  T.eq(q.post.last, p.post.last, "projection " .. k .. " post range end")
  T.eq(q.receptor, p.receptor, "projection " .. k .. " receptor")
  T.eq(q.synapse.name, p.synapse.name, "projection " .. k .. " synapse")
  for name, v in pairs(p.params) do
    T.eq(q.params[name], v, "projection " .. k .. " receptor parameter " .. name)
  end
  local s, t = p:synapses(), q:synapses()
  T.eq(#t.pre, #s.pre, "projection " .. k .. " synapse count")
  T.ok((#s.pre > 0) == (k ~= 7), "projection " .. k .. " has synapses (7: none)")
  local bad = 0
  for i = 1, math.min(#s.pre, #t.pre) do
    if s.pre[i] ~= t.pre[i] or s.post[i] ~= t.post[i] or s.weight[i] ~= t.weight[i]
       or s.delay[i] ~= t.delay[i] then
      bad = bad + 1
    end
  end
  T.eq(bad, 0, "projection " .. k .. ": every synapse (pre, post, weight, delay) in CSR order")
end
do -- the straddling projection really has both signs
  local w = P[6]:synapses().weight
  local neg, pos = 0, 0
  for _, x in ipairs(w) do if x < 0 then neg = neg + 1 else pos = pos + 1 end end
  T.ok(neg > 0 and pos > 0, "weights of both signs in one projection")
end

-- the same stimulus on both; identical spike trains
local function drive(n)
  local pp = n:populations()
  n:source("poisson", pp[1], {rate = 6000, weight = 30})
  n:source("poisson", pp[2], {rate = 3000, weight = 40})
  return n:monitor("spikes", pp[1]), n:monitor("spikes", pp[2])
end
local m1, m2 = drive(net)
local n1, n2 = drive(net2)
net:run(200)
net2:run(200)
T.ok(m1:count() > 50, "exc fires: " .. m1:count())
T.ok(m2:count() > 5, "inh fires: " .. m2:count())
T.same_list(n1:times(), m1:times(), "exc spike times")
T.same_list(n1:ids(), m1:ids(), "exc spike ids")
T.same_list(n2:times(), m2:times(), "inh spike times")
T.same_list(n2:ids(), m2:ids(), "inh spike ids")

-- saving after a run stores the states reached; dt and seed come back
local dir2 = dir .. "-after"
net:save_model(dir2)
net:save_model(dir2) -- a model save_model wrote is replaced
local net3 = nk.load_model(dir2)
local e1, e3 = net:populations()[1], net3:populations()[1]
T.eq(e3:get("v", 7), e1:get("v", 7), "states after a run are saved")
T.raises("already exists", function() net3:load_sonata(dir2) end)
T.eq(#net3:populations(), 2, "a refused load leaves the network as it was")

-- a dt other than the saved one: delays are whole steps of the new dt
local net4 = nk.network{dt = 0.05}
net4:load_sonata(dir)
local s4 = net4:projections()[2]:synapses()
T.near(s4.delay[1], 1.0, 1e-12, "delay in ms survives a finer dt")
os.execute("rm -rf '" .. dir .. "' '" .. dir2 .. "'")

-- an empty network round-trips too
local empty = T.tmpname("test_sonata_empty"):gsub("%.h5$", "")
nk.network{dt = 0.25, seed = 99}:save_model(empty)
local e2 = nk.load_model(empty)
T.eq(#e2:populations(), 0, "empty network: no populations")
T.eq(tostring(e2):match("dt ([%d.]+) ms"), "0.25", "empty network: dt")
os.execute("rm -rf '" .. empty .. "'")

-- a refractory period that a finer dt makes longer than 1e9 steps is refused
-- at the load, naming the population; the network is left as it was and runs
-- (it was loaded, and every run failed)
do
  local long = T.tmpname("test_sonata_tref"):gsub("%.h5$", "")
  local a = nk.network{dt = 1}
  a:population("lif", 2, {name = "once", params = {t_ref = 1e8}})
  a:save_model(long)
  local b = nk.network{dt = 0.01}
  local mine = b:population("lif", 1, {name = "mine", params = {I_e = 1000}})
  local m = b:monitor("spikes", mine)
  T.raises("/nodes/once: population 'once': the refractory period t_ref = 1e+08 ms is out of " ..
           "range (expected 0 to 1e+07 ms: at most 1e9 steps of dt = 0.01 ms)",
           b.load_sonata, b, long)
  T.eq(#b:populations(), 1, "the refused load added no population")
  T.ok(pcall(b.run, b, 20) and m:count() > 0, "the network runs afterwards")
  -- nk.load_model names itself, not the method it calls
  local ok, e = pcall(nk.load_model, long, {dt = 0.01})
  T.ok(not ok and e:find("^nk.load_model: .*/nodes/once: population") ~= nil,
       "nk.load_model's name: " .. e)
  T.eq(#nk.load_model(long):populations(), 1, "at its own dt = 1 ms the model loads")
  os.execute("rm -rf '" .. long .. "'")
end

-- names with line breaks, quotes and spaces round-trip (node_types.csv quotes
-- them; a line break inside quotes was read as the end of the line)
do
  local odd = T.tmpname("test_sonata_odd"):gsub("%.h5$", "")
  local n0 = nk.network{}
  local pa = n0:population("lif", 3, {name = "a\nb"})
  n0:connect(pa, n0:population("lif", 2, {name = 'c "d" e'}), {weight = 1})
  n0:save_model(odd)
  local n1 = nk.load_model(odd)
  local names = {}
  for _, p in ipairs(n1:populations()) do names[#names + 1] = p.name .. "/" .. #p end
  T.same_list(names, {"a\nb/3", 'c "d" e/2'}, "population names with a line break and quotes")
  os.execute("rm -rf '" .. odd .. "'")
  -- a name past 4096 bytes (the listing stopped at 4096: "cannot list /nodes")
  local long = string.rep("n", 5000)
  local n2 = nk.network{}
  n2:population("lif", 2, {name = long})
  n2:save_model(odd)
  local n3 = nk.load_model(odd)
  T.eq(n3:populations()[1].name, long, "a 5000-byte population name round-trips")
  os.execute("rm -rf '" .. odd .. "'")
end

-- ---- hand-made files: odd id widths, bmtk habits --------------------------------

local odd = nk.network{dt = 0.1}
local made = odd:load_sonata(data .. "odd/circuit_config.json")
local pops = odd:populations()
T.eq(#pops, 3, "one population per node type: v1 has two, lgn one")
T.ok(made.v1_100 ~= nil and made.v1_101 ~= nil and made.lgn ~= nil, "returned by name")
local v100, v101, lgn = pops[1], pops[2], pops[3]
T.eq(v100.name, "v1_100", "split population named <pop>_<type>")
T.eq(v100.size, 4, "v1_100 size")
T.eq(v100.model, "lif", "model_template nk:lif")
T.eq(v101.model, "iaf_psc_alpha", "model_template nest:iaf_psc_alpha")
T.eq(lgn.name, "lgn", "single-type population keeps its name")
T.eq(lgn.model, "poisson", "virtual nodes are silent poisson sources")
T.eq(lgn:param("rate"), 0, "virtual: rate 0")
T.same_list(v100:ids(), {0, 2, 4, 5}, "split population: SONATA node ids as ids")
T.same_list(v101:ids(), {1, 3}, "v1_101 ids")
T.same_list(lgn:ids(), {1000, 1003, 1006}, "node_id (int64) as ids")
T.eq(v100:param("C_m"), 200, "node_types.csv column")
T.eq(v100:param("tau_m"), 15, "per-node parameter, one value per type")
T.eq(v101:param("tau_m"), 12, "per-node parameter of the other type")
T.eq(v101:param("v_thresh"), -52.5, "dynamics_params JSON, NEST alias V_th")
T.eq(v101:param("t_ref"), 1.5, "dynamics_params JSON")
T.eq(v101:param("tau_syn_ex"), 1, "dynamics_params JSON")
T.eq(v100:get("v", 4), -65, "per-node initial v (dynamics_params dataset)")
T.eq(v101:get("v", 2), -63, "per-node v overrides the JSON's V_m")
local pos = v101:positions()
T.ok(pos ~= nil, "positions from x, y, z (float32, big-endian float64)")
if pos then T.same_list(pos[2], {30, 4, -4}, "position of v1 node 3") end

local pr = odd:projections()
T.eq(#pr, 6, "projections: per pre, post, edge type and sign")
local function syn(k)
  local s = pr[k] and pr[k]:synapses() or {pre = {}, post = {}, weight = {}, delay = {}}
  local out = {}
  for i = 1, #s.pre do
    out[#out + 1] = string.format("%d>%d w%g d%g", s.pre[i], s.post[i], s.weight[i], s.delay[i])
  end
  return table.concat(out, " ")
end
T.eq(syn(1), "1>1 w2.5 d1", "lgn -> v1_100, static_synapse: the default receptor")
T.eq(pr[1] and pr[1].receptor, "exc", "positive weight: exc")
T.eq(syn(2), "2>4 w2 d3 3>2 w4 d0.5", "lgn -> v1_100, edge type 301, CSR order")
T.eq(pr[2] and pr[2].receptor, "ampa", "receptor column")
T.eq(pr[2] and pr[2].synapse.name, "exp_cond", "model_template nk:exp_cond")
T.eq(pr[2] and pr[2].params.tau_syn, 3, "edge type column tau_syn")
T.eq(pr[2] and pr[2].params.E_rev, -5, "edge dynamics_params JSON")
T.eq(syn(3), "1>2 w3 d1.5", "lgn -> v1_101 excitatory")
T.eq(syn(4), "2>1 w-1.5 d2", "lgn -> v1_101 inhibitory")
T.eq(pr[4] and pr[4].receptor, "inh", "negative weight: inh")
T.eq(syn(5), "3>4 w10 d2", "no edge group: syn_weight x nsyns and delay from edge_types.csv")
T.eq(syn(6), "1>1 w10 d2 2>2 w10 d2", "v1_100 -> v1_101")
odd:run(5) -- it runs

-- the same files as lists; edges referring to populations already there
local lists = nk.network{dt = 0.1}
lists:load_sonata{nodes = {data .. "odd/lgn_nodes.hdf5"},
                  node_types = {data .. "odd/lgn_node_types.csv"}}
T.eq(#lists:populations(), 1, "nodes only, as lists")
T.raises("dynamics_params file 'iaf_inh.json' not found", function()
  nk.network{}:load_sonata{nodes = data .. "odd/v1_nodes.hdf5",
                           node_types = data .. "odd/v1_node_types.csv"}
end)
-- an error after two node types files were listed, before their tables
-- were read, freed tables that were never made (SIGSEGV)
T.raises("was not written by save_model", nk.load_model, data .. "odd/circuit_config.json")
do
  local cfg = T.tmpname("test_sonata_cfg"):gsub("%.h5$", ".json")
  local f = assert(io.open(cfg, "w"))
  f:write(string.format([[{"networks": {
  "nodes": [{"nodes_file": "%sodd/v1_nodes.hdf5", "node_types_file": "%sodd/v1_node_types.csv"},
            {"nodes_file": "%sodd/lgn_nodes.hdf5", "node_types_file": "%sodd/lgn_node_types.csv"}],
  "edges": [{"edge_types_file": "%sodd/edge_types.csv"}]}}]], data, data, data, data, data))
  f:close()
  T.raises('networks.edges[1] has no "edges_file"', function() nk.network{}:load_sonata(cfg) end)
  os.remove(cfg)
end
local plain = nk.network{}
plain:load_sonata{nodes = data .. "simple/nodes.hdf5", node_types = data .. "simple/node_types.csv"}
T.raises("is not a node of population 'v1'", function()
  plain:load_sonata{edges = data .. "bad/edges_out_of_range.hdf5"}
end)
plain:load_sonata{edges = data .. "simple/edges.hdf5", edge_types = data .. "simple/edge_types.csv"}
T.eq(#plain:populations(), 1, "edges onto a population of the network")
T.eq(#plain:projections(), 1, "one projection")
do
  local s = plain:projections()[1]:synapses()
  local out = {}
  for i = 1, #s.pre do out[#out + 1] = s.pre[i] .. ">" .. s.post[i] end
  T.eq(table.concat(out, " "), "1>2 2>3 3>4", "node ids are the neuron indices (0-based in files)")
end

-- two node types, no groups: every type still gets its ids
local two = nk.network{}
two:load_sonata{nodes = data .. "simple/nodes_two_types.hdf5",
                node_types = data .. "simple/node_types.csv"}
local tp = two:populations()
T.eq(#tp, 2, "two node types, two populations")
T.eq(tp[1] and tp[1].name, "v3_1", "first type")
T.eq(tp[2] and tp[2].model, "iaf_psc_exp", "second type's model")
T.same_list(tp[1] and tp[1]:ids() or {}, {0, 2}, "ids of type 1")
T.same_list(tp[2] and tp[2]:ids() or {}, {1, 3}, "ids of type 2")

-- without node types: every node gets opts.model
local dflt = nk.network{}
dflt:load_sonata{nodes = data .. "simple/nodes.hdf5", model = "izhikevich"}
T.eq(dflt:populations()[1].model, "izhikevich", "model option")

-- ---- malformed input ----------------------------------------------------------------

local function load(t)
  local n = nk.network{}
  local ok, err = pcall(n.load_sonata, n, t)
  return ok, err, n
end
local function refused(text, t, what)
  T.raises(text, function()
    local n = nk.network{}
    n:load_sonata(t)
  end)
  local _, _, n = load(t)
  T.eq(#n:populations() + #n:projections(), 0, (what or text) .. ": network unchanged")
end
local good = {nodes = data .. "simple/nodes.hdf5", node_types = data .. "simple/node_types.csv",
              edge_types = data .. "simple/edge_types.csv"}
local function with(k, v)
  local t = {}
  for a, b in pairs(good) do t[a] = b end
  t[k] = v
  return t
end

refused("cannot open '" .. data .. "bad/missing.h5': No such file or directory",
        with("nodes", data .. "bad/missing.h5"))
refused("'" .. data .. "bad/not_hdf5.hdf5' is not an HDF5 file",
        with("nodes", data .. "bad/not_hdf5.hdf5"))
refused("cannot open '" .. data .. "bad/does-not-exist': No such file or directory",
        data .. "bad/does-not-exist")
refused("/nodes/v2 has no node_type_id dataset", with("nodes", data .. "bad/nodes_no_type_id.hdf5"))
refused("/nodes/v2/node_type_id holds floating-point numbers; expected integers",
        with("nodes", data .. "bad/nodes_float_type.hdf5"))
refused("/nodes/v2/node_type_id is 2-D, 2 x 2; expected a 1-D dataset",
        with("nodes", data .. "bad/nodes_2d.hdf5"))
refused("/nodes/v2/node_group_id has 3 values; expected 4",
        with("nodes", data .. "bad/nodes_group_length.hdf5"))
refused("/nodes/v2/0/y has 3 values but /nodes/v2/0/x has 4",
        with("nodes", data .. "bad/nodes_xyz_length.hdf5"))
refused("/nodes/v2/0 has x and y but not z: positions need all three of x, y, z (um)",
        with("nodes", data .. "bad/nodes_no_z.hdf5"))
refused("nodes 0 and 2 of node type 1 have different values (10 and 20)",
        with("nodes", data .. "bad/nodes_param_varies.hdf5"))
-- NaN in every node was "different values (nan and nan)": NaN equals nothing
refused("/nodes/v2/0/tau_m[0] = nan (node 0): parameter 'tau_m' is not a number; expected a "
        .. "finite number", with("nodes", data .. "bad/nodes_param_nan.hdf5"))
-- per-node values of the wrong shape or kind were ignored when the model has
-- no such name (lif has no V_m); every dataset under dynamics_params/ is one
-- number per node
refused("/nodes/v2/0/dynamics_params/V_m is 2-D, 4 x 2; expected a 1-D dataset (one per node "
        .. "of the group)", with("nodes", data .. "bad/nodes_dyn_2d.hdf5"))
refused("/nodes/v2/0/dynamics_params/v holds strings; expected numbers (one per node of the "
        .. "group)", with("nodes", data .. "bad/nodes_dyn_strings.hdf5"))
-- a uint64 id above 2^63 - 1 was clamped to it, and shown so
refused("/nodes/v2/node_type_id[1] = 18446744073709551615 is too large: expected at most "
        .. "9223372036854775807 (2^63 - 1)", with("nodes", data .. "bad/nodes_u64_type_id.hdf5"))
-- without group ids and indices node (edge) i is row i: a short group was
-- reported as a bad node_group_index[i], a dataset the file does not have
refused("/nodes/v2/0/x has 3 values; expected 4, one per node (/nodes/v2 has no node_group_id "
        .. "and node_group_index, so node i is row i of group 0)",
        with("nodes", data .. "bad/nodes_implicit_short.hdf5"))
refused("/edges/bad/0/delay has 2 values; expected 3, one per edge (/edges/bad has no "
        .. "edge_group_id and edge_group_index, so edge i is row i of group 0)",
        with("edges", data .. "bad/edges_implicit_short.hdf5"))
-- a dynamics_params file or a config that is a FIFO: said so (it was "not
-- found"), and never opened (a config read from a FIFO waited for a writer)
do
  local dir = T.tmpname("test_sonata_fifo"):gsub("%.h5$", "")
  assert(os.execute("mkdir -p '" .. dir .. "'"))
  if os.execute("mkfifo '" .. dir .. "/dyn.json' 2>/dev/null") then
    local h = assert(io.open(dir .. "/types.csv", "w"))
    h:write("node_type_id model_template dynamics_params\n1 nk:lif dyn.json\n")
    h:close()
    refused("'" .. dir .. "/types.csv' line 2: dynamics_params file '" .. dir .. "/dyn.json' is a "
            .. "FIFO (named pipe), not a regular file (expected a JSON file of parameter values)",
            with("node_types", dir .. "/types.csv"))
    h = assert(io.open(dir .. "/simulation.json", "w"))
    h:write('{"network": "dyn.json"}\n')
    h:close()
    refused(dir .. "/dyn.json': it is a FIFO (named pipe), not a regular file",
            dir .. "/simulation.json")
  else
    print("skipped: no mkfifo")
  end
  os.execute("rm -rf '" .. dir .. "'")
end
refused("model_template 'nest:glif_psc' of node type 1: unknown model 'glif_psc'",
        with("node_types", data .. "bad/node_types_unknown_model.csv"))
refused("node_types_bad_number.csv' line 2: column 'tau_m' = 'fast' is not a number",
        with("node_types", data .. "bad/node_types_bad_number.csv"))
refused("node_types_out_of_range.csv' line 2: parameter 'tau_m' of model 'lif' must be in "
        .. "(0, inf), got -5",
        with("node_types", data .. "bad/node_types_out_of_range.csv"))
refused("node_types_fields.csv' line 2: 4 fields, expected 3",
        with("node_types", data .. "bad/node_types_fields.csv"))
refused("node_types_quote.csv' line 2: unbalanced quotes",
        with("node_types", data .. "bad/node_types_quote.csv"))
do -- a quoted value across two lines is one value; the lines after it keep their numbers
  local f = T.tmpname("test_sonata_nl"):gsub("%.h5$", ".csv")
  local h = assert(io.open(f, "w"))
  h:write('node_type_id model_template tau_m note\n2 nest:iaf_psc_exp 10 "two\nlines"\n' ..
          '1 nk:lif fast x\n')
  h:close()
  refused("line 4: column 'tau_m' = 'fast' is not a number", with("node_types", f))
  os.remove(f)
end
refused("/nodes/v1/node_type_id[0] = 1 is not a node type of",
        with("node_types", data .. "bad/node_types_other_id.csv"))

-- wide and long types files: the checks for repeated columns and type ids,
-- and the lookups by name and id, took time growing with the square of the
-- columns (100000: minutes) or rows, and Ctrl-C could not stop them
do
  local f = T.tmpname("test_sonata_wide"):gsub("%.h5$", ".csv")
  local function write(text)
    local h = assert(io.open(f, "w"))
    h:write(text)
    h:close()
  end
  -- (how long these take is measured by hand, not asserted: 100000 columns
  -- took 152 s before, 0.07 s after)
  local cols, nulls = {}, {}
  for i = 1, 100000 do
    cols[i] = "c" .. i
    nulls[i] = "NULL"
  end
  local wide = with("node_types", f)
  wide.nodes = data .. "simple/nodes_two_types.hdf5"
  write("node_type_id model_template " .. table.concat(cols, " ") .. " c7 tau_m\n")
  do -- 100000 columns, one repeated
    refused(f .. "' line 1: column 'c7' appears twice", wide)
  end
  write("node_type_id model_template " .. table.concat(cols, " ") .. " tau_m\n" ..
        "1 nk:lif " .. table.concat(nulls, " ") .. " 12\n" ..
        "2 nk:lif " .. table.concat(nulls, " ") .. " 13\n")
  do -- 100000 columns
    local n = nk.network{}
    n:load_sonata(wide)
    local p = n:populations()
    T.eq(p[2] and p[2]:param("tau_m"), 13, "the last of 100001 columns is found")
  end
  local rows = {"node_type_id population model_template tau_m"}
  for i = 1, 100000 do rows[#rows + 1] = string.format("%d v%d nk:lif %d", i, i % 3, i) end
  rows[#rows + 1] = "1 NULL nk:lif 21" -- type 1 of any population (row 1 is v1's)
  rows[#rows + 1] = "2 v3 nk:lif 22" -- v3's type 2 (row 2 is v2's)
  write(table.concat(rows, "\n") .. "\n")
  do -- 100000 rows
    local n = nk.network{}
    n:load_sonata(wide)
    local p = n:populations()
    T.eq(p[1] and p[1]:param("tau_m"), 21, "type 1 of v3: the row with no population")
    T.eq(p[2] and p[2]:param("tau_m"), 22, "type 2 of v3: the row for v3, not v2's")
  end
  rows[#rows + 1] = "99998 v2 nk:lif 1" -- line 100004 repeats line 99999
  rows[#rows + 1] = "7 v1 nk:lif 1" -- and line 100005 line 8: the first repeat is named
  write(table.concat(rows, "\n") .. "\n")
  do -- 100000 rows, two repeated
    refused(f .. "' line 100004: node_type_id 99998 is defined again (first on line 99999)",
            wide)
  end
  os.remove(f)
end
refused("edges_out_of_range.hdf5': /edges/bad/target_node_id[1] = 99 is not a node of "
        .. "population 'v1' (node ids 0..3)",
        with("edges", data .. "bad/edges_out_of_range.hdf5"))
refused("/edges/bad/source_node_id[2] = -4 is not a node of population 'v1'",
        with("edges", data .. "bad/edges_negative_id.hdf5"))
refused("node_population 'v9' is neither a node population of the nodes files ('v1') nor a "
        .. "population of this network",
        with("edges", data .. "bad/edges_unknown_pop.hdf5"))
refused("/edges/bad/source_node_id holds floating-point numbers; expected integers",
        with("edges", data .. "bad/edges_float_ids.hdf5"))
refused("/edges/bad has no target_node_id dataset",
        with("edges", data .. "bad/edges_no_target.hdf5"))
refused("/edges/bad/target_node_id has 2 values; expected 3",
        with("edges", data .. "bad/edges_length.hdf5"))
refused("/edges/bad/edge_group_index[2] = 7 is outside group 0 (3 rows)",
        with("edges", data .. "bad/edges_group_index.hdf5"))
refused("/edges/bad/0/syn_weight[1] = nan (edge 1): expected a finite weight",
        with("edges", data .. "bad/edges_nan_weight.hdf5"))
refused("/edges/bad/0/delay[2] = -0.5 (edge 2): expected a finite delay >= 0 ms",
        with("edges", data .. "bad/edges_negative_delay.hdf5"))
refused("/edges/bad/0/delay[0] = 1e+09 (edge 0): longer than 65535 steps",
        with("edges", data .. "bad/edges_huge_delay.hdf5"))
local unk = with("edge_types", data .. "bad/edge_types_unknown_synapse.csv")
unk.edges = data .. "simple/edges.hdf5"
refused("edge_types_unknown_synapse.csv' line 2: model_template 'nk:stdp_magic' of edge type 1: "
        .. "unknown model 'stdp_magic'", unk)
refused("config_unknown_var.json': \"$MISSING/nodes.hdf5\" uses $MISSING, which the manifest "
        .. "does not define",
        data .. "bad/config_unknown_var.json")
refused("config_broken.json' is not valid JSON: line 1: expected a quoted key",
        data .. "bad/config_broken.json")
refused("bad/not_hdf5.hdf5' is not an HDF5 file", {nodes = data .. "bad/not_hdf5.hdf5"})

-- a population name that exists already
local twice = nk.network{}
twice:population("lif", 3, {name = "v1"})
T.raises("a population called 'v1' already exists in this network", function()
  twice:load_sonata(good)
end)
T.eq(#twice:populations(), 1, "refused: nothing added")

-- two edge types that want one receptor with different parameters: found
-- before anything is added
local clash = with("edges", data .. "bad/edges_two_types.hdf5")
clash.edge_types = data .. "bad/edge_types_clash.csv"
refused("receptor 'r' of population 'v1' has tau_syn = 2", clash, "receptor clash")

-- save_model does not replace files of those names that it did not write
-- (a SONATA model loaded from there, say), and leaves them as they were
do
  local theirs = T.tmpname("test_sonata_theirs"):gsub("%.h5$", "")
  os.execute("rm -rf '" .. theirs .. "'; mkdir '" .. theirs .. "'")
  local f = assert(io.open(theirs .. "/node_types.csv", "w"))
  f:write("node_type_id model_type\n100 biophysical\n")
  f:close()
  local n = nk.network{}
  n:population("lif", 2)
  T.raises("directory '" .. theirs .. "' already holds node_types.csv, which net:save_model did "
           .. "not write (it holds no nodes.h5)", n.save_model, n, theirs)
  f = assert(io.open(theirs .. "/node_types.csv"))
  T.eq(f:read("a"), "node_type_id model_type\n100 biophysical\n", "their file is left as it was")
  f:close()
  T.eq(io.open(theirs .. "/nodes.h5"), nil, "nothing written beside it")
  os.execute("cp '" .. data .. "simple/nodes.hdf5' '" .. theirs .. "/nodes.h5'")
  T.raises("(its nodes.h5 has no nkshell_version attribute)", n.save_model, n, theirs)
  os.execute("rm -rf '" .. theirs .. "'")
end

-- nk.load_model wants what save_model wrote
T.raises("was not written by save_model (it has no dt and seed attributes)", function()
  nk.load_model(data .. "simple/nodes.hdf5")
end)

T.done("sonata")
