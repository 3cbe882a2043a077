/* nk_lua.c - the `nk` Lua module: libnk seen from Lua.
 *
 * Objects: a network (userdata "nk.network", owns an nk_net), populations and
 * slices of them ("nk.population": network reference + index + range),
 * projections ("nk.projection"), monitors ("nk.monitor") and models
 * ("nk.model": a handle on a model's name, accepted wherever a model name
 * is). A child keeps its network alive through its user value; the network
 * keeps the context alive the same way. Every entry point checks its
 * arguments and raises an error naming the argument, the value and what was
 * expected; option tables are checked for unknown keys ("did you mean").
 * Neuron indices are 1-based here and 0-based in the engine. */
#include "nk_api.h"
#include "nk_lua.h"
#include "nk_plot.h"
#include "nk_read.h"

#include "nk/nk.h"

#include <lauxlib.h>
#include <lualib.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NET_MT "nk.network"
#define POP_MT "nk.population"
#define PROJ_MT "nk.projection"
#define MON_MT "nk.monitor"
#define EDGES_MT "nk.edges"
#define MODEL_MT "nk.model"
#define CTX_MT "nk.context"
#define DEFAULTS_KEY "nk.defaults"
#define CTX_KEY "nk.context.instance" /* registry: the state's context */

extern const char nk_src_prelude_lua[];

volatile sig_atomic_t nk_lua_interrupted = 0;
void (*nk_lua_interrupt_consumed)(void) = NULL;

void nk_lua_consume_interrupt(void)
{
    nk_lua_interrupted = 0;
    if (nk_lua_interrupt_consumed)
        nk_lua_interrupt_consumed();
}

const char *nk_lua_version(void) { return nk_version(); }

/* luaL_error with C's printf formats (nk_api.c). */
#define lerror nk_api_error

typedef struct lnet {
    nk_net *net;
    int64_t script_step;     /* the step the script's runs have asked for so far */
    int resume_checked;      /* --resume was tried on this network's first run */
    int note_told;           /* nk_net_backend_note was printed (run_built) */
    int closed;              /* net:close() came while a call of this module was
                                running: net is freed at the next sweep */
} lnet;

typedef struct lpop {
    int pop;
    int64_t lo, hi; /* 0-based [lo, hi) */
} lpop;

typedef struct lchild {
    int idx;
} lchild;

/* ---- context ---------------------------------------------------------------- */

static int ctx_gc(lua_State *L)
{
    nk_ctx **c = luaL_checkudata(L, 1, CTX_MT);
    nk_ctx_free(*c);
    *c = NULL;
    return 0;
}

/* Pushes the state's context userdata (made once, kept in the registry). */
static nk_ctx *push_ctx(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, CTX_KEY) == LUA_TUSERDATA)
        return *(nk_ctx **)lua_touserdata(L, -1);
    lua_pop(L, 1);
    nk_ctx **c = lua_newuserdatauv(L, sizeof *c, 0);
    *c = NULL;
    luaL_setmetatable(L, CTX_MT);
    *c = nk_ctx_new();
    if (!*c)
        lerror(L, "out of memory");
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, CTX_KEY);
    return *c;
}

/* ---- option tables ------------------------------------------------------------ */

/* The type of a value as messages name it: an nk object by its type
 * ("nk.network"), not as "userdata". */
static const char *type_name(lua_State *L, int idx)
{
    const char *got = luaL_getmetafield(L, idx, "__name") == LUA_TSTRING ? lua_tostring(L, -1)
                                                                           : luaL_typename(L, idx);
    return got; /* the name stays on the stack (for a caller that raises) */
}

/* Raises an error when table idx has a key not among the options listed
 * (lua/nk_api.c: the same list help() and the reference print). */
static void check_keys(lua_State *L, int idx, const char *fname, const nk_api_opt *opts)
{
    nk_api_check(L, idx, fname, opts);
}

/* Checks that argument arg is a table of options (or absent); returns 1 when
 * present. */
static int opt_table(lua_State *L, int arg, const char *fname, const nk_api_opt *allowed)
{
    if (lua_isnoneornil(L, arg))
        return 0;
    if (!lua_istable(L, arg))
        lerror(L, "bad argument #%d to '%s' (table of options expected, got %s)",
               strchr(fname, ':') ? arg - 1 : arg, fname, type_name(L, arg)); /* self uncounted */
    check_keys(L, arg, fname, allowed);
    return 1;
}

static double opt_number(lua_State *L, int t, const char *key, const char *fname, double def)
{
    if (t == 0)
        return def;
    lua_getfield(L, t, key);
    double v = def;
    if (!lua_isnil(L, -1)) {
        if (!lua_isnumber(L, -1) || lua_type(L, -1) == LUA_TSTRING)
            lerror(L, "option '%s' for %s must be a number, got %s", key, fname,
                       luaL_typename(L, -1));
        v = lua_tonumber(L, -1);
        if (isnan(v)) /* callers take NaN for "not given" */
            lerror(L, "option '%s' for %s is NaN; expected a number", key, fname);
    }
    lua_pop(L, 1);
    return v;
}

static int opt_bool(lua_State *L, int t, const char *key, const char *fname, int def)
{
    if (t == 0)
        return def;
    lua_getfield(L, t, key);
    int v = def;
    if (!lua_isnil(L, -1)) {
        if (!lua_isboolean(L, -1))
            lerror(L, "option '%s' for %s must be true or false, got %s", key, fname,
                       luaL_typename(L, -1));
        v = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* The string is kept alive by the option table, which is on the stack. */
static const char *opt_string(lua_State *L, int t, const char *key, const char *fname,
                              const char *def)
{
    if (t == 0)
        return def;
    lua_getfield(L, t, key);
    const char *v = def;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            lerror(L, "option '%s' for %s must be a string, got %s", key, fname,
                       luaL_typename(L, -1));
        size_t len;
        v = lua_tolstring(L, -1, &len);
        if (strlen(v) != len) /* C would read up to the first zero byte only */
            lerror(L, "option '%s' for %s holds a zero byte (\\0) at position %d", key, fname,
                   (int)strlen(v) + 1);
    }
    lua_pop(L, 1);
    return v;
}

/* ---- argument errors ------------------------------------------------------------ */

/* Registry: every C function of this module -> its name in the reference
 * ("pop:get") for the methods of the nk objects (filled by new_mt), true for
 * the others (nk.*, nk.plot.*, metamethods: note_api). in_api_call looks
 * for any of them on a stack. */
#define FUNCS_KEY "nk.functions"

/* The reference name of the nk function running ("pop:get"), or NULL. */
static const char *api_name(lua_State *L)
{
    lua_Debug ar;
    if (!lua_getstack(L, 0, &ar) || !lua_getinfo(L, "f", &ar))
        return NULL;
    lua_getfield(L, LUA_REGISTRYINDEX, FUNCS_KEY);
    lua_insert(L, -2);
    if (lua_istable(L, -2))
        lua_rawget(L, -2);
    return lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL; /* kept on the stack */
}

/* luaL_argerror for the nk methods. Lua names a C function from the call:
 * 'get' for pop:get(), and '?' when it was called as a value (pcall(pop.get,
 * pop), a tail call), self then counted as argument #1 ("bad argument #2 to
 * '?'"). The function running is looked up in FUNCS_KEY instead: a
 * method is named as the reference names it, its arguments counted without
 * self (as opt_table counts them). Other functions: luaL_argerror. */
static int arg_error(lua_State *L, int arg, const char *msg)
{
    const char *name = api_name(L);
    if (!name)
        return luaL_argerror(L, arg, msg);
    if (arg == 1)
        return lerror(L, "calling '%s' on bad self (%s)", name, msg);
    return lerror(L, "bad argument #%d to '%s' (%s)", arg - 1, name, msg);
}

/* luaL_typeerror through arg_error. */
static int type_error(lua_State *L, int arg, const char *expected)
{
    const char *got = type_name(L, arg);
    return arg_error(L, arg, lua_pushfstring(L, "%s expected, got %s", expected, got));
}

/* luaL_checkudata through type_error: a method called on something else is
 * named ("calling 'pop:get' on bad self (nk.population expected, got nil)"). */
static void *check_udata(lua_State *L, int idx, const char *mt)
{
    void *u = luaL_testudata(L, idx, mt);
    if (!u)
        type_error(L, idx, mt);
    return u;
}

/* luaL_checktype through arg_error. */
static void check_type(lua_State *L, int arg, int t)
{
    if (lua_type(L, arg) != t)
        type_error(L, arg, lua_typename(L, t));
}

/* luaL_checkstring for a string C reads: one with a zero byte inside would
 * be read only up to it (a path naming another file, a name another field). */
static const char *check_cstring(lua_State *L, int idx)
{
    if (!lua_isstring(L, idx))
        type_error(L, idx, "string");
    size_t len;
    const char *v = lua_tolstring(L, idx, &len);
    if (strlen(v) != len)
        arg_error(L, idx, lua_pushfstring(L, "the string holds a zero byte (\\0) at position %d",
                                          (int)strlen(v) + 1));
    return v;
}

/* A number that must be an integer (n, seed, indegree); what names it. The
 * message starts with the method's name when what does not hold it. */
static int64_t check_int(lua_State *L, int idx, const char *what)
{
    const char *problem = NULL;
    char db[32];
    lua_Integer v = 0;
    if (lua_type(L, idx) != LUA_TNUMBER) {
        problem = "must be an integer, got %s";
        snprintf(db, sizeof db, "%s", luaL_typename(L, idx));
    } else if (lua_isinteger(L, idx)) {
        v = lua_tointeger(L, idx);
    } else {
        double d = lua_tonumber(L, idx);
        nk_fmt_num(d, db, sizeof db);
        if (d != floor(d))
            problem = "must be an integer, got %s";
        else if (!(fabs(d) < 9.2e18))
            problem = "must be an integer below 2^63 in size, got %s";
        else
            v = (lua_Integer)d;
    }
    if (problem) {
        const char *name = api_name(L);
        const char *fmt = lua_pushfstring(L, "%%s%%s%%s %s", problem);
        lerror(L, fmt, name && !strstr(what, name) ? name : "",
               name && !strstr(what, name) ? ": " : "", what, db);
    }
    return (int64_t)v;
}

/* ---- model objects ------------------------------------------------------------------ */

/* A model object ("nk.model") is a handle: a userdata whose user value is the
 * model's name. The model is looked up on every use, so the object follows a
 * redefinition (replace = true) and never holds a pointer that could dangle. */
static void push_model(lua_State *L, const char *name)
{
    lua_newuserdatauv(L, 1, 1);
    luaL_setmetatable(L, MODEL_MT);
    lua_pushstring(L, name);
    lua_setiuservalue(L, -2, 1);
}

/* The model name at idx, given as a string or a model object; NULL for
 * anything else. The string lives as long as the value at idx. */
static const char *to_model_name(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TSTRING)
        return lua_tostring(L, idx);
    if (luaL_testudata(L, idx, MODEL_MT)) {
        lua_getiuservalue(L, idx, 1);
        const char *s = lua_tostring(L, -1);
        lua_pop(L, 1);
        return s;
    }
    return NULL;
}

/* The model named (or held) by argument idx; raises "fname: unknown model
 * 'x' (did you mean 'y'?)" when there is none. */
static const nk_model *check_model(lua_State *L, int idx, const char *fname)
{
    const char *name = to_model_name(L, idx);
    if (!name)
        lerror(L, "bad argument #1 to '%s' (model name or nk.model object expected, got %s)",
               fname, type_name(L, idx));
    nk_ctx *ctx = push_ctx(L);
    lua_pop(L, 1); /* the registry keeps the context */
    const nk_model *m = nk_model_find(ctx, name);
    if (!m)
        lerror(L, "%s: %s", fname, nk_errmsg(ctx));
    return m;
}

/* A model option of table t (connect's and poisson's 'synapse'): a name or
 * a model object. */
static const char *opt_model(lua_State *L, int t, const char *key, const char *fname,
                             const char *def)
{
    if (t == 0)
        return def;
    lua_getfield(L, t, key);
    const char *v = def;
    if (!lua_isnil(L, -1)) {
        v = to_model_name(L, -1); /* kept alive by the option table */
        if (!v)
            lerror(L, "option '%s' for %s must be a model name or an nk.model object, got %s",
                   key, fname, type_name(L, -1));
    }
    lua_pop(L, 1);
    return v;
}

static int model_tostring(lua_State *L)
{
    lua_pushstring(L, nk_model_describe(check_model(L, 1, "tostring")));
    return 1;
}

static int model_eq(lua_State *L)
{
    const char *a = to_model_name(L, 1), *b = to_model_name(L, 2);
    lua_pushboolean(L, a && b && lua_type(L, 1) == LUA_TUSERDATA &&
                           lua_type(L, 2) == LUA_TUSERDATA && !strcmp(a, b));
    return 1;
}

/* m.name, m.kind, m.doc, m.params (name -> {default =, unit =}), m.states
 * (name -> {unit =}), m.description (the text print(m) shows). */
static int model_index(lua_State *L)
{
    const nk_model *m = check_model(L, 1, "nk.model");
    if (lua_type(L, 2) != LUA_TSTRING) {
        lua_pushnil(L);
        return 1;
    }
    const char *k = lua_tostring(L, 2);
    if (!strcmp(k, "name")) {
        lua_pushstring(L, nk_model_name(m));
    } else if (!strcmp(k, "kind")) {
        lua_pushstring(L, nk_model_is_synapse(m) ? "synapse" : "neuron");
    } else if (!strcmp(k, "doc")) {
        lua_pushstring(L, nk_model_doc(m));
    } else if (!strcmp(k, "fires")) {
        lua_pushboolean(L, nk_model_fires(m));
    } else if (!strcmp(k, "graded")) {
        lua_pushboolean(L, nk_model_is_graded(m));
    } else if (!strcmp(k, "description")) {
        lua_pushstring(L, nk_model_describe(m));
    } else if (!strcmp(k, "params")) {
        int n = nk_model_nparams(m);
        lua_createtable(L, 0, n);
        for (int i = 0; i < n; i++) {
            lua_createtable(L, 0, 2);
            lua_pushnumber(L, nk_model_param_default(m, i));
            lua_setfield(L, -2, "default");
            lua_pushstring(L, nk_model_param_unit(m, i));
            lua_setfield(L, -2, "unit");
            lua_setfield(L, -2, nk_model_param_name(m, i));
        }
    } else if (!strcmp(k, "states")) {
        int n = nk_model_nstates(m);
        lua_createtable(L, 0, n);
        for (int i = 0; i < n; i++) {
            lua_createtable(L, 0, 1);
            lua_pushstring(L, nk_model_state_unit(m, i));
            lua_setfield(L, -2, "unit");
            lua_setfield(L, -2, nk_model_state_name(m, i));
        }
    } else {
        lua_pushnil(L);
    }
    return 1;
}

/* ---- networks --------------------------------------------------------------------- */

/* The network, or NULL once net:close() was called (freed or not yet). */
static nk_net *live_net(const lnet *n)
{
    return n->closed ? NULL : n->net;
}

static lnet *check_net(lua_State *L, int idx)
{
    lnet *n = luaL_testudata(L, idx, NET_MT);
    if (!n)
        type_error(L, idx, NET_MT);
    if (!live_net(n))
        lerror(L, "this network has been closed");
    return n;
}

/* Collected: nothing can reach it, so nothing is using it. */
static int net_gc(lua_State *L)
{
    lnet *n = luaL_checkudata(L, 1, NET_MT);
    nk_net_free(n->net);
    n->net = NULL;
    return 0;
}

/* ---- closing while a call is running ---------------------------------------------
 *
 * The C functions below hold raw pointers (an nk_net, an nk_edges) while they
 * run, and some of them call Lua while they do: an option table's __index,
 * a value's __len, a run's callback, or a finalizer that the collector runs
 * at any allocation. Such Lua code may call net:close() or edges:free().
 * Freeing then would pull the memory from under the C function that is
 * still running, so the object is only marked closed (every later call
 * says so) and kept in the registry's PENDING_KEY table; a sweep frees it
 * once no function of this module is on any running thread's stack: at the
 * next net:close, nk.network or nk.restore outside such a call, at the end of
 * net:run, and after each chunk the shell runs (nk_lua_sweep).
 *
 * "On a running thread's stack": the calling thread, the main thread, and
 * every coroutine that is running or has resumed another (status normal),
 * since a metamethod may resume a coroutine that closes the network. The
 * coroutine library's create and wrap are replaced (luaopen_nk) by versions
 * that note each new coroutine in the weak THREADS_KEY table. A suspended
 * coroutine holds no C function of ours: they do not yield. */

#define PENDING_KEY "nk.closing"  /* userdata (network, edge list) to free */
#define THREADS_KEY "nk.threads"  /* coroutines made (weak keys) */

/* Whether a function of this module is on co's stack, from level `from`. */
static int api_on_stack(lua_State *L, lua_State *co, int from, int api)
{
    lua_Debug ar;
    for (int level = from; lua_getstack(co, level, &ar); level++) {
        lua_getinfo(L, "f", &ar); /* pushed on L, whichever thread ar is of */
        if (lua_iscfunction(L, -1)) {
            lua_rawget(L, api);
            int ours = lua_toboolean(L, -1);
            lua_pop(L, 1);
            if (ours)
                return 1;
        } else {
            lua_pop(L, 1);
        }
    }
    return 0;
}

/* Whether freeing now could pull memory from under a running function of
 * this module. The caller (level 0 of L) is not counted. */
static int in_api_call(lua_State *L)
{
    luaL_checkstack(L, 6, NULL);
    int top = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, FUNCS_KEY);
    int api = lua_gettop(L);
    int busy = !lua_istable(L, api) ? 0 : api_on_stack(L, L, 1, api);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    lua_State *main_L = lua_tothread(L, -1);
    if (!busy && main_L != L)
        busy = api_on_stack(L, main_L, 0, api);
    if (!busy && lua_getfield(L, LUA_REGISTRYINDEX, THREADS_KEY) == LUA_TTABLE) {
        lua_pushnil(L);
        while (!busy && lua_next(L, -2)) {
            lua_pop(L, 1);
            lua_State *co = lua_tothread(L, -1);
            if (co && co != L && co != main_L && lua_status(co) == LUA_OK)
                busy = api_on_stack(L, co, 0, api);
        }
    }
    lua_settop(L, top);
    return busy;
}

/* Adds the value at idx to the set (a table: value -> true) in the
 * registry under key, made when missing (weak keys when weak). */
static void set_add(lua_State *L, const char *key, int idx, int weak)
{
    idx = lua_absindex(L, idx);
    if (lua_getfield(L, LUA_REGISTRYINDEX, key) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        if (weak) {
            lua_createtable(L, 0, 1);
            lua_pushliteral(L, "k");
            lua_setfield(L, -2, "__mode");
            lua_setmetatable(L, -2);
        }
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, key);
    }
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* Keeps userdata idx to be freed at the next sweep. */
static void close_later(lua_State *L, int idx)
{
    set_add(L, PENDING_KEY, idx, 0);
}

typedef struct ledges ledges;
static void edges_release(ledges *le);

/* Frees what close_later kept, when nothing can be using it. */
static void sweep(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, PENDING_KEY) != LUA_TTABLE || in_api_call(L)) {
        lua_pop(L, 1);
        return;
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        lnet *n = luaL_testudata(L, -1, NET_MT);
        if (n) {
            nk_net_free(n->net);
            n->net = NULL;
        } else {
            ledges *le = luaL_testudata(L, -1, EDGES_MT);
            if (le)
                edges_release(le);
        }
    }
    lua_pop(L, 1);
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, PENDING_KEY);
}

int nk_lua_sweep(lua_State *L)
{
    sweep(L);
    return 0;
}

/* Reads the calling script's text (for the results file's metadata). */
static void record_script(lua_State *L, nk_net *net)
{
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "S", &ar) || ar.source[0] != '@')
            continue;
        const char *path = ar.source + 1;
        FILE *f = fopen(path, "rb");
        if (!f)
            return;
        char *buf = malloc(1 << 20);
        if (buf) {
            size_t n = fread(buf, 1, (1 << 20) - 1, f);
            buf[n] = 0;
            nk_net_set_meta(net, "script", buf);
            nk_net_set_meta(net, "script_path", path);
            free(buf);
        }
        fclose(f);
        return;
    }
}

static int l_network(lua_State *L)
{
    int t = opt_table(L, 1, "nk.network", nk_api_opts("nk.network", NULL)) ? 1 : 0;
    nk_ctx *ctx = push_ctx(L); /* kept as the network's user value */
    int ctx_idx = lua_gettop(L);
    nk_net_opts o;
    nk_net_opts_init(&o);
    /* Command-line defaults. */
    lua_getfield(L, LUA_REGISTRYINDEX, DEFAULTS_KEY);
    int defs = lua_gettop(L);
    const char *backend = "auto";
    if (lua_istable(L, defs)) {
        lua_getfield(L, defs, "seed");
        if (lua_isinteger(L, -1))
            o.seed = (uint64_t)lua_tointeger(L, -1);
        lua_getfield(L, defs, "backend");
        if (lua_type(L, -1) == LUA_TSTRING)
            backend = lua_tostring(L, -1);
        lua_getfield(L, defs, "threads");
        if (lua_isinteger(L, -1))
            o.threads = (int)lua_tointeger(L, -1);
    }
    o.dt = opt_number(L, t, "dt", "nk.network", 0.1);
    if (t) {
        lua_getfield(L, t, "seed");
        if (!lua_isnil(L, -1)) {
            int64_t s = check_int(L, -1, "option 'seed' for nk.network");
            if (s < 0)
                lerror(L, "option 'seed' for nk.network must be >= 0, got %lld", (long long)s);
            o.seed = (uint64_t)s;
        }
        lua_pop(L, 1);
        lua_getfield(L, t, "threads");
        if (!lua_isnil(L, -1)) {
            int64_t v = check_int(L, -1, "option 'threads' for nk.network");
            if (v < 0 || v > 256)
                lerror(L, "option 'threads' for nk.network: expected 0 (one per CPU) to 256, "
                          "got %lld",
                       (long long)v);
            o.threads = (int)v;
        }
        lua_pop(L, 1);
    }
    backend = opt_string(L, t, "backend", "nk.network", backend);
    if (!strcmp(backend, "cpu"))
        o.backend = NK_BACKEND_CPU;
    else if (!strcmp(backend, "cuda"))
        o.backend = NK_BACKEND_CUDA;
    else if (!strcmp(backend, "auto"))
        o.backend = NK_BACKEND_AUTO;
    else
        lerror(L, "option 'backend' for nk.network: unknown backend '%s' (expected 'cpu', "
                      "'cuda' or 'auto')",
                   backend);
    const char *prec = opt_string(L, t, "precision", "nk.network", "float");
    if (!strcmp(prec, "double") || !strcmp(prec, "float64"))
        o.double_precision = 1;
    else if (strcmp(prec, "float") && strcmp(prec, "float32"))
        lerror(L, "option 'precision' for nk.network: expected 'float' or 'double', got '%s'",
                   prec);
    o.output = opt_string(L, t, "output", "nk.network", NULL);
    if (o.output && !*o.output)
        return lerror(L, "option 'output' for nk.network: expected a file name, got an empty "
                         "string (leave the option out for no results file)");

    lnet *n = lua_newuserdatauv(L, sizeof *n, 1);
    n->net = NULL;
    n->script_step = 0;
    n->resume_checked = 0;
    n->note_told = 0;
    n->closed = 0;
    luaL_setmetatable(L, NET_MT);
    lua_pushvalue(L, ctx_idx);
    lua_setiuservalue(L, -2, 1);
    sweep(L); /* networks closed inside a call: their memory and files */
    n->net = nk_net_new(ctx, &o);
    if (!n->net && nk_ctx_output_taken(ctx)) {
        /* the other network may be one nobody can reach any more (a
         * script run again at the prompt): collected, it lets go */
        lua_gc(L, LUA_GCCOLLECT);
        n->net = nk_net_new(ctx, &o);
    }
    if (!n->net)
        lerror(L, "nk.network: %s", nk_errmsg(ctx));
    if (lua_istable(L, defs)) {
        lua_getfield(L, defs, "profile");
        if (lua_toboolean(L, -1))
            nk_net_set_profiling(n->net, 1);
        lua_pop(L, 1);
    }
    record_script(L, n->net);
    return 1;
}

