-- test_neurons.lua (issue #3): filled in as the models land.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")
local names = {}
for _, m in ipairs(nk.models()) do names[m] = true end
T.ok(names.lif and names.exp_curr, "the library holds lif and exp_curr")
T.done()
