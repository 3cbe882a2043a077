/* nk_lua.h - the Lua binding of libnk: the `nk` module.
 *
 * The shell opens it into its Lua state; nothing else in the project touches
 * Lua. Errors in nk functions are raised as Lua errors whose message names
 * the argument, the value and what was expected. */
#ifndef NK_LUA_H
#define NK_LUA_H

#include <lua.h>
#include <signal.h>

/* Pushes the nk table (also stored in package.loaded.nk by the caller). */
int luaopen_nk(lua_State *L);

typedef struct nk_net nk_net;

/* The network and index (*mon) of the monitor object at stack index idx;
 * NULL when the value is not a monitor. Raises "...: this monitor's network
 * has been closed" when it is one of a closed network. */
nk_net *nk_lua_tomonitor(lua_State *L, int idx, int *mon);

/* Frees the networks and edge lists that net:close() or edges:free() only
 * marked closed, having been called while a function of the nk module was
 * running (from a metamethod, a finalizer or a callback), once none is. A
 * lua_CFunction, to be called protected after each chunk the shell runs. */
int nk_lua_sweep(lua_State *L);

/* nkshell's version, e.g. "0.1.0". */
const char *nk_lua_version(void);

/* Set to 1 by the shell's SIGINT handler. A running net:run() finishes its
 * current step, keeps what was recorded, resets the flag to 0 and raises the
 * Lua error "interrupted at t = ... ms ...". */
extern volatile sig_atomic_t nk_lua_interrupted;

/* Called (when set) once a net:run has stopped for that interrupt: the
 * shell then forgets it (its hook would raise "interrupted!" a second time,
 * past a pcall that caught the run's error). */
extern void (*nk_lua_interrupt_consumed)(void);

/* What a call that stopped for the interrupt does before it raises: the flag
 * back to 0, and nk_lua_interrupt_consumed called when set. */
void nk_lua_consume_interrupt(void);

/* Sets a default taken from the command line: "backend" (cpu, cuda or auto),
 * "seed" (a non-negative integer) or "threads" (a positive integer). Raises a
 * Lua error naming the value and what was expected when it is invalid, so
 * call it protected. */
void nk_lua_set_default(lua_State *L, const char *key, const char *value);

/* The checkpoint of --resume when no network has run from it yet (it is
 * taken by the first network's first run), else NULL. */
const char *nk_lua_resume_unused(lua_State *L);

#endif