/* Raises the context's last message, prefixed with the method's name. */
static int fail(lua_State *L, nk_net *net, const char *what)
{
    return lerror(L, "%s: %s", what, nk_errmsg(nk_net_ctx(net)));
}

/* ---- populations -------------------------------------------------------------------- */

static void push_pop(lua_State *L, int netidx, int pop, int64_t lo, int64_t hi)
{
    lpop *p = lua_newuserdatauv(L, sizeof *p, 1);
    p->pop = pop;
    p->lo = lo;
    p->hi = hi;
    luaL_setmetatable(L, POP_MT);
    lua_pushvalue(L, netidx);
    lua_setiuservalue(L, -2, 1);
}

/* The population argument arg as a range of network netidx; errors when it
 * is not a population or belongs to another network. */
static nk_range check_target(lua_State *L, int netidx, int arg, const char *fname)
{
    lpop *p = luaL_testudata(L, arg, POP_MT);
    if (!p && luaL_testudata(L, arg, "nk.selection"))
        lerror(L, "bad argument #%d to '%s' (a population or a slice expected; a selection "
                  "(pop:select, net:region) cannot be used here: take slices, or connect with "
                  "rule 'list' and the neurons' indices)",
               arg - 1, fname);
    if (!p)
        lerror(L, "bad argument #%d to '%s' (population expected, got %s)", arg - 1, fname,
                   type_name(L, arg));
    lua_getiuservalue(L, arg, 1);
    if (!lua_rawequal(L, -1, netidx))
        lerror(L, "bad argument #%d to '%s' (population '%s' belongs to another network)",
                   arg - 1, fname, nk_pop_name(check_net(L, -1)->net, p->pop));
    lua_pop(L, 1);
    nk_range r = {p->pop, p->lo, p->hi};
    return r;
}

struct ledges {
    nk_edges *e;
    int freed; /* edges:free() came while a call of this module was running */
};

/* The edge list, or NULL once edges:free() was called (freed or not yet). */
static nk_edges *live_edges(const ledges *le)
{
    return le->freed ? NULL : le->e;
}

/* Positions as given from Lua: a layout table ({kind = "grid", ...}) or a
 * list of {x, y, z}; read before anything is created. */
typedef struct lplace {
    int explicit_;
    nk_layout layout;
    double *xyz;             /* explicit: in a userdata on the stack (collected) */
    int64_t n;
} lplace;

static void layout_vec(lua_State *L, int idx, const char *key, double *v, int ints, int64_t *iv)
{
    lua_getfield(L, idx, key);
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1) || luaL_len(L, -1) != 3)
            lerror(L, "positions: '%s' must be a list of three numbers {x, y, z}", key);
        for (int k = 0; k < 3; k++) {
            lua_geti(L, -1, k + 1);
            if (lua_type(L, -1) != LUA_TNUMBER)
                lerror(L, "positions: '%s' must be a list of three numbers {x, y, z}", key);
            if (ints) {
                iv[k] = check_int(L, -1, "a grid's shape");
                if (iv[k] < 1) /* (the engine takes 0 for "not given") */
                    lerror(L, "positions: grid: shape[%d] must be >= 1, got %lld", k + 1,
                           (long long)iv[k]);
            } else
                v[k] = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

/* Reads the positions at idx into pl (a userdata may be left on the stack). */
static void read_place(lua_State *L, int idx, lplace *pl)
{
    idx = lua_absindex(L, idx);
    memset(pl, 0, sizeof *pl);
    if (!lua_istable(L, idx))
        lerror(L, "positions must be a layout ({kind = \"grid\" | \"box\" | \"sphere\" | "
                  "\"cylinder\", ...}) or a list of {x, y, z} (um), got %s",
               luaL_typename(L, idx));
    lua_getfield(L, idx, "kind");
    int layout = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (layout) {
        check_keys(L, idx, "positions", nk_api_opts("positions", NULL));
        nk_layout_init(&pl->layout);
        lua_getfield(L, idx, "kind");
        pl->layout.kind = lua_tostring(L, -1); /* alive in the table */
        lua_pop(L, 1);
        layout_vec(L, idx, "center", pl->layout.center, 0, NULL);
        layout_vec(L, idx, "size", pl->layout.size, 0, NULL);
        layout_vec(L, idx, "spacing", pl->layout.size, 0, NULL);
        layout_vec(L, idx, "shape", NULL, 1, pl->layout.shape);
        lua_getfield(L, idx, "radius");
        pl->layout.radius = lua_tonumber(L, -1);
        lua_getfield(L, idx, "height");
        pl->layout.height = lua_tonumber(L, -1);
        lua_pop(L, 2);
        return;
    }
    pl->explicit_ = 1;
    pl->n = luaL_len(L, idx);
    pl->xyz = lua_newuserdatauv(L, (size_t)(pl->n ? pl->n : 1) * 3 * sizeof(double), 0);
    for (int64_t i = 0; i < pl->n; i++) {
        lua_geti(L, idx, i + 1);
        int ok = lua_istable(L, -1) && luaL_len(L, -1) == 3;
        for (int k = 0; ok && k < 3; k++) {
            lua_geti(L, -1, k + 1);
            ok = lua_type(L, -1) == LUA_TNUMBER;
            pl->xyz[3 * i + k] = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        if (!ok)
            lerror(L, "positions: entry %lld must be {x, y, z}, three numbers (um)",
                   (long long)i + 1);
    }
}

static int apply_place(nk_net *net, int pop, const lplace *pl)
{
    return pl->explicit_ ? nk_pop_set_positions(net, pop, pl->xyz, pl->n)
                         : nk_pop_layout(net, pop, &pl->layout);
}

/* External ids at idx: an edge list (its ids) or a list of integers. */
static const int64_t *read_ids(lua_State *L, int idx, int64_t *n)
{
    idx = lua_absindex(L, idx);
    ledges *le = luaL_testudata(L, idx, EDGES_MT);
    if (le) {
        if (!live_edges(le))
            lerror(L, "ids: this edge list has been freed");
        *n = le->e->nids;
        return le->e->ids;
    }
    if (!lua_istable(L, idx))
        lerror(L, "ids must be an edge list (nk.read_edges) or a list of integers, got %s",
               luaL_typename(L, idx));
    *n = luaL_len(L, idx);
    int64_t *ids = lua_newuserdatauv(L, (size_t)(*n ? *n : 1) * sizeof *ids, 0);
    for (int64_t i = 0; i < *n; i++) {
        lua_geti(L, idx, i + 1);
        char what[48]; /* 2^3 is an integer too (it was "got number") */
        snprintf(what, sizeof what, "ids: entry %lld", (long long)i + 1);
        ids[i] = check_int(L, -1, what);
        lua_pop(L, 1);
    }
    return ids;
}

/* The defaults of nk_pop_set_tolerance (nk.h), for a call that gives only
 * one of rtol and atol. */
#define RK45_RTOL_DEFAULT 1e-6
#define RK45_ATOL_DEFAULT 1e-6

/* Sets state var of neurons r from the value at stack top: a number, an
 * nk.uniform(lo, hi) or a list with one number per neuron. Returns the
 * engine's code; raises for a value of the wrong shape. */
/* Checks the distribution table at idx (its kind a string): only the
 * fields of its kind (uniform: lo, hi; normal and lognormal: mean, sd and
 * optionally min, max, as nk.uniform, nk.normal and nk.lognormal make
 * them), the required ones present, all numbers. what names the value in
 * messages. An unknown kind is left to the caller. */
static void check_dist_fields(lua_State *L, int idx, const char *what)
{
    idx = lua_absindex(L, idx);
    lua_getfield(L, idx, "kind");
    const char *kind = lua_tostring(L, -1);
    const int uniform = kind && !strcmp(kind, "uniform");
    if (!uniform && !(kind && (!strcmp(kind, "normal") || !strcmp(kind, "lognormal")))) {
        lua_pop(L, 1);
        return;
    }
    static const char *const uf[] = {"lo", "hi", NULL}, *const nf[] = {"mean", "sd", "min", "max", NULL};
    const char *const *f = uniform ? uf : nf;
    const char *names = uniform ? "kind, lo, hi" : "kind, mean, sd, min, max";
    const char *maker = uniform ? "nk.uniform(lo, hi)" : kind[0] == 'n' ? "nk.normal(mean, sd[, min, max])"
                                                                         : "nk.lognormal(mu, sigma[, min, max])";
    const char *odd = NULL; /* the first unknown name in byte order, so that the
                               message does not depend on the table's order */
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        int known = k && !strcmp(k, "kind");
        for (int j = 0; k && f[j] && !known; j++)
            known = !strcmp(k, f[j]);
        if (!known && !k)
            lerror(L, "%s: a %s distribution has the fields %s, got a %s key (%s makes one)",
                   what, kind, names, luaL_typename(L, -1), maker);
        if (!known && (!odd || strcmp(k, odd) < 0))
            odd = k; /* alive: the table holds it */
    }
    if (odd)
        lerror(L, "%s: a %s distribution has the fields %s, got '%s' (%s makes one)", what, kind,
               names, odd, maker);
    for (int j = 0; f[j]; j++) {
        lua_getfield(L, idx, f[j]);
        const int t = lua_type(L, -1);
        if (t != LUA_TNUMBER && (j < 2 || t != LUA_TNIL))
            lerror(L, "%s: field '%s' of the %s distribution must be a number, got %s (%s makes "
                      "one)",
                   what, f[j], kind, t == LUA_TNIL ? "nothing" : luaL_typename(L, -1), maker);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static int set_state_value(lua_State *L, nk_net *net, nk_range r, const char *var,
                           const char *fname)
{
    int v = lua_gettop(L);
    if (lua_type(L, v) == LUA_TNUMBER)
        return nk_pop_set_state(net, r, var, lua_tonumber(L, v));
    if (!lua_istable(L, v))
        return lerror(L, "%s: the value of '%s' must be a number, nk.uniform(lo, hi) or a list "
                         "of %lld numbers, got %s",
                      fname, var, (long long)(r.hi - r.lo), luaL_typename(L, v));
    lua_getfield(L, v, "kind");
    int dist = lua_type(L, -1) == LUA_TSTRING;
    int uniform = dist && !strcmp(lua_tostring(L, -1), "uniform");
    if (dist && !uniform)
        return lerror(L, "%s: the value of '%s' must be a number, nk.uniform(lo, hi) or a list "
                         "of %lld numbers, got nk.%s (draw the values in Lua and give a list)",
                      fname, var, (long long)(r.hi - r.lo), lua_tostring(L, -1));
    lua_pop(L, 1);
    if (uniform) {
        char what[160];
        snprintf(what, sizeof what, "%s: the value of '%.64s'", fname, var);
        check_dist_fields(L, v, what);
        lua_getfield(L, v, "lo");
        lua_getfield(L, v, "hi");
        int rc = nk_pop_set_state_uniform(net, r, var, lua_tonumber(L, -2), lua_tonumber(L, -1));
        lua_pop(L, 2);
        return rc;
    }
    int64_t n = r.hi - r.lo;
    if ((int64_t)luaL_len(L, v) != n)
        return lerror(L, "%s: '%s' has %lld values, expected one per neuron (%lld)", fname, var,
                      (long long)luaL_len(L, v), (long long)n);
    double *x = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *x, 0);
    for (int64_t i = 0; i < n; i++) {
        if (lua_geti(L, v, i + 1) != LUA_TNUMBER)
            return lerror(L, "%s: %s[%lld] must be a number, got %s", fname, var,
                          (long long)(i + 1), luaL_typename(L, -1));
        x[i] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    int rc = nk_pop_set_state_array(net, r, var, x);
    lua_pop(L, 1);
    return rc;
}

/* Keys of the table at index tbl that name one parameter of m (states: one
 * state) twice, once directly and once through an alias, or through two
 * aliases: which value would be used depends on the table's order, so it
 * is an error that names both. Keys that are no name of m are left to the
 * engine's message. */
static void check_named_once(lua_State *L, int tbl, const nk_model *m, int states,
                             const char *fname)
{
    int n = states ? nk_model_nstates(m) : nk_model_nparams(m);
    const char **seen = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *seen, 0);
    for (int k = 0; k < n; k++)
        seen[k] = NULL;
    lua_pushnil(L);
    while (lua_next(L, tbl)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            continue;
        const char *key = lua_tostring(L, -1);
        int k = states ? nk_model_state_index(m, key) : nk_model_param_index(m, key);
        if (k < 0)
            continue;
        if (seen[k]) {
            /* in an order that does not depend on the table's */
            const char *real = states ? nk_model_state_name(m, k) : nk_model_param_name(m, k);
            const char *a = seen[k], *b = key;
            if (!strcmp(a, real) || (strcmp(b, real) && strcmp(a, b) > 0)) {
                a = key;
                b = seen[k];
            }
            lerror(L, "%s: '%s' and '%s' both give %s '%s' (%s); give it once", fname, a, b,
                   states ? "state" : "parameter", real,
                   strcmp(b, real) ? "both are aliases of it" : "the first is an alias of it");
        }
        seen[k] = key;
    }
    lua_pop(L, 1);
}

static int net_population(lua_State *L)
{
    lnet *n = check_net(L, 1);
    const char *model = to_model_name(L, 2);
    if (!model)
        return lerror(L, "bad argument #1 to 'net:population' (model name expected, got %s)",
                      type_name(L, 2));
    int64_t size = check_int(L, 3, "population size");
    int t = opt_table(L, 4, "net:population", nk_api_opts("net:population", NULL)) ? 4 : 0;
    const char *name = opt_string(L, t, "name", "net:population", NULL);
    const char *method = opt_string(L, t, "method", "net:population", NULL);
    /* rk45's tolerances: accepted with every method, used by rk45. */
    double rtol = opt_number(L, t, "rtol", "net:population", NAN);
    double atol = opt_number(L, t, "atol", "net:population", NAN);
    int has_tol = !isnan(rtol) || !isnan(atol);
    if (t) {
        static const char *const tk[] = {"rtol", "atol"};
        for (int j = 0; j < 2; j++) {
            lua_getfield(L, t, tk[j]);
            double v = lua_tonumber(L, -1);
            if (!lua_isnil(L, -1) && !(v > 0 && isfinite(v)))
                return lerror(L, "option '%s' for net:population must be a positive number, got %g",
                              tk[j], v);
            lua_pop(L, 1);
        }
    }
    if (isnan(rtol))
        rtol = RK45_RTOL_DEFAULT;
    if (isnan(atol))
        atol = RK45_ATOL_DEFAULT;
    /* Check the types in params and init before creating anything. */
    int params = 0, init = 0;
    if (t) {
        lua_getfield(L, t, "params");
        if (!lua_isnil(L, -1) && !lua_istable(L, -1))
            return lerror(L, "option 'params' for net:population must be a table, got %s",
                          luaL_typename(L, -1));
        params = lua_istable(L, -1) ? lua_gettop(L) : 0;
        lua_getfield(L, t, "init");
        if (!lua_isnil(L, -1) && !lua_istable(L, -1))
            return lerror(L, "option 'init' for net:population must be a table, got %s",
                          luaL_typename(L, -1));
        init = lua_istable(L, -1) ? lua_gettop(L) : 0;
    }
    const nk_model *nm = nk_model_find(push_ctx(L), model);
    lua_pop(L, 1);
    for (int pass = 0; pass < 2; pass++) {
        int tbl = pass ? init : params;
        if (!tbl)
            continue;
        if (nm)
            check_named_once(L, tbl, nm, pass, "net:population");
        lua_pushnil(L);
        while (lua_next(L, tbl)) {
            if (lua_type(L, -2) != LUA_TSTRING)
                return lerror(L, "net:population: %s names must be strings",
                              pass ? "init" : "parameter");
            const char *k = lua_tostring(L, -2);
            int ok = lua_type(L, -1) == LUA_TNUMBER;
            if (pass && !ok && lua_istable(L, -1)) {
                lua_getfield(L, -1, "kind");
                int list = lua_isnil(L, -1);
                ok = list ||
                     (lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "uniform"));
                lua_pop(L, 1);
                if (ok && !list) {
                    char what[128];
                    snprintf(what, sizeof what, "net:population: init '%.64s'", k);
                    check_dist_fields(L, -1, what);
                }
                /* checked now, so that nothing is made when it is wrong */
                if (list && (int64_t)luaL_len(L, -1) != size)
                    return lerror(L, "net:population: init '%s' has %lld values, expected one "
                                     "per neuron (%lld)",
                                  k, (long long)luaL_len(L, -1), (long long)size);
                for (int64_t i = 1; list && i <= size; i++) {
                    if (lua_geti(L, -1, i) != LUA_TNUMBER)
                        return lerror(L, "net:population: init %s[%lld] must be a number, got %s",
                                      k, (long long)i, luaL_typename(L, -1));
                    lua_pop(L, 1);
                }
            }
            if (!ok)
                return pass ? lerror(L,
                                     "net:population: init value of '%s' must be a number, "
                                     "nk.uniform(lo, hi) or a list of %lld numbers, got %s",
                                     k, (long long)size, luaL_typename(L, -1))
                            : lerror(L, "net:population: parameter '%s' must be a number, got %s",
                                     k, luaL_typename(L, -1));
            lua_pop(L, 1);
        }
    }
    lplace place;
    int has_place = 0;
    const int64_t *ids = NULL;
    int64_t nids = 0;
    if (t) {
        lua_getfield(L, t, "positions");
        if (!lua_isnil(L, -1)) {
            read_place(L, -1, &place);
            has_place = 1;
        }
        lua_getfield(L, t, "ids");
        if (!lua_isnil(L, -1))
            ids = read_ids(L, -1, &nids);
    }
    int pop = nk_pop_add(n->net, model, size, name, method);
    if (pop < 0)
        return fail(L, n->net, "net:population");
    /* Values the engine refuses (unknown names, non-finite numbers, values
     * that would make every run fail) undo the population, so that the call
     * can simply be repeated, corrected. */
    int rc = 0;
    if (params) {
        lua_pushnil(L);
        while (!rc && lua_next(L, params)) {
            rc = nk_pop_set_param(n->net, pop, lua_tostring(L, -2), lua_tonumber(L, -1));
            lua_pop(L, 1);
        }
        if (rc)
            lua_pop(L, 1);
    }
    if (init && !rc) {
        nk_range all = {pop, 0, size};
        lua_pushnil(L);
        while (!rc && lua_next(L, init)) {
            rc = set_state_value(L, n->net, all, lua_tostring(L, -2), "net:population");
            lua_pop(L, 1);
        }
        if (rc)
            lua_pop(L, 1);
    }
    if (!rc && has_tol)
        rc = nk_pop_set_tolerance(n->net, pop, rtol, atol);
    if (!rc && has_place)
        rc = apply_place(n->net, pop, &place);
    if (!rc && ids)
        rc = nk_pop_set_ids(n->net, pop, ids, nids);
    /* once every parameter is set: a refractory period of several of them
     * is judged whole, whatever order the table gave them in */
    if (!rc)
        rc = nk_pop_check(n->net, pop);
    if (rc) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", nk_errmsg(nk_net_ctx(n->net)));
        nk_pop_discard(n->net, pop);
        return lerror(L, "net:population: %s", msg);
    }
    lua_pushvalue(L, 1);
    push_pop(L, lua_gettop(L), pop, 0, size);
    return 1;
}

static lpop *check_pop(lua_State *L, int idx, nk_net **net)
{
    lpop *p = check_udata(L, idx, POP_MT);
    lua_getiuservalue(L, idx, 1);
    *net = check_net(L, -1)->net;
    lua_pop(L, 1);
    return p;
}

static int pop_slice(lua_State *L)
{
    nk_net *net;
    lpop *p = check_pop(L, 1, &net);
    int64_t a = check_int(L, 2, "slice start");
    int64_t b = lua_isnoneornil(L, 3) ? a : check_int(L, 3, "slice end");
    int64_t n = p->hi - p->lo;
    if (a < 1 || b > n || a > b)
        return lerror(L, "slice(%lld, %lld): expected 1 <= first <= last <= %lld", (long long)a,
                          (long long)b, (long long)n);
    lua_getiuservalue(L, 1, 1);
    push_pop(L, lua_gettop(L), p->pop, p->lo + a - 1, p->lo + b);
    return 1;
}

static int pop_len(lua_State *L)
{
    nk_net *net;
    lpop *p = check_pop(L, 1, &net);
    lua_pushinteger(L, p->hi - p->lo);
    return 1;
}

/* tostring of an object whose network was closed: "what (its network has
 * been closed)", so that printing one never raises (1: pushed). */
static int closed_tostring(lua_State *L, int idx, const char *what)
{
    lua_getiuservalue(L, idx, 1);
    lnet *n = luaL_testudata(L, -1, NET_MT);
    lua_pop(L, 1);
    if (n && live_net(n))
        return 0;
    lua_pushfstring(L, "%s (its network has been closed)", what);
    return 1;
}

static int pop_tostring(lua_State *L)
{
    check_udata(L, 1, POP_MT);
    if (closed_tostring(L, 1, "population"))
        return 1;
    nk_net *net;
    lpop *p = check_pop(L, 1, &net);
    int64_t n = nk_pop_size(net, p->pop);
    const char *model = nk_model_name(nk_pop_model(net, p->pop));
    if (p->lo == 0 && p->hi == n)
        lua_pushfstring(L, "population '%s': %I %s neurons", nk_pop_name(net, p->pop),
                        (lua_Integer)n, model);
    else
        lua_pushfstring(L, "population '%s'[%I..%I]: %I of %I %s neurons", nk_pop_name(net, p->pop),
                        (lua_Integer)p->lo + 1, (lua_Integer)p->hi, (lua_Integer)(p->hi - p->lo),
                        (lua_Integer)n, model);
    return 1;
}

/* pop:set{var = value, ...}: states of the population's (or slice's)
 * neurons, each a number, nk.uniform(lo, hi) or one number per neuron. */
static int pop_set(lua_State *L)
{
    nk_net *net;
    lpop *p = check_pop(L, 1, &net);
    check_type(L, 2, LUA_TTABLE);
    nk_range r = {p->pop, p->lo, p->hi};
    lua_settop(L, 2);
    check_named_once(L, 2, nk_pop_model(net, p->pop), 1, "pop:set");
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return lerror(L, "pop:set: state names must be strings, got a %s key",
                          luaL_typename(L, -2));
        if (set_state_value(L, net, r, lua_tostring(L, -2), "pop:set"))
            return fail(L, net, "pop:set");
        lua_pop(L, 1);
    }
    return 0;
}

/* pop:get(var, i): state variable var of neuron i (1-based, within the
 * slice); pop:param(name): a parameter's value. */
static int pop_get(lua_State *L)
{
    nk_net *net;
    lpop *p = check_pop(L, 1, &net);
    const char *var = check_cstring(L, 2);
    int64_t i = check_int(L, 3, "neuron index");
    if (i < 1 || i > p->hi - p->lo)
        return lerror(L, "pop:get: neuron %lld is outside 1..%lld", (long long)i,
                          (long long)(p->hi - p->lo));
    double v;
    if (nk_pop_get_state(net, p->pop, var, p->lo + i - 1, &v))
        return fail(L, net, "pop:get");
    lua_pushnumber(L, v);
    return 1;
}

static int pop_param(lua_State *L)
{
    nk_net *net;
    lpop *p = check_pop(L, 1, &net);
    const char *name = check_cstring(L, 2);
    double v;
    if (nk_pop_get_param(net, p->pop, name, &v))
        return fail(L, net, "pop:param");
    lua_pushnumber(L, v);
    return 1;
}

/* pop:place(positions): positions for the whole population (a layout or a
 * list of {x, y, z}). */
static int pop_place(lua_State *L)
{
    nk_net *net;
    lpop *p = check_pop(L, 1, &net);
    lplace pl;
    read_place(L, 2, &pl);
    if (apply_place(net, p->pop, &pl))
        return fail(L, net, "pop:place");
    lua_settop(L, 1);
    return 1;
}

