-- scripts/bench/suite.lua: the benchmark suite, nkshell and Brian2 side by
-- side. Run it through scripts/bench/run.sh, which builds nkshell first:
--
--   scripts/bench/run.sh [--models cuba,coba,...] [--threads N] [--backend cpu|cuda] [--reps N]
--                        [--brian2 auto|yes|no] [--brian2-threads N] [--sequential]
--                        [--quick] [--json FILE] [--fly-neurons N] [--fly-ms MS]
--                        [--mc-scale S]
--
-- Every model runs as a separate process, nkshell's through
-- scripts/bench/nk_run.lua (the sample exactly as a user runs it) and
-- Brian2's through scripts/bench/brian2/MODEL.py (C++ standalone; runtime
-- mode for the sandbox). Each side runs --reps times (default 5; Brian2's
-- binary is compiled once and run that many times) and the median run-loop
-- time is kept: on a shared machine single runs are sometimes twice as slow.
-- The two sides' runs alternate (nkshell, Brian2, nkshell, ...: Brian2's
-- script runs nkshell's command before each run of its binary), so that a
-- slow spell of the machine falls on both; --sequential runs all of
-- nkshell's runs first, then all of Brian2's. The table gives, per model and
-- simulator: neurons, synapses, simulated ms, constr s (nkshell's
-- construction: the script's start to its first run, populations and
-- connections), build s (code generation and compilation), run s (the run loop alone), real-time factor (run s per
-- simulated s), synaptic events per second, spikes, mean rate, peak memory,
-- and the ratio Brian2 run s / nkshell run s. The two did the same work
-- when their mean rates agree within the model's tolerance; otherwise the
-- row says "invalid" and no ratio is claimed. The same table is written as
-- JSON (default bench.json).
--
-- sandbox_hh is timed differently: the whole process, from its start until
-- its results are on disk (one HH neuron, 100 ms), after one untimed run
-- that fills each side's code cache.
--
-- Before each of nkshell's alternated runs, scripts/bench/core_rt.c (built
-- with cc when the suite starts) measures how long a cache line takes from
-- CPU 0 to CPU 1 and back. On a virtual machine that time changes with
-- where the host puts the vCPUs, and it moves nkshell's two-thread runs
-- (their threads meet once a step) more than Brian2's one-thread ones: the
-- line under each model gives it per run, and the JSON as core_rt_ns_all
-- (docs/performance.md, item 29).

local here = (arg[0]:match("^(.*)/[^/]*$") or ".")
local root = here .. "/../.."
local nkshell = arg[-1] or "nkshell"

local opts = {models = "cuba,coba,cobahh,flyscale,microcircuit,noisy_lif,sandbox_hh", threads = nil,
              reps = 5, brian2 = "auto", brian2_threads = 1, json = "bench.json",
              fly_neurons = 138639, fly_ms = 300, quick = false, ms = 1000, mc_scale = 0.1}
