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
#include "nk_lua.h"

#include "nk/nk.h"

#include <lauxlib.h>
#include <lualib.h>

#include <math.h>
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
#define MODEL_MT "nk.model"
#define CTX_MT "nk.context"
#define DEFAULTS_KEY "nk.defaults"
#define CTX_KEY "nk.context.instance" /* registry: the state's context */

extern const char nk_src_prelude_lua[];

volatile sig_atomic_t nk_lua_interrupted = 0;

const char *nk_lua_version(void) { return nk_version(); }

/* luaL_error with C's printf formats (lua_pushfstring knows neither %g nor
 * %lld): the message gets the caller's "file:line:" like luaL_error's. */
static int lerror(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int lerror(lua_State *L, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    luaL_where(L, 1);
    lua_pushstring(L, msg);
    lua_concat(L, 2);
    return lua_error(L);
}

typedef struct lnet {
    nk_net *net;
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

/* Raises an error when table idx has a key not in allowed. */
static void check_keys(lua_State *L, int idx, const char *fname, const char *const *allowed)
{
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            lerror(L, "%s: option names must be strings, got a %s key", fname,
                       luaL_typename(L, -1));
        }
        const char *k = lua_tostring(L, -1);
        int n = 0, found = 0;
        while (allowed[n]) {
            if (!strcmp(allowed[n], k))
                found = 1;
            n++;
        }
        if (!found) {
            const char *s = nk_suggest(k, allowed, n);
            for (int j = 0; !s && j < n && strlen(k) >= 2; j++)
                if (!strncmp(allowed[j], k, strlen(k)))
                    s = allowed[j];
            if (s)
                lerror(L, "unknown option '%s' for %s (did you mean '%s'?)", k, fname, s);
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (int j = 0; j < n; j++) {
                if (j)
                    luaL_addstring(&b, ", ");
                luaL_addstring(&b, allowed[j]);
            }
            luaL_pushresult(&b);
            lerror(L, "unknown option '%s' for %s (expected one of: %s)", k, fname,
                       lua_tostring(L, -1));
        }
    }
}

/* Checks that argument arg is a table of options (or absent); returns 1 when
 * present. */
