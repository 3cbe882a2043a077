/*
 * shell/main.c - the nkshell executable.
 *
 * Command-line front end for nkshell: parses options, creates a Lua 5.4
 * state with the `nk` module loaded, runs -e code and script files, and
 * provides an interactive read-eval-print loop (GNU Readline when stdin is
 * a terminal, plain line reading otherwise) with tab completion (written in
 * Lua: shell/complete.lua, embedded), dot-commands (.help, .load, ...) and a
 * history file.  The conventions follow the reference interpreter lua.c
 * (expression printing, "<eof>" continuation lines, Ctrl-C handling through
 * a debug hook, LUA_INIT, -E) and the SQLite shell (one state struct holding
 * the shell's settings, dot-commands, a start-up file for interactive
 * sessions).  docs/repl.md describes the REPL for users.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "nk_lua.h"

#define PROGNAME "nkshell"
#define PROMPT1 "> "
#define PROMPT2 ">> "
#define HISTORY_FILE ".nkshell_history"
#define HISTORY_MAX 1000
#define RC_FILE ".nkshellrc"
#define EOFMARK "<eof>"
#define COMPLETE_MODULE "nkshell.complete"
#define MAX_COMPLETIONS 2000

/* The start-up code variables, as lua.c names them. */
#define LUA_INIT_VAR "LUA_INIT"
#define LUA_INIT_VAR_VERSION LUA_INIT_VAR "_" LUA_VERSION_MAJOR "_" LUA_VERSION_MINOR

/* shell/complete.lua, embedded at build time by nk-embed. */
extern const char nk_src_complete_lua[];

/* Exit statuses. */
enum { EXIT_OK = 0, EXIT_LUA_ERROR = 1, EXIT_USAGE = 2 };

/* parse_args() result meaning "options are fine, go on and run". */
#define PARSE_CONTINUE (-1)

/* An option that takes a value and is handed to nk_lua_set_default(). */
typedef struct ValueOption {
    const char *name;                  /* "--backend" */
    const char *key;                   /* key for nk_lua_set_default */
    const char *metavar;               /* shown in --help */
    const char *expected;              /* shown when the value is invalid */
    bool (*valid)(const char *value);  /* syntactic check done by the shell */
    const char *help;                  /* one-line description */
} ValueOption;

static bool valid_backend(const char *value);
static bool valid_count(const char *value);
static bool valid_path(const char *value);

static const ValueOption value_options[] = {
    {"--backend", "backend", "NAME", "cpu, cuda or auto", valid_backend,
     "default simulation backend: cpu, cuda or auto"},
    {"--threads", "threads", "N", "a non-negative integer", valid_count,
     "CPU threads per network (default 0: one per CPU)"},
    {"--seed", "seed", "N", "a non-negative integer", valid_count,
     "default random seed"},
    {"--resume", "resume", "CHECKPOINT", "a file name", valid_path,
     "continue a batch run from a checkpoint (run the same script)"},
};
#define N_VALUE_OPTIONS (sizeof value_options / sizeof value_options[0])

/* Everything the shell knows about this run (cf. SQLite's ShellState). */
typedef struct ShellState {
    int argc;
    char **argv;
    const char **exprs;        /* -e CODE arguments, in command-line order */
    int n_exprs;
    int script;                /* argv index of FILE, or 0 when there is none */
    bool interactive;          /* -i given */
    bool profile;              /* --profile given */
    bool no_env;               /* -E: no LUA_INIT, no ~/.nkshellrc */
    const char *sandbox;       /* --sandbox MODEL, or NULL */
    const char *defaults[N_VALUE_OPTIONS]; /* values of value_options, or NULL */
    bool stdin_tty;            /* standard input is a terminal */
    bool use_readline;         /* the REPL reads through GNU Readline */
    lua_State *L;
    int exit_status;
    char *history_path;        /* ~/.nkshell_history, or NULL: no history */
    int history_added;         /* entries added during this session */
    bool timer;                /* .timer on: print each entry's wall time */
    bool quit;                 /* .quit was entered */
    int complete_ref;          /* registry ref of the completion module, or LUA_NOREF */
    const char *pending;       /* lines of an unfinished entry (for completion), or NULL */
} ShellState;

/*
 * Global state needed by asynchronous callbacks (and nothing else):
 * - g_running_L: the state whose code is running, for the SIGINT handler;
 * - g_prompt_sigint: set by the SIGINT handler active while reading input;
 * - rl_slot: where readline's line callback (which has no user-data
 *   argument) leaves the line it received;
 * - g_shell: the shell, for readline's completion hooks (no user data
 *   either).
 */
static lua_State *g_running_L = NULL;
static ShellState *g_shell = NULL;
static volatile sig_atomic_t g_prompt_sigint = 0;
static struct {
    char *line;
    bool done;
} rl_slot;

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

/* Prints "nkshell: MESSAGE" and the --help hint to stderr; returns 2. */
static int usage_error(const char *fmt, ...) PRINTF_LIKE(1, 2);
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs(PROGNAME ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry '" PROGNAME " --help' for more information.\n", stderr);
    fflush(stderr);
    return EXIT_USAGE;
}

/* Prints the usage text to stdout. */
static void print_help(void)
{
    size_t i;
    printf("Usage: " PROGNAME " [OPTIONS] [FILE [ARGS...]]\n"
           "Lua %s shell for building and running neural simulations.\n"
           "\n"
           "Runs the Lua script FILE with ARGS in the global table 'arg' (arg[0] is\n"
           "FILE) and as the chunk's '...'.  FILE '-' reads the script from standard\n"
           "input.  Without FILE and -e, starts the interactive prompt when standard\n"
           "input is a terminal and runs standard input as a script otherwise.\n"
           "\n"
           "Options:\n"
           "  -e CODE             run the Lua code CODE (may be repeated; runs before FILE)\n"
           "  -i                  enter the interactive prompt after FILE and -e code\n"
           "  -E                  ignore LUA_INIT, LUA_PATH, LUA_CPATH and ~/" RC_FILE "\n"
           "  --sandbox MODEL     try a neuron model: nk.sandbox(MODEL) prints a trace\n"
           "                      and the spikes of one neuron, then exits (with -i:\n"
           "                      stays at the prompt); runs after -e code\n"
           "  --profile           time every run's phases and print them on stderr\n",
           LUA_VERSION_MAJOR "." LUA_VERSION_MINOR);
    for (i = 0; i < N_VALUE_OPTIONS; i++) {
        char spec[32];
        snprintf(spec, sizeof spec, "%s %s", value_options[i].name,
                 value_options[i].metavar);
        printf("  %-19s %s\n", spec, value_options[i].help);
    }
    printf("  -v, --version       print the version and exit\n"
           "  -h, --help          print this help and exit\n"
           "  --                  stop handling options (the next argument is FILE)\n"
           "\n"
           "The value options also accept the form --option=VALUE.\n"
           "\n"
           "Before anything else, the Lua code in LUA_INIT_5_4 (or else LUA_INIT) runs;\n"
           "'@FILE' there runs FILE.  The interactive prompt first runs ~/" RC_FILE ".\n"
           "At the prompt, .help lists the dot-commands; Tab completes.\n"
           "\n"
           "Exit status: 0 on success, 1 if the Lua code raised an error or FILE could\n"
           "not be loaded, 2 on a usage error.\n");
}

