-- samples/flyscale.lua: a whole-brain connectome in FlyWire's shape as leaky
-- integrate-and-fire neurons, with the parameters of Shiu et al. (2024),
-- "A Drosophila computational brain model reveals sensorimotor processing".
--
--   nkshell samples/flyscale.lua [EDGES.csv NEURONS.csv] [DURATION_MS]
--
-- EDGES.csv is a connection table with FlyWire's columns
-- (pre_root_id,post_root_id,neuropil,syn_count,nt_type), NEURONS.csv lists
-- every neuron's root_id (neurons without connections too). FlyWire's own
-- files work; so does what scripts/flyscale/nk-flyscale-gen writes (138,639
-- neurons, ~15 million rows). Without files the sample writes a small one
-- (5,000 neurons) with nk-flyscale-gen into a temporary file and loads that;
-- it finds the generator beside the nkshell it runs in
-- (BUILD/scripts/flyscale/), or where NK_FLYSCALE_GEN says. DURATION_MS is
-- 1000 by default, 200 with files given (a full-size file that the drive
-- sets alight takes about 11 s per simulated second on two CPU cores:
-- docs/performance.md).
--
-- The small file has 34 partners per neuron: FlyWire's 54.5 million
-- synapses among 139,255 neurons are 391 per neuron, 34 connections of the
-- generator's mean syn_count (11.6). There the drive reaches a few dozen
-- neurons; at nk-flyscale-gen's default of 108 partners (15 million rows,
-- 175 million synapses, three times FlyWire's) it sets nine neurons in ten
-- firing, at over 80 Hz on average.
--
-- The model (Shiu et al.'s Brian2 code): every neuron
--   dv/dt = (g - (v - v_0))/t_mbr,  dg/dt = -g/tau,
-- t_mbr = 20 ms, v_0 = reset = -52 mV, threshold -45 mV, refractory 2.2 ms,
-- tau = 5 ms; a spike arrives after 1.8 ms and adds w_syn * syn_count to g
-- with w_syn = 0.275 mV, negative for GABA and glutamate (inhibitory in the
-- fly), positive for everything else. nkshell's lif reads
--   dv/dt = (v_rest - v)/tau_m + I/C_m
-- so g is the current I seen through the membrane: g/t_mbr = I/C_m, I = g *
-- C_m / tau_m, and a synapse of w_syn mV is an exp_curr synapse of
-- w_syn * C_m / tau_m = 0.275 * 250 / 20 = 3.4375 pA per synapse, with
-- tau_syn = 5 ms (the exponential decay of g is the same). C_m only scales
-- the units; any value gives the same voltages. Excitatory and inhibitory
-- synapses add into one receptor, g, as in Shiu et al.'s single g: the sum
-- of two exponential currents with the same tau is one. (Leaving receptor
-- unset would give the library's default, one receptor per sign, "exc" and
-- "inh": the same dynamics, twice the input buffers and synaptic state, and
-- on this network's 300 ms about 14 % more run time.)
--
-- The drive: as Shiu et al. excite sensory neurons, 30 neurons get a 150 Hz
-- Poisson train whose every spike lifts v by w_syn * f_poi = 0.275 * 250 =
-- 68.75 mV at once (Brian2's PoissonInput on v; here a delta synapse), so
-- each drives its neuron to fire. Differences from the original: Shiu et al. take the
-- refractory period off the driven neurons and hold g still during
-- refractoriness and zero it at a spike; here every neuron has the same 2.2
-- ms and g (the synaptic current) keeps decaying, so a drive spike that
-- falls in the refractory period is lost: the drive alone makes a neuron
-- fire at about 113 Hz rather than 150.

local function is_number(s) return s and tonumber(s) ~= nil end

local edges_path, nodes_path, duration
if arg and arg[1] and not is_number(arg[1]) then
  edges_path, nodes_path = arg[1], arg[2]
  if not nodes_path then error("give both EDGES.csv and NEURONS.csv (or neither)", 0) end
  duration = tonumber(arg[3]) or 200
else
  duration = tonumber(arg and arg[1]) or 1000
end

-- Shiu et al. (2024), in nkshell's units.
local C_m, tau_m = 250, 20                           -- pF, ms
local shiu = {tau_m = tau_m, C_m = C_m, v_rest = -52, v_reset = -52, v_thresh = -45, t_ref = 2.2}
local w_syn = 0.275                                  -- mV per synapse
local weight = w_syn * C_m / tau_m                   -- pA per synapse: 3.4375
local f_poi = 250                                    -- Poisson weight, in w_syn
local drive = {rate = 150, weight = w_syn * f_poi, synapse = "delta", receptor = "drive"}
local n_driven = 30

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function readable(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- nk-flyscale-gen: $NK_FLYSCALE_GEN, else beside this nkshell (BUILD/shell/nkshell
-- -> BUILD/scripts/flyscale/), else build/ under the current directory, else PATH.
local function find_generator()
  local env = os.getenv("NK_FLYSCALE_GEN")
  if env and env ~= "" then return env end
  local i = -1
  while arg and arg[i - 1] do i = i - 1 end
  local exe = arg and arg[i] or ""
  local dir = exe:match("^(.*)/[^/]*$")
  local candidates = {}
  if dir then candidates[#candidates + 1] = dir .. "/../scripts/flyscale/nk-flyscale-gen" end
  candidates[#candidates + 1] = "build/scripts/flyscale/nk-flyscale-gen"
  for _, c in ipairs(candidates) do
    if readable(c) then return c end
  end
  if os.execute("command -v nk-flyscale-gen >/dev/null 2>&1") then return "nk-flyscale-gen" end
  error("nk-flyscale-gen not found: build it (ninja -C build) or set NK_FLYSCALE_GEN, " ..
        "or give EDGES.csv and NEURONS.csv", 0)
end

local temp
if not edges_path then
  local gen = find_generator()
  temp = os.tmpname()
  edges_path, nodes_path = temp .. ".edges.csv", temp .. ".neurons.csv"
  print("writing a small synthetic connectome with " .. gen)
  io.stdout:flush()   -- its summary comes on stderr
  local ok = os.execute(string.format("%s --neurons 5000 --mean-degree 34 --seed 1 --edges %s --nodes %s",
                                      quote(gen), quote(edges_path), quote(nodes_path)))
  if not ok then
    os.remove(temp)
    error("nk-flyscale-gen failed", 0)
  end
end

local function cleanup()
  if temp then
    os.remove(edges_path)
    os.remove(nodes_path)
    os.remove(temp)
  end
end

-- Construction: read the table, one population, two projections (one per
-- sign) into one receptor.
local mem0 = nk.memory()
local t0 = nk.clock()
local E, err = nk.read_edges(edges_path, {pre = "pre_root_id", post = "post_root_id",
                                          weight = "syn_count", sign = "nt_type",
                                          inhibitory = {"GABA", "GLUT"}, nodes = nodes_path})
if not E then
  cleanup()
  error(err, 0)
end
local t1 = nk.clock()

local net = nk.network{dt = 0.1}   -- seed: 1, or --seed N
local brain = net:population("lif", E.nids, {name = "brain", ids = E, params = shiu})
local exc, inh = net:connect(brain, brain, {rule = "edges", edges = E, weight = weight, delay = 1.8,
                                            synapse = "exp_curr", receptor = "g",
                                            params = {tau_syn = 5}})
local t2 = nk.clock()
local n_rows = #E
E:free()   -- the projections hold what they need

-- The driven neurons: 30 root ids spread over the neuron list, found by id
-- (brain's neurons are in the order of their sorted ids: brain:ids()).
local ids = {}
for line in io.lines(nodes_path) do
  local id = math.tointeger(tonumber(line:match("^%s*(%d+)")))
  if id then ids[#ids + 1] = id end
end
cleanup()
local driven, is_driven = {}, {}
for k = 1, n_driven do
  local id = ids[1 + (k - 1) * (#ids // n_driven)]
  local i = brain:index_of(id)
  if i and not is_driven[i] then
    driven[#driven + 1] = id
    is_driven[i] = true
    net:source("poisson", brain:slice(i, i), drive)
  end
end

local sp = net:monitor("spikes", brain)
local construct_s = nk.clock() - t0
local nsyn = (exc and #exc or 0) + (inh and #inh or 0)

print(string.format("connectome: %d neurons, %d rows -> %d synapses (%d excitatory, %d inhibitory)",
                    #brain, n_rows, nsyn, exc and #exc or 0, inh and #inh or 0))
print(string.format("  construction %.2f s (read %.2f s, population and connections %.2f s)",
                    construct_s, t1 - t0, t2 - t1))
local mem = nk.memory()
print(string.format("  memory: resident %.0f MiB (%.0f MiB before), peak %.0f MiB: %.1f bytes per synapse " ..
                    "resident, %.1f at the peak", mem.rss / 2^20, mem0.rss / 2^20, mem.peak / 2^20,
                    (mem.rss - mem0.rss) / math.max(nsyn, 1), (mem.peak - mem0.rss) / math.max(nsyn, 1)))

net:run(duration)
local build_s, run_s = net:timing()

-- Firing: the driven neurons, and what their activity reached.
local counts = {}
for _, i in ipairs(sp:ids()) do counts[i] = (counts[i] or 0) + 1 end
local d_spikes, o_spikes, o_active, o_max, o_max_i = 0, 0, 0, 0, nil
for i, c in pairs(counts) do
  if is_driven[i] then
    d_spikes = d_spikes + c
  else
    o_spikes, o_active = o_spikes + c, o_active + 1
    if c > o_max then o_max, o_max_i = c, i end
  end
end
local sec = duration / 1000
print(string.format("simulated %g ms on the %s backend: build %.2f s, run %.2f s (%.2f s per simulated second)",
                    duration, net.backend, build_s, run_s, run_s / sec))
print(string.format("  %d spikes, mean rate %.3f Hz over all %d neurons", sp:count(), sp:rate(), #brain))
print(string.format("  driven (%d neurons, 150 Hz Poisson): %.1f Hz", #driven, d_spikes / math.max(#driven, 1) / sec))
local busiest = o_max_i and string.format("; the busiest, %d, %.1f Hz", brain:ids()[o_max_i], o_max / sec) or ""
print(string.format("  others: %d of %d fired at least once, %.1f Hz among those%s", o_active, #brain - #driven,
                    o_spikes / math.max(o_active, 1) / sec, busiest))