/* pop:positions(): {{x, y, z}, ...} of the neurons in the slice, or nil. */
static int pop_positions(lua_State *L)
{
    nk_net *net;
    lpop *p = check_pop(L, 1, &net);
    const double *xyz = nk_pop_positions(net, p->pop);
    if (!xyz) {
        lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, (int)(p->hi - p->lo), 0);
    for (int64_t i = p->lo; i < p->hi; i++) {
        lua_createtable(L, 3, 0);
        for (int k = 0; k < 3; k++) {
            lua_pushnumber(L, xyz[3 * i + k]);
            lua_rawseti(L, -2, k + 1);
        }
        lua_rawseti(L, -2, i - p->lo + 1);
    }
    return 1;
}

/* pop:ids(): the external ids of the neurons in the slice, or nil. */
static int pop_ids(lua_State *L)
{
    nk_net *net;
    lpop *p = check_pop(L, 1, &net);
    const int64_t *ids = nk_pop_ids(net, p->pop);
    if (!ids) {
        lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, (int)(p->hi - p->lo), 0);
    for (int64_t i = p->lo; i < p->hi; i++) {
        lua_pushinteger(L, (lua_Integer)ids[i]);
        lua_rawseti(L, -2, i - p->lo + 1);
    }
    return 1;
}

/* pop:index_of(id): the 1-based index (within the slice) of the neuron with
 * external id id, or nil. */
static int pop_index_of(lua_State *L)
{
    nk_net *net;
    lpop *p = check_pop(L, 1, &net);
    int64_t id = check_int(L, 2, "id");
    if (!nk_pop_ids(net, p->pop))
        return lerror(L, "pop:index_of: population '%s' has no ids (give 'ids' when creating it)",
                      nk_pop_name(net, p->pop));
    int64_t i = nk_pop_index_of(net, p->pop, id);
    if (i < p->lo || i >= p->hi)
        lua_pushnil(L);
    else
        lua_pushinteger(L, i - p->lo + 1);
    return 1;
}

static int pop_index(lua_State *L)
{
    nk_net *net;
    lpop *p = check_pop(L, 1, &net);
    const char *k = check_cstring(L, 2);
    if (!strcmp(k, "name"))
        lua_pushstring(L, nk_pop_name(net, p->pop));
    else if (!strcmp(k, "size"))
        lua_pushinteger(L, p->hi - p->lo);
    else if (!strcmp(k, "model"))
        lua_pushstring(L, nk_model_name(nk_pop_model(net, p->pop)));
    else if (!strcmp(k, "first"))
        lua_pushinteger(L, p->lo + 1);
    else if (!strcmp(k, "last"))
        lua_pushinteger(L, p->hi);
    else if (luaL_getmetafield(L, 1, "methods") == LUA_TTABLE) {
        lua_getfield(L, -1, k);
        return 1;
    } else
        lua_pushnil(L);
    return 1;
}

/* ---- projections ----------------------------------------------------------------------- */

/* Pushes a child object (projection or monitor idx) of the network at
 * stack index 1, which it keeps alive. */
static void push_child(lua_State *L, int idx, const char *mt)
{
    lchild *c = lua_newuserdatauv(L, sizeof *c, 1);
    c->idx = idx;
    luaL_setmetatable(L, mt);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
}

/* Pushes a list of the network's first n children of kind mt. */
static int push_children(lua_State *L, int n, const char *mt)
{
    lua_createtable(L, n, 0);
    for (int k = 0; k < n; k++) {
        push_child(L, k, mt);
        lua_rawseti(L, -2, k + 1);
    }
    return 1;
}

/* Reads option 'params' (synapse parameters) of option table t into
 * names/vals (at most 64; the names stay alive in the table). */
static int syn_params(lua_State *L, int t, const char *fname, const char **names, double *vals)
{
    int np = 0;
    if (!t)
        return 0;
    lua_getfield(L, t, "params");
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1))
            return lerror(L, "option 'params' for %s must be a table, got %s", fname,
                          luaL_typename(L, -1));
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TNUMBER)
                return lerror(L, "%s: params must map names to numbers", fname);
            if (np == 64)
                return lerror(L, "%s: too many synapse parameters", fname);
            names[np] = lua_tostring(L, -2);
            vals[np++] = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return np;
}

static const char *const rule_names[] = {"all_to_all",      "one_to_one",  "bernoulli",
                                         "fixed_indegree",  "fixed_outdegree", "fixed_total",
                                         "distance",        "shape",       "list",
                                         "edges",           NULL};
#define RULE_EDGES 9

/* Reads option key of table t as a per-synapse value: a number, a
 * distribution (nk.uniform, nk.normal, nk.lognormal) or a string (an
 * expression of d). A plain list of numbers is left for the list rule:
 * returns 1 then. */
static int opt_value(lua_State *L, int t, const char *key, double def, double *num, nk_dist *d)
{
    memset(d, 0, sizeof *d);
    d->kind = NK_DIST_CONST;
    d->lo = -INFINITY;
    d->hi = INFINITY;
    *num = def;
    if (!t)
        return 0;
    lua_getfield(L, t, key);
    int type = lua_type(L, -1), list = 0;
    if (type == LUA_TNUMBER) {
        *num = lua_tonumber(L, -1);
    } else if (type == LUA_TSTRING) {
        d->kind = NK_DIST_EXPR;
        d->expr = lua_tostring(L, -1); /* kept alive by the option table */
    } else if (type == LUA_TTABLE) {
        int tbl = lua_gettop(L);
        char what[96];
        snprintf(what, sizeof what, "option '%s' for net:connect", key);
        check_dist_fields(L, tbl, what);
        lua_getfield(L, tbl, "kind");
        const char *kind = lua_tostring(L, -1);
        if (!kind) {
            list = 1;
        } else if (!strcmp(kind, "uniform")) {
            d->kind = NK_DIST_UNIFORM;
            lua_getfield(L, tbl, "lo");
            lua_getfield(L, tbl, "hi");
            d->a = lua_tonumber(L, -2);
            d->b = lua_tonumber(L, -1);
            lua_pop(L, 2);
        } else if (!strcmp(kind, "normal") || !strcmp(kind, "lognormal")) {
            d->kind = kind[0] == 'n' ? NK_DIST_NORMAL : NK_DIST_LOGNORMAL;
            static const char *const f[] = {"mean", "sd", "min", "max"};
            double v[4];
            for (int k = 0; k < 4; k++) {
                lua_getfield(L, tbl, f[k]);
                v[k] = lua_isnil(L, -1) ? (k == 2 ? -INFINITY : k == 3 ? INFINITY : NAN)
                                        : lua_tonumber(L, -1);
                lua_pop(L, 1);
            }
            d->a = v[0];
            d->b = v[1];
            d->lo = v[2];
            d->hi = v[3];
        } else {
            lerror(L, "option '%s' for net:connect: unknown distribution '%s' (expected "
                      "nk.uniform, nk.normal or nk.lognormal)", key, kind);
        }
        lua_pop(L, 1);
    } else if (type != LUA_TNIL) {
        lerror(L, "option '%s' for net:connect must be a number, a distribution (nk.uniform, "
                  "nk.normal, nk.lognormal), an expression of d (a string) or, with rule 'list', "
                  "a list of numbers; got %s", key, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return list;
}

/* Reads the sequence at stack index idx into a new array of n numbers
 * (freed by the caller); integers when ints (1-based -> 0-based). Raises
 * an error naming the option and element that is wrong. */
static void *read_list(lua_State *L, int idx, const char *key, int ints, int64_t *n)
{
    idx = lua_absindex(L, idx);
    lua_Integer len = luaL_len(L, idx);
    size_t sz = ints ? sizeof(int64_t) : sizeof(double);
    void *out = malloc((size_t)(len ? len : 1) * sz);
    if (!out)
        lerror(L, "net:connect: out of memory for option '%s'", key);
    for (lua_Integer k = 1; k <= len; k++) {
        lua_geti(L, idx, k);
        int ok = lua_type(L, -1) == LUA_TNUMBER;
        double v = lua_tonumber(L, -1);
        if (ok && ints)
            ok = v == floor(v);
        lua_pop(L, 1);
        if (!ok) {
            free(out);
            lerror(L, "net:connect: option '%s' element %lld must be %s", key, (long long)k,
                   ints ? "an integer (a 1-based neuron index)" : "a number");
        }
        /* beyond any population (at most 2^32 neurons), and far enough from
         * int64's ends that the index converts and +-1 cannot overflow */
        if (ints && !(v >= -0x1p53 && v <= 0x1p53)) {
            free(out);
            lerror(L, "net:connect: option '%s' element %lld is %g: expected a 1-based neuron "
                      "index",
                   key, (long long)k, v);
        }
        if (ints)
            ((int64_t *)out)[k - 1] = (int64_t)v - 1;
        else
            ((double *)out)[k - 1] = v;
    }
    *n = len;
    return out;
}

static double shape_num(lua_State *L, int idx, const char *key, double def)
{
    lua_getfield(L, idx, key);
    double v = def;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER)
            lerror(L, "net:connect: shape option '%s' must be a number (um or degrees), got %s",
                   key, luaL_typename(L, -1));
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

static void shape_vec(lua_State *L, int idx, const char *key, double *v)
{
    lua_getfield(L, idx, key);
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1) || luaL_len(L, -1) != 3)
            lerror(L, "net:connect: shape option '%s' must be a list of three numbers {x, y, z}",
                   key);
        for (int k = 0; k < 3; k++) {
            lua_geti(L, -1, k + 1);
            if (lua_type(L, -1) != LUA_TNUMBER)
                lerror(L, "net:connect: shape option '%s' must be a list of three numbers", key);
            v[k] = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

static void read_shape(lua_State *L, int t, nk_shape *s)
{
    lua_getfield(L, t, "shape");
    if (!lua_istable(L, -1))
        lerror(L, "net:connect: rule 'shape' needs option 'shape', a table such as {kind = "
                  "\"sphere\", radius = 100} (kinds: sphere, cone, box, cylinder)");
    int idx = lua_gettop(L);
    lua_geti(L, idx, 1);
    int positional = lua_type(L, -1) == LUA_TSTRING;
    lua_pop(L, 1);
    if (positional) {
        /* {"sphere", radius = 100}: a copy with kind = "sphere" */
        lua_newtable(L);
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            if (lua_isinteger(L, -2) && lua_tointeger(L, -2) == 1)
                lua_setfield(L, -3, "kind");
            else {
                lua_pushvalue(L, -2);
                lua_insert(L, -2);
                lua_settable(L, -4);
            }
        }
        lua_replace(L, idx);
        lua_pushvalue(L, idx);
        lua_setfield(L, t, "shape"); /* keeps it alive: the strings are used later */
    }
    check_keys(L, idx, "net:connect shape", nk_api_opts("shape", NULL));
    lua_getfield(L, idx, "kind");
    if (lua_type(L, -1) != LUA_TSTRING)
        lerror(L, "net:connect: the shape needs a kind: sphere, cone, box or cylinder");
    s->kind = lua_tostring(L, -1);
    lua_pop(L, 1);
    s->radius = shape_num(L, idx, "radius", 0);
    s->length = shape_num(L, idx, "length", 0);
    s->angle = shape_num(L, idx, "angle", 0);
    s->axis[2] = 1;
    shape_vec(L, idx, "size", s->size);
    shape_vec(L, idx, "axis", s->axis);
    shape_vec(L, idx, "offset", s->offset);
    lua_pop(L, 1); /* the shape table stays alive in the options */
}

/* Frees the arrays of a list connection on every path out. */
typedef struct conn_lists {
    int64_t *pre, *post;
    double *w, *delay;
} conn_lists;

static int conn_lists_gc(lua_State *L)
{
    conn_lists *c = lua_touserdata(L, 1); /* called by Lua's collector: the userdata */
    free(c->pre);
    free(c->post);
    free(c->w);
    free(c->delay);
    memset(c, 0, sizeof *c);
    return 0;
}

static int net_connect(lua_State *L)
{
    lnet *n = check_net(L, 1);
    nk_range pre = check_target(L, 1, 2, "net:connect");
    nk_range post = check_target(L, 1, 3, "net:connect");
    int t = opt_table(L, 4, "net:connect", nk_api_opts("net:connect", NULL)) ? 4 : 0;
    lua_settop(L, 4);
    nk_conn_opts o;
    nk_conn_opts_init(&o);
    int nrules = (int)(sizeof rule_names / sizeof *rule_names) - 1;
    const char *rule = opt_string(L, t, "rule", "net:connect", NULL);
    if (!rule) {
        /* implied by the options given: edges, lists, else all_to_all */
        rule = "all_to_all";
        if (t) {
            lua_getfield(L, t, "edges");
            lua_getfield(L, t, "pre");
            rule = !lua_isnil(L, -2) ? "edges" : !lua_isnil(L, -1) ? "list" : rule;
            lua_pop(L, 2);
        }
    }
    int r = 0;
    while (rule_names[r] && strcmp(rule_names[r], rule))
        r++;
    if (!rule_names[r]) {
        const char *s = nk_suggest(rule, rule_names, nrules);
        return lerror(L,
                      "net:connect: unknown rule '%s' (%s%s%s)", rule,
                      s ? "did you mean '" : "expected all_to_all, one_to_one, bernoulli, "
                                             "fixed_indegree, fixed_outdegree, fixed_total, "
                                             "distance, shape, list or edges",
                      s ? s : "", s ? "'?" : "");
    }
    /* Which options belong to which rule. */
    static const struct {
        const char *opt;
        unsigned rules; /* bit r: rule r takes it */
        unsigned needs; /* bit r: rule r needs it */
    } owned[] = {
        {"p", 1u << NK_RULE_BERNOULLI | 1u << NK_RULE_DISTANCE | 1u << NK_RULE_SHAPE,
         1u << NK_RULE_BERNOULLI | 1u << NK_RULE_DISTANCE},
        {"indegree", 1u << NK_RULE_FIXED_INDEGREE, 1u << NK_RULE_FIXED_INDEGREE},
        {"outdegree", 1u << NK_RULE_FIXED_OUTDEGREE, 1u << NK_RULE_FIXED_OUTDEGREE},
        {"total", 1u << NK_RULE_FIXED_TOTAL, 1u << NK_RULE_FIXED_TOTAL},
        {"shape", 1u << NK_RULE_SHAPE, 1u << NK_RULE_SHAPE},
        {"pre", 1u << NK_RULE_LIST, 1u << NK_RULE_LIST},
        {"post", 1u << NK_RULE_LIST, 1u << NK_RULE_LIST},
        {"edges", 1u << RULE_EDGES, 1u << RULE_EDGES},
        {"skip_unknown", 1u << RULE_EDGES, 0},
    };
    for (size_t k = 0; k < sizeof owned / sizeof *owned; k++) {
        int has = 0;
        if (t) {
            lua_getfield(L, t, owned[k].opt);
            has = !lua_isnil(L, -1);
            lua_pop(L, 1);
        }
        if (has && !(owned[k].rules >> r & 1u))
            return lerror(L, "net:connect: option '%s' does not belong to rule '%s'",
                          owned[k].opt, rule);
        if (!has && (owned[k].needs >> r & 1u))
            return lerror(L, "net:connect: rule '%s' needs option '%s'%s", rule, owned[k].opt,
                          !strcmp(owned[k].opt, "p") && r == NK_RULE_DISTANCE
                              ? " (an expression of the distance d in um, e.g. "
                                "\"0.3*exp(-d/100)\")"
                              : !strcmp(owned[k].opt, "p") ? " (a probability)" : "");
    }
    if (r == NK_RULE_DISTANCE) {
        lua_getfield(L, t, "p");
        if (lua_type(L, -1) != LUA_TSTRING)
            return lerror(L, "net:connect: rule 'distance' takes p as an expression of d (um), "
                             "e.g. \"0.3*exp(-d/100)\", got %s", luaL_typename(L, -1));
        o.p_expr = lua_tostring(L, -1);
        lua_pop(L, 1);
    } else {
        o.p = opt_number(L, t, "p", "net:connect", 1);
    }
    static const struct {
        const char *key;
        size_t off;
    } ints[] = {{"indegree", offsetof(nk_conn_opts, indegree)},
                {"outdegree", offsetof(nk_conn_opts, outdegree)},
                {"total", offsetof(nk_conn_opts, total)}};
    for (int k = 0; t && k < 3; k++) {
        lua_getfield(L, t, ints[k].key);
        if (!lua_isnil(L, -1)) {
            char what[64];
            snprintf(what, sizeof what, "option '%s' for net:connect", ints[k].key);
            *(int64_t *)((char *)&o + ints[k].off) = check_int(L, -1, what);
        }
        lua_pop(L, 1);
    }
    if (r == NK_RULE_SHAPE)
        read_shape(L, t, &o.shape);
    o.shape.p = o.p;
    int wlist = opt_value(L, t, "weight", r == RULE_EDGES ? 1 : 0, &o.weight, &o.wdist);
    int dlist = opt_value(L, t, "delay", -1, &o.delay, &o.ddist);
    if ((wlist || dlist) && r != NK_RULE_LIST)
        return lerror(L, "net:connect: a list of %s belongs to rule 'list' (with 'pre' and "
                         "'post'); for rule '%s' give a number, a distribution or an expression "
                         "of d", wlist ? "weights" : "delays", rule);
    if (o.ddist.kind == NK_DIST_CONST && t) {
        lua_getfield(L, t, "delay");
        int has = !lua_isnil(L, -1);
        lua_pop(L, 1);
        if (has && !dlist && !(o.delay >= 0))
            return lerror(L, "net:connect: delay must be >= 0 ms, got %g", o.delay);
    }
    o.synapse = opt_model(L, t, "synapse", "net:connect", NULL); /* NULL: the target's receptors */
    o.receptor = opt_string(L, t, "receptor", "net:connect", NULL);
    o.allow_autapses = opt_bool(L, t, "allow_autapses", "net:connect", 1);
    o.allow_multapses = opt_bool(L, t, "allow_multapses", "net:connect", 1);
    const char *names[64];
    double vals[64];
    o.syn_param_names = names;
    o.syn_param_values = vals;
    o.n_syn_params = syn_params(L, t, "net:connect", names, vals);
    if (r == RULE_EDGES) {
        lua_getfield(L, t, "edges");
        ledges *le = luaL_testudata(L, -1, EDGES_MT);
        if (!le || !live_edges(le))
            return lerror(L, "net:connect: option 'edges' must be an edge list from "
                             "nk.read_edges, got %s", le ? "a freed one" : luaL_typename(L, -1));
        if (pre.lo != 0 || pre.hi != nk_pop_size(n->net, pre.pop) || post.lo != 0 ||
            post.hi != nk_pop_size(n->net, post.pop))
            return lerror(L, "net:connect: rule 'edges' connects whole populations (their ids "
                             "pick the neurons), not slices");
        int skip = opt_bool(L, t, "skip_unknown", "net:connect", 0);
        int proj[2];
        if (nk_connect_edges(n->net, pre.pop, post.pop, le->e, &o, skip, proj))
            return fail(L, n->net, "net:connect");
        for (int k = 0; k < 2; k++) {
            if (proj[k] >= 0)
                push_child(L, proj[k], PROJ_MT);
            else
                lua_pushnil(L);
        }
        return 2;
    }
    o.rule = (nk_rule)r;
    conn_lists *cl = lua_newuserdatauv(L, sizeof *cl, 0);
    memset(cl, 0, sizeof *cl);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, conn_lists_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    if (r == NK_RULE_LIST) {
        int64_t np, nq;
        lua_getfield(L, t, "pre");
        lua_getfield(L, t, "post");
        if (!lua_istable(L, -2) || !lua_istable(L, -1))
            return lerror(L, "net:connect: rule 'list' takes 'pre' and 'post' as lists of "
                             "1-based neuron indices");
        cl->pre = read_list(L, -2, "pre", 1, &np);
        cl->post = read_list(L, -1, "post", 1, &nq);
        lua_pop(L, 2);
        if (np != nq)
            return lerror(L, "net:connect: 'pre' has %lld entries and 'post' %lld; expected "
                             "the same number", (long long)np, (long long)nq);
        o.list_pre = cl->pre;
        o.list_post = cl->post;
        o.nlist = np;
        static const char *const vk[] = {"weight", "delay"};
        for (int k = 0; k < 2; k++) {
            if (!(k ? dlist : wlist))
                continue;
            int64_t nv;
            lua_getfield(L, t, vk[k]);
            double *v = read_list(L, -1, vk[k], 0, &nv);
            lua_pop(L, 1);
            if (k)
                cl->delay = v;
            else
                cl->w = v;
            if (nv != np)
                return lerror(L, "net:connect: '%s' has %lld entries for %lld pairs; expected "
                                 "one per pair", vk[k], (long long)nv, (long long)np);
        }
        o.list_w = cl->w;
        o.list_delay = cl->delay;
    }
    int pj = nk_connect(n->net, pre, post, &o);
    free(cl->pre);
    free(cl->post);
    free(cl->w);
    free(cl->delay);
    memset(cl, 0, sizeof *cl);
    if (pj < 0)
        return fail(L, n->net, "net:connect");
    push_child(L, pj, PROJ_MT);
    return 1;
}

static nk_net *child_net(lua_State *L, int idx, const char *mt, int *child)
{
    lchild *c = check_udata(L, idx, mt);
    lua_getiuservalue(L, idx, 1);
    nk_net *net = check_net(L, -1)->net;
    lua_pop(L, 1);
    *child = c->idx;
    return net;
}

static int proj_tostring(lua_State *L)
{
    check_udata(L, 1, PROJ_MT);
    if (closed_tostring(L, 1, "projection"))
        return 1;
    int k;
    nk_net *net = child_net(L, 1, PROJ_MT, &k);
    lua_pushstring(L, nk_proj_describe(net, k));
    return 1;
}

static int proj_len(lua_State *L)
{
    int k;
    nk_net *net = child_net(L, 1, PROJ_MT, &k);
    lua_pushinteger(L, nk_proj_nsyn(net, k));
    return 1;
}

/* proj:synapses(): {pre = {...}, post = {...}, weight = {...}, delay = {...}},
 * 1-based neuron indices in the two populations, weights in the synapse's
 * unit, delays in ms; in CSR order (by source, then target). */
static int proj_synapses(lua_State *L)
{
    int k;
    nk_net *net = child_net(L, 1, PROJ_MT, &k);
    nk_proj_info pi;
    if (nk_proj_get(net, k, &pi))
        return fail(L, net, "proj:synapses");
    if (pi.nsyn > 50000000)
        return lerror(L, "proj:synapses: %lld synapses are too many for Lua tables (at most 50 "
                         "million)", (long long)pi.nsyn);
    int n = (int)pi.nsyn;
    lua_createtable(L, 0, 4);
    static const char *const keys[] = {"pre", "post", "weight", "delay"};
    for (int f = 0; f < 4; f++) {
        lua_createtable(L, n, 0);
        int64_t e = 0;
        for (int64_t a = 0; a < pi.pre.hi - pi.pre.lo; a++)
            for (; e < pi.row[a + 1]; e++) {
                if (f == 0)
                    lua_pushinteger(L, pi.pre.lo + a + 1);
                else if (f == 1)
                    lua_pushinteger(L, (lua_Integer)pi.col[e] + 1);
                else if (f == 2)
                    lua_pushnumber(L, pi.w[e]);
                else
                    lua_pushnumber(L, pi.delay[e] * nk_net_dt(net));
                lua_rawseti(L, -2, e + 1);
            }
        lua_setfield(L, -2, keys[f]);
    }
    return 1;
}

/* proj.pre / proj.post (population objects), proj.synapse, proj.receptor,
 * proj.params; methods. */
static int proj_index(lua_State *L)
{
    int k;
    nk_net *net = child_net(L, 1, PROJ_MT, &k);
    const char *key = check_cstring(L, 2);
    nk_proj_info pi;
    nk_proj_get(net, k, &pi);
    if (!strcmp(key, "pre") || !strcmp(key, "post")) {
        nk_range r = key[1] == 'r' ? pi.pre : pi.post;
        lua_getiuservalue(L, 1, 1);
        push_pop(L, lua_gettop(L), r.pop, r.lo, r.hi);
    } else if (!strcmp(key, "synapse")) {
        push_model(L, pi.synapse);
    } else if (!strcmp(key, "receptor")) {
        lua_pushstring(L, pi.receptor);
    } else if (!strcmp(key, "size")) {
        lua_pushinteger(L, (lua_Integer)pi.nsyn);
    } else if (!strcmp(key, "params")) {
        lua_createtable(L, 0, pi.nparams);
        for (int j = 0; j < pi.nparams; j++) {
            lua_pushnumber(L, pi.param_values[j]);
            lua_setfield(L, -2, pi.param_names[j]);
        }
    } else if (luaL_getmetafield(L, 1, "methods") == LUA_TTABLE) {
        lua_getfield(L, -1, key);
    } else {
        lua_pushnil(L);
    }
    return 1;
}

/* net:populations(), net:projections(): lists of the objects, in order. */
static int net_populations(lua_State *L)
{
    lnet *n = check_net(L, 1);
    int np = nk_pop_count(n->net);
    lua_createtable(L, np, 0);
    for (int k = 0; k < np; k++) {
        push_pop(L, 1, k, 0, nk_pop_size(n->net, k));
        lua_rawseti(L, -2, k + 1);
    }
    return 1;
}

static int net_projections(lua_State *L)
{
    lnet *n = check_net(L, 1);
    return push_children(L, nk_proj_count(n->net), PROJ_MT);
}

/* ---- connectome files ---------------------------------------------------------------------- */

/* nk.read_edges(path, {...}): an edge list object. */
static int l_read_edges(lua_State *L)
{
    const char *path = check_cstring(L, 1);
    int t = opt_table(L, 2, "nk.read_edges", nk_api_opts("nk.read_edges", NULL)) ? 2 : 0;
    nk_csv_opts o;
    nk_csv_opts_init(&o);
    static const char *const cols[] = {"pre", "post", "weight", "sign"};
    const char **dst[] = {&o.pre, &o.post, &o.weight, &o.sign};
    char num[4][24];
    for (int k = 0; t && k < 4; k++) {
        lua_getfield(L, t, cols[k]);
        if (lua_type(L, -1) == LUA_TNUMBER) {
            snprintf(num[k], sizeof num[k], "%lld",
                     (long long)check_int(L, -1, "a column number"));
            *dst[k] = num[k];
        } else if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TSTRING)
                return lerror(L, "option '%s' for nk.read_edges must be a column name or number, "
                                 "got %s", cols[k], luaL_typename(L, -1));
            *dst[k] = lua_tostring(L, -1);
        }
        lua_pop(L, 1);
    }
    const char *inh[64];
    if (t) {
        lua_getfield(L, t, "inhibitory");
        if (!lua_isnil(L, -1)) {
            if (!lua_istable(L, -1))
                return lerror(L, "option 'inhibitory' for nk.read_edges must be a list of "
                                 "strings (sign values meaning inhibitory)");
            lua_Integer len = luaL_len(L, -1);
            if (len > 64)
                return lerror(L, "nk.read_edges: at most 64 inhibitory values");
            for (lua_Integer k = 1; k <= len; k++) {
                lua_geti(L, -1, k);
                if (lua_type(L, -1) != LUA_TSTRING)
                    return lerror(L, "option 'inhibitory' for nk.read_edges: entry %lld must be "
                                     "a string", (long long)k);
                inh[k - 1] = lua_tostring(L, -1);
                lua_pop(L, 1);
            }
            o.inhibitory = inh;
            o.ninhibitory = (int)len;
        }
        lua_pop(L, 1);
    }
    const char *delim = opt_string(L, t, "delimiter", "nk.read_edges", NULL);
    if (delim) {
        if (strlen(delim) != 1)
            return lerror(L, "option 'delimiter' for nk.read_edges must be one character, got "
                             "'%s'", delim);
        o.delimiter = delim[0];
    }
    o.nodes = opt_string(L, t, "nodes", "nk.read_edges", NULL);
    /* threads: as for networks, the command line's --threads unless given */
    lua_getfield(L, LUA_REGISTRYINDEX, DEFAULTS_KEY);
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "threads");
        if (lua_isinteger(L, -1))
            o.threads = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (t) {
        lua_getfield(L, t, "threads");
        if (!lua_isnil(L, -1)) {
            int64_t v = check_int(L, -1, "option 'threads' for nk.read_edges");
            if (v < 0 || v > 256)
                return lerror(L, "option 'threads' for nk.read_edges: expected 0 (one per CPU) "
                                 "to 256, got %lld", (long long)v);
            o.threads = (int)v;
        }
        lua_pop(L, 1);
    }
    ledges *le = lua_newuserdatauv(L, sizeof *le, 0);
    le->e = NULL;
    le->freed = 0;
    luaL_setmetatable(L, EDGES_MT);
    nk_ctx *ctx = push_ctx(L);
    lua_pop(L, 1);
    le->e = nk_edges_read_csv(ctx, path, &o);
    if (!le->e)
        return lerror(L, "nk.read_edges: %s", nk_errmsg(ctx));
    return 1;
}

