-- tests/gpu/block.lua: steps in one launch (NKSHELL_CUDA_BLOCK, cuda.c's
-- block_window; nk_block_run in nk_cuda.h): 1, one block; N > 1 or "all",
-- one launch of several blocks with nk_grid_sync between the ops. The
-- gpu-emu suite runs it on the host emulation with NKSHELL_CUDA_NVRTC_CHECK=90,
-- so that NVRTC compiles nk_block_run (written into the module for the GPU
-- alone), with NKSHELL_CUDA_BLOCK=1 and 4, and checks that the windows went
-- in one launch as asked, with the spikes of the CPU. The equivalence
-- scenarios run in one block in the suite's scatter order.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "../lua/check.lua")
local WANT = os.getenv("NKSHELL_CUDA_BLOCK") or "1"
local NKSHELL -- this interpreter: arg's lowest index
do
  local k = -1
  while arg[k - 1] do k = k - 1 end
  NKSHELL = arg[k]
end

local function run(backend)
  local net = nk.network{backend = backend, seed = 3}
  local e = net:population("lif", 800, {init = {v = nk.uniform(-70, -52)}})
  local i = net:population("lif", 200, {init = {v = nk.uniform(-70, -52)}})
  net:connect(e, e, {rule = "bernoulli", p = 0.05, weight = 30, delay = nk.uniform(0.1, 3)})
  net:connect(i, e, {rule = "fixed_outdegree", outdegree = 60, weight = -60, delay = 1})
  net:connect(e, i, {rule = "fixed_indegree", indegree = 40, weight = 25})
  net:source("poisson", e, {rate = 800, weight = 40})        -- drawn on the device
  net:source("dc", i, {amplitude = 300})                     -- a current on the device
  local sp = net:monitor("spikes", e)
  local vm = net:monitor("state", i:slice(1, 4), {vars = "v", every = 3})
  local rt = net:monitor("rate", i, {bin = 1})
  net:run(100)
  local desc = tostring(net)
  local out = {t = sp:times(), id = sp:ids(), v = vm:trace("v", 3), r = rt:values(), desc = desc}
  net:close()
  return out
end

