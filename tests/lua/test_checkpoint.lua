-- Checkpoints (docs/checkpoints.md): a network restored from a checkpoint
-- continues with the same bits as one that was never stopped, and taking a
-- checkpoint does not perturb the run. Also rolling checkpoints, custom
-- models, refusals, and sources changed between runs.
--
-- Bit-identical means: compared as the IEEE bytes of every number
-- (string.pack "<d"), not with a tolerance.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")

-- ---- scratch directory --------------------------------------------------------------------
-- Removed at the end, and also when the script stops on an error.
local DIR = os.tmpname()
os.remove(DIR)
assert(os.execute("mkdir '" .. DIR .. "'"), "cannot make " .. DIR)
local function remove_dir() os.execute("rm -rf '" .. DIR .. "'") end
local _cleanup <close> = setmetatable({}, {__close = remove_dir})
local function path(name) return DIR .. "/" .. name end
local function exists(p)
  local f = io.open(p, "rb")
  if f then f:close() end
  return f ~= nil
end
local slurp, spit = T.read_file, T.write_file
local function peek(p) -- the file's bytes, or nil when it is missing
  return exists(p) and slurp(p) or nil
end

-- ---- packing numbers and finding the first difference ---------------------------------
local function pack_list(xs)
  local parts = {}
  for i = 1, #xs do parts[i] = string.pack("<d", xs[i]) end
  return table.concat(parts)
end

