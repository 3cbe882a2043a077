-- Closing a network (or freeing an edge list) from Lua code that runs inside
-- another call of nk's: an option table's __index, a value's __len, a
-- finalizer the collector runs while a call builds its result, a coroutine
-- that such code resumes. The call that is running keeps what it reads; the
-- object is closed for everything after it and freed at the next safe point.
-- Before, each case here read freed memory (AddressSanitizer: use after free
-- or a null pointer), so under the sanitized build in CI this checks memory
-- too.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")
local DIR = (arg[0]:match("(.*/)") or "./") .. "../data/edges/"

-- A value whose every read closes net (as an option table or a list).
local function closer(net, value)
  return setmetatable({}, {__len = function() return 2 end,
                           __index = function() net:close(); return value end})
end

-- A results file is still held by an open network while a checkpoint of
-- another network refuses to replace it for that reason. (When it is not
-- held, the checkpoint is refused as the file is not a checkpoint, and
-- nothing is written.) The probe is made once: nk.network and net:close
-- are safe points, where what was closed inside a call is freed.
local probe = nk.network{}
local function held(path)
  local ok, err = pcall(probe.checkpoint, probe, path)
  return not ok and tostring(err):find("another open network's results file", 1, true) ~= nil
end

-- ---- closed by a metamethod of an argument ---------------------------------------------

do
  local net = nk.network{}
  local p = net:population("lif", 2)
  -- net:source reads the amplitude through __index, which closes the network
  local ok = pcall(net.source, net, "dc", p, closer(net, 1))
  T.ok(ok ~= nil, "net:source returned")
  T.eq(tostring(net), "network (closed)", "the network is closed after net:source")
  T.raises("this network has been closed", net.run, net, 1)
  T.raises("this network has been closed", function() return p:get("v", 1) end)
end

do
  local net = nk.network{}
  local p = net:population("lif", 2)
  pcall(p.set, p, {v = closer(net, -60)})
  T.raises("this network has been closed", function() return p:get("v", 1) end)
end

do
  local net = nk.network{}
  net:population("lif", 2)
  T.raises("net:run: the network was closed while its options were read", net.run, net, 1,
           closer(net, nil))
  T.eq(tostring(net), "network (closed)", "closed")
end

do
  local net = nk.network{}
  local p = net:population("lif", 2)
  local m = net:monitor("state", p, {vars = "v"})
  net:run(1)
  local svg = T.tmpname("closing"):gsub("%.h5$", ".svg")
  local ok = pcall(nk.plot.trace, m, svg, closer(net, nil))
  T.ok(ok ~= nil, "nk.plot.trace returned")
  os.remove(svg)
  T.raises("closed", function() return m:values() end)
end

-- ---- closed by a finalizer while a call builds its result --------------------------------

