-- The results file: written as NAME.h5.part during a run, renamed to NAME.h5
-- at its end, appended to by a later run.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")

local function exists(p)
  local f = io.open(p, "rb")
  if f then f:close() return true end
  return false
end

math.randomseed(os.time())
local path = T.tmpname("test_output")
os.remove(path)
local net = nk.network{output = path}
T.eq(net.output, path, "net.output")
local p = net:population("lif", 100, {name = "exc", params = {I_e = 400}})
local m = net:monitor("spikes", p)
T.ok(not exists(path), "nothing is written before the first run")
net:run(100)
T.ok(exists(path), "the file exists after the run")
T.ok(not exists(path .. ".part"), "no .part is left after the run")
local size1 = io.open(path, "rb"):seek("end")
net:run(100)
T.ok(exists(path) and not exists(path .. ".part"), "complete again after the second run")

-- read it back with h5dump when the tools are there (scripts/setup.sh installs them)
local h = io.popen("h5dump -d /spikes/exc/node_ids -A 0 '" .. path .. "' 2>/dev/null")
local dump = h:read("a")
h:close()
if dump ~= "" then
  local n = dump:match("DATASPACE%s+SIMPLE%s+{%s*%(%s*(%d+)")
  T.eq(tonumber(n), m:count(), "the file holds every recorded spike of both runs")
end
os.remove(path)

-- a path that cannot be written: a clear error before the run starts
T.raises("cannot", nk.network, {output = "/proc/nonexistent/x.h5"})

-- a population name the file cannot hold is refused
local n2 = nk.network{}
T.raises("may not contain '/'", n2.population, n2, "lif", 3, {name = "a/b"})

-- one results file, one network: two networks of a session writing one file
-- interleaved their records (a restored network continues its original's
-- file), so the second is refused until the first is closed
do
  local f = T.tmpname("test_output_shared")
  local a = nk.network{output = f}
  local p = a:population("lif", 20, {init = {v = nk.uniform(-70, -50)}})
  a:source("poisson", p, {rate = 8000, weight = 60})
  a:monitor("spikes", p)
  local pname = p.name
  a:run(20)
  T.raises("is the results file of another network of this session", nk.network, {output = f})
  local dir, base = f:match("^(.*)/([^/]*)$")
  T.raises("is the results file of another network", nk.network,
           {output = dir and dir .. "/./" .. base or "./" .. f}) -- the same file, another name
  local ck = f:gsub("%.h5$", ".ck.h5")
  a:checkpoint(ck)
  T.raises("still open: close that one first", nk.restore, ck)
  local b = nk.restore(ck, {output = f:gsub("%.h5$", ".branch.h5")})
  T.ok(b ~= nil, "nk.restore with another output")
  b:close()
  a:run(10)
  local before = #nk.read(f).spikes[pname].timestamps
  a:close()
  local c = nk.restore(ck) -- the original closed: it continues the file
  c:run(10)
  c:close()
  local ts = nk.read(f).spikes[pname].timestamps
  local late = 0
  for i = 1, #ts do if ts[i] >= 20 then late = late + 1 end end
  T.ok(#ts > 0 and #ts == before and late > 0,
       string.format("the restored network rewrote 20-30 ms of the file (%d spikes, %d before)", #ts,
                     before))
  -- a network nobody can reach any more lets go of its file (collected)
  local d = nk.network{output = f}
  d:population("lif", 2)
  d = nil
  local e = nk.network{output = f}
  T.eq(e.output, f, "a dropped network's file is free again")
  e:close()
  os.remove(f); os.remove(ck); os.remove((f:gsub("%.h5$", ".branch.h5")))
end

-- nk.recover of a file whose metadata is damaged (what a disk that filled
-- before the first flush leaves) said nothing and renamed it to a file no
-- reader could open; it now checks the result and leaves the .part
do
  local f = T.tmpname("test_output_damaged")
  local n = nk.network{output = f}
  local p = n:population("lif", 50, {name = "p"})
  n:source("dc", p, {amplitude = 1000})
  n:monitor("spikes", p)
  n:monitor("state", p, {vars = {"v"}})
  n:run(20)
  n:close()
  local h = assert(io.open(f, "rb"))
  local bytes = h:read("a")
  h:close()
  os.remove(f)
  h = assert(io.open(f .. ".part", "wb")) -- 64 bytes of an object header overwritten
  h:write(bytes:sub(1, 800), string.rep("\255", 64), bytes:sub(865))
  h:close()
  T.raises("is damaged beyond what recovery can mend", nk.recover, f)
  T.ok(io.open(f .. ".part") ~= nil and io.open(f) == nil, "the damaged file is left as the .part")
  os.remove(f .. ".part")
end
T.done("output")
