-- scripts/bench/nk_run.lua: runs a sample as a benchmark and prints one line
-- of JSON with what it did and how long each part took.
--
--   nkshell [--threads N] scripts/bench/nk_run.lua NAME SAMPLE.lua [ARGS...]
--
-- The sample runs exactly as a user runs it (ARGS become its `arg`); its own
-- printing is silenced. Every network it makes is watched: each net:run is
-- profiled (net:profile()), and the time from the start of the script to
-- the first run is its construction time. Keys of the JSON object:
--   model, simulator ("nkshell"), threads, neurons, synapses, sim_ms,
--   construct_s (script start to first run: populations, connections),
--   build_s (code generation, compilation, buffers, results file),
--   run_s (the run loops, without finish_s: completing and closing the
--   results file after the last step), spikes, events (synaptic events), rate_hz,
--   peak_mb (the process's peak resident memory), and the per-phase
--   seconds of the run loops: sources_s, update_s, deliver_s, record_s,
--   write_s; on a GPU also device_s, the device's own time on the steps it
--   ran alone (net:profile().run.device); backend, print(net)'s line for the
--   backend of the first run (on CUDA: the device, and how the steps go).

local name, sample = arg[1], arg[2]
if not name or not sample then
  error("usage: nkshell scripts/bench/nk_run.lua NAME SAMPLE.lua [ARGS...]", 0)
end

local t_start = nk.clock()
local acc = {sim_ms = 0, build_s = 0, run_s = 0, finish_s = 0, spikes = 0, events = 0, sources_s = 0,
             update_s = 0, deliver_s = 0, record_s = 0, write_s = 0, threads = 0, device_s = 0}
local first_run
local nets = {}

local new_network = nk.network
local wrapped = false
nk.network = function(o)
  local net = new_network(o)
  nets[#nets + 1] = net
  if not wrapped then
    wrapped = true
    local methods = getmetatable(net).methods
    local run = methods.run
    methods.run = function(self, ms, opts)
      first_run = first_run or nk.clock()
      local o2 = {}
      for k, v in pairs(opts or {}) do o2[k] = v end
      o2.progress, o2.profile = false, true
      run(self, ms, o2)
      local p = self:profile()
      local build_s, run_s = self:timing()
      acc.sim_ms = acc.sim_ms + ms
      acc.build_s = acc.build_s + build_s
      -- the run loop: without completing and closing the results file at
      -- the end (Brian2's run time does not include writing its results)
      acc.run_s = acc.run_s + run_s - p.run.finish
      acc.finish_s = acc.finish_s + p.run.finish
      acc.spikes = acc.spikes + p.run.spikes
      acc.events = acc.events + p.run.events
      acc.threads = math.max(acc.threads, p.run.threads)
      acc.device_s = acc.device_s + (p.run.device or 0)
      acc.backend = acc.backend or tostring(self):match("backend %S+ %b()")
      for _, k in ipairs{"sources", "update", "deliver", "record", "write"} do
        acc[k .. "_s"] = acc[k .. "_s"] + p.run[k]
      end
    end
  end
  return net
end

-- The sample sees its own arguments; its output is not wanted here.
local sample_arg = {[0] = sample}
for k = 3, #arg do sample_arg[#sample_arg + 1] = arg[k] end
arg = sample_arg
local quiet = function() end
local real_print = print
print = quiet
local ok, err = pcall(dofile, sample)
print = real_print
if not ok then error(name .. ": " .. tostring(err), 0) end

local neurons, synapses = 0, 0
for _, net in ipairs(nets) do
  for _, p in ipairs(net:populations()) do neurons = neurons + #p end
  for _, pj in ipairs(net:projections()) do synapses = synapses + pj.size end
end

local peak_kb = 0
local f = io.open("/proc/self/status")
if f then
  for line in f:lines() do
    local v = line:match("^VmHWM:%s*(%d+)")
    if v then peak_kb = tonumber(v) end
  end
  f:close()
end

local out = {
  model = name, simulator = "nkshell", threads = acc.threads, neurons = neurons,
  synapses = synapses, sim_ms = acc.sim_ms,
  construct_s = (first_run or nk.clock()) - t_start,
  build_s = acc.build_s, run_s = acc.run_s, spikes = acc.spikes, events = acc.events,
  rate_hz = neurons > 0 and acc.sim_ms > 0 and acc.spikes / neurons / (acc.sim_ms / 1000) or 0,
  peak_mb = peak_kb / 1024,
  sources_s = acc.sources_s, update_s = acc.update_s, deliver_s = acc.deliver_s,
  record_s = acc.record_s, write_s = acc.write_s, finish_s = acc.finish_s,
  device_s = acc.device_s, backend = acc.backend,
}
local keys = {}
for k in pairs(out) do keys[#keys + 1] = k end
table.sort(keys)
local parts = {}
for _, k in ipairs(keys) do
  local v = out[k]
  if type(v) == "string" then
    parts[#parts + 1] = string.format("%q: %q", k, v)
  elseif math.type(v) == "integer" then
    parts[#parts + 1] = string.format("%q: %d", k, v)
  else
    parts[#parts + 1] = string.format("%q: %.9g", k, v)
  end
end
io.write("{", table.concat(parts, ", "), "}\n")