/* Prints "nkshell VERSION". */
static void print_version(void)
{
    printf(PROGNAME " %s\n", nk_lua_version());
}

/* Prints the interactive banner. */
static void print_banner(void)
{
    printf(PROGNAME " %s (%s) \xe2\x80\x94 type help() for help, Ctrl-D to quit\n",
           nk_lua_version(), LUA_VERSION);
    fflush(stdout);
}

/* Prints the error message on top of the stack (if status is an error)
 * to stderr, without prefix, and pops it.  Returns status. */
static int report(lua_State *L, int status)
{
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        if (msg == NULL)
            msg = "(error object is not a string)";
        fflush(stdout);
        fprintf(stderr, "%s\n", msg);
        fflush(stderr);
        lua_pop(L, 1);
    }
    return status;
}

/* ------------------------------------------------------------------ */
/* Option parsing                                                      */
/* ------------------------------------------------------------------ */

/* True when value names a backend. */
static bool valid_backend(const char *value)
{
    return strcmp(value, "cpu") == 0 || strcmp(value, "cuda") == 0 ||
           strcmp(value, "auto") == 0;
}

static bool valid_path(const char *value)
{
    return value[0] != 0;
}

/* True when value is a plain decimal number (range checks are nk's job). */
static bool valid_count(const char *value)
{
    size_t len = strlen(value);
    if (len == 0 || len > 20)
        return false;
    return strspn(value, "0123456789") == len;
}

/* Handles argv[*i] if it is one of value_options ("--opt VAL" or
 * "--opt=VAL").  Returns 1 if handled, 0 if not such an option, or
 * EXIT_USAGE + 1 after reporting a usage error. */
static int parse_value_option(ShellState *s, int *i)
{
    const char *arg = s->argv[*i];
    size_t k;
    for (k = 0; k < N_VALUE_OPTIONS; k++) {
        const ValueOption *opt = &value_options[k];
        size_t len = strlen(opt->name);
        const char *value;
        if (strncmp(arg, opt->name, len) != 0)
            continue;
        if (arg[len] == '=') {
            value = arg + len + 1;
        } else if (arg[len] == '\0') {
            if (*i + 1 >= s->argc) {
                usage_error("option '%s' needs an argument", opt->name);
                return EXIT_USAGE + 1;
            }
            value = s->argv[++*i];
        } else {
            continue;
        }
        if (!opt->valid(value)) {
            /* "--threads -e CODE": the value was left out, and the next
             * option taken for it */
            int looks_opt = arg[len] == '\0' && value[0] == '-' && value[1] &&
                            !(value[1] >= '0' && value[1] <= '9');
            if (looks_opt)
                usage_error("option '%s' needs an argument (%s), and '%s' is an option",
                            opt->name, opt->expected, value);
            else
                usage_error("invalid value '%s' for %s (expected %s)", value, opt->name,
                            opt->expected);
            return EXIT_USAGE + 1;
        }
        s->defaults[k] = value;
        return 1;
    }
    return 0;
}

/* Parses the command line into s.  Returns PARSE_CONTINUE, or the exit
 * status when the run ends here (--help, --version, usage error). */
static int parse_args(ShellState *s)
{
    int i;
    for (i = 1; i < s->argc; i++) {
        const char *arg = s->argv[i];
        int r;
        if (arg[0] != '-' || strcmp(arg, "-") == 0)
            break; /* FILE */
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            print_help();
            return EXIT_OK;
        }
        if (strcmp(arg, "-v") == 0 || strcmp(arg, "--version") == 0) {
            print_version();
            return EXIT_OK;
        }
        if (strcmp(arg, "-i") == 0) {
            s->interactive = true;
            continue;
        }
        if (strcmp(arg, "--profile") == 0) {
            s->profile = true;
            continue;
        }
        if (strcmp(arg, "-E") == 0) {
            s->no_env = true;
            continue;
        }
        if (strcmp(arg, "--sandbox") == 0 || strncmp(arg, "--sandbox=", 10) == 0) {
            if (arg[9] == '=') {
                s->sandbox = arg + 10;
            } else {
                if (i + 1 >= s->argc)
                    return usage_error("option '--sandbox' needs a model name");
                s->sandbox = s->argv[++i];
            }
            if (s->sandbox[0] == '\0')
                return usage_error("option '--sandbox' needs a model name");
            continue;
        }
        if (strcmp(arg, "-e") == 0) {
            if (i + 1 >= s->argc)
                return usage_error("option '-e' needs an argument");
            s->exprs[s->n_exprs++] = s->argv[++i];
            continue;
        }
        r = parse_value_option(s, &i);
        if (r == EXIT_USAGE + 1)
            return EXIT_USAGE;
        if (r == 0)
            return usage_error("unknown option '%s'", arg);
    }
    s->script = i < s->argc ? i : 0;
    return PARSE_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* Running Lua code                                                    */
/* ------------------------------------------------------------------ */

/* Message handler for lua_pcall: turns the error object into a string
 * (using __tostring when it has one) and appends a traceback. */
static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)",
                                  luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static volatile sig_atomic_t g_sigterm; /* SIGTERM came while code ran */

/* Debug hook installed by Ctrl-C: removes itself and raises
 * "interrupted!" (as lua.c's lstop).  When the hook fires for the call
 * of (or return from) our message handler, an error is already
 * unwinding the chunk, so it only removes itself. After SIGTERM it stays
 * and raises at every event: a script that catches the error (a net:run
 * in pcall) stops at its next instruction outside the pcall, and the
 * shell leaves (docall), where it used to go on with the script's later
 * runs. */
static void lstop(lua_State *L, lua_Debug *ar)
{
    bool in_handler = false;
    if ((ar->event == LUA_HOOKCALL || ar->event == LUA_HOOKRET) &&
        lua_getinfo(L, "f", ar)) {
        in_handler = lua_tocfunction(L, -1) == msghandler;
        lua_pop(L, 1);
    }
    if (!g_sigterm)
        lua_sethook(L, NULL, 0, 0);
    if (!in_handler)
        luaL_error(L, g_sigterm ? "terminated (SIGTERM)" : "interrupted!");
}

