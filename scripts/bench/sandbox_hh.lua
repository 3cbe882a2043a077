-- scripts/bench/sandbox_hh.lua: the sandbox benchmark, nkshell's side. One
-- Hodgkin-Huxley neuron (the library's hh: 1952 squid axon, a 100 um^2 patch
-- of 1 pF, rk4 in sub-steps of 0.01 ms at dt = 0.1 ms) with a DC current of
-- 10 pA (10 uA/cm^2) from 10 to 90 ms, 100 ms, v recorded every step, spikes
-- recorded, everything written to OUT.h5. It fires 6 spikes (Brian2's
-- reference, /work/shared/ref, and docs/models.md).
--
--   nkshell scripts/bench/sandbox_hh.lua OUT.h5
--
-- The Brian2 twin is scripts/bench/brian2/sandbox_hh.py (the same equations
-- and parameters, rk4 at dt = 0.01 ms, v sampled every 0.1 ms, results in an
-- .npz). A driver times both as whole processes, start to results on disk.

local output = arg and arg[1] or "sandbox_hh.h5"

local net = nk.network{dt = 0.1, output = output}
local n = net:population("hh", 1, {name = "hh"})
net:source("dc", n, {amplitude = 10, start = 10, stop = 90})
local vm = net:monitor("state", n, {vars = {"v"}, every = 1})
local sp = net:monitor("spikes", n)
net:run(100)
print(string.format("spikes %d (%s ms); %d samples of v; results: %s", sp:count(),
                    table.concat((function()
                      local t = {}
                      for k, x in ipairs(sp:times()) do t[k] = string.format("%.1f", x) end
                      return t
                    end)(), " "), #vm:times(), output))
