-- Neurokernel GEXF files: both dialects, gzip, grouping into populations,
-- parameters and units, synapses and weights, a run, and every malformed file.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")

local src = os.getenv("NKSHELL_SRCDIR")
local data = src and (src .. "/tests/data/gexf/")
  or ((arg[0]:match("(.*/)") or "./") .. "../data/gexf/")

local function find_proj(net, pre, post)
  for _, p in ipairs(net:projections()) do
    if p.pre.name == pre and p.post.name == post then return p end
  end
end

local function by_name(net)
  local t = {}
  for _, p in ipairs(net:populations()) do t[p.name] = p end
  return t
end

-- The peak of Neurokernel's AlphaSynapse kernel z = ar ad/(ad - ar)
-- (exp(-ar t) - exp(-ad t)), in the rates' own unit (written out here
-- independently of the loader).
local function zpeak(ar, ad)
  if ar == ad then return ar / math.exp(1) end
  local tp = math.log(ad / ar) / (ad - ar)
  return ar * ad / (ad - ar) * (math.exp(-ar * tp) - math.exp(-ad * tp))
end

local function rel(a, b) return math.abs(a - b) / math.abs(b) end

------------------------------------------------------------------------------
-- current format (mV, ms; synapses are nodes)
do
  local net = nk.network{dt = 0.05, precision = "double"}
  local r = net:load_gexf(data .. "current.gexf")
  T.eq(r.version, 2, "current: version")
  T.eq(r.synapses, 5, "current: five synapses built (the one from the input port is not)")

  local n = r.nodes
  T.eq(n.d0.class, "LeakyIAF", "d0 class")
  T.eq(n.d0.population.name, "LeakyIAF", "d0 population")
  T.eq(n.d0.index, 1, "d0 index")
  T.eq(n.d1.index, 2, "d1 index")
  T.eq(n.t0.population.name, "LeakyIAF_2", "t0: other parameters, other population")
  T.eq(n.t0.index, 1, "t0 index")
  T.eq(n.m0.population.name, "MorrisLecar", "m0 population")
  T.eq(n.m1.index, 2, "m1 index")
  T.eq(n.s_d0_t0.class, "AlphaSynapse", "synapse node class")
  T.eq(n.s_d0_t0.population, nil, "a synapse is no neuron")
  T.eq(n.s_m0_m1.class, "PowerGPotGPot", "graded synapse node class")
  T.eq(n.in0.class, "Port", "input port class")
  T.eq(n.in0.port, "in", "input port io")
  T.eq(n.in0.selector, "/lpu/in/spk/0", "input port selector")
  T.eq(n.in0.population, nil, "a port is no neuron")
  T.eq(n.out0.port, "out", "output port io")
  T.eq(n.t0.port, "out", "t0 feeds the output port")
  T.eq(n.t0.selector, "/lpu/out/spk/0", "t0 carries its port's selector")
  T.eq(n.d0.port, nil, "d0 is no output")

  local pops = net:populations()
  T.eq(#pops, 3, "current: three populations")
  local P = by_name(net)
  T.eq(P.LeakyIAF.size, 2, "LeakyIAF size")
  T.eq(P.LeakyIAF_2.size, 1, "LeakyIAF_2 size")
  T.eq(P.MorrisLecar.size, 2, "MorrisLecar size")
  T.eq(P.LeakyIAF.model, "lif", "LeakyIAF -> lif")
  T.eq(P.MorrisLecar.model, "morris_lecar", "MorrisLecar -> morris_lecar")
  T.ok(r.populations and r.populations.LeakyIAF_2, "the result lists the new populations")

  local L = P.LeakyIAF
  T.near(L:param("tau_m"), 10, 1e-12, "tau_m = R C")
  T.near(L:param("C_m"), 1, 1e-12, "C_m = capacitance")
  T.near(L:param("v_rest"), -40, 1e-12, "v_rest")
  T.near(L:param("v_reset"), -70, 1e-12, "v_reset")
  T.near(L:param("v_thresh"), -50, 1e-12, "v_thresh")
  T.near(L:param("t_ref"), 0, 0, "no refractory period")
  T.near(P.LeakyIAF_2:param("tau_m"), 20, 1e-12, "LeakyIAF_2 tau_m")
  T.near(L:get("v", 1), -70, 1e-12, "initV of d0")
  T.near(L:get("v", 2), -60, 1e-12, "initV of d1")
  T.near(P.LeakyIAF_2:get("v", 1), -65, 1e-12, "no initV: starts at rest")
  local M = P.MorrisLecar
  T.near(M:param("V1"), 30, 1e-12, "V1")
  T.near(M:param("V4"), 30, 1e-12, "V4")
  T.near(M:param("phi"), 0.025, 1e-15, "phi")
  T.near(M:param("V_Ca"), 100, 1e-12, "V_Ca")
  T.near(M:param("g_K"), 2, 1e-12, "g_K")
  T.near(M:param("C_m"), 1, 0, "C_m = 1")
  T.near(M:get("v", 1), -52.14, 1e-9, "initV of m0")
  T.near(M:get("n", 1), 0.02, 1e-12, "initn of m0")
  T.near(M:get("v", 2), -50, 1e-12, "initV of m1")

  T.eq(#net:projections(), 4, "current: four projections")
  local p = find_proj(net, "LeakyIAF", "LeakyIAF_2")
  T.ok(p, "projection LeakyIAF -> LeakyIAF_2")
  if p then
    T.eq(p.synapse.name, "alpha_cond", "ar = ad: alpha_cond")
    T.eq(p.receptor, "alpha_1", "receptor name")
    T.near(p.params.tau_syn, 2, 1e-12, "tau_syn = 1/ar")
    T.near(p.params.E_rev, 0, 0, "E_rev = reverse")
    local s = p:synapses()
    T.eq(#s.pre, 2, "two synapses onto t0")
    T.same_list(s.pre, {1, 2}, "pre")
    T.same_list(s.post, {1, 1}, "post")
    T.ok(rel(s.weight[1], 1.0 * zpeak(0.5, 0.5)) < 1e-6, "weight = gmax * peak of z (d0)")
    T.ok(rel(s.weight[2], 2.0 * zpeak(0.5, 0.5)) < 1e-6, "weight = gmax * peak of z (d1)")
    T.near(s.delay[1], 0.05, 1e-12, "no delay: one step")
  end
  p = find_proj(net, "LeakyIAF", "LeakyIAF")
  T.ok(p, "projection LeakyIAF -> LeakyIAF")
  if p then
    T.eq(p.synapse.name, "ampa", "ar ~= ad: the double exponential")
    T.eq(p.receptor, "alpha_1", "a receptor of the first population")
    T.near(p.params.tau_rise, 1 / 1.9, 1e-12, "tau_rise = 1/max(ar, ad)")
    T.near(p.params.tau_decay, 1 / 0.11, 1e-12, "tau_decay = 1/min(ar, ad)")
    T.near(p.params.E_rev, -80, 0, "E_rev")
    local s = p:synapses()
    T.same_list(s.pre, {1}, "d0 ->")
    T.same_list(s.post, {2}, "-> d1")
    T.ok(rel(s.weight[1], 0.003 * zpeak(0.11, 1.9)) < 1e-6, "double-exponential weight")
  end
  p = find_proj(net, "MorrisLecar", "MorrisLecar")
  T.ok(p, "projection MorrisLecar -> MorrisLecar")
  if p then
    T.eq(p.synapse.name, "power_gpot", "PowerGPotGPot -> power_gpot")
    T.eq(p.receptor, "gpot_1", "graded receptor name")
    T.near(p.params.threshold, -55, 0, "threshold")
    T.near(p.params.slope, 0.02, 1e-15, "slope")
    T.near(p.params.saturation, 0.4, 1e-15, "saturation")
    local s = p:synapses()
    T.same_list(s.post, {2}, "m0 -> m1")
    T.near(s.weight[1], 1, 0, "graded weight 1")
    T.near(s.delay[1], 1.0, 1e-9, "edge delay 0.001 s = 1 ms")
  end
  p = find_proj(net, "LeakyIAF_2", "MorrisLecar")
  T.ok(p and p.synapse.name == "alpha_cond" and p.params.E_rev == 10 and p.receptor == "alpha_1",
       "t0 -> m0: alpha_cond, E_rev 10")

  -- it runs: the drivers rest above threshold and fire on their own every
  -- 10 ln 3 ms (rounded up to the step); they drive t0
  local md = net:monitor("spikes", P.LeakyIAF)
  local mt = net:monitor("spikes", P.LeakyIAF_2)
  net:run(200)
  local n0, n1 = 0, 0
  for _, i in ipairs(md:ids()) do
    if i == 1 then n0 = n0 + 1 else n1 = n1 + 1 end
  end
  T.eq(n0, 18, "d0 fires every 11 ms")
  T.ok(n1 >= 17 and n1 <= 18, "d1 fires about every 11 ms: " .. n1)
  T.ok(mt:count() > 0, "the target fires")
  local tt, td = mt:times(), md:times()
  T.ok(#tt > 0 and tt[1] > td[1], "the target fires after the first driver spike")
  T.ok(M:get("gpot_1.g", 2) > 0, "m1 receives graded input from m0")
  T.near(M:get("alpha_1.g", 2), 0, 0, "m1 has no spiking input")
end

------------------------------------------------------------------------------
-- legacy v0.1 (volts, seconds; synapses are edges), plain and gzip
local function check_legacy(file)
  local net = nk.network{dt = 0.05, precision = "double"}
  local r = net:load_gexf(data .. file)
  T.eq(r.version, 1, file .. ": version")
  T.eq(r.synapses, 5, file .. ": five synapses (two from input ports are not built)")
  local P = by_name(net)
  T.eq(#net:populations(), 3, file .. ": three populations")
  T.eq(P.LeakyIAF and P.LeakyIAF.size, 2, file .. ": LeakyIAF size")
  T.eq(P.LeakyIAF_2 and P.LeakyIAF_2.size, 1, file .. ": LeakyIAF_2 size")
  T.eq(P.MorrisLecar and P.MorrisLecar.size, 2, file .. ": MorrisLecar size")
  if not (P.LeakyIAF and P.LeakyIAF_2 and P.MorrisLecar) then return end
  local n = r.nodes
  T.eq(n["1"].port, "out", "a public neuron is an output")
  T.eq(n["1"].selector, "/lpu/out/spk/0", "its selector")
  T.eq(n["0"].port, nil, "a private neuron is not")
  T.eq(n["5"].class, "Port", "port_in_spk is a port")
  T.eq(n["5"].port, "in", "an input port")
  T.eq(n["6"].selector, "/lpu/in/gpot/0", "port_in_gpot's selector")
  T.eq(n["2"].population.name, "LeakyIAF_2", "node 2")
  local L = P.LeakyIAF
  T.near(L:param("tau_m"), 70, 1e-9, "tau_m = R C, s -> ms")
  T.near(L:param("C_m"), 70, 1e-9, "C = 0.07 (nF) -> 70 pF")
  T.near(L:param("v_rest"), 0, 0, "legacy LeakyIAF: no resting potential")
  T.near(L:param("v_reset"), -67.5, 1e-9, "Vr, V -> mV")
  T.near(L:param("v_thresh"), -25, 1e-9, "Vt, V -> mV")
  T.near(L:get("v", 1), -60, 1e-9, "V (initial), V -> mV")
  T.near(L:get("v", 2), -30, 1e-9, "V of node 1")
  T.near(P.LeakyIAF_2:get("v", 1), -70, 1e-9, "legacy: without V, start at Vr")
  local M = P.MorrisLecar
  T.near(M:param("V2"), 15, 1e-9, "V2, V -> mV")
  T.near(M:param("V_L"), -50, 0, "legacy Morris-Lecar constants")
  T.near(M:param("g_Ca"), 1.1, 1e-12, "legacy g_Ca")
  T.near(M:get("v", 1), -52.14, 1e-9, "initV, V -> mV")

  T.eq(#net:projections(), 4, file .. ": four projections")
  local p = find_proj(net, "LeakyIAF", "LeakyIAF_2")
  T.ok(p, "LeakyIAF -> LeakyIAF_2")
  if p then
    T.eq(p.synapse.name, "ampa", "double exponential")
    T.near(p.params.tau_rise, 1 / 1.9, 1e-12, "rates per second: 1900/s -> tau 1/1.9 ms")
    T.near(p.params.tau_decay, 1 / 0.11, 1e-12, "110/s -> tau 1/0.11 ms")
    T.near(p.params.E_rev, 65, 1e-9, "reverse, V -> mV")
    local s = p:synapses()
    T.same_list(s.pre, {1, 2}, "pre")
    -- gmax * the peak of z in 1/s: the conductance Neurokernel computed
    T.ok(rel(s.weight[1], 0.003 * zpeak(110, 1900)) < 1e-6, "weight of 0 -> 2")
    T.ok(rel(s.weight[2], 0.006 * zpeak(110, 1900)) < 1e-6, "weight of 1 -> 2")
  end
  p = find_proj(net, "LeakyIAF", "LeakyIAF")
  if p then
    T.eq(p.synapse.name, "alpha_cond", "ar = ad")
    T.near(p.params.tau_syn, 2.5, 1e-12, "400/s -> 2.5 ms")
    T.ok(rel(p:synapses().weight[1], 0.01 * zpeak(400, 400)) < 1e-6, "alpha weight")
  else
    T.ok(false, "LeakyIAF -> LeakyIAF")
  end
  p = find_proj(net, "MorrisLecar", "MorrisLecar")
  if p then
    T.eq(p.synapse.name, "power_gpot", "power_gpot_gpot -> power_gpot")
    T.near(p.params.threshold, -50, 1e-9, "threshold, V -> mV")
    T.near(p.params.slope, 0.8e-3, 1e-15, "slope per V -> per mV")
    T.near(p.params.saturation, 0.03, 1e-15, "saturation")
    T.near(p.params.reverse, -80, 1e-9, "reverse")
    T.near(p:synapses().delay[1], 1.0, 1e-9, "legacy delay in ms")
  else
    T.ok(false, "MorrisLecar -> MorrisLecar")
  end
  local m = net:monitor("spikes", L)
  net:run(150)
  T.ok(m:count() > 0, file .. ": the legacy neurons fire (rest 0 V is above threshold)")
end
check_legacy("legacy.gexf")
check_legacy("legacy.gexf.gz")

------------------------------------------------------------------------------
-- loading into a network that already has these names
do
  local net = nk.network{}
  local own = net:population("lif", 3, {name = "LeakyIAF"})
  local r = net:load_gexf(data .. "current.gexf")
  T.eq(r.nodes.d0.population.name, "LeakyIAF_2", "a taken name gets the next number")
  T.eq(r.nodes.t0.population.name, "LeakyIAF_3", "and the next group the one after")
  T.eq(#own, 3, "the existing population is untouched")
  local r2 = net:load_gexf(data .. "current.gexf")
  T.eq(r2.nodes.m0.population.name, "MorrisLecar_2", "a second load numbers on")
  T.eq(#net:populations(), 1 + 3 + 3, "two loads, three populations each")
end

------------------------------------------------------------------------------
-- malformed files: an error naming the file and the problem, and the
-- network as it was
local bad = {
  {"bad_xml.gexf", "malformed XML"},
  {"bad_root.gexf", "expected <gexf>"},
  {"bad_empty.gexf", "Document is empty"},
  {"bad_class.gexf", "unknown class 'Izhikevich'"},
  {"bad_missing.gexf", "lacks parameter 'Vt/threshold'"},
  {"bad_number.gexf", "is not a finite number"},
  {"bad_param.gexf", "parameter 'tau_ref' has no counterpart"},
  {"bad_range.gexf", "must be > 0"},
  {"bad_refractory.gexf", "population 'LeakyIAFwithRefractoryPeriod': the refractory period " ..
   "t_ref = 1e+09 ms is out of range (expected 0 to 1e+08 ms: at most 1e9 steps of dt = 0.1 ms)"},
  {"bad_dupid.gexf", "node id 'n1' is used twice"},
  {"bad_attvalue.gexf", "no attribute with id '42'"},
  {"bad_noid.gexf", "<node> without an 'id'"},
  {"bad_dangling.gexf", "there is no node 'n9'"},
  {"bad_edge.gexf", "needs both 'source' and 'target'"},
  {"bad_synapse.gexf", "several incoming edges"},
  {"bad_neuron_edge.gexf", "joins two neurons directly"},
  {"bad_noclass.gexf", "not a Neurokernel LPU"},
  {"bad_entity.gexf", "external entity"},
  {"bad_legacy_edge.gexf", "has no 'model'"},
  {"bad_truncated.gexf.gz", "(the gzip stream is damaged or cut short)"},
  {"does_not_exist.gexf", "cannot open"},
}
for _, b in ipairs(bad) do
  local net = nk.network{}
  net:population("lif", 2, {name = "mine"})
  local err = T.raises(b[2], net.load_gexf, net, data .. b[1])
  T.ok(err and err:find(b[1], 1, true), b[1] .. ": the message names the file: " .. tostring(err))
  T.eq(#net:populations(), 1, b[1] .. ": no population added")
  T.eq(#net:projections(), 0, b[1] .. ": no projection added")
  T.ok(pcall(net.run, net, 1), b[1] .. ": the network runs")
end
-- a whole gzip file whose XML is wrong is not called damaged
do
  local net = nk.network{}
  local err = T.raises("bad_xml.gexf.gz:194: malformed XML: Opening and ending tag mismatch",
                       net.load_gexf, net, data .. "bad_xml.gexf.gz")
  T.ok(err and not err:find("gzip", 1, true), "no gzip hint for a sound gzip stream: " .. tostring(err))
end
-- a line number where there is one
local net = nk.network{}
local err = T.raises("bad_number.gexf:17:", net.load_gexf, net, data .. "bad_number.gexf")
T.ok(err and err:find("'threshold'", 1, true), "the message names the attribute")
T.raises("directory", net.load_gexf, net, data)

T.done("gexf")
