/* nk.h - libnk, the nkshell simulation engine: public interface.
 *
 * libnk knows nothing of Lua or of the terminal. It never prints and never
 * exits: every fallible call returns 0 (or an index >= 0) on success and a
 * negative NK_E* code on failure, and leaves a message that names what was
 * wrong and what was expected on the context, read with nk_errmsg().
 *
 * Ownership: a context owns its model library; a network owns everything
 * built in it (populations, projections, sources, monitors, recorded data,
 * the results file). Objects inside a network are addressed by small integer
 * indices that stay valid as long as the network. Strings passed in are
 * copied; strings returned are owned by the library and valid until the
 * owning object changes or is freed.
 *
 * Units (NEST's): ms, mV, pA, pF, nS, Hz, um. pA/pF = mV/ms, nS*mV = pA.
 * Neuron indices in this API are 0-based; the Lua layer shows them 1-based.
 */
#ifndef NK_NK_H
#define NK_NK_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes. */
enum {
    NK_OK = 0,
    NK_EINVAL = -1,    /* a bad argument: the message says which and why */
    NK_ENOMEM = -2,    /* out of memory */
    NK_EIO = -3,       /* a file could not be read or written */
    NK_ECOMPILE = -4,  /* generated code did not compile or load */
    NK_EINTR = -5,     /* a run was interrupted (Ctrl-C); state is consistent */
    NK_EDIVERGED = -6, /* a state variable became NaN or infinite */
    NK_ENOTSUP = -7,   /* not available in this build or on this backend */
    NK_EPARSE = -8     /* an equation did not parse */
};

typedef struct nk_ctx nk_ctx;
typedef struct nk_net nk_net;
typedef struct nk_model nk_model;

/* ---- context ------------------------------------------------------------ */

/* Creates a context with the built-in model library loaded. Returns NULL only
 * when out of memory. Free with nk_ctx_free (after every network made in it). */
nk_ctx *nk_ctx_new(void);
void nk_ctx_free(nk_ctx *ctx);

/* The message of the last failed call on ctx (or on a network made in it). */
const char *nk_errmsg(const nk_ctx *ctx);

/* The library version, e.g. "0.1.0". */
const char *nk_version(void);

/* ---- models ------------------------------------------------------------- */

/* Finds a model by name; NULL (message set) when there is none, with a
 * "did you mean" suggestion when a name is close. */
const nk_model *nk_model_find(nk_ctx *ctx, const char *name);
int nk_model_count(const nk_ctx *ctx);
const nk_model *nk_model_at(const nk_ctx *ctx, int i);

const char *nk_model_name(const nk_model *m);
int nk_model_is_synapse(const nk_model *m);
const char *nk_model_doc(const nk_model *m);
/* Parameters: count, name, default value and unit of parameter i. */
int nk_model_nparams(const nk_model *m);
const char *nk_model_param_name(const nk_model *m, int i);
double nk_model_param_default(const nk_model *m, int i);
const char *nk_model_param_unit(const nk_model *m, int i);
/* Index of parameter name (or one of its aliases), or -1. */
int nk_model_param_index(const nk_model *m, const char *name);
int nk_model_nstates(const nk_model *m);
const char *nk_model_state_name(const nk_model *m, int i);
const char *nk_model_state_unit(const nk_model *m, int i);
/* The model written out as equations (for print and help). */
const char *nk_model_describe(const nk_model *m);

/* A model as text; the built-in library is written in this form too.
 * docs/models.md is the full reference of the syntax. */
typedef struct nk_model_spec {
    const char *name;
    const char *kind;        /* "neuron" (default) or "synapse" */
    const char *doc;
    /* "tau_m = 10 ms (0, inf); C_m = 250 pF": name = default unit, and an
     * optional allowed range, [ ] closed, ( ) open, inf for no bound. */
    const char *params;
    /* "v = v_rest mV; m = 0.05 [0, 1]": a number or a parameter, a unit, and
     * optional bounds that clip the value after every step. */
    const char *states;
    const char *equations;   /* "dv/dt = ... : mV (unless refractory)", "x = expr", one per line or ';' */
    const char *threshold;   /* a condition, e.g. "v > v_thresh"; NULL: never fires */
    const char *reset;       /* statements, e.g. "v = v_reset; w += b" */
    /* ms: an expression of parameters (one period for the population) or of
     * states too (per neuron, evaluated at each spike) */
    const char *refractory;
    const char *on_pre;      /* synapse: what input does, with w the summed weight: "g += w" */
    const char *current;     /* synapse: its current into the target, pA: "g*(E - v)" */
    /* synapse: graded transmission. An expression of the presynaptic neuron's
     * states (v_pre) and the synapse's parameters, evaluated every step; each
     * connection sends weight * value, and on_pre runs every step with w the
     * sum (zero included). NULL: spikes. */
    const char *graded;
    /* neuron: the receptors a connection without an explicit synapse gets,
     * by the sign of its weight: "exc = exp_curr(tau_syn = tau_syn_ex);
     * inh = exp_curr(tau_syn = tau_syn_in)" (values: expressions of this
     * model's parameters) */
    const char *receptors;
    /* other names for parameters and states, e.g. NEST's: "V_m = v; E_L = v_rest" */
    const char *aliases;
    /* "euler", "midpoint", "heun", "rk4", "rk45", "exponential_euler" or "exact" */
    const char *method;
    double max_dt;           /* ms, > 0: sub-step when the network's dt is larger; 0: none */
    int replace;             /* nk_model_define: replace a model of the same name */
} nk_model_spec;