static ledges *check_edges(lua_State *L, int idx)
{
    ledges *le = check_udata(L, idx, EDGES_MT);
    if (!live_edges(le))
        lerror(L, "this edge list has been freed");
    return le;
}

static void edges_release(ledges *le)
{
    nk_edges_free(le->e);
    le->e = NULL;
}

/* Collected: nothing can reach it, so nothing is using it. */
static int edges_gc(lua_State *L)
{
    edges_release(luaL_checkudata(L, 1, EDGES_MT));
    return 0;
}

/* edges:free() and __close: at once, or at the next sweep when a call of
 * this module is running (it may be reading this list). */
static int edges_free(lua_State *L)
{
    ledges *le = check_udata(L, 1, EDGES_MT);
    if (!live_edges(le))
        return 0;
    if (in_api_call(L)) {
        le->freed = 1;
        close_later(L, 1);
        return 0;
    }
    edges_release(le);
    sweep(L);
    return 0;
}

static int edges_len(lua_State *L)
{
    lua_pushinteger(L, check_edges(L, 1)->e->n);
    return 1;
}

static int edges_tostring(lua_State *L)
{
    ledges *le = check_udata(L, 1, EDGES_MT);
    if (!live_edges(le)) {
        lua_pushliteral(L, "edge list (freed)");
        return 1;
    }
    int64_t neg = 0;
    for (int64_t k = 0; k < le->e->n; k++)
        neg += le->e->w[k] < 0;
    const int64_t n = le->e->n, nids = le->e->nids;
    lua_pushfstring(L, "edge list: %I edge%s (%I inhibitory) between %I distinct id%s",
                    (lua_Integer)n, n == 1 ? "" : "s", (lua_Integer)neg, (lua_Integer)nids,
                    nids == 1 ? "" : "s");
    return 1;
}

static int edges_ids(lua_State *L)
{
    nk_edges *e = check_edges(L, 1)->e;
    lua_createtable(L, (int)e->nids, 0);
    for (int64_t k = 0; k < e->nids; k++) {
        lua_pushinteger(L, (lua_Integer)e->ids[k]);
        lua_rawseti(L, -2, k + 1);
    }
    return 1;
}

/* E:get(k): pre id, post id, weight of edge k (1-based). */
static int edges_get(lua_State *L)
{
    nk_edges *e = check_edges(L, 1)->e;
    int64_t k = check_int(L, 2, "edge index");
    if (k < 1 || k > e->n)
        return lerror(L, "edges:get: edge %lld is outside 1..%lld", (long long)k,
                      (long long)e->n);
    lua_pushinteger(L, (lua_Integer)e->ids[e->pre[k - 1]]);
    lua_pushinteger(L, (lua_Integer)e->ids[e->post[k - 1]]);
    lua_pushnumber(L, e->w[k - 1]);
    return 3;
}

static int edges_index(lua_State *L)
{
    const char *key = check_cstring(L, 2);
    if (!strcmp(key, "nids")) {
        lua_pushinteger(L, check_edges(L, 1)->e->nids);
        return 1;
    }
    if (!strcmp(key, "count")) {
        lua_pushinteger(L, check_edges(L, 1)->e->n);
        return 1;
    }
    if (luaL_getmetafield(L, 1, "methods") == LUA_TTABLE) {
        lua_getfield(L, -1, key);
        return 1;
    }
    lua_pushnil(L);
    return 1;
}

/* nk.memory(): {rss = bytes, peak = bytes} of this process (Linux). */
static int l_memory(lua_State *L)
{
    FILE *f = fopen("/proc/self/status", "r");
    long long rss = -1, peak = -1;
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            sscanf(line, "VmRSS: %lld kB", &rss);
            sscanf(line, "VmHWM: %lld kB", &peak);
        }
        fclose(f);
    }
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, rss < 0 ? -1 : rss * 1024);
    lua_setfield(L, -2, "rss");
    lua_pushinteger(L, peak < 0 ? -1 : peak * 1024);
    lua_setfield(L, -2, "peak");
    return 1;
}

static int net_save_model(lua_State *L)
{
    lnet *n = check_net(L, 1);
    const char *dir = check_cstring(L, 2);
    if (nk_save_model(n->net, dir))
        return fail(L, n->net, "net:save_model");
    return 0;
}

/* A string or a list of strings at option key: fills up to 16 into out. */
static int path_list(lua_State *L, int t, const char *key, const char **out)
{
    lua_getfield(L, t, key);
    int n = 0;
    if (lua_type(L, -1) == LUA_TSTRING) {
        out[n++] = lua_tostring(L, -1);
    } else if (lua_istable(L, -1)) {
        lua_Integer len = luaL_len(L, -1);
        if (len > 16)
            lerror(L, "net:load_sonata: at most 16 files for '%s'", key);
        for (lua_Integer k = 1; k <= len; k++) {
            lua_geti(L, -1, k);
            if (lua_type(L, -1) != LUA_TSTRING)
                lerror(L, "net:load_sonata: '%s' entry %lld must be a path", key, (long long)k);
            out[n++] = lua_tostring(L, -1);
            lua_pop(L, 1);
        }
    } else if (!lua_isnil(L, -1)) {
        lerror(L, "net:load_sonata: '%s' must be a path or a list of paths, got %s", key,
               luaL_typename(L, -1));
    }
    lua_pop(L, 1); /* the strings stay alive in the option table */
    return n;
}

/* net:load_sonata(dir) or net:load_sonata{nodes = ..., edges = ..., ...}. */
static int net_load_sonata(lua_State *L)
{
    lnet *n = check_net(L, 1);
    int before = nk_pop_count(n->net);
    int rc;
    if (lua_type(L, 2) == LUA_TSTRING) {
        rc = nk_sonata_load(n->net, lua_tostring(L, 2), NULL);
    } else {
        opt_table(L, 2, "net:load_sonata", nk_api_opts("net:load_sonata", NULL));
        if (!lua_istable(L, 2))
            return lerror(L, "bad argument #1 to 'net:load_sonata' (a directory written by "
                             "net:save_model or a table {nodes = ..., edges = ...} expected)");
        const char *nodes[16], *ntypes[16], *edges[16], *etypes[16];
        nk_sonata_opts o;
        memset(&o, 0, sizeof o);
        o.nnodes = path_list(L, 2, "nodes", nodes);
        o.nnode_types = path_list(L, 2, "node_types", ntypes);
        o.nedges = path_list(L, 2, "edges", edges);
        o.nedge_types = path_list(L, 2, "edge_types", etypes);
        o.nodes = nodes;
        o.node_types = ntypes;
        o.edges = edges;
        o.edge_types = etypes;
        o.model = opt_model(L, 2, "model", "net:load_sonata", NULL);
        o.synapse = opt_model(L, 2, "synapse", "net:load_sonata", NULL);
        rc = nk_sonata_load(n->net, NULL, &o);
    }
    if (rc)
        return fail(L, n->net, "net:load_sonata");
    /* the populations made, by name */
    lua_newtable(L);
    for (int k = before; k < nk_pop_count(n->net); k++) {
        push_pop(L, 1, k, 0, nk_pop_size(n->net, k));
        lua_setfield(L, -2, nk_pop_name(n->net, k));
    }
    return 1;
}

/* nk._sonata_net_opts(dir): {dt = , seed = , precision = } saved by net:save_model. */
static int l_sonata_net_opts(lua_State *L)
{
    const char *dir = check_cstring(L, 1);
    nk_ctx *ctx = push_ctx(L);
    lua_pop(L, 1);
    nk_net_opts o;
    nk_net_opts_init(&o);
    if (nk_sonata_net_opts(ctx, dir, &o))
        return lerror(L, "nk.load_model: %s", nk_errmsg(ctx));
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, o.dt);
    lua_setfield(L, -2, "dt");
    lua_pushinteger(L, (lua_Integer)o.seed);
    lua_setfield(L, -2, "seed");
    lua_pushstring(L, o.double_precision ? "double" : "float");
    lua_setfield(L, -2, "precision");
    return 1;
}

/* net:load_gexf(path): {version = , nodes = {[id] = {class =, population =,
 * index =, selector =, port =}}, synapses = N, populations = {...}}. */
static int net_load_gexf(lua_State *L)
{
    lnet *n = check_net(L, 1);
    const char *path = check_cstring(L, 2);
    int before = nk_pop_count(n->net);
    nk_gexf_result *res = NULL;
    if (nk_load_gexf(n->net, path, &res))
        return fail(L, n->net, "net:load_gexf");
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, res ? res->version : 0);
    lua_setfield(L, -2, "version");
    lua_pushinteger(L, res ? res->nsynapses : 0);
    lua_setfield(L, -2, "synapses");
    lua_newtable(L);
    for (int64_t k = 0; res && k < res->nnodes; k++) {
        const nk_gexf_node *nd = &res->nodes[k];
        lua_createtable(L, 0, 5);
        if (nd->cls) {
            lua_pushstring(L, nd->cls);
            lua_setfield(L, -2, "class");
        }
        if (nd->pop >= 0) {
            push_pop(L, 1, nd->pop, 0, nk_pop_size(n->net, nd->pop));
            lua_setfield(L, -2, "population");
            lua_pushinteger(L, nd->index + 1);
            lua_setfield(L, -2, "index");
        }
        if (nd->selector) {
            lua_pushstring(L, nd->selector);
            lua_setfield(L, -2, "selector");
        }
        if (nd->port_io) {
            lua_pushstring(L, nd->port_io == 1 ? "in" : "out");
            lua_setfield(L, -2, "port");
        }
        lua_setfield(L, -2, nd->id ? nd->id : "?");
    }
    lua_setfield(L, -2, "nodes");
    nk_gexf_result_free(res);
    lua_newtable(L);
    for (int k = before; k < nk_pop_count(n->net); k++) {
        push_pop(L, 1, k, 0, nk_pop_size(n->net, k));
        lua_setfield(L, -2, nk_pop_name(n->net, k));
    }
    lua_setfield(L, -2, "populations");
    return 1;
}

/* ---- selections: pop:select{...}, net:region{...} ------------------------------------ */

#define SEL_MT "nk.selection"
#define SRC_MT "nk.source"

typedef struct lsel {
    int nparts;
    nk_sel *parts;           /* malloc'd, idx lists malloc'd */
} lsel;

static int sel_gc(lua_State *L)
{
    lsel *s = check_udata(L, 1, SEL_MT);
    nk_sel_free(s->parts, s->nparts);
    s->parts = NULL;
    s->nparts = 0;
    return 0;
}

/* A new, empty selection of the network at netidx, on the stack. */
static lsel *new_sel(lua_State *L, int netidx)
{
    netidx = lua_absindex(L, netidx);
    lsel *s = lua_newuserdatauv(L, sizeof *s, 1);
    s->nparts = 0;
    s->parts = NULL;
    luaL_setmetatable(L, SEL_MT);
    lua_pushvalue(L, netidx);
    lua_setiuservalue(L, -2, 1);
    return s;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* pop:select{i, j, ...}: those neurons (1-based within the population or
 * slice), in any order. */
static int pop_select(lua_State *L)
{
    nk_net *net;
    lpop *p = check_pop(L, 1, &net);
    check_type(L, 2, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 2);
    if (n < 1)
        return lerror(L, "select: expected a non-empty list of neuron indices (1..%lld)",
                      (long long)(p->hi - p->lo));
    int64_t *idx = lua_newuserdatauv(L, (size_t)n * sizeof *idx, 0); /* collected */
    for (lua_Integer k = 1; k <= n; k++) {
        lua_geti(L, 2, k);
        int64_t i = check_int(L, -1, "a neuron index");
        lua_pop(L, 1);
        if (i < 1 || i > p->hi - p->lo) {
            int64_t whole = nk_pop_size(net, p->pop);
            if (p->lo == 0 && p->hi == whole)
                return lerror(L, "select: neuron %lld is not in '%s' (1..%lld)", (long long)i,
                              nk_pop_name(net, p->pop), (long long)(p->hi - p->lo));
            return lerror(L,
                          "select: neuron %lld is not in the slice '%s'[%lld..%lld] (1..%lld: "
                          "indices count from the slice's first neuron)",
                          (long long)i, nk_pop_name(net, p->pop), (long long)p->lo + 1,
                          (long long)p->hi, (long long)(p->hi - p->lo));
        }
        idx[k - 1] = p->lo + i - 1;
    }
    qsort(idx, (size_t)n, sizeof *idx, cmp_i64);
    for (lua_Integer k = 1; k < n; k++)
        if (idx[k] == idx[k - 1])
            return lerror(L, "select: neuron %lld is listed twice", (long long)(idx[k] - p->lo + 1));
    lua_getiuservalue(L, 1, 1);
    lsel *s = new_sel(L, -1);
    s->parts = calloc(1, sizeof *s->parts);
    int64_t *own = malloc((size_t)n * sizeof *own);
    if (!s->parts || !own) {
        free(own);
        return lerror(L, "out of memory");
    }
    memcpy(own, idx, (size_t)n * sizeof *own);
    s->parts[0] = (nk_sel){.pop = p->pop, .lo = own[0], .hi = own[n - 1] + 1, .idx = own, .n = n};
    s->nparts = 1;
    return 1;
}

static int net_region(lua_State *L)
{
    lnet *n = check_net(L, 1);
    check_type(L, 2, LUA_TTABLE);
    /* work on a copy: the caller's table stays as it was */
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, -4);
    }
    lua_replace(L, 2);
    lua_geti(L, 2, 1);
    int positional = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (positional) {
        /* {"sphere", radius = ...}: the shape's kind first */
        lua_geti(L, 2, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            return lerror(L, "net:region: the first entry must be the shape's kind (sphere, box "
                             "or cylinder)");
        lua_setfield(L, 2, "kind");
        lua_pushnil(L);
        lua_seti(L, 2, 1);
    }
    opt_table(L, 2, "net:region", nk_api_opts("net:region", NULL));
    nk_region_spec r = {0};
    r.kind = opt_string(L, 2, "kind", "net:region", NULL);
    if (!r.kind)
        return lerror(L, "net:region: needs a kind: sphere, box or cylinder");
    layout_vec(L, 2, "center", r.center, 0, NULL);
    layout_vec(L, 2, "size", r.size, 0, NULL);
    r.radius = opt_number(L, 2, "radius", "net:region", 0);
    r.height = opt_number(L, 2, "height", "net:region", 0);
    int pops[256];
    lua_getfield(L, 2, "populations");
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1))
            return lerror(L, "net:region: populations must be a list of populations");
        lua_Integer np = luaL_len(L, -1);
        if (np > 256)
            return lerror(L, "net:region: at most 256 populations");
        int t = lua_gettop(L);
        for (lua_Integer k = 1; k <= np; k++) {
            lua_geti(L, t, k);
            const lpop *p = luaL_testudata(L, -1, POP_MT);
            if (!p)
                return lerror(L, "net:region: populations[%d] must be a population of this "
                                 "network, got %s", (int)k, type_name(L, -1));
            lua_getiuservalue(L, -1, 1);
            if (!lua_rawequal(L, -1, 1))
                return lerror(L, "net:region: populations[%d] ('%s') belongs to another network",
                              (int)k, nk_pop_name(check_net(L, -1)->net, p->pop));
            if (p->lo != 0 || p->hi != nk_pop_size(n->net, p->pop))
                return lerror(L, "net:region: populations[%d] is a slice of '%s'; a region "
                                 "takes whole populations (it chooses their neurons by "
                                 "position)", (int)k,
                              nk_pop_name(n->net, p->pop));
            pops[r.npops++] = p->pop;
            lua_pop(L, 2);
        }
        r.pops = pops;
    }
    lua_pop(L, 1);
    nk_sel *parts = NULL;
    int np = nk_region(n->net, &r, &parts);
    if (np < 0)
        return fail(L, n->net, "net:region");
    lsel *s = new_sel(L, 1);
    s->parts = parts;
    s->nparts = np;
    return 1;
}

static int64_t sel_total(const lsel *s)
{
    int64_t t = 0;
    for (int k = 0; k < s->nparts; k++)
        t += s->parts[k].n;
    return t;
}

static int sel_len(lua_State *L)
{
    lsel *s = check_udata(L, 1, SEL_MT);
    lua_pushinteger(L, (lua_Integer)sel_total(s));
    return 1;
}

static nk_net *sel_net(lua_State *L, int idx)
{
    lua_getiuservalue(L, idx, 1);
    nk_net *net = check_net(L, -1)->net;
    lua_pop(L, 1);
    return net;
}

static int sel_tostring(lua_State *L)
{
    check_udata(L, 1, SEL_MT);
    if (closed_tostring(L, 1, "selection"))
        return 1;
    lsel *s = check_udata(L, 1, SEL_MT);
    nk_net *net = sel_net(L, 1);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "selection: %I neurons", (lua_Integer)sel_total(s));
    luaL_addvalue(&b);
    for (int k = 0; k < s->nparts && k < 8; k++) {
        lua_pushfstring(L, "%s %I of '%s'", k ? "," : ":", (lua_Integer)s->parts[k].n,
                        nk_pop_name(net, s->parts[k].pop));
        luaL_addvalue(&b);
    }
    if (s->nparts > 8)
        luaL_addstring(&b, ", ...");
    luaL_pushresult(&b);
    return 1;
}

/* sel:neurons(): {population name = {1-based indices}}. */
static int sel_neurons(lua_State *L)
{
    lsel *s = check_udata(L, 1, SEL_MT);
    nk_net *net = sel_net(L, 1);
    lua_createtable(L, 0, s->nparts);
    for (int k = 0; k < s->nparts; k++) {
        const nk_sel *p = &s->parts[k];
        lua_createtable(L, (int)p->n, 0);
        for (int64_t j = 0; j < p->n; j++) {
            lua_pushinteger(L, (lua_Integer)(p->idx ? p->idx[j] : p->lo + j) + 1);
            lua_rawseti(L, -2, (lua_Integer)j + 1);
        }
        lua_setfield(L, -2, nk_pop_name(net, p->pop));
    }
    return 1;
}

/* sel:parts(): one selection per population. */
static int sel_parts(lua_State *L)
{
    lsel *s = check_udata(L, 1, SEL_MT);
    sel_net(L, 1); /* (a closed network's selections refuse, as sel:neurons does) */
    lua_getiuservalue(L, 1, 1);
    int netidx = lua_gettop(L);
    lua_createtable(L, s->nparts, 0);
    for (int k = 0; k < s->nparts; k++) {
        lsel *c = new_sel(L, netidx);
        c->parts = calloc(1, sizeof *c->parts);
        int64_t *own = malloc((size_t)s->parts[k].n * sizeof *own);
        if (!c->parts || !own) {
            free(own);
            return lerror(L, "out of memory");
        }
        c->parts[0] = s->parts[k];
        for (int64_t j = 0; j < s->parts[k].n; j++)
            own[j] = s->parts[k].idx ? s->parts[k].idx[j] : s->parts[k].lo + j;
        c->parts[0].idx = own;
        c->nparts = 1;
        lua_rawseti(L, -2, k + 1);
    }
    return 1;
}

/* The target argument arg of a source or monitor: a population or slice, a
 * selection, or the network itself (every neuron). Sets *nparts; the parts
 * stay valid while the argument (or a temporary left on the stack) lives. */