static int opt_table(lua_State *L, int arg, const char *fname, const char *const *allowed)
{
    if (lua_isnoneornil(L, arg))
        return 0;
    if (!lua_istable(L, arg))
        lerror(L, "bad argument #%d to '%s' (table of options expected, got %s)", arg, fname,
                   luaL_typename(L, arg));
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
        v = lua_tostring(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* A number that must be an integer (n, seed, indegree). */
static int64_t check_int(lua_State *L, int idx, const char *what)
{
    if (lua_type(L, idx) != LUA_TNUMBER)
        lerror(L, "%s must be an integer, got %s", what, luaL_typename(L, idx));
    lua_Integer v;
    if (lua_isinteger(L, idx)) {
        v = lua_tointeger(L, idx);
    } else {
        double d = lua_tonumber(L, idx);
        if (d != floor(d) || !(fabs(d) < 9.2e18))
            lerror(L, "%s must be an integer, got %g", what, d);
        v = (lua_Integer)d;
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
               fname, luaL_typename(L, idx));
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
                   key, fname, luaL_typename(L, -1));
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

static lnet *check_net(lua_State *L, int idx)
{
    lnet *n = luaL_checkudata(L, idx, NET_MT);
    if (!n->net)
        lerror(L, "this network has been closed");
    return n;
}

static int net_gc(lua_State *L)
{
    lnet *n = luaL_checkudata(L, 1, NET_MT);
    nk_net_free(n->net);
    n->net = NULL;
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

static const char *const network_opts[] = {"dt", "seed", "backend", "output", "precision", NULL};

static int l_network(lua_State *L)
{
    int t = opt_table(L, 1, "nk.network", network_opts) ? 1 : 0;
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

    lnet *n = lua_newuserdatauv(L, sizeof *n, 1);
    n->net = NULL;
    luaL_setmetatable(L, NET_MT);
    lua_pushvalue(L, ctx_idx);
    lua_setiuservalue(L, -2, 1);
    n->net = nk_net_new(ctx, &o);
    if (!n->net)
        lerror(L, "nk.network: %s", nk_errmsg(ctx));
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
    if (!p)
        lerror(L, "bad argument #%d to '%s' (population expected, got %s)", arg - 1, fname,
                   luaL_typename(L, arg));
    lua_getiuservalue(L, arg, 1);
    if (!lua_rawequal(L, -1, netidx))
        lerror(L, "bad argument #%d to '%s' (population '%s' belongs to another network)",
                   arg - 1, fname, nk_pop_name(check_net(L, -1)->net, p->pop));
    lua_pop(L, 1);
    nk_range r = {p->pop, p->lo, p->hi};
    return r;
}

static const char *const pop_opts[] = {"name", "params", "init", "method", "rtol", "atol", NULL};

/* The defaults of nk_pop_set_tolerance (nk.h), for a call that gives only
 * one of rtol and atol. */
#define RK45_RTOL_DEFAULT 1e-6
#define RK45_ATOL_DEFAULT 1e-6

static int net_population(lua_State *L)
{
    lnet *n = check_net(L, 1);
    const char *model = to_model_name(L, 2);
    if (!model)
        return lerror(L, "bad argument #1 to 'population' (model name expected, got %s)",
                      luaL_typename(L, 2));
    int64_t size = check_int(L, 3, "population size");
    int t = opt_table(L, 4, "net:population", pop_opts) ? 4 : 0;
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
    for (int pass = 0; pass < 2; pass++) {
        int tbl = pass ? init : params;
        if (!tbl)
            continue;
        lua_pushnil(L);
        while (lua_next(L, tbl)) {
            if (lua_type(L, -2) != LUA_TSTRING)
                return lerror(L, "net:population: %s names must be strings",
                              pass ? "init" : "parameter");
            const char *k = lua_tostring(L, -2);
            int ok = lua_type(L, -1) == LUA_TNUMBER;
            if (pass && !ok && lua_istable(L, -1)) {
                lua_getfield(L, -1, "kind");
                ok = lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "uniform");
                lua_pop(L, 1);
            }
            if (!ok)
                return pass ? lerror(L,
                                     "net:population: init value of '%s' must be a number or "
                                     "nk.uniform(lo, hi), got %s",
                                     k, luaL_typename(L, -1))
                            : lerror(L, "net:population: parameter '%s' must be a number, got %s",
                                     k, luaL_typename(L, -1));
            lua_pop(L, 1);
        }
    }
    int pop = nk_pop_add(n->net, model, size, name, method);
    if (pop < 0)
        return fail(L, n->net, "net:population");
    /* Values the engine refuses (unknown names, non-finite numbers) undo the
     * population, so that the call can simply be repeated, corrected. */
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
            const char *k = lua_tostring(L, -2);
            if (lua_type(L, -1) == LUA_TNUMBER) {
                rc = nk_pop_set_state(n->net, all, k, lua_tonumber(L, -1));
            } else {
                lua_getfield(L, -1, "lo");
                lua_getfield(L, -2, "hi");
                rc = nk_pop_set_state_uniform(n->net, all, k, lua_tonumber(L, -2),
                                              lua_tonumber(L, -1));
                lua_pop(L, 2);
            }
            lua_pop(L, 1);
        }
        if (rc)
            lua_pop(L, 1);
    }
    if (!rc && has_tol)
        rc = nk_pop_set_tolerance(n->net, pop, rtol, atol);
    if (rc) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", nk_errmsg(nk_net_ctx(n->net)));
        nk_pop_discard(n->net, pop);
        return lerror(L, "net:population: %s", msg);
    }
    push_pop(L, 1, pop, 0, size);
    return 1;
}

