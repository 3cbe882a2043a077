-- test_solvers.lua (issue #3): every solver's order of convergence, the exact
-- solver on LIF, sub-stepping, bounds, refractoriness as a condition or per
-- neuron, and the errors a solver gives for a system it cannot integrate.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")

-- A linear test system with a known solution (time in ms):
--   dx/dt = -x + y, dy/dt = -2 y, x(0) = 1, y(0) = 1
--   y(t) = e^-2t, x(t) = 2 e^-t - e^-2t
nk.model{name = "lin2", doc = "two coupled linear equations",
         states = {x = 1, y = 1},
         equations = "dx/dt = -x + y\ndy/dt = -2*y"}
-- and a nonlinear, time-dependent one: dz/dt = -z^2 + cos(t), z(0) = 0,
-- whose reference comes from the same solver at a tiny step.
nk.model{name = "nonlin", doc = "nonlinear and forced", states = {z = 0},
         equations = "dz/dt = -z*z + cos(t)"}

local function final(model, method, dt, T_end, var, opts)
  local net = nk.network{dt = dt, precision = "double"}
  local o = {method = method}
  for k, v in pairs(opts or {}) do o[k] = v end
  local p = net:population(model, 1, o)
  net:run(T_end)
  return p:get(var, 1)
end

local Tend = 2
local x_exact = 2 * math.exp(-Tend) - math.exp(-2 * Tend)
local orders = {euler = 1, midpoint = 2, heun = 2, rk4 = 4, exponential_euler = 1}
local report = {}
for method, order in pairs(orders) do
  local e1 = math.abs(final("lin2", method, 0.1, Tend, "x") - x_exact)
  local e2 = math.abs(final("lin2", method, 0.05, Tend, "x") - x_exact)
  local e3 = math.abs(final("lin2", method, 0.025, Tend, "x") - x_exact)
  local p1, p2 = math.log(e1 / e2, 2), math.log(e2 / e3, 2)
  report[#report + 1] = string.format("%-18s errors %.3e %.3e %.3e  observed order %.3f %.3f",
                                      method, e1, e2, e3, p1, p2)
  T.near(p2, order, 0.15, method .. ": order of convergence on a linear system")
  -- and on the nonlinear forced equation (Richardson: compare with dt/8)
  local z = {}
  for k, dt in ipairs{0.1, 0.05, 0.025, 0.003125} do
    z[k] = final("nonlin", method == "exponential_euler" and "euler" or method, dt, Tend, "z")
  end
  local n1, n2 = math.abs(z[1] - z[4]), math.abs(z[2] - z[4])
  if method ~= "exponential_euler" then
    T.near(math.log(n1 / n2, 2), order, 0.3, method .. ": order on a nonlinear equation")
  end
end
table.sort(report)
for _, line in ipairs(report) do print(line) end

-- exact: linear with constant coefficients -> exact to rounding at any dt
for _, dt in ipairs{0.5, 0.1} do
  local e = math.abs(final("lin2", "exact", dt, Tend, "x") - x_exact)
  print(string.format("exact              dt %.2f  error %.3e", dt, e))
  T.ok(e < 1e-13, "exact: error at dt " .. dt .. " is rounding only, got " .. e)
end

-- rk45: error controlled by the tolerance, whatever dt
for _, tol in ipairs{1e-4, 1e-8} do
  local z = final("nonlin", "rk45", 0.5, Tend, "z", {rtol = tol, atol = tol})
  local zref = final("nonlin", "rk4", 0.001, Tend, "z")
  local e = math.abs(z - zref)
  print(string.format("rk45 tol %.0e       dt 0.5   error %.3e", tol, e))
  T.ok(e < 50 * tol, "rk45: error within the tolerance's reach, tol " .. tol .. ", got " .. e)
end
T.ok(math.abs(final("lin2", "rk45", 1, Tend, "x", {rtol = 1e-10, atol = 1e-12}) - x_exact) < 1e-8,
     "rk45: one step of 1 ms integrated to 1e-8 by inner steps")

-- LIF with exact integration: interspike interval within 1e-4 of 2 + 20 ln 5
do
  local net = nk.network{dt = 0.001, precision = "double"}
  local p = net:population("lif", 1, {method = "exact",
    params = {tau_m = 20, C_m = 200, v_rest = -70, v_reset = -70, v_thresh = -50, t_ref = 2,
              I_e = 250}})
  local m = net:monitor("spikes", p)
  net:run(1000)
  local t = m:times()
  T.eq(#t, 29, "lif exact: spikes in 1 s")
  local isi = (t[#t] - t[1]) / (#t - 1)
  local want = 2 + 20 * math.log(5)
  print(string.format("lif exact          dt 0.001 mean ISI %.6f ms, analytic %.6f, relative error %.2e",
                      isi, want, math.abs(isi - want) / want))
  T.ok(math.abs(isi - want) / want < 1e-4, "lif exact: ISI within 1e-4 relative")
end

-- exact with receptors: the whole population system (v and the synaptic current)
do
  local function trace(method, dt)
    local net = nk.network{dt = dt, precision = "double"}
    local src = net:population("lif", 1, {params = {I_e = 1e4}})
    local p = net:population("lif", 1, {method = method, params = {v_thresh = 1e9}})
    net:connect(src, p, {weight = 100, delay = 1, params = {tau_syn = 5}})
    net:run(30)
    return p:get("v", 1)
  end
  local ve, vr = trace("exact", 0.1), trace("rk4", 0.1)
  T.near(ve, vr, 1e-6, "exact with an exp_curr receptor agrees with rk4")
end

-- max_dt: euler with sub-steps of 0.01 ms matches euler at dt 0.01 ms
nk.model{name = "lin2sub", states = {x = 1, y = 1}, max_dt = 0.01,
         equations = "dx/dt = -x + y\ndy/dt = -2*y"}
do
  local a = final("lin2sub", "euler", 0.1, Tend, "x")
  local b = final("lin2", "euler", 0.01, Tend, "x")
  local c = final("lin2", "euler", 0.1, Tend, "x")
  T.near(a, b, 1e-12, "max_dt: ten sub-steps per step equal the smaller step")
  T.ok(math.abs(c - x_exact) > 5 * math.abs(a - x_exact), "max_dt: sub-stepping is more accurate (first order: ten times)")
end

-- bounds clip after every step
nk.model{name = "bounded", states = {q = {0.5, "1", bounds = {0, 1}}},
         equations = "dq/dt = 1"}
T.near(final("bounded", "euler", 0.1, 5, "q"), 1, 0, "a state bounded [0, 1] stops at 1")

-- refractory as a condition: one spike per excursion above threshold
nk.model{name = "osc", states = {x = 0}, params = {f = 0.05},
         equations = "dx/dt = 2*pi*f*cos(2*pi*f*t)",
         threshold = "x > 0.5", refractory = "x > 0.5", reset = ""}
do
  local net = nk.network{dt = 0.01, precision = "double"}
  local p = net:population("osc", 1)
  local m = net:monitor("spikes", p)
  net:run(100) -- five periods of sin
  T.eq(m:count(), 5, "refractory condition: one spike per crossing")
  local t = m:times()
  T.near(t[1], 1 / 0.05 / 12, 0.02, "refractory condition: first crossing at sin = 0.5")
end

-- refractory per neuron (depends on the neuron's index)
nk.model{name = "tick", states = {x = 0}, equations = "dx/dt = 1",
         threshold = "x > 0", reset = "x = 0", refractory = "1 + i"}
do
  local net = nk.network{dt = 0.1}
  local p = net:population("tick", 3)
  local m = net:monitor("spikes", p)
  net:run(100)
  local counts = {0, 0, 0}
  for _, id in ipairs(m:ids()) do counts[id] = counts[id] + 1 end
  T.ok(counts[1] > counts[2] and counts[2] > counts[3],
       "per-neuron refractory: longer periods fire less (" .. table.concat(counts, " ") .. ")")
  T.near(counts[1] / counts[3], 3, 0.2, "per-neuron refractory: 1 ms vs 3 ms periods")
end

-- a per-neuron refractory period below 0 ms or NaN stops the run, naming the neuron; what was
-- recorded is kept and the session goes on. 1000 neurons, so that two threads do run (one
-- thread per 64 neurons at most), with the bad neurons in the second thread's chunk.
nk.model{name = "tick_neg", states = {x = 0}, equations = "dx/dt = 1",
         threshold = "x > 0", reset = "x = 0", refractory = "t < 5 ? 1 : (i >= 700 ? -1 : 1)"}
nk.model{name = "tick_nan", states = {x = 0}, equations = "dx/dt = 1",
         threshold = "x > 0", reset = "x = 0", refractory = "t < 5 ? 1 : (i - 600) / (i - 600)"}
for _, case in ipairs{{"tick_neg", 701}, {"tick_nan", 601}} do
  local model, bad = case[1], case[2]
  for _, threads in ipairs{1, 2} do
    local net = nk.network{dt = 0.1, threads = threads}
    local p = net:population(model, 1000)
    local m = net:monitor("spikes", p)
    local ok, e = pcall(net.run, net, 20, {profile = true})
    local what = model .. ", " .. threads .. " thread(s)"
    if T.cpu then
      T.eq(net:profile().run.threads, threads, what .. ": the threads that ran it")
    end
    T.ok(not ok, what .. ": the run stops")
    e = tostring(e)
    T.ok(e:find("neuron " .. bad .. " of 1000", 1, true) and e:find("refractory period", 1, true)
         and e:find(">= 0 ms", 1, true), what .. ": the message names the neuron and the period: " .. e)
    T.ok(m:count() > 0, what .. ": the spikes before it are kept (" .. m:count() .. ")")
    local t = m:times()
    T.ok(t[#t] >= 3.5 and t[#t] < 5, what .. ": nothing after the first bad spike (last " .. t[#t] .. " ms)")
    net:close()
  end
end

-- what a solver cannot do is refused with the reason
nk.model{name = "bilinear", states = {x = 1, y = 1},
         equations = "dx/dt = -x*y; dy/dt = -y"}
do
  -- when the population is made, not at every run; the message names the
  -- state the coefficient varies with
  local net = nk.network{}
  T.raises("method exact needs a linear system with constant coefficients, but 'dx/dt' depends "
           .. "on 'x' through a coefficient that varies with 'y'",
           net.population, net, "bilinear", 1, {method = "exact"})
  T.eq(#net:populations(), 0, "the refused population is not made")
  -- a receptor that would make the system nonlinear is refused when it is
  -- made (after a run too), and names the receptor's state
  local lin = net:population("iaf_psc_exp", 3, {method = "exact"})
  net:source("poisson", lin, {rate = 100, weight = 10})
  net:run(2)
  local ok, e = pcall(net.source, net, "poisson", lin,
                      {rate = 100, weight = 10, receptor = "c", synapse = "exp_cond"})
  T.ok(not ok and tostring(e):find("receptor 'c' (synapse 'exp_cond'): population 'pop1': "
       .. "method exact needs a linear system", 1, true)
       and tostring(e):find("varies with 'c.g'", 1, true), "a nonlinear receptor: " .. tostring(e))
  net:run(2) -- the network runs on as it was
  T.near(net.t, 4, 1e-9, "runs after the refused receptor")
  -- exponential_euler linearises an equation nonlinear in its own variable:
  -- dx/dt = -x^2, x(0) = 1 -> x(t) = 1/(1 + t); for one autonomous equation
  -- this is exponential Rosenbrock-Euler, second order
  nk.model{name = "quadratic", states = {x = 1}, equations = "dx/dt = -x*x"}
  local q1 = math.abs(final("quadratic", "exponential_euler", 0.1, 2, "x") - 1 / 3)
  local q2 = math.abs(final("quadratic", "exponential_euler", 0.05, 2, "x") - 1 / 3)
  T.near(math.log(q1 / q2, 2), 2, 0.15, "exponential_euler on -x^2: second order")
  T.ok(q1 < 0.01, "exponential_euler on -x^2: close to 1/(1 + t)")
  local net3 = nk.network{}
  T.raises("unknown method 'rk5' (expected euler, midpoint, heun, rk4, rk45, exponential_euler or exact)",
           net3.population, net3, "lin2", 1, {method = "rk5"})
end

-- rand() in the equations is not allowed with exact
nk.model{name = "noisy", states = {x = 0}, equations = "dx/dt = -x + randn()"}
do
  local net = nk.network{}
  T.raises("rand()/randn()", net.population, net, "noisy", 1, {method = "exact"})
end

-- exact on a system of more than 16 states is written as loops over G (as
-- written-out products, 40 states took gcc 50 s to compile); the sums are
-- the same. Five copies of a 4-state ring (written out) in one 20-state
-- system (loops): G is block-diagonal, and the first copy, which spikes and
-- is held while refractory, follows the 4-state ring.
do
  local function ring(copies)
    local states, eqs = {}, {}
    for c = 0, copies - 1 do
      for k = 1, 4 do
        local x = function(j) return "x" .. (c * 4 + (j - 1) % 4 + 1) end
        states[x(k)] = 0
        eqs[#eqs + 1] = ("d%s/dt = (%s - 2*%s + %s) / 10 - %s / (20 + %d) + %g%s"):format(
          x(k), x(k + 1), x(k), x(k + 3), x(k), k, k == 1 and 0.2 or 0.01,
          k <= 2 and " : 1 (unless refractory)" or "")
      end
    end
    return nk.model{name = "ring4x" .. copies, states = states, equations = eqs,
                    threshold = "x1 > 0.5", reset = "x1 = 0", refractory = "2"}
  end
  local net = nk.network{precision = "double"}
  local init = {x3 = {0.1, 0.2, 0.3}}
  local one = net:population(ring(1), 3, {method = "exact", init = init})
  local five = net:population(ring(5), 3, {method = "exact", init = init})
  local s1, s5 = net:monitor("spikes", one), net:monitor("spikes", five)
  net:run(200)
  T.ok(s1:count() > 20, "the 4-state ring spikes (" .. s1:count() .. ")")
  T.eq(s5:count(), s1:count(), "exact with 20 states: as many spikes as with 4")
  T.same_list(s5:times(), s1:times(), "exact with 20 states: the same spike times")
  local worst = 0
  for i = 1, 3 do
    for k = 1, 4 do
      local a, b = one:get("x" .. k, i), five:get("x" .. k, i)
      worst = math.max(worst, math.abs(a - b) / math.max(math.abs(a), 1e-300))
    end
  end
  T.ok(worst < 1e-13, "exact with 20 states: the first copy's states as with 4 (worst " ..
       worst .. ")")
  -- a chain of 40 linear states against rk4 at a small step
  local states, eqs = {}, {}
  for k = 1, 40 do
    states["c" .. k] = k == 1 and 1 or 0
    eqs[#eqs + 1] = k == 1 and "dc1/dt = -c1" or ("dc%d/dt = c%d - c%d"):format(k, k - 1, k)
  end
  nk.model{name = "chain40", states = states, equations = eqs}
  -- c40(t) = t^39 e^-t / 39!, near its peak at t = 39 ms
  local e = final("chain40", "exact", 0.1, 40, "c40")
  local r = final("chain40", "rk4", 0.01, 40, "c40")
  local x = math.exp(39 * math.log(40) - 40)
  for k = 2, 39 do x = x / k end
  T.near(e, x, 1e-9 * x, "exact with 40 states: the chain's last state")
  T.near(r, x, 1e-6 * x, "rk4 agrees")
end

T.done("solvers")