/* SIGINT handler while Lua code runs: asks the engine to stop and makes
 * the interpreter stop at the next hook event (cf. lua.c's laction). */

static void on_sigint_running(int sig)
{
    int mask = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
    if (sig == SIGTERM)
        g_sigterm = 1;
    nk_lua_interrupted = 1;
    lua_sethook(g_running_L, lstop, mask, 1);
}

/* A net:run stopped for the interrupt and raised its own error: the hook
 * is not needed any more (nk_lua_interrupt_consumed), unless another
 * Ctrl-C came since. Signals are blocked meanwhile. */
static void interrupt_consumed(void)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &old);
    if (!nk_lua_interrupted && !g_sigterm && g_running_L && lua_gethook(g_running_L) == lstop)
        lua_sethook(g_running_L, NULL, 0, 0);
    sigprocmask(SIG_SETMASK, &old, NULL);
}

/* SIGINT handler while reading input: only records the interrupt. */
static void on_sigint_prompt(int sig)
{
    (void)sig;
    g_prompt_sigint = 1;
}

/* Installs handler for SIGINT with the given sa_flags, saving the old
 * disposition in old. */
static void set_sigint(void (*handler)(int), int flags, struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, old);
}

/* Calls the function below its narg arguments on the stack in protected
 * mode with the message handler and Ctrl-C handling; returns the
 * lua_pcall status (results or error message on the stack). */
static int docall(ShellState *s, int narg, int nres)
{
    lua_State *L = s->L;
    int base = lua_gettop(L) - narg; /* function index */
    struct sigaction old, old_term, sa;
    int status;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    g_running_L = L;
    set_sigint(on_sigint_running, SA_RESTART, &old);
    /* SIGTERM (a cluster job's time limit) stops a run as Ctrl-C does, so
     * the results file is finished; the shell then leaves. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint_running;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &old_term);
    status = lua_pcall(L, narg, nres, base);
    sigaction(SIGINT, &old, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (g_sigterm) {
        if (status != LUA_OK) {
            fflush(stdout);
            fprintf(stderr, "%s\n", lua_tostring(L, -1) ? lua_tostring(L, -1) : "(error)");
        }
        fprintf(stderr, "nkshell: terminated (SIGTERM); results written so far are kept\n");
        lua_sethook(L, NULL, 0, 0); /* the finalizers must run */
        lua_close(L); /* finalizers close every results file */
        exit(128 + SIGTERM);
    }
    lua_sethook(L, NULL, 0, 0); /* a Ctrl-C that came too late */
    nk_lua_interrupted = 0;
    lua_remove(L, base);
    /* networks closed from inside a call of nk's: free them now */
    lua_pushcfunction(L, nk_lua_sweep);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK)
        lua_pop(L, 1);
    return status;
}

/* Runs a string as a chunk named chunkname; reports errors. */
static int dostring(ShellState *s, const char *code, const char *chunkname)
{
    int status = luaL_loadbuffer(s->L, code, strlen(code), chunkname);
    if (status == LUA_OK)
        status = docall(s, 0, 0);
    return report(s->L, status);
}

/* Pushes the script arguments argv[script+1..] and returns their count. */
static int push_script_args(ShellState *s)
{
    int i, n = s->script > 0 ? s->argc - s->script - 1 : 0;
    luaL_checkstack(s->L, n + 3, "too many arguments to script");
    for (i = 1; i <= n; i++)
        lua_pushstring(s->L, s->argv[s->script + i]);
    return n;
}

/* Runs fname (NULL: standard input) with the script arguments; reports
 * load and runtime errors. */
static int dofile(ShellState *s, const char *fname)
{
    int status = luaL_loadfile(s->L, fname);
    if (status == LUA_OK) {
        int n = push_script_args(s);
        status = docall(s, n, 0);
    }
    return report(s->L, status);
}

/* Runs the file fname without arguments (LUA_INIT's @FILE, ~/.nkshellrc,
 * .load); reports load and runtime errors, whose messages start with the
 * file name. */
static int dofile_plain(ShellState *s, const char *fname)
{
    int status = luaL_loadfile(s->L, fname);
    if (status == LUA_OK)
        status = docall(s, 0, 0);
    return report(s->L, status);
}

/* Runs LUA_INIT_5_4, or else LUA_INIT, as lua.c does: "@FILE" runs FILE,
 * anything else is Lua code.  Returns the status (errors reported). */
static int run_lua_init(ShellState *s)
{
    const char *name = "=" LUA_INIT_VAR_VERSION;
    const char *init = getenv(name + 1);
    if (init == NULL) {
        name = "=" LUA_INIT_VAR;
        init = getenv(name + 1);
    }
    if (init == NULL)
        return LUA_OK;
    if (init[0] == '@')
        return dofile_plain(s, init + 1);
    return dostring(s, init, name);
}

/* Runs ~/.nkshellrc if it exists (interactive sessions only, unless -E):
 * errors are reported, naming the file, and the session goes on. */
static void run_rc_file(ShellState *s)
{
    const char *home = getenv("HOME");
    size_t len;
    char *path;
    if (s->no_env || home == NULL || home[0] == '\0')
        return;
    len = strlen(home) + sizeof "/" RC_FILE;
    path = malloc(len);
    if (path == NULL)
        return;
    snprintf(path, len, "%s/" RC_FILE, home);
    if (access(path, F_OK) == 0)
        dofile_plain(s, path);
    free(path);
}

/* --sandbox MODEL: calls nk.sandbox(MODEL).  Returns the status (errors
 * reported).  A MODEL that names no model (built in, or defined by LUA_INIT
 * or -e) is reported on one line that lists the models, without the
 * traceback of a script's error. */
static int run_sandbox(ShellState *s)
{
    static const char code[] =
        "local name = ...\n"
        "if not pcall(nk.model, name) then\n"
        "  local models = nk.models()\n"
        "  local near = nk._suggest(name, models)\n"
        "  return string.format(\"unknown model '%s'%s; the models: %s\", name,\n"
        "                       near and \" (did you mean '\" .. near .. \"'?)\" or \"\",\n"
        "                       table.concat(models, \", \"))\n"
        "end\n"
        "nk.sandbox(name)\n";
    int status = luaL_loadbuffer(s->L, code, sizeof code - 1, "=(--sandbox)");
    if (status == LUA_OK) {
        lua_pushstring(s->L, s->sandbox);
        status = docall(s, 1, 1);
    }
    if (status != LUA_OK)
        return report(s->L, status);
    const char *unknown = lua_tostring(s->L, -1);
    if (unknown != NULL) {
        fflush(stdout);
        fprintf(stderr, PROGNAME ": --sandbox: %s\n", unknown);
        fflush(stderr);
        status = LUA_ERRRUN;
    }
    lua_pop(s->L, 1);
    return status;
}