static const nk_sel *check_sel(lua_State *L, int netidx, int arg, const char *fname, int *nparts)
{
    lsel *s = luaL_testudata(L, arg, SEL_MT);
    if (s) {
        lua_getiuservalue(L, arg, 1);
        if (!lua_rawequal(L, -1, netidx)) {
            const lnet *other = luaL_testudata(L, -1, NET_MT);
            lerror(L, "bad argument #%d to '%s' (the selection belongs to another network%s)",
                   arg - 1, fname, other && !live_net(other) ? ", which has been closed" : "");
        }
        lua_pop(L, 1);
        *nparts = s->nparts;
        return s->parts;
    }
    if (lua_rawequal(L, arg, netidx)) {
        nk_net *net = check_net(L, netidx)->net;
        int np = nk_pop_count(net);
        nk_sel *all = lua_newuserdatauv(L, (size_t)(np ? np : 1) * sizeof *all, 0);
        for (int k = 0; k < np; k++)
            all[k] = (nk_sel){.pop = k, .lo = 0, .hi = nk_pop_size(net, k)};
        *nparts = np;
        return all;
    }
    if (!luaL_testudata(L, arg, POP_MT))
        lerror(L, "bad argument #%d to '%s' (population, slice, selection or the network "
                  "expected, got %s)", arg - 1, fname, type_name(L, arg));
    nk_range r = check_target(L, netidx, arg, fname);
    nk_sel *one = lua_newuserdatauv(L, sizeof *one, 0);
    *one = (nk_sel){.pop = r.pop, .lo = r.lo, .hi = r.hi};
    *nparts = 1;
    return one;
}

/* ---- Lua functions called from a run -------------------------------------------------- */

/* The Lua state running nk_run (set by net_run): callbacks run on it. */
static lua_State *run_L;

typedef struct lfunc {
    lua_State *L;            /* the main state: for unref */
    int ref;
} lfunc;

static void lfunc_free(void *ud)
{
    lfunc *f = ud;
    if (!f)
        return;
    luaL_unref(f->L, LUA_REGISTRYINDEX, f->ref);
    free(f);
}

static lfunc *lfunc_new(lua_State *L, int idx)
{
    lfunc *f = malloc(sizeof *f);
    if (!f)
        lerror(L, "out of memory");
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    f->L = lua_tothread(L, -1);
    lua_pop(L, 1);
    lua_pushvalue(L, idx);
    f->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return f;
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Calls the function with the arguments pushed by the caller (nargs), one
 * result; on error copies the message and traceback into err. */
static int lfunc_call(lua_State *L, lfunc *f, int nargs, char *err, size_t errlen)
{
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, traceback);
    lua_rawgeti(L, LUA_REGISTRYINDEX, f->ref);
    lua_rotate(L, base + 1, 2); /* traceback, function, args */
    if (lua_pcall(L, nargs, 1, base + 1)) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "error");
        lua_settop(L, base);
        return -1;
    }
    lua_remove(L, base + 1); /* the traceback function; the result stays */
    return 0;
}

static int source_cb(void *ud, double t, int64_t n, double *values, char *err, size_t errlen)
{
    lua_State *L = run_L;
    if (!L) {
        snprintf(err, errlen, "no Lua state to call the function in");
        return -1;
    }
    int top = lua_gettop(L);
    if (!lua_checkstack(L, 8)) {
        snprintf(err, errlen, "Lua stack overflow");
        return -1;
    }
    lua_pushnumber(L, t);
    if (lfunc_call(L, ud, 1, err, errlen))
        return -1;
    int rc = 0;
    if (lua_type(L, -1) == LUA_TNUMBER) {
        double v = lua_tonumber(L, -1);
        for (int64_t j = 0; j < n; j++)
            values[j] = v;
    } else if (lua_istable(L, -1)) {
        /* raw reads: this runs inside the step loop, outside any protected
         * call, where a metamethod's error would unwind through the engine */
        if ((int64_t)lua_rawlen(L, -1) != n) {
            snprintf(err, errlen, "the function returned %lld values, expected %lld (one per "
                                  "target neuron) or one number for all",
                     (long long)lua_rawlen(L, -1), (long long)n);
            rc = -1;
        }
        for (int64_t j = 0; !rc && j < n; j++) {
            lua_rawgeti(L, -1, j + 1);
            if (lua_type(L, -1) != LUA_TNUMBER) {
                snprintf(err, errlen, "value %lld returned by the function is of type %s, "
                                      "expected a number (pA)", (long long)j + 1,
                         luaL_typename(L, -1));
                rc = -1;
            } else {
                values[j] = lua_tonumber(L, -1);
            }
            lua_pop(L, 1);
        }
    } else {
        snprintf(err, errlen, "the function returned a value of type %s; expected a number (pA, "
                              "for every target neuron) or a list of %lld numbers",
                 luaL_typename(L, -1), (long long)n);
        rc = -1;
    }
    lua_settop(L, top);
    return rc;
}

/* An output monitor's function: f(t, values) with values a list over the
 * monitored neurons (one variable) or a table var -> list. */
typedef struct lout {
    lfunc f;
    int nvars;
    char **vars;
    int64_t n;
} lout;

static void lout_free(void *ud)
{
    lout *o = ud;
    if (!o)
        return;
    luaL_unref(o->f.L, LUA_REGISTRYINDEX, o->f.ref);
    for (int k = 0; k < o->nvars; k++)
        free(o->vars[k]);
    free(o->vars);
    free(o);
}

static int output_cb(void *ud, double t, int64_t ncols, const double *v, char *err, size_t errlen)
{
    lout *o = ud;
    lua_State *L = run_L;
    (void)ncols;
    if (!L) {
        snprintf(err, errlen, "no Lua state to call the function in");
        return -1;
    }
    int top = lua_gettop(L);
    if (!lua_checkstack(L, 8)) {
        snprintf(err, errlen, "Lua stack overflow");
        return -1;
    }
    lua_pushnumber(L, t);
    if (o->nvars == 1) {
        lua_createtable(L, (int)o->n, 0);
        for (int64_t j = 0; j < o->n; j++) {
            lua_pushnumber(L, v[j]);
            lua_rawseti(L, -2, j + 1);
        }
    } else {
        lua_createtable(L, 0, o->nvars);
        for (int k = 0; k < o->nvars; k++) {
            lua_createtable(L, (int)o->n, 0);
            for (int64_t j = 0; j < o->n; j++) {
                lua_pushnumber(L, v[j * o->nvars + k]);
                lua_rawseti(L, -2, j + 1);
            }
            lua_setfield(L, -2, o->vars[k]);
        }
    }
    int rc = lfunc_call(L, &o->f, 2, err, errlen);
    lua_settop(L, top);
    return rc;
}

/* ---- sources ------------------------------------------------------------------------------ */

/* A list of numbers at t[key] into a userdata left on the stack. */
static double *num_list(lua_State *L, int t, const char *key, const char *fname, int64_t *n)
{
    lua_getfield(L, t, key);
    if (!lua_istable(L, -1))
        lerror(L, "%s: option '%s' must be a list of numbers, got %s", fname, key,
               luaL_typename(L, -1));
    int li = lua_gettop(L);
    lua_Integer len = luaL_len(L, li);
    double *v = lua_newuserdatauv(L, (size_t)(len ? len : 1) * sizeof *v, 0);
    for (lua_Integer k = 1; k <= len; k++) {
        lua_geti(L, li, k);
        if (lua_type(L, -1) != LUA_TNUMBER)
            lerror(L, "%s: %s[%lld] must be a number, got %s", fname, key, (long long)k,
                   luaL_typename(L, -1));
        v[k - 1] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    lua_remove(L, li); /* the userdata stays (it is now at the top) */
    *n = len;
    return v;
}

/* spike_times: times = {t, ...} (every target neuron gets them all) or
 * {{t, ...}, {t, ...}, ...} (one list per target neuron). */
static void spike_time_lists(lua_State *L, int t, const char *fname, int64_t ntarget,
                             nk_source_opts *o)
{
    lua_getfield(L, t, "times");
    if (!lua_istable(L, -1))
        lerror(L, "%s: needs 'times': a list of spike times (ms) for every target neuron, or one "
                  "list per target neuron", fname);
    int li = lua_gettop(L);
    lua_Integer len = luaL_len(L, li);
    lua_geti(L, li, 1);
    int nested = lua_istable(L, -1);
    lua_pop(L, 1);
    int64_t total = 0;
    if (nested) {
        if (len != ntarget)
            lerror(L, "%s: 'times' has %lld lists, expected one per target neuron (%lld)", fname,
                   (long long)len, (long long)ntarget);
        for (lua_Integer k = 1; k <= len; k++) {
            lua_geti(L, li, k);
            if (!lua_istable(L, -1))
                lerror(L, "%s: times[%lld] must be a list of times (ms)", fname, (long long)k);
            total += luaL_len(L, -1);
            lua_pop(L, 1);
        }
    } else {
        total = len * ntarget;
    }
    double *tm = lua_newuserdatauv(L, (size_t)(total ? total : 1) * sizeof *tm, 0);
    int64_t *nr = lua_newuserdatauv(L, (size_t)(total ? total : 1) * sizeof *nr, 0);
    int64_t c = 0;
    if (nested) {
        for (lua_Integer k = 1; k <= len; k++) {
            lua_geti(L, li, k);
            lua_Integer m = luaL_len(L, -1);
            for (lua_Integer q = 1; q <= m; q++) {
                lua_geti(L, -1, q);
                if (lua_type(L, -1) != LUA_TNUMBER)
                    lerror(L, "%s: times[%lld][%lld] must be a number (ms), got %s", fname,
                           (long long)k, (long long)q, luaL_typename(L, -1));
                tm[c] = lua_tonumber(L, -1);
                nr[c++] = k - 1;
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
    } else {
        for (lua_Integer q = 1; q <= len; q++) {
            lua_geti(L, li, q);
            if (lua_type(L, -1) != LUA_TNUMBER)
                lerror(L, "%s: times[%lld] must be a number (ms), got %s", fname, (long long)q,
                       luaL_typename(L, -1));
            double v = lua_tonumber(L, -1);
            lua_pop(L, 1);
            for (int64_t j = 0; j < ntarget; j++) {
                tm[c] = v;
                nr[c++] = j;
            }
        }
    }
    o->times = tm;
    o->neurons = nr;
    o->ntimes = c;
}

/* array: values = {{row}, {row}, ...} or file = "in.h5" (dataset "/I/data" by
 * default, Neurokernel's layout, else the option dataset). */

static void array_values(lua_State *L, int t, const char *fname, nk_source_opts *o)
{
    const char *file = opt_string(L, t, "file", fname, NULL);
    lua_getfield(L, t, "values");
    int has_values = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (file && has_values)
        lerror(L, "%s: give either 'values' or 'file', not both", fname);
    if (file) {
        const char *dset = opt_string(L, t, "dataset", fname, NULL);
        double *v = NULL;
        char err[1024];
        if (nk_read_matrix(file, dset, &v, &o->rows, &o->cols, err, sizeof err))
            lerror(L, "%s: %s", fname, err);
        double *keep = lua_newuserdatauv(L, (size_t)(o->rows * o->cols) * sizeof *keep, 0);
        memcpy(keep, v, (size_t)(o->rows * o->cols) * sizeof *keep);
        free(v);
        o->values = keep;
        return;
    }
    if (!has_values)
        lerror(L, "%s: needs 'values' (a list of rows, one per interval, each a list of one "
                  "current per target neuron, pA) or 'file' (an HDF5 file)", fname);
    lua_getfield(L, t, "values");
    int vi = lua_gettop(L);
    if (!lua_istable(L, vi))
        lerror(L, "%s: 'values' must be a list of rows, got %s", fname, luaL_typename(L, vi));
    lua_Integer rows = luaL_len(L, vi);
    if (rows < 1)
        lerror(L, "%s: 'values' is empty", fname);
    lua_geti(L, vi, 1);
    int nested = lua_istable(L, -1);
    lua_Integer cols = nested ? luaL_len(L, -1) : 1;
    lua_pop(L, 1);
    if (cols < 1)
        lerror(L, "%s: values[1] is empty", fname);
    double *v = lua_newuserdatauv(L, (size_t)(rows * cols) * sizeof *v, 0);
    for (lua_Integer r = 1; r <= rows; r++) {
        lua_geti(L, vi, r);
        if (nested) {
            if (!lua_istable(L, -1) || luaL_len(L, -1) != cols)
                lerror(L, "%s: values[%lld] must be a list of %lld numbers like values[1]", fname,
                       (long long)r, (long long)cols);
            for (lua_Integer c = 1; c <= cols; c++) {
                lua_geti(L, -1, c);
                if (lua_type(L, -1) != LUA_TNUMBER)
                    lerror(L, "%s: values[%lld][%lld] must be a number, got %s", fname,
                           (long long)r, (long long)c, luaL_typename(L, -1));
                v[(r - 1) * cols + c - 1] = lua_tonumber(L, -1);
                lua_pop(L, 1);
            }
        } else {
            if (lua_type(L, -1) != LUA_TNUMBER)
                lerror(L, "%s: values[%lld] must be a number (or every row a list), got %s",
                       fname, (long long)r, luaL_typename(L, -1));
            v[r - 1] = lua_tonumber(L, -1);
        }
        lua_pop(L, 1);
    }
    lua_remove(L, vi);
    o->values = v;
    o->rows = rows;
    o->cols = cols;
}

typedef struct lsrc {
    int idx;
} lsrc;

/* Pushes source k of the network at stack index 1, which it keeps alive. */
static void push_src(lua_State *L, int k)
{
    lsrc *s = lua_newuserdatauv(L, sizeof *s, 1);
    s->idx = k;
    luaL_setmetatable(L, SRC_MT);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
}

static int net_source(lua_State *L)
{
    lnet *n = check_net(L, 1);
    const char *kind = check_cstring(L, 2);
    /* global: the target may be left out (trailing nils, as an unpacked
     * argument list leaves them, do not count) */
    int top = lua_gettop(L);
    while (top > 3 && lua_isnil(L, top))
        top--;
    if (!strcmp(kind, "global") && (lua_isnoneornil(L, 3) || lua_istable(L, 3)) && top <= 3) {
        lua_settop(L, 3);
        lua_pushvalue(L, 1);
        lua_insert(L, 3);
    }
    lua_settop(L, 4);
    int nparts;
    const nk_sel *parts = check_sel(L, 1, 3, "net:source", &nparts);
    int64_t ntarget = 0;
    for (int k = 0; k < nparts; k++)
        ntarget += parts[k].idx ? parts[k].n : parts[k].hi - parts[k].lo;
    int kind_k = -1;
    for (int k = 0; nk_source_kinds[k]; k++)
        if (!strcmp(kind, nk_source_kinds[k]))
            kind_k = k;
    if (kind_k < 0) {
        nk_source_opts o;
        nk_source_opts_init(&o);
        if (nk_source_add_sel(n->net, kind, parts, nparts, &o) < 0)
            return fail(L, n->net, "net:source");
        return lerror(L, "net:source: unknown kind '%s'", kind);
    }
    char fname[64];
    snprintf(fname, sizeof fname, "net:source('%s')", kind);
    int spikes = !strcmp(kind, "poisson") || !strcmp(kind, "bernoulli") ||
                 !strcmp(kind, "spike_times");
    if (spikes && lua_istable(L, 4)) { /* the other kinds' option, named before the list */
        lua_getfield(L, 4, "rate");
        int has_rate = !lua_isnil(L, -1);
        lua_getfield(L, 4, "p");
        int has_p = !lua_isnil(L, -1);
        lua_getfield(L, 4, "times");
        int has_times = !lua_isnil(L, -1);
        lua_pop(L, 3);
        if (!strcmp(kind, "poisson") && (has_p || has_times))
            return lerror(L, "%s: a Poisson source takes 'rate' (Hz), not '%s'", fname,
                          has_p ? "p" : "times");
        if (!strcmp(kind, "bernoulli") && (has_rate || has_times))
            return lerror(L, "%s: a Bernoulli source takes 'p' (per step), not '%s'", fname,
                          has_rate ? "rate" : "times");
        if (!strcmp(kind, "spike_times") && (has_rate || has_p))
            return lerror(L, "%s: takes 'times', not '%s'", fname, has_rate ? "rate" : "p");
    }
    int t = opt_table(L, 4, fname, nk_api_opts("net:source", kind)) ? 4 : 0;
    nk_source_opts o;
    nk_source_opts_init(&o);
    const char *names[64];
    double vals[64];
    o.start = opt_number(L, t, "start", fname, 0);
    o.stop = opt_number(L, t, "stop", fname, INFINITY);
    if (spikes) {
        if (!t)
            return lerror(L, "%s needs options (weight, ...)", fname);
        o.weight = opt_number(L, t, "weight", fname, NAN);
        if (!strcmp(kind, "poisson")) {
            o.rate = opt_number(L, t, "rate", fname, NAN);
            if (isnan(o.rate) || isnan(o.weight))
                return lerror(L, "%s needs options 'rate' (Hz) and 'weight'", fname);
        }
        if (isnan(o.weight))
            return lerror(L, "%s needs option 'weight' (per input spike, in the synapse's unit)",
                          fname);
        if (!strcmp(kind, "poisson")) {
        } else if (!strcmp(kind, "bernoulli")) {
            o.p = opt_number(L, t, "p", fname, NAN);
            if (isnan(o.p))
                return lerror(L, "%s needs option 'p' (the probability of an input spike per "
                                 "step)", fname);
        } else {
            spike_time_lists(L, t, fname, ntarget, &o);
        }
        o.synapse = opt_model(L, t, "synapse", fname, NULL);
        o.receptor = opt_string(L, t, "receptor", fname, NULL);
        o.syn_param_names = names;
        o.syn_param_values = vals;
        o.n_syn_params = syn_params(L, t, fname, names, vals);
    } else if (!strcmp(kind, "dc")) {
        o.amplitude = opt_number(L, t, "amplitude", fname, NAN);
        if (isnan(o.amplitude))
            return lerror(L, "%s needs option 'amplitude' (pA)", fname);
    } else if (!strcmp(kind, "step")) {
        if (!t)
            return lerror(L, "%s needs options 'times' (ms) and 'amplitudes' (pA)", fname);
        int64_t nt = 0, na = 0;
        o.times = num_list(L, t, "times", fname, &nt);
        o.amplitudes = num_list(L, t, "amplitudes", fname, &na);
        if (nt != na)
            return lerror(L, "%s: 'times' has %lld entries and 'amplitudes' %lld; expected the "
                             "same number", fname, (long long)nt, (long long)na);
        o.ntimes = nt;
    } else if (!strcmp(kind, "ramp")) {
        o.from = opt_number(L, t, "from", fname, 0);
        o.to = opt_number(L, t, "to", fname, NAN);
        if (isnan(o.to))
            return lerror(L, "%s needs options 'to' (pA at stop), 'stop' (ms) and optionally "
                             "'from' (pA at start, default 0)", fname);
    } else if (!strcmp(kind, "ac") || !strcmp(kind, "global")) {
        o.amplitude = opt_number(L, t, "amplitude", fname, 0);
        o.frequency = opt_number(L, t, "frequency", fname, 0);
        o.phase = opt_number(L, t, "phase", fname, 0);
        o.offset = opt_number(L, t, "offset", fname, 0);
        if (!strcmp(kind, "global")) {
            o.expr = opt_string(L, t, "I", fname, NULL);
            lua_getfield(L, t ? t : 1, "amplitude");
            int has_amp = t && !lua_isnil(L, -1);
            lua_pop(L, 1);
            if (o.expr && has_amp)
                return lerror(L, "%s: give either 'I' (an expression of t) or the sine's "
                                 "options (amplitude, frequency, phase, offset)", fname);
            if (!o.expr && !has_amp)
                return lerror(L, "%s needs 'I' (an expression of t, pA) or 'amplitude' and "
                                 "'frequency' (a sine)", fname);
        } else if (!t) {
            return lerror(L, "%s needs options 'amplitude' (pA) and 'frequency' (Hz)", fname);
        }
    } else if (!strcmp(kind, "noise")) {
        o.mean = opt_number(L, t, "mean", fname, 0);
        o.std = opt_number(L, t, "std", fname, NAN);
        o.interval = opt_number(L, t, "interval", fname, 0);
        if (isnan(o.std))
            return lerror(L, "%s needs option 'std' (pA) and optionally 'mean' (pA) and "
                             "'interval' (ms)", fname);
    } else if (!strcmp(kind, "array")) {
        if (!t)
            return lerror(L, "%s needs 'values' or 'file'", fname);
        array_values(L, t, fname, &o);
        o.interval = opt_number(L, t, "interval", fname, 0);
        const char *after = opt_string(L, t, "after", fname, "zero");
        if (strcmp(after, "zero") && strcmp(after, "hold"))
            return lerror(L, "%s: 'after' must be \"zero\" or \"hold\", got \"%s\"", fname, after);
        o.hold = !strcmp(after, "hold");
    } else if (!strcmp(kind, "equation")) {
        o.expr = opt_string(L, t, "I", fname, NULL);
        if (!o.expr)
            return lerror(L, "%s needs option 'I': the current (pA) as an expression of t, i, "
                             "N, x, y, z", fname);
    } else if (!strcmp(kind, "callback")) {
        lua_getfield(L, t ? t : 1, "fn");
        if (!t || !lua_isfunction(L, -1))
            return lerror(L, "%s needs option 'fn': a function(t) returning the current (pA), "
                             "one number or a list with one per target neuron%s%s", fname,
                          lua_isnil(L, -1) ? "" : "; got ",
                          lua_isnil(L, -1) ? "" : luaL_typename(L, -1));
        double every = opt_number(L, t, "every", fname, 1);
        char eb[32];
        if (every != floor(every) || every < 1 || every > 1e9)
            return lerror(L, "%s: 'every' must be a whole number of steps from 1 to 1e9, got %s",
                          fname, nk_fmt_num(every, eb, sizeof eb));
        o.every = (int)every;
        o.fn = source_cb;
        o.ud = lfunc_new(L, lua_gettop(L));
        o.ud_free = lfunc_free;
        lua_pop(L, 1);
    }
    int k = nk_source_add_sel(n->net, kind, parts, nparts, &o);
    if (k < 0)
        return fail(L, n->net, "net:source");
    push_src(L, k);
    return 1;
}

static nk_net *check_src(lua_State *L, int idx, int *k)
{
    lsrc *s = check_udata(L, idx, SRC_MT);
    lua_getiuservalue(L, idx, 1);
    nk_net *net = check_net(L, -1)->net;
    lua_pop(L, 1);
    *k = s->idx;
    return net;
}

/* src:set{rate = 10, stop = 500}: changes options between runs; all or
 * nothing (a refused value puts back the ones set before it). */
static int src_set(lua_State *L)
{
    int k;
    nk_net *net = check_src(L, 1, &k);
    check_type(L, 2, LUA_TTABLE);
    const char *names[32];
    double vals[32], old[32];
    int n = 0, rc = 0;
    char msg[1024] = "";
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TNUMBER) {
            lua_pop(L, 2);
            return lerror(L, "source:set: expected option names with numbers, e.g. "
                             "{rate = 10}");
        }
        if (n == 32) {
            lua_pop(L, 2);
            return lerror(L, "source:set: too many options");
        }
        names[n] = lua_tostring(L, -2); /* alive in the table */
        vals[n++] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    /* start and stop given together are one new window: set first the one
     * that keeps start <= stop on the way (the table's order is arbitrary,
     * and {start = 12, stop = 15} on a 20..30 source was refused or not by
     * it); one order always does when the new start <= the new stop */
    int is = -1, ie = -1;
    for (int j = 0; j < n; j++) {
        if (!strcmp(names[j], "start"))
            is = j;
        else if (!strcmp(names[j], "stop"))
            ie = j;
    }
    double stop_now;
    if (is >= 0 && ie >= 0 && !nk_source_get(net, k, "stop", &stop_now) &&
        (vals[is] <= stop_now) != (is < ie)) {
        const char *tn = names[is];
        double tv = vals[is];
        names[is] = names[ie], vals[is] = vals[ie];
        names[ie] = tn, vals[ie] = tv;
    }
    int done = 0;
    for (; done < n; done++)
        if (nk_source_get(net, k, names[done], &old[done]) ||
            nk_source_set(net, k, names[done], vals[done])) {
            snprintf(msg, sizeof msg, "source:set: %s", nk_errmsg(nk_net_ctx(net)));
            rc = 1;
            break;
        }
    if (rc) {
        while (done-- > 0)
            nk_source_set(net, k, names[done], old[done]);
        return lerror(L, "%s", msg);
    }
    lua_settop(L, 1);
    return 1;
}

static int src_remove(lua_State *L)
{
    int k;
    nk_net *net = check_src(L, 1, &k);
    if (nk_source_remove(net, k))
        return fail(L, net, "source:remove");
    return 0;
}

static int src_tostring(lua_State *L)
{
    check_udata(L, 1, SRC_MT);
    if (closed_tostring(L, 1, "source"))
        return 1;
    int k;
    nk_net *net = check_src(L, 1, &k);
    lua_pushfstring(L, "source %d: %s", k + 1, nk_source_describe(net, k));
    return 1;
}

static int src_index(lua_State *L)
{
    int k;
    nk_net *net = check_src(L, 1, &k);
    const char *key = check_cstring(L, 2);
    luaL_getmetatable(L, SRC_MT);
    lua_getfield(L, -1, "methods");
    if (lua_getfield(L, -1, key) != LUA_TNIL)
        return 1;
    if (!strcmp(key, "kind")) {
        const char *kd = nk_source_kind(net, k);
        if (kd)
            lua_pushstring(L, kd);
        else
            lua_pushnil(L);
        return 1;
    }
    if (!strcmp(key, "size")) {
        lua_pushinteger(L, (lua_Integer)nk_source_size(net, k));
        return 1;
    }
    double v;
    if (nk_source_get(net, k, key, &v))
        return fail(L, net, "source");
    lua_pushnumber(L, v);
    return 1;
}

/* ---- monitors ------------------------------------------------------------------------------- */

static int net_monitor(lua_State *L)
{
    lnet *n = check_net(L, 1);
    const char *kind = check_cstring(L, 2);
    lua_settop(L, 4);
    int nparts;
    const nk_sel *parts = check_sel(L, 1, 3, "net:monitor", &nparts);
    if (nparts == 0)
        return lerror(L, "net:monitor: the target holds no neurons");
    if (nparts != 1)
        return lerror(L, "net:monitor: a monitor watches one population; this target spans %d "
                         "(use one monitor per population: sel:parts())", nparts);
    int kk = -1;
    for (int k = 0; nk_monitor_kinds[k]; k++)
        if (!strcmp(kind, nk_monitor_kinds[k]))
            kk = k;
    nk_monitor_opts o;
    nk_monitor_opts_init(&o);
    const char *vars[64];
    if (kk >= 0) {
        char fname[64];
        snprintf(fname, sizeof fname, "net:monitor('%s')", kind);
        if (kk == 0 && lua_istable(L, 4)) {
            lua_pushnil(L);
            if (lua_next(L, 4))
                return lerror(L, "%s takes no options (got '%s')", fname,
                              lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?");
        }
        int t = opt_table(L, 4, fname, nk_api_opts("net:monitor", kind)) ? 4 : 0;
        double every = opt_number(L, t, "every", fname, 1);
        char eb[32];
        if (every != floor(every) || every < 1 || every > 1e9)
            return lerror(L, "%s: 'every' must be a whole number of steps from 1 to 1e9, got %s",
                          fname, nk_fmt_num(every, eb, sizeof eb));
        o.every = (int)every;
        o.bin = opt_number(L, t, "bin", fname, 1.0);
        o.op = opt_string(L, t, "op", fname, NULL);
        o.name = opt_string(L, t, "name", fname, NULL);
        if (t) {
            lua_getfield(L, t, "vars");
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                lua_getfield(L, t, "var");
            }
            if (lua_type(L, -1) == LUA_TSTRING) {
                vars[o.nvars++] = lua_tostring(L, -1);
            } else if (lua_istable(L, -1)) {
                lua_Integer nv = luaL_len(L, -1);
                if (nv > 64)
                    return lerror(L, "%s: at most 64 variables", fname);
                for (lua_Integer q = 1; q <= nv; q++) {
                    lua_geti(L, -1, q);
                    if (lua_type(L, -1) != LUA_TSTRING)
                        return lerror(L, "%s: vars[%lld] must be a variable's name, got %s",
                                      fname, (long long)q, luaL_typename(L, -1));
                    vars[o.nvars++] = lua_tostring(L, -1);
                    lua_pop(L, 1); /* the string stays alive in the table */
                }
            } else if (!lua_isnil(L, -1)) {
                return lerror(L, "%s: 'vars' must be a name or a list of names, got %s", fname,
                              luaL_typename(L, -1));
            }
            lua_pop(L, 1);
            o.vars = vars;
            if (kk == 4) {
                lua_getfield(L, t, "fn");
                if (!lua_isfunction(L, -1))
                    return lerror(L, "%s needs option 'fn': a function(t, values) called with "
                                     "the monitored values%s%s", fname,
                                  lua_isnil(L, -1) ? "" : "; got ",
                                  lua_isnil(L, -1) ? "" : luaL_typename(L, -1));
                lout *ou = calloc(1, sizeof *ou);
                if (!ou)
                    return lerror(L, "out of memory");
                lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
                ou->f.L = lua_tothread(L, -1);
                lua_pop(L, 1);
                ou->f.ref = luaL_ref(L, LUA_REGISTRYINDEX);
                ou->nvars = o.nvars;
                ou->n = parts[0].idx ? parts[0].n : parts[0].hi - parts[0].lo;
                ou->vars = calloc((size_t)(o.nvars ? o.nvars : 1), sizeof *ou->vars);
                for (int q = 0; ou->vars && q < o.nvars; q++)
                    ou->vars[q] = strdup(vars[q]);
                o.fn = output_cb;
                o.ud = ou;
                o.ud_free = lout_free;
            }
        } else if (kk == 4) {
            return lerror(L, "%s needs options 'vars' and 'fn'", fname);
        }
    }
    int k = nk_monitor_add_sel(n->net, kind, &parts[0], &o);
    if (k < 0)
        return fail(L, n->net, "net:monitor");
    push_child(L, k, MON_MT);
    return 1;
}

static int mon_is(nk_net *net, int k, const char *kind)
{
    return !strcmp(nk_monitor_kind(net, k), kind);
}

/* count() is a spike monitor's, rate() a spike or rate monitor's: on
 * another kind they said 0. */
static void mon_want_spikes(lua_State *L, nk_net *net, int k, const char *fn)
{
    if (!mon_is(net, k, "spikes"))
        lerror(L,
               "monitor:%s(): a %s monitor records no spikes (#m is its number of samples, "
               "m:times() their times; a spike monitor counts spikes)",
               fn, nk_monitor_kind(net, k));
}

static int mon_count(lua_State *L)
{
    int k;
    nk_net *net = child_net(L, 1, MON_MT, &k);
    mon_want_spikes(L, net, k, "count");
    lua_pushinteger(L, nk_monitor_count(net, k));
    return 1;
}

static int mon_rate(lua_State *L)
{
    int k;
    nk_net *net = child_net(L, 1, MON_MT, &k);
    if (!mon_is(net, k, "rate"))
        mon_want_spikes(L, net, k, "rate");
    lua_pushnumber(L, nk_monitor_rate(net, k));
    return 1;
}

/* Pushes the recorded times (which = 0) or 1-based ids (which = 1). */
static int mon_series(lua_State *L, int which)
{
    int k;
    nk_net *net = child_net(L, 1, MON_MT, &k);
    if (!mon_is(net, k, "spikes")) {
        if (which == 1)
            return lerror(L, "monitor:ids(): a %s monitor records no spikes (use neurons())",
                          nk_monitor_kind(net, k));
        double t0, step;
        int64_t rows = nk_monitor_rows(net, k, NULL, NULL, &t0, &step);
        lua_createtable(L, (int)rows, 0);
        for (int64_t r = 0; r < rows; r++) {
            lua_pushnumber(L, t0 + (double)r * step);
            lua_rawseti(L, -2, (lua_Integer)r + 1);
        }
        return 1;
    }
    int64_t n = nk_monitor_count(net, k);
    double *t = which == 0 ? malloc((size_t)(n ? n : 1) * sizeof *t) : NULL;
    int64_t *ids = which == 1 ? malloc((size_t)(n ? n : 1) * sizeof *ids) : NULL;
    if ((which == 0 && !t) || (which == 1 && !ids)) {
        free(t);
        free(ids);
        return lerror(L, "out of memory reading %lld spikes", (long long)n);
    }
    nk_monitor_spikes(net, k, t, ids, n);
    lua_createtable(L, (int)(n < 1 << 30 ? n : 0), 0);
    for (int64_t j = 0; j < n; j++) {
        if (which == 0)
            lua_pushnumber(L, t[j]);
        else
            lua_pushinteger(L, ids[j] + 1);
        lua_rawseti(L, -2, (lua_Integer)j + 1);
    }
    free(t);
    free(ids);
    return 1;
}

static int mon_times(lua_State *L) { return mon_series(L, 0); }
static int mon_ids(lua_State *L) { return mon_series(L, 1); }

/* The index of variable var in a sampled monitor (1 when it records one and
 * var is nil). */
static int mon_var(lua_State *L, nk_net *net, int k, int arg)
{
    const char *const *names, *const *units;
    int nv = nk_monitor_vars(net, k, &names, &units);
    if (nv == 0)
        lerror(L, "a %s monitor has no variables", nk_monitor_kind(net, k));
    if (lua_isnoneornil(L, arg)) {
        if (nv == 1)
            return 0;
        lerror(L, "this monitor records %d variables: name one (%s, ...)", nv, names[0]);
    }
    const char *var = check_cstring(L, arg);
    for (int v = 0; v < nv; v++)
        if (!strcmp(names[v], var))
            return v;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int v = 0; v < nv; v++) {
        if (v)
            luaL_addstring(&b, ", ");
        luaL_addstring(&b, names[v]);
    }
    luaL_pushresult(&b);
    lerror(L, "this monitor does not record '%s' (it records: %s)", var, lua_tostring(L, -1));
    return -1;
}

/* state/output: m:values([var]) -> rows, each a list over the monitored
 * neurons; field/rate: m:values() -> a list over time. */
static int mon_values(lua_State *L)
{
    int k;
    nk_net *net = child_net(L, 1, MON_MT, &k);
    if (mon_is(net, k, "spikes"))
        return lerror(L, "monitor:values(): a spike monitor has times() and ids()");
    int64_t ncols;
    const double *d;
    int64_t rows = nk_monitor_rows(net, k, &ncols, &d, NULL, NULL);
    if (mon_is(net, k, "rate") || mon_is(net, k, "field")) {
        lua_createtable(L, (int)rows, 0);
        for (int64_t r = 0; r < rows; r++) {
            lua_pushnumber(L, d[r]);
            lua_rawseti(L, -2, (lua_Integer)r + 1);
        }
        return 1;
    }
    const char *const *names, *const *units;
    int nv = nk_monitor_vars(net, k, &names, &units);
    int v = mon_var(L, net, k, 2);
    int64_t n = ncols / nv;
    lua_createtable(L, (int)rows, 0);
    for (int64_t r = 0; r < rows; r++) {
        lua_createtable(L, (int)n, 0);
        for (int64_t j = 0; j < n; j++) {
            lua_pushnumber(L, d[r * ncols + j * nv + v]);
            lua_rawseti(L, -2, (lua_Integer)j + 1);
        }
        lua_rawseti(L, -2, (lua_Integer)r + 1);
    }
    return 1;
}

/* m:trace([var,] j): the values of the j-th monitored neuron over time. */
static int mon_trace(lua_State *L)
{
    int k;
    nk_net *net = child_net(L, 1, MON_MT, &k);
    if (!mon_is(net, k, "state") && !mon_is(net, k, "output"))
        return lerror(L, "monitor:trace(): only state and output monitors have traces");
    int v = 0, jarg = 2;
    if (lua_type(L, 2) == LUA_TSTRING) {
        v = mon_var(L, net, k, 2);
        jarg = 3;
    } else {
        v = mon_var(L, net, k, 100);
    }
    int64_t ncols;
    const double *d;
    int64_t rows = nk_monitor_rows(net, k, &ncols, &d, NULL, NULL);
    const char *const *names, *const *units;
    int nv = nk_monitor_vars(net, k, &names, &units);
    int64_t n = ncols / nv;
    int64_t j = lua_isnoneornil(L, jarg) && n == 1 ? 1 : check_int(L, jarg, "neuron (1-based "
                                                                           "within the monitor)");
    if (j < 1 || j > n)
        return lerror(L, "monitor:trace(): neuron %lld is not among the %lld monitored",
                      (long long)j, (long long)n);
    lua_createtable(L, (int)rows, 0);
    for (int64_t r = 0; r < rows; r++) {
        lua_pushnumber(L, d[r * ncols + (j - 1) * nv + v]);
        lua_rawseti(L, -2, (lua_Integer)r + 1);
    }
    return 1;
}

/* m:neurons(): the monitored neurons, 1-based within the population. */
static int mon_neurons(lua_State *L)
{
    int k;
    nk_net *net = child_net(L, 1, MON_MT, &k);
    const int64_t *idx;
    int64_t lo;
    int64_t n = nk_monitor_neurons(net, k, &idx, &lo);
    lua_createtable(L, (int)n, 0);
    for (int64_t j = 0; j < n; j++) {
        lua_pushinteger(L, (lua_Integer)(idx ? idx[j] : lo + j) + 1);
        lua_rawseti(L, -2, (lua_Integer)j + 1);
    }
    return 1;
}

static int mon_len(lua_State *L)
{
    int k;
    nk_net *net = child_net(L, 1, MON_MT, &k);
    if (mon_is(net, k, "spikes"))
        lua_pushinteger(L, nk_monitor_count(net, k));
    else
        lua_pushinteger(L, nk_monitor_rows(net, k, NULL, NULL, NULL, NULL));
    return 1;
}

static int mon_tostring(lua_State *L)
{
    check_udata(L, 1, MON_MT);
    if (closed_tostring(L, 1, "monitor"))
        return 1;
    int k;
    nk_net *net = child_net(L, 1, MON_MT, &k);
    nk_range r = nk_monitor_target(net, k);
    const int64_t *idx;
    int64_t lo;
    int64_t n = nk_monitor_neurons(net, k, &idx, &lo);
    if (mon_is(net, k, "spikes")) {
        lua_pushfstring(L, "spike monitor on %I neurons of '%s': %I spikes in %f ms (%f Hz)",
                        (lua_Integer)n, nk_pop_name(net, r.pop),
                        (lua_Integer)nk_monitor_count(net, k), nk_monitor_duration(net, k),
                        nk_monitor_rate(net, k));
        return 1;
    }
    double t0, step;
    int64_t ncols;
    int64_t rows = nk_monitor_rows(net, k, &ncols, NULL, &t0, &step);
    const char *const *names, *const *units;
    int nv = nk_monitor_vars(net, k, &names, &units);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "%s monitor '%s' on %I neurons of '%s'", nk_monitor_kind(net, k),
                    nk_monitor_name(net, k), (lua_Integer)n, nk_pop_name(net, r.pop));
    luaL_addvalue(&b);
    for (int v = 0; v < nv; v++) {
        lua_pushfstring(L, "%s%s", v ? ", " : " (", names[v]);
        luaL_addvalue(&b);
    }
    if (nv)
        luaL_addstring(&b, ")");
    lua_pushfstring(L, ": %I rows every %f ms from %f ms", (lua_Integer)rows, step, t0);
    luaL_addvalue(&b);
    luaL_pushresult(&b);
    return 1;
}

