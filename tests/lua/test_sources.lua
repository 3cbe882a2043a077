-- Sources: dc (amplitude, start, stop) and poisson (rate, weight).
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")

-- dc: a neuron fires only while the current is on. With 250 pA through
-- tau_m = 20 ms, C_m = 200 pF it needs 32.19 ms to reach threshold.
do
  local net = nk.network{dt = 0.1, precision = "double"}
  local p = net:population("lif", 3, {params = {tau_m = 20, C_m = 200, v_rest = -70,
    v_reset = -70, v_thresh = -50, t_ref = 2}})
  net:source("dc", p:slice(2, 2), {amplitude = 250, start = 100, stop = 300})
  local m = net:monitor("spikes", p)
  net:run(500)
  local t, id = m:times(), m:ids()
  -- 132.1, 166.2, 200.3, 234.4, 268.5 (302.6 is after stop)
  T.eq(#t, 5, "dc: 5 spikes in the 200 ms window (first at +32.1, every 34.1 ms)")
  local only2, inwin = true, true
  for k = 1, #t do
    if id[k] ~= 2 then only2 = false end
    if t[k] < 100 or t[k] >= 300 then inwin = false end
  end
  T.ok(only2, "dc: only the targeted neuron fires")
  T.ok(inwin, "dc: only inside [start, stop)")
  T.near(t[1], 100 + 32.1, 1e-6, "dc: first spike 32.1 ms after the current starts")
  -- the membrane relaxes after stop: v back near rest at the end
  T.near(p:get("v", 2), -70, 0.1, "dc: v relaxes to rest after stop")
  T.eq(p:get("v", 1), -70, "dc: untargeted neurons stay at rest")
end

-- poisson: with a fast, strong synapse every input spike makes exactly one
-- output spike (unless it arrives during the 5 ms refractory period), so the
-- output rate estimates the input rate: r_out = r / (1 + r * t_ref) for a
-- dead-time process, 20 Hz -> 19.6 Hz.
do
  local net = nk.network{dt = 0.1, seed = 11}
  local p = net:population("lif", 2000, {params = {v_thresh = -69, t_ref = 5}})
  net:source("poisson", p, {rate = 20, weight = 1e5, synapse = "exp_curr", params = {tau_syn = 0.1}})
  local m = net:monitor("spikes", p)
  net:run(1000)
  local r = m:rate()
  local expected = 20 / (1 + 20 * 0.005)
  local sd = math.sqrt(expected / 2000)   -- Poisson count over 2000 neuron-seconds
  T.near(r, expected, 5 * sd + 0.3, "poisson: output rate follows the input rate")

  -- rate 0 gives nothing; start/stop bound the input
  local net2 = nk.network{dt = 0.1}
  local q = net2:population("lif", 500, {params = {v_thresh = -69, t_ref = 5}})
  net2:source("poisson", q:slice(1, 250), {rate = 0, weight = 1e5, params = {tau_syn = 0.1}})
  net2:source("poisson", q:slice(251, 500), {rate = 50, weight = 1e5, start = 200, stop = 400})
  local m2 = net2:monitor("spikes", q)
  net2:run(600)
  local t2, id2 = m2:times(), m2:ids()
  local ok_ids, ok_t = true, true
  for k = 1, #t2 do
    if id2[k] <= 250 then ok_ids = false end
    if t2[k] < 200 or t2[k] >= 401 then ok_t = false end
  end
  T.ok(#t2 > 1000, "poisson window produced spikes (" .. #t2 .. ")")
  T.ok(ok_ids, "poisson: rate 0 gives no input")
  T.ok(ok_t, "poisson: input only between start and stop (plus the synapse's 0.1 ms)")
end

-- Spike input is summed in Q32.32 fixed point and turned into a double as
-- a neuron reads it. Where the engine has bounded a receptor's input below
-- 2^18 (weight units, one step) the kernel does that with two instructions,
-- exact only below 2^19; elsewhere in full. The sums must be exact either
-- way, also when a source's weight grows past the bound between runs (the
-- kernel is then built again): with the short conversion 600000.5 would
-- come out wrong.
do
  local sumq = nk.model{name = "sumq_src", kind = "synapse", states = {q = 0},
                        equations = "dq/dt = 0", on_pre = "q += w", current = "0",
                        method = "euler"}
  local small = "NK_FIX_REAL_SMALL(nk_in"
  for _, threads in ipairs{1, 2} do
    local net = nk.network{dt = 0.1, precision = "double"}
    net:set_threads(threads)
    local p = net:population("lif", 4)
    local s = net:source("spike_times", p:slice(1, 2), {times = {{1, 2, 2}, {3}},
                                                         weight = 1000.25, synapse = sumq,
                                                         receptor = "q"})
    net:run(1.5)
    -- (the conversion is the CPU's: the CUDA backend's kernels convert in full)
    T.ok(not T.cpu or net:code(p):find(small, 1, true),
         "input bounded below 2^18: the short conversion")
    T.eq(p:get("q.q", 1), 1000.25, "short conversion: one event, " .. threads .. " thread(s)")
    s:set{weight = 600000.5}
    net:run(2)
    T.ok(not net:code(p):find(small, 1, true),
         "a weight raised past the bound: the kernel is built again with the full conversion")
    T.eq(p:get("q.q", 1), 1000.25 + 2 * 600000.5, "full conversion: two events in one step")
    T.eq(p:get("q.q", 2), 600000.5, "full conversion: the other neuron's event")
    T.eq(p:get("q.q", 3), 0, "no input, no sum")
    -- lowered again, it stays built as it is (a bound that holds needs no new code)
    s:set{weight = 1}
    net:run(1)
    T.ok(not net:code(p):find(small, 1, true), "a lowered weight keeps the kernel")
    net:close()
  end
  -- what a receptor may receive decides: Poisson counts drawn without a table
  -- (a mean of 10 or more a step) have no bound, graded input neither
  local net = nk.network{dt = 0.1}
  local a = net:population("lif", 3)
  local b = net:population("lif", 3)
  net:source("poisson", a, {rate = 1000, weight = 5, synapse = sumq, receptor = "q"})
  net:source("poisson", b, {rate = 200000, weight = 0.001, synapse = sumq, receptor = "q"})
  T.ok(not T.cpu or net:code(a):find(small, 1, true), "poisson counts from a table are bounded")
  T.ok(not net:code(b):find(small, 1, true), "poisson counts drawn by PTRS are not")
  net:close()
end

T.done("sources")