local cpu, cuda = run("cpu"), run("cuda")
T.ok(#cpu.t > 100, "the network fires (" .. #cpu.t .. " spikes)")
local shown = cuda.desc:match("backend cuda %b()") or cuda.desc
if WANT == "1" then
  T.ok(cuda.desc:find("steps in one block of", 1, true) ~= nil,
       "the windows go in one block: " .. shown)
elseif WANT == "all" then
  -- on a GPU, as many blocks as it holds (one where it has no cooperative launch)
  T.ok(cuda.desc:find("steps in one launch of %d+ blocks") ~= nil or
       cuda.desc:find("steps in one block of %d+ threads: one block, as the device") ~= nil,
       "the windows go in one launch of as many blocks as the device holds: " .. shown)
else
  local n = tonumber(cuda.desc:match("steps in one launch of (%d+) blocks"))
  T.ok(n ~= nil and n >= 2 and n <= tonumber(WANT),
       "the windows go in one launch of 2 to " .. WANT .. " blocks: " .. shown)
end
T.same_list(cuda.t, cpu.t, "spike times, one block vs the CPU")
T.same_list(cuda.id, cpu.id, "spike ids, one block vs the CPU")
T.same_list(cuda.r, cpu.r, "rates, one block vs the CPU")
T.same_list(cuda.v, cpu.v, "sampled states, one block vs the CPU")
-- a graded projection, a kernel of its own each step: not in one block, and
-- print(net) says why
do
  local net = nk.network{backend = "cuda"}
  local a = net:population("morris_lecar", 20)
  local b = net:population("morris_lecar", 20)
  net:connect(a, b, {rule = "all_to_all", synapse = "power_gpot", weight = 1})
  net:run(10)
  local desc = tostring(net)
  T.ok(desc:find("steps not in one launch: a graded projection", 1, true) ~= nil,
       "a graded projection: not in one launch, and why: " ..
       (desc:match("backend cuda %b()") or desc))
  net:close()
end
-- a network with nothing to do in a step but nk_step_begin: not in one
-- launch (nk_block_run skips that op, its barrier running it, so the steps
-- after the second had no nk_step_begin at all), and print(net) says why
do
  local net = nk.network{backend = "cuda"}
  net:run(20)
  T.near(net.t, 20, 1e-9, "an empty network runs")
  local desc = tostring(net)
  T.ok(desc:find("steps not in one launch: a step of one launch (nk_step_begin) gains nothing",
                 1, true) ~= nil,
       "an empty network: not in one launch, and why: " .. (desc:match("backend cuda %b()") or desc))
  net:close()
end
-- a drawn source added after a run: the network is built again, and
-- nk_block_run with it has the drawn sources' kernel (runner_fns leaves it
-- out of a network without one); a monitor added after a run is not a new
-- build, and the monitors' kernels are always there
do
  local function grow(backend)
    local net = nk.network{backend = backend, seed = 5}
    local e = net:population("lif", 200, {init = {v = nk.uniform(-70, -52)}})
    net:connect(e, e, {rule = "bernoulli", p = 0.05, weight = 30, delay = 1})
    local sp = net:monitor("spikes", e)
    net:run(20)
    net:source("poisson", e, {rate = 5000, weight = 2000})
    net:run(20)
    local d1 = tostring(net)
    local vm = net:monitor("state", e:slice(1, 4), {vars = "v"})
    net:run(20)
    local out = {t = sp:times(), id = sp:ids(), v = vm:trace("v", 2), d1 = d1, d2 = tostring(net)}
    net:close()
    return out
  end
  local c, g = grow("cpu"), grow("cuda")
  T.ok(#c.t > 100, "the source makes the network fire (" .. #c.t .. " spikes)")
  T.same_list(g.t, c.t, "spike times with a source and a monitor added after runs")
  T.same_list(g.id, c.id, "spike ids with a source and a monitor added after runs")
  T.same_list(g.v, c.v, "a state monitor added after runs")
  for k, d in ipairs{g.d1, g.d2} do
    T.ok(d:find("steps in one ") ~= nil and d:find("steps not in one", 1, true) == nil,
         "run " .. (k + 1) .. " still in one launch: " .. (d:match("backend cuda %b()") or d))
  end
end

-- a drawn source of a mean of 10 or more a step (PTRS, nk_draw_big_k: 88
-- registers a thread against the table's kernel's 30, so runner_fns leaves
-- it out unless a source needs it at the build): in one launch when the
-- source was so at the build; raised past it after, the steps go as graphs
-- and print(net) says why; the spikes are the CPU's either way
do
  local function ptrs(backend, rate0)
    local net = nk.network{backend = backend, seed = 7}
    local e = net:population("lif", 100, {init = {v = nk.uniform(-70, -52)}})
    net:connect(e, e, {rule = "bernoulli", p = 0.05, weight = 30, delay = 1})
    local s = net:source("poisson", e, {rate = rate0, weight = 4})
    local sp = net:monitor("spikes", e)
    net:run(20)
    local d1 = tostring(net)
    s:set{rate = 2e5}
    net:run(20)
    local out = {t = sp:times(), id = sp:ids(), d1 = d1, d2 = tostring(net)}
    net:close()
    return out
  end
  for _, r0 in ipairs{3e5, 20000} do
    local c, g = ptrs("cpu", r0), ptrs("cuda", r0)
    local what = string.format("a source at %g Hz, then 2e5", r0)
    T.ok(#c.t > 50, what .. ": the network fires (" .. #c.t .. " spikes)")
    T.same_list(g.t, c.t, what .. ": spike times")
    T.same_list(g.id, c.id, what .. ": spike ids")
    T.ok(g.d1:find("steps in one ") ~= nil and g.d1:find("steps not in one", 1, true) == nil,
         what .. ": the first run in one launch: " .. (g.d1:match("backend cuda %b()") or g.d1))
    if r0 > 1e5 then
      T.ok(g.d2:find("steps not in one", 1, true) == nil,
           what .. ": the second too: " .. (g.d2:match("backend cuda %b()") or g.d2))
    else
      T.ok(g.d2:find("steps not in one launch: nk_block_run was generated without " ..
                     "nk_draw_big_k", 1, true) ~= nil,
           what .. ": the second as graphs, and why: " .. (g.d2:match("backend cuda %b()") or g.d2))
    end
  end
end

-- a value NKSHELL_CUDA_BLOCK does not take: the build says what it expected
do
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write([[
local net = nk.network{backend = "cuda"}
net:population("lif", 10)
local ok, err = pcall(net.run, net, 1)
print(ok, err)
]])
  f:close()
  local p = io.popen(string.format("NKSHELL_CUDA_BLOCK=two '%s' '%s' 2>&1", NKSHELL, script))
  local out = p:read("a")
  p:close()
  os.remove(script)
  T.ok(out:find("NKSHELL_CUDA_BLOCK=two: expected 0 (graphs), a number of blocks", 1, true) ~= nil,
       "NKSHELL_CUDA_BLOCK=two is refused, saying what it takes: " .. out)
end
-- blocks that gave up waiting at a barrier (nk_grid_sync, after a minute;
-- on the GPU alone, so the emulation plays it at the window of step 130 with
-- NKSHELL_CUDA_EMU_STUCK): the run stops with why and what to do, what was
-- recorded before is kept, and the next run goes as graphs and says why
if tonumber(WANT) and tonumber(WANT) > 1 then
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write([[
local net = nk.network{backend = "cuda", seed = 3}
local e = net:population("lif", 300, {init = {v = nk.uniform(-70, -52)}})
net:connect(e, e, {rule = "bernoulli", p = 0.05, weight = 30, delay = 1})
net:source("poisson", e, {rate = 4000, weight = 40})
local sp = net:monitor("spikes", e)
net:run(10)
local n0 = #sp:times()
local ok, err = pcall(net.run, net, 10)
print("RUN", ok, err)
print("KEPT", n0, #sp:times())
print("DESC", tostring(net))
local ok2, err2 = pcall(net.run, net, 10)
print("AGAIN", ok2, err2, net.t)
print("DESC2", tostring(net))
]])
  f:close()
  local p = io.popen(string.format("NKSHELL_CUDA_EMU_STUCK=130 '%s' '%s' 2>&1", NKSHELL, script))
  local out = p:read("a")
  p:close()
  os.remove(script)
  local run = out:match("RUN%s+([^\n]*)") or out
  T.ok(run:find("^false") ~= nil and
       run:find("steps 100 to 163 went as one launch of %d+ blocks %(NKSHELL_CUDA_BLOCK%), " ..
                "and its blocks waited over 60 s for each other") ~= nil and
       run:find("set NKSHELL_CUDA_BLOCK=0 or 1", 1, true) ~= nil,
       "blocks that gave up waiting: the run stops, saying why and what to do: " .. run)
  local n0, n1 = out:match("KEPT%s+(%d+)%s+(%d+)")
  T.ok(n0 and tonumber(n0) > 0 and tonumber(n1) >= tonumber(n0),
       "and the spikes recorded before are kept: " .. tostring(n0) .. ", " .. tostring(n1))
  local again = out:match("AGAIN%s+([^\n]*)") or out
  T.ok(again:find("^true") ~= nil, "the next run runs: " .. again)
  local d2 = out:match("DESC2%s+(.*)") or out
  T.ok(d2:find("steps not in one launch: its %d+ blocks in one launch waited over 60 s for " ..
               "each other in steps 100 to 163%)") ~= nil,
       "as graphs, and print(net) says why: " .. (d2:match("backend cuda %b()") or d2))
end
T.done("block")