static lpop *check_pop(lua_State *L, int idx, nk_net **net)
{
    lpop *p = luaL_checkudata(L, idx, POP_MT);
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

static int pop_tostring(lua_State *L)
{
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

/* pop:get(var, i): state variable var of neuron i (1-based, within the
 * slice); pop:param(name): a parameter's value. */
static int pop_get(lua_State *L)
{
    nk_net *net;
    lpop *p = check_pop(L, 1, &net);
    const char *var = luaL_checkstring(L, 2);
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
    const char *name = luaL_checkstring(L, 2);
    double v;
    if (nk_pop_get_param(net, p->pop, name, &v))
        return fail(L, net, "pop:param");
    lua_pushnumber(L, v);
    return 1;
}

static int pop_index(lua_State *L)
{
    nk_net *net;
    lpop *p = check_pop(L, 1, &net);
    const char *k = luaL_checkstring(L, 2);
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

static const char *const connect_opts[] = {"rule",     "p",               "indegree",
                                           "weight",   "delay",           "synapse",
                                           "receptor", "params",          "allow_autapses",
                                           "allow_multapses", NULL};

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

static int net_connect(lua_State *L)
{
    lnet *n = check_net(L, 1);
    nk_range pre = check_target(L, 1, 2, "connect");
    nk_range post = check_target(L, 1, 3, "connect");
    int t = opt_table(L, 4, "net:connect", connect_opts) ? 4 : 0;
    nk_conn_opts o;
    nk_conn_opts_init(&o);
    const char *rule = opt_string(L, t, "rule", "net:connect", "all_to_all");
    static const char *const rules[] = {"all_to_all", "one_to_one", "bernoulli", "fixed_indegree",
                                        NULL};
    int r = 0;
    while (rules[r] && strcmp(rules[r], rule))
        r++;
    if (!rules[r]) {
        const char *s = nk_suggest(rule, rules, 4);
        return lerror(L, "net:connect: unknown rule '%s' (%s%s%s)", rule,
                          s ? "did you mean '" : "expected all_to_all, one_to_one, bernoulli or fixed_indegree",
                          s ? s : "", s ? "'?" : "");
    }
    o.rule = (nk_rule)r;
    if (t) {
        lua_getfield(L, t, "p");
        int has_p = !lua_isnil(L, -1);
        lua_getfield(L, t, "indegree");
        int has_k = !lua_isnil(L, -1);
        lua_pop(L, 2);
        if (o.rule == NK_RULE_BERNOULLI && !has_p)
            return lerror(L, "net:connect: rule 'bernoulli' needs option 'p' (a probability)");
        if (o.rule == NK_RULE_FIXED_INDEGREE && !has_k)
            return lerror(L, "net:connect: rule 'fixed_indegree' needs option 'indegree'");
        if (has_p && o.rule != NK_RULE_BERNOULLI)
            return lerror(L, "net:connect: option 'p' belongs to rule 'bernoulli', not '%s'", rule);
        if (has_k && o.rule != NK_RULE_FIXED_INDEGREE)
            return lerror(L, "net:connect: option 'indegree' belongs to rule 'fixed_indegree', not '%s'",
                              rule);
    } else if (o.rule == NK_RULE_BERNOULLI || o.rule == NK_RULE_FIXED_INDEGREE) {
        return lerror(L, "net:connect: rule '%s' needs option '%s'", rule,
                          o.rule == NK_RULE_BERNOULLI ? "p" : "indegree");
    }
    o.p = opt_number(L, t, "p", "net:connect", 0);
    if (t) {
        lua_getfield(L, t, "indegree");
        if (!lua_isnil(L, -1))
            o.indegree = check_int(L, -1, "option 'indegree' for net:connect");
        lua_pop(L, 1);
    }
    o.weight = opt_number(L, t, "weight", "net:connect", 0);
    o.delay = opt_number(L, t, "delay", "net:connect", -1);
    if (t) {
        lua_getfield(L, t, "delay");
        int has = !lua_isnil(L, -1);
        lua_pop(L, 1);
        if (has && !(o.delay >= 0))
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
    int pj = nk_connect(n->net, pre, post, &o);
    if (pj < 0)
        return fail(L, n->net, "net:connect");
    push_child(L, pj, PROJ_MT);
    return 1;
}

static nk_net *child_net(lua_State *L, int idx, const char *mt, int *child)
{
    lchild *c = luaL_checkudata(L, idx, mt);
    lua_getiuservalue(L, idx, 1);
    nk_net *net = check_net(L, -1)->net;
    lua_pop(L, 1);
    *child = c->idx;
    return net;
}

static int proj_tostring(lua_State *L)
{
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

/* ---- sources ------------------------------------------------------------------------------ */

static const char *const poisson_opts[] = {"rate",     "weight", "synapse", "receptor",
                                           "params",   "start",  "stop",    NULL};
static const char *const dc_opts[] = {"amplitude", "start", "stop", NULL};

static int net_source(lua_State *L)
{
    lnet *n = check_net(L, 1);
    const char *kind = luaL_checkstring(L, 2);
    nk_range target = check_target(L, 1, 3, "source");
    int is_dc = !strcmp(kind, "dc");
    int is_poisson = !strcmp(kind, "poisson");
    nk_source_opts o;
    nk_source_opts_init(&o);
    const char *names[64];
    double vals[64];
    if (is_dc || is_poisson) {
        char fname[64];
        snprintf(fname, sizeof fname, "net:source('%s')", kind);
        int t = opt_table(L, 4, fname, is_dc ? dc_opts : poisson_opts) ? 4 : 0;
        o.start = opt_number(L, t, "start", fname, 0);
        o.stop = opt_number(L, t, "stop", fname, INFINITY);
        if (is_dc) {
            o.amplitude = opt_number(L, t, "amplitude", fname, NAN);
            if (isnan(o.amplitude))
                return lerror(L, "%s needs option 'amplitude' (pA)", fname);
        } else {
            o.rate = opt_number(L, t, "rate", fname, NAN);
            o.weight = opt_number(L, t, "weight", fname, NAN);
            if (isnan(o.rate) || isnan(o.weight))
                return lerror(L, "%s needs options 'rate' (Hz) and 'weight'", fname);
            o.synapse = opt_model(L, t, "synapse", fname, NULL);
            o.receptor = opt_string(L, t, "receptor", fname, NULL);
            o.syn_param_names = names;
            o.syn_param_values = vals;
            o.n_syn_params = syn_params(L, t, fname, names, vals);
        }
    }
    int k = nk_source_add(n->net, kind, target, &o);
    if (k < 0)
        return fail(L, n->net, "net:source");
    lua_pushinteger(L, k + 1);
    return 1;
}

/* ---- monitors ------------------------------------------------------------------------------- */

static const char *const monitor_opts[] = {NULL};

static int net_monitor(lua_State *L)
{
    lnet *n = check_net(L, 1);
    const char *kind = luaL_checkstring(L, 2);
    nk_range target = check_target(L, 1, 3, "monitor");
    opt_table(L, 4, "net:monitor", monitor_opts);
    int k = nk_monitor_add(n->net, kind, target);
    if (k < 0)
        return fail(L, n->net, "net:monitor");
    push_child(L, k, MON_MT);
    return 1;
}

static int mon_count(lua_State *L)
{
    int k;
    nk_net *net = child_net(L, 1, MON_MT, &k);
    lua_pushinteger(L, nk_monitor_count(net, k));
    return 1;
}

static int mon_rate(lua_State *L)
{
    int k;
    nk_net *net = child_net(L, 1, MON_MT, &k);
    lua_pushnumber(L, nk_monitor_rate(net, k));
    return 1;
}

/* Pushes the recorded times (which = 0) or 1-based ids (which = 1). */
static int mon_series(lua_State *L, int which)
{
    int k;
    nk_net *net = child_net(L, 1, MON_MT, &k);
    int64_t n = nk_monitor_count(net, k);
    double *t = which == 0 ? malloc((size_t)(n ? n : 1) * sizeof *t) : NULL;
    int64_t *ids = which == 1 ? malloc((size_t)(n ? n : 1) * sizeof *ids) : NULL;
    if ((which == 0 && !t) || (which == 1 && !ids)) {
        free(t);
        free(ids);
        return lerror(L, "out of memory reading %lld spikes", (long long)n);
    }
    nk_monitor_spikes(net, k, t, ids, n);
    nk_range r = nk_monitor_target(net, k);
    lua_createtable(L, (int)(n < 1 << 30 ? n : 0), 0);
    for (int64_t j = 0; j < n; j++) {
        if (which == 0)
            lua_pushnumber(L, t[j]);
        else
            lua_pushinteger(L, ids[j] - r.lo + 1);
        lua_rawseti(L, -2, (lua_Integer)j + 1);
    }
    free(t);
    free(ids);
    return 1;
}

static int mon_times(lua_State *L) { return mon_series(L, 0); }
static int mon_ids(lua_State *L) { return mon_series(L, 1); }

static int mon_tostring(lua_State *L)
{
    int k;
    nk_net *net = child_net(L, 1, MON_MT, &k);
    nk_range r = nk_monitor_target(net, k);
    lua_pushfstring(L, "spike monitor on '%s'[%I..%I]: %I spikes in %f ms (%f Hz)",
                    nk_pop_name(net, r.pop), (lua_Integer)r.lo + 1, (lua_Integer)r.hi,
                    (lua_Integer)nk_monitor_count(net, k), nk_monitor_duration(net, k),
                    nk_monitor_rate(net, k));
    return 1;
}

/* ---- running ---------------------------------------------------------------------------------- */

static void progress(void *ud, double done, double total)
{
    (void)ud;
    int width = 30, fill = total > 0 ? (int)(width * done / total) : width;
    fprintf(stderr, "\r[%.*s%*s] %5.1f%%  %g / %g ms", fill, "==============================",
            width - fill, "", total > 0 ? 100.0 * done / total : 100.0, done, total);
    if (done >= total)
        fprintf(stderr, "\r%*s\r", 70, "");
    fflush(stderr);
}

static const char *const run_opts[] = {"progress", NULL};

static int net_run(lua_State *L)
{
    lnet *n = check_net(L, 1);
    if (lua_type(L, 2) != LUA_TNUMBER)
        return lerror(L, "bad argument #1 to 'run' (duration in ms expected, got %s)",
                          luaL_typename(L, 2));
    double ms = lua_tonumber(L, 2);
    int t = opt_table(L, 3, "net:run", run_opts) ? 3 : 0;
    int show = opt_bool(L, t, "progress", "net:run", isatty(2));
    nk_run_opts o = {0};
    o.progress = show ? progress : NULL;
    o.interrupt = &nk_lua_interrupted;
    int rc = nk_run(n->net, ms, &o);
    if (rc && show)
        fputc('\n', stderr); /* end the progress line before the message */
    if (rc == NK_EINTR)
        nk_lua_interrupted = 0;
    if (rc)
        return fail(L, n->net, "net:run");
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
    nk_range r = check_target(L, 1, 2, "code");
    const char *code = nk_pop_code(n->net, r.pop);
    if (!code)
        return fail(L, n->net, "net:code");
    lua_pushstring(L, code);
    return 1;
}

static int net_close(lua_State *L)
{
    lnet *n = luaL_checkudata(L, 1, NET_MT);
    nk_net_free(n->net);
    n->net = NULL;
    return 0;
}

static int net_tostring(lua_State *L)
{
    lnet *n = luaL_checkudata(L, 1, NET_MT);
    if (!n->net) {
        lua_pushliteral(L, "network (closed)");
        return 1;
    }
    nk_net *net = n->net;
    int64_t neurons = 0, syn = 0;
    for (int k = 0; k < nk_pop_count(net); k++)
        neurons += nk_pop_size(net, k);
    for (int k = 0; k < nk_proj_count(net); k++)
        syn += nk_proj_nsyn(net, k);
    lua_pushfstring(L,
                    "network: %d population%s (%I neurons), %d projection%s (%I synapses); "
                    "dt %f ms, seed %I, backend %s, t = %f ms, output %s",
                    nk_pop_count(net), nk_pop_count(net) == 1 ? "" : "s", (lua_Integer)neurons,
                    nk_proj_count(net), nk_proj_count(net) == 1 ? "" : "s", (lua_Integer)syn,
                    nk_net_dt(net), (lua_Integer)nk_net_seed(net), nk_net_backend_name(net),
                    nk_net_time(net), nk_net_output(net) ? nk_net_output(net) : "none");
    return 1;
}

static int net_index(lua_State *L)
{
    lnet *n = luaL_checkudata(L, 1, NET_MT);
    const char *k = luaL_checkstring(L, 2);
    if (n->net) {
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

/* ---- module functions ------------------------------------------------------------------------ */

/* nk.clock(): seconds on a monotonic wall clock (for timing in scripts). */
static int l_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec);
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
            const char *u = lua_tostring(L, -1);
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
        if (!is_name(lua_tostring(L, -1)) || lua_rawlen(L, -1) >= 64)
            lerror(L, "nk.model: '%s' in '%s' is not a valid name (letters, digits and _, not "
                      "starting with a digit)",
                   lua_tostring(L, -1), field);
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
        return lua_tostring(L, -1);
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
        return lua_tostring(L, -1);
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
    return lua_tostring(L, -1);
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
        return lua_tostring(L, -1);
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
    return lua_tostring(L, -1);
}

static const char *const model_opts[] = {
    "name",    "kind",       "doc",    "params",  "states", "equations", "threshold",
    "reset",   "refractory", "on_pre", "current", "graded", "receptors", "aliases",
    "method",  "max_dt",     "replace", NULL};

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
    check_keys(L, 1, "nk.model", model_opts);
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
        if (lua_type(L, -1) != LUA_TNUMBER || !(d > 0) || isinf(d))
            return lerror(L, "nk.model: option 'max_dt' must be a positive number of ms, got %s",
                          lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1)
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
    } else if (!strcmp(key, "seed") || !strcmp(key, "threads")) {
        long long v = strtoll(value, &end, 10);
        if (!*value || *end || v < (strcmp(key, "seed") ? 1 : 0))
            lerror(L, "invalid value '%s' for --%s (expected a %s integer)", value, key,
                       strcmp(key, "seed") ? "positive" : "non-negative");
        lua_pushinteger(L, (lua_Integer)v);
    } else {
        lerror(L, "unknown default '%s'", key);
    }
    lua_setfield(L, -2, key);
    lua_pop(L, 1);
}

static void new_mt(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods)
{
    luaL_newmetatable(L, name);
    luaL_setfuncs(L, meta, 0);
    if (methods) {
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "methods");
    }
    lua_pop(L, 1);
}

int luaopen_nk(lua_State *L)
{
    static const luaL_Reg ctx_meta[] = {{"__gc", ctx_gc}, {NULL, NULL}};
    static const luaL_Reg net_meta[] = {{"__gc", net_gc},
                                        {"__close", net_gc},
                                        {"__tostring", net_tostring},
                                        {"__index", net_index},
                                        {NULL, NULL}};
    static const luaL_Reg net_methods[] = {{"population", net_population},
                                           {"connect", net_connect},
                                           {"source", net_source},
                                           {"monitor", net_monitor},
                                           {"run", net_run},
                                           {"timing", net_timing},
                                           {"code", net_code},
                                           {"close", net_close},
                                           {NULL, NULL}};
    static const luaL_Reg pop_meta[] = {{"__tostring", pop_tostring},
                                        {"__len", pop_len},
                                        {"__index", pop_index},
                                        {NULL, NULL}};
    static const luaL_Reg pop_methods[] = {
        {"slice", pop_slice}, {"get", pop_get}, {"param", pop_param}, {NULL, NULL}};
    static const luaL_Reg proj_meta[] = {
        {"__tostring", proj_tostring}, {"__len", proj_len}, {NULL, NULL}};
    static const luaL_Reg mon_meta[] = {{"__tostring", mon_tostring}, {NULL, NULL}};
    static const luaL_Reg mon_methods[] = {{"count", mon_count},
                                           {"times", mon_times},
                                           {"ids", mon_ids},
                                           {"rate", mon_rate},
                                           {NULL, NULL}};
    static const luaL_Reg model_meta[] = {{"__tostring", model_tostring},
                                          {"__index", model_index},
                                          {"__eq", model_eq},
                                          {NULL, NULL}};
    static const luaL_Reg funcs[] = {{"network", l_network}, {"model", l_model},
                                     {"models", l_models},   {"clock", l_clock},
                                     {"describe", l_describe}, {NULL, NULL}};

    new_mt(L, CTX_MT, ctx_meta, NULL);
    new_mt(L, NET_MT, net_meta, net_methods);
    new_mt(L, POP_MT, pop_meta, pop_methods);
    new_mt(L, PROJ_MT, proj_meta, NULL);
    new_mt(L, MON_MT, mon_meta, mon_methods);
    new_mt(L, MODEL_MT, model_meta, NULL);
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
    /* The pure-Lua part. */
    if (luaL_loadbuffer(L, nk_src_prelude_lua, strlen(nk_src_prelude_lua), "=nk.prelude"))
        return lua_error(L);
    /* Its arguments: the module, and the method tables (for help()). */
    lua_pushvalue(L, -2);
    lua_createtable(L, 0, 3);
    static const char *const mts[][2] = {
        {"network", NET_MT}, {"population", POP_MT}, {"monitor", MON_MT}};
    for (int k = 0; k < 3; k++) {
        luaL_getmetatable(L, mts[k][1]);
        lua_getfield(L, -1, "methods");
        lua_setfield(L, -3, mts[k][0]);
        lua_pop(L, 1);
    }
    lua_call(L, 2, 0);
    return 1;
}