do
  local k = 1
  while k <= #arg do
    local a = arg[k]
    local function val()
      k = k + 1
      if not arg[k] then error("option " .. a .. " needs a value", 0) end
      return arg[k]
    end
    if a == "--models" then opts.models = val()
    elseif a == "--threads" then opts.threads = math.tointeger(tonumber(val()))
    elseif a == "--backend" then opts.backend = val()
    elseif a == "--reps" then opts.reps = math.tointeger(tonumber(val()))
    elseif a == "--brian2" then opts.brian2 = val()
    elseif a == "--brian2-threads" then opts.brian2_threads = math.tointeger(tonumber(val()))
    elseif a == "--json" then opts.json = val()
    elseif a == "--fly-neurons" then opts.fly_neurons = math.tointeger(tonumber(val()))
    elseif a == "--fly-ms" then opts.fly_ms = tonumber(val())
    elseif a == "--ms" then opts.ms = tonumber(val())
    elseif a == "--mc-scale" then opts.mc_scale = tonumber(val())
    elseif a == "--quick" then opts.quick = true
    elseif a == "--sequential" then opts.sequential = true
    elseif a == "--help" or a == "-h" then
      print((io.open(arg[0]):read("a"):match("^(.-)\n\n"):gsub("%-%- ?", "")))
      os.exit(0)
    else
      error("unknown option '" .. a .. "' (see --help)", 0)
    end
    k = k + 1
  end
  if not opts.reps or opts.reps < 1 then error("--reps: expected a positive integer", 0) end
  if not opts.mc_scale or opts.mc_scale <= 0 or opts.mc_scale > 1 then
    error("--mc-scale: expected a number in (0, 1] (1: the full microcircuit)", 0)
  end
  if opts.brian2 ~= "auto" and opts.brian2 ~= "yes" and opts.brian2 ~= "no" then
    error("--brian2: expected auto, yes or no, got '" .. opts.brian2 .. "'", 0)
  end
  if opts.quick then
    opts.reps, opts.ms, opts.fly_neurons, opts.fly_ms = 1, 200, 5000, 100
  end
end

local function sh_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local tmp = os.tmpname()
os.remove(tmp)
assert(os.execute("mkdir -p " .. sh_quote(tmp)))
local log = tmp .. "/log.txt"

-- the probe of the CPUs (see the top); none without a C compiler
local core_rt = tmp .. "/core_rt"
if not os.execute(string.format("cc -O2 -pthread -o %s %s >/dev/null 2>&1", sh_quote(core_rt),
                                sh_quote(here .. "/core_rt.c"))) then
  core_rt = nil
end

-- Runs a command; returns its last line of stdout, or nil and the tail of
-- its stderr.
local function run(cmd)
  local p = io.popen(cmd .. " 2>>" .. sh_quote(log), "r")
  local last
  for line in p:lines() do
    if line:match("%S") then last = line end
  end
  local ok = p:close()
  if not ok or not last then
    local f = io.open(log)
    local text = f and f:read("a") or ""
    if f then f:close() end
    return nil, text:sub(-600)
  end
  return last
end

