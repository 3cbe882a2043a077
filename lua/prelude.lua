-- prelude.lua: the pure-Lua part of the nk module, embedded into nkshell and
-- run when the module opens. It receives the nk table as its argument.
local nk = ...

--- nk.uniform(lo, hi): a uniform distribution, for initial values
--- (init = {v = nk.uniform(-60, -50)}). Draws come from the network's seed.
function nk.uniform(lo, hi)
  if type(lo) ~= "number" or type(hi) ~= "number" then
    error(string.format("nk.uniform(lo, hi): expected two numbers, got %s and %s",
                        type(lo), type(hi)), 2)
  end
  if not (lo <= hi) then
    error(string.format("nk.uniform(%g, %g): expected lo <= hi", lo, hi), 2)
  end
  return setmetatable({kind = "uniform", lo = lo, hi = hi}, nk._dist_mt)
end

nk._dist_mt = {
  __tostring = function(d) return string.format("uniform(%g, %g)", d.lo, d.hi) end,
}

local help_text = [[
nkshell: build and run spiking networks from Lua.

  net = nk.network{dt = 0.1, seed = 1, output = "run.h5"}
  exc = net:population("lif", 3200, {name = "exc", params = {tau_m = 20},
                                     init = {v = nk.uniform(-60, -50)}})
  net:connect(exc, exc, {rule = "bernoulli", p = 0.02, weight = 16.2, delay = 0.1,
                         synapse = "exp_curr", params = {tau_syn = 5}})
  net:source("poisson", exc, {rate = 5, weight = 100})
  net:source("dc", exc:slice(1, 10), {amplitude = 300, start = 100, stop = 200})
  sp = net:monitor("spikes", exc)
  net:run(1000)                      -- ms
  print(sp:count(), sp:rate())       -- spikes, Hz; sp:times(), sp:ids()

  nk.models()          list the models
  nk.describe("lif")   a model's equations, parameters (defaults, units), states
  Units: ms, mV, pA, pF, nS, Hz.  Neuron indices in Lua are 1-based.]]

--- help([name]): general help, or a model's description.
function help(name)
  if name == nil then
    print(help_text)
  else
    print(nk.describe(name))
  end
end
