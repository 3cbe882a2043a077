-- scripts/bench/recording.lua - what recording costs a run: samples/cuba.lua's
-- network (4000 LIF neurons) run with nothing recorded, with every spike
-- recorded in memory, and with every spike recorded and written to a results
-- file (the writer thread, SWMR, a flush about once a second). Each variant
-- runs REPEATS times, interleaved; the median run time is reported. Reports,
-- never asserts.
--
--   nkshell scripts/bench/recording.lua [DURATION_MS] [REPEATS] [DIR]
local duration = tonumber(arg[1]) or 5000
local repeats = tonumber(arg[2]) or 5
local dir = arg[3] or os.getenv("TMPDIR") or "/tmp"

local lif = {tau_m = 20, C_m = 200, v_rest = -49, v_reset = -60, v_thresh = -50, t_ref = 5}

local function cuba(variant)
  local out = variant.file and (dir .. "/nk-recording-bench.h5") or nil
  local net = nk.network{dt = 0.1, seed = 1, output = out}
  local exc = net:population("lif", 3200, {name = "exc", params = lif, init = {v = nk.uniform(-60, -50)}})
  local inh = net:population("lif", 800, {name = "inh", params = lif, init = {v = nk.uniform(-60, -50)}})
  local e = {rule = "bernoulli", p = 0.02, weight = 16.2, delay = 0.1,
             synapse = "exp_curr", receptor = "exc", params = {tau_syn = 5}}
  local i = {rule = "bernoulli", p = 0.02, weight = -90, delay = 0.1,
             synapse = "exp_curr", receptor = "inh", params = {tau_syn = 10}}
  for _, post in ipairs{exc, inh} do
    net:connect(exc, post, e)
    net:connect(inh, post, i)
  end
  local mons = {}
  if variant.spikes then
    mons[1] = net:monitor("spikes", exc)
    mons[2] = net:monitor("spikes", inh)
  end
  if variant.state then
    mons[3] = net:monitor("state", exc:slice(1, 100), {vars = "v"})
  end
  net:run(duration, {progress = false})
  local _, run_s = net:timing()
  local spikes = 0
  for k = 1, 2 do if mons[k] then spikes = spikes + mons[k]:count() end end
  local bytes = 0
  if out then
    local f = io.open(out, "rb")
    bytes = f:seek("end")
    f:close()
    os.remove(out)
  end
  return run_s, spikes, bytes
end

local variants = {
  {name = "nothing recorded"},
  {name = "all spikes, in memory", spikes = true},
  {name = "all spikes, to HDF5", spikes = true, file = true},
  {name = "all spikes + v of 100 every step, to HDF5", spikes = true, state = true, file = true},
}
for _, v in ipairs(variants) do v.times = {} end
for _ = 1, repeats do
  for _, v in ipairs(variants) do
    local s, n, b = cuba(v)
    v.times[#v.times + 1] = s
    v.nspikes, v.bytes = n, b
  end
end
local function median(t)
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) // 2] or (t[n // 2] + t[n // 2 + 1]) / 2
end
local base = median(variants[1].times)
print(string.format("samples/cuba.lua network, %g ms simulated, %d repeats (median run time)",
                    duration, repeats))
print(string.format("%-44s %9s %9s %10s %11s", "variant", "run s", "overhead", "spikes", "file MB"))
for _, v in ipairs(variants) do
  local m = median(v.times)
  print(string.format("%-44s %9.3f %8.1f%% %10s %11s", v.name, m, 100 * (m - base) / base,
                      v.nspikes and v.nspikes > 0 and tostring(v.nspikes) or "-",
                      v.bytes and v.bytes > 0 and string.format("%.1f", v.bytes / 1e6) or "-"))
end
