-- nk.plot: raster, trace and rate plots of monitors (lua/nk_plot.c,
-- docs/plots.md), to PNG, SVG and PDF files and as a braille preview.
--
-- Files are looked into by tests/cli/plotcheck (its path in
-- NKSHELL_PLOTCHECK): a PNG is decoded (size, how much ink, where the frame
-- and the coloured data pixels are), an SVG parsed as XML, a PDF's header and
-- MediaBox read. Previews are printed by a child nkshell whose stdout is a
-- pipe, so they are 80 columns wide (or $COLUMNS). Then the refusals: bad
-- extension, option, monitor, value and path, and empty monitors.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "check.lua")

local PLOTCHECK = os.getenv("NKSHELL_PLOTCHECK")
local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local nkshell
do
  local i = 0
  while arg[i - 1] do i = i - 1 end
  nkshell = arg[i]
end

local dir = string.format("plot-%d-%d", os.time(), math.random(1, 1e9))
os.execute("mkdir -p " .. q(dir))
local function path(name) return dir .. "/" .. name end

local function exists(p)
  local f = io.open(p, "rb")
  if f then f:close() end
  return f ~= nil
end

-- plotcheck's key=value line as a table (numbers where they are numbers;
-- x0,y0,x1,y1 as lists); {} when it failed.
local function look(p)
  if not PLOTCHECK then return {} end
  local h = io.popen(q(PLOTCHECK) .. " " .. q(p) .. " 2>&1")
  local line = h:read("a")
  h:close()
  local r = {raw = line}
  for k, v in line:gmatch("(%w+)=(%S+)") do
    if v:find(",") and not v:find("[^%d%.,%-]") then
      local l = {}
      for n in v:gmatch("[^,]+") do l[#l + 1] = tonumber(n) end
      r[k] = l
    else
      r[k] = tonumber(v) or v
    end
  end
  return r
end

T.ok(PLOTCHECK and exists(PLOTCHECK), "NKSHELL_PLOTCHECK names the plotcheck program")
T.ok(type(nk.plot) == "table" and type(nk.plot.raster) == "function" and
     type(nk.plot.trace) == "function" and type(nk.plot.rate) == "function",
     "nk.plot has raster, trace and rate")

-- ---- a network: the upper half of 'exc' and all of 'inh' fire, 'quiet' does not --------

local NET = [[
local net = nk.network{dt = 0.1, seed = 3}
local exc = net:population("lif", 40, {name = "exc"})
local inh = net:population("lif", 20, {name = "inh", init = {v = nk.uniform(-70, -55)}})
local quiet = net:population("lif", 10, {name = "quiet"})
net:source("equation", exc:slice(21, 40), {I = "450 + 10*i"})
net:source("dc", inh, {amplitude = 600})
local sp = net:monitor("spikes", exc)
local si = net:monitor("spikes", inh)
local sq = net:monitor("spikes", quiet)
local vm = net:monitor("state", exc:slice(21, 25), {vars = {"v"}})
local rm = net:monitor("rate", exc, {bin = 2})
net:run(200)
]]
local sp, si, sq, vm, rm, net = load(NET .. "return sp, si, sq, vm, rm, net")()
T.ok(sp:count() > 100 and si:count() > 50 and sq:count() == 0,
     string.format("the network fires as planned (exc %d, inh %d, quiet %d spikes)", sp:count(),
                   si:count(), sq:count()))
local lower = 0
for _, id in ipairs(sp:ids()) do if id <= 20 then lower = lower + 1 end end
T.eq(lower, 0, "no spikes in the lower half of 'exc'")

-- A PNG's frame is inside the image, and the coloured pixels inside the frame.
local function sane_png(r, w, h, what)
  T.eq(r.format, "png", what .. ": a PNG (" .. tostring(r.raw) .. ")")
  T.eq(r.width, w, what .. ": width")
  T.eq(r.height, h, what .. ": height")
  T.ok(type(r.ink) == "number" and r.ink > 0.01 and r.ink < 0.6,
       what .. ": not blank, not filled (ink " .. tostring(r.ink) .. ")")
  local f, c = r.frame, r.cbox
  T.ok(type(f) == "table" and f[1] > 0.03 * w and f[2] > 0.02 * h and f[3] < w - 3 and
       f[4] < h - 0.05 * h and f[3] - f[1] > 0.5 * w and f[4] - f[2] > 0.5 * h,
       what .. ": a frame with margins around it (" .. tostring(r.raw) .. ")")
  if type(f) == "table" and type(c) == "table" and r.color > 0 then
    T.ok(c[1] >= f[1] - 1 and c[3] <= f[3] + 1 and c[2] >= f[2] - 1 and c[4] <= f[4] + 1 or
         what:find("legend"),
         what .. ": the data lies inside the frame (" .. tostring(r.raw) .. ")")
  end
  return f, c
end

-- ---- raster ------------------------------------------------------------------------------

do
  local f = path("raster.png")
  T.eq(nk.plot.raster(sp, f), f, "raster: returns the file name")
  local r = look(f)
  local fr, cb = sane_png(r, 800, 500, "raster png")
  T.ok(r.color and r.color > 300, "raster png: many coloured (spike) pixels: " .. tostring(r.color))
  T.ok(r.top and r.top > 20 * (r.bottom + 1),
       string.format("raster png: spikes of neurons 21..40 in the upper half of the frame " ..
                     "(top %s, bottom %s)", tostring(r.top), tostring(r.bottom)))
  if fr and cb then
    T.ok(cb[3] - cb[1] > 0.8 * (fr[3] - fr[1]),
         "raster png: the spikes span the time axis (" .. r.raw .. ")")
  end

  f = path("raster-size.png")
  nk.plot.raster(sp, f, {width = 640, height = 400, title = "Custom", xlabel = "t", ylabel = "#"})
  sane_png(look(f), 640, 400, "raster png 640x400")

  f = path("stacked.png")
  nk.plot.raster({sp, si}, f)
  r = look(f)
  sane_png(r, 800, 500, "stacked raster png legend")
  T.ok(r.c0 and r.c0 > 100 and r.c1 and r.c1 > 100,
       "stacked raster: both populations in their colours (" .. tostring(r.raw) .. ")")
  T.ok(r.c1y and r.c0y and r.c1y < r.c0y, "stacked raster: 'inh' stacked above 'exc'")

  f = path("zoom.png")
  nk.plot.raster(sp, f, {xlim = {50, 100}, ylim = {15, 30}, grid = true})
  r = look(f)
  sane_png(r, 800, 500, "raster png zoomed")
  T.ok(r.color and r.color > 50, "raster png zoomed: spikes in the window")
  T.ok(r.top and r.top > 3 * (r.bottom + 1),
       "raster png zoomed to neurons 15..30: spikes (21..30) only above the middle")

  f = path("raster.svg")
  T.eq(nk.plot.raster(sp, f), f, "raster svg: returns the file name")
  r = look(f)
  T.eq(r.format, "svg", "raster svg: parses as XML (" .. tostring(r.raw) .. ")")
  T.eq(r.root, "svg", "raster svg: the root is <svg>")
  T.eq(r.width, "800pt", "raster svg: width in points")
  T.eq(r.height, "500pt", "raster svg: height in points")
  T.eq(r.images, 0, "raster svg: a sparse raster's dots are vector shapes")

  f = path("raster.pdf")
  nk.plot.raster({sp, si}, f, {width = 360, height = 240})
  r = look(f)
  T.eq(r.format, "pdf", "raster pdf: starts with %PDF (" .. tostring(r.raw) .. ")")
  T.eq(r.pages, 1, "raster pdf: one page")
  T.ok(type(r.mediabox) == "table" and r.mediabox[3] == 360 and r.mediabox[4] == 240,
       "raster pdf: a 360 x 240 pt MediaBox (" .. tostring(r.raw) .. ")")


  -- dense: more than 30,000 dots go into SVG as an image of the data area
  local nd = nk.network{dt = 0.1, seed = 4}
  local pd = nd:population("lif", 2000, {name = "dense", params = {I_e = 1000},
                                          init = {v = nk.uniform(-70, -55)}})
  local sd = nd:monitor("spikes", pd)
  nd:run(300)
  T.ok(sd:count() > 60000, "the dense network fires " .. sd:count() .. " spikes")
  f = path("dense.svg")
  nk.plot.raster(sd, f)
  r = look(f)
  T.ok(r.root == "svg" and r.images == 1, "dense raster svg: one embedded image (" ..
       tostring(r.raw) .. ")")
  local h = io.open(f, "rb")
  local size = h and h:seek("end") or 0
  if h then h:close() end
  -- (as 90,000 vector dots it would be about 8 MB)
  T.ok(size > 1000 and size < 4e6, "dense raster svg: a smaller file (" .. size .. " bytes)")
  f = path("dense.png")
  nk.plot.raster(sd, f)
  r = look(f)
  sane_png(r, 800, 500, "dense raster png")
  T.ok(r.color > 0.5 * (r.frame[3] - r.frame[1]) * (r.frame[4] - r.frame[2]),
       "dense raster png: the data area mostly coloured (" .. r.raw .. ")")

  f = path("UPPER.PNG")
  nk.plot.raster(sp, f)
  T.eq(look(f).format, "png", "the extension is case-insensitive (.PNG)")
  f = path("upper.Svg")
  nk.plot.raster(sp, f)
  T.eq(look(f).format, "svg", "the extension is case-insensitive (.Svg)")
end

-- ---- trace -------------------------------------------------------------------------------

do
  local f = path("trace.png")
  T.eq(nk.plot.trace(vm, f), f, "trace: returns the file name")
  local r = look(f)
  local fr, cb = sane_png(r, 800, 500, "trace png legend")
  T.ok(r.c0 and r.c0 > 100 and r.c1 and r.c1 > 100 and r.c2 and r.c2 > 100,
       "trace png: a line per neuron, each in its colour (" .. tostring(r.raw) .. ")")
  if fr and cb then
    T.ok(cb[1] <= fr[1] + 3, "trace png: the traces start at the left edge (" .. r.raw .. ")")
  end

  f = path("trace-one.png")
  nk.plot.trace(vm, f, {neurons = {2}, xlim = {50, 150}, ylim = {-72, -50}})
  r = look(f)
  fr, cb = sane_png(r, 800, 500, "trace png one neuron")
  T.ok(r.c0 and r.c0 > 200 and r.c1 == 0, "trace png neurons = {2}: one line, one colour")
  if fr and cb then
    T.ok(cb[3] - cb[1] > 0.9 * (fr[3] - fr[1]),
         "trace png: the trace spans the window (" .. r.raw .. ")")
  end

  f = path("trace.svg")
  nk.plot.trace(vm, f, {width = 400, height = 300.5})
  r = look(f)
  T.ok(r.root == "svg" and r.width == "400pt" and r.height == "300.5pt",
       "trace svg: <svg> of 400 x 300.5 pt (" .. tostring(r.raw) .. ")")
  f = path("trace.pdf")
  nk.plot.trace(vm, f)
  r = look(f)
  T.ok(r.format == "pdf" and r.pages == 1 and type(r.mediabox) == "table" and
       r.mediabox[3] == 800 and r.mediabox[4] == 500,
       "trace pdf: one 800 x 500 pt page (" .. tostring(r.raw) .. ")")
end

-- ---- rate --------------------------------------------------------------------------------

do
  local f = path("rate.png")
  T.eq(nk.plot.rate(sp, f, {bin = 10}), f, "rate: returns the file name")
  local r = look(f)
  local fr, cb = sane_png(r, 800, 500, "rate png")
  T.ok(r.c0 and r.c0 > 200, "rate png: a line in the first colour (" .. tostring(r.raw) .. ")")
  if fr and cb then
    T.ok(cb[3] - cb[1] > 0.9 * (fr[3] - fr[1]), "rate png: the rate spans the time axis")
  end
  f = path("rate-mon.png")
  nk.plot.rate({rm, si}, f)
  r = look(f)
  sane_png(r, 800, 500, "rate png of a rate and a spike monitor legend")
  T.ok(r.c0 and r.c0 > 100 and r.c1 and r.c1 > 100, "rate png: two lines, two colours")
  f = path("rate.svg")
  nk.plot.rate(rm, f)
  T.eq(look(f).root, "svg", "rate svg")
  f = path("rate.pdf")
  nk.plot.rate(rm, f)
  T.eq(look(f).pages, 1, "rate pdf")
end

-- ---- previews ----------------------------------------------------------------------------

local child = path("preview.lua")
do
  local h = io.open(child, "w")
  h:write(NET, [[
local w = tonumber(arg[1])
local o = w and {width = w} or nil
print("== raster") nk.plot.raster(sp, o)
print("== stacked") nk.plot.raster({sp, si}, o)
print("== trace") nk.plot.trace(vm, o)
print("== rate") nk.plot.rate(sp, o)
print("== short") nk.plot.rate(rm, {width = 50, height = 4})
print("== empty") nk.plot.raster(sq)
print("== end")
]])
  h:close()
end

-- The child's output split at its "== name" lines.
local function previews(env, argv)
  local h = io.popen(env .. " " .. q(nkshell) .. " " .. q(child) .. " " .. (argv or "") .. " 2>&1")
  local out = h:read("a")
  h:close()
  local parts, cur = {}, nil
  for line in out:gmatch("([^\n]*)\n") do
    local name = line:match("^== (%w+)$")
    if name then
      cur = {}
      parts[name] = cur
    elseif cur then
      cur[#cur + 1] = line
    end
  end
  return parts, out
end

local function widest(lines)
  local w = 0
  for _, l in ipairs(lines or {}) do w = math.max(w, utf8.len(l) or math.huge) end
  return w
end

local function braille(lines)
  local n = 0
  for _, l in ipairs(lines or {}) do
    for _, c in utf8.codes(l) do if c >= 0x2801 and c <= 0x28FF then n = n + 1 end end
  end
  return n
end

do
  local p, out = previews("env -u COLUMNS")
  T.ok(p["end"] ~= nil, "the previews ran to the end: " .. out:sub(1, 300))
  for _, name in ipairs({"raster", "stacked", "trace", "rate"}) do
    local l = p[name] or {}
    T.eq(#l, 15, name .. " preview: a caption, 12 rows of braille, the axis, the x range")
    T.eq(widest(l), 80, name .. " preview: 80 columns on a pipe without $COLUMNS")
    T.ok(braille(l) > 20, name .. " preview: braille dots (" .. braille(l) .. ")")
    T.ok((l[#l] or ""):find("^%s+0 ms%s+200 ms$"), name .. " preview: the x range, '" ..
         tostring(l[#l]) .. "'")
  end
  local r = p.raster or {}
  T.ok((r[1] or ""):find("raster of exc: %d+ spikes from 40 neurons, 0 to 200 ms"),
       "raster preview: a caption '" .. tostring(r[1]) .. "'")
  T.ok((r[2] or ""):find("^%s*40 ┤") and (r[13] or ""):find("^%s*1 ┤"),
       "raster preview: neurons 40 (top) to 1 (bottom) on the y side")
  -- neurons 1..20 never fire: the lower half of the rows is empty
  local low = {}
  for k = 9, 13 do low[#low + 1] = (r[k] or ""):gsub("^[^┤│]*[┤│]", "") end
  T.eq(braille(low), 0, "raster preview: nothing in the rows of neurons 1..20")
  local up = {}
  for k = 2, 6 do up[#up + 1] = r[k] or "" end
  T.ok(braille(up) > 20, "raster preview: spikes in the rows of neurons 21..40")
  T.ok((p.stacked[1] or ""):find("^raster of exc 1%-40, inh 41%-60: "),
       "stacked preview: the caption says which rows are whose")
  T.ok((p.trace[1] or ""):find("^v of 'exc': 5 of 5 neurons, 2000 samples"),
       "trace preview caption: '" .. tostring(p.trace[1]) .. "'")
  T.ok((p.trace[2] or ""):find("mV ┤") and (p.trace[13] or ""):find("mV ┤"),
       "trace preview: the v range in mV on the y side")
  T.ok((p.rate[2] or ""):find("Hz ┤") and (p.rate[13] or ""):find("^%s*0 Hz ┤"),
       "rate preview: 0 Hz at the bottom, the peak at the top")
  T.eq(#(p.short or {}), 7, "preview height = 4: four rows of braille")
  T.eq(widest(p.short), 50, "preview width = 50: 50 columns")
  T.ok(#(p.empty or {}) <= 2 and table.concat(p.empty or {}, "\n"):find("no spikes recorded"),
       "empty monitor preview: says there are no spikes")

  p = previews("COLUMNS=100")
  T.eq(widest(p.raster), 100, "preview: $COLUMNS when stdout is not a terminal")
  p = previews("env -u COLUMNS", "60")
  T.eq(widest(p.trace), 60, "preview: option width counts columns")
end

-- ---- empty monitors ----------------------------------------------------------------------

do
  local f = path("empty.png")
  T.eq(nk.plot.raster(sq, f), f, "an empty raster is still drawn")
  local r = look(f)
  sane_png(r, 800, 500, "empty raster png")
  T.eq(r.color, 0, "empty raster png: no data pixels")
  f = path("empty-rate.svg")
  T.eq(nk.plot.rate(sq, f), f, "an empty rate plot is still drawn")
  T.eq(look(f).root, "svg", "empty rate svg parses")

  -- a network not run yet: monitors with nothing in them
  local n2 = nk.network{dt = 0.1}
  local p2 = n2:population("lif", 3)
  local v2 = n2:monitor("state", p2, {vars = {"v"}})
  local s2 = n2:monitor("spikes", p2)
  local r2 = n2:monitor("rate", p2)
  f = path("empty-trace.pdf")
  T.eq(nk.plot.trace(v2, f), f, "a trace with no samples is still drawn")
  T.eq(look(f).pages, 1, "empty trace pdf: one page")
  T.eq(nk.plot.raster(s2, path("e2.png")), path("e2.png"), "raster before any run")
  T.eq(nk.plot.rate(r2, path("e3.png")), path("e3.png"), "rate monitor before any run")
  T.eq(nk.plot.rate(s2, path("e4.png")), path("e4.png"), "rate of spikes before any run")
  n2:close()
  T.raises("network has been closed", nk.plot.raster, s2, path("closed.png"))
  T.raises("network has been closed", nk.plot.trace, v2)
end

-- ---- refusals ----------------------------------------------------------------------------

do
  local f = path("bad.jpg")
  local e = T.raises("unsupported file extension '.jpg'", nk.plot.raster, sp, f)
  T.ok(e and e:find(".png, .svg or .pdf", 1, true), "bad extension: names the three formats")
  T.ok(not exists(f), "bad extension: no file written")
  T.raises("has no file extension", nk.plot.raster, sp, path("noext"))
  T.raises("option 'title' for nk.plot.raster holds a zero byte (\\0) at position 2",
           nk.plot.raster, sp, path("nul.svg"), {title = "a\0b"})
  T.ok(not exists(path("nul.svg")), "a title with a zero byte: no file written")
  T.raises("has no file extension", nk.plot.raster, sp, path(".png"))
  T.raises("bad argument #2 to 'nk.plot.raster' (file name", nk.plot.raster, sp, 42)
  T.raises("bad argument #3 to 'nk.plot.trace' (table of options", nk.plot.trace, vm, "x.png", 1)

  e = T.raises("unknown option 'titel' for nk.plot.raster", nk.plot.raster, sp, path("o.png"),
               {titel = "x"})
  T.ok(e and e:find("did you mean 'title'", 1, true), "unknown option: suggests the near one")
  e = T.raises("unknown option 'colour' for nk.plot.rate (expected one of: width, height, " ..
               "title, xlim, ylim, xlabel, ylabel, font_size, grid, bin)", nk.plot.rate, sp,
               {colour = "red"})
  T.raises("unknown option 'bin' for nk.plot.trace", nk.plot.trace, vm, {bin = 3})
  T.raises("option names must be strings", nk.plot.raster, sp, {1})
  T.raises("option 'width' for nk.plot.raster must be a number, got string", nk.plot.raster, sp,
           path("w.png"), {width = "big"})
  T.raises("option 'width' for nk.plot.raster must be 50 to 10000 pixels, got 10", nk.plot.raster,
           sp, path("w.png"), {width = 10})
  T.raises("option 'height' for nk.plot.raster must be 50 to 10000 points, got 1e+06",
           nk.plot.raster, sp, path("w.pdf"), {height = 1e6})
  T.raises("whole numbers of pixels", nk.plot.raster, sp, path("w.png"), {width = 100.5})
  T.raises("must be a finite number", nk.plot.raster, sp, path("w.png"), {height = 0 / 0})
  T.raises("option 'xlim' for nk.plot.raster: min (5) must be less than max (1)", nk.plot.raster,
           sp, path("w.png"), {xlim = {5, 1}})
  T.raises("option 'ylim' for nk.plot.trace must be a list of two finite numbers", nk.plot.trace,
           vm, path("w.png"), {ylim = {1}})
  T.raises("option 'title' for nk.plot.raster must be a string", nk.plot.raster, sp, {title = 1})
  T.raises("option 'grid' for nk.plot.raster must be true or false", nk.plot.raster, sp,
           {grid = 1})
  T.raises("option 'font_size' for nk.plot.raster must be 4 to 100", nk.plot.raster, sp,
           path("w.png"), {font_size = 1000})
  T.raises("(a preview: columns) must be a whole number from 20 to 1000", nk.plot.raster, sp,
           {width = 5})
  T.raises("(a preview: rows of braille) must be a whole number from 2 to 200", nk.plot.raster,
           sp, {height = 1.5})
  T.raises("option 'font_size' for nk.plot.raster must be 4 to 100, got 0", nk.plot.raster, sp,
           {font_size = 0})
  T.raises("(a file name cannot hold a NUL byte)", nk.plot.raster, sp, path("a\0b.png"))
  T.ok(not exists(path("w.png")) and not exists(path("o.png")), "refused calls write no file")

  T.raises("bad argument #1 to 'nk.plot.raster' (a spike monitor or a list of them expected, " ..
           "got number)", nk.plot.raster, 42)
  T.raises("bad argument #1 to 'nk.plot.raster' (a spike monitor or a list of them expected, " ..
           "got no value)", nk.plot.raster)
  T.raises("got an empty list", nk.plot.raster, {})
  T.raises("(item 2 is a string; a spike monitor or a list of them expected)", nk.plot.raster,
           {sp, "x"})
  T.raises("nk.plot.raster: a state monitor records no spikes (plot it with nk.plot.trace)",
           nk.plot.raster, vm)
  T.raises("nk.plot.raster: a rate monitor records no spikes (plot it with nk.plot.rate)",
           nk.plot.raster, {sp, rm})
  T.raises("bad argument #1 to 'nk.plot.raster'", nk.plot.raster, net)
  T.raises("nk.plot.trace: a spike monitor has no traces", nk.plot.trace, sp)
  T.raises("bad argument #1 to 'nk.plot.trace' (a state, output or field monitor expected, " ..
           "got table)", nk.plot.trace, {vm})
  T.raises("nk.plot.rate: a state monitor has no rate", nk.plot.rate, vm)
  T.raises("option 'var' for nk.plot.trace: this monitor does not record 'u' (it records: v)",
           nk.plot.trace, vm, {var = "u"})
  T.raises("neuron 9 is not among the 5 monitored", nk.plot.trace, vm, {neurons = {1, 9}})
  T.raises("option 'neurons' for nk.plot.trace must be a list", nk.plot.trace, vm,
           {neurons = 3})
  T.raises("item 1 must be a whole number, got string", nk.plot.trace, vm, {neurons = {"a"}})
  T.raises("option 'bin' for nk.plot.rate must be a positive number of ms, got 0", nk.plot.rate,
           sp, {bin = 0})
  T.raises("bins (at most", nk.plot.rate, sp, {bin = 1e-6})
  T.raises("option 'bin' is for spike monitors", nk.plot.rate, rm, {bin = 5})

  -- files that cannot be written: the path and the reason
  T.raises("nk.plot.raster: cannot write '" .. dir .. "/no/such/dir/x.png': No such file or " ..
           "directory", nk.plot.raster, sp, path("no/such/dir/x.png"))
  os.execute("mkdir -p " .. q(path("taken.svg")))
  T.raises("nk.plot.rate: cannot write '" .. dir .. "/taken.svg': Is a directory",
           nk.plot.rate, sp, path("taken.svg"))
  if exists("/dev/full") then -- a disk that is full
    os.execute("ln -s /dev/full " .. q(path("full.pdf")))
    T.raises("nk.plot.trace: cannot write '" .. dir .. "/full.pdf': No space left on device",
             nk.plot.trace, vm, path("full.pdf"))
  end
end

-- field and output monitors
do
  local n4 = nk.network{dt = 0.1}
  local p4 = n4:population("lif", 4, {name = "four"})
  n4:source("dc", p4, {amplitude = 400})
  local fm = n4:monitor("field", p4, {var = "v", op = "mean"})
  local om = n4:monitor("output", p4, {vars = {"v"}, fn = function() end})
  n4:run(30)
  T.eq(nk.plot.trace(fm, path("field.png")), path("field.png"), "trace of a field monitor")
  T.ok((look(path("field.png")).c0 or 0) > 100, "field trace: a line")
  T.eq(nk.plot.trace(om, path("output.png")), path("output.png"), "trace of an output monitor")
  T.ok((look(path("output.png")).c3 or 0) > 50, "output trace: four lines")
  T.raises("nk.plot.rate: an output monitor has no rate", nk.plot.rate, om)
  T.raises("nk.plot.raster: a field monitor records no spikes (plot it with nk.plot.trace)",
           nk.plot.raster, fm)
end

-- a state monitor with two variables needs var
do
  local n3 = nk.network{dt = 0.1}
  local p3 = n3:population("izhikevich", 2, {name = "two"})
  n3:source("dc", p3, {amplitude = 10})
  local m3 = n3:monitor("state", p3, {vars = {"v", "u"}})
  n3:run(20)
  T.raises("this monitor records 2 variables (v, ...): choose one with option 'var'",
           nk.plot.trace, m3, path("two.png"))
  T.eq(nk.plot.trace(m3, path("two.png"), {var = "u"}), path("two.png"), "var = 'u' of two")
  T.ok((look(path("two.png")).color or 0) > 100, "var = 'u': lines drawn")
end

-- a FIFO named as the figure blocked the open for good (only SIGKILL ended
-- it); figures are written through NAME.part, renamed when complete
do
  os.execute("mkfifo " .. q(path("fifo.svg")))
  T.raises("cannot write '" .. path("fifo.svg") .. "': it is not a regular file", nk.plot.raster,
           sp, path("fifo.svg"))
  nk.plot.raster(sp, path("whole.svg"))
  T.ok(io.open(path("whole.svg")) ~= nil and io.open(path("whole.svg.part")) == nil,
       "a figure is renamed into place, no .part left")
end

os.execute("rm -rf " .. q(dir))
T.done("plot")
