-- scripts/bench/exact_states.lua: what method "exact" costs as a linear
-- system grows: the time to generate and compile its code, and the time per
-- neuron and step of its update.
--
--   XDG_CACHE_HOME=$(mktemp -d) nkshell scripts/bench/exact_states.lua [N...]
--
-- (an empty code cache, so that each size is compiled). For each N (default
-- 8 16 17 20 40) a ring of N coupled linear states, each driven so that it
-- stays away from subnormal numbers, is built for 10,000 neurons and run for
-- 100 ms at dt 0.1 ms on one thread. Prints one line per N.

local sizes = {}
for k = 1, #arg do sizes[#sizes + 1] = math.tointeger(tonumber(arg[k])) end
if #sizes == 0 then sizes = {8, 16, 17, 20, 40} end

local neurons, ms = 10000, 100
print(("%6s %12s %22s"):format("states", "compile s", "ns per neuron-step"))
for _, n in ipairs(sizes) do
  assert(n and n >= 2, "sizes are whole numbers of states, at least 2")
  local states, eqs = {}, {}
  for k = 1, n do
    states["x" .. k] = 0
    eqs[#eqs + 1] = ("dx%d/dt = (x%d - 2*x%d + x%d) / 10 - x%d / (20 + %d) + 0.02"):format(
      k, k % n + 1, k, (k - 2) % n + 1, k, k)
  end
  local m = nk.model{name = "exact_ring" .. n, states = states, equations = eqs,
                     threshold = "x1 > 0.5", reset = "x1 = 0", refractory = "2"}
  local net = nk.network{threads = 1}
  local p = net:population(m, neurons, {method = "exact"})
  local t0 = nk.clock()
  net:code(p) -- generates and compiles
  local t1 = nk.clock()
  net:run(1)
  local t2 = nk.clock()
  net:run(ms)
  local t3 = nk.clock()
  print(("%6d %12.2f %22.1f"):format(n, t1 - t0, (t3 - t2) / (neurons * ms / net.dt) * 1e9))
  net:close()
end