/* Defines a model in ctx's library from spec (strings are copied). Errors:
 * a name already taken, a declaration or equation that does not parse (the
 * message shows the line and column), a name that resolves to nothing. */
int nk_model_define(nk_ctx *ctx, const nk_model_spec *spec);

/* ---- networks ----------------------------------------------------------- */

typedef enum { NK_BACKEND_AUTO = 0, NK_BACKEND_CPU = 1, NK_BACKEND_CUDA = 2 } nk_backend_kind;

typedef struct nk_net_opts {
    double dt;               /* ms, > 0 (default 0.1) */
    uint64_t seed;           /* the network's seed (default 1) */
    nk_backend_kind backend; /* default auto */
    int double_precision;    /* 0: float32 state (default), 1: float64 */
    const char *output;      /* results file path, or NULL for none */
} nk_net_opts;

/* Fills opts with the defaults. */
void nk_net_opts_init(nk_net_opts *opts);

/* Creates an empty network. Checks the options (dt > 0 and finite; the
 * output's directory exists and is writable) before anything is allocated.
 * Returns NULL with the message on ctx on failure. */
nk_net *nk_net_new(nk_ctx *ctx, const nk_net_opts *opts);

/* Frees the network and everything in it; finishes the results file first
 * (so what was recorded is on disk as NAME.h5). NULL is fine. */
void nk_net_free(nk_net *net);

nk_ctx *nk_net_ctx(const nk_net *net);
double nk_net_dt(const nk_net *net);
uint64_t nk_net_seed(const nk_net *net);
int64_t nk_net_step(const nk_net *net);      /* steps done so far */
double nk_net_time(const nk_net *net);       /* ms simulated so far */
const char *nk_net_backend_name(const nk_net *net);
const char *nk_net_output(const nk_net *net); /* NULL when none */

/* Store arbitrary metadata (e.g. the script) as a root attribute of the
 * results file. Copies value. */
int nk_net_set_meta(nk_net *net, const char *key, const char *value);

/* ---- populations -------------------------------------------------------- */

/* A range of neurons of one population: [lo, hi), 0-based. */
typedef struct nk_range {
    int pop;
    int64_t lo, hi;
} nk_range;

/* Adds a population of n > 0 neurons of the named neuron model. name may be
 * NULL (then "pop<k>"); names are unique within a network. method may be
 * NULL for the model's default solver. Returns the population index. */
int nk_pop_add(nk_net *net, const char *model, int64_t n, const char *name,
               const char *method);
/* Removes population pop when it is the last one added and nothing refers
 * to it yet (undoes a construction that failed half-way). Returns 0 or
 * NK_EINVAL. */
int nk_pop_discard(nk_net *net, int pop);
/* Tolerances of the adaptive rk45 solver for population pop: a step of the
 * error-controlled integration is accepted when every state's error estimate
 * is below atol + rtol*|value|. Defaults 1e-6 and 1e-6. Both must be > 0. */
int nk_pop_set_tolerance(nk_net *net, int pop, double rtol, double atol);
int nk_pop_count(const nk_net *net);
const char *nk_pop_name(const nk_net *net, int pop);
int64_t nk_pop_size(const nk_net *net, int pop);
const nk_model *nk_pop_model(const nk_net *net, int pop);
/* Index of the population called name, or -1. */
int nk_pop_find(const nk_net *net, const char *name);

/* Sets a shared parameter of the population's neuron model. Unknown names
 * get "unknown option 'tau_mm' for model 'lif' (did you mean 'tau_m'?)". */
int nk_pop_set_param(nk_net *net, int pop, const char *name, double value);
int nk_pop_get_param(const nk_net *net, int pop, const char *name, double *value);
/* Sets the initial (current) value of state variable var for neurons
 * [r.lo, r.hi): a constant, or uniform in [lo, hi) drawn from the network's
 * seed (deterministic). Only before the first run. */
int nk_pop_set_state(nk_net *net, nk_range r, const char *var, double value);
int nk_pop_set_state_uniform(nk_net *net, nk_range r, const char *var, double lo,
                             double hi);
/* Current value of state variable var of neuron i. */
int nk_pop_get_state(const nk_net *net, int pop, const char *var, int64_t i,
                     double *value);

/* ---- projections -------------------------------------------------------- */