/* For nk_plot.c: the monitor at idx, without exposing lchild and lnet. */
nk_net *nk_lua_tomonitor(lua_State *L, int idx, int *mon)
{
    lchild *c = luaL_testudata(L, idx, MON_MT);
    if (!c)
        return NULL;
    lua_getiuservalue(L, idx, 1);
    lnet *n = luaL_testudata(L, -1, NET_MT);
    lua_pop(L, 1); /* the monitor, still on the stack, keeps the network alive */
    if (!n || !live_net(n))
        luaL_error(L, "this monitor's network has been closed");
    *mon = c->idx;
    return n->net;
}

/* ---- running ---------------------------------------------------------------------------------- */

/* Seconds on a monotonic clock. */
static double nk_lua_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The progress line of a run: shown on stderr once the run has taken a
 * second (short runs print nothing), redrawn at most four times a second by
 * the engine, and erased at the end. */
typedef struct run_progress {
    double t0;        /* wall clock at the start, s */
    const char *erase;/* "\033[K" (erase the line) on a terminal, else "" */
    double dt;        /* ms per step */
    int shown;        /* the line is on the terminal */
    int forced;       /* {progress = true}: show from the start */
    int *told;        /* the network's note about its backend was printed */
} run_progress;

/* Once built: a network made with backend "auto" that runs on the CPU
 * although a GPU is usable says why, once, on stderr. */
static void run_built(void *ud, nk_net *net)
{
    run_progress *p = ud;
    const char *note = nk_net_backend_note(net);
    if (note && !*p->told) {
        fprintf(stderr, "nkshell: backend \"auto\" runs this network on the CPU: %s\n", note);
        *p->told = 1;
    }
}

static void progress(void *ud, double done, double total)
{
    run_progress *p = ud;
    double wall = nk_lua_clock() - p->t0;
    if (done >= total) {
        if (p->shown)
            fprintf(stderr, "\r%s", p->erase);
        p->shown = 0;
        fflush(stderr);
        return;
    }
    if (!p->shown && wall < 1.0 && !p->forced)
        return;
    double frac = total > 0 ? done / total : 1;
    double steps_s = wall > 0 ? done / p->dt / wall : 0;
    double rtf = done > 0 ? wall / (done / 1000) : 0;
    double eta = frac > 0 ? wall * (1 - frac) / frac : 0;
    int width = 20, fill = (int)(width * frac);
    fprintf(stderr,
            "\r%s[%.*s%*s] %5.1f%%  %.10g / %.10g ms  %.3g steps/s  real-time factor %.3g  "
            "ETA %.0f s",
            p->erase, fill, "====================", width - fill, "", 100 * frac, done, total, steps_s,
            rtf, eta);
    fflush(stderr);
    p->shown = 1;
}

