-- Connectome edge lists (CSV/TSV in the shape of FlyWire's connection
-- tables): reading, ids, connecting by sign, malformed files, and a run of a
-- loaded circuit. The files are in tests/data/edges; what each should give
-- is worked out here by reading them independently in Lua.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")
local DIR = (arg[0]:match("(.*/)") or "./") .. "../data/edges/"

-- ---- an independent reader for the test files ------------------------------------------

local INH = {GABA = true, GLUT = true}
local function abs_(x) return x < 0 and -x or x end

-- Reads path into {pre, post, weight} edges, in file order. header: the
-- first data line names the columns; cols = {pre =, post =, weight =, sign =}
-- (names with a header, 1-based numbers without); inh: set of inhibitory
-- sign values (upper case), or nil for no sign.
local function parse(path, delim, header, cols, inh)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  local edges, idx = {}, nil
  for line in text:gmatch("([^\n]*)\n?") do
    line = line:gsub("\r$", "")
    if line ~= "" and line:sub(1, 1) ~= "#" then
      local fields = {}
      if delim then
        for x in (line .. delim):gmatch("(.-)" .. delim:gsub("%p", "%%%0")) do
          fields[#fields + 1] = x
        end
      else
        for x in line:gmatch("%S+") do fields[#fields + 1] = x end
      end
      for k, x in ipairs(fields) do
        x = x:match("^ *(.-) *$")
        fields[k] = x:match('^"(.*)"$') or x
      end
      if header and not idx then
        idx = {}
        for k, name in ipairs(fields) do idx[name] = k end
      else
        local function col(c) return header and fields[idx[c]] or fields[c] end
        local w = cols.weight and tonumber(col(cols.weight)) or 1
        if cols.sign then
          local s = col(cols.sign)
          local neg = (tonumber(s) and tonumber(s) < 0) or (inh and inh[s:upper()])
          w = neg and -abs_(w) or abs_(w)
        end
        edges[#edges + 1] = {pre = math.tointeger(col(cols.pre)),
                             post = math.tointeger(col(cols.post)), w = w}
      end
    end
  end
  return edges
end

local function sorted_ids(edges, extra)
  local set, out = {}, {}
  for _, e in ipairs(edges) do set[e.pre] = true set[e.post] = true end
  for _, id in ipairs(extra or {}) do set[id] = true end
  for id in pairs(set) do out[#out + 1] = id end
  table.sort(out)
  return out
end

-- E matches the expected edges, in file order, and the expected ids.
local function check_edges(E, want, ids, what)
  T.eq(#E, #want, what .. ": number of edges")
  T.eq(E.count, #want, what .. ": E.count")
  T.eq(E.nids, #ids, what .. ": number of distinct ids")
  T.same_list(E:ids(), ids, what .. ": E:ids() sorted")
  local ok, bad = #E == #want, ""
  for k = 1, math.min(#E, #want) do
    local a, b, w = E:get(k)
    if a ~= want[k].pre or b ~= want[k].post or w ~= want[k].w then
      ok = false
      bad = string.format(" (edge %d: got %s -> %s, %s; expected %s -> %s, %s)", k,
                          tostring(a), tostring(b), tostring(w), tostring(want[k].pre),
                          tostring(want[k].post), tostring(want[k].w))
      break
    end
  end
  T.ok(ok, what .. ": every edge's ids and signed weight" .. bad)
end

-- The synapses of projection P (may be nil) equal the edges (in file order)
-- that pass keep, mapped through the populations' ids, weights scaled by s,
-- sorted by source, then target, then file order.
local function check_proj(P, edges, pre, post, keep, s, delay, what)
  local want = {}
  for k, e in ipairs(edges) do
    if keep(e) then
      want[#want + 1] = {pre:index_of(e.pre), post:index_of(e.post), s * e.w, k}
    end
  end
  table.sort(want, function(x, y)
    if x[1] ~= y[1] then return x[1] < y[1] end
    if x[2] ~= y[2] then return x[2] < y[2] end
    return x[4] < y[4]
  end)
  if #want == 0 then
    T.eq(P, nil, what .. ": no projection when no edge")
    return
  end
  T.ok(P ~= nil, what .. ": a projection")
  if not P then return end
  local S = P:synapses()
  local ok, bad = #S.pre == #want, string.format(" (%d synapses, %d edges)", #S.pre, #want)
  for k = 1, math.min(#S.pre, #want) do
    local x = want[k]
    if S.pre[k] ~= x[1] or S.post[k] ~= x[2] or S.weight[k] ~= x[3] or
       (delay and math.abs(S.delay[k] - delay) > 1e-9) then
      ok = false
      bad = string.format(" (synapse %d: %d -> %d w %g d %g; expected %s -> %s w %g)", k,
                          S.pre[k], S.post[k], S.weight[k], S.delay[k], tostring(x[1]),
                          tostring(x[2]), x[3])
      break
    end
  end
  T.ok(ok, what .. ": every synapse matches its edge" .. bad)
end

local function pos(e) return e.w >= 0 end
local function neg(e) return e.w < 0 end

-- ---- FlyWire's shape ------------------------------------------------------------------------

local fw_cols = {pre = "pre_root_id", post = "post_root_id", weight = "syn_count",
                 sign = "nt_type"}
local FW = parse(DIR .. "flywire.csv", ",", true, fw_cols, INH)
local nodes = {}
for line in io.lines(DIR .. "flywire_neurons.csv") do
  local id = math.tointeger(line:match("^(%d+),"))
  if id then nodes[#nodes + 1] = id end
end
T.ok(#FW == 14 and #nodes == 8, "the test's own reader read the files")

local E = nk.read_edges(DIR .. "flywire.csv")
check_edges(E, FW, sorted_ids(FW), "flywire.csv")
local ninh = 0
for _, e in ipairs(FW) do if e.w < 0 then ninh = ninh + 1 end end
local summary = string.format("%d edges (%d inhibitory) between %d distinct ids", #FW, ninh,
                              #sorted_ids(FW))
T.ok(tostring(E):find(summary, 1, true), "tostring(E) says " .. summary .. ": " .. tostring(E))
do -- one edge between two ids, one id: no plural of one
  local one = os.tmpname()
  T.write_file(one, "pre_root_id,post_root_id,syn_count,nt_type\n11,22,3,GABA\n")
  T.eq(tostring(nk.read_edges(one)), "edge list: 1 edge (1 inhibitory) between 2 distinct ids",
       "tostring of one edge")
  T.write_file(one, "pre_root_id,post_root_id,syn_count,nt_type\n11,11,3,ACH\n")
  T.eq(tostring(nk.read_edges(one)), "edge list: 1 edge (0 inhibitory) between 1 distinct id",
       "tostring of an autapse's edge list")
  os.remove(one)
end
local EN = nk.read_edges(DIR .. "flywire.csv", {nodes = DIR .. "flywire_neurons.csv"})
local all_ids = sorted_ids(FW, nodes)
check_edges(EN, FW, all_ids, "flywire.csv with its neurons file")
T.ok(#all_ids == 8 and EN.nids == 8, "the neurons file adds the ids without edges")
T.raises("edges:get: edge 0 is outside 1..14", E.get, E, 0)
T.raises("edges:get: edge 15 is outside 1..14", E.get, E, 15)

-- options: columns by name, another inhibitory set, no sign
check_edges(nk.read_edges(DIR .. "flywire.csv", {inhibitory = {"DA", "SER"}}),
            parse(DIR .. "flywire.csv", ",", true, fw_cols, {DA = true, SER = true}),
            sorted_ids(FW), "inhibitory = {DA, SER}")
check_edges(nk.read_edges(DIR .. "flywire.csv", {pre = "post_root_id", post = "pre_root_id"}),
            parse(DIR .. "flywire.csv", ",", true, {pre = "post_root_id", post = "pre_root_id",
              weight = "syn_count", sign = "nt_type"}, INH),
            sorted_ids(FW), "pre and post named (swapped)")
check_edges(nk.read_edges(DIR .. "flywire.csv", {sign = 5, weight = 4, pre = 1, post = 2}),
            FW, sorted_ids(FW), "columns by number in a file with a header")
check_edges(nk.read_edges(DIR .. "flywire.csv", {sign = "neuropil"}),
            parse(DIR .. "flywire.csv", ",", true, {pre = "pre_root_id", post = "post_root_id",
              weight = "syn_count", sign = "neuropil"}, INH),
            sorted_ids(FW), "sign from another column: nothing there is inhibitory")

-- quoted fields, CRLF, comments, blank lines
local QC = parse(DIR .. "quoted_crlf.csv", ",", true, fw_cols, INH)
T.eq(#QC, 4, "quoted_crlf.csv has 4 edges")
check_edges(nk.read_edges(DIR .. "quoted_crlf.csv"), QC, sorted_ids(QC), "quoted_crlf.csv")
-- a quoted field holding the delimiter is one field (RFC 4180)
local ok, QE = pcall(nk.read_edges, DIR .. "quoted_comma.csv")
T.ok(ok, "a quoted field with a comma inside reads: " .. tostring(QE))
if ok then
  local a, b, w = QE:get(1)
  T.ok(#QE == 2 and w == 12, "the quoted comma does not shift the columns")
end

-- TSV without a header: columns by number
local NH = parse(DIR .. "noheader.tsv", "\t", false, {pre = 1, post = 2, weight = 3, sign = 4})
check_edges(nk.read_edges(DIR .. "noheader.tsv", {pre = 1, post = 2, weight = 3, sign = 4}), NH,
            sorted_ids(NH), "noheader.tsv with a sign column")
local NH2 = parse(DIR .. "noheader.tsv", "\t", false, {pre = 2, post = 1, weight = 3})
check_edges(nk.read_edges(DIR .. "noheader.tsv", {pre = 2, post = 1}), NH2, sorted_ids(NH2),
            "noheader.tsv reversed, unsigned weights from column 3")
check_edges(nk.read_edges(DIR .. "noheader.tsv", {delimiter = "\t"}),
            parse(DIR .. "noheader.tsv", "\t", false, {pre = 1, post = 2, weight = 3}),
            sorted_ids(NH), "noheader.tsv by default: columns 1, 2, 3")
T.raises("noheader.tsv:1: the file has no header, so columns are numbers; got 'pre_root_id'",
         nk.read_edges, DIR .. "noheader.tsv", {pre = "pre_root_id"})
-- semicolons, lowercase transmitters; runs of blanks; an explicit delimiter
local SC = parse(DIR .. "semicolon.csv", ";", true, {pre = "source", post = "target",
                 weight = "weight", sign = "nt"}, INH)
check_edges(nk.read_edges(DIR .. "semicolon.csv"), SC, sorted_ids(SC),
            "semicolon.csv (transmitter names in any case)")
local SP = parse(DIR .. "spaces.txt", nil, true, {pre = "pre", post = "post", weight = "w"})
check_edges(nk.read_edges(DIR .. "spaces.txt"), SP, sorted_ids(SP), "spaces.txt")
local PI = parse(DIR .. "pipe.txt", "|", true, {pre = "from", post = "to", weight = "count"})
check_edges(nk.read_edges(DIR .. "pipe.txt", {delimiter = "|"}), PI, sorted_ids(PI),
            "pipe.txt with delimiter = '|' (negative ids)")

-- ---- connecting ----------------------------------------------------------------------------

do
  local net = nk.network{seed = 1, dt = 0.1}
  local p = net:population("lif", EN.nids, {name = "fly", ids = EN})
  T.same_list(p:ids(), all_ids, "a population with ids = E carries E's sorted ids")
  local okmap = true
  for i, id in ipairs(all_ids) do okmap = okmap and p:index_of(id) == i end
  T.ok(okmap, "pop:index_of finds every id")
  local exc, inh = net:connect(p, p, {rule = "edges", edges = EN, weight = 2, delay = 1.8})
  check_proj(exc, FW, p, p, pos, 2, 1.8, "edges: excitatory")
  check_proj(inh, FW, p, p, neg, 2, 1.8, "edges: inhibitory (GABA, GLUT)")
  T.eq(exc and exc.receptor, "exc", "excitatory edges feed 'exc'")
  T.eq(inh and inh.receptor, "inh", "inhibitory edges feed 'inh'")
  T.eq((exc and #exc or 0) + (inh and #inh or 0), #FW, "every edge became a synapse")

  -- the rule is implied by 'edges'; another inhibitory set; all excitatory
  local E2 = nk.read_edges(DIR .. "flywire.csv", {inhibitory = {"DA"}})
  local FW2 = parse(DIR .. "flywire.csv", ",", true, fw_cols, {DA = true})
  local x2, i2 = net:connect(p, p, {edges = E2, weight = 0.5})
  check_proj(x2, FW2, p, p, pos, 0.5, nil, "inhibitory = {DA}: excitatory")
  check_proj(i2, FW2, p, p, neg, 0.5, nil, "inhibitory = {DA}: inhibitory")
  local E3 = nk.read_edges(DIR .. "flywire.csv", {inhibitory = {}})
  local x3, i3 = net:connect(p, p, {edges = E3})
  T.ok(x3 ~= nil and #x3 == #FW and i3 == nil,
       "no inhibitory values: one excitatory projection, no inhibitory one")
  if x3 then
    local S, okw = x3:synapses(), true
    for k = 1, #S.weight do okw = okw and S.weight[k] > 0 end
    T.ok(okw, "weight 1 by default: the file's counts")
  end
  -- delays from a distribution
  local x4 = net:connect(p, p, {edges = E3, delay = nk.uniform(1, 2)})
  local S, okd = x4:synapses(), true
  for k = 1, #S.delay do okd = okd and S.delay[k] >= 1 - 1e-9 and S.delay[k] <= 2 + 1e-9 end
  T.ok(okd and #S.delay == #FW, "edges with delays from nk.uniform(1, 2)")
  -- a weight distribution cannot scale a file silently as 1
  local okd2, P5 = pcall(net.connect, net, p, p, {edges = E3, weight = nk.uniform(2, 3)})
  if okd2 then
    local S5, scaled = P5:synapses(), true
    local S3 = x3:synapses()
    for k = 1, #S5.weight do
      local r = S5.weight[k] / S3.weight[k]
      scaled = scaled and r >= 2 - 1e-6 and r < 3 + 1e-6
    end
    T.ok(scaled, "edges with weight = nk.uniform(2, 3): weights scaled by draws in [2, 3)")
  else
    T.ok(tostring(P5):find("weight", 1, true), "edges with a weight distribution: " ..
         tostring(P5))
  end

  -- skip_unknown: a population holding only some of the ids
  local some = {FW[1].pre, FW[1].post, FW[4].pre} -- ids of neurons 1, 2, 3
  local sub = net:population("lif", #some, {name = "sub", ids = some})
  local inset = {}
  for _, id in ipairs(some) do inset[id] = true end
  local first
  for k, e in ipairs(FW) do
    if not (inset[e.pre] and inset[e.post]) then first = k break end
  end
  local which = inset[FW[first].pre] and "post" or "pre"
  local unknown = which == "pre" and FW[first].pre or FW[first].post
  T.raises(string.format("connect: edge %d: %s id %d is not in population 'sub' (skip_unknown "
                         .. "= true leaves such edges out)", first, which, unknown),
           net.connect, net, sub, sub, {edges = EN})
  local sx, si = net:connect(sub, sub, {edges = EN, skip_unknown = true, weight = 3})
  local function known(e) return inset[e.pre] and inset[e.post] end
  check_proj(sx, FW, sub, sub, function(e) return known(e) and e.w >= 0 end, 3, nil,
             "skip_unknown: excitatory")
  check_proj(si, FW, sub, sub, function(e) return known(e) and e.w < 0 end, 3, nil,
             "skip_unknown: inhibitory")

  -- two populations with different id sets: the sources' and the targets'
  local function distinct(field)
    local set, out = {}, {}
    for _, e in ipairs(FW) do
      if not set[e[field]] then set[e[field]] = true out[#out + 1] = e[field] end
    end
    return out
  end
  local pre_ids, post_ids = distinct("pre"), distinct("post")
  -- reverse one list so that the populations' orders differ from E's
  for k = 1, #post_ids // 2 do
    post_ids[k], post_ids[#post_ids + 1 - k] = post_ids[#post_ids + 1 - k], post_ids[k]
  end
  local src = net:population("lif", #pre_ids, {name = "src", ids = pre_ids})
  local dst = net:population("lif", #post_ids, {name = "dst", ids = post_ids})
  local dx, di = net:connect(src, dst, {edges = E, weight = 1.5, delay = 0.7})
  check_proj(dx, FW, src, dst, pos, 1.5, 0.7, "two populations: excitatory")
  check_proj(di, FW, src, dst, neg, 1.5, 0.7, "two populations: inhibitory")
  -- the sources' population lacks some targets: with skip_unknown, only
  -- edges whose target is also a source
  local srcset = {}
  for _, id in ipairs(pre_ids) do srcset[id] = true end
  local bx, bi = net:connect(src, src, {edges = E, skip_unknown = true})
  check_proj(bx, FW, src, src, function(e) return srcset[e.post] and e.w >= 0 end, 1, nil,
             "sources onto themselves, skipping the rest")
  check_proj(bi, FW, src, src, function(e) return srcset[e.post] and e.w < 0 end, 1, nil,
             "sources onto themselves, skipping the rest (inhibitory)")

  -- bad uses
  local noid = net:population("lif", 8, {name = "noid"})
  local nproj = #net:projections()
  T.raises("population 'noid' has no ids to match the file's (create it with ids = the edges)",
           net.connect, net, noid, p, {edges = EN})
  T.raises("rule 'edges' connects whole populations (their ids pick the neurons), not slices",
           net.connect, net, p:slice(1, 4), p, {edges = EN})
  T.raises("weight scales the file's weights and must be > 0, got -1", net.connect, net, p, p,
           {edges = EN, weight = -1})
  T.raises("weight scales the file's weights and must be > 0, got 0", net.connect, net, p, p,
           {edges = EN, weight = 0})
  T.raises("option 'edges' must be an edge list from nk.read_edges, got table", net.connect,
           net, p, p, {edges = {}})
  T.raises("option 'edges' does not belong to rule 'bernoulli'", net.connect, net, p, p,
           {rule = "bernoulli", p = 0.1, edges = EN})
  T.raises("option 'skip_unknown' does not belong to rule 'all_to_all'", net.connect, net, p, p,
           {rule = "all_to_all", skip_unknown = true})
  T.raises("rule 'edges' needs option 'edges'", net.connect, net, p, p, {rule = "edges"})
  T.raises("a delay that depends on d needs positions", net.connect, net, p, p,
           {edges = EN, delay = "1 + d/100"})
  T.raises("ids: population 'short' has 5 neurons, got 8 ids", net.population, net, "lif", 5,
           {name = "short", ids = EN})
  T.eq(#net:projections(), nproj, "the failed calls left no projection behind")
  local okr, err = pcall(net.run, net, 2)
  T.ok(okr, "the network runs after the errors: " .. tostring(err))
end

-- ---- E:free() ---------------------------------------------------------------------------------

do
  local net = nk.network{}
  local F = nk.read_edges(DIR .. "flywire.csv")
  local p = net:population("lif", F.nids, {name = "kept", ids = F})
  F:free()
  T.raises("this edge list has been freed", function() return #F end)
  T.raises("this edge list has been freed", F.get, F, 1)
  T.eq(tostring(F), "edge list (freed)", "tostring of a freed edge list")
  T.raises("option 'edges' must be an edge list from nk.read_edges, got a freed one",
           net.connect, net, p, p, {edges = F})
  T.raises("ids: this edge list has been freed", net.population, net, "lif", 6, {ids = F})
  local ok = pcall(F.free, F)
  T.ok(ok, "freeing twice is harmless")
  T.eq(p:index_of(FW[1].pre), (function()
    for i, id in ipairs(sorted_ids(FW)) do if id == FW[1].pre then return i end end
  end)(), "a population keeps its ids after the edge list is freed")
  ok = pcall(net.run, net, 1)
  T.ok(ok, "the network runs after the freed-list errors")
end

-- ---- malformed files: each error names the file, the line and what was expected ---------

local function bad(text, file, opts, named)
  local path = DIR .. file
  local err = T.raises(text, nk.read_edges, path, opts)
  named = named or path
  T.ok(err and err:find(named, 1, true), "the message names the file: " .. tostring(err))
end
T.raises("cannot open '" .. DIR .. "no_such_file.csv': No such file or directory",
         nk.read_edges, DIR .. "no_such_file.csv")
bad("empty.csv: the file is empty (expected a header and edges)", "empty.csv")
bad("comments_only.csv: the file is empty", "comments_only.csv")
bad("missing_column.csv:1: no pre column (expected one of 'pre_root_id', 'pre', 'source', ... "
    .. "or name it) in the header (it has 'source_x', 'target_x', 'count')",
    "missing_column.csv")
bad("flywire.csv:1: no weight column 'weight' in the header (it has 'pre_root_id', "
    .. "'post_root_id', 'neuropil', 'syn_count', 'nt_type')", "flywire.csv", {weight = "weight"})
bad("flywire.csv:1: no sign column '9' in the header", "flywire.csv", {sign = 9})
bad("flywire.csv:2: weight 'AVLP_R' is not a finite number", "flywire.csv",
    {weight = "neuropil"})
bad("bad_pre_id.csv:4: pre id '72057594062167x174' is not an integer", "bad_pre_id.csv")
bad("bad_post_id.csv:2: post id '1.5e17' is not an integer", "bad_post_id.csv")
bad("overflow_id.csv:3: pre id '99999999999999999999' is not an integer", "overflow_id.csv")
bad("bad_weight.csv:3: weight 'twelve' is not a finite number", "bad_weight.csv")
bad("nan_weight.csv:2: weight 'nan' is not a finite number", "nan_weight.csv")
bad("few_fields.csv:4: 2 fields, expected at least 5", "few_fields.csv")
bad("binary.bin:3: a NUL byte: this is not a text (CSV/TSV) file", "binary.bin")
bad("junk.bin:2: pre id '", "junk.bin")
bad("pipe.txt:1: no pre column", "pipe.txt")
bad("bad_nodes.csv:3: 'abc' is not an integer id (column 1)", "flywire.csv",
    {nodes = DIR .. "bad_nodes.csv"}, DIR .. "bad_nodes.csv:3:")
T.raises("cannot open '" .. DIR .. "nope_nodes.csv'", nk.read_edges, DIR .. "flywire.csv",
         {nodes = DIR .. "nope_nodes.csv"})
T.raises("unknown option 'weigth' for nk.read_edges (did you mean 'weight'?)", nk.read_edges,
         DIR .. "flywire.csv", {weigth = "syn_count"})
T.raises("option 'delimiter' for nk.read_edges must be one character, got ';;'", nk.read_edges,
         DIR .. "flywire.csv", {delimiter = ";;"})
T.raises("option 'inhibitory' for nk.read_edges: entry 2 must be a string", nk.read_edges,
         DIR .. "flywire.csv", {inhibitory = {"GABA", 5}})
T.raises("option 'pre' for nk.read_edges must be a column name or number, got table",
         nk.read_edges, DIR .. "flywire.csv", {pre = {}})

-- a quote left open: named with its line (the rest of the line was taken as the field)
do
  local q = string.format("edges-quote-%d-%d.csv", os.time(), math.random(1, 1e9))
  local function open_quote(text, want)
    local f = assert(io.open(q, "wb"))
    f:write(text)
    f:close()
    T.raises(q .. want .. ": a quoted field is not closed on its line (a field may not span lines)",
             nk.read_edges, q)
  end
  open_quote('pre,post,weight\n1,2,3\n4,5,"6\n', ":3")
  open_quote('pre,post\n"1,2\n3,4\n', ":2")
  open_quote('"pre,post\n1,2\n', ":1")
  local f = assert(io.open(q, "wb"))
  f:write('pre,post\n1,2,"a,""b"""\n')
  f:close()
  T.eq(#nk.read_edges(q), 1, "a closed quoted field with a doubled quote reads")
  os.remove(q)
end

-- huge lines (made here, larger than the reader's first 4 MB block)
do
  local big = string.format("edges-huge-%d-%d.csv", os.time(), math.random(1, 1e9))
  local f = assert(io.open(big, "wb"))
  f:write("pre_root_id,post_root_id,neuropil,syn_count,nt_type\n")
  f:write("1,2,", string.rep("N", 6 * 1024 * 1024), ",3,ACH\n")
  f:write("2,3,ME_R,4,GABA\n")
  f:close()
  local ok, H = pcall(nk.read_edges, big)
  T.ok(ok, "a 6 MB line with valid ids reads: " .. tostring(H))
  if ok then
    local a, b, w = H:get(1)
    local c, d, x = H:get(2)
    T.ok(#H == 2 and a == 1 and b == 2 and w == 3 and c == 2 and d == 3 and x == -4,
         "the edges around a 6 MB field are right")
  end
  f = assert(io.open(big, "wb"))
  f:write("pre_root_id,post_root_id,syn_count\n1,2,3\n")
  f:write(string.rep("7", 5 * 1024 * 1024), ",2,3\n")
  f:close()
  local err = T.raises(big .. ":3: pre id '7777", nk.read_edges, big)
  T.ok(err and #err < 10000, "the message about a huge id stays short (" ..
       tostring(err and #err) .. " bytes)")
  f = assert(io.open(big, "wb"))
  f:write(string.rep("x", 5 * 1024 * 1024)) -- a single huge line, no newline
  f:close()
  err = T.raises(big .. ":1: no pre column", nk.read_edges, big)
  T.ok(err and #err < 10000, "the message about a huge header stays short")
  os.remove(big)
end

-- ---- a large file, read by several threads ---------------------------------------------
-- The reader cuts the file into blocks (4 MB a thread) and each block into
-- runs of lines (at least 64 kB) that threads read at once. A file of about
-- 10 MB crosses blocks with one and two threads and makes many runs with
-- more; every thread count must give the same edges, in the file's order,
-- and the same line in a message.
do
  math.randomseed(20261123)
  local pool = {}
  for k = 1, 3000 do pool[k] = 720575940300000000 + k * 7919 end
  -- a few ids read by the slow path: 19 digits, a sign, leading zeros
  pool[#pool + 1] = 1234567890123456789
  pool[#pool + 1] = -42
  pool[#pool + 1] = 7
  local spell = {[1234567890123456789] = "1234567890123456789", [-42] = "-42", [7] = "+0007"}
  local nts = {"ACH", "GABA", "GLUT", "gaba", "SER"}
  local lines, want = {"pre_root_id,post_root_id,neuropil,syn_count,nt_type"}, {}
  local pre = pool[1]
  for i = 1, 220000 do
    local r = i % 1000
    if r == 97 then
      lines[#lines + 1] = "# a comment, 2,3,4"
    elseif r == 101 then
      lines[#lines + 1] = ""
    end
    if math.random() < 0.02 then pre = pool[math.random(#pool)] end -- runs of one source
    local post = pool[math.random(#pool)]
    -- two ids on one edge each, late: left out of a population below
    if i == 120000 then post = 5555 elseif i == 200000 then pre = 6666 end
    local w = math.random(1, 200)
    local nt = nts[math.random(#nts)]
    local ws = tostring(w)
    if i % 7 == 0 then ws = w .. ".5"; w = w + 0.5 end
    local neg = nt == "GABA" or nt == "GLUT" or nt == "gaba"
    want[#want + 1] = {pre, post, neg and -w or w}
    local a, b = spell[pre] or tostring(pre), spell[post] or tostring(post)
    local line
    if i % 53 == 0 then
      line = string.format(' %s , "%s","AVLP,R", %s ,"%s"', a, b, ws, nt)
    else
      line = string.format("%s,%s,SMP_R,%s,%s", a, b, ws, nt)
    end
    if i % 89 == 0 then line = line .. "\r" end
    lines[#lines + 1] = line
  end
  local text = table.concat(lines, "\n") -- the last line without its newline
  T.ok(#text > 9 * 1024 * 1024, "the large file has more than 9 MB (" .. #text .. ")")
  local path = string.format("edges-large-%d-%d.csv", os.time(), math.random(1, 1e9))
  local nodes = path .. ".nodes"
  T.write_file(path, text)
  -- a node file with some of the ids and one without edges: the rest are new
  T.write_file(nodes, "root_id\n" .. pool[5] .. "\n" .. pool[2000] .. "\n99\n")
  local ids = {[99] = true}
  for _, e in ipairs(want) do ids[e[1]] = true ids[e[2]] = true end
  local sorted = {}
  for id in pairs(ids) do sorted[#sorted + 1] = id end
  table.sort(sorted)
  -- connected onto a population without the two late ids: the first edge
  -- with one is named, or both are left out, on one thread or four
  do
    local E = nk.read_edges(path, {nodes = nodes})
    local known = {}
    for _, id in ipairs(sorted) do
      if id ~= 5555 and id ~= 6666 then known[#known + 1] = id end
    end
    for _, nt in ipairs{1, 4} do
      local net = nk.network{threads = nt}
      local p = net:population("lif", #known, {name = "known", ids = known})
      T.raises("connect: edge 120000: post id 5555 is not in population 'known'", net.connect,
               net, p, p, {edges = E, weight = 1})
      local exc, inh = net:connect(p, p, {edges = E, weight = 1, skip_unknown = true})
      local skipped = 0
      for i = 1, #want do
        if i == 120000 or (want[i][1] == 6666 or want[i][2] == 6666) then
          skipped = skipped + 1
        end
      end
      T.eq(#exc + #inh, #want - skipped, nt .. " threads: the edges without the two ids")
    end
    E:free()
  end
  for _, nt in ipairs{1, 2, 3, 8} do
    local ok, E = pcall(nk.read_edges, path, {nodes = nodes, threads = nt})
    T.ok(ok, nt .. " threads: the large file reads: " .. tostring(not ok and E))
    if ok then
      T.eq(#E, #want, nt .. " threads: edges")
      local bad
      for i = 1, #want do
        local a, b, w = E:get(i)
        local x = want[i]
        if a ~= x[1] or b ~= x[2] or w ~= x[3] then
          bad = string.format("edge %d: %s %s %s, expected %s %s %s", i, a, b, w, x[1], x[2], x[3])
          break
        end
      end
      T.ok(not bad, nt .. " threads: every edge as written, in order: " .. tostring(bad))
      T.same_list(E:ids(), sorted, nt .. " threads: the distinct ids, sorted")
    end
  end
  -- errors deep in the file: the first in the file's order, at its line
  -- (the header is line 1; comments and blank lines count)
  local function data_line(n) -- the file line of the n-th edge
    local seen = 0
    for k = 2, #lines do
      if lines[k] ~= "" and lines[k]:sub(1, 1) ~= "#" then
        seen = seen + 1
        if seen == n then return k end
      end
    end
  end
  local l1, l2 = data_line(150001), data_line(190001)
  local saved1, saved2 = lines[l1], lines[l2]
  lines[l1] = "720575940300007919,x12,SMP_R,3,ACH"
  lines[l2] = "1,2,SMP\0R,3,ACH"
  T.write_file(path, table.concat(lines, "\n"))
  for _, nt in ipairs{1, 4} do
    T.raises(path .. ":" .. l1 .. ": post id 'x12' is not an integer", nk.read_edges, path,
             {threads = nt})
  end
  lines[l1] = saved1
  T.write_file(path, table.concat(lines, "\n"))
  for _, nt in ipairs{1, 4} do
    T.raises(path .. ":" .. l2 .. ": a NUL byte: this is not a text (CSV/TSV) file",
             nk.read_edges, path, {threads = nt})
  end
  lines[l2] = "5,6"
  T.write_file(path, table.concat(lines, "\n"))
  T.raises(path .. ":" .. l2 .. ": 2 fields, expected at least 5", nk.read_edges, path,
           {threads = 3})
  lines[l2] = saved2
  os.remove(path)
  os.remove(nodes)
  T.raises("option 'threads' for nk.read_edges: expected 0 (one per CPU) to 256, got -1",
           nk.read_edges, DIR .. "flywire.csv", {threads = -1})
end

-- ids are read eight digits at a time: a character just outside '0'..'9'
-- ('/' and ':') anywhere in them is refused, and every length up to 18
-- digits (and past it) reads as the number
do
  local path = os.tmpname()
  for _, id in ipairs{"1234567/", "12345678:", "72057594:340717878", "7205759/4340717878",
                      "720575940340717:78", "/2345678", "12345678123456789:"} do
    T.write_file(path, "pre,post\n1,2\n" .. id .. ",5\n")
    T.raises(path .. ":3: pre id '" .. id .. "' is not an integer", nk.read_edges, path)
  end
  local want, text = {}, {"pre,post"}
  for n = 1, 19 do
    local s = ("9123456780123456789"):sub(1, n)
    want[#want + 1] = math.tointeger(tonumber(s))
    text[#text + 1] = s .. "," .. n
  end
  T.write_file(path, table.concat(text, "\n") .. "\n")
  local ok, E = pcall(nk.read_edges, path)
  T.ok(ok, "ids of 1 to 19 digits read: " .. tostring(not ok and E))
  if ok then
    local got = {}
    for i = 1, #E do got[i] = (E:get(i)) end
    T.same_list(got, want, "ids of 1 to 19 digits")
  end
  os.remove(path)
end

-- ---- a loaded circuit runs ------------------------------------------------------------------

do
  local CH = nk.read_edges(DIR .. "chain.csv", {nodes = DIR .. "chain_neurons.csv"})
  T.eq(CH.nids, 6, "chain: 6 neurons, one of them without edges")
  local net = nk.network{seed = 3, dt = 0.1}
  local p = net:population("lif", CH.nids, {name = "chain", ids = CH})
  local exc, inh = net:connect(p, p, {edges = CH, weight = 200, delay = 1.5})
  T.ok(exc and #exc == 3 and inh and #inh == 1, "chain: 3 excitatory edges, 1 inhibitory")
  local i101 = p:index_of(101)
  net:source("dc", p:slice(i101, i101), {amplitude = 800})
  local m = net:monitor("spikes", p)
  net:run(100)
  local first, count = {}, {}
  local times, ids = m:times(), m:ids()
  for k = 1, #times do
    local id = p:ids()[ids[k]]
    count[id] = (count[id] or 0) + 1
    if not first[id] then first[id] = times[k] end
  end
  T.ok((count[101] or 0) >= 3, "chain: the driven neuron 101 fires repeatedly")
  T.ok(first[102] and first[103] and first[104], "chain: activity travels to 102, 103 and 104")
  if first[101] and first[102] and first[103] and first[104] then
    T.ok(first[102] >= first[101] + 1.5 - 1e-9 and first[103] >= first[102] + 1.5 - 1e-9 and
         first[104] >= first[103] + 1.5 - 1e-9,
         string.format("chain: each link at least one delay later (%g, %g, %g, %g ms)",
                       first[101], first[102], first[103], first[104]))
  end
  T.eq(count[105], nil, "chain: 105, inhibited only, stays silent")
  T.eq(count[106], nil, "chain: 106, without edges, stays silent")
end

-- weights: finite and at most 1e30 in magnitude (float32, with room for
-- connect's scale); a value past that is out of range, not "not finite";
-- one too small for a double reads as 0
do
  local path = os.tmpname()
  local function weight(w, sign)
    local f = assert(io.open(path, "w"))
    f:write("pre,post,w", sign and ",sign" or "", "\n1,2,", w, sign and "," .. sign or "", "\n")
    f:close()
  end
  for _, w in ipairs{"3.5e38", "-3.5e38", "1.000001e30", "1e300"} do
    weight(w)
    local err = T.raises(path .. ":2: weight '" .. w .. "' is out of range: weights must be "
                         .. "finite and at most 1e30 in magnitude", nk.read_edges, path)
    T.ok(err and not err:find("not a finite number", 1, true),
         "weight " .. w .. ": not called 'not a finite number'")
  end
  for _, w in ipairs{"inf", "-inf", "nan", "1e400", "-1e999", "0x", "1e30x"} do
    weight(w)
    T.raises(path .. ":2: weight '" .. w .. "' is not a finite number", nk.read_edges, path)
  end
  for _, c in ipairs{{"1e30", 1e30}, {"-1e30", -1e30}, {"1e-400", 0}, {"2.5e-3", 2.5e-3}} do
    weight(c[1])
    local ok, e = pcall(nk.read_edges, path)
    T.ok(ok, "weight " .. c[1] .. " is read: " .. tostring(not ok and e))
    if ok then
      local _, _, w = e:get(1)
      T.ok(math.abs(w - c[2]) <= 1e-6 * math.abs(c[2]), "weight " .. c[1] .. " reads as " .. tostring(w))
    end
  end
  weight("1e30", "GABA") -- the sign applies within the range
  local ok, e = pcall(nk.read_edges, path)
  T.ok(ok and select(3, e:get(1)) < -0.99e30, "1e30 with sign GABA reads as -1e30")
  os.remove(path)
end

-- wide files: columns past the 64th are found; more than 1023 are refused
do
  local path = os.tmpname()
  local function write(ncols)
    local h, r = {}, {}
    for i = 0, ncols - 1 do h[#h + 1], r[#r + 1] = "c" .. i, i end
    local f = assert(io.open(path, "w"))
    f:write(table.concat(h, ","), "\n", table.concat(r, ","), "\n")
    f:close()
  end
  write(70)
  local ok, e = pcall(nk.read_edges, path, {pre = "c1", post = "c69", weight = "c68"})
  T.ok(ok, "a column past the 64th is found: " .. tostring(not ok and e))
  if ok then T.eq(#e, 1, "wide file: one edge") end
  local f = assert(io.open(path, "w")) -- a byte-order mark before the header
  f:write("\xEF\xBB\xBFpre_root_id,post_root_id,syn_count\n10,20,3\n")
  f:close()
  ok, e = pcall(nk.read_edges, path)
  T.ok(ok, "a UTF-8 byte-order mark before the header is skipped: " .. tostring(not ok and e))
  write(1100)
  T.raises("more than 1023 columns", nk.read_edges, path, {pre = "c1", post = "c2"})
  os.remove(path)
end

T.done("edges")
