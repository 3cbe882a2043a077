-- samples/sandbox_tour.lua: a tour of every built-in model in the sandbox.
--
--   nkshell samples/sandbox_tour.lua [DURATION_MS] [PLOT_DIR]
--
-- Each neuron model gets one neuron and a current step from 10 ms to
-- DURATION_MS - 10 ms (default 100 ms in all), just strong enough to make it
-- fire four times (the sandbox finds that current with a scan; graded models
-- get one that moves their potential by 15 mV). Each synapse model gets a
-- lif neuron to act on: a few spikes through it (graded synapses: a
-- depolarised presynaptic Morris-Lecar neuron). For each, the sandbox prints
-- what it did and what came of it, and previews the trace on the terminal;
-- with PLOT_DIR it also draws each trace to PLOT_DIR/MODEL.png.
--
-- The same for one model at the prompt: nk.sandbox("hh"), or
-- nkshell --sandbox hh from the command line; help("sandbox") lists the
-- options (another stimulus, parameters, initial values, several neurons).

local ms = tonumber(arg and arg[1]) or 100
local plot_dir = arg and arg[2]

local fired, silent = {}, {}
for _, kind in ipairs({"neuron", "synapse"}) do
  print(string.format("== %s models ==", kind))
  for _, name in ipairs(nk.models(kind)) do
    print()
    print(string.format("-- %s: %s", name, nk.model(name).doc))
    local opts = {ms = ms}
    if plot_dir then opts.plot = plot_dir .. "/" .. name .. ".png" end
    local r = nk.sandbox(name, opts)
    if kind == "neuron" then
      if #r.spikes > 0 then fired[#fired + 1] = name else silent[#silent + 1] = name end
    end
  end
end
print()
print(string.format("%d neuron models fired: %s", #fired, table.concat(fired, ", ")))
print(string.format("%d did not (graded models, or no input reaches them): %s", #silent,
                    table.concat(silent, ", ")))
