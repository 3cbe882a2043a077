-- placeholder: replaced by the nk.plot tests
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")
T.ok(type(nk.plot) == "table", "nk.plot is a table")
T.done()