/* --profile: every run prints its profile on stderr. */
static int profile_to_stderr(lua_State *L)
{
    int on = 0;
    if (lua_getfield(L, LUA_REGISTRYINDEX, DEFAULTS_KEY) == LUA_TTABLE) {
        lua_getfield(L, -1, "profile");
        on = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return on;
}

static void set_num(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

/* The profile as printed: phases with seconds and shares. The values are
 * read first, so that the string buffer sees a balanced stack. */
static int profile_tostring(lua_State *L)
{
    static const char *const build[] = {"parse", "connect", "codegen", "compile", "output"};
    static const char *const run[] = {"sources", "update", "deliver", "record", "write"};
    double bv[5], rv[5], tb = 0, tr = 0;
    lua_Integer steps = 0, threads = 0;
    int gpu = 0;
    double dev = 0;
    lua_getfield(L, 1, "build");
    for (int k = 0; k < 5; k++) {
        lua_getfield(L, -1, build[k]);
        bv[k] = lua_tonumber(L, -1);
        tb += bv[k];
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "run");
    for (int k = 0; k < 5; k++) {
        lua_getfield(L, -1, run[k]);
        rv[k] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    lua_getfield(L, -1, "total");
    tr = lua_tonumber(L, -1);
    lua_getfield(L, -2, "steps");
    steps = lua_tointeger(L, -1);
    lua_getfield(L, -3, "threads");
    threads = lua_tointeger(L, -1);
    lua_getfield(L, -4, "gpu");
    gpu = lua_toboolean(L, -1);
    lua_getfield(L, -5, "device");
    dev = lua_tonumber(L, -1);
    lua_pop(L, 6);

    luaL_Buffer b;
    luaL_buffinit(L, &b);
    char line[160];
    snprintf(line, sizeof line, "build %10.4f s\n", tb);
    luaL_addstring(&b, line);
    for (int k = 0; k < 5; k++) {
        snprintf(line, sizeof line, "  %-9s %10.4f s %5.1f %%\n", build[k], bv[k],
                 tb > 0 ? 100 * bv[k] / tb : 0.0);
        luaL_addstring(&b, line);
    }
    if (threads == 0)
        snprintf(line, sizeof line, "run   (no profiled run yet: net:profile(true) or "
                                    "net:run(ms, {profile = true}))\n");
    else if (gpu)
        snprintf(line, sizeof line, "run   %10.4f s  (%lld steps, on the GPU)\n", tr,
                 (long long)steps);
    else
        snprintf(line, sizeof line, "run   %10.4f s  (%lld steps, %lld thread%s)\n", tr,
                 (long long)steps, (long long)threads, threads == 1 ? "" : "s");
    luaL_addstring(&b, line);
    double sum = 0;
    for (int k = 0; k < 5; k++) {
        sum += rv[k];
        snprintf(line, sizeof line, "  %-9s %10.4f s %5.1f %%  %8.2f us/step\n", run[k], rv[k],
                 tr > 0 ? 100 * rv[k] / tr : 0.0, steps > 0 ? 1e6 * rv[k] / (double)steps : 0.0);
        luaL_addstring(&b, line);
    }
    snprintf(line, sizeof line, "  %-9s %10.4f s %5.1f %%\n", "other", tr - sum,
             tr > 0 ? 100 * (tr - sum) / tr : 0.0);
    luaL_addstring(&b, line);
    if (gpu) { /* beside the phases, not one of them */
        snprintf(line, sizeof line,
                 "  (the device's own time on the steps it ran alone: %.4f s, %.1f %% of the "
                 "run)\n",
                 dev, tr > 0 ? 100 * dev / tr : 0.0);
        luaL_addstring(&b, line);
    }
    luaL_pushresult(&b);
    return 1;
}

static void push_profile(lua_State *L, nk_net *net)
{
    nk_profile p;
    nk_net_profile(net, &p);
    lua_createtable(L, 0, 2);
    lua_createtable(L, 0, 5);
    set_num(L, "parse", p.parse_s);
    set_num(L, "connect", p.connect_s);
    set_num(L, "codegen", p.codegen_s);
    set_num(L, "compile", p.compile_s);
    set_num(L, "output", p.output_s);
    lua_setfield(L, -2, "build");
    lua_createtable(L, 0, 8);
    set_num(L, "sources", p.sources_s);
    set_num(L, "update", p.update_s);
    set_num(L, "deliver", p.deliver_s);
    set_num(L, "record", p.record_s);
    set_num(L, "write", p.write_s);
    set_num(L, "total", p.run_s);
    set_num(L, "finish", p.finish_s);
    set_num(L, "device", p.device_s);
    lua_pushinteger(L, (lua_Integer)p.events);
    lua_setfield(L, -2, "events");
    lua_pushinteger(L, (lua_Integer)p.spikes);
    lua_setfield(L, -2, "spikes");
    lua_pushinteger(L, (lua_Integer)p.steps);
    lua_setfield(L, -2, "steps");
    lua_pushinteger(L, (lua_Integer)p.early);
    lua_setfield(L, -2, "early");
    lua_pushinteger(L, p.threads);
    lua_setfield(L, -2, "threads");
    lua_pushboolean(L, p.gpu);
    lua_setfield(L, -2, "gpu");
    lua_setfield(L, -2, "run");
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, profile_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_setmetatable(L, -2);
}

/* --resume CHECKPOINT: on a network's first run, load the checkpoint's state
 * (refused when the script built a different network); runs the script asks
 * for are then shortened or skipped so that it ends where it would have. */
static int resume_first(lua_State *L, lnet *n)
{
    if (n->resume_checked)
        return 0;
    n->resume_checked = 1;
    lua_getfield(L, LUA_REGISTRYINDEX, DEFAULTS_KEY);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    lua_getfield(L, -1, "resume");
    if (lua_type(L, -1) != LUA_TSTRING) {
        lua_pop(L, 2);
        return 0;
    }
    const char *path = lua_tostring(L, -1);
    if (nk_checkpoint_apply(n->net, path))
        return fail(L, n->net, "--resume");
    if (isatty(2))
        fprintf(stderr, "resumed from '%s' at t = %g ms\n", path, nk_net_time(n->net));
    /* one checkpoint, one network */
    lua_pushnil(L);
    lua_setfield(L, -3, "resume");
    lua_pop(L, 2);
    return 0;
}

const char *nk_lua_resume_unused(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, DEFAULTS_KEY);
    const char *path = NULL;
    if (lua_istable(L, -1)) {
        if (lua_getfield(L, -1, "resume") == LUA_TSTRING)
            path = lua_tostring(L, -1); /* kept alive by the table */
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return path;
}

static int net_run(lua_State *L)
{
    lnet *n = check_net(L, 1);
    if (lua_type(L, 2) != LUA_TNUMBER)
        return lerror(L, "bad argument #1 to 'net:run' (duration in ms expected, got %s)",
                          luaL_typename(L, 2));
    double ms = lua_tonumber(L, 2);
    int t = opt_table(L, 3, "net:run", nk_api_opts("net:run", NULL)) ? 3 : 0;
    int show = opt_bool(L, t, "progress", "net:run", isatty(2));
    run_progress prog = {nk_lua_clock(), isatty(2) ? "\033[K" : "", nk_net_dt(n->net), 0, 0,
                         &n->note_told};
    if (t) {
        lua_getfield(L, t, "progress");
        prog.forced = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    nk_run_opts o = {0};
    o.progress = show ? progress : NULL;
    o.built = run_built;
    o.ud = &prog;
    o.interrupt = &nk_lua_interrupted;
    o.checkpoint_every = opt_number(L, t, "checkpoint_every", "net:run", 0);
    const char *ck = opt_string(L, t, "checkpoint", "net:run", NULL);
    if (ck && o.checkpoint_every == 0)
        return lerror(L, "net:run: option 'checkpoint' needs 'checkpoint_every' (ms between "
                         "checkpoints); for one checkpoint now, call net:checkpoint(path)");
    if (o.checkpoint_every != 0 && !ck) {
        const char *out = nk_net_output(n->net);
        size_t l = out ? strlen(out) : 0;
        if (l > 3 && !strcmp(out + l - 3, ".h5"))
            lua_pushfstring(L, "%s.ckpt.h5", lua_pushlstring(L, out, l - 3));
        else
            lua_pushfstring(L, "%s.ckpt.h5", out ? out : "nkshell");
        ck = lua_tostring(L, -1);
    }
    o.checkpoint_path = ck;
    /* {profile = bool} is for this run only (set once nothing more is refused) */
    int profiling = nk_net_profiling(n->net), profile_run = profiling;
    if (t) {
        lua_getfield(L, t, "profile");
        int given = !lua_isnil(L, -1);
        lua_pop(L, 1);
        if (given)
            profile_run = opt_bool(L, t, "profile", "net:run", 0);
    }
    if (!(ms >= 0) || !isfinite(ms))
        return lerror(L, "net:run: duration must be a finite number of ms >= 0, got %g", ms);
    resume_first(L, n);
    /* Runs are counted in steps the script asked for; after --resume the
     * network may already be past them. */
    double steps = floor(ms / nk_net_dt(n->net) + 0.5);
    /* past 2^62 steps, nk_run refuses the run as it was given (converting
     * such a count to int64_t overflowed: after --resume it ran nothing and
     * said nothing) */
    int huge = !(steps < 0x1p62);
    int64_t want = n->script_step + (huge ? 0 : (int64_t)steps);
    int64_t now = nk_net_step(n->net);
    if (!huge && n->script_step < now && want <= now) {
        n->script_step = want;
        return 0; /* done before the checkpoint */
    }
    double run_ms =
        !huge && n->script_step < now ? (double)(want - now) * nk_net_dt(n->net) : ms;
    if (n->closed) /* by a metamethod of the options */
        return lerror(L, "net:run: the network was closed while its options were read");
    nk_net_set_profiling(n->net, profile_run);
    lua_State *saved = run_L;
    run_L = L;
    int rc = nk_run(n->net, run_ms, &o);
    run_L = saved;
    sweep(L); /* networks the callbacks closed (not this one: it was running) */
    n->script_step = nk_net_step(n->net) > want ? nk_net_step(n->net) : want;
    if (rc)
        n->script_step = nk_net_step(n->net);
    if (rc && prog.shown)
        fputc('\n', stderr); /* end the progress line before the message */
    if (rc == NK_EINTR)
        nk_lua_consume_interrupt();
    if (nk_net_profiling(n->net) && profile_to_stderr(L)) {
        push_profile(L, n->net);
        fprintf(stderr, "%s", luaL_tolstring(L, -1, NULL));
        lua_pop(L, 2);
    }
    nk_net_set_profiling(n->net, profiling);
    if (rc)
        return fail(L, n->net, "net:run");
    return 0;
}

/* net:profile(): the time per phase of building and of the last profiled
 * run, as a table that prints as one; net:profile(true|false) turns timing
 * of each step's phases on or off for the runs that follow. */
static int net_profile(lua_State *L)
{
    lnet *n = check_net(L, 1);
    if (!lua_isnoneornil(L, 2)) {
        if (!lua_isboolean(L, 2))
            return lerror(L, "bad argument #1 to 'net:profile' (true or false expected, got %s)",
                          luaL_typename(L, 2));
        nk_net_set_profiling(n->net, lua_toboolean(L, 2));
        return 0;
    }
    push_profile(L, n->net);
    return 1;
}

/* net:set_threads(n): CPU threads for the next runs (0: one per CPU). */
static int net_set_threads(lua_State *L)
{
    lnet *n = check_net(L, 1);
    int64_t v = check_int(L, 2, "the thread count");
    if (v < 0 || v > 256)
        return lerror(L, "net:set_threads: expected 0 (one per CPU) to 256, got %lld",
                      (long long)v);
    if (nk_net_set_threads(n->net, (int)v))
        return fail(L, n->net, "net:set_threads");
    return 0;
}

static int net_checkpoint(lua_State *L)
{
    lnet *n = check_net(L, 1);
    const char *path = check_cstring(L, 2);
    if (nk_checkpoint(n->net, path))
        return fail(L, n->net, "net:checkpoint");
    return 0;
}

/* nk.recover(path): the .part of a run that died becomes a whole file. */
static int l_recover(lua_State *L)
{
    const char *path = check_cstring(L, 1);
    nk_ctx *ctx = push_ctx(L);
    if (nk_results_recover(ctx, path))
        return lerror(L, "nk.recover: %s", nk_errmsg(ctx));
    return 0;
}

static int l_restore(lua_State *L)
{
    const char *path = check_cstring(L, 1);
    int t = opt_table(L, 2, "nk.restore", nk_api_opts("nk.restore", NULL)) ? 2 : 0;
    const char *output = opt_string(L, t, "output", "nk.restore", NULL);
    if (output && !*output)
        return lerror(L, "option 'output' for nk.restore: expected a file name, got an empty "
                         "string (leave the option out to continue the checkpointed run's file)");
    nk_ctx *ctx = push_ctx(L);
    int ctx_idx = lua_gettop(L);
    lnet *n = lua_newuserdatauv(L, sizeof *n, 1);
    n->net = NULL;
    n->resume_checked = 1;
    n->note_told = 0;
    n->closed = 0;
    luaL_setmetatable(L, NET_MT);
    lua_pushvalue(L, ctx_idx);
    lua_setiuservalue(L, -2, 1);
    sweep(L);
    n->net = nk_restore(ctx, path, output);
    if (!n->net && nk_ctx_output_taken(ctx)) { /* as in nk.network */
        lua_gc(L, LUA_GCCOLLECT);
        n->net = nk_restore(ctx, path, output);
    }
    if (!n->net) {
        /* the engine's "restore: " (for C callers) once, not twice */
        const char *m = nk_errmsg(ctx);
        return lerror(L, "nk.restore: %s", strncmp(m, "restore: ", 9) ? m : m + 9);
    }
    n->script_step = nk_net_step(n->net);
    return 1;
}

/* net:sources(): the source objects, by index (removed ones included). */
static int net_sources(lua_State *L)
{
    lnet *n = check_net(L, 1);
    int ns = nk_source_count(n->net);
    lua_createtable(L, ns, 0);
    for (int k = 0; k < ns; k++) {
        push_src(L, k);
        lua_rawseti(L, -2, k + 1);
    }
    return 1;
}

/* net:monitors(): the monitor objects, by index. */
static int net_monitors(lua_State *L)
{
    lnet *n = check_net(L, 1);
    return push_children(L, nk_monitor_count_all(n->net), MON_MT);
}

static int src_set_fn(lua_State *L)
{
    int k;
    nk_net *net = check_src(L, 1, &k);
    check_type(L, 2, LUA_TFUNCTION);
    lfunc *f = lfunc_new(L, 2);
    if (nk_source_set_fn(net, k, source_cb, f, lfunc_free))
        return fail(L, net, "source:set_fn");
    return 0;
}

static int mon_set_fn(lua_State *L)
{
    int k;
    nk_net *net = child_net(L, 1, MON_MT, &k);
    check_type(L, 2, LUA_TFUNCTION);
    if (strcmp(nk_monitor_kind(net, k), "output"))
        return lerror(L, "monitor:set_fn: only an output monitor calls a function");
    const char *const *names, *const *units;
    int nv = nk_monitor_vars(net, k, &names, &units);
    const int64_t *idx;
    int64_t lo;
    lout *ou = calloc(1, sizeof *ou);
    if (!ou)
        return lerror(L, "out of memory");
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    ou->f.L = lua_tothread(L, -1);
    lua_pop(L, 1);
    lua_pushvalue(L, 2);
    ou->f.ref = luaL_ref(L, LUA_REGISTRYINDEX);
    ou->nvars = nv;
    ou->n = nk_monitor_neurons(net, k, &idx, &lo);
    ou->vars = calloc((size_t)(nv ? nv : 1), sizeof *ou->vars);
    for (int q = 0; ou->vars && q < nv; q++)
        ou->vars[q] = strdup(names[q]);
    if (nk_monitor_set_fn(net, k, output_cb, ou, lout_free))
        return fail(L, net, "monitor:set_fn");
    return 0;
}

static int net_timing(lua_State *L)
{
    lnet *n = check_net(L, 1);
    double b, r;
    nk_run_timing(n->net, &b, &r);
    lua_pushnumber(L, b);
    lua_pushnumber(L, r);
    return 2;
}

static int net_code(lua_State *L)
{
    lnet *n = check_net(L, 1);
    nk_range r = check_target(L, 1, 2, "net:code");
    const char *code = nk_pop_code(n->net, r.pop);
    if (!code)
        return fail(L, n->net, "net:code");
    lua_pushfstring(L, "/* population '%s' */\n%s", nk_pop_name(n->net, r.pop), code);
    return 1;
}

static int net_close(lua_State *L)
{
    lnet *n = luaL_testudata(L, 1, NET_MT);
    if (!n)
        type_error(L, 1, NET_MT);
    if (!live_net(n))
        return 0;
    if (nk_net_running(n->net))
        return lerror(L, "net:close: not while the network is running (from a callback)");
    if (in_api_call(L)) {
        n->closed = 1;
        nk_net_mark_closed(n->net);
        close_later(L, 1);
        return 0;
    }
    nk_net_free(n->net);
    n->net = NULL;
    sweep(L);
    return 0;
}

/* "4.2 MB": bytes with a unit a reader takes in at a glance. */
static void push_bytes(lua_State *L, int64_t b)
{
    static const char *const unit[] = {"B", "kB", "MB", "GB", "TB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        u++;
    }
    char s[32];
    snprintf(s, sizeof s, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
    lua_pushstring(L, s);
}

/* print(net): what it holds, line by line: populations, projections,
 * sources and monitors, and its settings, memory and time. */
static int net_tostring(lua_State *L)
{
    lnet *n = check_udata(L, 1, NET_MT);
    if (!live_net(n)) {
        lua_pushliteral(L, "network (closed)");
        return 1;
    }
    lua_settop(L, 1);
    nk_net *net = n->net;
    int npop = nk_pop_count(net), nproj = nk_proj_count(net);
    int nsrc = nk_source_count(net), nmon = nk_monitor_count_all(net);
    /* the monitors' lines first (index 2), while the stack is free */
    net_monitors(L);
    for (int k = 0; k < nmon; k++) {
        lua_geti(L, 2, k + 1);
        luaL_tolstring(L, -1, NULL);
        lua_seti(L, 2, k + 1);
        lua_pop(L, 1);
    }
    int64_t neurons = 0, syn = 0;
    for (int k = 0; k < npop; k++)
        neurons += nk_pop_size(net, k);
    for (int k = 0; k < nproj; k++)
        syn += nk_proj_nsyn(net, k);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushfstring(L,
                    "network: %d population%s (%I neurons), %d projection%s (%I synapses), "
                    "%d source%s, %d monitor%s\n",
                    npop, npop == 1 ? "" : "s", (lua_Integer)neurons, nproj,
                    nproj == 1 ? "" : "s", (lua_Integer)syn, nsrc, nsrc == 1 ? "" : "s", nmon,
                    nmon == 1 ? "" : "s");
    luaL_addvalue(&b);
    push_bytes(L, nk_net_memory(net));
    char line[1536], detail[400];
    nk_net_backend_detail(net, detail, sizeof detail);
    snprintf(line, sizeof line,
             "  t = %.10g ms, dt %.10g ms, seed %llu, backend %s (%s), output %s, "
             "memory %s",
             nk_net_time(net), nk_net_dt(net), (unsigned long long)nk_net_seed(net),
             nk_net_backend_name(net), detail,
             nk_net_output(net) ? nk_net_output(net) : "none", lua_tostring(L, -1));
    lua_pop(L, 1);
    luaL_addstring(&b, line);
    if (npop)
        luaL_addstring(&b, "\n  populations:");
    for (int k = 0; k < npop; k++) {
        snprintf(line, sizeof line, "\n    %-14s %10lld  %s", nk_pop_name(net, k),
                 (long long)nk_pop_size(net, k), nk_model_name(nk_pop_model(net, k)));
        luaL_addstring(&b, line);
    }
    if (nproj)
        luaL_addstring(&b, "\n  projections:");
    for (int k = 0; k < nproj; k++) {
        luaL_addstring(&b, "\n    ");
        const char *d = nk_proj_describe(net, k);
        luaL_addstring(&b, strncmp(d, "projection ", 11) ? d : d + 11);
    }
    if (nsrc)
        luaL_addstring(&b, "\n  sources:");
    for (int k = 0; k < nsrc; k++) {
        snprintf(line, sizeof line, "\n    %d: %s", k + 1, nk_source_describe(net, k));
        luaL_addstring(&b, line);
    }
    if (nmon)
        luaL_addstring(&b, "\n  monitors:");
    for (int k = 0; k < nmon; k++) {
        lua_pushfstring(L, "\n    %d: ", k + 1);
        luaL_addvalue(&b);
        lua_geti(L, 2, k + 1);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    return 1;
}

static int net_index(lua_State *L)
{
    lnet *n = check_udata(L, 1, NET_MT);
    const char *k = check_cstring(L, 2);
    if (live_net(n)) {
        if (!strcmp(k, "t")) {
            lua_pushnumber(L, nk_net_time(n->net));
            return 1;
        }
        if (!strcmp(k, "dt")) {
            lua_pushnumber(L, nk_net_dt(n->net));
            return 1;
        }
        if (!strcmp(k, "seed")) {
            lua_pushinteger(L, (lua_Integer)nk_net_seed(n->net));
            return 1;
        }
        if (!strcmp(k, "backend")) {
            lua_pushstring(L, nk_net_backend_name(n->net));
            return 1;
        }
        if (!strcmp(k, "threads")) {
            lua_pushinteger(L, nk_net_threads(n->net));
            return 1;
        }
        if (!strcmp(k, "output")) {
            if (nk_net_output(n->net))
                lua_pushstring(L, nk_net_output(n->net));
            else
                lua_pushnil(L);
            return 1;
        }
    }
    if (luaL_getmetafield(L, 1, "methods") == LUA_TTABLE) {
        lua_getfield(L, -1, k);
        return 1;
    }
    lua_pushnil(L);
    return 1;
}

/* Fields of a network are read-only; say what to call instead. */
static int net_newindex(lua_State *L)
{
    check_udata(L, 1, NET_MT);
    const char *k = lua_tostring(L, 2);
    if (k && !strcmp(k, "threads"))
        return lerror(L, "net.threads is read-only: use net:set_threads(n)");
    return lerror(L, "cannot set '%s' on a network: its fields are read-only",
                  k ? k : luaL_typename(L, 2));
}

/* Fields of the other objects are read-only too (plain Lua would say
 * "attempt to index a nk.population value"). */
static int obj_newindex(lua_State *L)
{
    const char *type = luaL_getmetafield(L, 1, "__name") == LUA_TSTRING ? lua_tostring(L, -1)
                                                                       : luaL_typename(L, 1);
    const char *k = lua_tostring(L, 2);
    const char *hint = !strcmp(type, POP_MT) ? " (states are set with pop:set{var = value})"
                       : !strcmp(type, SRC_MT) ? " (a source is changed with src:set{...})"
                                               : "";
    return lerror(L, "cannot set '%s' on an %s: its fields are read-only%s",
                  k ? k : luaL_typename(L, 2), type, hint);
}

/* ---- module functions ------------------------------------------------------------------------ */

/* nk.clock(): seconds on a monotonic wall clock (for timing in scripts). */
static int l_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec);
    return 1;
}

/* nk._check_options(t, fname[, kind]): for the prelude's functions, the
 * option check the binding does (nk_api_check). */
static int l_check_options(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *fname = check_cstring(L, 2);
    const nk_api_fn *f = nk_api_find(fname, luaL_optstring(L, 3, NULL));
    if (!f || !f->opts)
        return luaL_error(L, "nk._check_options: no options listed for '%s'", fname);
    nk_api_check(L, 1, fname, f->opts);
    return 0;
}

/* nk._suggest(name, {candidate, ...}): the candidate nk_suggest finds close
 * to name (for "did you mean"), or nil. */
static int l_suggest(lua_State *L)
{
    const char *name = check_cstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    int n = (int)luaL_len(L, 2);
    const char **c = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *c, 0);
    for (int k = 0; k < n; k++) {
        lua_geti(L, 2, k + 1);
        c[k] = lua_tostring(L, -1); /* NULL for a non-string: skipped; kept alive by the table */
        lua_pop(L, 1);
    }
    const char *s = nk_suggest(name, c, n);
    if (s)
        lua_pushstring(L, s);
    else
        lua_pushnil(L);
    return 1;
}

/* nk.models([kind]): the names of the models, all or of one kind. */
static int l_models(lua_State *L)
{
    int want = -1; /* -1 all, 0 neurons, 1 synapses */
    if (!lua_isnoneornil(L, 1)) {
        const char *k = lua_type(L, 1) == LUA_TSTRING ? lua_tostring(L, 1) : NULL;
        if (k && !strcmp(k, "neuron"))
            want = 0;
        else if (k && !strcmp(k, "synapse"))
            want = 1;
        else if (k)
            return lerror(L, "nk.models: kind must be 'neuron' or 'synapse', got '%s'", k);
        else
            return lerror(L, "bad argument #1 to 'nk.models' ('neuron' or 'synapse' expected, "
                             "got %s)",
                          luaL_typename(L, 1));
    }
    nk_ctx *ctx = push_ctx(L);
    lua_newtable(L);
    int j = 0;
    for (int k = 0; k < nk_model_count(ctx); k++) {
        const nk_model *m = nk_model_at(ctx, k);
        if (want >= 0 && (nk_model_is_synapse(m) != 0) != want)
            continue;
        lua_pushstring(L, nk_model_name(m));
        lua_rawseti(L, -2, ++j);
    }
    return 1;
}

/* nk.describe(model): the model written out (what print(m) shows). */
static int l_describe(lua_State *L)
{
    lua_pushstring(L, nk_model_describe(check_model(L, 1, "nk.describe")));
    return 1;
}

static int is_name(const char *s)
{
    if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        return 0;
    for (; *s; s++)
        if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9')))
            return 0;
    return 1;
}

/* A number as the declaration syntax reads it: the shortest form that reads
 * back exactly; inf and -inf for the infinities. */
static void fmt_num(char *out, size_t n, double v)
{
    if (isinf(v)) {
        snprintf(out, n, "%s", v > 0 ? "inf" : "-inf");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* Checks a range in the text syntax, "[lo, hi]" with ( ) for open ends and
 * inf for none (as docs/models.md reads it). */
static int range_text_ok(const char *s)
{
    char *end;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s != '[' && *s != '(')
        return 0;
    double lo = strtod(++s, &end);
    if (end == s)
        return 0;
    for (s = end; *s == ' ' || *s == '\t'; s++)
        ;
    if (*s++ != ',')
        return 0;
    double hi = strtod(s, &end);
    if (end == s)
        return 0;
    for (s = end; *s == ' ' || *s == '\t'; s++)
        ;
    if (*s != ']' && *s != ')')
        return 0;
    for (s++; *s == ' ' || *s == '\t'; s++)
        ;
    return !*s && !isnan(lo) && !isnan(hi) && lo <= hi;
}

/* Appends to out the range (parameters) or bounds (states) at stack index
 * idx: {lo, hi} (closed, math.huge for none) or the text "(0, inf]". what is
 * "parameter" or "state", key "range" or "bounds". */
static void range_text(lua_State *L, int idx, const char *what, const char *name, const char *key,
                       char *out, size_t n)
{
    if (lua_type(L, idx) == LUA_TSTRING) {
        const char *s = lua_tostring(L, idx);
        if (!range_text_ok(s))
            lerror(L, "nk.model: %s '%s': malformed %s \"%s\" (expected \"[lo, hi]\" with "
                      "lo <= hi, ( ) for open ends and inf for no bound, or {lo, hi})",
                   what, name, key, s);
        snprintf(out, n, " %s", s);
        return;
    }
    int ok = lua_istable(L, idx);
    double v[2] = {0, 0};
    if (ok) {
        int count = 0;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            count++;
            lua_pop(L, 1);
        }
        ok = count == 2;
        for (int j = 0; ok && j < 2; j++) {
            ok = lua_rawgeti(L, idx, j + 1) == LUA_TNUMBER;
            v[j] = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
    }
    if (!ok)
        lerror(L, "nk.model: %s '%s': %s must be {lo, hi} (two numbers, math.huge for no "
                  "bound) or a string like \"(0, inf]\", got %s",
               what, name, key, lua_istable(L, idx) ? "another table" : luaL_typename(L, idx));
    if (isnan(v[0]) || isnan(v[1]) || v[0] > v[1])
        lerror(L, "nk.model: %s '%s': %s {%g, %g} needs lo <= hi", what, name, key, v[0], v[1]);
    char a[40], b[40];
    fmt_num(a, sizeof a, v[0]);
    fmt_num(b, sizeof b, v[1]);
    snprintf(out, n, " [%s, %s]", a, b);
}

/* One declaration "name = value unit [lo, hi]" from the Lua value at idx. */
static void decl_item(lua_State *L, const char *name, int idx, int states, char *item, size_t n)
{
    const char *what = states ? "state" : "parameter";
    const char *key = states ? "bounds" : "range";
    const char *expected =
        states ? "a number, a parameter's name or {value, \"unit\", bounds = {lo, hi}}"
               : "a number or {value, \"unit\", range = {lo, hi}}";
    char value[96] = "", unit[96] = "", range[160] = "";
    int v = idx;
    if (lua_istable(L, idx)) {
        /* {value, "unit", range = ...}: check the keys first. */
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) == LUA_TSTRING) {
                const char *k = lua_tostring(L, -1);
                if (!strcmp(k, key))
                    continue;
                if (!strcmp(k, states ? "range" : "bounds"))
                    lerror(L, "nk.model: %s '%s': a %s takes '%s', not '%s' (a %s takes '%s')",
                           what, name, what, key, k, states ? "parameter" : "state", k);
                const char *cand[] = {key};
                const char *s = nk_suggest(k, cand, 1);
                lerror(L, "nk.model: %s '%s': unknown key '%s'%s%s%s (expected %s)", what, name,
                       k, s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "", expected);
            }
            if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > 2)
                lerror(L, "nk.model: %s '%s' must be %s: it has more than a value and a unit",
                       what, name, expected);
        }
        lua_rawgeti(L, idx, 2);
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TSTRING)
                lerror(L, "nk.model: %s '%s': the unit must be a string, got %s", what, name,
                       luaL_typename(L, -1));
            size_t ulen;
            const char *u = lua_tolstring(L, -1, &ulen);
            if (strlen(u) != ulen)
                lerror(L, "nk.model: %s '%s': the unit holds a zero byte (\\0) at position %d",
                       what, name, (int)strlen(u) + 1);
            if (strpbrk(u, ";=[]()\n") || strlen(u) >= 32)
                lerror(L, "nk.model: %s '%s': malformed unit '%s' (a short name like \"mV\" "
                          "or \"pA/pF\")",
                       what, name, u);
            snprintf(unit, sizeof unit, " %s", u);
        }
        lua_pop(L, 1);
        lua_getfield(L, idx, key);
        if (!lua_isnil(L, -1))
            range_text(L, lua_gettop(L), what, name, key, range, sizeof range);
        lua_pop(L, 1);
        lua_rawgeti(L, idx, 1);
        v = lua_gettop(L);
        if (lua_isnil(L, v))
            lerror(L, "nk.model: %s '%s' has no value: expected %s", what, name, expected);
    }
    if (lua_type(L, v) == LUA_TNUMBER) {
        double x = lua_tonumber(L, v);
        if (isnan(x))
            lerror(L, "nk.model: %s '%s' is NaN", what, name);
        fmt_num(value, sizeof value, x);
    } else if (states && lua_type(L, v) == LUA_TSTRING) {
        const char *p = lua_tostring(L, v);
        if (!is_name(p) || strlen(p) >= 64)
            lerror(L, "nk.model: state '%s' starts at '%s', which is not a parameter name", name,
                   p);
        snprintf(value, sizeof value, "%s", p);
    } else {
        lerror(L, "nk.model: %s '%s' must be %s, got %s", what, name, expected,
               v == idx ? luaL_typename(L, v) : lua_type(L, v) == LUA_TSTRING
                                                     ? "a string as its value"
                                                     : luaL_typename(L, v));
    }
    if (v != idx)
        lua_pop(L, 1);
    if ((size_t)snprintf(item, n, "%s = %s%s%s; ", name, value, unit, range) >= n)
        lerror(L, "nk.model: %s '%s': the declaration is too long", what, name);
}

