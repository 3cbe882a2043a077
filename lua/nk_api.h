/* nk_api.h - the reference of the Lua API as data.
 *
 * One table describes every function, method and option of the nk module:
 * its usage line, what it does, and each option with its meaning. The
 * binding validates option tables against these same arrays (an option not
 * listed here is refused), help() prints from them, the REPL completes
 * option names from them, and docs/reference.md is generated from them
 * (scripts/gen_reference.lua), so the four cannot disagree. */
#ifndef NK_API_H
#define NK_API_H

#include <lua.h>

typedef struct nk_api_opt {
    const char *name;
    const char *doc; /* meaning, unit and default */
} nk_api_opt;

typedef struct nk_api_fn {
    const char *name;       /* "nk.network", "net:connect", "pop.size", ... */
    const char *kind;       /* for net:source and net:monitor: the kind; else NULL */
    const char *usage;      /* "net:connect(pre, post[, options]) -> proj" */
    const char *doc;        /* what it does (may span lines) */
    const char *topic;      /* the help() topic it belongs to */
    const nk_api_opt *opts; /* its option table's entries (ends with a NULL name), or NULL */
} nk_api_fn;

/* Every entry, in reference order; ends with a NULL name. */
extern const nk_api_fn nk_api[];

/* The entry called name (and kind, for sources and monitors), or NULL. */
const nk_api_fn *nk_api_find(const char *name, const char *kind);

/* The options of name (and kind): never NULL for the names the binding
 * validates (a missing entry is a programming error and aborts). */
const nk_api_opt *nk_api_opts(const char *name, const char *kind);

/* luaL_error with C's printf formats (lua_pushfstring knows neither %g nor
 * %lld), the message prefixed by luaL_where(L, 1). Never returns. */
int nk_api_error(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Raises "unknown option 'k' for fname (did you mean 'x'?)" or "(expected
 * one of: ...)" when the table at idx has a key opts does not list. */
void nk_api_check(lua_State *L, int idx, const char *fname, const nk_api_opt *opts);

/* Pushes nk._api: a list of {name =, kind =, usage =, doc =, topic =,
 * options = {{name =, doc =}, ...}} in reference order. */
void nk_api_push(lua_State *L);

#endif
