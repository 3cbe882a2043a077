-- check.lua: assertions for the Lua test scripts. A failed check prints
-- where it failed and what differed, and the script goes on; done() exits 1
-- when anything failed.
local M = {count = 0, failed = 0}

-- The backend this run's networks are on: "cpu" (meson suite lua), or "cuda"
-- (suite lua-cuda: nkshell --backend cuda on the host emulation, or on a GPU
-- with tests/gpu/run_gpu_tests.sh): that of a network made without naming
-- one. Where NKSHELL_TEST_BACKEND names the backend (the suites do), a new
-- network must get that one. The checks of the CPU backend's own ways (its
-- threads, the C text it generates) run only where M.cpu is true.
do
  local want = os.getenv("NKSHELL_TEST_BACKEND")
  local ok, net = pcall(nk.network)
  local got = ok and net.backend or tostring(net)
  if ok then net:close() end
  if want and got ~= want then
    error(string.format("these tests are to run on the %s backend (NKSHELL_TEST_BACKEND), but a "
                        .. "new network gets: %s", want, got), 0)
  end
  M.backend = want or got
  M.cpu = M.backend == "cpu"
end

local function where()
  local info = debug.getinfo(4, "Sl") -- where, fail, the check, its caller
  return string.format("%s:%d", info.short_src, info.currentline)
end

local function fail(msg)
  M.failed = M.failed + 1
  io.stderr:write(where(), ": check failed: ", msg, "\n")
end

function M.ok(cond, msg)
  M.count = M.count + 1
  if not cond then fail(msg or "expected a true value") end
end

function M.eq(a, b, msg)
  M.count = M.count + 1
  if a ~= b then
    fail(string.format("%s: expected %s, got %s", msg or "eq", tostring(b), tostring(a)))
  end
end

function M.near(a, b, tol, msg)
  M.count = M.count + 1
  if type(a) ~= "number" or math.abs(a - b) > tol then
    fail(string.format("%s: expected %s +- %s, got %s", msg or "near", tostring(b),
                       tostring(tol), tostring(a)))
  end
end

-- Calls fn and checks that it raised an error whose message contains text
-- (plain substring). Returns the message.
function M.raises(text, fn, ...)
  M.count = M.count + 1
  local ok, err = pcall(fn, ...)
  if ok then
    fail(string.format("expected an error containing %q, but the call succeeded", text))
    return nil
  end
  err = tostring(err)
  if not err:find(text, 1, true) then
    fail(string.format("expected an error containing %q, got %q", text, err))
  end
  return err
end

function M.same_list(a, b, msg)
  M.count = M.count + 1
  if #a ~= #b then
    fail(string.format("%s: lengths differ: %d vs %d", msg or "lists", #a, #b))
    return
  end
  for i = 1, #a do
    if a[i] ~= b[i] then
      fail(string.format("%s: element %d differs: %s vs %s", msg or "lists", i,
                         tostring(a[i]), tostring(b[i])))
      return
    end
  end
end

function M.done(name)
  print(string.format("%s: %d checks, %d failed", name, M.count, M.failed))
  if M.failed > 0 then os.exit(1) end
end

-- A unique scratch path under the test's working directory.
function M.tmpname(stem)
  return string.format("%s-%d-%d.h5", stem, os.time(), math.random(1, 1e9))
end

-- A file's bytes (an error when it cannot be read), and a file written.
function M.read_file(p)
  local f = assert(io.open(p, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function M.write_file(p, s)
  local f = assert(io.open(p, "wb"))
  f:write(s)
  f:close()
end

return M