/* Pushes a table's string keys, sorted (so the text, and the generated
 * code's hash, never depend on table order); returns how many. Raises when a
 * key is not a string that is a name. */
static int sorted_names(lua_State *L, int tbl, const char *field)
{
    lua_newtable(L);
    int names = lua_gettop(L), n = 0;
    lua_pushnil(L);
    while (lua_next(L, tbl)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            lerror(L, "nk.model: '%s' must map names to values, got a %s key", field,
                   luaL_typename(L, -1));
        if (!is_name(lua_tostring(L, -1)))
            lerror(L, "nk.model: '%s' in '%s' is not a valid name (letters, digits and _, not "
                      "starting with a digit)",
                   lua_tostring(L, -1), field);
        if (lua_rawlen(L, -1) >= 64)
            lerror(L, "nk.model: the name '%.20s...' in '%s' is too long (%d characters, at "
                      "most 63)",
                   lua_tostring(L, -1), field, (int)lua_rawlen(L, -1));
        lua_pushvalue(L, -1);
        lua_rawseti(L, names, ++n);
    }
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "sort");
    lua_pushvalue(L, names);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
    return n;
}

/* The text at the top of the stack, refused if it holds a zero byte (the
 * parser would read it only up to there). */
static const char *model_text(lua_State *L, const char *field)
{
    size_t len;
    const char *v = lua_tolstring(L, -1, &len);
    if (strlen(v) != len)
        lerror(L, "nk.model: '%s' holds a zero byte (\\0) at position %d", field,
               (int)strlen(v) + 1);
    return v;
}

/* Builds "name = value unit [lo, hi]; ..." (docs/models.md) from field
 * 'params' or 'states' of table t: a string is taken as it is; a table maps
 * names to a number, a parameter name (states) or {value, "unit", range =
 * {lo, hi}} (bounds = for states). Leaves the text on the stack. */
static const char *decl_text(lua_State *L, int t, const char *field, int states)
{
    lua_getfield(L, t, field);
    if (lua_isnil(L, -1))
        return NULL;
    if (lua_type(L, -1) == LUA_TSTRING)
        return model_text(L, field);
    if (!lua_istable(L, -1))
        lerror(L, "nk.model: '%s' must be a table of name = value (or a string in the model "
                  "syntax), got %s",
               field, luaL_typename(L, -1));
    int tbl = lua_gettop(L);
    int n = sorted_names(L, tbl, field);
    int names = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int k = 1; k <= n; k++) {
        int top = lua_gettop(L);
        lua_rawgeti(L, names, k);
        const char *name = lua_tostring(L, -1); /* kept alive by names */
        lua_rawget(L, tbl);
        char item[512];
        decl_item(L, name, lua_gettop(L), states, item, sizeof item);
        lua_settop(L, top);
        luaL_addstring(&b, item);
    }
    luaL_pushresult(&b);
    lua_replace(L, names);
    return lua_tostring(L, names);
}

/* A string field, or a list of strings joined by sep (equations, reset,
 * on_pre). Leaves the text on the stack. */
static const char *text_list(lua_State *L, int t, const char *field, const char *sep)
{
    lua_getfield(L, t, field);
    if (lua_isnil(L, -1))
        return NULL;
    if (lua_type(L, -1) == LUA_TSTRING)
        return model_text(L, field);
    if (!lua_istable(L, -1))
        lerror(L, "nk.model: '%s' must be a string or a list of strings, got %s", field,
               luaL_typename(L, -1));
    int tbl = lua_gettop(L);
    lua_Integer len = (lua_Integer)lua_rawlen(L, tbl), count = 0;
    lua_pushnil(L);
    while (lua_next(L, tbl)) {
        lua_pop(L, 1);
        count++;
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > len)
            lerror(L, "nk.model: '%s' must be a string or a list of strings (a table with "
                      "keys 1..n), got a table with a %s key",
                   field, luaL_typename(L, -1));
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (lua_Integer k = 1; k <= len; k++) {
        if (lua_rawgeti(L, tbl, k) != LUA_TSTRING)
            lerror(L, "nk.model: '%s'[%lld] must be a string, got %s", field, (long long)k,
                   luaL_typename(L, -1));
        if (k > 1) {
            lua_pushstring(L, sep);
            lua_insert(L, -2);
            lua_concat(L, 2);
        }
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    return model_text(L, field);
}

/* aliases and receptors: a string, or a table whose list part holds
 * declarations ("V_m = v") and whose names map to right-hand sides
 * (V_m = "v", exc = "exp_cond(tau_syn = tau_syn_ex)"); joined by "; ". */
static const char *text_map(lua_State *L, int t, const char *field)
{
    lua_getfield(L, t, field);
    if (lua_isnil(L, -1))
        return NULL;
    if (lua_type(L, -1) == LUA_TSTRING)
        return model_text(L, field);
    if (!lua_istable(L, -1))
        lerror(L, "nk.model: '%s' must be a string or a table of name = \"...\", got %s", field,
               luaL_typename(L, -1));
    int tbl = lua_gettop(L);
    /* Split the table: the list part into one, the named part into another. */
    lua_newtable(L);
    int named = lua_gettop(L);
    lua_Integer len = (lua_Integer)lua_rawlen(L, tbl);
    lua_pushnil(L);
    while (lua_next(L, tbl)) {
        if (lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1 && lua_tointeger(L, -2) <= len) {
            lua_pop(L, 1);
            continue;
        }
        if (lua_type(L, -1) != LUA_TSTRING)
            lerror(L, "nk.model: '%s': the value of '%s' must be a string, got %s", field,
                   lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?",
                   luaL_typename(L, -1));
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, named);
    }
    int n = sorted_names(L, named, field);
    int names = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (lua_Integer k = 1; k <= len; k++) {
        if (lua_rawgeti(L, tbl, k) != LUA_TSTRING)
            lerror(L, "nk.model: '%s'[%lld] must be a string, got %s", field, (long long)k,
                   luaL_typename(L, -1));
        luaL_addvalue(&b);
        luaL_addstring(&b, "; ");
    }
    for (int k = 1; k <= n; k++) {
        lua_rawgeti(L, names, k);
        lua_pushliteral(L, " = ");
        lua_rawgeti(L, names, k);
        lua_rawget(L, named);
        lua_pushliteral(L, "; ");
        lua_concat(L, 4);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    return model_text(L, field);
}

/* nk.model{...} defines a model from its equations (docs/models.md) and
 * returns its object; nk.model("name") returns an existing model's. */
static int l_model(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TSTRING || luaL_testudata(L, 1, MODEL_MT)) {
        push_model(L, nk_model_name(check_model(L, 1, "nk.model")));
        return 1;
    }
    if (!lua_istable(L, 1))
        return lerror(L, "bad argument #1 to 'nk.model' (table of fields or model name "
                         "expected, got %s)",
                      luaL_typename(L, 1));
    lua_settop(L, 1);
    luaL_checkstack(L, 64, "nk.model");
    check_keys(L, 1, "nk.model", nk_api_opts("nk.model", NULL));
    nk_model_spec s;
    memset(&s, 0, sizeof s);
    s.name = opt_string(L, 1, "name", "nk.model", NULL);
    if (!s.name)
        return lerror(L, "nk.model: option 'name' is required");
    s.kind = opt_string(L, 1, "kind", "nk.model", "neuron");
    if (strcmp(s.kind, "neuron") && strcmp(s.kind, "synapse"))
        return lerror(L, "nk.model: option 'kind' must be 'neuron' or 'synapse', got '%s'",
                      s.kind);
    s.doc = opt_string(L, 1, "doc", "nk.model", "user-defined model");
    s.method = opt_string(L, 1, "method", "nk.model", NULL);
    s.params = decl_text(L, 1, "params", 0);
    s.states = decl_text(L, 1, "states", 1);
    s.equations = text_list(L, 1, "equations", "\n");
    s.threshold = opt_string(L, 1, "threshold", "nk.model", NULL);
    s.reset = text_list(L, 1, "reset", "\n");
    lua_getfield(L, 1, "refractory");
    if (lua_type(L, -1) == LUA_TNUMBER) {
        char num[40];
        double r = lua_tonumber(L, -1);
        if (!(r >= 0) || isinf(r))
            return lerror(L, "nk.model: option 'refractory' must be a number of ms >= 0 or an "
                             "expression, got %g",
                          r);
        fmt_num(num, sizeof num, r);
        lua_pushstring(L, num);
        s.refractory = lua_tostring(L, -1);
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        s.refractory = lua_tostring(L, -1);
    } else if (!lua_isnil(L, -1)) {
        return lerror(L, "nk.model: option 'refractory' must be a number (ms) or an expression "
                         "(a string), got %s",
                      luaL_typename(L, -1));
    }
    s.on_pre = text_list(L, 1, "on_pre", "\n");
    s.current = opt_string(L, 1, "current", "nk.model", NULL);
    s.graded = opt_string(L, 1, "graded", "nk.model", NULL);
    s.receptors = text_map(L, 1, "receptors");
    s.aliases = text_map(L, 1, "aliases");
    lua_getfield(L, 1, "max_dt");
    if (!lua_isnil(L, -1)) {
        double d = lua_tonumber(L, -1);
        char db[32];
        if (lua_type(L, -1) != LUA_TNUMBER || !(d > 0) || isinf(d))
            return lerror(L, "nk.model: option 'max_dt' must be a positive number of ms, got %s",
                          lua_type(L, -1) == LUA_TNUMBER ? nk_fmt_num(d, db, sizeof db)
                                                         : luaL_typename(L, -1));
        s.max_dt = d;
    }
    lua_pop(L, 1);
    s.replace = opt_bool(L, 1, "replace", "nk.model", 0);
    nk_ctx *ctx = push_ctx(L);
    if (nk_model_define(ctx, &s)) {
        const char *msg = nk_errmsg(ctx);
        int exists = !s.replace && strstr(msg, "already exists") && !strstr(msg, "replace");
        return lerror(L, "nk.model: %s%s", msg,
                      exists ? " (give replace = true to redefine it)" : "");
    }
    push_model(L, s.name);
    return 1;
}

void nk_lua_set_default(lua_State *L, const char *key, const char *value)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, DEFAULTS_KEY) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, DEFAULTS_KEY);
    }
    char *end;
    if (!strcmp(key, "backend")) {
        if (strcmp(value, "cpu") && strcmp(value, "cuda") && strcmp(value, "auto"))
            lerror(L, "invalid value '%s' for --backend (expected cpu, cuda or auto)", value);
        lua_pushstring(L, value);
    } else if (!strcmp(key, "profile")) {
        lua_pushboolean(L, 1);
    } else if (!strcmp(key, "resume")) {
        if (access(value, R_OK))
            lerror(L, "--resume: cannot read the checkpoint '%s'", value);
        lua_pushstring(L, value);
    } else if (!strcmp(key, "seed")) {
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (!*value || *end || v < 0 || errno == ERANGE) /* strtoll clamps what overflows */
            lerror(L, "invalid value '%s' for --seed (expected an integer from 0 to %lld)", value,
                   (long long)LLONG_MAX);
        lua_pushinteger(L, (lua_Integer)v);
    } else if (!strcmp(key, "threads")) {
        long long v = strtoll(value, &end, 10);
        if (!*value || *end || v < 0 || v > 256)
            lerror(L, "invalid value '%s' for --threads (expected 0, one per CPU, to 256)",
                   value);
        lua_pushinteger(L, (lua_Integer)v);
    } else {
        lerror(L, "unknown default '%s'", key);
    }
    lua_setfield(L, -2, key);
    lua_pop(L, 1);
}

/* A type's metatable. Scripts see, through getmetatable(), a stand-in with
 * its __name and its methods table (the same table, so a script may still
 * wrap a method), not the metatable itself: `getmetatable(net).__gc = nil`
 * would otherwise leave the network's memory to leak once it is collected,
 * and a replaced __index or __close would reach the C functions with what
 * they do not expect. (debug.getmetatable still gives the real one.) */
static void new_mt(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods,
                   const char *prefix)
{
    luaL_newmetatable(L, name);
    luaL_setfuncs(L, meta, 0);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
    if (methods) {
        /* what arg_error calls them: "prefix:method", as the reference does */
        lua_getfield(L, LUA_REGISTRYINDEX, FUNCS_KEY);
        for (const luaL_Reg *r = methods; r->name; r++) {
            lua_pushcfunction(L, r->func);
            lua_pushfstring(L, "%s:%s", prefix, r->name);
            lua_rawset(L, -3);
        }
        lua_pop(L, 1);
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
        lua_pushvalue(L, -1);
        lua_setfield(L, -4, "methods");
        lua_setfield(L, -2, "methods");
    }
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}

/* Adds the C functions among table idx's values to FUNCS_KEY (as true
 * unless new_mt named them). */
static void note_api(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_getfield(L, LUA_REGISTRYINDEX, FUNCS_KEY);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_iscfunction(L, -1)) {
            lua_pushvalue(L, -1);
            if (lua_rawget(L, -4) == LUA_TNIL) {
                lua_pushvalue(L, -2);
                lua_pushboolean(L, 1);
                lua_rawset(L, -6);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* Notes the coroutine at idx in the THREADS_KEY set (see in_api_call). */
static void note_thread(lua_State *L, int idx)
{
    set_add(L, THREADS_KEY, idx, 1);
}

/* coroutine.create and coroutine.wrap (upvalue 1: the library's own). */
static int co_create(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    note_thread(L, -1);
    return 1;
}

static int co_wrap(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    /* the function it gives holds the coroutine as its upvalue */
    if (lua_getupvalue(L, -1, 1)) {
        if (lua_type(L, -1) == LUA_TTHREAD)
            note_thread(L, -1);
        lua_pop(L, 1);
    }
    return 1;
}

static void wrap_coroutines(lua_State *L)
{
    if (lua_getglobal(L, "coroutine") == LUA_TTABLE) {
        static const struct {
            const char *name;
            lua_CFunction f;
        } w[] = {{"create", co_create}, {"wrap", co_wrap}};
        for (int k = 0; k < 2; k++) {
            if (lua_getfield(L, -1, w[k].name) == LUA_TFUNCTION) {
                lua_pushcclosure(L, w[k].f, 1);
                lua_setfield(L, -2, w[k].name);
            } else {
                lua_pop(L, 1);
            }
        }
    }
    lua_pop(L, 1);
}

int luaopen_nk(lua_State *L)
{
    static const luaL_Reg ctx_meta[] = {{"__gc", ctx_gc}, {NULL, NULL}};
    static const luaL_Reg net_meta[] = {{"__gc", net_gc},
                                        {"__close", net_close},
                                        {"__tostring", net_tostring},
                                        {"__index", net_index},
                                        {"__newindex", net_newindex},
                                        {NULL, NULL}};
    static const luaL_Reg net_methods[] = {{"population", net_population},
                                           {"connect", net_connect},
                                           {"source", net_source},
                                           {"monitor", net_monitor},
                                           {"run", net_run},
                                           {"timing", net_timing},
                                           {"profile", net_profile},
                                           {"set_threads", net_set_threads},
                                           {"code", net_code},
                                           {"close", net_close},
                                           {"populations", net_populations},
                                           {"projections", net_projections},
                                           {"save_model", net_save_model},
                                           {"load_sonata", net_load_sonata},
                                           {"load_gexf", net_load_gexf},
                                           {"region", net_region},
                                           {"checkpoint", net_checkpoint},
                                           {"sources", net_sources},
                                           {"monitors", net_monitors},
                                           {NULL, NULL}};
    static const luaL_Reg pop_meta[] = {{"__tostring", pop_tostring},
                                        {"__len", pop_len},
                                        {"__index", pop_index},
                                        {"__newindex", obj_newindex}, {NULL, NULL}};
    static const luaL_Reg pop_methods[] = {{"slice", pop_slice},         {"get", pop_get},
                                           {"param", pop_param},         {"place", pop_place},
                                           {"positions", pop_positions}, {"ids", pop_ids},
                                           {"index_of", pop_index_of},   {"select", pop_select},
                                           {"set", pop_set},
                                           {NULL, NULL}};
    static const luaL_Reg proj_meta[] = {{"__tostring", proj_tostring},
                                         {"__len", proj_len},
                                         {"__index", proj_index},
                                         {"__newindex", obj_newindex}, {NULL, NULL}};
    static const luaL_Reg proj_methods[] = {{"synapses", proj_synapses}, {NULL, NULL}};
    static const luaL_Reg edges_meta[] = {{"__gc", edges_gc},
                                          {"__close", edges_free},
                                          {"__len", edges_len},
                                          {"__tostring", edges_tostring},
                                          {"__index", edges_index},
                                          {"__newindex", obj_newindex}, {NULL, NULL}};
    static const luaL_Reg edges_methods[] = {
        {"ids", edges_ids}, {"get", edges_get}, {"free", edges_free}, {NULL, NULL}};
    static const luaL_Reg mon_meta[] = {
        {"__tostring", mon_tostring}, {"__len", mon_len}, {"__newindex", obj_newindex}, {NULL, NULL}};
    static const luaL_Reg mon_methods[] = {
        {"count", mon_count},   {"times", mon_times},     {"ids", mon_ids},
        {"rate", mon_rate},     {"values", mon_values},   {"trace", mon_trace},
        {"neurons", mon_neurons}, {"set_fn", mon_set_fn}, {NULL, NULL}};
    static const luaL_Reg sel_meta[] = {{"__gc", sel_gc},
                                        {"__len", sel_len},
                                        {"__tostring", sel_tostring},
                                        {"__newindex", obj_newindex}, {NULL, NULL}};
    static const luaL_Reg sel_methods[] = {
        {"neurons", sel_neurons}, {"parts", sel_parts}, {NULL, NULL}};
    static const luaL_Reg src_meta[] = {
        {"__tostring", src_tostring}, {"__index", src_index}, {"__newindex", obj_newindex}, {NULL, NULL}};
    static const luaL_Reg src_methods[] = {
        {"set", src_set}, {"remove", src_remove}, {"set_fn", src_set_fn}, {NULL, NULL}};
    static const luaL_Reg model_meta[] = {{"__tostring", model_tostring},
                                          {"__index", model_index},
                                          {"__eq", model_eq},
                                          {"__newindex", obj_newindex}, {NULL, NULL}};
    static const luaL_Reg funcs[] = {{"network", l_network}, {"model", l_model},
                                     {"models", l_models},   {"clock", l_clock},
                                     {"describe", l_describe}, {"read_edges", l_read_edges},
                                     {"memory", l_memory},   {"restore", l_restore},
                                     {"read", nk_lua_read},  {"recover", l_recover},
                                     {"_sonata_net_opts", l_sonata_net_opts},
                                     {"_check_options", l_check_options},
                                     {"_suggest", l_suggest},
                                     {NULL, NULL}};

    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, FUNCS_KEY);
    new_mt(L, CTX_MT, ctx_meta, NULL, NULL);
    new_mt(L, NET_MT, net_meta, net_methods, "net");
    new_mt(L, POP_MT, pop_meta, pop_methods, "pop");
    new_mt(L, PROJ_MT, proj_meta, proj_methods, "proj");
    new_mt(L, EDGES_MT, edges_meta, edges_methods, "E");
    new_mt(L, MON_MT, mon_meta, mon_methods, "m");
    new_mt(L, SEL_MT, sel_meta, sel_methods, "sel");
    new_mt(L, SRC_MT, src_meta, src_methods, "src");
    luaL_getmetatable(L, SEL_MT);
    lua_getfield(L, -1, "methods");
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    new_mt(L, MODEL_MT, model_meta, NULL, NULL);
    /* Monitors find their methods through __index = methods table. */
    luaL_getmetatable(L, MON_MT);
    lua_getfield(L, -1, "methods");
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);

    push_ctx(L);
    lua_pop(L, 1);
    luaL_newlib(L, funcs);
    lua_pushstring(L, nk_version());
    lua_setfield(L, -2, "version");
    nk_plot_open(L);
    lua_setfield(L, -2, "plot");
    nk_api_push(L);
    lua_setfield(L, -2, "_api");
    /* The pure-Lua part. */
    if (luaL_loadbuffer(L, nk_src_prelude_lua, strlen(nk_src_prelude_lua), "=nk.prelude"))
        return lua_error(L);
    /* Its arguments: the module, and the method tables (for help()). */
    lua_pushvalue(L, -2);
    static const char *const mts[][2] = {
        {"network", NET_MT},     {"population", POP_MT}, {"monitor", MON_MT},
        {"projection", PROJ_MT}, {"edges", EDGES_MT},    {"selection", SEL_MT},
        {"source", SRC_MT}};
    int nmts = (int)(sizeof mts / sizeof mts[0]);
    lua_createtable(L, 0, nmts);
    for (int k = 0; k < nmts; k++) {
        luaL_getmetatable(L, mts[k][1]);
        lua_getfield(L, -1, "methods");
        lua_setfield(L, -3, mts[k][0]);
        lua_pop(L, 1);
    }
    lua_call(L, 2, 0);
    /* What in_api_call looks for, besides the methods: the functions of
     * the nk and nk.plot tables and every type's metamethods. */
    note_api(L, -1);
    lua_getfield(L, -1, "plot");
    note_api(L, -1);
    lua_pop(L, 1);
    static const char *const all_mts[] = {NET_MT, POP_MT,  PROJ_MT, EDGES_MT,
                                          MON_MT, SEL_MT,  SRC_MT,  MODEL_MT};
    for (size_t k = 0; k < sizeof all_mts / sizeof all_mts[0]; k++) {
        luaL_getmetatable(L, all_mts[k]);
        note_api(L, -1);
        if (lua_getfield(L, -1, "methods") == LUA_TTABLE)
            note_api(L, -1);
        lua_pop(L, 2);
    }
    wrap_coroutines(L);
    return 1;
}