local function pack_rows(rows)
  local parts = {}
  for r = 1, #rows do
    local row = rows[r]
    parts[r] = type(row) == "table" and (string.pack("<I4", #row) .. pack_list(row))
               or string.pack("<d", row)
  end
  return string.pack("<I4", #rows) .. table.concat(parts)
end

-- Where two packed strings first differ.
local function first_diff(a, b)
  if #a ~= #b then return string.format("lengths %d and %d bytes", #a, #b) end
  for k = 1, #a do
    if a:byte(k) ~= b:byte(k) then return string.format("at byte %d", k) end
  end
  return "nowhere"
end

-- One check: two packed strings are equal.
local function same(a, b, msg)
  T.ok(a == b, string.format("%s: differ (%s)", msg, a ~= b and first_diff(a, b) or ""))
end

-- ---- the network of the issue ---------------------------------------------------------
-- Populations (models), their receptors and the synapse of each.
local POPS = {
  {name = "exc", model = "lif", n = 160, rx = {exc = "exp_curr", inh = "exp_curr",
                                               fast = "alpha_curr"}},
  {name = "inh", model = "lif", n = 40, rx = {exc = "exp_curr", inh = "exp_curr"}},
  {name = "cond", model = "lif_cond", n = 40, rx = {exc = "exp_cond", inh = "exp_cond"}},
  {name = "ad", model = "adex", n = 20, rx = {exc = "exp_curr"}},
  {name = "hh", model = "hh", n = 6, rx = {exc = "exp_curr"}},
}

-- The callback source's function: a pure function of t, logging its calls.
local function make_cb(log)
  return function(t)
    log[#log + 1] = t
    return {100 * math.sin(t / 20), 50 + t / 100, -30}
  end
end

-- The output monitor's function: logs t and the values it was given.
local function make_out(log)
  return function(t, v)
    log[#log + 1] = string.pack("<d", t) .. pack_list(v.v) .. pack_list(v["exc.isyn"])
  end
end

-- The same for the small network below (two neurons, one variable).
local function make_cb2(log)
  return function(t)
    log[#log + 1] = t
    return {200 * math.cos(t / 7), 20}
  end
end
local function make_out2(log)
  return function(t, v) log[#log + 1] = string.pack("<d", t) .. pack_list(v) end
end

-- Builds the network; returns it, its populations by name, and the logs of
-- its callback source and output monitor.
local function build(prec, output)
  local net = nk.network{dt = 0.1, seed = 11, precision = prec, output = output}
  local P = {}
  for _, d in ipairs(POPS) do
    P[d.name] = net:population(d.model, d.n, {name = d.name,
                                             init = d.model == "hh" and nil or
                                                    {v = nk.uniform(-70, -56)}})
  end
  local e, i, c, a, h = P.exc, P.inh, P.cond, P.ad, P.hh
  -- recurrent projections with delays from 0.8 to 7.3 ms: input is pending in
  -- the ring buffers whenever the network is stopped
  net:connect(e, e, {rule = "fixed_indegree", indegree = 10, weight = 15, delay = 1.5})
  net:connect(e, i, {rule = "fixed_indegree", indegree = 20, weight = 25, delay = 0.8})
  net:connect(i, e, {rule = "fixed_indegree", indegree = 10, weight = -50, delay = 2.3})
  net:connect(i, i, {rule = "bernoulli", p = 0.2, weight = -20, delay = 7.3})
  net:connect(e, c, {rule = "fixed_indegree", indegree = 20, weight = 0.4, delay = 3.7})
  net:connect(i, c, {rule = "fixed_indegree", indegree = 10, weight = -1.0, delay = 1.1})
  net:connect(c, a, {rule = "fixed_indegree", indegree = 10, weight = 40,
                     delay = nk.uniform(1, 6)})
  net:connect(e, h, {rule = "fixed_indegree", indegree = 5, weight = 0.3, delay = 4.4})
  -- sources: every kind
  local cb_log, out_log = {}, {}
  net:source("poisson", e, {rate = 8000, weight = 30})
  net:source("poisson", i, {rate = 8000, weight = 30})
  net:source("poisson", c, {rate = 2500, weight = 0.5})
  net:source("bernoulli", i, {p = 0.02, weight = 40})
  net:source("noise", a, {mean = 500, std = 150, interval = 1.3, start = 2})
  net:source("spike_times", e:slice(1, 4), {times = {{100, 499.9, 500, 500.1, 700}, {},
                                                     {499.95, 520, 999}, {10, 510.3}},
                                            weight = 800, receptor = "fast",
                                            synapse = "alpha_curr",
                                            params = {tau_syn = 0.7}})
  net:source("array", i:slice(1, 3), {values = {{0, 100, 200}, {300, 0, 50}, {20, 30, 40},
                                                {500, 400, 300}, {1, 2, 3}, {250, 250, 0},
                                                {99, 98, 97}},
                                      interval = 83.3, after = "hold"})
  net:source("equation", a, {I = "100 + 80*rand() + 10*randn()"})
  net:source("step", c, {times = {100, 450, 550, 900}, amplitudes = {50, -30, 80, 0}})
  net:source("ac", h, {amplitude = 4, frequency = 13, phase = 30, offset = 9})
  net:source("ramp", e:select{5, 9, 33}, {from = -50, to = 250, start = 200, stop = 800})
  net:source("dc", c:slice(1, 10), {amplitude = 40, start = 300, stop = 700})
  net:source("global", {I = "5*sin(2*pi*t/100)"})
  -- called every 37 steps, on the grid k*3.7 ms: at 499.5 ms and then 503.2 ms, so the
  -- values it returned at 499.5 ms are held across the checkpoint at 500 ms
  net:source("callback", e:select{10, 11, 12}, {every = 37, fn = make_cb(cb_log)})
  -- monitors: every kind
  for _, d in ipairs(POPS) do net:monitor("spikes", P[d.name]) end
  net:monitor("state", e:select{1, 3, 10, 100}, {vars = {"v", "exc.isyn", "inh.isyn",
                                                         "fast.isyn", "fast.xsyn"}, every = 7})
  net:monitor("state", c:slice(1, 5), {vars = {"v", "exc.g", "inh.g"}})
  net:monitor("state", a:slice(2, 4), {vars = {"v", "w"}, every = 3})
  net:monitor("state", h:select{1}, {vars = {"v", "m", "h", "n"}, every = 9})
  net:monitor("rate", i, {bin = 2.3})
  net:monitor("rate", e, {bin = 1})
  net:monitor("field", e, {var = "exc.isyn", op = "sum", every = 11})
  net:monitor("field", c, {var = "v"})
  net:monitor("output", e:slice(1, 3), {vars = {"v", "exc.isyn"}, every = 13,
                                         fn = make_out(out_log)})
  return net, P, cb_log, out_log
end

-- Every monitor's records, packed: a list of {what, bytes}. A spike monitor
-- gives its times and ids; a sampled monitor its times and its rows, per
-- variable (the variables are read from its description).
local function records(net)
  local out = {}
  for k, m in ipairs(net:monitors()) do
    local desc = tostring(m)
    local kind = desc:match("^(%a+) monitor")
    local what = "monitor " .. k .. " (" .. desc:match("^[^:]*") .. ")"
    out[#out + 1] = {what .. " times", pack_list(m:times())}
    if kind == "spike" then
      out[#out + 1] = {what .. " ids", pack_list(m:ids())}
    elseif kind == "state" or kind == "output" then
      for var in desc:match("%((.-)%)"):gmatch("[^, ]+") do
        out[#out + 1] = {what .. " " .. var, pack_rows(m:values(var))}
      end
    else
      out[#out + 1] = {what .. " values", pack_rows(m:values())}
    end
  end
  return out
end

-- Every state of every neuron, model states and receptor states, packed.
-- pops: {{pop, model, rx = {receptor = synapse model}}, ...}
local function states(pops)
  local out = {}
  for _, d in ipairs(pops) do
    local vars = {}
    for s in pairs(nk.model(d.model).states) do vars[#vars + 1] = s end
    for rx, syn in pairs(d.rx) do
      for s in pairs(nk.model(syn).states) do vars[#vars + 1] = rx .. "." .. s end
    end
    table.sort(vars)
    for _, var in ipairs(vars) do
      local xs = {}
      for j = 1, #d.pop do xs[j] = d.pop:get(var, j) end
      out[#out + 1] = {d.pop.name .. " " .. var, pack_list(xs)}
    end
  end
  return out
end

-- POPS with the populations of net (found by name).
local function pops_of(net, desc)
  local byname = {}
  for _, p in ipairs(net:populations()) do byname[p.name] = p end
  local out = {}
  for _, d in ipairs(desc) do
    out[#out + 1] = {pop = byname[d.name], model = d.model, rx = d.rx}
  end
  return out
end

-- The data of a results file (every dataset; attributes left out), packed.
local function pack_tree(x, buf)
  if type(x) == "table" then
    local keys = {}
    for k in pairs(x) do
      if type(k) == "string" and k ~= "attrs" then keys[#keys + 1] = k end
    end
    table.sort(keys)
    buf[#buf + 1] = "{" .. #x .. ":"
    for i = 1, #x do pack_tree(x[i], buf) end
    for _, k in ipairs(keys) do
      buf[#buf + 1] = k
      pack_tree(x[k], buf)
    end
    buf[#buf + 1] = "}"
  elseif math.type(x) == "integer" then
    buf[#buf + 1] = string.pack("<j", x)
  elseif type(x) == "number" then
    buf[#buf + 1] = string.pack("<d", x)
  else
    buf[#buf + 1] = tostring(x)
  end
end
local function results(file)
  local buf = {}
  pack_tree(nk.read(file, {max_values = math.huge}), buf)
  return table.concat(buf)
end

-- a: records or states of one network, b: of another; one check per entry.
local function compare(a, b, msg)
  T.eq(#a, #b, msg .. ": number of records")
  for k = 1, math.min(#a, #b) do
    T.eq(a[k][1], b[k][1], msg .. ": record " .. k)
    same(a[k][2], b[k][2], msg .. ": " .. a[k][1])
  end
end

-- Runs quietly.
local function run(net, ms, opts)
  opts = opts or {}
  opts.progress = false
  net:run(ms, opts)
end

-- ---- 1. 500 ms + checkpoint + restore + 500 ms = 1000 ms straight --------------------------
local CB_SRC, OUT_MON = 14, 14 -- their numbers in the network

for _, prec in ipairs{"float", "double"} do
  local tag = "[" .. prec .. "] "
  local ck = path("t500-" .. prec .. ".h5")
  -- A: 500 ms, checkpoint, 500 ms
  local A, _, cbA, outA = build(prec, path("A-" .. prec .. ".h5"))
  run(A, 500)
  A:checkpoint(ck)
  T.ok(exists(ck) and not exists(ck .. ".part"), tag .. "checkpoint written, no .part left")
  local cb_at_ck, out_at_ck = #cbA, #outA
  run(A, 500)
  -- C: 1000 ms straight
  local C, _, cbC, outC = build(prec, path("C-" .. prec .. ".h5"))
  run(C, 1000)
  -- B: restored, into another results file
  local B = nk.restore(ck, {output = path("B-" .. prec .. ".h5")})
  T.eq(B.t, 500, tag .. "restored at 500 ms")
  T.eq(B.output, path("B-" .. prec .. ".h5"), tag .. "restored with the output asked for")
  local cbB, outB = {}, {}
  B:sources()[CB_SRC]:set_fn(make_cb(cbB))
  B:monitors()[OUT_MON]:set_fn(make_out(outB))
  run(B, 500)
  T.eq(B.t, 1000, tag .. "B ran to 1000 ms")

  -- the run is not trivial: every population spikes on both sides of 500 ms
  for k, m in ipairs(A:monitors()) do
    if k <= #POPS then
      local before, after = 0, 0
      for _, t in ipairs(m:times()) do
        if t < 500 then before = before + 1 else after = after + 1 end
      end
      T.ok(before > 0 and after > 0, string.format("%s%s spikes before (%d) and after (%d) "
                                                   .. "500 ms", tag, POPS[k].name, before,
                                                   after))
    end
  end

  local rA = records(A)
  compare(records(B), rA, tag .. "B (restored) vs A")
  compare(rA, records(C), tag .. "A (checkpointed) vs C (straight)")
  local sA = states(pops_of(A, POPS))
  compare(states(pops_of(B, POPS)), sA, tag .. "B vs A, states at 1000 ms")
  compare(sA, states(pops_of(C, POPS)), tag .. "A vs C, states at 1000 ms")

  -- the callback source and the output function were called at the same times
  same(pack_list(cbA), pack_list(cbC), tag .. "callback calls, A vs C")
  local cbA2 = {table.unpack(cbA, cb_at_ck + 1)}
  T.ok(#cbA2 > 0 and cbA2[1] > 500 and cbA[cb_at_ck] < 500,
       tag .. "the callback's calls straddle 500 ms")
  same(pack_list(cbB), pack_list(cbA2), tag .. "callback calls, B vs A after 500 ms")
  same(table.concat(outA), table.concat(outC), tag .. "output calls, A vs C")
  T.ok(#outB > 0, tag .. "output function called after restore")
  same(table.concat(outB), table.concat(outA, "", out_at_ck + 1),
       tag .. "output calls, B vs A after 500 ms")

  -- the results files: B's (a new file) holds everything, like A's and C's
  A:close()
  B:close()
  C:close()
  local fA = results(path("A-" .. prec .. ".h5"))
  same(results(path("B-" .. prec .. ".h5")), fA, tag .. "results file of B vs A")
  same(results(path("C-" .. prec .. ".h5")), fA, tag .. "results file of C vs A")

  -- the comparison sees a small difference: a restored network whose Poisson
  -- weight differs by 1e-4 pA spikes differently
  local D = nk.restore(ck, {output = path("D-" .. prec .. ".h5")})
  D:sources()[1]:set{weight = 30.0001}
  D:sources()[CB_SRC]:set_fn(make_cb({}))
  D:monitors()[OUT_MON]:set_fn(make_out({}))
  run(D, 500)
  local rD = records(D)
  T.ok(rD[1][2] ~= rA[1][2] and rD[2][2] ~= rA[2][2],
       tag .. "control: a perturbed network's exc spikes differ")
  D:close()
end

-- ---- a small network for the other parts --------------------------------------------------
local SMALL = {{name = "e", model = "lif", rx = {exc = "exp_curr", inh = "exp_curr"}}}

-- 60 LIF neurons, recurrent excitation and inhibition, Poisson, noise and
-- dc input, a callback source (number 4) and an output monitor (number 3).
-- Returns the network and the logs of the two functions.
local function small(opts)
  opts = opts or {}
  local net = nk.network{dt = 0.1, seed = opts.seed or 3, output = opts.output,
                         precision = opts.precision}
  local e = net:population(opts.model or "lif", 60, {name = "e",
                                                     init = {v = nk.uniform(-70, -56)}})
  net:connect(e, e, {rule = "fixed_indegree", indegree = 10, weight = 20, delay = 2.7})
  net:connect(e, e, {rule = "fixed_indegree", indegree = 5, weight = -40, delay = 0.6})
  net:source("poisson", e, {rate = 8000, weight = 30})
  net:source("noise", e:slice(1, 20), {mean = 10, std = 100, interval = 0.7})
  net:source("dc", e:slice(30, 40), {amplitude = 100, start = 50})
  local cb_log, out_log = {}, {}
  net:source("callback", e:slice(1, 2), {every = 23, fn = make_cb2(cb_log)})
  net:monitor("spikes", e)
  net:monitor("state", e:slice(1, 3), {vars = {"v", "exc.isyn"}, every = 3})
  net:monitor("output", e:select{2, 7}, {vars = "v", every = 7, fn = make_out2(out_log)})
  return net, cb_log, out_log
end

-- Attaches fresh functions to a restored small network; returns their logs.
local function attach(net)
  local cb_log, out_log = {}, {}
  net:sources()[4]:set_fn(make_cb2(cb_log))
  net:monitors()[3]:set_fn(make_out2(out_log))
  return cb_log, out_log
end

-- The reference: 500 ms straight, with a results file.
local S = small{output = path("s.h5")}
run(S, 500)
local rS, sS = records(S), states(pops_of(S, SMALL))
S:close()
local fS = results(path("s.h5"))

-- ---- 2. rolling checkpoints -------------------------------------------------------------
do
  local f = path("roll.h5")
  local R = small()
  run(R, 300, {checkpoint_every = 100, checkpoint = f})
  T.ok(exists(f), "rolling: the checkpoint file is there")
  T.ok(not exists(f .. ".part"), "rolling: no .part is left")
  local R2 = nk.restore(f)
  T.eq(R2.t, 300, "rolling: the last checkpoint is at 300 ms")
  attach(R2)
  run(R2, 100)
  -- a checkpoint of a restored network restores too
  local f3 = path("roll3.h5")
  R2:checkpoint(f3)
  run(R2, 100)
  run(R, 200)
  compare(records(R), rS, "rolling: the run that checkpointed vs straight")
  compare(records(R2), rS, "rolling: restored at 300 ms, run to 500 ms vs straight")
  compare(states(pops_of(R2, SMALL)), sS, "rolling: states at 500 ms vs straight")
  local R5 = nk.restore(f3)
  T.eq(R5.t, 400, "a restored network's checkpoint is at 400 ms")
  attach(R5)
  run(R5, 100)
  compare(records(R5), rS, "restored twice, run to 500 ms vs straight")
  R:close()
  R2:close()
  R5:close()

  -- a checkpoint before the first run
  local f0 = path("t0.h5")
  local Z = small()
  Z:checkpoint(f0)
  local Z2 = nk.restore(f0)
  T.eq(Z2.t, 0, "a checkpoint before any run is at 0 ms")
  attach(Z2)
  run(Z2, 500)
  compare(records(Z2), rS, "restored at 0 ms, run to 500 ms vs straight")
  Z:close()
  Z2:close()

  -- a run that is not a multiple of checkpoint_every keeps the last one; a
  -- second run counts from its own start
  local f2 = path("roll2.h5")
  local R3 = small()
  run(R3, 250, {checkpoint_every = 100, checkpoint = f2})
  local R4 = nk.restore(f2)
  T.eq(R4.t, 200, "rolling: run(250), every 100: the checkpoint is at 200 ms")
  R4:close()
  run(R3, 120, {checkpoint_every = 100, checkpoint = f2})
  R4 = nk.restore(f2)
  T.eq(R4.t, 350, "rolling: then run(120), every 100: at 350 ms")
  R4:close()
  R3:close()

  -- the default name: x.h5 -> x.ckpt.h5; another output: NAME.ckpt.h5
  local X = small{output = path("x.h5")}
  run(X, 200, {checkpoint_every = 100})
  T.ok(exists(path("x.ckpt.h5")), "rolling: output x.h5 checkpoints to x.ckpt.h5")
  T.ok(not exists(path("x.ckpt.h5.part")), "rolling: no x.ckpt.h5.part is left")
  X:close()
  local Y = small{output = path("y.out")}
  run(Y, 20, {checkpoint_every = 10})
  T.ok(exists(path("y.out.ckpt.h5")), "rolling: output y.out checkpoints to y.out.ckpt.h5")
  Y:close()

  -- restored without an output: the checkpointed run's results file, continued
  local X2 = nk.restore(path("x.ckpt.h5"))
  T.eq(X2.t, 200, "rolling: x.ckpt.h5 is at 200 ms")
  T.eq(X2.output, path("x.h5"), "rolling: restored with the checkpointed run's output")
  attach(X2)
  run(X2, 300)
  compare(records(X2), rS, "rolling: x.ckpt.h5 restored and run to 500 ms vs straight")
  X2:close()
  same(results(path("x.h5")), fS, "rolling: the continued results file vs straight")
end

-- ---- 3. a custom model ----------------------------------------------------------------
do
  local function leaky(tau, replace)
    return nk.model{name = "ck_leaky", doc = "test: a leaky integrator", replace = replace,
                    params = "tau = " .. tau .. " ms (0, inf); C = 100 pF (0, inf); "
                             .. "v_th = -50 mV",
                    states = "v = -65 mV", equations = "dv/dt = (-65 - v)/tau + I/C : mV",
                    threshold = "v > v_th", reset = "v = -65", method = "euler"}
  end
  leaky(15)
  local LEAKY = {{name = "e", model = "ck_leaky", rx = SMALL[1].rx}}
  local f = path("leaky.h5")
  local K = small{model = "ck_leaky", precision = "double"}
  run(K, 200)
  K:checkpoint(f)
  run(K, 200)
  T.ok(K:monitors()[1]:count() > 0, "custom model: the network spikes")
  local K2 = nk.restore(f)
  attach(K2)
  run(K2, 200)
  compare(records(K2), records(K), "custom model: restored vs A")
  compare(states(pops_of(K2, LEAKY)), states(pops_of(K, LEAKY)), "custom model: states")
  K2:close()
  K:close()

  -- defined differently: refused, and the session goes on
  leaky(16, true)
  T.raises("restore: '" .. f .. "': model 'ck_leaky' is defined differently in this session "
           .. "than when the checkpoint was written", nk.restore, f)
  leaky(15, true)
  local ok, K3 = pcall(nk.restore, f)
  T.ok(ok, "custom model: restored again once the definition is the same: " .. tostring(K3))
  if ok then K3:close() end

  -- not defined: the model's name changed in a copy of the checkpoint (the
  -- strings of a checkpoint are stored uncompressed, unchecksummed)
  local bytes = slurp(f)
  local n
  bytes, n = bytes:gsub("ck_leaky", "ck_leakq")
  T.ok(n >= 2, "custom model: the model's name is found in the checkpoint")
  spit(path("leakq.h5"), bytes)
  T.raises("it uses model 'ck_leakq', which is not defined in this session (define it with "
           .. "nk.model before restoring)", nk.restore, path("leakq.h5"))
end

-- ---- 4. refusals and errors -----------------------------------------------------------
do
  local good = path("good.h5")
  local G = small()
  run(G, 200)
  G:checkpoint(good)
  local Gt, Gspikes = G.t, G:monitors()[1]:count()

  T.raises("nk.restore: cannot read '" .. path("missing.h5") .. "'", nk.restore,
           path("missing.h5"))
  spit(path("text.h5"), "this is a text file\n")
  T.raises("restore: '" .. path("text.h5") .. "' is not an HDF5 file", nk.restore,
           path("text.h5"))
  T.raises("restore: '" .. path("s.h5") .. "' is not an nkshell checkpoint (no format "
           .. "attribute 'nkshell checkpoint'; a results file cannot be restored from)",
           nk.restore, path("s.h5"))

  -- another version: the nkshell_version attribute rewritten in a copy (no
  -- tool here rewrites an attribute; its string lies in the file as is)
  local bytes = slurp(good)
  local ver = nk.version
  local other = ver:gsub("%d", function(d) return tostring((tonumber(d) + 1) % 10) end)
  local vpat = ver:gsub("%p", "%%%0")
  local patched, n = bytes:gsub(vpat, other)
  T.eq(n, 1, "the version string occurs once in the checkpoint")
  spit(path("version.h5"), patched)
  T.raises("restore: '" .. path("version.h5") .. "' was written by nkshell " .. other
           .. " (checkpoint format 1); this is nkshell " .. ver .. " (format 1): a checkpoint "
           .. "continues bit-identically only in the version that wrote it", nk.restore,
           path("version.h5"))
  -- damaged: cut short
  spit(path("short.h5"), bytes:sub(1, #bytes // 2))
  T.raises("restore: cannot open '" .. path("short.h5") .. "'", nk.restore, path("short.h5"))

  -- writing where it cannot
  T.raises("net:checkpoint: checkpoint: cannot create '" .. path("nodir/c.h5")
           .. ".part' (does the directory exist and is it writable?)", G.checkpoint, G,
           path("nodir/c.h5"))
  T.ok(not exists(path("nodir/c.h5")), "no checkpoint made in a missing directory")
  T.raises("net:run: checkpoint_every must be a number of ms >= 0, got -5", run, G, 10,
           {checkpoint_every = -5, checkpoint = path("neg.h5")})
  T.raises("option 'checkpoint_every' for net:run is NaN; expected a number", run, G, 10,
           {checkpoint_every = 0 / 0, checkpoint = path("nan.h5")})
  T.raises("net:run: checkpoint file: cannot create", run, G, 10,
           {checkpoint_every = 5, checkpoint = path("nodir/c.h5")})
  T.eq(G.t, Gt, "refused runs did not run (net.t)")
  T.eq(G:monitors()[1]:count(), Gspikes, "refused runs did not run (spikes)")
  T.ok(not exists(path("neg.h5")) and not exists(path("nan.h5")),
       "refused runs wrote no checkpoint")
  -- the network is still fine: it continues like the straight run
  run(G, 300)
  compare(records(G), rS, "after the refusals: G run to 500 ms vs straight")

  -- a restored callback source and output monitor without their functions:
  -- the run stops naming set_fn; attached, it continues as if never stopped
  -- (the stopped step runs again from its start: the Poisson and noise
  -- sources before the callback must not add their input to it twice)
  local H = nk.restore(good)
  local hcb, hout = {}, {}
  local msg = T.raises("callback source 4 has no function (it came from a checkpoint, which "
                       .. "cannot hold a Lua function): attach one with src:set_fn(f), or "
                       .. "rerun the script with --resume", run, H, 300)
  T.near(H.t, 200.1, 1e-9, "stopped at the callback's first call after 200 ms (200.1 ms)")
  H:sources()[4]:set_fn(make_cb2(hcb))
  T.raises("this output monitor came from a checkpoint, which cannot hold a Lua function: "
           .. "attach one with mon:set_fn(f), or rerun the script with --resume", run, H,
           300 - 0.1)
  T.near(H.t, 200.2, 1e-9, "stopped at the output monitor's first sample after 200 ms (200.2 ms)")
  H:monitors()[3]:set_fn(make_out2(hout))
  run(H, 300 - 0.2)
  T.eq(H.t, 500, "H ran to 500 ms")
  compare(records(H), rS, "restored, stopped twice for functions, run to 500 ms vs straight")
  compare(states(pops_of(H, SMALL)), sS, "the same: states")
  T.ok(#hcb > 0 and hcb[1] > 200 and #hout > 0, "the attached functions were called")
  H:close()
  G:close()
end

-- ---- 5. sources changed and removed between runs --------------------------------------
do
  local f = path("changed.h5")
  local U, _, _ = small()
  run(U, 150)
  local e = U:populations()[1]
  U:sources()[1]:set{rate = 6000, weight = 35}
  U:sources()[2]:remove()
  U:sources()[3]:set{amplitude = 250, stop = 300}
  -- added after the first run: they count from 150 ms
  U:source("spike_times", e:slice(5, 6), {times = {140, 155, 199.9, 200, 260}, weight = 300})
  U:monitor("field", e, {var = "exc.isyn", every = 4})
  U:monitor("rate", e, {bin = 0.7})
  U:monitor("spikes", e:slice(10, 30))
  U:monitor("state", e:select{4, 8}, {vars = {"inh.isyn", "v"}, every = 5})
  run(U, 50)
  U:checkpoint(f)
  run(U, 250)
  local V = nk.restore(f)
  attach(V)
  local s = V:sources()
  T.eq(s[1].rate, 6000, "restored: the changed rate")
  T.eq(s[1].weight, 35, "restored: the changed weight")
  T.raises("source 2 was removed", function() return s[2].mean end)
  T.eq(s[3].amplitude, 250, "restored: the changed amplitude")
  T.eq(s[3].stop, 300, "restored: the changed stop")
  run(V, 250)
  compare(records(V), records(U), "changed sources: restored vs A")
  compare(states(pops_of(V, SMALL)), states(pops_of(U, SMALL)), "changed sources: states")
  local sp = U:monitors()[1]:count()
  T.ok(sp > 0 and sp ~= #rS, "changed sources: the network runs differently from before")
  V:close()
  U:close()
end

-- ---- 6. restoring continues only the checkpointed run's own results file ---------------------
-- Without output, a restored network continues the results file the
-- checkpoint names, cut back to what it held at the checkpoint. A file of
-- that name written since by another run, or one that is no results file,
-- is refused before anything touches it, and stays as it is. (Found by
-- fuzzing: it was cut back, and the other run's data were lost.)
do
  local out, ck = path("own.h5"), path("own.ck.h5")
  local A = small{output = out}
  run(A, 200)
  A:checkpoint(ck)
  A:close()
  local bytesA = slurp(out)
  -- another network with the same output replaces the file
  local B = small{output = out, seed = 9}
  run(B, 300)
  B:close()
  local bytesB = slurp(out)
  T.ok(bytesB ~= bytesA, "own file: B wrote a file of its own")
  local tail = "so it is not the results file of the run checkpointed in '" .. ck .. "'; "
               .. "continuing it would cut it back and lose what it holds, so it is left as "
               .. "it is: "
  local fix = "nk.restore('" .. ck .. "', {output = 'NEW.h5'})"
  -- results(file), or why it cannot be read
  local function results_of(file)
    local ok, r = pcall(results, file)
    return ok and r or "(not read: " .. tostring(r) .. ")"
  end

  -- Restores ck (with opts); must be refused with a message holding each of
  -- texts. Accepted, the network runs on as the bug let it (so that the
  -- checks of the file below see what that does to it).
  local function refused(what, texts, opts)
    local ok, R = pcall(nk.restore, ck, opts)
    T.ok(not ok, what .. ": nk.restore refuses")
    if ok then
      attach(R)
      pcall(run, R, 100)
      R:close()
      return
    end
    for _, text in ipairs(texts) do
      T.ok(R:find(text, 1, true), what .. ": the message says " .. text .. "; got " .. R)
    end
  end

  refused("another run's file",
          {"nk.restore: '" .. out .. "' was written by another run (its run_id is ",
           tail .. "to continue into a new file, give the restored network its own: " .. fix})
  T.ok(peek(out) == bytesB, "another run's file: left as it was, byte for byte")
  T.ok(not exists(out .. ".part"), "another run's file: no .part made")
  -- the same when output names the checkpoint's own file
  refused("another run's file, named as output", {"was written by another run"},
          {output = out})
  T.ok(peek(out) == bytesB, "another run's file, named as output: left as it was")

  -- another run's .part (a crashed run's, say)
  os.remove(out)
  spit(out .. ".part", bytesB)
  refused("another run's .part", {"restore: '" .. out .. ".part' was written by another run"})
  T.ok(peek(out .. ".part") == bytesB and not exists(out), "another run's .part: left as it was")
  os.remove(out .. ".part")

  -- not a results file at all
  spit(out, "not HDF5\n")
  refused("a text file", {"restore: '" .. out .. "' is not an HDF5 file, " .. tail})
  T.eq(peek(out), "not HDF5\n", "a text file: left as it was")

  -- the session goes on: restored into a new file, the network continues as
  -- if never stopped, and the new file holds the whole run
  local N = nk.restore(ck, {output = path("own-new.h5")})
  attach(N)
  run(N, 300)
  compare(records(N), rS, "own file: restored into a new file, run to 500 ms vs straight")
  N:close()
  same(results_of(path("own-new.h5")), fS, "own file: the new file vs the straight run's")

  -- the file is checked again when the run opens it: replaced after the
  -- restore (by another process), it is refused then, and the network is
  -- left at the checkpoint
  spit(out, bytesA)
  local R = nk.restore(ck)
  attach(R)
  spit(out, bytesB)
  T.raises("net:run: '" .. out .. "' was written by another run (its run_id is ", run, R, 300)
  T.ok(peek(out) == bytesB, "replaced after the restore: left as it was")
  T.eq(R.t, 200, "replaced after the restore: the refused run did not run")
  -- missing, it is written anew, with everything the checkpoint holds
  os.remove(out)
  local okR, errR = pcall(run, R, 300)
  T.ok(okR, "own file missing at the run: the run goes on: " .. tostring(errR))
  compare(records(R), rS, "own file missing at the run: restored, run to 500 ms vs straight")
  R:close()
  same(results_of(out), fS,
       "own file missing at the run: written anew, equal to the straight run's")
  os.remove(out)
  local M = nk.restore(ck)
  attach(M)
  local okM, errM = pcall(run, M, 300)
  T.ok(okM, "own file missing: the run goes on: " .. tostring(errM))
  compare(records(M), rS, "own file missing: restored, run to 500 ms vs straight")
  M:close()
  same(results_of(out), fS, "own file missing: written anew, equal to the straight run's")

  -- the normal case: the run's own file is continued (also a second time,
  -- from the same checkpoint: the file is cut back to it again)
  os.remove(out .. ".part")
  spit(out, bytesA)
  for k = 1, 2 do
    local C = nk.restore(ck)
    T.eq(C.output, out, "own file: restored with the checkpointed run's output")
    attach(C)
    local okC, errC = pcall(run, C, 300)
    T.ok(okC, "own file: continued: the run goes on: " .. tostring(errC))
    compare(records(C), rS, "own file: continued, run to 500 ms vs straight (" .. k .. ")")
    C:close()
    same(results_of(out), fS, "own file: continued, equal to the straight run's (" .. k .. ")")
  end
end

-- ---- refractory periods of each kind, checkpointed while neurons are refractory ----------
-- In memory a neuron keeps the step at which its period ends; a checkpoint
-- keeps the steps left (docs/checkpoints.md). A fixed period (a number), a
-- period per neuron (an expression of states) and a condition, each in a
-- population of one neuron that drifts from 0 at 1 mV/ms (a spike every
-- 2 ms of refractoriness plus 10 steps: 2.9 ms) and in one of 1000 neurons
-- that start apart (laid out in chunks with gaps with two threads).
do
  local function model(name, refractory)
    return nk.model{name = name, params = {r = 2}, states = {v = 0, w = 0}, replace = true,
                    equations = {"dv/dt = 1 : mV (unless refractory)", "dw/dt = 1 : ms"},
                    threshold = "v > 0.95", reset = {"v = 0", "w = 0"},
                    refractory = refractory}
  end
  local kinds = {{"refr_fixed", 2}, {"refr_expr", "r + 0*v"}, {"refr_cond", "w < r"}}
  local function build(threads, out)
    local net = nk.network{dt = 0.1, precision = "double", threads = threads, output = out}
    local mons = {}
    for _, k in ipairs(kinds) do
      local m = model(k[1], k[2])
      mons[#mons + 1] = net:monitor("spikes", net:population(m, 1, {name = k[1] .. "1"}))
      mons[#mons + 1] = net:monitor("spikes", net:population(m, 1000, {
        name = k[1] .. "N", init = {v = nk.uniform(0, 0.9), w = nk.uniform(0, 3)}}))
    end
    return net, mons
  end
  local function trains(mons)
    local r = {}
    for k, m in ipairs(mons) do r[k] = {m:times(), m:ids()} end
    return r
  end
  for _, threads in ipairs{1, 2} do
    local tag = "[refractory, " .. threads .. " thread(s)] "
    local S, sm = build(threads, path("refr-S" .. threads .. ".h5"))
    S:run(20, {progress = false})
    local straight = trains(sm)
    local t = straight[1][1]
    T.ok(#t >= 6, tag .. "the fixed period's neuron fires (" .. #t .. " spikes)")
    for q = 2, #t do
      T.near(t[q] - t[q - 1], 2.9, 1e-9, tag .. "a spike every 2 ms + 10 steps (" .. q .. ")")
    end
    T.same_list(straight[3][1], t, tag .. "a period per neuron of the same length: the same spikes")
    T.ok(#straight[5][1] >= 6, tag .. "the condition's neuron fires")
    S:close()
    -- a checkpoint at 2 ms (the one-neuron populations' first spike was at
    -- about 1 ms: refractory until 3 ms), restored, run to 20 ms
    local A, am = build(threads, path("refr-A" .. threads .. ".h5"))
    A:run(2, {progress = false})
    local ck = path("refr-ck" .. threads .. ".h5")
    A:checkpoint(ck)
    A:close()
    local B = nk.restore(ck, {output = path("refr-B" .. threads .. ".h5")})
    B:run(18, {progress = false})
    local restored = trains(B:monitors())
    for k = 1, #kinds * 2 do
      T.same_list(restored[k][1], straight[k][1], tag .. "restored: the same spike times (" .. k .. ")")
      T.same_list(restored[k][2], straight[k][2], tag .. "restored: the same neurons (" .. k .. ")")
    end
    B:close()
  end
end

remove_dir()
T.done("test_checkpoint")
