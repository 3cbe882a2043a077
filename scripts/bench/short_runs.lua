-- scripts/bench/short_runs.lua: what a run costs beyond its steps when the
-- network writes a results file (opening it, appending, syncing, closing,
-- renaming), against the same runs with no file.
--
--   nkshell scripts/bench/short_runs.lua [RUNS [FILE]]
--
-- 100 LIF neurons with a DC drive, a spike, a state (v, every step) and a
-- rate monitor; RUNS runs of 1 ms each (default 300). Prints ms per run with
-- FILE (default short_runs.h5, removed after) and without one. Reports; it
-- asserts nothing.
local runs = tonumber(arg and arg[1]) or 300
local file = arg and arg[2] or "short_runs.h5"

local function per_run(output)
  local net = nk.network{dt = 0.1, output = output}
  local p = net:population("lif", 100, {init = {v = nk.uniform(-70, -50)}})
  net:source("dc", p, {amplitude = 400})
  net:monitor("spikes", p)
  net:monitor("state", p, {vars = {"v"}, every = 1})
  net:monitor("rate", p, {bin = 5})
  local t0 = nk.clock()
  for _ = 1, runs do net:run(1) end
  local ms = (nk.clock() - t0) / runs * 1000
  net:close()
  return ms
end

local with = per_run(file)
os.remove(file)
local without = per_run(nil)
print(string.format("%d runs of 1 ms: %.2f ms per run with a results file, %.3f ms without",
                    runs, with, without))
