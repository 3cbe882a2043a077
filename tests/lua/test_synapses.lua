-- test_synapses.lua (issue #3): the built-in synapse models against their
-- closed forms.
--
-- Set-up: a presynaptic neuron that fires exactly once, in the step that
-- starts at t0 (a model whose threshold is a condition on t), connected with
-- a delay d to a target whose v does not move (dv/dt = 0, v set by init).
-- The spike arrives in the step that starts at ta = t0 + d: on_pre runs at the
-- start of that step, then the step integrates. So the value read after the
-- k-th step from ta is the kernel at t = k*dt after arrival.
--
-- The target also integrates its input current, dq/dt = I, so q is the
-- charge the receptors have delivered (pA*ms): it checks `current`.
--
-- Solvers: the population's solver advances the receptors too; the target
-- model's is exponential_euler, exact for the exponentials and the double
-- exponentials (written as two decoupled exponentials). For the alpha kernels
-- (a coupled pair) it has the relative error tau*(exp(dt/tau) - 1)/dt - 1
-- ~ dt/(2 tau), so those run with a small dt, and again with exact, rk4 and
-- midpoint at dt 0.1.
--
-- Weights are stored as float32 whatever the precision, so the weights here
-- are exact in float32 (1.75, not 1.7: that alone would be 2.8e-8 off).
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")

local E = math.exp(1)

nk.model{name = "syntest_once", equations = "dv/dt = 0",
         threshold = "t > t0 - dt/2 and t < t0 + dt/2", reset = "v = 0",
         params = {t0 = 1}, states = {v = 0}, refractory = 0, method = "euler"}
nk.model{name = "syntest_clamp", equations = "dv/dt = 0; dq/dt = I",
         params = {}, states = {v = -70, q = 0}, method = "exponential_euler"}

-- Builds pre (fires at t0) -> post (clamped at v) through `synapse` and
-- returns a sampler. opts: dt, t0, delay, weight, params, receptor, v,
-- precision, method (the target population's).
local function setup(synapse, opts)
  local dt = opts.dt or 0.1
  local net = nk.network{dt = dt, precision = opts.precision or "double"}
  local t0, delay = opts.t0 or 1, opts.delay or 0.5
  local pre = net:population("syntest_once", 1, {params = {t0 = t0}})
  local post = net:population("syntest_clamp", 1, {init = {v = opts.v or -70},
                                                    method = opts.method})
  net:connect(pre, post, {synapse = synapse, receptor = opts.receptor or "exc",
                          weight = opts.weight or 1, delay = delay,
                          params = opts.params})
  local sp = net:monitor("spikes", pre)
  -- ta: the arrival step's start, on the grid
  local ta = math.floor((t0 + delay) / dt + 0.5) * dt
  net:run(ta)
  return {net = net, pre = pre, post = post, sp = sp, ta = ta, dt = dt}
end

-- Reads fn(post) after steps k = every, 2*every, ..., up to n steps from
-- arrival; returns the list of {t = k*dt, y = value}.
local function sample(s, fn, n, every)
  every = every or 1
  local out = {}
  for k = every, n, every do
    s.net:run(every * s.dt)
    out[#out + 1] = {t = k * s.dt, y = fn(s.post)}
  end
  return out
end

local function getter(name) return function(p) return p:get(name, 1) end end

-- max |y - f(t)| / scale over the samples
local function max_err(samples, f, scale)
  local worst = 0
  for _, s in ipairs(samples) do
    worst = math.max(worst, math.abs(s.y - f(s.t)) / scale)
  end
  return worst
end

local function peak(samples)
  local best = samples[1]
  for _, s in ipairs(samples) do if s.y > best.y then best = s end end
  return best
end

local function report(fmt, ...) print(string.format(fmt, ...)) end

-- Runs one part of the test; an error in it is a failed check, and the
-- other parts still run.
local function section(name, fn)
  local ok, err = pcall(fn)
  T.ok(ok, string.format("%s: %s", name, tostring(err)))
end

-- ---- the library -------------------------------------------------------------

local names = {}
for _, m in ipairs(nk.models()) do names[m] = true end
for _, m in ipairs{"delta", "exp_curr", "alpha_curr", "exp_cond", "alpha_cond", "ampa",
                   "gaba_a", "gaba_b", "nmda", "power_gpot", "sigmoid"} do
  T.ok(names[m], "the library holds " .. m)
  if names[m] then
    local d = nk.describe(m)
    T.ok(d:find("synapse model", 1, true), m .. ": described as a synapse model")
  end
end
T.ok(nk.describe("exp_cond"):find("tau_syn", 1, true) and
     nk.describe("exp_cond"):find("ms", 1, true), "exp_cond: tau_syn with its unit")
T.ok(nk.describe("nmda"):find("Mg", 1, true), "nmda: the Mg parameter")

-- ---- exponential kernels ------------------------------------------------------

-- exp_curr: isyn = w exp(-t/tau_syn)
section("exp_curr", function()
  local tau, w = 3, 2.5
  local s = setup("exp_curr", {weight = w, params = {tau_syn = tau}})
  T.near(s.post:get("exc.isyn", 1), 0, 0, "exp_curr: nothing before arrival")
  local smp = sample(s, getter("exc.isyn"), 50)
  local worst = max_err(smp, function(t) return w * math.exp(-t / tau) end, w)
  local rworst = 0
  for k = 2, #smp do
    rworst = math.max(rworst, math.abs(smp[k].y / smp[k - 1].y - math.exp(-s.dt / tau)))
  end
  report("exp_curr: max |isyn - w exp(-t/tau)|/w = %.2e, max |ratio - exp(-dt/tau)| = %.2e",
         worst, rworst)
  T.ok(worst < 1e-12, "exp_curr: kernel w exp(-t/tau_syn)")
  T.ok(rworst < 1e-12, "exp_curr: decay ratio exp(-dt/tau_syn)")
  T.eq(s.sp:count(), 1, "the presynaptic neuron fired once")
  -- single precision: the same kernel to float's resolution
  local sf = setup("exp_curr", {weight = w, params = {tau_syn = tau}, precision = "float"})
  local fw = max_err(sample(sf, getter("exc.isyn"), 50),
                     function(t) return w * math.exp(-t / tau) end, w)
  report("exp_curr, float32 states: max error %.2e of w", fw)
  T.ok(fw < 1e-6, "exp_curr in float precision")
end)

-- exp_cond: g = |w| exp(-t/tau_syn); a negative weight gives the same g; the
-- current is g (E_rev - v) (charge |w| tau (E_rev - v), left Riemann sum)
section("exp_cond", function()
for _, case in ipairs{{4, "exc", 0}, {-4, "inh", -80}} do
  local w, rec, erev = case[1], case[2], case[3]
  local tau, v, dt = 5, -60, 0.01
  local s = setup("exp_cond", {weight = w, receptor = rec, v = v, dt = dt,
                               params = {tau_syn = tau, E_rev = erev}})
  local smp = sample(s, getter(rec .. ".g"), 200)
  local worst = max_err(smp, function(t) return math.abs(w) * math.exp(-t / tau) end,
                        math.abs(w))
  local rworst = 0
  for k = 2, #smp do
    rworst = math.max(rworst, math.abs(smp[k].y / smp[k - 1].y - math.exp(-dt / tau)))
  end
  report("exp_cond (w = %g): max |g - |w| exp(-t/tau)|/|w| = %.2e, max |ratio - exp(-dt/tau)| = %.2e",
         w, worst, rworst)
  T.ok(worst < 1e-12, string.format("exp_cond w = %g: kernel |w| exp(-t/tau_syn)", w))
  T.ok(rworst < 1e-12, string.format("exp_cond w = %g: decay ratio", w))
  -- charge over 20 tau: dt * sum_n |w| a^n (E - v) = |w| dt/(1 - a) (E - v)
  s.net:run(20 * tau - 200 * dt)
  local a = math.exp(-dt / tau)
  local want = math.abs(w) * dt / (1 - a) * (erev - v) * (1 - a ^ (20 * tau / dt))
  local q = s.post:get("q", 1)
  report("exp_cond (w = %g): charge %.6f pA ms, expected %.6f (relative error %.2e)",
         w, q, want, math.abs(q / want - 1))
  T.near(q / want, 1, 1e-9, string.format("exp_cond w = %g: current g*(E_rev - v)", w))
  T.ok((q > 0) == (erev > v), string.format("exp_cond w = %g: current's sign", w))
end
end)

-- ---- alpha kernels -------------------------------------------------------------

-- w (t/tau) exp(1 - t/tau): peak w at t = tau. Exponential Euler's error on
-- this coupled pair is ~dt/(2 tau): dt = 0.002 for tau = 2 gives 5e-4.
section("alpha", function()
for _, case in ipairs{{"alpha_curr", "isyn", 3.0}, {"alpha_cond", "g", -3.0}} do
  local model, state, w = case[1], case[2], case[3]
  local tau, dt = 2, 0.002
  local rec = w >= 0 and "exc" or "inh"
  local s = setup(model, {weight = w, receptor = rec, dt = dt, params = {tau_syn = tau}})
  local aw = math.abs(w)
  -- whole kernel, coarsely (every 50 steps, up to 5 tau)
  local smp = sample(s, getter(rec .. "." .. state), math.floor(5 * tau / dt + 0.5), 50)
  local kern = function(t) return aw * (t / tau) * math.exp(1 - t / tau) end
  local worst = max_err(smp, kern, aw)
  -- the peak, every step near tau
  local s2 = setup(model, {weight = w, receptor = rec, dt = dt, params = {tau_syn = tau}})
  s2.net:run(tau - 0.1)
  local near = {}
  for k = 1, 100 do
    s2.net:run(dt)
    near[#near + 1] = {t = tau - 0.1 + k * dt, y = s2.post:get(rec .. "." .. state, 1)}
  end
  local p = peak(near)
  report("%s (w = %g, tau = %g, dt = %g): kernel max error %.2e of |w|; peak %.6f at t = %.4f "
         .. "(relative error %.2e, %+.1f steps from tau)", model, w, tau, dt, worst, p.y, p.t,
         math.abs(p.y / aw - 1), (p.t - tau) / dt)
  T.ok(worst < 1e-3, model .. ": kernel |w| (t/tau) exp(1 - t/tau)")
  T.ok(math.abs(p.t - tau) <= dt + 1e-9, model .. ": peak at t = tau_syn within one step")
  T.near(p.y / aw, 1, 1e-3, model .. ": peak amplitude |w|")
  -- first order in dt: at dt = 0.02 the error is about ten times larger but
  -- still what the formula says
  local s3 = setup(model, {weight = w, receptor = rec, dt = 0.02, params = {tau_syn = tau}})
  s3.net:run(tau)
  local y = s3.post:get(rec .. "." .. state, 1)
  local h = 0.02
  local predicted = tau * (math.exp(h / tau) - 1) / h
  report("%s at dt = 0.02: value at tau / |w| = %.6f, exponential Euler predicts %.6f",
         model, y / aw, predicted)
  T.near(y / aw, predicted, 1e-9, model .. ": exponential Euler's known error at dt = 0.02")
end
end)

-- the alpha kernels with the population's solver exact (current: the whole
-- system is linear) and rk4 (conductance: g*(E_rev - v) is not), at dt 0.1
section("alpha, other solvers", function()
  local tau, dt = 2, 0.1
  for _, case in ipairs{{"alpha_curr", "isyn", "exact", 1e-12}, {"alpha_cond", "g", "rk4", 1e-6},
                        {"alpha_curr", "isyn", "midpoint", 1.5e-3}} do
    local model, state, method, tol = case[1], case[2], case[3], case[4]
    local w = 2.5
    local s = setup(model, {weight = w, dt = dt, method = method, params = {tau_syn = tau}})
    local smp = sample(s, getter("exc." .. state), math.floor(4 * tau / dt + 0.5))
    local worst = max_err(smp, function(t) return w * (t / tau) * math.exp(1 - t / tau) end, w)
    local p = peak(smp)
    report("%s with %s at dt %g: kernel max error %.2e of w, peak %.9f at %.2f ms", model,
           method, dt, worst, p.y / w, p.t)
    T.ok(worst < tol, string.format("%s with %s: kernel within %g", model, method, tol))
    T.near(p.t, tau, 1e-9, string.format("%s with %s: peak at tau_syn", model, method))
  end
end)

-- ---- double exponentials (ampa, gaba_a, gaba_b, nmda) ----------------------------

local function dexp(tr, td, w)
  local r = tr / td
  local pk = r ^ (r / (1 - r)) * (1 - r)
  local tpk = tr * td / (td - tr) * math.log(td / tr)
  return function(t) return w * (math.exp(-t / td) - math.exp(-t / tr)) / pk end, tpk
end

local dexp_cases = {
  {"ampa", 0.5, 2.4, 0, 0.01, 20},
  {"gaba_a", 1, 7, -70, 0.01, 50},
  {"gaba_b", 60, 200, -90, 0.1, 1000},
  {"nmda", 4, 40, 0, 0.05, 300},
}
section("double exponentials", function()
for _, c in ipairs(dexp_cases) do
  local model, tr, td, erev, dt, tmax = c[1], c[2], c[3], c[4], c[5], c[6]
  local w = 1.75 -- exact in float32 (weights are stored as float)
  local s = setup(model, {weight = w, dt = dt, v = -75})
  local every = math.max(1, math.floor(tmax / dt / 2000))
  local g = function(p) return p:get("exc.g_d", 1) - p:get("exc.g_r", 1) end
  local smp = sample(s, g, math.floor(tmax / dt + 0.5), every)
  local f, tpk = dexp(tr, td, w)
  local worst = max_err(smp, f, w)
  -- the peak, step by step around t_peak
  local s2 = setup(model, {weight = w, dt = dt, v = -75})
  local back = math.floor(tpk / dt) - 20
  if back > 0 then s2.net:run(back * dt) else back = 0 end
  local near = sample(s2, g, 40)
  for _, x in ipairs(near) do x.t = x.t + back * dt end
  local p = peak(near)
  -- decay: the late ratio of successive samples against exp(-dt*every/tau_decay)
  local n = #smp
  local late = smp[n].y / smp[n - 1].y
  local want_late = f(smp[n].t) / f(smp[n - 1].t)
  report("%s (tau_rise %g, tau_decay %g, dt %g): kernel max error %.2e of w; peak %.6f at %.3f ms "
         .. "(t_peak %.3f, amplitude error %.2e); late decay ratio %.9f vs %.9f (exp(-dt/tau_decay)^%d = %.9f)",
         model, tr, td, dt, worst, p.y, p.t, tpk, math.abs(p.y / w - 1), late, want_late, every,
         math.exp(-dt * every / td))
  T.ok(worst < 1e-9, model .. ": kernel w (exp(-t/tau_decay) - exp(-t/tau_rise))/peak")
  T.ok(math.abs(p.t - tpk) <= dt, model .. ": peak at t_peak within one step")
  T.near(p.y / w, 1, 1e-3, model .. ": peak amplitude w")
  T.near(late, want_late, 1e-9, model .. ": decay")
  T.ok(nk.describe(model):find("tau_rise", 1, true), model .. ": describes tau_rise")
  -- current: total charge w (tau_decay - tau_rise)/peak * (E_rev - v) * B
  if model ~= "nmda" then
    local s3 = setup(model, {weight = w, dt = dt, v = -75})
    s3.net:run(20 * td)
    local r = tr / td
    local total = w * (td - tr) / (r ^ (r / (1 - r)) * (1 - r)) * (erev - (-75))
    local q = s3.post:get("q", 1)
    report("%s: charge %.6f pA ms, integral of the kernel times (E_rev - v) %.6f (relative %.2e)",
           model, q, total, math.abs(q / total - 1))
    T.near(q / total, 1, dt / tr, model .. ": current g*(E_rev - v)")
  end
end
end)

-- conductance synapses take |w|
section("negative weight", function()
  local s = setup("ampa", {weight = -1.75, receptor = "inh", dt = 0.01})
  s.net:run(1)
  local f = dexp(0.5, 2.4, 1.75)
  local g = s.post:get("inh.g_d", 1) - s.post:get("inh.g_r", 1)
  T.near(g, f(1), 1e-9, "ampa: a negative weight gives the conductance of |w|")
end)

-- ---- NMDA magnesium block ----------------------------------------------------------

-- The charge through nmda at Mg divided by the charge at Mg = 0 (no block),
-- at the same clamped voltage, is the block B(v) = 1/(1 + exp(-0.062 v) Mg/3.57)
-- (Jahr & Stevens 1990), whatever the solver.
section("nmda block", function()
  local worst = 0
  local rows = {}
  for _, mg in ipairs{1, 2} do
    for _, v in ipairs{-100, -80, -60, -40, -20, -5, 10, 30} do
      local q = {}
      for _, m in ipairs{mg, 0} do
        local s = setup("nmda", {weight = 2, dt = 0.1, v = v, params = {Mg = m}})
        s.net:run(50)
        q[#q + 1] = s.post:get("q", 1)
      end
      local b = q[1] / q[2]
      local want = 1 / (1 + math.exp(-0.062 * v) * mg / 3.57)
      worst = math.max(worst, math.abs(b - want))
      rows[#rows + 1] = string.format("v %g: %.6f (%.6f)", v, b, want)
      T.near(b, want, 1e-9, string.format("nmda: block at v = %g mV, Mg = %g mM", v, mg))
    end
    report("nmda Mg = %g mM: B(v) measured (formula): %s", mg, table.concat(rows, ", "))
    rows = {}
  end
  report("nmda block: max |B - formula| = %.2e over 16 voltages", worst)
  -- and the sign: the unblocked current reverses at E_rev = 0
  local s = setup("nmda", {weight = 2, dt = 0.1, v = 10, params = {Mg = 0}})
  s.net:run(50)
  T.ok(s.post:get("q", 1) < 0, "nmda: outward current above E_rev")
end)

-- ---- delta ------------------------------------------------------------------------

-- The target's v jumps by w in the arrival step, before that step integrates.
section("delta", function()
  local w = 3.25
  local s = setup("delta", {weight = w, v = -70})
  T.near(s.post:get("v", 1), -70, 0, "delta: v unchanged before arrival")
  s.net:run(s.dt)
  local dv = s.post:get("v", 1) + 70
  report("delta: v jumped by %.12f (w = %g)", dv, w)
  T.near(dv, w, 1e-12, "delta: v += w")
  s.net:run(5)
  T.near(s.post:get("v", 1) + 70, w, 1e-12, "delta: once")
  -- into a leaky neuron: v = v_rest + w exp(-t/tau_m) after the arrival step
  local net = nk.network{dt = 0.1, precision = "double"}
  local pre = net:population("syntest_once", 1, {params = {t0 = 1}})
  local post = net:population("lif", 1, {params = {tau_m = 10, v_thresh = 100}})
  net:connect(pre, post, {synapse = "delta", weight = 5, delay = 1})
  net:connect(pre, post, {synapse = "delta", weight = 2, delay = 1})
  net:run(2)
  T.near(post:get("v", 1), -70, 1e-12, "delta into lif: nothing before arrival")
  net:run(1)
  local want = -70 + 7 * math.exp(-1 / 10)
  report("delta into lif: v = %.12f after 1 ms, expected %.12f", post:get("v", 1), want)
  T.near(post:get("v", 1), want, 1e-9, "delta into lif: two connections sum, then decay")
end)

-- ---- graded synapses ---------------------------------------------------------------

-- pre neurons held at v_pre: g = sum over connections of |weight * graded(v_pre)|
local function graded_g(model, vpres, weights, params)
  local net = nk.network{dt = 0.1, precision = "double"}
  local post = net:population("syntest_clamp", 1, {init = {v = -70}})
  for k, vp in ipairs(vpres) do
    local pre = net:population("syntest_clamp", 1, {init = {v = vp}})
    net:connect(pre, post, {synapse = model, receptor = "exc", weight = weights[k],
                            params = params})
  end
  net:run(1)
  local g = post:get("exc.g", 1)
  local q0 = post:get("q", 1)
  net:run(1)
  return g, (post:get("q", 1) - q0) / 1  -- mean current over 1 ms
end

section("power_gpot", function()
  local th, sl, pw, sat = -55, 0.001, 2, 0.4
  local prm = {threshold = th, slope = sl, power = pw, saturation = sat, reverse = 0}
  local f = function(v) return math.min(sat, sl * math.max(0, v - th) ^ pw) end
  local worst = 0
  for _, vp in ipairs{-80, -55, -50, -40, -36, -30, 0} do
    local g = graded_g("power_gpot", {vp}, {1.5}, prm)
    worst = math.max(worst, math.abs(g - 1.5 * f(vp)))
    T.near(g, 1.5 * f(vp), 1e-9, string.format("power_gpot: g at v_pre = %g", vp))
  end
  report("power_gpot: max |g - w min(sat, slope max(0, v_pre - th)^power)| = %.2e nS", worst)
  local g, i = graded_g("power_gpot", {-40, -45}, {1, 2}, prm)
  T.near(g, f(-40) + 2 * f(-45), 1e-9, "power_gpot: connections sum")
  T.near(i, g * (0 - (-70)), 1e-6, "power_gpot: current g*(reverse - v)")
  T.ok(f(-30) == sat, "power_gpot test covers saturation")
  local net = nk.network{dt = 0.1, precision = "double"}
  local post = net:population("syntest_clamp", 1)
  local pre = net:population("syntest_clamp", 1, {init = {v = -45}})
  net:connect(pre, post, {synapse = "power_gpot", weight = -2, params = prm})
  net:run(1)
  T.near(post:get("inh.g", 1), 2 * f(-45), 1e-9, "power_gpot: a negative weight gives |w| g")
end)

section("sigmoid", function()
  local gmax, vh, sl, erev = 2, -40, 5, -10
  local prm = {g_max = gmax, V_half = vh, slope = sl, E_rev = erev}
  local f = function(v) return gmax / (1 + math.exp((vh - v) / sl)) end
  local worst = 0
  for _, vp in ipairs{-90, -60, -45, -40, -35, -20, 10} do
    local g = graded_g("sigmoid", {vp}, {0.75}, prm)
    worst = math.max(worst, math.abs(g - 0.75 * f(vp)))
    T.near(g, 0.75 * f(vp), 1e-9, string.format("sigmoid: g at v_pre = %g", vp))
  end
  report("sigmoid: max |g - w g_max/(1 + exp((V_half - v_pre)/slope))| = %.2e nS", worst)
  local g, i = graded_g("sigmoid", {-40, -30}, {1, 0.5}, prm)
  T.near(g, f(-40) + 0.5 * f(-30), 1e-9, "sigmoid: connections sum")
  T.near(i, g * (erev - (-70)), 1e-6, "sigmoid: current g*(E_rev - v)")
  -- negative weights (the inh receptor) give the magnitude
  local net = nk.network{dt = 0.1, precision = "double"}
  local post = net:population("syntest_clamp", 1)
  local pre = net:population("syntest_clamp", 1, {init = {v = -40}})
  net:connect(pre, post, {synapse = "sigmoid", weight = -2, params = prm})
  net:run(1)
  T.near(post:get("inh.g", 1), 2 * f(-40), 1e-9, "sigmoid: a negative weight gives |w| g")
end)

-- ---- parameter ranges ----------------------------------------------------------------

local function connect_with(model, params)
  local net = nk.network{}
  local a = net:population("syntest_clamp", 1)
  return function()
    net:connect(a, a, {synapse = model, weight = 1, params = params})
  end
end
T.raises("tau_syn", connect_with("exp_curr", {tau_syn = 0}))
T.raises("tau_syn", connect_with("exp_cond", {tau_syn = -1}))
T.raises("tau_syn", connect_with("alpha_cond", {tau_syn = 0}))
T.raises("tau_decay", connect_with("ampa", {tau_decay = 0}))
T.raises("tau_rise", connect_with("nmda", {tau_rise = -2}))
T.raises("Mg", connect_with("nmda", {Mg = -1}))
T.raises("slope", connect_with("sigmoid", {slope = 0}))
T.raises("power", connect_with("power_gpot", {power = 0}))
T.ok(pcall(connect_with("nmda", {Mg = 0})), "nmda: Mg = 0 is allowed")

T.done("synapses")
