-- Connectivity rules from Lua: every rule, positions and ids, weight and
-- delay distributions and expressions of the distance, determinism, bad
-- input and the memory estimate. Expectations are derived from the rules'
-- definitions (recomputed here from pop:positions()) or from statistics
-- (tolerances of about five standard deviations), never copied from output.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")

-- ---- helpers -------------------------------------------------------------------------

local floor, sqrt, abs, exp, log = math.floor, math.sqrt, math.abs, math.exp, math.log

-- Synapses grouped by source: rows[pre] = {post, ...} in CSR order.
local function rows_of(S)
  local rows = {}
  for k = 1, #S.pre do
    local r = rows[S.pre[k]]
    if not r then r = {} rows[S.pre[k]] = r end
    r[#r + 1] = S.post[k]
  end
  return rows
end

-- Number of synapses per (pre, post) pair, keyed pre * 2^32 + post.
local function pair_counts(S)
  local c = {}
  for k = 1, #S.pre do
    local key = S.pre[k] * 4294967296 + S.post[k]
    c[key] = (c[key] or 0) + 1
  end
  return c
end
local function key(pre, post) return pre * 4294967296 + post end

-- True when the synapses are sorted by source, then target.
local function csr_sorted(S)
  for k = 2, #S.pre do
    local a, b = S.pre[k - 1], S.pre[k]
    if b < a or (b == a and S.post[k] < S.post[k - 1]) then return false, k end
  end
  return true
end

local function no_repeats(S)
  for _, n in pairs(pair_counts(S)) do if n > 1 then return false end end
  return true
end

local function no_self(S)
  for k = 1, #S.pre do if S.pre[k] == S.post[k] then return false end end
  return true
end

local function same_syn(A, B)
  if #A.pre ~= #B.pre then return false end
  for _, f in ipairs({"pre", "post", "weight", "delay"}) do
    local x, y = A[f], B[f]
    for k = 1, #x do if x[k] ~= y[k] then return false end end
  end
  return true
end

local function mean_sd(xs)
  local s, n = 0, #xs
  for k = 1, n do s = s + xs[k] end
  local m = s / n
  local v = 0
  for k = 1, n do v = v + (xs[k] - m) ^ 2 end
  return m, sqrt(v / (n - 1))
end

local function dist(p, q)
  local dx, dy, dz = q[1] - p[1], q[2] - p[2], q[3] - p[3]
  return sqrt(dx * dx + dy * dy + dz * dz), dx, dy, dz
end

-- The documented delay rounding: nearest step, halves up, never below one
-- step (with the engine's tolerance of 1e-9 steps for binary fractions).
local function rounded_delay(ms, dt)
  local q = ms / dt
  local s = floor(q + 0.5 + 1e-9 * math.max(q, 1))
  if s < 1 then s = 1 end
  return s * dt
end

-- Standard normal density and distribution (erfc from Numerical Recipes,
-- relative error below 1.2e-7).
local function phi(x) return exp(-0.5 * x * x) / sqrt(2 * math.pi) end
local function Phi(x)
  local z = abs(x) / sqrt(2)
  local t = 1 / (1 + 0.5 * z)
  local r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
            t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
            t * (-0.82215223 + t * 0.17087277)))))))))
  return x >= 0 and 1 - 0.5 * r or 0.5 * r
end

-- ---- all_to_all, one_to_one, bernoulli, fixed_indegree still right --------------------

