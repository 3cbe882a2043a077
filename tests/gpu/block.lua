-- tests/gpu/block.lua: steps in one block (NKSHELL_CUDA_BLOCK=1, cuda.c's
-- block_window; nk_block_run in nk_cuda.h). The gpu-emu suite runs it on the
-- host emulation with NKSHELL_CUDA_NVRTC_CHECK=90, so that NVRTC compiles
-- nk_block_run (written into the module for the GPU alone), and checks that
-- the windows went in one block, with the spikes of the CPU. The
-- equivalence scenarios run in one block in the suite's scatter order.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "../lua/check.lua")

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
T.ok(cuda.desc:find("steps in one block of", 1, true) ~= nil,
     "the windows go in one block: " .. (cuda.desc:match("backend cuda %b()") or cuda.desc))
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
  T.ok(desc:find("steps not in one block: a graded projection", 1, true) ~= nil,
       "a graded projection: not in one block, and why: " ..
       (desc:match("backend cuda %b()") or desc))
  net:close()
end
T.done("block")