do
  local net = nk.network{}
  local p = net:population("lif", 300)
  local proj = net:connect(p, p, {weight = 1})
  setmetatable({}, {__gc = function() net:close() end}) -- garbage at once
  local s = proj:synapses() -- collected while this builds its tables
  T.eq(#s.pre, 300 * 300, "proj:synapses built its whole result")
  collectgarbage()
  T.eq(tostring(net), "network (closed)", "the finalizer closed the network")
end

-- ---- the close waits for the call, then happens ----------------------------------------

do
  local out = T.tmpname("closing")
  local net = nk.network{output = out}
  local p = net:population("lif", 3, {params = {I_e = 500}})
  net:monitor("spikes", p)
  net:run(50)
  pcall(net.source, net, "dc", p, closer(net, 1))
  T.ok(held(out), "the network still holds its results file right after the call")
  local later = nk.network{} -- a safe point: the closed network is freed
  local r = nk.read(out)
  T.ok(#r.spikes.pop1.timestamps > 0, "the results file is whole and has the spikes")
  T.ok(not held(out), "the results file was let go at the next nk.network")
  local again = nk.network{output = out}
  T.ok(again ~= nil, "the file name may be used again")
  again:close()
  later:close()
  os.remove(out)
end

-- A callback of one network's run closes another network: that one waits
-- for the end of the run.
do
  local out = T.tmpname("closing-cb")
  local a = nk.network{output = out}
  a:population("lif", 2)
  a:run(1)
  local b = nk.network{}
  local bp = b:population("lif", 2)
  local during
  b:source("callback", bp, {every = 1, fn = function()
    if not during then a:close(); during = held(out) end
    return 0
  end})
  b:run(3)
  T.eq(during, true, "closed from b's callback: kept while b runs")
  T.ok(not held(out), "and let go when b:run returns")
  b:close()
  os.remove(out)
end

-- Outside any call of nk's, close is at once, in a coroutine too.
do
  local out = T.tmpname("closing-co")
  local a = nk.network{output = out}
  a:population("lif", 2)
  a:run(1)
  coroutine.wrap(function() a:close() end)()
  T.ok(not held(out), "net:close in a coroutine, outside any call: at once")
  os.remove(out)
end

-- A metamethod inside net:source (in coroutine A) resumes coroutine B, which
-- closes the network: B's stack and the main thread's hold no call of nk's,
-- A's does.
do
  local out = T.tmpname("closing-chain")
  local net = nk.network{output = out}
  local p = net:population("lif", 2)
  net:run(1)
  local b = coroutine.create(function() net:close() end)
  local opts = setmetatable({}, {__index = function(_, k)
    if k == "amplitude" then
      assert(coroutine.resume(b))
      return 1
    end
  end})
  local heldafter
  local a = coroutine.wrap(function()
    pcall(net.source, net, "dc", p, opts)
    heldafter = held(out)
  end)
  a()
  T.eq(heldafter, true, "closed in a coroutine that a call's metamethod resumed: kept")
  T.eq(tostring(net), "network (closed)", "and closed")
  nk.network{}:close() -- a safe point
  T.ok(not held(out), "let go at the next safe point")
  os.remove(out)
end

-- ---- edge lists ------------------------------------------------------------------------

do
  local E = nk.read_edges(DIR .. "flywire.csv")
  local net = nk.network{}
  local p = net:population("lif", E.nids, {ids = E})
  -- 'skip_unknown' is read twice: checked against the rule, then read
  -- after the edge list was taken
  local reads = 0
  local opts = setmetatable({rule = "edges", edges = E, weight = 1}, {__index = function(_, k)
    if k == "skip_unknown" then
      reads = reads + 1
      if reads == 2 then E:free() end
    end
  end})
  local exc, inh = net:connect(p, p, opts)
  T.eq(reads, 2, "the list was freed during the call")
  T.ok(exc ~= nil or inh ~= nil, "net:connect used the edge list freed during its call")
  T.eq(tostring(E), "edge list (freed)", "and the list is freed for what follows")
  T.raises("this edge list has been freed", function() return E:get(1) end)
  net:close() -- a safe point
  T.raises("this edge list has been freed", function() return E:ids() end)
end

do
  local E = nk.read_edges(DIR .. "flywire.csv")
  setmetatable({}, {__gc = function() E:free() end})
  local ids = E:ids() -- the finalizer may run while this fills its table
  T.ok(#ids > 0, "edges:ids built its whole result")
  collectgarbage()
  T.eq(tostring(E), "edge list (freed)", "the finalizer freed the list")
end

-- A network closed inside another network's run holds its results file
-- until that run ends: a new network asking for the file is told so (it
-- was told the other was "still open: close that one first"), and gets it
-- once the run is over.
do
  local out = T.tmpname("test_closing_held") .. ".h5"
  local net = nk.network{}
  local p = net:population("lif", 1)
  local msg
  net:source("callback", p, {fn = function()
    if not msg then
      nk.network{output = out}:close()
      local ok, err = pcall(nk.network, {output = out})
      msg = ok and "accepted" or tostring(err)
    end
    return 0
  end})
  net:run(0.2)
  T.ok(msg:find("closed while a call was running (a callback's, say): the file is let go when " ..
                "that call ends", 1, true), "the message says why the file is held: " .. msg)
  local again = nk.network{output = out}
  T.ok(again ~= nil, "after the run, the file is free")
  again:close()
  net:close()
  os.remove(out)
end

-- The coroutine library still works as before.
do
  local co = coroutine.create(function(x) return coroutine.yield(x + 1) * 2 end)
  local _, y = coroutine.resume(co, 1)
  local _, z = coroutine.resume(co, 5)
  T.eq(y, 2, "coroutine.create: first resume")
  T.eq(z, 10, "coroutine.create: second resume")
  local gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)
  T.eq(gen() + gen() + gen(), 6, "coroutine.wrap")
  T.raises("bad argument #1 to", coroutine.create, 5)
  T.raises("bad argument #1 to", coroutine.wrap, nil)
end

probe:close()
collectgarbage()
T.done("closing")