typedef enum {
    NK_RULE_ALL_TO_ALL = 0,
    NK_RULE_ONE_TO_ONE,
    NK_RULE_BERNOULLI,
    NK_RULE_FIXED_INDEGREE
} nk_rule;

typedef struct nk_conn_opts {
    nk_rule rule;
    double p;                /* bernoulli: probability in [0, 1] */
    int64_t indegree;        /* fixed_indegree: K >= 0 */
    int allow_autapses;      /* default 1 (when pre and post are one population) */
    int allow_multapses;     /* default 1 (fixed_indegree) */
    double weight;           /* in the synapse's unit (pA for current synapses) */
    double delay;            /* ms; rounded to the nearest step, at least one step */
    const char *synapse;     /* synapse model (default "exp_curr") */
    const char *receptor;    /* receptor name on the target (default "exc" for
                                weight >= 0, "inh" for weight < 0). An existing
                                receptor is shared; parameters given here must
                                then match its own. */
    const char *const *syn_param_names; /* synapse parameters, n of them */
    const double *syn_param_values;
    int n_syn_params;
} nk_conn_opts;

void nk_conn_opts_init(nk_conn_opts *o);

/* Connects pre to post with the rule; returns the projection index. The
 * connectivity is drawn from the network seed and the projection's index and
 * does not depend on anything else (thread count, order of other calls). */
int nk_connect(nk_net *net, nk_range pre, nk_range post, const nk_conn_opts *o);
int64_t nk_proj_nsyn(const nk_net *net, int proj);
int nk_proj_count(const nk_net *net);
/* Human-readable one-line summary. */
const char *nk_proj_describe(nk_net *net, int proj);

/* ---- sources ------------------------------------------------------------ */

typedef struct nk_source_opts {
    double rate;           /* poisson: Hz, >= 0 */
    double weight;         /* poisson: weight per input spike (synapse unit) */
    double amplitude;      /* dc: pA */
    double start, stop;    /* ms; active for start <= t < stop (default 0, inf) */
    const char *synapse;   /* poisson: synapse model of the receptor */
    const char *receptor;  /* poisson: receptor name (default by sign of weight) */
    const char *const *syn_param_names; /* poisson: synapse parameters */
    const double *syn_param_values;
    int n_syn_params;
} nk_source_opts;

void nk_source_opts_init(nk_source_opts *o);
/* kind: "poisson" or "dc". Returns the source index. */
int nk_source_add(nk_net *net, const char *kind, nk_range target,
                  const nk_source_opts *o);

/* ---- monitors ----------------------------------------------------------- */

/* kind: "spikes". Records from the next step on. Returns the monitor index. */
int nk_monitor_add(nk_net *net, const char *kind, nk_range target);
nk_range nk_monitor_target(const nk_net *net, int mon);
/* Number of spikes recorded by the monitor. */
int64_t nk_monitor_count(const nk_net *net, int mon);
/* Copies up to cap spikes (times in ms, 0-based ids within the population)
 * into the arrays (either may be NULL); returns how many were copied. */
int64_t nk_monitor_spikes(const nk_net *net, int mon, double *t_ms, int64_t *ids,
                          int64_t cap);
/* Mean firing rate of the monitored neurons over the recorded time, Hz. */
double nk_monitor_rate(const nk_net *net, int mon);
/* Recorded duration, ms. */
double nk_monitor_duration(const nk_net *net, int mon);

/* ---- running ------------------------------------------------------------ */

typedef struct nk_run_opts {
    /* Called about every 0.25 s of wall time with the simulated time done and
     * the total of this run (ms); may be NULL. */
    void (*progress)(void *ud, double done_ms, double total_ms);
    void *ud;
    /* Polled between steps; when it becomes nonzero the run finishes the
     * current step, writes what was recorded and returns NK_EINTR. */
    volatile sig_atomic_t *interrupt;
} nk_run_opts;

/* Runs the network for ms of simulated time (rounded to whole steps),
 * continuing from where the last run stopped. Builds (code generation,
 * compilation, ring buffers, results file) on the first run and after any
 * change. Returns 0, NK_EINTR, NK_EDIVERGED (the message names population,
 * neuron, variable and step) or another error; in every case what was
 * recorded so far is kept and written to the results file. */
int nk_run(nk_net *net, double ms, const nk_run_opts *o);

/* Wall-clock seconds of the last nk_run: building (codegen, compile, setup)
 * and stepping. */
void nk_run_timing(const nk_net *net, double *build_s, double *run_s);

/* The C source generated for population pop (after a run or nk_net_build). */
const char *nk_pop_code(nk_net *net, int pop);
/* Builds without running: generates and compiles code, allocates buffers. */
int nk_net_build(nk_net *net);

/* ---- small utilities shared with the bindings --------------------------- */

/* The candidate closest to name (edit distance) when it is close enough to be
 * a likely typo, else NULL. */
const char *nk_suggest(const char *name, const char *const *candidates, int n);

#ifdef __cplusplus
}
#endif
#endif