/* Runs FILE from the command line; "-" (unless after "--") is stdin. */
static int run_script(ShellState *s)
{
    const char *fname = s->argv[s->script];
    if (strcmp(fname, "-") == 0 && strcmp(s->argv[s->script - 1], "--") != 0)
        fname = NULL;
    return dofile(s, fname);
}

/* Creates the global `arg` table as lua.c does: arg[0] is FILE, its
 * arguments have positive indices, everything before it negative ones
 * (so arg[-1] is the program name when there are no options).  Without
 * FILE, arg[0] is the program name. */
static void create_arg_table(ShellState *s)
{
    lua_State *L = s->L;
    int i, script = s->script;
    lua_createtable(L, s->argc - script - 1 > 0 ? s->argc - script - 1 : 0,
                    script + 1);
    for (i = 0; i < s->argc; i++) {
        lua_pushstring(L, s->argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

/* lua_CFunction wrapper: nk_lua_set_default(L, arg1, arg2). */
static int set_default_wrapper(lua_State *L)
{
    nk_lua_set_default(L, luaL_checkstring(L, 1), luaL_checkstring(L, 2));
    return 0;
}

/* Passes --backend/--threads/--seed/--profile to the nk module.  Returns false
 * (after reporting a usage error) when the module rejects a value. */
static bool apply_defaults(ShellState *s)
{
    size_t k;
    if (s->profile) {
        lua_pushcfunction(s->L, set_default_wrapper);
        lua_pushstring(s->L, "profile");
        lua_pushstring(s->L, "1");
        if (lua_pcall(s->L, 2, 0, 0) != LUA_OK) {
            lua_pop(s->L, 1);
            return false;
        }
    }
    for (k = 0; k < N_VALUE_OPTIONS; k++) {
        const char *msg;
        if (s->defaults[k] == NULL)
            continue;
        lua_pushcfunction(s->L, set_default_wrapper);
        lua_pushstring(s->L, value_options[k].key);
        lua_pushstring(s->L, s->defaults[k]);
        if (lua_pcall(s->L, 2, 0, 0) == LUA_OK)
            continue;
        msg = lua_tostring(s->L, -1);
        usage_error("%s", msg ? msg : "invalid option value");
        lua_pop(s->L, 1);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Line input                                                          */
/* ------------------------------------------------------------------ */

/* Readline callback: stores the finished line (NULL at EOF). */
static void on_readline_line(char *line)
{
    rl_slot.line = line;
    rl_slot.done = true;
    rl_callback_handler_remove();
}

/* Abandons the line being edited after Ctrl-C: shows "^C", resets
 * readline's state and moves to a new line. */
static void readline_cancel(void)
{
    rl_echo_signal_char(SIGINT);
    rl_free_line_state();
    rl_callback_sigcleanup();
    rl_cleanup_after_signal();
    rl_callback_handler_remove();
    fputc('\n', rl_outstream ? rl_outstream : stdout);
    fflush(rl_outstream ? rl_outstream : stdout);
}

/* Reads a line with readline's callback interface, waiting with pselect
 * so that Ctrl-C (SIGINT blocked outside pselect) cancels the line.
 * Returns a malloc'd line, or NULL at EOF or (with *interrupted set)
 * after Ctrl-C. */
static char *readline_line(const char *prompt, bool *interrupted)
{
    FILE *in = rl_instream ? rl_instream : stdin;
    int fd = fileno(in);
    sigset_t block, orig;

    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &orig);
    g_prompt_sigint = 0;
    rl_slot.line = NULL;
    rl_slot.done = false;
    fflush(stdout);
    rl_callback_handler_install(prompt, on_readline_line);
    while (!rl_slot.done) {
        fd_set fds;
        int r;
        if (g_prompt_sigint) {
            g_prompt_sigint = 0;
            readline_cancel();
            *interrupted = true;
            break;
        }
        FD_ZERO(&fds);
        FD_SET(fd, &fds);
        r = pselect(fd + 1, &fds, NULL, NULL, NULL, &orig);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rl_callback_handler_remove(); /* unreadable input: EOF */
            break;
        }
        if (r > 0)
            rl_callback_read_char();
    }
    sigprocmask(SIG_SETMASK, &orig, NULL);
    return rl_slot.line;
}

/* Reads a line from stdin without readline or prompt (stdin is not a
 * terminal).  Returns a malloc'd line without its newline, or NULL at
 * EOF or (with *interrupted set) after Ctrl-C. */
static char *plain_line(bool *interrupted)
{
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    fflush(stdout);
    g_prompt_sigint = 0;
    n = getline(&buf, &cap, stdin);
    if (n < 0) {
        free(buf);
        if (g_prompt_sigint && ferror(stdin)) {
            g_prompt_sigint = 0;
            clearerr(stdin);
            *interrupted = true;
        }
        return NULL;
    }
    if (n > 0 && buf[n - 1] == '\n')
        buf[n - 1] = '\0';
    return buf;
}

/* Reads one line of REPL input with the given prompt. */
static char *read_line(ShellState *s, const char *prompt, bool *interrupted)
{
    *interrupted = false;
    return s->use_readline ? readline_line(prompt, interrupted)
                           : plain_line(interrupted);
}

/* ------------------------------------------------------------------ */
/* History                                                             */
/* ------------------------------------------------------------------ */

/* Loads ~/.nkshell_history (when HOME is set).  Entries are written with
 * timestamps so that multi-line entries survive a reload. */
static void history_load(ShellState *s)
{
    const char *home = getenv("HOME");
    size_t len;
    if (home == NULL || home[0] == '\0')
        return;
    len = strlen(home) + sizeof "/" HISTORY_FILE;
    s->history_path = malloc(len);
    if (s->history_path == NULL)
        return;
    snprintf(s->history_path, len, "%s/" HISTORY_FILE, home);
    using_history();
    history_comment_char = '#';
    history_write_timestamps = 1;
    history_multiline_entries = 1;
    stifle_history(HISTORY_MAX);
    read_history(s->history_path); /* a missing file is fine */
}

/* Adds a REPL entry to the history, skipping empty entries and an
 * immediate duplicate of the last entry.  Without readline (input that
 * is not a terminal, with -i) the history is kept for .history but never
 * saved. */
static void history_add(ShellState *s, const char *entry)
{
    HIST_ENTRY *last;
    if (entry[0] == '\0')
        return;
    last = history_length > 0 ? history_get(history_base + history_length - 1)
                              : NULL;
    if (last != NULL && strcmp(last->line, entry) == 0)
        return;
    add_history(entry);
    s->history_added++;
}

/* Appends this session's entries to the history file, keeps at most
 * HISTORY_MAX lines in it and makes it private (0600). */
static void history_save(ShellState *s)
{
    const char *path = s->history_path;
    int n = s->history_added < history_length ? s->history_added : history_length;
    if (path == NULL)
        return;
    if (n > 0) {
        if (access(path, F_OK) == 0)
            append_history(n, path);
        else
            write_history(path);
        history_truncate_file(path, HISTORY_MAX);
    }
    if (access(path, F_OK) == 0)
        chmod(path, 0600);
}

/* ------------------------------------------------------------------ */
/* Dot-commands                                                        */
/* ------------------------------------------------------------------ */

/* A command of the REPL itself, recognised at the primary prompt (cf.
 * SQLite's azHelp and its dot-commands). */
typedef struct DotCommand {
    const char *name;                       /* ".load" */
    const char *args;                       /* "FILE", for .help */
    const char *help;                       /* one line, for .help */
    void (*run)(ShellState *s, char *arg);  /* arg: the rest of the line, trimmed */
} DotCommand;

static void dot_help(ShellState *s, char *arg);
static void dot_history(ShellState *s, char *arg);
static void dot_load(ShellState *s, char *arg);
static void dot_quit(ShellState *s, char *arg);
static void dot_timer(ShellState *s, char *arg);

static const DotCommand dot_commands[] = {
    {".exit", "", "same as .quit", dot_quit},
    {".help", "", "list these commands", dot_help},
    {".history", "[N]", "print the last N history entries (all without N)", dot_history},
    {".load", "FILE", "run the Lua file FILE in this session", dot_load},
    {".quit", "", "leave nkshell, as Ctrl-D does (the history is saved)", dot_quit},
    {".timer", "on|off", "print each entry's wall time on stderr", dot_timer},
};
#define N_DOT_COMMANDS (sizeof dot_commands / sizeof dot_commands[0])

/* Seconds on a monotonic clock. */
static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Prints "time: 0.123 s" on stderr when .timer is on. */
static void report_time(ShellState *s, double t0)
{
    if (!s->timer)
        return;
    fflush(stdout);
    fprintf(stderr, "time: %.3f s\n", wall_seconds() - t0);
    fflush(stderr);
}

/* Prints a dot-command's message (no newline needed) on stderr. */
static void dot_error(const char *fmt, ...) PRINTF_LIKE(1, 2);
static void dot_error(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

static void dot_help(ShellState *s, char *arg)
{
    size_t k;
    (void)s;
    if (arg[0] != '\0')
        dot_error(".help takes no argument, got '%s' (help(%s) describes a Lua name)", arg, arg);
    for (k = 0; k < N_DOT_COMMANDS; k++) {
        char spec[32];
        snprintf(spec, sizeof spec, "%s %s", dot_commands[k].name, dot_commands[k].args);
        printf("%-16s %s\n", spec, dot_commands[k].help);
    }
    printf("Dot-commands are read at the '" PROMPT1 "' prompt only; everything else is Lua\n"
           "(help() for nkshell's Lua functions).\n");
    fflush(stdout);
}

/* .history [N]: the last N entries, numbered as readline numbers them;
 * the lines after the first of a multi-line entry are indented. */
static void dot_history(ShellState *s, char *arg)
{
    HIST_ENTRY **list = history_list();
    long n = history_length, i;
    (void)s;
    if (arg[0] != '\0') {
        char *end;
        errno = 0;
        n = strtol(arg, &end, 10);
        if (*end != '\0' || n < 0 || errno != 0) {
            dot_error(".history: expected a number of entries, got '%s'", arg);
            return;
        }
    }
    if (list == NULL)
        return;
    for (i = n < history_length ? history_length - n : 0; i < history_length; i++) {
        const char *line = list[i]->line;
        printf("%5ld  ", (long)history_base + i);
        for (; *line; line++) {
            fputc(*line, stdout);
            if (*line == '\n')
                fputs("       ", stdout);
        }
        fputc('\n', stdout);
    }
    fflush(stdout);
}

/* .load FILE: runs FILE (quotes around it and a leading ~ are fine). */
static void dot_load(ShellState *s, char *arg)
{
    size_t len = strlen(arg);
    char *path;
    double t0;
    if (len >= 2 && (arg[0] == '"' || arg[0] == '\'') && arg[len - 1] == arg[0]) {
        arg[len - 1] = '\0';
        arg++;
    }
    if (arg[0] == '\0') {
        dot_error(".load: expected a file name (.load FILE)");
        return;
    }
    path = tilde_expand(arg);
    if (path == NULL)
        return;
    t0 = wall_seconds();
    dofile_plain(s, path);
    report_time(s, t0);
    free(path);
}

static void dot_quit(ShellState *s, char *arg)
{
    /* a mistyped line is not taken as "quit" */
    if (arg[0] != '\0') {
        dot_error(".quit and .exit take no argument, got '%s' (the session goes on)", arg);
        return;
    }
    s->quit = true;
}

static void dot_timer(ShellState *s, char *arg)
{
    if (strcmp(arg, "on") == 0)
        s->timer = true;
    else if (strcmp(arg, "off") == 0)
        s->timer = false;
    else
        dot_error(".timer: expected on or off%s%s%s (the timer is %s)",
                  arg[0] ? ", got '" : "", arg, arg[0] ? "'" : "", s->timer ? "on" : "off");
}

/* True when line is a dot-command: '.' and a letter, after blanks (".5"
 * stays Lua). */
static bool is_dot_command(const char *line)
{
    line += strspn(line, " \t");
    return line[0] == '.' && isalpha((unsigned char)line[1]);
}

/* Runs the dot-command line (which it modifies). */
static void run_dot_command(ShellState *s, char *line)
{
    char *name, *arg, *end;
    size_t k;
    name = line + strspn(line, " \t");
    arg = name + strcspn(name, " \t");
    if (*arg != '\0')
        *arg++ = '\0';
    arg += strspn(arg, " \t");
    end = arg + strlen(arg);
    while (end > arg && isspace((unsigned char)end[-1]))
        *--end = '\0';
    for (k = 0; k < N_DOT_COMMANDS; k++) {
        if (strcmp(name, dot_commands[k].name) == 0) {
            dot_commands[k].run(s, arg);
            return;
        }
    }
    fflush(stdout);
    fprintf(stderr, "unknown command '%s'; the commands are", name);
    for (k = 0; k < N_DOT_COMMANDS; k++)
        fprintf(stderr, " %s", dot_commands[k].name);
    fprintf(stderr, " (.help describes them)\n");
    fflush(stderr);
}

/* ------------------------------------------------------------------ */
/* Completion                                                          */
/* ------------------------------------------------------------------ */

/* Word separators for Lua: readline completes the text after the last of
 * these, or after an unclosed quote (a string: a file or model name).
 * '.' and ':' are separators too, so the candidates for "nk.ne" are field
 * names ("network") and a list of them shows just those. */
static const char lua_word_breaks[] = " \t\n\"'`\\><=;:+-*/%^~#&|,.()[]{}";

/* A completion request and its answer, for complete_collect. */
typedef struct Completion {
    int ref;             /* registry ref of the completion module */
    const char *pending; /* earlier lines of the entry, or NULL */
    const char *line;    /* the current line, */
    size_t line_len;     /* up to the word */
    const char *word;    /* the word readline replaces */
    char quote[2];       /* the quote the word is inside, or "" */
    char **items;        /* the candidates, malloc'd (as is each) */
    size_t n_items;
    size_t next_item;    /* the next one candidate_generator hands out */
    bool files;          /* complete file names instead */
} Completion;

/* The request candidate_generator serves (readline's generators have no
 * user-data argument). */
static Completion *g_completion = NULL;

/* lua_CFunction, argument a light userdata Completion: calls
 * M.complete(before, word, quote, pending) of the completion module and
 * copies its answer into the Completion.  The caller frees c->items,
 * also after an error. */
static int complete_collect(lua_State *L)
{
    Completion *c = lua_touserdata(L, 1);
    lua_Unsigned i, n;
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
    if (lua_getfield(L, -1, "complete") != LUA_TFUNCTION)
        return 0;
    if (c->pending != NULL) {
        lua_pushstring(L, c->pending);
        lua_pushliteral(L, "\n");
        lua_pushlstring(L, c->line, c->line_len);
        lua_concat(L, 3);
    } else {
        lua_pushlstring(L, c->line, c->line_len);
    }
    lua_pushstring(L, c->word);
    lua_pushstring(L, c->quote);
    lua_pushboolean(L, c->pending != NULL);
    lua_call(L, 4, 1);
    if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "file") == 0) {
        c->files = true;
        return 0;
    }
    if (lua_type(L, -1) != LUA_TTABLE)
        return 0;
    n = lua_rawlen(L, -1);
    if (n > MAX_COMPLETIONS)
        n = MAX_COMPLETIONS;
    c->items = calloc((size_t)n + 1, sizeof *c->items);
    if (c->items == NULL)
        return 0;
    for (i = 1; i <= n; i++) {
        if (lua_rawgeti(L, -1, (lua_Integer)i) == LUA_TSTRING) {
            char *item = strdup(lua_tostring(L, -1));
            if (item != NULL)
                c->items[c->n_items++] = item;
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* Readline generator: hands out g_completion's candidates in order
 * (readline takes ownership of each). */
static char *candidate_generator(const char *text, int state)
{
    Completion *c = g_completion;
    char *item;
    (void)text;
    (void)state;
    if (c == NULL || c->next_item >= c->n_items)
        return NULL;
    item = c->items[c->next_item];
    c->items[c->next_item++] = NULL;
    return item;
}

/* rl_attempted_completion_function: asks complete.lua for the candidates
 * of text (rl_line_buffer[start, end)).  A Lua error means no candidates;
 * readline's default (file names everywhere) is never used. */
static char **complete_attempt(const char *text, int start, int end)
{
    ShellState *s = g_shell;
    Completion c;
    char **matches = NULL;
    size_t k;
    int top, status;
    (void)end;
    rl_attempted_completion_over = 1;
    rl_completion_append_character = '\0'; /* as IPython: nothing after a name */
    if (s == NULL || s->complete_ref == LUA_NOREF || start < 0 ||
        !lua_checkstack(s->L, 8))
        return NULL;
    memset(&c, 0, sizeof c);
    c.ref = s->complete_ref;
    c.pending = s->pending;
    c.line = rl_line_buffer;
    c.line_len = (size_t)start;
    c.word = text;
    c.quote[0] = (char)rl_completion_quote_character;
    top = lua_gettop(s->L);
    lua_pushcfunction(s->L, complete_collect);
    lua_pushlightuserdata(s->L, &c);
    status = lua_pcall(s->L, 1, 0, 0);
    lua_settop(s->L, top);
    if (status == LUA_OK && c.files) {
        rl_filename_completion_desired = 1; /* a '/' after a directory */
        matches = rl_completion_matches(text, rl_filename_completion_function);
    } else if (status == LUA_OK && c.n_items > 0) {
        g_completion = &c;
        matches = rl_completion_matches(text, candidate_generator);
        g_completion = NULL;
    }
    for (k = 0; k < c.n_items; k++)
        free(c.items[k]);
    free(c.items);
    return matches;
}

/* Whether position end of line is inside a short string ('...' or "...")
 * opened on that line, outside comments. */
static bool in_open_string(const char *line, int end)
{
    char q = 0;
    for (int k = 0; k < end && line[k]; k++) {
        char c = line[k];
        if (q) {
            if (c == '\\' && k + 1 < end)
                k++;
            else if (c == q)
                q = 0;
        } else if (c == '"' || c == '\'') {
            q = c;
        } else if (c == '-' && line[k + 1] == '-') {
            return false; /* a comment */
        }
    }
    return q != 0;
}

/* rl_completion_word_break_hook: once a dot-command line has its command,
 * words are separated by blanks only (".load dir/model.lua"); inside a
 * string, the word is all of it after the quote (a file name such as
 * '~/runs/a.h5' is one word: '~' and '/' broke it, and '~/' completed
 * against '/'). */
static char *word_break_hook(void)
{
    static char blanks[] = " \t\n", quotes[] = "\"'";
    const char *p = rl_line_buffer;
    if (g_shell == NULL)
        return NULL;
    if (g_shell->pending == NULL && is_dot_command(p)) {
        p += strspn(p, " \t");
        return p[strcspn(p, " \t")] != '\0' ? blanks : NULL;
    }
    return in_open_string(p, rl_point) ? quotes : NULL;
}

/* lua_CFunction: loads the embedded completion module (the preload
 * function of "nkshell.complete"). */
static int open_complete(lua_State *L)
{
    if (luaL_loadbuffer(L, nk_src_complete_lua, strlen(nk_src_complete_lua),
                        "=" COMPLETE_MODULE) != LUA_OK)
        return lua_error(L);
    lua_call(L, 0, 1);
    return 1;
}

/* lua_CFunction, argument a light userdata ShellState: requires the
 * completion module, gives it the dot-commands' names and keeps a
 * reference to it. */
static int complete_setup_protected(lua_State *L)
{
    ShellState *s = lua_touserdata(L, 1);
    size_t k;
    luaL_requiref(L, COMPLETE_MODULE, open_complete, 0);
    luaL_checktype(L, -1, LUA_TTABLE);
    lua_createtable(L, (int)N_DOT_COMMANDS, 0);
    for (k = 0; k < N_DOT_COMMANDS; k++) {
        lua_pushstring(L, dot_commands[k].name);
        lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    lua_setfield(L, -2, "commands");
    s->complete_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* Sets readline up to complete Lua through complete.lua.  If the module
 * cannot be loaded (a build error), says so once and completes nothing. */
static void complete_setup(ShellState *s)
{
    rl_basic_word_break_characters = lua_word_breaks;
    rl_completer_word_break_characters = lua_word_breaks;
    rl_completer_quote_characters = "\"'";
    rl_attempted_completion_function = complete_attempt;
    rl_completion_word_break_hook = word_break_hook;
    lua_pushcfunction(s->L, complete_setup_protected);
    lua_pushlightuserdata(s->L, s);
    if (lua_pcall(s->L, 1, 0, 0) != LUA_OK) {
        const char *msg = lua_tostring(s->L, -1);
        fprintf(stderr, PROGNAME ": tab completion is off: %s\n", msg ? msg : "error");
        lua_pop(s->L, 1);
    }
}

/* ------------------------------------------------------------------ */
/* REPL                                                                */
/* ------------------------------------------------------------------ */

/* REPL input outcomes (CHUNK_DOT: a dot-command ran). */
typedef enum { CHUNK_OK, CHUNK_ERROR, CHUNK_EOF, CHUNK_CANCELLED, CHUNK_DOT } ChunkResult;

/* True (and pops the message) when status is a syntax error caused by
 * the chunk ending too early, i.e. more lines may complete it. */
static bool incomplete(lua_State *L, int status)
{
    size_t lmsg, lmark = sizeof EOFMARK - 1;
    const char *msg;
    if (status != LUA_ERRSYNTAX)
        return false;
    msg = lua_tolstring(L, -1, &lmsg);
    if (lmsg >= lmark && strcmp(msg + lmsg - lmark, EOFMARK) == 0) {
        lua_pop(L, 1);
        return true;
    }
    return false;
}

/* Tries to compile "return TEXT;" for the text on top of the stack.  On
 * success replaces the text by the compiled function. */
static bool load_as_expression(ShellState *s)
{
    lua_State *L = s->L;
    const char *text = lua_tostring(L, -1);
    const char *retline = lua_pushfstring(L, "return %s;", text);
    if (luaL_loadbuffer(L, retline, strlen(retline), "=stdin") == LUA_OK) {
        lua_remove(L, -2); /* retline */
        history_add(s, text);
        lua_remove(L, -2); /* text */
        return true;
    }
    lua_pop(L, 2); /* error message, retline */
    return false;
}

/* Compiles the text on top of the stack as statements, reading more
 * lines while the chunk is incomplete.  Replaces the text by the
 * compiled function (CHUNK_OK) or an error message (CHUNK_ERROR). */
static ChunkResult load_as_statements(ShellState *s)
{
    lua_State *L = s->L;
    for (;;) {
        size_t len;
        const char *text = lua_tolstring(L, -1, &len);
        int status = luaL_loadbuffer(L, text, len, "=stdin");
        bool interrupted;
        char *more;
        if (!incomplete(L, status)) {
            history_add(s, text);
            lua_remove(L, -2); /* text */
            return status == LUA_OK ? CHUNK_OK : CHUNK_ERROR;
        }
        s->pending = text; /* stays on the stack while the line is read */
        more = read_line(s, PROMPT2, &interrupted);
        s->pending = NULL;
        if (more == NULL && interrupted) {
            lua_pop(L, 1);
            return CHUNK_CANCELLED;
        }
        if (more == NULL) { /* EOF: report the incomplete chunk */
            if (s->use_readline)
                fputc('\n', stdout);
            text = lua_tolstring(L, -1, &len);
            luaL_loadbuffer(L, text, len, "=stdin");
            history_add(s, text);
            lua_remove(L, -2);
            return CHUNK_ERROR;
        }
        lua_pushliteral(L, "\n");
        lua_pushstring(L, more);
        free(more);
        lua_concat(L, 3);
    }
}

/* Reads and compiles one REPL entry (cf. lua.c's loadline), or runs a
 * dot-command. */
static ChunkResult load_repl_chunk(ShellState *s)
{
    bool interrupted;
    char *line = read_line(s, PROMPT1, &interrupted);
    if (line == NULL)
        return interrupted ? CHUNK_CANCELLED : CHUNK_EOF;
    if (is_dot_command(line)) {
        char *copy = strdup(line);
        if (copy != NULL) {
            run_dot_command(s, copy);
            free(copy);
        }
        history_add(s, line);
        free(line);
        return CHUNK_DOT;
    }
    lua_pushstring(s->L, line);
    free(line);
    if (load_as_expression(s))
        return CHUNK_OK;
    return load_as_statements(s);
}

/* lua_CFunction: writes its arguments like print, via tostring. */
static int print_values(lua_State *L)
{
    int i, n = lua_gettop(L);
    for (i = 1; i <= n; i++) {
        size_t len;
        const char *str = luaL_tolstring(L, i, &len);
        if (i > 1)
            fputc('\t', stdout);
        fwrite(str, 1, len, stdout);
        lua_pop(L, 1);
    }
    fputc('\n', stdout);
    fflush(stdout);
    return 0;
}

/* Prints the values above base (results of a REPL entry). */
static int print_results(ShellState *s, int base)
{
    lua_State *L = s->L;
    int n = lua_gettop(L) - base;
    if (n <= 0)
        return LUA_OK;
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_pushcfunction(L, print_values);
    lua_insert(L, base + 1);
    return docall(s, n, 0);
}

/* Prepares readline, completion and history for an interactive session.
 * rl_readline_name is set before readline reads ~/.inputrc, so that
 * "$if nkshell" sections there apply. */
static void readline_setup(ShellState *s)
{
    rl_readline_name = "nkshell";
    rl_catch_signals = 0; /* SIGINT is handled in readline_line() */
    complete_setup(s);
    history_load(s);
}

/* The read-eval-print loop; runs until EOF or .quit.  Errors never end
 * it.  Starts with ~/.nkshellrc. */
static void repl(ShellState *s)
{
    lua_State *L = s->L;
    int base = lua_gettop(L);
    struct sigaction old;

    s->use_readline = s->stdin_tty;
    g_shell = s;
    using_history();
    stifle_history(HISTORY_MAX);
    if (s->use_readline) {
        readline_setup(s);
        print_banner();
    }
    run_rc_file(s);
    lua_settop(L, base);
    set_sigint(on_sigint_prompt, 0, &old);
    while (!s->quit) {
        int status = LUA_OK;
        double t0;
        ChunkResult r = load_repl_chunk(s);
        if (r == CHUNK_EOF)
            break;
        if (r == CHUNK_CANCELLED || r == CHUNK_DOT)
            continue;
        t0 = wall_seconds();
        if (r == CHUNK_ERROR)
            status = LUA_ERRSYNTAX;
        else if ((status = docall(s, 0, LUA_MULTRET)) == LUA_OK)
            status = print_results(s, base);
        report(L, status);
        if (r != CHUNK_ERROR)
            report_time(s, t0);
        lua_settop(L, base);
    }
    sigaction(SIGINT, &old, NULL);
    if (s->use_readline) {
        if (!s->quit)
            fputc('\n', stdout); /* end the line Ctrl-D left */
        fflush(stdout);
        history_save(s);
    }
    if (s->complete_ref != LUA_NOREF) {
        luaL_unref(L, LUA_REGISTRYINDEX, s->complete_ref);
        s->complete_ref = LUA_NOREF;
    }
    g_shell = NULL;
}

/* ------------------------------------------------------------------ */
/* Main                                                                */
/* ------------------------------------------------------------------ */

/* Runs LUA_INIT, -e code, --sandbox, FILE and/or the REPL, in this order;
 * returns the exit status. */
static int run(ShellState *s)
{
    int i;
    if (!s->no_env && run_lua_init(s) != LUA_OK)
        return EXIT_LUA_ERROR;
    for (i = 0; i < s->n_exprs; i++)
        if (dostring(s, s->exprs[i], "=(command line)") != LUA_OK)
            return EXIT_LUA_ERROR;
    if (s->sandbox != NULL && run_sandbox(s) != LUA_OK)
        return EXIT_LUA_ERROR;
    if (s->script > 0 && run_script(s) != LUA_OK)
        return EXIT_LUA_ERROR;
    if (s->interactive) {
        repl(s);
    } else if (s->script == 0 && s->n_exprs == 0 && s->sandbox == NULL) {
        if (s->stdin_tty)
            repl(s);
        else if (dofile(s, NULL) != LUA_OK)
            return EXIT_LUA_ERROR;
    }
    return EXIT_OK;
}

/* Protected main (argument 1: the ShellState): opens the libraries and
 * the nk module, applies CLI defaults and runs.  Sets s->exit_status. */
static int pmain(lua_State *L)
{
    ShellState *s = lua_touserdata(L, 1);
    luaL_checkversion(L);
    if (s->no_env) { /* as lua -E: package ignores LUA_PATH and LUA_CPATH */
        lua_pushboolean(L, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
    }
    luaL_openlibs(L);
    luaL_requiref(L, "nk", luaopen_nk, 1); /* package.loaded.nk, global nk */
    lua_pop(L, 1);
    /* require("nkshell.complete") finds the embedded completion code */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, open_complete);
    lua_setfield(L, -2, COMPLETE_MODULE);
    lua_pop(L, 1);
    if (!apply_defaults(s)) {
        s->exit_status = EXIT_USAGE;
        return 0;
    }
    create_arg_table(s);
    s->exit_status = run(s);
    /* --resume CHECKPOINT is taken by the first run of a network: a script
     * that runs none (or a script name taken as the checkpoint, with the
     * script then read from stdin) resumed nothing */
    const char *unused = nk_lua_resume_unused(L);
    if (unused && s->exit_status == EXIT_OK) {
        fprintf(stderr,
                PROGNAME ": --resume: no network ran, so nothing was resumed from '%s' (expected "
                "the script that wrote it: nkshell --resume CHECKPOINT SCRIPT)\n",
                unused);
        s->exit_status = EXIT_LUA_ERROR;
    }
    return 0;
}

/* Initialises s from the command line; false when out of memory. */
static bool shell_init(ShellState *s, int argc, char **argv)
{
    memset(s, 0, sizeof *s);
    s->complete_ref = LUA_NOREF;
    s->argc = argc;
    s->argv = argv;
    s->exprs = malloc(sizeof *s->exprs * (size_t)(argc > 0 ? argc : 1));
    s->stdin_tty = isatty(STDIN_FILENO) != 0;
    return s->exprs != NULL;
}

/* Frees what s owns. */
static void shell_free(ShellState *s)
{
    free(s->exprs);
    free(s->history_path);
    s->exprs = NULL;
    s->history_path = NULL;
}

/* Flushes stdout; turns a write error into exit status 1. */
static int finish_output(int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, PROGNAME ": error writing to standard output\n");
        return status == EXIT_OK ? EXIT_LUA_ERROR : status;
    }
    return status;
}

int main(int argc, char **argv)
{
    ShellState s;
    int status;

    if (!shell_init(&s, argc, argv)) {
        fprintf(stderr, PROGNAME ": not enough memory\n");
        return EXIT_LUA_ERROR;
    }
    status = parse_args(&s);
    if (status != PARSE_CONTINUE) {
        shell_free(&s);
        return finish_output(status);
    }
    if (isatty(STDOUT_FILENO))
        setvbuf(stdout, NULL, _IOLBF, BUFSIZ);
    /* A file-size limit (ulimit -f) then makes a write fail with EFBIG,
     * reported like a full disk with the session kept, instead of killing
     * the process with SIGXFSZ. */
    signal(SIGXFSZ, SIG_IGN);
    nk_lua_interrupt_consumed = interrupt_consumed;
    s.L = luaL_newstate();
    if (s.L == NULL) {
        fprintf(stderr, PROGNAME ": cannot create Lua state: not enough memory\n");
        shell_free(&s);
        return EXIT_LUA_ERROR;
    }
    lua_pushcfunction(s.L, pmain);
    lua_pushlightuserdata(s.L, &s);
    if (report(s.L, lua_pcall(s.L, 1, 0, 0)) != LUA_OK)
        s.exit_status = EXIT_LUA_ERROR;
    lua_close(s.L); /* runs __gc finalizers: result files get closed */
    status = s.exit_status;
    shell_free(&s);
    return finish_output(status);
}
