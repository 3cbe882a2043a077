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
T.done("output")
