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
  -- a's run writes f .. ".part" and renames it to f: another network with
  -- either name took the other's file (a:run then found a stray .part and
  -- stopped for good, "left by an interrupted run")
  T.raises("the results file of another network of this session", nk.network,
           {output = f .. ".part"})
  local g = f:gsub("%.h5$", ".g.h5")
  local gn = nk.network{output = g .. ".part"}
  T.raises("clashes with '" .. g .. ".part'", nk.network, {output = g})
  gn:close()
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
-- A network's later run appends only to the file its last run left. Found
-- replaced by another run's file, it refuses and leaves that file as it is
-- (it used to rename it to .part and add its own datasets to it); found
-- moved away, it writes the file anew from what the monitors hold, so the
-- new file has every run's records.
do
  local f, g = T.tmpname("test_output_own"), T.tmpname("test_output_other")
  local spit = T.write_file
  local function slurp(name) return exists(name) and T.read_file(name) or nil end
  local function network(out)
    local n = nk.network{output = out}
    local p = n:population("lif", 20, {name = "exc", params = {I_e = 400}})
    return n, n:monitor("spikes", p), n:monitor("state", p:slice(1, 2), {vars = {"v"}, every = 10})
  end
  local A, spA, vmA = network(f)
  A:run(50)
  local idA = nk.read(f).attrs.run_id
  T.ok(type(idA) == "string" and #idA == 32, "the file names its run: " .. tostring(idA))
  local B = network(g)
  B:run(30)
  B:close()
  local other = assert(slurp(g))
  os.remove(g)
  spit(f, other) -- A's file replaced by B's
  local ok, err = pcall(A.run, A, 50)
  T.ok(not ok, "another run's file in place of the network's own: the run is refused")
  T.ok(tostring(err):find("net:run: '" .. f .. "' was written by another run (its run_id is ", 1,
                          true) and tostring(err):find("this network's " .. tostring(idA), 1, true)
                          and tostring(err):find("since this network's last run", 1, true),
       "the message names the file, both run ids and when; got " .. tostring(err))
  T.eq(slurp(f), other, "the other run's file is left as it was, byte for byte")
  T.ok(not exists(f .. ".part"), "and is not renamed to .part")
  T.ok(spA:count() > 0, "A fired")
  local before = spA:count()
  -- not a results file
  spit(f, "not HDF5\n")
  T.raises("is not an HDF5 file", A.run, A, 50)
  T.eq(slurp(f), "not HDF5\n", "a text file in its place is left as it was")
  -- moved away: written anew, with every run's records
  os.rename(f, g)
  A:run(50)
  T.ok(spA:count() > before, "moved away: the network runs on")
  local r = nk.read(f)
  T.eq(#r.spikes.exc.timestamps, spA:count(), "the new file holds the spikes of both runs")
  T.eq(#r.report.exc.data, #vmA:times(), "... and every sample of the state monitor")
  -- the network's own file, unchanged or touched without being replaced,
  -- is appended to as before
  A:run(20)
  os.execute("touch '" .. f .. "'")
  A:run(20)
  r = nk.read(f)
  T.eq(#r.spikes.exc.timestamps, spA:count(), "its own file, touched: appended to")
  A:close()
  os.remove(f)
  os.remove(g)
end
-- A first run writes its results file anew, and a checkpoint is written
-- anew: neither over a file of another kind (a checkpoint, a results file,
-- a CSV file: a typo in a path), which is left as it was; over an earlier
-- results file (a script run again), an earlier checkpoint, or an empty
-- file, they go on.
do
  local old, ck, csv, empty = T.tmpname("test_output_old"), T.tmpname("test_output_ck"),
                              T.tmpname("test_output_csv"), T.tmpname("test_output_empty")
  local a = nk.network{output = old}
  a:population("lif", 2)
  a:run(1)
  a:checkpoint(ck)
  a:close()
  local f = io.open(csv, "w")
  f:write("pre,post,w\n1,2,3\n")
  f:close()
  io.open(empty, "w"):close()
  local function bytes(path)
    local h = io.open(path, "rb")
    local b = h:read("a")
    h:close()
    return b
  end
  local ck_bytes, old_bytes = bytes(ck), bytes(old)
  local m = nk.network{output = ck}
  m:population("lif", 2)
  T.raises("output: '" .. ck .. "' is a checkpoint, and a run would replace it with its results, "
           .. "so it is left as it is", m.run, m, 1)
  m:close()
  m = nk.network{output = csv}
  m:population("lif", 2)
  T.raises("output: '" .. csv .. "' is not an HDF5 file", m.run, m, 1)
  m:close()
  m = nk.network{}
  m:population("lif", 2)
  T.raises("checkpoint: '" .. old .. "' is not a checkpoint (it is a results file), and it would "
           .. "be replaced, so it is left as it is", m.checkpoint, m, old)
  T.raises("checkpoint: '" .. csv .. "' is not an HDF5 file", m.checkpoint, m, csv)
  T.raises("net:run: checkpoint: '" .. old .. "' is not a checkpoint (it is a results file), and "
           .. "it would be replaced", m.run, m, 1, {checkpoint_every = 0.5, checkpoint = old})
  T.near(m.t, 0, 0, "refused before the run")
  T.eq(bytes(csv), "pre,post,w\n1,2,3\n", "the CSV file is as it was")
  T.ok(bytes(ck) == ck_bytes and bytes(old) == old_bytes, "the checkpoint and results are as they were")
  m:close()
  m = nk.network{output = old}
  m:population("lif", 2)
  m:run(2)
  m:checkpoint(ck)
  m:close()
  local r = nk.restore(ck, {output = empty})
  T.near(r.t, 2, 1e-9, "an earlier checkpoint is replaced")
  r:close()
  T.ok(bytes(old) ~= old_bytes and nk.read(old).attrs.run_id, "an earlier results file is replaced")
  m = nk.network{output = empty}
  m:population("lif", 2)
  m:run(1)
  T.ok(nk.read(empty).attrs.run_id, "an empty file is replaced")
  m:close()
  for _, x in ipairs{old, ck, csv, empty} do os.remove(x) end
end
T.done("output")