-- One flat JSON object (numbers, strings, booleans) into a table; Lua
-- patterns have no alternation, so strings and the rest are read apart.
local function parse_json(s)
  if not s or not s:match("^%s*{") then return nil end
  local t = {}
  for k, v in s:gmatch('"([%w_]+)"%s*:%s*"([^"]*)"') do t[k] = v end
  for k, v in s:gmatch('"([%w_]+)"%s*:%s*([^",}%s][^,}]*)') do
    v = v:gsub("%s+$", "")
    if v == "true" or v == "false" then t[k] = v == "true"
    elseif v ~= "null" then t[k] = tonumber(v) end
  end
  for k, v in s:gmatch('"([%w_]+)"%s*:%s*%[([^%]]*)%]') do
    local list = {}
    for x in v:gmatch("[^,%s]+") do list[#list + 1] = tonumber(x) end
    t[k] = list
  end
  return t
end

local function capture(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  local s = p:read("a")
  p:close()
  return (s:gsub("%s+$", ""))
end

local function exists(path)
  local f = io.open(path)
  if f then f:close() end
  return f ~= nil
end

local python = "/usr/bin/python3"
local brian2_version
if opts.brian2 ~= "no" then
  brian2_version = capture(python .. " -c 'import brian2; print(brian2.__version__)'")
  if brian2_version == "" then
    brian2_version = nil
    if opts.brian2 == "yes" then
      error("Brian2 is not installed for " .. python ..
            " (scripts/bench/run.sh --install-brian2 installs Debian's python3-brian)", 0)
    end
    io.stderr:write("Brian2 not found: nkshell only (--install-brian2 installs it)\n")
  end
end
local threads_opt = (opts.threads and ("--threads " .. opts.threads .. " ") or "") ..
                    (opts.backend and ("--backend " .. opts.backend .. " ") or "")

-- The fly-scale connectome, generated once.
local fly
local function fly_files()
  if fly then return fly end
  local gen = os.getenv("NKSHELL_FLYSCALE_GEN") or
              (root .. "/build/scripts/flyscale/nk-flyscale-gen")
  if not exists(gen) then gen = "nk-flyscale-gen" end
  local e, n = tmp .. "/fly_edges.csv", tmp .. "/fly_neurons.csv"
  local ok = os.execute(string.format("%s -q -n %d -o %s -m %s", sh_quote(gen),
                                      opts.fly_neurons, sh_quote(e), sh_quote(n)))
  if not ok then error("nk-flyscale-gen failed (see " .. log .. ")", 0) end
  fly = {e, n}
  return fly
end

-- The models: how each side runs it, and how close the rates must be.
local models = {
  cuba = {tol = 0.10, what = "Vogels & Abbott CUBA, 4000 LIF",
          nk = function(out) return {root .. "/samples/cuba.lua", out, opts.ms} end,
          b2 = function() return {"cuba.py", "--ms", opts.ms} end},
  coba = {tol = 0.10, what = "Vogels & Abbott COBA, 4000 LIF",
          nk = function(out) return {root .. "/samples/coba.lua", out, opts.ms} end,
          b2 = function() return {"coba.py", "--ms", opts.ms} end},
  cobahh = {tol = 0.10, what = "Brette et al. COBAHH, 4000 HH",
            nk = function(out) return {root .. "/samples/cobahh.lua", out, opts.ms} end,
            b2 = function() return {"cobahh.py", "--ms", opts.ms} end},
  flyscale = {tol = 0.10, what = "fly-scale LIF connectome",
              nk = function()
                local f = fly_files()
                return {root .. "/samples/flyscale.lua", f[1], f[2], opts.fly_ms}
              end,
              b2 = function()
                local f = fly_files()
                return {"flyscale.py", "--ms", opts.fly_ms, "--edges", f[1], "--neurons", f[2]}
              end},
  microcircuit = {tol = 0.10, what = "Potjans-Diesmann microcircuit",
                  needs = root .. "/samples/microcircuit.lua",
                  nk = function(out)
                    return {root .. "/samples/microcircuit.lua", out, opts.ms, opts.mc_scale}
                  end,
                  b2 = function()
                    return {"microcircuit.py", "--ms", opts.ms, "--scale", opts.mc_scale}
                  end},
  noisy_lif = {tol = 0.05, what = "4000 LIF driven by white noise, one normal draw per neuron-step",
               nk = function(out) return {here .. "/noisy_lif.lua", out, opts.ms} end,
               b2 = function() return {"noisy_lif.py", "--ms", opts.ms} end},
  sandbox_hh = {tol = 0.02, what = "one HH neuron, 100 ms, process start to results on disk",
                process = true},
}

local function args_str(list)
  local s = {}
  for _, a in ipairs(list) do s[#s + 1] = sh_quote(a) end
  return table.concat(s, " ")
end

-- The median row by key; it also gets key_all, every row's value in the
-- order they ran.
local function median_row(rows, key)
  local all = {}
  for k, r in ipairs(rows) do all[k] = r[key] end
  table.sort(rows, function(a, b) return a[key] < b[key] end)
  local m = rows[(#rows + 1) // 2]
  if #all > 1 or not m[key .. "_all"] then m[key .. "_all"] = all end
  return m
end

-- One side of one model, opts.reps times; the median run.
local function measure(name, m, side)
  local rows = {}
  -- Brian2's binary is compiled once and run --reps times by its script
  local nrep = (side == "brian2" and not m.process) and 1 or opts.reps
  for rep = 1, nrep do
    local line, err
    if m.process then
      -- whole process, after a warm-up that fills the code caches
      local out = tmp .. "/sandbox_" .. side .. ".out"
      local cmd = side == "nkshell"
          and string.format("%s %s%s %s", sh_quote(nkshell), threads_opt,
                            sh_quote(here .. "/sandbox_hh.lua"), sh_quote(out .. ".h5"))
          or string.format("%s %s --ms 100 --out %s", python,
                           sh_quote(here .. "/brian2/sandbox_hh.py"), sh_quote(out .. ".npz"))
      if rep == 1 then run(cmd .. " >/dev/null 2>&1; echo ok") end
      os.remove(out .. ".h5")
      os.remove(out .. ".npz")
      local t0 = nk.clock()
      local last
      last, err = run(cmd)
      local wall = nk.clock() - t0
      local ondisk = exists(out .. ".h5") or exists(out .. ".npz")
      if last and ondisk then
        local spikes = (parse_json(last) or {}).spikes or
                       tonumber(last:match("spikes%s+(%d+)") or last:match("(%d+)%s+spikes"))
        line = {model = name, simulator = side, neurons = 1, synapses = 0, sim_ms = 100,
                build_s = 0, run_s = wall, spikes = spikes or 0,
                rate_hz = (spikes or 0) / 0.1, peak_mb = 0,
                threads = 1, mode = side == "brian2" and "runtime" or nil}
      elseif last then
        err = "no results file was written"
      end
    elseif side == "nkshell" then
      local out = tmp .. "/" .. name .. ".h5"
      local cmd = string.format("%s %s%s %s %s", sh_quote(nkshell), threads_opt,
                                sh_quote(here .. "/nk_run.lua"), sh_quote(name),
                                args_str(m.nk(out)))
      local last
      last, err = run(cmd)
      line = parse_json(last)
      os.remove(out)
    else
      local a = m.b2()
      local script = here .. "/brian2/" .. a[1]
      table.remove(a, 1)
      if not exists(script) then return nil, "no Brian2 twin (" .. script .. ")" end
      local cmd = string.format("%s %s %s --threads %d --reps %d --workdir %s", python,
                                sh_quote(script), args_str(a), opts.brian2_threads, opts.reps,
                                sh_quote(tmp .. "/b2_" .. name .. "_" .. rep))
      local last
      last, err = run(cmd)
      line = parse_json(last)
      os.execute("rm -rf " .. sh_quote(tmp .. "/b2_" .. name .. "_" .. rep))
    end
    if not line then
      return nil, err or "no result"
    end
    line.simulator = side
    rows[#rows + 1] = line
  end
  return median_row(rows, "run_s")
end

-- Both sides of one model, their runs alternating: Brian2's script builds
-- its binary, then runs nkshell's command before each of its --reps runs.
-- Returns nkshell's median row, Brian2's, and an error for each side that
-- failed (nkshell's rows come from files its command wrote).
local function measure_pair(name, m)
  local out = tmp .. "/" .. name .. ".h5"
  local nk_json = tmp .. "/nk_" .. name .. "_"
  local probe = core_rt and string.format("%s > %s\"$NK_BENCH_REP\".rt 2>/dev/null; ",
                                          sh_quote(core_rt), sh_quote(nk_json)) or ""
  local nk_cmd = string.format("%srm -f %s; %s %s%s %s %s > %s\"$NK_BENCH_REP\".json", probe,
                               sh_quote(out), sh_quote(nkshell), threads_opt,
                               sh_quote(here .. "/nk_run.lua"), sh_quote(name),
                               args_str(m.nk(out)), sh_quote(nk_json))
  local a = m.b2()
  local script = here .. "/brian2/" .. a[1]
  table.remove(a, 1)
  if not exists(script) then return nil, nil, nil, "no Brian2 twin (" .. script .. ")" end
  local work = tmp .. "/b2_" .. name
  local cmd = string.format("%s %s %s --threads %d --reps %d --workdir %s --between %s", python,
                            sh_quote(script), args_str(a), opts.brian2_threads, opts.reps,
                            sh_quote(work), sh_quote(nk_cmd))
  local last, b2_err = run(cmd)
  os.execute("rm -rf " .. sh_quote(work))
  os.remove(out)
  local b2 = parse_json(last)
  if b2 then b2.simulator = "brian2" end
  local rows, nk_err, rts = {}, nil, {}
  for rep = 1, opts.reps do
    local g = io.open(nk_json .. rep .. ".rt")
    if g then
      rts[#rts + 1] = tonumber(g:read("l") or "")
      g:close()
      os.remove(nk_json .. rep .. ".rt")
    end
    local f = io.open(nk_json .. rep .. ".json")
    local line
    if f then
      for l in f:lines() do
        if l:match("%S") then line = l end
      end
      f:close()
      os.remove(nk_json .. rep .. ".json")
    end
    local r = parse_json(line)
    if r then
      r.simulator = "nkshell"
      rows[#rows + 1] = r
    elseif b2 or f then
      -- Brian2 ran its binary (or got to this run), so nkshell's run failed
      nk_err = nk_err or ("run " .. rep .. " gave no result; see the log")
    end
  end
  if #rows == 0 and not nk_err then
    -- Brian2 stopped before its first run: nkshell's side alone
    local r, err = measure(name, m, "nkshell")
    return r, b2, err, b2_err or "no result"
  end
  if nk_err then
    local f = io.open(log)
    local text = f and f:read("a") or ""
    if f then f:close() end
    return nil, b2, nk_err .. ": " .. text:sub(-400), not b2 and (b2_err or "no result") or nil
  end
  local r = median_row(rows, "run_s")
  if #rts == opts.reps then r.core_rt_ns_all = rts end
  return r, b2, nil, not b2 and (b2_err or "no result") or nil
end

local function fmt(v, f)
  if v == nil then return "-" end
  return string.format(f, v)
end

local function si(v)
  if not v then return "-" end
  if v >= 1e9 then return string.format("%.2fG", v / 1e9) end
  if v >= 1e6 then return string.format("%.2fM", v / 1e6) end
  if v >= 1e3 then return string.format("%.1fk", v / 1e3) end
  return string.format("%.0f", v)
end

local cpu = capture("sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1")
local cores = capture("nproc")
print(string.format("machine: %s, %s cores; nkshell %s; Brian2 %s", cpu, cores,
                    capture(sh_quote(nkshell) .. " --version"), brian2_version or "not run"))
print(string.format("%-12s %-8s %7s %9s %6s %8s %8s %8s %7s %9s %8s %7s %7s %7s  %s", "model",
                    "sim", "neurons", "synapses", "ms", "constr s", "build s", "run s", "RTF",
                    "events/s", "spikes", "rate Hz", "peak MB", "ratio", "check"))

local results = {}
for name in opts.models:gmatch("[^,]+") do
  local m = models[name]
  if not m then error("unknown model '" .. name .. "'", 0) end
  if m.needs and not exists(m.needs) then
    print(string.format("%-12s (skipped: %s is not there yet)", name, m.needs))
    goto next
  end
  do
    local sides = {"nkshell"}
    if brian2_version then sides[2] = "brian2" end
    local got = {}
    local function take(side, r, err)
      if not r then
        print(string.format("%-12s %-8s failed: %s", name, side, (err or ""):gsub("\n", " | ")))
      else
        got[side] = r
      end
    end
    if sides[2] and not m.process and not opts.sequential then
      local a, b, a_err, b_err = measure_pair(name, m)
      take("nkshell", a, a_err)
      take("brian2", b, b_err)
    else
      for _, side in ipairs(sides) do
        take(side, measure(name, m, side))
      end
    end
    local a, b = got.nkshell, got.brian2
    local check, ratio = "", nil
    if a and b then
      local ra, rb = a.rate_hz or 0, b.rate_hz or 0
      local diff = rb > 0 and math.abs(ra - rb) / rb or (ra == 0 and 0 or math.huge)
      if diff <= m.tol then
        ratio = b.run_s / a.run_s
        check = string.format("rates agree (%.1f %% <= %.0f %%)", 100 * diff, 100 * m.tol)
      else
        check = string.format("INVALID: rates differ by %.1f %% (> %.0f %%)", 100 * diff,
                              100 * m.tol)
      end
    end
    for _, side in ipairs(sides) do
      local r = got[side]
      if r then
        r.rtf = r.sim_ms > 0 and r.run_s / (r.sim_ms / 1000) or nil
        r.events_per_s = r.events and r.run_s > 0 and r.events / r.run_s or nil
        print(string.format("%-12s %-8s %7s %9s %6s %8s %8s %8s %7s %9s %8s %7s %7s %7s  %s",
                            name, side, si(r.neurons), si(r.synapses), fmt(r.sim_ms, "%.0f"),
                            fmt(r.construct_s, "%.2f"), fmt(r.build_s, "%.3f"), fmt(r.run_s, "%.3f"), fmt(r.rtf, "%.3f"),
                            si(r.events_per_s), si(r.spikes), fmt(r.rate_hz, "%.2f"),
                            fmt(r.peak_mb, "%.0f"),
                            side == "brian2" and ratio and string.format("%.2fx", ratio) or "",
                            side == "brian2" and check or ""))
        results[#results + 1] = r
        if (r.device_s or 0) > 0 then
          print(string.format("%-12s (the device's own time on the steps it ran alone: %.3f s " ..
                              "of the run's %.3f)", "", r.device_s, r.run_s))
        end
        if r.backend and r.backend:find("^backend cuda") then
          print(string.format("%-12s (%s)", "", r.backend))
        end
      end
    end
    if a and a.core_rt_ns_all then
      local t = {}
      for k, v in ipairs(a.core_rt_ns_all) do t[k] = string.format("%.0f", v) end
      print(string.format("%-12s (CPU 0 to 1 and back before nkshell's runs: %s ns)", "",
                          table.concat(t, ", ")))
    end
    if a and b then
      results[#results].ratio = ratio
      results[#results].check = check
      -- alternated runs pair up: Brian2's k-th run over nkshell's k-th
      local na, nb = a.run_s_all, b.run_s_all
      if ratio and not m.process and not opts.sequential and na and nb and #na == #nb then
        local pr = {}
        for k = 1, #na do pr[k] = na[k] > 0 and nb[k] / na[k] or nil end
        if #pr == #na then results[#results].ratio_pairs = pr end
      end
    end
  end
  ::next::
end

-- The same as JSON.
local function json_value(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "table" then
    local parts = {}
    for k, x in ipairs(v) do parts[k] = json_value(x) end
    return "[" .. table.concat(parts, ", ") .. "]"
  end
  if type(v) == "boolean" then return tostring(v) end
  if math.type(v) == "integer" then return string.format("%d", v) end
  if v ~= v or v == math.huge or v == -math.huge then return "null" end
  return string.format("%.9g", v)
end
local function json_object(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = string.format("%q: %s", k, json_value(t[k])) end
  return "{" .. table.concat(parts, ", ") .. "}"
end
local f = assert(io.open(opts.json, "w"))
local rows = {}
for _, r in ipairs(results) do rows[#rows + 1] = "    " .. json_object(r) end
f:write("{\n  \"machine\": ", json_object({cpu = cpu, cores = tonumber(cores),
                                            date = os.date("!%Y-%m-%dT%H:%M:%SZ"),
                                            brian2 = brian2_version or "not run",
                                            reps = opts.reps,
                                            order = (brian2_version and not opts.sequential)
                                                    and "interleaved" or "sequential"}),
        ",\n  \"rows\": [\n", table.concat(rows, ",\n"), "\n  ]\n}\n")
f:close()
print("written: " .. opts.json)
os.execute("rm -rf " .. sh_quote(tmp))
