-- shell/complete.lua: tab completion for the nkshell REPL.
--
-- Embedded into nkshell and reached as require("nkshell.complete"). The
-- shell's readline hook calls
--
--   M.complete(before, word, quote) -> {candidate, ...} | "file"
--
--   before  the input in front of the word being completed: the earlier lines
--           of a multi-line entry still being typed, "\n", then the current
--           line up to the word (it ends with the opening quote when the word
--           is inside a string)
--   word    the text readline replaces by a candidate
--   quote   the quote character (' or ") that opened the string the word is
--           in, or ""
--
-- and gets the candidates that start with word (sorted), or "file" when the
-- word is a file name (readline's own file name completion then runs).
--
-- What it completes, from what it reads of the line (a small Lua lexer and a
-- stack of the brackets left open):
--   * a global or keyword; a field after `a.b.` or a method after `a:`, for
--     tables (their keys, and their metatable's __index table), nk objects
--     (the methods in their metatable, their fields) and strings;
--   * the key of an option table: `net:population("lif", 10, {pa` -> params
--     (nk._options says what each function
--     takes), `params = {ta` -> the model's parameter names, `init = {` ->
--     its state variables;
--   * a string: model names as the first argument of net:population,
--     nk.model, nk.describe, nk.sandbox and help, and as `synapse = "`;
--     source and monitor kinds as the first argument of net:source and
--     net:monitor; a few fixed choices (backend, precision, rule, method);
--     any other string is a file name;
--   * the dot-commands at the start of a line (M.commands, set by the shell);
--   * nothing at the start of a line: Tab indents by two spaces there.
--
-- Completion never calls user code: values are read with rawget and through
-- __index tables; only nk objects are indexed through their __index function
-- (pure field reads, under pcall). The functions it needs are kept as upvalues
-- so a session that reassigns `string` or `type` does not break it.

local M = {}

local G = _ENV
local next, type, pcall, rawget, tostring = next, type, pcall, rawget, tostring
local ipairs = ipairs
local getmetatable = debug.getmetatable
local sort, concat = table.sort, table.concat
local sfind, smatch, ssub = string.find, string.match, string.sub
local loaded = package.loaded
local string_methods = string

-- Set by the shell: the dot-commands (".help", ...), completed at the start
-- of a line when no Lua entry is pending.
M.commands = {}

local MAX_CANDIDATES = 2000

local keywords = {}
for w in ("and break do else elseif end false for function goto if in local nil not or "
          .. "repeat return then true until while"):gmatch("%a+") do
  keywords[w] = true
end

-- ---- lexing -------------------------------------------------------------------------

local ops3 = {["..."] = true}
local ops2 = {[".."] = true, ["=="] = true, ["~="] = true, ["<="] = true, [">="] = true,
              ["//"] = true, ["::"] = true, ["<<"] = true, [">>"] = true}

-- Splits src into tokens {t = "name" | "kw" | "number" | "string" | "op", v = text}
-- (a string token's v is its contents). Returns the tokens and how src ends:
-- "code"; "string", the quote and the contents so far when inside a short
-- string; "comment" or "longstring" inside those; "error" for a short string
-- broken by a newline.
local function lex(src)
  local toks, i, n = {}, 1, #src
  while i <= n do
    local c = ssub(src, i, i)
    if sfind(c, "^%s") then
      i = i + 1
    elseif sfind(src, "^%-%-", i) then
      local eq = smatch(src, "^%-%-%[(=*)%[", i)
      if eq then
        local _, e = sfind(src, "]" .. eq .. "]", i + 4 + #eq, true)
        if not e then return toks, "comment" end
        i = e + 1
      else
        local e = sfind(src, "\n", i, true)
        if not e then return toks, "comment" end
        i = e + 1
      end
    elseif sfind(c, "^[%a_]") then
      local w = smatch(src, "^[%w_]+", i)
      toks[#toks + 1] = {t = keywords[w] and "kw" or "name", v = w}
      i = i + #w
    elseif sfind(c, "^%d") or sfind(src, "^%.%d", i) then
      local num = smatch(src, "^[%w_%.]+", i)
      while sfind(num, "[eEpP]$") and sfind(src, "^[-+]", i + #num) do
        num = num .. smatch(src, "^[-+][%w_%.]*", i + #num)
      end
      toks[#toks + 1] = {t = "number", v = num}
      i = i + #num
    elseif c == '"' or c == "'" then
      local j, buf = i + 1, {}
      while true do
        local ch = ssub(src, j, j)
        if ch == "" then return toks, "string", c, concat(buf) end
        if ch == "\n" then return toks, "error" end
        if ch == "\\" then
          buf[#buf + 1] = ssub(src, j + 1, j + 1)
          j = j + 2
        elseif ch == c then
          break
        else
          buf[#buf + 1] = ch
          j = j + 1
        end
      end
      toks[#toks + 1] = {t = "string", v = concat(buf)}
      i = j + 1
    elseif sfind(src, "^%[=*%[", i) then
      local eq = smatch(src, "^%[(=*)%[", i)
      local _, e = sfind(src, "]" .. eq .. "]", i + 2 + #eq, true)
      if not e then return toks, "longstring" end
      toks[#toks + 1] = {t = "string", v = ssub(src, i + 2 + #eq, e - 2 - #eq)}
      i = e + 1
    else
      local op = ssub(src, i, i + 2)
      if not ops3[op] then
        op = ssub(src, i, i + 1)
        if not ops2[op] then op = c end
      end
      toks[#toks + 1] = {t = "op", v = op}
      i = i + #op
    end
  end
  return toks, "code"
end

local function is_op(tk, v)
  return tk ~= nil and tk.t == "op" and tk.v == v
end

-- The chain of names ending at toks[j] ("a.b.c" or "a.b:c") as {names =
-- {...}, method = true when the last separator is ':'}, or nil when toks[j]
-- does not end such a chain (a call's result, an index expression, ...).
-- A method called on something else (x[1]:m, f():m) gives {names = {"m"},
-- method = true, opaque = true}.
local function chain_at(toks, j)
  local names, method = {}, false
  local tk = toks[j]
  if not tk or tk.t ~= "name" then return nil end
  while true do
    local n = #names
    for k = n, 1, -1 do names[k + 1] = names[k] end
    names[1] = tk.v
    local sep = toks[j - 1]
    if not (is_op(sep, ".") or is_op(sep, ":")) then break end
    if sep.v == ":" then
      if #names > 1 then return nil end
      method = true
    end
    j = j - 2
    tk = toks[j]
    if not tk or tk.t ~= "name" then
      -- x[1]:population( is still a method call, on a receiver we cannot read
      if method and #names == 1 then return {names = names, method = true, opaque = true} end
      return nil
    end
  end
  return {names = names, method = method}
end

-- ---- reading values without side effects ---------------------------------------------

local function nk_object(v)
  local mt = getmetatable(v)
  local name = mt and rawget(mt, "__name")
  return type(name) == "string" and ssub(name, 1, 3) == "nk." and name or nil
end

-- v[k] without calling user code: raw fields, then __index tables (up to a
-- few levels); nk objects through their (pure) __index, protected.
local function safe_index(v, k, depth)
  depth = depth or 0
  if depth > 8 then return nil end
  local tv = type(v)
  if tv == "table" then
    local r = rawget(v, k)
    if r ~= nil then return r end
  elseif tv == "userdata" then
    if nk_object(v) then
      local ok, r = pcall(function() return v[k] end)
      if ok then return r end
      return nil
    end
  elseif tv == "string" then
    return rawget(string_methods, k)
  else
    return nil
  end
  local mt = getmetatable(v)
  local idx = mt and rawget(mt, "__index")
  if type(idx) == "table" then return safe_index(idx, k, depth + 1) end
  return nil
end

-- The value of a chain of names starting at a global: ok, value.
local function resolve(names)
  local v = safe_index(G, names[1])
  for i = 2, #names do
    if v == nil then return false end
    v = safe_index(v, names[i])
  end
  return v ~= nil, v
end

local function callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return mt ~= nil and rawget(mt, "__call") ~= nil
end

local function identifier(k)
  return type(k) == "string" and sfind(k, "^[%a_][%w_]*$") ~= nil and not keywords[k]
end

-- Adds the identifier keys of table t (and of its __index tables) to set.
local function add_keys(set, t, methods_only, depth)
  if type(t) ~= "table" or depth > 8 then return end
  local count = 0
  for k, x in next, t do
    if identifier(k) and (not methods_only or callable(x)) then set[k] = true end
    count = count + 1
    if count > 100000 then break end
  end
  local mt = getmetatable(t)
  local idx = mt and rawget(mt, "__index")
  if type(idx) == "table" and idx ~= t then add_keys(set, idx, methods_only, depth + 1) end
end

-- The reference (nk._api) names objects by these prefixes: "net.t", "pop:slice".
local api_prefix = {
  ["nk.network"] = "net", ["nk.population"] = "pop", ["nk.projection"] = "proj",
  ["nk.source"] = "src", ["nk.monitor"] = "m", ["nk.selection"] = "sel",
}
-- Fields of nk objects (their __index functions compute them), for when the
-- reference is not there.
local nk_fields = {
  ["nk.network"] = {"t", "dt", "seed", "backend", "threads", "output"},
  ["nk.population"] = {"name", "size", "model", "first", "last"},
  ["nk.projection"] = {"pre", "post", "synapse", "receptor", "size", "params"},
  ["nk.source"] = {"kind", "size"},
  ["nk.edges"] = {"nids", "count"},
  ["nk.model"] = {"name", "kind", "doc", "description", "params", "states"},
}

local function nk_module()
  local nk = rawget(loaded, "nk")
  return type(nk) == "table" and nk or nil
end

-- nk._api, the reference as a list of entries, or nil.
local function api_entries()
  local nk = nk_module()
  local api = nk and rawget(nk, "_api")
  return type(api) == "table" and api or nil
end

-- The members of v: a set of names (methods only after ':').
local function members(v, methods_only)
  local set, tv = {}, type(v)
  if tv == "table" then
    add_keys(set, v, methods_only, 0)
  elseif tv == "string" then
    add_keys(set, string_methods, methods_only, 0)
  elseif tv == "userdata" then
    local mt = getmetatable(v)
    if mt then
      add_keys(set, rawget(mt, "methods"), methods_only, 0)
      local idx = rawget(mt, "__index")
      if type(idx) == "table" then add_keys(set, idx, methods_only, 0) end
    end
    local name = nk_object(v)
    if name and not methods_only then
      local fields, seen = {}, {}
      for _, f in ipairs(nk_fields[name] or {}) do fields[#fields + 1] = f end
      local prefix, api = api_prefix[name], api_entries()
      if prefix and api then
        for _, e in ipairs(api) do
          local en = type(e) == "table" and rawget(e, "name")
          local f = type(en) == "string" and smatch(en, "^" .. prefix .. "%.([%a_][%w_]*)$")
          if f then fields[#fields + 1] = f end
        end
      end
      for _, f in ipairs(fields) do
        if not seen[f] then
          seen[f] = true
          if safe_index(v, f) ~= nil then set[f] = true end
        end
      end
    end
  end
  return set
end

-- ---- what nk knows -------------------------------------------------------------------------

local function string_list(t)
  local out = {}
  if type(t) == "table" then
    for _, s in ipairs(t) do
      if type(s) == "string" then out[#out + 1] = s end
    end
  end
  return out
end

-- nk.models(kind): model names (all when kind is nil).
local function models(kind)
  local nk = nk_module()
  local f = nk and rawget(nk, "models")
  if type(f) ~= "function" then return {} end
  local ok, list = pcall(f, kind)
  return ok and string_list(list) or {}
end

-- The option names of fname ("nk.network", "net:population", ...; kind for
-- net:source and net:monitor): nk._options(fname, kind); nil when it knows
-- none.
local function api_options(fname, kind)
  local nk = nk_module()
  local opt = nk and rawget(nk, "_options")
  if type(opt) ~= "function" then return nil end
  local ok, list = pcall(opt, fname, kind)
  if ok and type(list) == "table" then return string_list(list) end
  return nil
end

-- The kinds of sources or monitors: those the reference has entries for.
local function kinds(fname)
  local out, seen = {}, {}
  for _, e in ipairs(api_entries() or {}) do
    local k = type(e) == "table" and rawget(e, "name") == fname and rawget(e, "kind")
    if type(k) == "string" and not seen[k] then
      seen[k] = true
      out[#out + 1] = k
    end
  end
  return out
end

-- Fixed choices for `key = "` strings.
local value_choices = {
  backend = {"auto", "cpu", "cuda"},
  precision = {"float", "double"},
  rule = {"all_to_all", "one_to_one", "bernoulli", "fixed_indegree", "fixed_outdegree",
          "fixed_total", "distance", "shape", "list", "edges"},
  method = {"euler", "midpoint", "heun", "rk4", "rk45", "exponential_euler", "exact"},
}

-- ---- the structure of the line -------------------------------------------------------------

-- An argument as written: {str = "..."} for a string literal, {chain =
-- names} for a name chain, else nil.
local function arg_value(a)
  if not a then return nil end
  if a.str then return a.str end
  if a.chain then
    local ok, v = resolve(a.chain)
    if ok then return v end
  end
  return nil
end

-- The brackets left open at the end of toks, innermost last. A "(" frame:
-- {open = "(", callee = chain or nil, argn = the argument being written,
-- args = {[n] = {str =} | {chain =}}}. A "{" frame: {open = "{", keys =
-- {key = "string value"}, and either call = the "(" frame it is an argument
-- of (or a made-up one for f{...}), or key = the name it is assigned to and
-- parent = the table frame it is in}.
local function scan(toks)
  local stack = {}
  for idx, tk in ipairs(toks) do
    local top, prev = stack[#stack], toks[idx - 1]
    local after_sep = is_op(prev, "(") or is_op(prev, ",")
    if tk.t == "op" then
      local v = tk.v
      if v == "(" then
        stack[#stack + 1] = {open = "(", callee = chain_at(toks, idx - 1), argn = 1, args = {}}
      elseif v == "{" then
        local f = {open = "{", keys = {}}
        if is_op(prev, "=") and top and top.open == "{" and toks[idx - 2]
            and toks[idx - 2].t == "name" then
          f.key, f.parent = toks[idx - 2].v, top
        elseif after_sep and top and top.open == "(" then
          f.call = top
        elseif prev and prev.t == "name" then
          f.call = {open = "(", callee = chain_at(toks, idx - 1), argn = 1, args = {}}
        end
        stack[#stack + 1] = f
      elseif v == "[" then
        stack[#stack + 1] = {open = "["}
      elseif v == ")" or v == "}" or v == "]" then
        stack[#stack] = nil
      elseif v == "," and top and top.open == "(" then
        -- was the argument just finished a name chain?
        local ch = chain_at(toks, idx - 1)
        if ch and not ch.method then
          local before_arg = toks[idx - 1 - 2 * (#ch.names - 1) - 1]
          if is_op(before_arg, "(") or is_op(before_arg, ",") then
            top.args[top.argn] = {chain = ch.names}
          end
        end
        top.argn = top.argn + 1
      end
    elseif tk.t == "string" and top then
      if top.open == "(" and after_sep then
        top.args[top.argn] = {str = tk.v}
      elseif top.open == "{" and is_op(prev, "=") and toks[idx - 2]
          and toks[idx - 2].t == "name" then
        top.keys[toks[idx - 2].v] = tk.v
      end
    end
  end
  return stack
end

-- The name the reference uses for the function a "(" frame calls
-- ("net:population", "nk.model", "help"), and the kind (its first argument)
-- for net:source and net:monitor. Methods are known by their name whatever
-- the receiver is called; the receiver's type picks the prefix when it can
-- be read ("pop:place"), else it is "net".
local function call_name(call)
  local ch = call and call.callee
  if not ch then return nil end
  local names, fname = ch.names, nil
  if ch.method then
    local prefix = "net"
    if #names > 1 then
      local recv = {}
      for k = 1, #names - 1 do recv[k] = names[k] end
      local ok, v = resolve(recv)
      local name = ok and nk_object(v)
      if name and api_prefix[name] then prefix = api_prefix[name] end
    end
    fname = prefix .. ":" .. names[#names]
  else
    local ok, f = resolve(names)
    local nk = nk_module()
    if ok and type(f) == "function" then
      if f == safe_index(G, "help") then
        fname = "help"
      elseif nk then
        for k, v in next, nk do
          if v == f and type(k) == "string" then fname = "nk." .. k break end
        end
      end
    end
    fname = fname or concat(names, ".")
  end
  local kind = nil
  if fname == "net:source" or fname == "net:monitor" then
    kind = arg_value(call.args[1])
    if type(kind) ~= "string" then kind = nil end
  end
  return fname, kind
end

-- The model that the table frame p (an option table) gives parameters to:
-- the model argument of net:population and nk.sandbox, the synapse of
-- net:connect and net:source (exp_curr unless given). Returns an nk.model
-- object or nil.
local function owner_model(p, for_init)
  if not (p and p.call) then return nil end
  local fname = call_name(p.call)
  local m
  if fname == "net:population" or fname == "nk.sandbox" then
    m = arg_value(p.call.args[1])
  elseif (fname == "net:connect" or fname == "net:source") and not for_init then
    m = p.keys.synapse or "exp_curr"
  end
  if type(m) == "string" then
    local nk = nk_module()
    local model = nk and rawget(nk, "model")
    if type(model) ~= "function" then return nil end
    local ok, obj = pcall(model, m)
    m = ok and obj or nil
  end
  return nk_object(m) == "nk.model" and m or nil
end

-- The key names a table frame takes, or nil when not known.
local function table_keys(f)
  if f.call then
    local fname, kind = call_name(f.call)
    return fname and api_options(fname, kind)
  end
  if f.key then
    if f.key == "params" or f.key == "init" then
      local m = owner_model(f.parent, f.key == "init")
      local t = m and safe_index(m, f.key == "params" and "params" or "states")
      if type(t) ~= "table" then return nil end
      local out = {}
      for k in next, t do
        if type(k) == "string" then out[#out + 1] = k end
      end
      return out
    end
    return api_options(f.key, nil) -- "positions", "shape"
  end
  return nil
end

-- Choices for a string that is argument argn of fname.
local function argument_choices(fname, argn)
  if argn ~= 1 then return nil end
  if fname == "net:population" then return models("neuron") end
  if fname == "nk.model" or fname == "nk.describe" or fname == "nk.sandbox" then return models() end
  if fname == "help" then
    -- models, the topics, and the API's names ("net:connect")
    local out = models()
    local nk_ = nk_module()
    local topics = nk_ and rawget(nk_, "_help_topics")
    local api = nk_ and rawget(nk_, "_api")
    if type(topics) == "table" then
      for _, t in ipairs(topics) do out[#out + 1] = t end
    end
    if type(api) == "table" then
      for _, e in ipairs(api) do
        if type(e) == "table" and type(e.name) == "string" and not e.kind then
          out[#out + 1] = e.name
        end
      end
    end
    return out
  end
  if fname == "nk.models" then return {"neuron", "synapse"} end
  if fname == "net:source" or fname == "net:monitor" then return kinds(fname) end
  return nil
end

-- ---- candidates ----------------------------------------------------------------------------

-- The names in list (or set, when it is keyed by name) starting with word,
-- sorted; names starting with '_' only when word does.
local function matching(list, word, is_set)
  local out, seen = {}, {}
  local hidden_ok = ssub(word, 1, 1) == "_"
  local function add(name)
    if type(name) == "string" and not seen[name] and ssub(name, 1, #word) == word
        and (hidden_ok or ssub(name, 1, 1) ~= "_") and #out < MAX_CANDIDATES then
      seen[name] = true
      out[#out + 1] = name
    end
  end
  if is_set then
    for name in next, list do add(name) end
  else
    for _, name in ipairs(list) do add(name) end
  end
  sort(out)
  return out
end

local function globals(word)
  local set = {}
  add_keys(set, G, false, 0)
  for k in next, keywords do set[k] = true end
  return matching(set, word, true)
end

-- A word inside a string: choices that fit where the string is, else "file".
local function in_string(toks, word)
  local stack = scan(toks)
  local top, prev = stack[#stack], toks[#toks]
  local choices
  if top and top.open == "(" and (is_op(prev, "(") or is_op(prev, ",")) then
    choices = argument_choices(call_name(top), top.argn)
  elseif top and top.open == "{" and is_op(prev, "=") and toks[#toks - 1]
      and toks[#toks - 1].t == "name" then
    local key = toks[#toks - 1].v
    if key == "synapse" then
      choices = models("synapse")
    else
      choices = value_choices[key]
    end
  elseif prev and prev.t == "name" then -- f"...": a call with one string
    local ch = chain_at(toks, #toks)
    if ch then
      choices = argument_choices(call_name({callee = ch, argn = 1, args = {}}), 1)
    end
  end
  if choices then return matching(choices, word) end
  return "file"
end

-- A dot-command line: ".ti" -> .timer; ".load " -> a file name.
local function dot_command(before, word)
  local cmd, rest = smatch(before, "^%s*(%.%a*)(.*)$")
  if not cmd then return nil end
  if rest == "" then
    if smatch(before, "^%s*%.$") == nil then return {} end
    local names = {}
    for _, c in ipairs(M.commands) do
      if type(c) == "string" then names[#names + 1] = ssub(c, 2) end
    end
    return matching(names, word)
  end
  if not sfind(rest, "^%s") then return {} end
  if cmd == ".load" then return "file" end
  if cmd == ".timer" and sfind(rest, "^%s*$") then return matching({"on", "off"}, word) end
  return {}
end

-- See the header. pending is true when before holds earlier lines of an
-- unfinished entry (dot-commands are not recognised then).
function M.complete(before, word, quote, pending)
  before, word, quote = tostring(before), tostring(word), tostring(quote or "")
  -- Tab with only blanks before it on the line indents (as Python's REPL)
  if quote == "" and word == "" and sfind(smatch(before, "[^\n]*$"), "^%s*$") then
    return {"  "}
  end
  if not pending and quote == "" and sfind(before, "^%s*%.%a*") and not sfind(before, "^%s*%.%d") then
    local r = dot_command(before, word)
    if r then return r end
  end
  local toks, state, q = lex(before)
  if quote ~= "" then
    if state ~= "string" or q ~= quote then return {} end
    return in_string(toks, word)
  end
  if state ~= "code" then return {} end
  if not sfind(word, "^[%a_]?[%w_]*$") then return {} end
  local last = toks[#toks]
  if is_op(last, ".") or is_op(last, ":") then
    local recv, ok, v = toks[#toks - 1], false, nil
    if recv and recv.t == "string" then
      ok, v = true, recv.v
    else
      local ch = chain_at(toks, #toks - 1)
      if not ch or ch.method then return {} end
      ok, v = resolve(ch.names)
    end
    if not ok then return {} end
    return matching(members(v, last.v == ":"), word, true)
  end
  if is_op(last, "{") or is_op(last, ",") or is_op(last, ";") then
    local stack = scan(toks)
    local top = stack[#stack]
    if top and top.open == "{" then
      local names = table_keys(top)
      if names then return matching(names, word) end
    end
  end
  return globals(word)
end

return M