do
  local net = nk.network{seed = 3}
  local a = net:population("lif", 30, {name = "a"})
  local b = net:population("lif", 40, {name = "b"})
  local S = net:connect(a, b, {rule = "all_to_all", weight = 1}):synapses()
  T.eq(#S.pre, 30 * 40, "all_to_all: every pair")
  local c = pair_counts(S)
  local every = true
  for i = 1, 30 do for j = 1, 40 do if c[key(i, j)] ~= 1 then every = false end end end
  T.ok(every, "all_to_all: each pair exactly once")
  T.ok(csr_sorted(S), "all_to_all: sorted by source then target")

  S = net:connect(a, a, {rule = "all_to_all", allow_autapses = false}):synapses()
  T.eq(#S.pre, 30 * 29, "all_to_all without autapses")
  T.ok(no_self(S) and no_repeats(S), "all_to_all without autapses: no self pair, none twice")

  S = net:connect(a:slice(5, 14), b:slice(21, 30), {rule = "one_to_one"}):synapses()
  local ok = #S.pre == 10
  for k = 1, #S.pre do ok = ok and S.post[k] - S.pre[k] == 16 and S.pre[k] == k + 4 end
  T.ok(ok, "one_to_one between slices pairs neuron 5+k with 21+k (indices in the populations)")

  local big = net:population("lif", 300, {name = "big"})
  S = net:connect(big, big, {rule = "bernoulli", p = 0.2, allow_autapses = false}):synapses()
  local n, np = #S.pre, 300 * 299
  T.ok(abs(n - 0.2 * np) < 5 * sqrt(np * 0.2 * 0.8),
       string.format("bernoulli: %d synapses near %g", n, 0.2 * np))
  T.ok(no_self(S) and no_repeats(S) and csr_sorted(S),
       "bernoulli: no autapse, no pair twice, sorted")
  -- each source's out-degree is binomial(299, 0.2): check its spread
  local deg = {}
  for i = 1, 300 do deg[i] = 0 end
  for k = 1, n do deg[S.pre[k]] = deg[S.pre[k]] + 1 end
  local _, sd = mean_sd(deg)
  T.near(sd, sqrt(299 * 0.2 * 0.8), 0.25 * sqrt(299 * 0.2 * 0.8),
         "bernoulli: out-degree spread is binomial")

  -- bernoulli's rows are drawn by runs of rows on threads (about 65,536
  -- synapses a run at least), each into a buffer of its own put together
  -- in row order: 1, 2 and 5 threads give the same synapses, and the draws
  -- are those of the rule as it was on one thread with glibc's logarithm
  -- (the hash below is what that build gave, 2026-11-23)
  local function bern(threads, p)
    local n2 = nk.network{seed = 9, threads = threads}
    local x = n2:population("lif", 1200)
    local y = n2:population("lif", 900)
    local S1 = n2:connect(x, x, {rule = "bernoulli", p = p, allow_autapses = false}):synapses()
    local S2 = n2:connect(x, y, {rule = "bernoulli", p = p / 3}):synapses()
    local h = 0
    for _, S in ipairs{S1, S2} do
      for i = 1, #S.pre do h = (h * 31 + S.pre[i] * 7 + S.post[i] * 13) % 2^40 end
    end
    return h, #S1.pre + #S2.pre, no_self(S1) and no_repeats(S1) and csr_sorted(S1) and
                                 no_repeats(S2) and csr_sorted(S2)
  end
  local h1, n1, ok1 = bern(1, 0.3)
  local h2, n2 = bern(2, 0.3)
  local h5, n5, ok5 = bern(5, 0.3)
  T.ok(n1 > 5 * 65536 and ok1 and ok5, "bernoulli on threads: " .. n1 .. " synapses, no autapse, "
       .. "no pair twice, sorted")
  T.ok(h1 == h2 and h1 == h5 and n1 == n2 and n1 == n5,
       "bernoulli: the same synapses on 1, 2 and 5 threads")
  T.eq(string.format("%.0f", h1), "145698535691", "bernoulli: the draws of the rule before threads")

  -- fixed_indegree's targets are counted and filled in runs on threads,
  -- each with counts (and marks, without multapses) of its own: 1, 2 and 5
  -- threads give the same synapses, those of the rule as it was on one
  -- thread (the hash that build gave, 2026-11-23)
  local function indeg(threads)
    local n2 = nk.network{seed = 4, threads = threads}
    local x = n2:population("lif", 1600)
    local y = n2:population("lif", 700)
    local S1 = n2:connect(x, x, {rule = "fixed_indegree", indegree = 800, allow_autapses = false,
                                 allow_multapses = false}):synapses()
    local S2 = n2:connect(x, y, {rule = "fixed_indegree", indegree = 600}):synapses()
    local h = 0
    for _, S in ipairs{S1, S2} do
      for i = 1, #S.pre do h = (h * 31 + S.pre[i] * 7 + S.post[i] * 13) % 2^40 end
    end
    return h, #S1.pre + #S2.pre, no_self(S1) and no_repeats(S1) and csr_sorted(S1) and
                                 csr_sorted(S2)
  end
  local g1, m1, okg1 = indeg(1)
  local g2, m2 = indeg(2)
  local g5, m5, okg5 = indeg(5)
  T.ok(m1 == 1700000 and okg1 and okg5, "fixed_indegree on threads: " .. m1 .. " synapses, " ..
       "no autapse and no pair twice without multapses, sorted")
  T.ok(g1 == g2 and g1 == g5 and m1 == m2 and m1 == m5,
       "fixed_indegree: the same synapses on 1, 2 and 5 threads")
  T.eq(string.format("%.0f", g1), "302683179323", "fixed_indegree: the draws of the rule before threads")

  -- distance evaluates p for every pair, sources in runs on threads: 1, 2
  -- and 5 threads give the same synapses (those of the one-thread rule
  -- before: its build's hash) and name the same first pair whose p is NaN
  local function dist(threads)
    local n2 = nk.network{seed = 7, threads = threads}
    local x = n2:population("lif", 1500, {positions = {kind = "box", size = {400, 400, 100}}})
    local y = n2:population("lif", 1200, {positions = {kind = "box", size = {400, 400, 100}}})
    local S1 = n2:connect(x, y, {rule = "distance", p = "0.4*exp(-d/80)", delay = "0.1 + d/300"})
      :synapses()
    local S2 = n2:connect(x, x, {rule = "distance", p = "d < 60 ? 1 : 0.05",
                                 allow_autapses = false}):synapses()
    local h = 0
    for _, S in ipairs{S1, S2} do
      for i = 1, #S.pre do h = (h * 31 + S.pre[i] * 7 + S.post[i] * 13 + S.delay[i] * 3) % 2^40 end
    end
    local _, err = pcall(n2.connect, n2, x, y, {rule = "distance", p = "d > 300 ? 0/0 : 0.01"})
    return h, #S1.pre + #S2.pre, err, no_self(S2) and csr_sorted(S1) and csr_sorted(S2)
  end
  local d1, k1, e1, okd = dist(1)
  local d2, k2, e2 = dist(2)
  local d5, k5, e5 = dist(5)
  T.ok(okd and k1 == 289903 and k2 == k1 and k5 == k1 and d1 == d2 and d1 == d5,
       "distance: the same " .. k1 .. " synapses on 1, 2 and 5 threads, sorted, no autapse")
  T.eq(string.format("%.0f", d1), "355311060744", "distance: the draws of the rule before threads")
  T.ok(e1 and e1:find("is NaN at d = 334.476 um", 1, true) and e1 == e2 and e1 == e5,
       "distance: the first pair whose p is NaN is named on 1, 2 and 5 threads: " .. tostring(e5))

  -- shape finds each source's targets in runs of sources on threads, each
  -- run with candidate lists of its own: 1, 2 and 5 threads give the same
  -- synapses, those of the rule as it was on one thread (the hash that
  -- build gave, 2026-11-24)
  local function shp(threads)
    local n2 = nk.network{seed = 13, threads = threads}
    local x = n2:population("lif", 2000, {positions = {kind = "box", size = {400, 400, 100}}})
    local y = n2:population("lif", 1500, {positions = {kind = "box", size = {400, 400, 100}}})
    local S1 = n2:connect(x, y, {rule = "shape", shape = {kind = "sphere", radius = 70}, p = 0.6,
                                 delay = nk.uniform(0.1, 3)}):synapses()
    local S2 = n2:connect(x, x, {rule = "shape", shape = {kind = "cone", length = 120, angle = 30,
                                 axis = {0, 0, 1}}, allow_autapses = false}):synapses()
    local h = 0
    for _, S in ipairs{S1, S2} do
      for i = 1, #S.pre do h = (h * 31 + S.pre[i] * 7 + S.post[i] * 13 + S.delay[i] * 3) % 2^40 end
    end
    return h, #S1.pre, #S2.pre, csr_sorted(S1) and no_self(S2) and csr_sorted(S2)
  end
  local s1, a1, b1, oks = shp(1)
  local s2, a2, b2 = shp(2)
  local s5, a5, b5 = shp(5)
  T.ok(oks and a1 == 103587 and b1 == 20209 and a2 == a1 and a5 == a1 and b2 == b1 and b5 == b1
       and s1 == s2 and s1 == s5, "shape: the same " .. a1 .. " and " .. b1 ..
       " synapses on 1, 2 and 5 threads, sorted, no autapse")
  T.eq(string.format("%.0f", s1), "861071479700", "shape: the draws of the rule before threads")

  S = net:connect(big, b, {rule = "fixed_indegree", indegree = 25, allow_multapses = false})
    :synapses()
  local indeg, ok2 = {}, true
  for k = 1, #S.post do indeg[S.post[k]] = (indeg[S.post[k]] or 0) + 1 end
  for j = 1, 40 do ok2 = ok2 and indeg[j] == 25 end
  T.ok(ok2 and #S.pre == 25 * 40, "fixed_indegree: every target exactly 25 sources")
  T.ok(no_repeats(S) and csr_sorted(S), "fixed_indegree without multapses: distinct, sorted")
  S = net:connect(a, a, {rule = "fixed_indegree", indegree = 20, allow_autapses = false})
    :synapses()
  T.ok(no_self(S) and #S.pre == 20 * 30, "fixed_indegree without autapses: no self pair")
  -- with multapses and a small source, repeats are all but certain
  -- (P(no repeat among 20 draws of 30) ~ 1e-4 per target, 30 targets)
  T.ok(not no_repeats(S), "fixed_indegree with multapses repeats some pairs")
end

-- ---- fixed_outdegree -----------------------------------------------------------------

do
  local net = nk.network{seed = 21}
  local a = net:population("lif", 100, {name = "a"})
  local b = net:population("lif", 80, {name = "b"})
  local S = net:connect(a, b, {rule = "fixed_outdegree", outdegree = 7}):synapses()
  local rows = rows_of(S)
  local ok = #S.pre == 700
  for i = 1, 100 do ok = ok and rows[i] and #rows[i] == 7 end
  T.ok(ok, "fixed_outdegree: each source exactly 7 targets")
  T.ok(csr_sorted(S), "fixed_outdegree: sorted by source then target")
  -- 7 draws of 80 repeat with probability ~0.24 per source: over 100
  -- sources some repeat unless multapses are (wrongly) excluded
  T.ok(not no_repeats(S), "fixed_outdegree with multapses (the default) repeats some pairs")
  local inrange = true
  for k = 1, #S.post do inrange = inrange and S.post[k] >= 1 and S.post[k] <= 80 end
  T.ok(inrange, "fixed_outdegree: targets within the target population")

  S = net:connect(a, b, {rule = "fixed_outdegree", outdegree = 30, allow_multapses = false})
    :synapses()
  rows = rows_of(S)
  ok = #S.pre == 3000
  for i = 1, 100 do ok = ok and #rows[i] == 30 end
  T.ok(ok and no_repeats(S), "fixed_outdegree without multapses: 30 distinct targets each")

  -- autapses
  S = net:connect(a, a, {rule = "fixed_outdegree", outdegree = 99, allow_autapses = false,
                         allow_multapses = false}):synapses()
  T.ok(#S.pre == 9900 and no_self(S) and no_repeats(S),
       "fixed_outdegree 99 of 100 without autapses: every other neuron once")
  S = net:connect(a, a, {rule = "fixed_outdegree", outdegree = 40, allow_autapses = false})
    :synapses()
  T.ok(#S.pre == 4000 and no_self(S), "fixed_outdegree with multapses, without autapses")
  S = net:connect(a, a, {rule = "fixed_outdegree", outdegree = 100, allow_multapses = false})
    :synapses()
  T.ok(#S.pre == 10000 and not no_self(S), "autapses allowed by default: a source may pick itself")

  -- slices: sources outside the target range keep all candidates
  S = net:connect(a:slice(1, 50), a:slice(51, 100), {rule = "fixed_outdegree", outdegree = 50,
                  allow_autapses = false, allow_multapses = false}):synapses()
  ok = #S.pre == 2500
  for k = 1, #S.pre do ok = ok and S.pre[k] <= 50 and S.post[k] > 50 end
  T.ok(ok and no_repeats(S), "fixed_outdegree between disjoint slices of one population")
  T.raises("50 distinct targets asked of source 1, which has 49 candidates", net.connect, net,
           a, a:slice(1, 50), {rule = "fixed_outdegree", outdegree = 50, allow_autapses = false,
                               allow_multapses = false})

  -- the targets are uniform: chi-square of the in-degrees
  local big = net:population("lif", 1000, {name = "big"})
  local c = net:population("lif", 50, {name = "c"})
  S = net:connect(big, c, {rule = "fixed_outdegree", outdegree = 10, allow_multapses = false})
    :synapses()
  local indeg = {}
  for j = 1, 50 do indeg[j] = 0 end
  for k = 1, #S.post do indeg[S.post[k]] = indeg[S.post[k]] + 1 end
  local e, chi2 = 1000 * 10 / 50, 0
  for j = 1, 50 do chi2 = chi2 + (indeg[j] - e) ^ 2 / e end
  -- with 10 distinct of 50 per source the variance is e*(1 - 10/50)
  chi2 = chi2 / (1 - 10 / 50)
  T.ok(chi2 > 49 - 5 * sqrt(98) and chi2 < 49 + 5 * sqrt(98),
       string.format("fixed_outdegree: in-degrees uniform (chi2 %.1f on 49 df)", chi2))
end

-- Long rows are sorted by a radix sort of the targets' bytes (connect.c,
-- sort_ids): two bytes for 300 targets, three for 70,000; rows of 200 of
-- them, with and without repeats, come out whole, sorted and in range.
do
  local net = nk.network{seed = 23}
  local a = net:population("lif", 12, {name = "a"})
  for _, n in ipairs({300, 70000}) do
    local b = net:population("lif", n, {name = "b" .. n})
    for _, multi in ipairs({false, true}) do
      local S = net:connect(a, b, {rule = "fixed_outdegree", outdegree = 200,
                                   allow_multapses = multi}):synapses()
      local rows = rows_of(S)
      local ok = #S.pre == 12 * 200
      for i = 1, 12 do ok = ok and rows[i] and #rows[i] == 200 end
      local inrange, lo, hi = true, math.huge, -math.huge
      for k = 1, #S.post do
        inrange = inrange and S.post[k] >= 1 and S.post[k] <= n
        lo, hi = math.min(lo, S.post[k]), math.max(hi, S.post[k])
      end
      local what = string.format("fixed_outdegree 200 of %d%s", n, multi and ", multapses" or "")
      T.ok(ok and csr_sorted(S) and inrange, what .. ": rows whole, sorted, in range")
      T.ok(multi or no_repeats(S), what .. ": distinct targets")
      -- 2,400 draws span the range: not collapsed onto a few values
      T.ok(lo <= n / 20 and hi >= n - n / 20, what .. ": targets span the population")
    end
  end
end

-- ---- fixed_total ------------------------------------------------------------------------

do
  local net = nk.network{seed = 5}
  local a = net:population("lif", 200, {name = "a"})
  local b = net:population("lif", 150, {name = "b"})
  local N = 3000
  local S = net:connect(a, b, {rule = "fixed_total", total = N}):synapses()
  T.eq(#S.pre, N, "fixed_total: exactly N synapses")
  T.ok(csr_sorted(S), "fixed_total: sorted")
  -- counts per source are multinomial(N, 1/200 each): mean N/200 and
  -- variance N/200*(1 - 1/200); chi-square over the 200 sources
  local out, inn = {}, {}
  for i = 1, 200 do out[i] = 0 end
  for j = 1, 150 do inn[j] = 0 end
  for k = 1, #S.pre do
    out[S.pre[k]] = out[S.pre[k]] + 1
    inn[S.post[k]] = inn[S.post[k]] + 1
  end
  local m, sd = mean_sd(out)
  T.near(m, N / 200, 1e-9, "fixed_total: mean count per source N/npre")
  local pv = N / 200 * (1 - 1 / 200)
  T.near(sd, sqrt(pv), 0.25 * sqrt(pv), "fixed_total: spread of counts per source (multinomial)")
  local chi2 = 0
  for i = 1, 200 do chi2 = chi2 + (out[i] - N / 200) ^ 2 / pv end
  T.ok(chi2 > 199 - 5 * sqrt(398) and chi2 < 199 + 5 * sqrt(398),
       string.format("fixed_total: counts per source chi2 %.1f on 199 df", chi2))
  -- no source is favoured by its place in the chain: first vs last halves
  local h1, h2 = 0, 0
  for i = 1, 100 do h1 = h1 + out[i] end
  for i = 101, 200 do h2 = h2 + out[i] end
  T.ok(abs(h1 - h2) < 5 * sqrt(N), "fixed_total: first and second half of the sources alike")
  chi2 = 0
  local e = N / 150
  for j = 1, 150 do chi2 = chi2 + (inn[j] - e) ^ 2 / e end
  T.ok(chi2 > 149 - 5 * sqrt(298) and chi2 < 149 + 5 * sqrt(298),
       string.format("fixed_total: targets uniform (chi2 %.1f on 149 df)", chi2))

  -- without multapses: no pair twice; without autapses: no self pair
  S = net:connect(a, a, {rule = "fixed_total", total = 20000, allow_multapses = false,
                         allow_autapses = false}):synapses()
  T.ok(#S.pre == 20000 and no_repeats(S) and no_self(S),
       "fixed_total without multapses/autapses: 20000 distinct pairs, none on itself")
  -- with multapses, 20000 draws of 40000 pairs repeat some
  S = net:connect(a, a, {rule = "fixed_total", total = 20000}):synapses()
  T.ok(#S.pre == 20000 and not no_repeats(S), "fixed_total with multapses repeats some pairs")
  T.eq(#net:connect(a, b, {rule = "fixed_total", total = 0}), 0, "fixed_total 0")

  -- every distinct pair, without multapses: possible, so exactly all of them
  local c = net:population("lif", 20, {name = "c"})
  local ok, P = pcall(net.connect, net, c, c, {rule = "fixed_total", total = 20 * 19,
                                                allow_multapses = false, allow_autapses = false})
  T.ok(ok, "fixed_total asking for every distinct pair succeeds: " .. tostring(P))
  if ok then
    S = P:synapses()
    T.ok(#S.pre == 380 and no_repeats(S) and no_self(S), "fixed_total: all 380 pairs once")
  end
  ok, P = pcall(net.connect, net, c, b, {rule = "fixed_total", total = 20 * 150 - 10,
                                          allow_multapses = false})
  T.ok(ok, "fixed_total of all but 10 pairs without multapses succeeds: " .. tostring(P))
  if ok then T.ok(#P == 2990 and no_repeats(P:synapses()), "fixed_total: 2990 distinct pairs") end
  T.raises("fixed_total: 3001 synapses are more than the 3000 pairs", net.connect, net, c, b,
           {rule = "fixed_total", total = 3001, allow_multapses = false})
  T.raises("fixed_total: 400 synapses are more than the 380 distinct pairs", net.connect,
           net, c, c, {rule = "fixed_total", total = 400, allow_multapses = false,
                       allow_autapses = false})
  T.eq(#net:connect(c, b, {rule = "fixed_total", total = 3001}), 3001,
       "fixed_total beyond the pairs is fine with multapses")
end

-- ---- positions ---------------------------------------------------------------------------

do
  local net = nk.network{seed = 8}
  -- grid: x fastest, centred on center
  local g = net:population("lif", 24, {name = "g", positions = {kind = "grid",
    spacing = {10, 20, 30}, shape = {4, 3, 2}, center = {100, 0, -50}}})
  local P = g:positions()
  local ok = #P == 24
  for i = 1, 24 do
    local ix, iy, iz = (i - 1) % 4, floor((i - 1) / 4) % 3, floor((i - 1) / 12)
    local want = {100 + (ix - 1.5) * 10, 0 + (iy - 1) * 20, -50 + (iz - 0.5) * 30}
    for k = 1, 3 do ok = ok and abs(P[i][k] - want[k]) < 1e-9 end
  end
  T.ok(ok, "grid: 4x3x2 with spacing 10, 20, 30 about the centre, x fastest")
  local s2 = g:slice(5, 8):positions()
  T.ok(#s2 == 4 and s2[1][1] == P[5][1] and s2[4][2] == P[8][2], "a slice's positions")

  -- grid without a shape: every neuron placed, nearest neighbours one spacing apart
  local g2 = net:population("lif", 30, {name = "g2", positions = {kind = "grid",
    spacing = {25, 25, 25}}})
  P = g2:positions()
  local distinct, nn_ok = true, true
  for i = 1, 30 do
    local best = math.huge
    for j = 1, 30 do
      if i ~= j then
        local d = dist(P[i], P[j])
        if d < 1e-9 then distinct = false end
        if d < best then best = d end
      end
    end
    nn_ok = nn_ok and abs(best - 25) < 1e-9
  end
  T.ok(#P == 30 and distinct and nn_ok, "grid without a shape: distinct points, spacing 25")

  -- box: inside, roughly uniform
  local n = 4000
  local bx = net:population("lif", n, {name = "bx", positions = {kind = "box",
    size = {100, 50, 20}, center = {10, 20, 30}}})
  P = bx:positions()
  local inside, cols = true, {{}, {}, {}}
  local size, ctr = {100, 50, 20}, {10, 20, 30}
  for i = 1, n do
    for k = 1, 3 do
      inside = inside and abs(P[i][k] - ctr[k]) <= size[k] / 2
      cols[k][i] = P[i][k]
    end
  end
  T.ok(inside, "box: every neuron inside")
  for k = 1, 3 do
    local m, sd = mean_sd(cols[k])
    local s = size[k] / sqrt(12)
    T.near(m, ctr[k], 5 * s / sqrt(n), "box: mean along axis " .. k)
    T.near(sd, s, 0.06 * s, "box: spread along axis " .. k .. " (uniform)")
  end

  -- sphere: inside the ball, fraction within R/2 about 1/8, centred
  local R = 100
  local sp = net:population("lif", n, {name = "sp", positions = {kind = "sphere", radius = R,
    center = {0, 0, 500}}})
  P = sp:positions()
  local inner, out = 0, 0
  local sx = {0, 0, 0}
  for i = 1, n do
    local d = dist({0, 0, 500}, P[i])
    if d > R * (1 + 1e-12) then out = out + 1 end
    if d < R / 2 then inner = inner + 1 end
    for k = 1, 3 do sx[k] = sx[k] + P[i][k] end
  end
  T.eq(out, 0, "sphere: every neuron inside the radius")
  T.near(inner / n, 1 / 8, 5 * sqrt(n / 8 * 7 / 8) / n, "sphere: fraction within R/2 is 1/8")
  -- the mean of a coordinate has sd R/sqrt(5n)
  T.near(sx[1] / n, 0, 5 * R / sqrt(5 * n), "sphere: centred in x")
  T.near(sx[3] / n, 500, 5 * R / sqrt(5 * n), "sphere: centred in z")

  -- cylinder: in the disc and the height, fraction within R/2 about 1/4
  local cy = net:population("lif", n, {name = "cy", positions = {kind = "cylinder", radius = 50,
    height = 200}})
  P = cy:positions()
  local okc, inner2, zs = true, 0, {}
  for i = 1, n do
    local r = sqrt(P[i][1] ^ 2 + P[i][2] ^ 2)
    okc = okc and r <= 50 * (1 + 1e-12) and abs(P[i][3]) <= 100
    if r < 25 then inner2 = inner2 + 1 end
    zs[i] = P[i][3]
  end
  T.ok(okc, "cylinder: every neuron inside")
  T.near(inner2 / n, 1 / 4, 5 * sqrt(n / 4 * 3 / 4) / n, "cylinder: fraction within R/2 is 1/4")
  local _, zsd = mean_sd(zs)
  T.near(zsd, 200 / sqrt(12), 0.06 * 200 / sqrt(12), "cylinder: uniform along the height")

  -- explicit positions, and pop:place later
  local ex = net:population("lif", 3, {name = "ex", positions = {{1, 2, 3}, {-4.5, 0, 1e3},
    {0, 0, 0}}})
  P = ex:positions()
  T.ok(P[1][1] == 1 and P[1][3] == 3 and P[2][1] == -4.5 and P[2][3] == 1e3 and P[3][2] == 0,
       "explicit positions come back as given")
  local late = net:population("lif", 3, {name = "late"})
  T.eq(late:positions(), nil, "no positions: pop:positions() is nil")
  T.eq(late:place({{7, 8, 9}, {1, 1, 1}, {2, 2, 2}}), late, "pop:place returns the population")
  T.eq(late:positions()[1][2], 8, "pop:place sets them later")
  late:place({kind = "grid", spacing = {5, 5, 5}, shape = {3, 1, 1}})
  P = late:positions()
  T.ok(P[1][1] == -5 and P[2][1] == 0 and P[3][1] == 5, "pop:place replaces them")

  -- the same layout through place() or at creation: same positions
  local n1 = nk.network{seed = 99}
  local p1 = n1:population("lif", 50, {positions = {kind = "sphere", radius = 30}})
  local n2 = nk.network{seed = 99}
  local p2 = n2:population("lif", 50)
  p2:place({kind = "sphere", radius = 30})
  n2:population("lif", 10, {positions = {kind = "box", size = {1, 1, 1}}})
  local A, B = p1:positions(), p2:positions()
  local same = true
  for i = 1, 50 do for k = 1, 3 do same = same and A[i][k] == B[i][k] end end
  T.ok(same, "random positions: same seed and population, same positions")
  local n3 = nk.network{seed = 100}
  local C = n3:population("lif", 50, {positions = {kind = "sphere", radius = 30}}):positions()
  T.ok(C[1][1] ~= A[1][1] or C[2][1] ~= A[2][1], "random positions: another seed, others")

  -- ids
  local big = 720575940621675174
  local ids = {big, 5, -3, big + 1, 42}
  local q = net:population("lif", 5, {name = "q", ids = ids})
  local got = q:ids()
  T.same_list(got, ids, "pop:ids() gives the ids back")
  local okid = true
  for i, id in ipairs(ids) do okid = okid and q:index_of(id) == i end
  T.ok(okid, "pop:index_of maps every id to its neuron (18-digit ids exact)")
  T.eq(q:index_of(6), nil, "pop:index_of of an unknown id is nil")
  T.eq(q:index_of(big + 2), nil, "pop:index_of of a neighbouring 18-digit id is nil")
  T.eq(q:slice(2, 4):index_of(-3), 2, "index_of within a slice is 1-based in the slice")
  T.eq(q:slice(2, 4):index_of(42), nil, "index_of of an id outside the slice is nil")
  T.same_list(q:slice(4, 5):ids(), {big + 1, 42}, "a slice's ids")
  T.raises("population 'late' has no ids", late.index_of, late, 1)
  T.eq(late:ids(), nil, "no ids: pop:ids() is nil")
end

-- ---- distance ------------------------------------------------------------------------------

do
  local net = nk.network{seed = 31}
  local A = net:population("lif", 400, {name = "A", positions = {kind = "box",
    size = {400, 400, 100}}})
  local B = net:population("lif", 500, {name = "B", positions = {kind = "box",
    size = {400, 400, 100}, center = {50, 0, 0}}})
  local PA, PB = A:positions(), B:positions()
  local S = net:connect(A, B, {rule = "distance", p = "0.3*exp(-d/100)"}):synapses()
  T.ok(no_repeats(S) and csr_sorted(S), "distance: no pair twice, sorted")
  local conn = pair_counts(S)
  local width, nb = 50, 14
  local pairs_n, obs, expct, var = {}, {}, {}, {}
  for b = 1, nb do pairs_n[b], obs[b], expct[b], var[b] = 0, 0, 0, 0 end
  for i = 1, 400 do
    for j = 1, 500 do
      local d = dist(PA[i], PB[j])
      local b = math.min(floor(d / width) + 1, nb)
      local p = 0.3 * exp(-d / 100)
      pairs_n[b] = pairs_n[b] + 1
      expct[b] = expct[b] + p
      var[b] = var[b] + p * (1 - p)
      if conn[key(i, j)] then obs[b] = obs[b] + 1 end
    end
  end
  local all_ok, worst = true, ""
  for b = 1, nb do
    if pairs_n[b] > 0 and abs(obs[b] - expct[b]) > 5 * sqrt(var[b]) + 1 then
      all_ok = false
      worst = worst .. string.format(" [%d-%d um: %d vs %.1f]", (b - 1) * width, b * width,
                                     obs[b], expct[b])
    end
  end
  T.ok(all_ok, "distance: connected fraction per distance bin follows 0.3*exp(-d/100)" .. worst)
  T.ok(obs[1] / pairs_n[1] > 2 * obs[6] / pairs_n[6], "distance: near pairs connect more")

  -- a hard cut: exactly the pairs closer than 50 um (ties at 50 exist on the grid)
  local G = net:population("lif", 256, {name = "G", positions = {kind = "grid",
    spacing = {25, 25, 25}, shape = {8, 8, 4}}})
  local PG = G:positions()
  local function cut_check(autapses, msg)
    local S2 = net:connect(G, G, {rule = "distance", p = "d < 50", allow_autapses = autapses})
      :synapses()
    local c, want, extra, missing = pair_counts(S2), 0, 0, 0
    for i = 1, 256 do
      for j = 1, 256 do
        local inside = dist(PG[i], PG[j]) < 50 and (autapses or i ~= j)
        if inside then want = want + 1 end
        if inside and not c[key(i, j)] then missing = missing + 1 end
        if not inside and c[key(i, j)] then extra = extra + 1 end
      end
    end
    T.ok(want > 256 and missing == 0 and extra == 0 and #S2.pre == want,
         string.format("%s: %d synapses, %d pairs within 50 um, %d missing, %d extra", msg,
                       #S2.pre, want, missing, extra))
  end
  cut_check(true, "distance d < 50 (autapses allowed)")
  cut_check(false, "distance d < 50 without autapses")

  -- dx, dy, dz are target minus source
  S = net:connect(G, G, {rule = "distance", p = "dx > 0 && abs(dy) < 1 && abs(dz) < 1"})
    :synapses()
  local ok, want = true, 0
  local c = pair_counts(S)
  for i = 1, 256 do
    for j = 1, 256 do
      local _, dx, dy, dz = dist(PG[i], PG[j])
      local inside = dx > 0 and abs(dy) < 1 and abs(dz) < 1
      if inside then want = want + 1 end
      if (c[key(i, j)] ~= nil) ~= inside then ok = false end
    end
  end
  T.ok(ok and want == 8 * 4 * 28, "distance: dx, dy, dz are target minus source")
  T.eq(#net:connect(G, G, {rule = "distance", p = "0"}), 0, "distance p = 0: none")
  T.eq(#net:connect(G, G, {rule = "distance", p = "2 + d"}), 256 * 256, "distance p >= 1: all")
  -- between slices: positions of the neurons themselves
  S = net:connect(G:slice(1, 8), G:slice(9, 64), {rule = "distance", p = "d < 26"}):synapses()
  local ok2, want2 = true, 0
  c = pair_counts(S)
  for i = 1, 8 do
    for j = 9, 64 do
      local inside = dist(PG[i], PG[j]) < 26
      if inside then want2 = want2 + 1 end
      if (c[key(i, j)] ~= nil) ~= inside then ok2 = false end
    end
  end
  T.ok(ok2 and want2 == 8 and #S.pre == 8, "distance between slices uses the slices' positions")
end

-- ---- shape ---------------------------------------------------------------------------------

do
  local net = nk.network{seed = 41}
  local post = net:population("lif", 3000, {name = "post", positions = {kind = "box",
    size = {600, 600, 600}}})
  local pre = net:population("lif", 40, {name = "pre", positions = {kind = "box",
    size = {300, 300, 300}, center = {20, -10, 0}}})
  local PP, PQ = pre:positions(), post:positions()

  local function inside(sh, v)
    local kind = sh.kind or sh[1]
    if kind == "sphere" then
      return v[1] * v[1] + v[2] * v[2] + v[3] * v[3] <= sh.radius * sh.radius
    elseif kind == "box" then
      return abs(v[1]) <= sh.size[1] / 2 and abs(v[2]) <= sh.size[2] / 2 and
             abs(v[3]) <= sh.size[3] / 2
    end
    local ax = sh.axis or {0, 0, 1}
    local n = sqrt(ax[1] ^ 2 + ax[2] ^ 2 + ax[3] ^ 2)
    local u = {ax[1] / n, ax[2] / n, ax[3] / n}
    local t = v[1] * u[1] + v[2] * u[2] + v[3] * u[3]
    if t < 0 or t > sh.length then return false end
    local q = {v[1] - t * u[1], v[2] - t * u[2], v[3] - t * u[3]}
    local r = kind == "cylinder" and sh.radius or t * math.tan(sh.angle * math.pi / 180)
    return q[1] * q[1] + q[2] * q[2] + q[3] * q[3] <= r * r
  end

  -- the expected (pre, post) pairs of a shape, computed here
  local function expected(sh, P1, P2, self_ok)
    local off = sh.offset or {0, 0, 0}
    local want, n = {}, 0
    for i = 1, #P1 do
      local c = {P1[i][1] + off[1], P1[i][2] + off[2], P1[i][3] + off[3]}
      for j = 1, #P2 do
        if (self_ok or i ~= j) and
           inside(sh, {P2[j][1] - c[1], P2[j][2] - c[2], P2[j][3] - c[3]}) then
          want[key(i, j)] = true
          n = n + 1
        end
      end
    end
    return want, n
  end

  local shapes = {
    {kind = "sphere", radius = 80},
    {kind = "sphere", radius = 60, offset = {50, -20, 10}},
    {"sphere", radius = 70},
    {kind = "box", size = {100, 60, 140}},
    {kind = "box", size = {80, 80, 40}, offset = {0, 0, 60}},
    {kind = "cylinder", radius = 40, length = 150},
    {kind = "cylinder", radius = 30, length = 120, axis = {1, 1, 0}, offset = {-20, 0, 0}},
    {kind = "cone", angle = 30, length = 150},
    {kind = "cone", angle = 45, length = 100, axis = {0, -1, 0.5}, offset = {0, 30, 0}},
    {kind = "cylinder", radius = 50, length = 90, axis = {-1, 0, 0}},
  }
  for _, sh in ipairs(shapes) do
    local name = (sh.kind or sh[1]) .. (sh.offset and " with an offset" or "") ..
                 (sh.axis and " along (" .. table.concat(sh.axis, ",") .. ")" or "")
    local want, n = expected(sh, PP, PQ, true)
    local ok, pj = pcall(net.connect, net, pre, post, {rule = "shape", shape = sh, p = 1})
    T.ok(ok, "shape " .. name .. ": connects: " .. tostring(pj))
    local S = ok and pj:synapses() or {pre = {}, post = {}}
    local c, extra = pair_counts(S), 0
    for k, m in pairs(c) do if not want[k] or m > 1 then extra = extra + 1 end end
    T.ok(n >= 40 and #S.pre == n and extra == 0 and csr_sorted(S),
         string.format("shape %s, p = 1: exactly the %d neurons inside (got %d, %d wrong)",
                       name, n, #S.pre, extra))
  end

  -- p = 0.5: a subset, about half
  local sh = {kind = "sphere", radius = 120}
  local want, n = expected(sh, PP, PQ, true)
  local S = net:connect(pre, post, {rule = "shape", shape = sh, p = 0.5}):synapses()
  local subset = true
  for k = 1, #S.pre do subset = subset and want[key(S.pre[k], S.post[k])] end
  T.ok(subset and no_repeats(S), "shape p = 0.5: only neurons inside, each at most once")
  T.ok(abs(#S.pre - n / 2) < 5 * sqrt(n / 4),
       string.format("shape p = 0.5: %d of %d inside, about half", #S.pre, n))
  T.eq(#net:connect(pre, post, {rule = "shape", shape = sh, p = 0}), 0, "shape p = 0: none")
  T.eq(#net:connect(pre, post, {rule = "shape", shape = sh}), n, "shape: p defaults to 1")

  -- autapses within one population
  local own = net:population("lif", 300, {name = "own", positions = {kind = "box",
    size = {200, 200, 200}}})
  local PO = own:positions()
  sh = {kind = "sphere", radius = 40}
  local w1, n1 = expected(sh, PO, PO, true)
  local w2, n2 = expected(sh, PO, PO, false)
  local S1 = net:connect(own, own, {rule = "shape", shape = sh}):synapses()
  local S2 = net:connect(own, own, {rule = "shape", shape = sh, allow_autapses = false})
    :synapses()
  T.ok(#S1.pre == n1 and not no_self(S1), "shape onto itself: includes the source itself")
  T.ok(#S2.pre == n2 and n2 == n1 - 300 and no_self(S2), "shape without autapses: not itself")
  local okw = true
  for k = 1, #S2.pre do okw = okw and w2[key(S2.pre[k], S2.post[k])] end
  T.ok(okw, "shape without autapses: exactly the others inside")
  -- a shape that reaches no one
  T.eq(#net:connect(pre, post, {rule = "shape", shape = {kind = "sphere", radius = 10,
       offset = {5000, 0, 0}}}), 0, "shape placed far away: no synapse")
end

-- positions or a reach beyond the range of a double: the cells of the
-- search grid came from inf / inf (UBSan: NaN converted to int64, and a cell
-- index read out of bounds)
do
  local function pairs_of(pj)
    local S, o = pj:synapses(), {}
    for k = 1, #S.pre do o[#o + 1] = S.pre[k] .. ">" .. S.post[k] end
    return table.concat(o, " ")
  end
  local net = nk.network{}
  local far = net:population("lif", 3, {positions = {{-1e308, 0, 0}, {1e308, 0, 0},
                                                     {1e308, 0.5, 0}}})
  T.eq(pairs_of(net:connect(far, far, {rule = "shape", shape = {kind = "sphere", radius = 1}})),
       "1>1 2>2 2>3 3>2 3>3", "shape: positions 2e308 apart (an extent of inf)")
  local q = net:population("lif", 4, {positions = {{0, 0, 0}, {0, 0, 1}, {0, 0, 5}, {3, 0, 1}}})
  local huge = pairs_of(net:connect(q, q, {rule = "shape",
                                           shape = {kind = "cone", length = 1e308, angle = 60}}))
  T.eq(huge, "1>1 1>2 1>3 2>2 2>3 3>3 4>3 4>4", "shape: a cone 1e308 um long (a reach of inf)")
  T.eq(pairs_of(net:connect(q, q, {rule = "shape", shape = {kind = "cone", length = 1e6,
                                                             angle = 60}})), huge,
       "shape: the same cone 1e6 um long")
end

-- ---- list ----------------------------------------------------------------------------------

-- The order a list's pairs k = 1..#pre come out in: by source, then
-- target, then place in the list.
local function list_order(pre, post)
  local order = {}
  for k = 1, #pre do order[k] = k end
  table.sort(order, function(x, y)
    if pre[x] ~= pre[y] then return pre[x] < pre[y] end
    if post[x] ~= post[y] then return post[x] < post[y] end
    return x < y
  end)
  return order
end

do
  local net = nk.network{seed = 2, dt = 0.1}
  local a = net:population("lif", 6, {name = "a"})
  local b = net:population("lif", 5, {name = "b"})
  local pre = {3, 1, 2, 1, 6, 3, 1, 3}
  local post = {2, 4, 1, 2, 5, 2, 4, 1}
  local w = {1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5}
  local d = {0.04, 0.25, 0.149, 1, 0.35, 0.15, 2.0, 0.45}
  local pj = net:connect(a, b, {rule = "list", pre = pre, post = post, weight = w, delay = d})
  local S = pj:synapses()
  local order = list_order(pre, post)
  local ok = #S.pre == #pre
  for i, k in ipairs(order) do
    ok = ok and S.pre[i] == pre[k] and S.post[i] == post[k] and S.weight[i] == w[k] and
         abs(S.delay[i] - rounded_delay(d[k], 0.1)) < 1e-9
  end
  T.ok(ok, "list: synapses sorted by source then target, weights and delays follow their pairs")
  -- the rounding itself, spelled out
  local want_delay = {[0.04] = 0.1, [0.25] = 0.3, [0.149] = 0.1, [0.35] = 0.4, [0.15] = 0.2,
                      [0.45] = 0.5, [1] = 1.0, [2.0] = 2.0}
  local okd = true
  for i, k in ipairs(order) do okd = okd and abs(S.delay[i] - want_delay[d[k]]) < 1e-9 end
  T.ok(okd, "list delays: 0.04 -> 0.1, 0.25 -> 0.3, 0.149 -> 0.1, 0.15 -> 0.2, 0.35 -> 0.4")

  -- long rows (a radix sort of the targets, connect.c's sort_keys_by_id) into
  -- a slice far into a population (its indices past 2^16, and their low ten
  -- bits wrapping within it): sorted by target, repeats in list order,
  -- weights with their pairs
  do
    local big = net:population("lif", 70000, {name = "big"})
    local lp, lq, lw = {}, {}, {}
    for k = 1, 600 do
      lp[k] = 1 + k % 3
      lq[k] = 1 + (k * 7919) % 290         -- scrambled, with repeats
      lw[k] = k
    end
    local L = net:connect(a, big:slice(66317, 66616), {rule = "list", pre = lp, post = lq,
                                                       weight = lw}):synapses()
    local okl = #L.pre == #lp
    for i, k in ipairs(list_order(lp, lq)) do
      okl = okl and L.pre[i] == lp[k] and L.post[i] == 66316 + lq[k] and L.weight[i] == lw[k]
    end
    T.ok(okl, "list rows of 200 into a slice at 66,317: sorted by target, repeats in list " ..
              "order, weights with their pairs")
  end

  -- a long list is counted and filled by several threads, each a run of
  -- pairs: the synapses (repeats in list order, told apart by their
  -- weights) and the first error in the list's order are the same for one
  -- thread and three
  do
    local lp, lq, lw = {}, {}, {}
    for k = 1, 700000 do
      lp[k] = 1 + (k * 37) % 50
      lq[k] = 1 + (k * 7919) % 40
      lw[k] = k / 1000
    end
    local function run(threads, p2, q2, w2)
      local n2 = nk.network{seed = 2, dt = 0.1, threads = threads}
      local x = n2:population("lif", 300, {name = "x"})
      local y = n2:population("lif", 400, {name = "y"})
      local ok, pj = pcall(n2.connect, n2, x, y, {rule = "list", pre = p2 or lp, post = q2 or lq,
                                                  weight = w2 or lw})
      if not ok then return nil, pj end
      return pj:synapses()
    end
    local S1, S3 = run(1), run(3)
    local same = S1 and S3 and #S1.pre == 700000 and #S3.pre == 700000
    for i = 1, same and 700000 or 0 do
      if S1.pre[i] ~= S3.pre[i] or S1.post[i] ~= S3.post[i] or S1.weight[i] ~= S3.weight[i] then
        same = false
        break
      end
    end
    T.ok(same, "a list of 700,000 pairs: the same synapses, in the same order, on 1 and 3 threads")
    local sorted = S3 ~= nil
    for i = 2, S3 and #S3.pre or 0 do
      local a, b = S3, i - 1
      if a.pre[b] > a.pre[i] or (a.pre[b] == a.pre[i] and (a.post[b] > a.post[i] or
         (a.post[b] == a.post[i] and a.weight[b] >= a.weight[i]))) then
        sorted = false
        break
      end
    end
    T.ok(sorted, "a long list: by source, then target, repeats in list order")
    -- errors: a target out of range late in the list comes before a weight
    -- out of range early (the ends are checked first), and of two weights
    -- the earlier is named
    local function named(text, what)
      for _, t in ipairs{1, 3} do
        local _, err = run(t)
        T.ok(err and err:find(text, 1, true), t .. " threads: " .. what .. ": " .. tostring(err))
      end
    end
    lq[650001] = 401
    lw[20001] = 2e6
    named("target 401 (pair 650001) is out of range", "the target out of range is named")
    lq[650001] = 1
    lp[690001], lq[690001], lw[690001] = 7, 9, 3e6
    lp[300001], lq[300001], lw[300001] = 5, 8, 4e6
    lw[20001] = 1
    named("weight 4e+06 of synapse 5 -> 8 is out of range", "the first weight out of range is named")
  end

  -- rule implied by pre/post; slices: indices within them
  S = net:connect(a:slice(3, 6), b:slice(2, 5), {pre = {1, 4}, post = {4, 1}, weight = 2})
    :synapses()
  T.ok(#S.pre == 2 and S.pre[1] == 3 and S.post[1] == 5 and S.pre[2] == 6 and S.post[2] == 2 and
       S.weight[1] == 2, "list on slices: indices are within the slices")
  T.eq(#net:connect(a, b, {rule = "list", pre = {}, post = {}}), 0, "an empty list")
  S = net:connect(a, a, {pre = {2, 2, 4}, post = {2, 2, 1}}):synapses()
  T.ok(#S.pre == 3 and S.pre[1] == 2 and S.post[1] == 2 and S.pre[2] == 2 and S.post[2] == 2,
       "a list keeps repeated pairs and self-connections")
  -- negative weights: the inhibitory receptor by default
  local inh = net:connect(a, b, {pre = {1, 2}, post = {1, 1}, weight = {-1, -2}})
  T.eq(inh.receptor, "inh", "a list of negative weights feeds 'inh'")
  local mix = net:connect(a, b, {pre = {1, 2}, post = {1, 1}, weight = {-1, 2},
                                 receptor = "exc"})
  S = mix:synapses()
  T.ok(S.weight[1] == -1 and S.weight[2] == 2, "mixed signs with a named receptor keep their signs")
  -- a distribution for the weights of a list
  S = net:connect(a, b, {pre = {1, 1, 2, 3, 4, 5}, post = {1, 2, 3, 4, 5, 1},
                         weight = nk.uniform(10, 11), delay = nk.uniform(1, 2)}):synapses()
  local okw = #S.pre == 6
  for k = 1, 6 do
    okw = okw and S.weight[k] >= 10 and S.weight[k] < 11 and S.delay[k] >= 1 - 1e-9 and
          S.delay[k] <= 2 + 1e-9
  end
  T.ok(okw, "list with distributions for weights and delays")

  T.raises("list: source 0 (pair 2) is out of range: the source has 6 neurons (1..6: indices "
           .. "count from 1)", net.connect, net, a, b, {pre = {1, 0}, post = {1, 1}})
  T.raises("list: target 0 (pair 1) is out of range: the target has 5 neurons (1..5: indices "
           .. "count from 1)", net.connect, net, a, b, {pre = {1}, post = {0}})
  T.raises("list: source 7 (pair 1) is out of range: the source has 6 neurons (1..6)",
           net.connect, net, a, b, {pre = {7}, post = {1}})
  T.raises("list: target 6 (pair 3) is out of range: the target has 5 neurons (1..5)",
           net.connect, net, a, b, {pre = {1, 1, 1}, post = {1, 5, 6}})
  T.raises("list: target 5 (pair 1) is out of range: the target has 4 neurons (1..4)",
           net.connect, net, a, b:slice(2, 5), {pre = {1}, post = {5}})
  T.raises("option 'pre' element 2 must be an integer (a 1-based neuron index)", net.connect,
           net, a, b, {pre = {1, 1.5}, post = {1, 1}})
  T.raises("option 'post' element 1 must be an integer", net.connect, net, a, b,
           {pre = {1}, post = {"x"}})
  -- indices at int64's ends: refused before they are converted (they overflowed)
  T.raises("option 'pre' element 1 is 9.22337e+18: expected a 1-based neuron index",
           net.connect, net, a, b, {pre = {math.maxinteger}, post = {1}})
  T.raises("option 'post' element 2 is -9.22337e+18: expected a 1-based neuron index",
           net.connect, net, a, b, {pre = {1, 1}, post = {1, math.mininteger}})
  T.raises("list: source 9007199254740992 (pair 1) is out of range", net.connect, net, a, b,
           {pre = {2^53}, post = {1}})
  T.raises("'pre' has 3 entries and 'post' 2; expected the same number", net.connect, net, a, b,
           {pre = {1, 2, 3}, post = {1, 2}})
  T.raises("'weight' has 2 entries for 3 pairs; expected one per pair", net.connect, net, a, b,
           {pre = {1, 2, 3}, post = {1, 2, 3}, weight = {1, 2}})
  T.raises("'delay' has 1 entries for 2 pairs", net.connect, net, a, b,
           {pre = {1, 2}, post = {1, 2}, delay = {1}})
  T.raises("list: 1 weights are negative and 2 are not; name the 'receptor'", net.connect, net,
           a, b, {pre = {1, 2, 3}, post = {1, 2, 3}, weight = {1, -2, 3}})
  T.raises("out of range (a finite number", net.connect, net, a, b,
           {pre = {1, 2}, post = {1, 2}, weight = {1, 0 / 0}})
  T.raises("delay -1 ms of synapse 2 -> 2 is out of range (expected 0 <= delay <= 6553.5 ms",
           net.connect, net, a, b, {pre = {1, 2}, post = {1, 2}, delay = {1, -1}})
  T.raises("delay 7000 ms of synapse 1 -> 1 is out of range", net.connect, net, a, b,
           {pre = {1}, post = {1}, delay = {7000}})
  T.raises("option 'pre' does not belong to rule 'bernoulli'", net.connect, net, a, b,
           {rule = "bernoulli", p = 0.5, pre = {1}, post = {1}})
  T.raises("a list of weights belongs to rule 'list'", net.connect, net, a, b,
           {rule = "all_to_all", weight = {1, 2}})
  T.raises("rule 'list' needs option 'post'", net.connect, net, a, b, {rule = "list", pre = {1}})
  local ok2, err = pcall(net.run, net, 1)
  T.ok(ok2, "the network runs after the list errors: " .. tostring(err))
end

-- ---- weights and delays ------------------------------------------------------------------

do
  local net = nk.network{seed = 13, dt = 0.1}
  local a = net:population("lif", 100, {name = "a"})
  local b = net:population("lif", 100, {name = "b"})
  local n = 100 * 100
  local S = net:connect(a, b, {weight = 2.5, delay = 1.5}):synapses()
  local ok = #S.pre == n
  for k = 1, n do ok = ok and S.weight[k] == 2.5 and abs(S.delay[k] - 1.5) < 1e-9 end
  T.ok(ok, "constant weight and delay")

  -- uniform
  S = net:connect(a, b, {weight = nk.uniform(1, 3), delay = nk.uniform(0.5, 2.5)}):synapses()
  local inr, dstep = true, true
  for k = 1, n do
    inr = inr and S.weight[k] >= 1 and S.weight[k] < 3
    local st = S.delay[k] / 0.1
    dstep = dstep and abs(st - floor(st + 0.5)) < 1e-6 and S.delay[k] >= 0.5 - 1e-9 and
            S.delay[k] <= 2.5 + 1e-9
  end
  T.ok(inr, "nk.uniform(1, 3) weights are in [1, 3)")
  local m, sd = mean_sd(S.weight)
  T.near(m, 2, 5 * (2 / sqrt(12)) / sqrt(n), "nk.uniform(1, 3): mean")
  T.near(sd, 2 / sqrt(12), 0.05 * 2 / sqrt(12), "nk.uniform(1, 3): sd")
  T.ok(dstep, "nk.uniform delays: whole steps within [0.5, 2.5]")
  m = mean_sd(S.delay)
  T.near(m, 1.5, 5 * (2 / sqrt(12)) / sqrt(n) + 0.01, "nk.uniform(0.5, 2.5) delays: mean")
  -- all weights differ: drawn per synapse
  local seen, dup = {}, 0
  for k = 1, n do if seen[S.weight[k]] then dup = dup + 1 end seen[S.weight[k]] = true end
  T.ok(dup < n / 100, "nk.uniform: a draw per synapse (" .. dup .. " repeated values)")

  -- normal and lognormal; each part in a pcall so that one failing
  -- connect does not hide the others
  local function part(what, f)
    local ok, err = pcall(f)
    T.ok(ok, what .. ": connects: " .. tostring(err))
  end
  part("nk.normal(5, 2, 2, 9)", function()
    -- clipped to [min, max]: the truncated normal's mean and sd
    local mu, s, lo, hi = 5, 2, 2, 9
    local S = net:connect(a, b, {weight = nk.normal(mu, s, lo, hi)}):synapses()
    local inr = true
    for k = 1, n do inr = inr and S.weight[k] >= lo and S.weight[k] <= hi end
    T.ok(inr, "nk.normal(5, 2, 2, 9): all within [2, 9]")
    local al, be = (lo - mu) / s, (hi - mu) / s
    local Z = Phi(be) - Phi(al)
    local tm = mu + s * (phi(al) - phi(be)) / Z
    local tsd = s * sqrt(1 + (al * phi(al) - be * phi(be)) / Z - ((phi(al) - phi(be)) / Z) ^ 2)
    local m, sd = mean_sd(S.weight)
    T.near(m, tm, 5 * tsd / sqrt(n), "nk.normal(5, 2, 2, 9): truncated mean")
    T.near(sd, tsd, 0.05 * tsd, "nk.normal(5, 2, 2, 9): truncated sd")
  end)
  part("nk.normal(-3, 0.5)", function()
    local pj = net:connect(a, b, {weight = nk.normal(-3, 0.5)})
    local m, sd = mean_sd(pj:synapses().weight)
    T.near(m, -3, 5 * 0.5 / sqrt(n), "nk.normal(-3, 0.5): mean")
    T.near(sd, 0.5, 0.05 * 0.5, "nk.normal(-3, 0.5): sd")
    T.eq(pj.receptor, "inh", "a normal of negative mean feeds the inhibitory receptor")
  end)
  part("nk.normal delays", function()
    local S = net:connect(a, b, {weight = 1, delay = nk.normal(2, 0.5, 1, 3)}):synapses()
    local inr = true
    for k = 1, n do inr = inr and S.delay[k] >= 1 - 1e-9 and S.delay[k] <= 3 + 1e-9 end
    T.ok(inr, "nk.normal delays within [min, max]")
    local m, sd = mean_sd(S.delay)
    T.near(m, 2, 5 * 0.5 / sqrt(n) + 0.01, "nk.normal(2, 0.5, 1, 3) delays: mean")
  end)
  part("nk.lognormal(0.5, 0.3)", function()
    -- the log's mean and sd
    local S = net:connect(a, b, {weight = nk.lognormal(0.5, 0.3)}):synapses()
    local logs, pos = {}, true
    for k = 1, n do pos = pos and S.weight[k] > 0 logs[k] = log(S.weight[k]) end
    local m, sd = mean_sd(logs)
    T.ok(pos, "nk.lognormal: positive weights")
    T.near(m, 0.5, 5 * 0.3 / sqrt(n), "nk.lognormal(0.5, 0.3): mean of the log")
    T.near(sd, 0.3, 0.05 * 0.3, "nk.lognormal(0.5, 0.3): sd of the log")
  end)
  part("nk.lognormal(0, 1, 0.5, 2)", function()
    local S = net:connect(a, b, {weight = nk.lognormal(0, 1, 0.5, 2)}):synapses()
    local inr = true
    for k = 1, n do inr = inr and S.weight[k] >= 0.5 and S.weight[k] <= 2 end
    T.ok(inr, "nk.lognormal with a range stays in it")
  end)

  -- expressions of d
  local pa = net:population("lif", 60, {name = "pa", positions = {kind = "box",
    size = {300, 300, 300}}})
  local pb = net:population("lif", 70, {name = "pb", positions = {kind = "sphere", radius = 200,
    center = {100, 0, 0}}})
  local PA, PB = pa:positions(), pb:positions()
  S = net:connect(pa, pb, {weight = "2*d", delay = "0.5 + d/100"}):synapses()
  local okw, okd = #S.pre == 60 * 70, true
  for k = 1, #S.pre do
    local d = dist(PA[S.pre[k]], PB[S.post[k]])
    okw = okw and abs(S.weight[k] - 2 * d) <= 1e-6 * 2 * d + 1e-6
    okd = okd and abs(S.delay[k] - rounded_delay(0.5 + d / 100, 0.1)) < 1e-9
  end
  T.ok(okw, "weight = '2*d' matches the distance from the positions")
  T.ok(okd, "delay = '0.5 + d/100' matches, rounded to steps")
  S = net:connect(pa, pb, {weight = "dz - dx", receptor = "mixed"}):synapses()
  okw = true
  for k = 1, #S.pre do
    local _, dx, _, dz = dist(PA[S.pre[k]], PB[S.post[k]])
    okw = okw and abs(S.weight[k] - (dz - dx)) <= 1e-6 * abs(dz - dx) + 1e-4
  end
  T.ok(okw, "weight = 'dz - dx' with signs, on a named receptor")
  -- delay rounding through every path: constant, expression
  for _, c in ipairs({{0.04, 0.1}, {0.25, 0.3}, {0.149, 0.1}, {0.15, 0.2}, {0, 0.1},
                      {0.05, 0.1}, {2.35, 2.4}}) do
    local s1 = net:connect(a:slice(1, 1), b:slice(1, 1), {delay = c[1]}):synapses()
    local s2 = net:connect(pa:slice(1, 1), pb:slice(1, 1), {delay = string.format("%.17g + 0*d",
      c[1])}):synapses()
    T.near(s1.delay[1], c[2], 1e-9, "constant delay " .. c[1] .. " ms at dt 0.1")
    T.near(s2.delay[1], c[2], 1e-9, "delay expression " .. c[1] .. " ms at dt 0.1")
  end
  local net2 = nk.network{dt = 0.025}
  local x = net2:population("lif", 1)
  T.near(net2:connect(x, x, {delay = 0.0375}):synapses().delay[1], 0.05, 1e-12,
         "1.5 steps rounds up at dt 0.025")
  T.near(net2:connect(x, x, {delay = 0.0374}):synapses().delay[1], 0.025, 1e-12,
         "1.496 steps rounds down at dt 0.025")
  T.near(net2:connect(x, x, {delay = 65535 * 0.025}):synapses().delay[1], 65535 * 0.025, 1e-9,
         "the longest delay, 65535 steps")
  T.raises("is too long (at most 1638.38 ms at dt = 0.025 ms)", net2.connect, net2, x, x,
           {delay = 1639})
end

-- ---- determinism -----------------------------------------------------------------------------

do
  local list_pre, list_post = {}, {}
  for k = 1, 200 do list_pre[k] = (k * 37) % 150 + 1 list_post[k] = (k * 11) % 150 + 1 end
  local cases = {
    {"all_to_all", {rule = "all_to_all", weight = nk.normal(1, 0.5)}, true},
    {"one_to_one", {rule = "one_to_one", delay = nk.uniform(0.5, 3)}, true},
    {"bernoulli", {rule = "bernoulli", p = 0.1, weight = nk.uniform(0, 1)}, true},
    {"fixed_indegree", {rule = "fixed_indegree", indegree = 10}, true},
    {"fixed_indegree without multapses", {rule = "fixed_indegree", indegree = 10,
      allow_multapses = false}, true},
    {"fixed_outdegree", {rule = "fixed_outdegree", outdegree = 10, allow_multapses = false},
     true},
    {"fixed_total", {rule = "fixed_total", total = 2000}, true},
    {"distance", {rule = "distance", p = "0.5*exp(-d/50)", delay = "0.1 + d/50"}, true},
    {"shape", {rule = "shape", shape = {kind = "sphere", radius = 60}, p = 0.5}, true},
    {"list", {pre = list_pre, post = list_post, weight = nk.lognormal(0, 1)}, true},
    {"list with constant values", {pre = list_pre, post = list_post, weight = 3}, false},
  }
  local grid = {kind = "grid", spacing = {20, 20, 20}, shape = {10, 15, 1}}
  -- variant: "plain" (the projection is index 0), "extra_pop" (another
  -- population, of another size, created first), "failed_first" (a connect
  -- that fails first), "other_first" / "other_first2" (another projection
  -- first, so this one is index 1)
  local function build(seed, opts, variant)
    local net = nk.network{seed = seed}
    if variant == "extra_pop" then
      net:population("lif", 777, {positions = {kind = "box", size = {10, 10, 10}}})
    end
    local A = net:population("lif", 150, {positions = grid})
    local B = net:population("lif", 150, {positions = grid})
    if variant == "failed_first" then
      pcall(net.connect, net, A, B, {rule = "fixed_outdegree", outdegree = 500,
                                     allow_multapses = false})
    elseif variant == "other_first" then
      net:connect(B, A, {rule = "bernoulli", p = 0.3})
    elseif variant == "other_first2" then
      local C = net:population("lif", 50)
      net:connect(C, B, {rule = "fixed_indegree", indegree = 3, weight = nk.uniform(0, 1)})
    end
    return net:connect(A, B, opts):synapses()
  end
  local function check_case(c)
    local name, opts, random = c[1], c[2], c[3]
    local s1 = build(5, opts, "plain")
    T.ok(#s1.pre > 0, name .. ": makes synapses")
    T.ok(same_syn(s1, build(5, opts, "plain")), name .. ": same seed, identical synapses")
    if random then
      T.ok(not same_syn(s1, build(6, opts, "plain")), name .. ": another seed differs")
    else
      T.ok(same_syn(s1, build(6, opts, "plain")), name .. ": nothing random, seed irrelevant")
    end
    T.ok(same_syn(s1, build(5, opts, "extra_pop")),
         name .. ": other populations (sizes, indices) change nothing")
    T.ok(same_syn(s1, build(5, opts, "failed_first")),
         name .. ": a failed connect before does not shift the projection's draws")
    local o1 = build(5, opts, "other_first")
    T.ok(same_syn(o1, build(5, opts, "other_first2")),
         name .. ": same projection index after a different first projection, identical")
    if random then
      T.ok(not same_syn(s1, o1), name .. ": another projection index draws anew")
    end
  end
  for _, c in ipairs(cases) do
    local ok, err = pcall(check_case, c)
    T.ok(ok, c[1] .. ": the determinism checks ran: " .. tostring(err))
  end

  -- the synapses of a neuron do not depend on the other neurons of the
  -- range: a slice of the sources (or targets, for fixed_indegree) gives the
  -- same rows
  local function rows_from(seed, opts, pre_slice, post_slice)
    local net = nk.network{seed = seed}
    local A = net:population("lif", 150, {positions = grid})
    local B = net:population("lif", 120, {positions = {kind = "box", size = {200, 300, 10}}})
    local pre = pre_slice and A:slice(pre_slice[1], pre_slice[2]) or A
    local post = post_slice and B:slice(post_slice[1], post_slice[2]) or B
    return net:connect(pre, post, opts):synapses()
  end
  local function part(S, f, lo, hi)
    local out = {pre = {}, post = {}, weight = {}, delay = {}}
    for k = 1, #S.pre do
      local v = S[f][k]
      if v >= lo and v <= hi then
        for _, g in ipairs({"pre", "post", "weight", "delay"}) do out[g][#out[g] + 1] = S[g][k] end
      end
    end
    return out
  end
  for _, c in ipairs({
    {"bernoulli", {rule = "bernoulli", p = 0.2, weight = nk.uniform(0, 1)}},
    {"fixed_outdegree", {rule = "fixed_outdegree", outdegree = 9, delay = nk.normal(2, 1, 0.1)}},
    {"distance", {rule = "distance", p = "exp(-d/80)"}},
    {"shape", {rule = "shape", shape = {kind = "cone", angle = 40, length = 200,
      axis = {1, 0, 0}}, p = 0.7}},
  }) do
    local ok, err = pcall(function()
      local full = rows_from(9, c[2])
      local sub = rows_from(9, c[2], {51, 100})
      local want = part(full, "pre", 51, 100)
      T.ok(#want.pre > 0 and same_syn(sub, want),
           c[1] .. ": sources 51..100 alone get the same synapses as in the whole")
    end)
    T.ok(ok, c[1] .. ": slices connect: " .. tostring(err))
  end
  local full = rows_from(9, {rule = "fixed_indegree", indegree = 12, allow_multapses = false,
                             weight = nk.uniform(0, 1)})
  local sub = rows_from(9, {rule = "fixed_indegree", indegree = 12, allow_multapses = false,
                            weight = nk.uniform(0, 1)}, nil, {41, 80})
  local want = part(full, "post", 41, 80)
  local fs, ss = pair_counts(want), pair_counts(sub)
  local same = #sub.pre == #want.pre
  for k, v in pairs(fs) do same = same and ss[k] == v end
  T.ok(same and #sub.pre == 40 * 12,
       "fixed_indegree: targets 41..80 alone draw the same sources as in the whole")
end

-- ---- bad input ------------------------------------------------------------------------------

do
  local E = nk.network{seed = 4}
  local a = E:population("lif", 10, {name = "a"})
  local g = E:population("lif", 10, {name = "g", positions = {kind = "grid",
    spacing = {10, 10, 10}, shape = {10, 1, 1}}})
  local nopos = E:population("lif", 10, {name = "nopos"})
  E:connect(a, a, {rule = "bernoulli", p = 0.3, weight = 1})
  E:monitor("spikes", a)

  local function bad(text, opts, pre, post)
    local before = #E:projections()
    T.raises(text, E.connect, E, pre or a, post or a, opts)
    T.eq(#E:projections(), before, "no projection left behind by: " .. text)
    local ok, err = pcall(E.run, E, 0.2)
    T.ok(ok, "the network still runs after: " .. text .. " " .. tostring(err))
  end
  bad("unknown rule 'fixed_outdgree' (did you mean 'fixed_outdegree'?)",
      {rule = "fixed_outdgree", outdegree = 3})
  bad("unknown rule 'distanse' (did you mean 'distance'?)", {rule = "distanse", p = "1"})
  bad("unknown rule 'shap' (did you mean 'shape'?)", {rule = "shap"})
  bad("unknown rule 'random' (expected all_to_all, one_to_one, bernoulli, fixed_indegree, "
      .. "fixed_outdegree, fixed_total, distance, shape, list or edges)", {rule = "random"})
  bad("option 'indegree' does not belong to rule 'bernoulli'",
      {rule = "bernoulli", p = 0.1, indegree = 5})
  bad("option 'outdegree' does not belong to rule 'fixed_total'",
      {rule = "fixed_total", total = 5, outdegree = 3})
  bad("option 'shape' does not belong to rule 'distance'",
      {rule = "distance", p = "1", shape = {kind = "sphere", radius = 1}}, g, g)
  bad("option 'p' does not belong to rule 'fixed_indegree'",
      {rule = "fixed_indegree", indegree = 1, p = 0.5})
  bad("option 'total' does not belong to rule 'all_to_all'", {total = 5})
  bad("rule 'bernoulli' needs option 'p' (a probability)", {rule = "bernoulli"})
  bad("rule 'fixed_indegree' needs option 'indegree'", {rule = "fixed_indegree"})
  bad("rule 'fixed_outdegree' needs option 'outdegree'", {rule = "fixed_outdegree"})
  bad("rule 'fixed_total' needs option 'total'", {rule = "fixed_total"})
  bad("rule 'distance' needs option 'p' (an expression of the distance d in um",
      {rule = "distance"}, g, g)
  bad("rule 'shape' needs option 'shape'", {rule = "shape"}, g, g)
  bad("rule 'distance' takes p as an expression of d (um), e.g. \"0.3*exp(-d/100)\", got number",
      {rule = "distance", p = 0.5}, g, g)
  bad("rule 'distance' needs positions: population 'nopos' has none (give it 'positions')",
      {rule = "distance", p = "1"}, g, nopos)
  bad("rule 'distance' needs positions: population 'nopos' has none",
      {rule = "distance", p = "1"}, nopos, g)
  bad("rule 'shape' needs positions: population 'a' has none",
      {rule = "shape", shape = {kind = "sphere", radius = 5}})
  bad("distance: p: column 10: unknown name 'r'", {rule = "distance", p = "0.3*exp(-r/100)"}, g, g)
  bad("unknown name 'r' (an expression of the distance knows d, dx, dy, dz",
      {rule = "distance", p = "0.3*exp(-r/100)"}, g, g)
  bad("is NaN at d =", {rule = "distance", p = "sqrt(-1 - d)"}, g, g)
  bad("distance: p", {rule = "distance", p = "0.3*exp(-d/"}, g, g)
  bad("weight: ", {weight = "2*dd"}, g, g)
  bad("unknown name 'dd'", {weight = "2*dd"}, g, g)
  bad("a weight that depends on d needs positions: population 'a' has none", {weight = "2*d"})
  bad("a delay that depends on d needs positions: population 'nopos' has none",
      {delay = "1 + d"}, g, nopos)
  bad("weight 1e+07 is out of range (|weight| <= 1e6", {weight = "1e7"})
  bad("weight must be a finite number, got inf", {weight = "1/0"})
  -- weights
  bad("weight must be a finite number, got", {weight = 0 / 0})
  bad("weight must be a finite number, got inf", {weight = math.huge})
  bad("weight must be a finite number, got -inf", {weight = -math.huge})
  bad("weight 2e+06 is out of range (|weight| <= 1e6", {weight = 2e6})
  bad("weight inf of synapse", {weight = "1/(d - d)"}, g, g)
  bad("is out of range (a finite number, |weight| <= 1e6", {weight = "1e7 + d"}, g, g)
  bad("option 'weight' for net:connect must be a number, a distribution", {weight = true})
  bad("unknown distribution 'gamma' (expected nk.uniform, nk.normal or nk.lognormal)",
      {weight = {kind = "gamma"}})
  bad("weight: uniform needs finite low <= high, got [2, 1)",
      {weight = {kind = "uniform", lo = 2, hi = 1}})
  bad("weight: range [2, 1] is empty",
      {weight = {kind = "normal", mean = 0, sd = 1, min = 2, max = 1}})
  bad("weight: normal needs a finite mean and a standard deviation >= 0",
      {weight = {kind = "normal", mean = 0, sd = 0 / 0}})
  -- a table made by hand: only its kind's fields, the required ones numbers
  bad("option 'weight' for net:connect: field 'sd' of the normal distribution must be a number, "
      .. "got nothing (nk.normal(mean, sd[, min, max]) makes one)",
      {weight = {kind = "normal", mean = 0}})
  bad("option 'weight' for net:connect: a uniform distribution has the fields kind, lo, hi, got "
      .. "'high' (nk.uniform(lo, hi) makes one)", {weight = {kind = "uniform", low = 1, high = 2}})
  bad("option 'delay' for net:connect: field 'hi' of the uniform distribution must be a number, "
      .. "got string", {delay = {kind = "uniform", lo = 1, hi = "2"}})
  bad("a lognormal distribution has the fields kind, mean, sd, min, max, got a number key",
      {weight = {kind = "lognormal", mean = 0, sd = 1, 5}})
  bad("field 'max' of the normal distribution must be a number, got string",
      {weight = {kind = "normal", mean = 0, sd = 1, max = "x"}})
  bad("1000 draws of normal(0, 1) all fell outside [50, 60]; the range is too unlikely",
      {weight = nk.normal(0, 1, 50, 60)})
  bad("1000 draws of lognormal(0, 0.1) all fell outside [5, 6]",
      {weight = nk.lognormal(0, 0.1, 5, 6)})
  T.raises("nk.normal: expected a range min <= max, got 2 and 1", nk.normal, 0, 1, 2, 1)
  T.raises("nk.normal(0, -1): the standard deviation must be >= 0", nk.normal, 0, -1)
  T.raises("nk.lognormal(mu, sd[, min, max]): expected numbers", nk.lognormal, "a", 1)
  T.raises("nk.uniform(2, 1): expected lo <= hi", nk.uniform, 2, 1)
  -- delays
  bad("delay must be >= 0 ms, got -1", {delay = -1})
  bad("delay must be >= 0 ms, got", {delay = 0 / 0})
  bad("delay must be a finite number of ms, got inf", {delay = math.huge})
  bad("delay 6553.6 ms is too long (at most 6553.5 ms at dt = 0.1 ms)", {delay = 6553.6})
  bad("ms of synapse 1 -> 1 is out of range (expected 0 <= delay <= 6553.5 ms at dt = 0.1 ms)",
      {delay = nk.uniform(7000, 8000)})
  bad("is out of range (expected 0 <= delay", {delay = nk.normal(-5, 1)})
  bad("is out of range (expected 0 <= delay", {delay = "-d"}, g, g)
  -- rule parameters
  bad("fixed_total: 101 synapses are more than the 100 pairs", {rule = "fixed_total",
      total = 101, allow_multapses = false})
  bad("fixed_outdegree: outdegree must be in [0, 4294967295], got -1", {rule = "fixed_outdegree",
      outdegree = -1})
  bad("fixed_outdegree: outdegree 11 is more than the 10 target neurons",
      {rule = "fixed_outdegree", outdegree = 11, allow_multapses = false})
  bad("fixed_total: total must be in [0, 4294967295], got -5", {rule = "fixed_total", total = -5})
  bad("option 'total' for net:connect must be an integer", {rule = "fixed_total", total = 2.5})
  -- shapes
  local function badshape(text, sh, p)
    bad(text, {rule = "shape", shape = sh, p = p}, g, g)
  end
  badshape("unknown shape 'sphre' (expected sphere, cone, box or cylinder)",
           {kind = "sphre", radius = 5})
  badshape("the shape needs a kind: sphere, cone, box or cylinder", {radius = 5})
  badshape("unknown option 'radious' for net:connect shape (did you mean 'radius'?)",
           {kind = "sphere", radious = 5})
  badshape("sphere: radius must be a finite number > 0 um, got 0", {kind = "sphere"})
  badshape("cylinder: radius must be a finite number > 0 um, got -1",
           {kind = "cylinder", radius = -1, length = 5})
  badshape("cylinder: length (the range along the axis) must be > 0 um, got 0",
           {kind = "cylinder", radius = 3})
  badshape("cone: angle (half-angle, degrees) must be in (0, 90), got 90",
           {kind = "cone", length = 10, angle = 90})
  badshape("cone: axis must be a non-zero vector", {kind = "cone", length = 10, angle = 30,
           axis = {0, 0, 0}})
  badshape("box: size must be >= 0 um, got -1", {kind = "box", size = {1, -1, 1}})
  badshape("shape option 'offset' must be a list of three numbers", {kind = "sphere",
           radius = 3, offset = {1, 2}})
  badshape("shape option 'radius' must be a number (um or degrees), got string",
           {kind = "sphere", radius = "big"})
  badshape("shape: p must be in [0, 1], got 1.5", {kind = "sphere", radius = 3}, 1.5)
  badshape("shape: offset must be finite (um)", {kind = "sphere", radius = 3,
           offset = {0, 0 / 0, 0}})
  local ok, err = pcall(E.run, E, 1)
  T.ok(ok, "the network runs after all the errors: " .. tostring(err))

  -- positions and ids
  local function badpop(text, n, opts)
    local before = #E:populations()
    T.raises(text, E.population, E, "lif", n, opts)
    T.eq(#E:populations(), before, "no population left behind by: " .. text)
  end
  badpop("grid: shape 4 x 3 x 3 holds 36 neurons; population 'gg' has 24", 24,
         {name = "gg", positions = {kind = "grid", spacing = {1, 1, 1}, shape = {4, 3, 3}}})
  badpop("grid: spacing must be > 0 um, got 0", 8, {positions = {kind = "grid",
         spacing = {0, 1, 1}}})
  badpop("unknown layout 'hexagon' (expected grid, box, sphere or cylinder)", 8,
         {positions = {kind = "hexagon"}})
  badpop("unknown option 'radiuss' for positions (did you mean 'radius'?)", 8,
         {positions = {kind = "sphere", radiuss = 4}})
  badpop("sphere: radius must be a finite number > 0 um, got 0", 8, {positions = {kind = "sphere"}})
  badpop("cylinder: height must be a finite number >= 0 um, got -2", 8,
         {positions = {kind = "cylinder", radius = 1, height = -2}})
  badpop("box: size must be >= 0 um, got -3", 8, {positions = {kind = "box",
         size = {1, -3, 1}}})
  badpop("positions: 'center' must be a list of three numbers {x, y, z}", 8,
         {positions = {kind = "box", center = {1, 2}}})
  badpop("positions: population 'pp' has 3 neurons, got 2 positions", 3,
         {name = "pp", positions = {{0, 0, 0}, {1, 1, 1}}})
  badpop("positions: entry 2 must be {x, y, z}, three numbers (um)", 2,
         {positions = {{0, 0, 0}, {1, 1}}})
  badpop("positions: coordinate y of neuron 1 is", 1, {positions = {{0, 0 / 0, 0}}})
  badpop("positions must be a layout", 1, {positions = "grid"})
  badpop("ids: id 5 is given twice (neurons 2 and 4); ids must be distinct", 4,
         {ids = {1, 5, 7, 5}})
  badpop("ids: population 'qq' has 3 neurons, got 2 ids", 3, {name = "qq", ids = {1, 2}})
  badpop("ids: entry 2 must be an integer, got 2.5", 2, {ids = {1, 2.5}})
  badpop("ids: entry 2 must be an integer, got string", 2, {ids = {1, "2"}})
  -- a float with an integer value is an integer (2^4 was "got number")
  T.eq(E:population("lif", 2, {ids = {2^3, 2^4}}):index_of(16), 2, "ids = {2^3, 2^4}")
  badpop("ids must be an edge list (nk.read_edges) or a list of integers, got string", 2,
         {ids = "1,2"})
  T.raises("grid: shape 2 x 2 x 2 holds 8 neurons; population 'a' has 10", a.place, a,
           {kind = "grid", spacing = {1, 1, 1}, shape = {2, 2, 2}})
  T.eq(a:positions(), nil, "a failed place leaves no positions")
  -- a layout reaching past the range of a double gave inf positions (a
  -- list's are refused), and distances of inf - inf = NaN
  T.raises("grid: coordinate x of neuron 1 is -inf: the layout reaches beyond the range of a double",
           a.place, a, {kind = "grid", spacing = {1e308, 1, 1}, shape = {10, 1, 1}})
  T.eq(a:positions(), nil, "a grid of inf positions leaves no positions")
  badpop("sphere: coordinate x of neuron", 5,
         {positions = {kind = "sphere", radius = 1.7e308, center = {1.7e308, 0, 0}}})
  ok, err = pcall(E.run, E, 1)
  T.ok(ok, "the network runs after the population errors: " .. tostring(err))
end

-- ---- memory estimate: refused before allocating ----------------------------------------

do
  local net = nk.network{seed = 1}
  local t0 = nk.clock()
  local big1 = net:population("lif", 300000, {name = "big1"})
  local big2 = net:population("lif", 300000, {name = "big2"})
  local rss0 = nk.memory().rss
  local err = T.raises("this projection would have about 90000000000 synapses, 900.00 GB at "
                       .. "10 bytes each, more than the", net.connect, net, big1, big2,
                       {rule = "all_to_all"})
  T.ok(err and err:find("GB of memory available", 1, true), "the estimate names the memory")
  T.raises("about 300000000000 synapses, 3000.00 GB", net.connect, net, big1, big2,
           {rule = "fixed_indegree", indegree = 1000000})
  T.raises("about 300000000000 synapses", net.connect, net, big1, big2,
           {rule = "fixed_outdegree", outdegree = 1000000})
  T.raises("fixed_total: total must be in [0, 4294967295]", net.connect, net, big1, big2,
           {rule = "fixed_total", total = 4294967296})
  T.raises("about 81000000000 synapses", net.connect, net, big1, big2,
           {rule = "bernoulli", p = 0.9})
  local rss1 = nk.memory().rss
  T.ok(rss1 - rss0 < 200e6, string.format("refused before allocating (rss grew %.0f MB)",
                                          (rss1 - rss0) / 1e6))
  T.ok(nk.clock() - t0 < 5, "refused at once")
  T.eq(#net:projections(), 0, "no projection left behind")
  local p = net:connect(big1:slice(1, 1000), big2:slice(1, 1000), {rule = "fixed_indegree",
                        indegree = 10})
  T.eq(#p, 10000, "a modest projection still works")
  T.raises("population size 10000000000000 is too large (at most 4294967295)", net.population,
           net, "lif", 10000000000000)
  -- the largest population, in double precision, needs 20 bytes a neuron
  -- (86 GB): refused before allocating where that is more than is available
  local f, avail = io.open("/proc/meminfo"), nil
  if f then
    avail = tonumber(f:read("a"):match("MemAvailable:%s*(%d+) kB"))
    f:close()
  end
  if avail and avail * 1024 < 0.9 * 4294967295 * 20 then
    local nd = nk.network{precision = "double"}
    nd:population("lif", 10)
    T.raises("a population of 4294967295 'lif' neurons needs about 85.90 GB, more than the",
             nd.population, nd, "lif", 4294967295)
    T.eq(#nd:populations(), 1, "the refused population is not made")
    local ok, err = pcall(nd.run, nd, 0.3)
    T.ok(ok, "the network runs after the refusal: " .. tostring(err))
  else
    print("rules: more than 77 GB available; the population memory check is skipped")
  end
  local ok, err = pcall(net.run, net, 0.3)
  T.ok(ok, "the network runs after the refusals: " .. tostring(err))
end

T.done("rules")
