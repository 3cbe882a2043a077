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
#include <stdarg.h>
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
    NK_EDIVERGED = -6, /* a state variable became NaN or infinite, or a per-neuron
                          refractory period NaN or negative */
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

/* Whether the last nk_net_new (or nk_restore) on ctx failed because another
 * network of ctx, not yet freed, has the same output: a host that frees
 * networks nobody can reach any more (a garbage collector) may do so and
 * try again. */
int nk_ctx_output_taken(const nk_ctx *ctx);

/* Notes that HDF5 met a damaged file, or could not close one after a write
 * failed: at exit the library is then left to the system instead of being
 * closed (HDF5 1.10 can crash, or report an infinite loop and leak, closing
 * itself after that). Files nkshell wrote are closed before then. */
void nk_hdf5_taint(void);

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
/* A neuron model with a threshold (it spikes); a synapse that transmits
 * graded values rather than spikes. */
int nk_model_fires(const nk_model *m);
int nk_model_is_graded(const nk_model *m);
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
/* Index of state name (or one of its aliases), or -1. */
int nk_model_state_index(const nk_model *m, const char *name);
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
    int threads;             /* CPU threads, >= 0 (default 0: one per CPU the process may use) */
} nk_net_opts;

/* Fills opts with the defaults. */
void nk_net_opts_init(nk_net_opts *opts);

/* Creates an empty network. Checks the options (dt > 0 and finite; the
 * output's directory exists and is writable, and no other network of ctx
 * not yet freed has the same output: two would write one file) before
 * anything is allocated. Returns NULL with the message on ctx on failure. */
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
/* What the backend runs on, in words: "2 threads"; for CUDA the device's
 * name once built ("NVIDIA H100 80GB HBM3", "host emulation"). */
void nk_net_backend_detail(const nk_net *net, char *buf, size_t len);
/* Why a network made with backend "auto" runs on the CPU although a GPU is
 * usable (it would not fit in the GPU's memory), once built; else NULL. */
const char *nk_net_backend_note(const nk_net *net);
/* CPU threads a run uses at most: the number set, or with 0 one per CPU the
 * process may use. The CPU backend also gives a network no more than one
 * thread per 64 neurons (per 1024 with 0). Results do not depend on it. */
int nk_net_threads(const nk_net *net);
/* Sets it (0: one per CPU this process may use); not during a run. */
int nk_net_set_threads(nk_net *net, int threads);

/* Per-phase timing (see net:profile() in docs/performance.md). */
typedef struct nk_profile {
    /* building, summed over the network's life: parsing models, making
     * connections, generating code, compiling it, opening the results file */
    double parse_s, connect_s, codegen_s, compile_s, output_s;
    /* the last run with profiling on: per phase of its steps */
    double sources_s, update_s, deliver_s, record_s, write_s;
    double finish_s;         /* the part of write_s after the last step: the
                                results file completed and closed */
    double run_s;            /* the whole run loop */
    int64_t spikes;          /* spikes fired in the last profiled run */
    int64_t events;          /* synaptic events: spikes times their connections,
                                graded connections once per step */
    int64_t steps;           /* steps profiled */
    int64_t early;           /* of those, steps that started before the last */
                             /* one ended (CPU threads, docs/engine.md) */
    int threads;             /* threads that ran them */
    int gpu;                 /* 1: they ran on a GPU (the CUDA backend; threads: the host's 1) */
    double device_s;         /* GPU: the device's time on the steps it ran alone (the windows
                                of steps that CUDA graphs or one block run), by its own clock */
} nk_profile;
/* Turns timing of each step's phases on or off for the next runs (off by
 * default: two clock reads per phase per step). */
void nk_net_set_profiling(nk_net *net, int on);
int nk_net_profiling(const nk_net *net);
void nk_net_profile(const nk_net *net, nk_profile *out);
const char *nk_net_output(const nk_net *net); /* NULL when none */
/* Bytes held by the network's data: states, receptors and their spike
 * rings, connections, recorded spikes and rows (not compiled code). */
int64_t nk_net_memory(const nk_net *net);

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
/* Checks population pop once its parameters and initial values are set, for
 * what would make every run fail: a refractory period below 0 ms or longer
 * than 1e9 steps, a max_dt needing more than 1e6 sub-steps, an initial value
 * from the model or a reset of parameters that the state cannot hold (NaN,
 * infinite, or beyond float32). Returns 0 or NK_EINVAL with the message; a
 * caller that made the population then discards it. */
int nk_pop_check(nk_net *net, int pop);
/* Sets the initial (current) value of state variable var for neurons
 * [r.lo, r.hi): a constant, or uniform in [lo, hi) drawn from the network's
 * seed (deterministic). Only before the first run. */
int nk_pop_set_state(nk_net *net, nk_range r, const char *var, double value);
int nk_pop_set_state_uniform(nk_net *net, nk_range r, const char *var, double lo,
                             double hi);
/* Sets var for neurons [r.lo, r.hi) from values[0 .. r.hi - r.lo). */
int nk_pop_set_state_array(nk_net *net, nk_range r, const char *var, const double *values);
/* Current value of state variable var of neuron i. */
int nk_pop_get_state(const nk_net *net, int pop, const char *var, int64_t i,
                     double *value);

/* ---- projections -------------------------------------------------------- */

typedef enum {
    NK_RULE_ALL_TO_ALL = 0,
    NK_RULE_ONE_TO_ONE,
    NK_RULE_BERNOULLI,
    NK_RULE_FIXED_INDEGREE,
    NK_RULE_FIXED_OUTDEGREE,
    NK_RULE_FIXED_TOTAL,
    NK_RULE_DISTANCE,        /* probability an expression of the distance d (um) */
    NK_RULE_SHAPE,           /* BG-NES: targets inside a shape placed at each source */
    NK_RULE_LIST             /* explicit (pre, post[, weight, delay]) lists */
} nk_rule;

/* A value per synapse: a constant, a distribution or an expression of the
 * distance d (um) between the two neurons. Draws come from the network seed,
 * the projection and the presynaptic neuron, so they do not depend on the
 * thread count. */
typedef enum {
    NK_DIST_CONST = 0,       /* a */
    NK_DIST_UNIFORM,         /* uniform in [a, b) */
    NK_DIST_NORMAL,          /* mean a, standard deviation b, redrawn while outside [lo, hi] */
    NK_DIST_LOGNORMAL,       /* exp(normal(a, b)): a and b are the log's mean and sd */
    NK_DIST_EXPR             /* expression of d (um), e.g. "0.5 + d/300" */
} nk_dist_kind;

typedef struct nk_dist {
    nk_dist_kind kind;
    double a, b;
    double lo, hi;           /* NK_DIST_NORMAL/LOGNORMAL: range (default -inf, inf) */
    const char *expr;        /* NK_DIST_EXPR */
} nk_dist;

/* BG-NES's synapse generator: each presynaptic neuron connects to the
 * neurons whose positions lie inside a shape placed at its own position plus
 * offset, each with probability p. */
typedef struct nk_shape {
    const char *kind;        /* "sphere", "cone", "box" or "cylinder" */
    double radius;           /* sphere; cylinder */
    double length;           /* cone, cylinder: extent along the axis (the range) */
    double angle;            /* cone: half-angle in degrees, (0, 90) */
    double size[3];          /* box: edge lengths along x, y, z */
    double axis[3];          /* cone, cylinder: direction (default +z) */
    double offset[3];        /* um from the presynaptic neuron to the shape's
                                centre (sphere, box), base (cylinder) or apex (cone) */
    double p;                /* probability for each neuron inside (default 1) */
} nk_shape;

typedef struct nk_conn_opts {
    nk_rule rule;
    double p;                /* bernoulli: probability in [0, 1] */
    int64_t indegree;        /* fixed_indegree: K >= 0 */
    int64_t outdegree;       /* fixed_outdegree: K >= 0 */
    int64_t total;           /* fixed_total: N >= 0 */
    const char *p_expr;      /* distance: probability as an expression of d (um) */
    nk_shape shape;          /* shape */
    /* list: nlist pairs, 0-based within the pre and post ranges; weights and
     * delays (ms) per pair, either may be NULL for the constant/distribution */
    const int64_t *list_pre, *list_post;
    const double *list_w, *list_delay;
    int64_t nlist;
    int allow_autapses;      /* default 1 (when pre and post are one population) */
    int allow_multapses;     /* default 1 (fixed_indegree) */
    double weight;           /* in the synapse's unit (pA for current synapses) */
    double delay;            /* ms; rounded to the nearest step, at least one step */
    nk_dist wdist, ddist;    /* kind NK_DIST_CONST (the default): weight, delay above */
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

/* A projection as built: CSR by presynaptic neuron (row[a]..row[a+1] are the
 * synapses of pre.lo + a; col is the target's index in post's population),
 * weights in the synapse's unit, delays in steps. Arrays are the network's:
 * valid until it changes. */
typedef struct nk_proj_info {
    nk_range pre, post;
    const char *receptor;    /* receptor name on the target population */
    const char *synapse;     /* its synapse model */
    int nparams;             /* the receptor's parameter values */
    const char *const *param_names;
    const double *param_values;
    int64_t nsyn;
    const int64_t *row;
    const uint32_t *col;
    const float *w;
    const uint16_t *delay;
} nk_proj_info;
int nk_proj_get(const nk_net *net, int proj, nk_proj_info *out);

/* Bytes of memory available now (MemAvailable, or $NKSHELL_MEM_AVAILABLE
 * bytes when that is less), or -1 when unknown. Requests whose estimate
 * exceeds it are refused before allocating. */
int64_t nk_mem_available(void);

/* ---- connectome files --------------------------------------------------- */

/* An edge list read from a file: the sorted distinct external ids (any
 * int64) that appear, and per edge the positions of its two ends in ids and
 * its weight (already signed). 12 bytes per edge. */
typedef struct nk_edges {
    int64_t n;               /* edges */
    uint32_t *pre, *post;    /* ids[pre[k]] -> ids[post[k]] */
    float *w;
    int64_t nids;
    int64_t *ids;            /* sorted distinct ids of pre and post (and of the node file) */
} nk_edges;

typedef struct nk_csv_opts {
    const char *pre;         /* column name (header) or 1-based number as text; default:
                                "pre_root_id", else "pre", "source", else column 1 */
    const char *post;        /* likewise "post_root_id", "post", "target", column 2 */
    const char *weight;      /* "syn_count", "weight", "w", column 3; NULL-or-"" and none
                                present: weight 1 */
    const char *sign;        /* column of a sign (+/-, 1/-1) or a neurotransmitter name */
    const char *const *inhibitory; /* sign values meaning inhibitory (default GABA, GLUT,
                                      "-", "-1", "inh", "inhibitory") */
    int ninhibitory;
    char delimiter;          /* 0: detect (tab, comma, space or ';') */
    const char *nodes;       /* optional file of ids (first column, or "root_id"), so
                                neurons without edges are included */
    int threads;             /* threads that parse the edges (0: one per CPU); the
                                result does not depend on it */
} nk_csv_opts;

void nk_csv_opts_init(nk_csv_opts *o);
/* Reads a CSV/TSV edge list. NULL on error with the message on ctx naming the
 * file, the line and what was expected. */
nk_edges *nk_edges_read_csv(nk_ctx *ctx, const char *path, const nk_csv_opts *o);
void nk_edges_free(nk_edges *e);

/* External ids of the neurons of a population (distinct). With them,
 * connectome files and ids map onto neurons. */
int nk_pop_set_ids(nk_net *net, int pop, const int64_t *ids, int64_t n);
const int64_t *nk_pop_ids(const nk_net *net, int pop);  /* NULL: none */
/* Index of external id in the population, or -1. */
int64_t nk_pop_index_of(const nk_net *net, int pop, int64_t id);

/* Connects the edges between two populations that carry ids (pre and post
 * may be the same). Edges are split by sign into an excitatory and an
 * inhibitory projection (weights scaled by o->weight, which must be > 0;
 * inhibitory ones keep their sign); proj[0] and proj[1] get their indices
 * (-1 when none). Edges whose ids are not in the populations are an error
 * naming the first, unless skip_unknown. */
int nk_connect_edges(nk_net *net, int pre, int post, const nk_edges *e, const nk_conn_opts *o,
                     int skip_unknown, int proj[2]);

/* SONATA (nodes/edges HDF5 with node_types.csv and edge_types.csv). */
/* Writes the whole network under dir (created when missing): nodes.h5,
 * edges.h5, node_types.csv, edge_types.csv and circuit_config.json; the
 * network's dt and seed, the models' names and parameters, positions,
 * external ids and initial states travel too, so that nk_sonata_load into a
 * network with the same dt gives an identical network. */
int nk_save_model(nk_net *net, const char *dir);

typedef struct nk_sonata_opts {
    const char *const *nodes;       /* nodes HDF5 files */
    int nnodes;
    const char *const *node_types;  /* node_types.csv files */
    int nnode_types;
    const char *const *edges;       /* edges HDF5 files */
    int nedges;
    const char *const *edge_types;  /* edge_types.csv files */
    int nedge_types;
    const char *model;       /* neuron model for node types that name none (default "lif") */
    const char *synapse;     /* synapse model for edge types that name none (NULL: the
                                target's default receptors) */
} nk_sonata_opts;

/* Reads the network settings a directory written by nk_save_model holds
 * (dt, seed) into opts; 0, or NK_EIO when it is not such a directory. */
int nk_sonata_net_opts(nk_ctx *ctx, const char *dir, nk_net_opts *opts);
/* Adds the SONATA network to net: one population per node population and
 * node type, one projection per edge population, pair of populations, edge
 * type and sign. dir may be a directory written by nk_save_model (then o may
 * be NULL). */
int nk_sonata_load(nk_net *net, const char *dir, const nk_sonata_opts *o);

/* GEXF (Neurokernel's LPU files: the current format and legacy v0.1). */
typedef struct nk_gexf_node {
    char *id;                /* the node's id in the file */
    char *cls;               /* its class ("LeakyIAF", "AlphaSynapse", "Port", ...) */
    int pop;                 /* neuron: its population, else -1 */
    int64_t index;           /* neuron: index in pop (0-based), else -1 */
    char *selector;          /* port or neuron selector, else NULL */
    int port_io;             /* port: 1 input, 2 output; else 0 */
} nk_gexf_node;

typedef struct nk_gexf_result {
    int version;             /* 1: legacy v0.1 (synapses are edges), 2: current */
    int64_t nnodes;
    nk_gexf_node *nodes;
    int64_t nsynapses;
} nk_gexf_result;

/* Adds the circuit in a GEXF file to net: neurons become populations (one per
 * class and parameter set), synapses projections. *out (may be NULL) gets the
 * node mapping; free it with nk_gexf_result_free. */
int nk_load_gexf(nk_net *net, const char *path, nk_gexf_result **out);
void nk_gexf_result_free(nk_gexf_result *r);

/* ---- positions ---------------------------------------------------------- */

/* Generated positions (um) for a population's neurons. Random layouts draw
 * from the network seed and the population. */
typedef struct nk_layout {
    const char *kind;        /* "grid", "box", "sphere" or "cylinder" */
    double center[3];
    double size[3];          /* box: edge lengths; grid: spacing along x, y, z */
    int64_t shape[3];        /* grid: neurons along x, y, z; their product is the size
                                (zeros: a cube as near as possible, filled x first) */
    double radius;           /* sphere, cylinder */
    double height;           /* cylinder, along z */
} nk_layout;

void nk_layout_init(nk_layout *l);
int nk_pop_layout(nk_net *net, int pop, const nk_layout *l);
/* Explicit positions: 3*n values x, y, z per neuron, n the population size. */
int nk_pop_set_positions(nk_net *net, int pop, const double *xyz, int64_t n);
/* 3*n values, or NULL when the population has none. */
const double *nk_pop_positions(const nk_net *net, int pop);

/* ---- selections ---------------------------------------------------------- */

/* Some neurons of one population: the range [lo, hi), or, when idx is not
 * NULL, the n listed neurons (0-based, ascending, distinct; lo and hi then
 * ignored). Sources and monitors take a list of parts, one per population. */
typedef struct nk_sel {
    int pop;
    int64_t lo, hi;
    const int64_t *idx;
    int64_t n;
} nk_sel;

/* A region of space (um) for nk_region. */
typedef struct nk_region_spec {
    const char *kind;        /* "sphere", "box", "cylinder" */
    double center[3];
    double radius;           /* sphere, cylinder */
    double size[3];          /* box: edge lengths */
    double height;           /* cylinder: along z */
    const int *pops;         /* only these populations (NULL: every population with positions) */
    int npops;
} nk_region_spec;

/* The neurons inside a region: *parts gets one part per population with at
 * least one neuron inside (idx lists owned by the caller: free each part's
 * idx, then the array, with nk_sel_free). Returns the number of parts (0 is
 * allowed) or a negative code. Populations without positions are skipped,
 * unless listed in pops (then it is an error). */
int nk_region(nk_net *net, const nk_region_spec *r, nk_sel **parts);
void nk_sel_free(nk_sel *parts, int nparts);

/* ---- sources ------------------------------------------------------------ */

/* Source kinds. Currents (pA, added to the target's external current I_ext):
 *   dc          amplitude
 *   step        times[k] (ms, ascending), amplitudes[k]: amplitude[k] from
 *               times[k] on (0 before the first)
 *   ramp        from (at start) to (at stop) linearly; stop must be finite
 *   ac          offset + amplitude * sin(2 pi frequency t / 1000 + phase deg)
 *   noise       mean + std * N(0,1), drawn per neuron every `interval` ms
 *               (0: every step), held in between (NEST's noise_generator)
 *   array       T x N values (N the target size, or 1 for all), one row per
 *               `interval` ms (0: per step) from start; after the last row
 *               hold it (hold = 1) or give 0
 *   equation    an expression of t (ms), i (1-based index within the
 *               population), N (its size), x, y, z (um), compiled with the
 *               model code
 *   callback    a function called every `every` steps that fills the values
 *               (one per target neuron), held until the next call
 *   global      every neuron of the network: the expression (of t only) when
 *               given, else ac's options (a theta rhythm)
 * Spike input (added to a receptor, like a projection):
 *   poisson     rate (Hz) per neuron, weight per input spike
 *   bernoulli   probability p per step per neuron, weight
 *   spike_times input spikes at given times (ms) to given target neurons
 * Every source is active for start <= t < stop. */
typedef int (*nk_source_fn)(void *ud, double t_ms, int64_t n, double *values, char *err,
                            size_t errlen);

typedef struct nk_source_opts {
    double rate;           /* poisson: Hz, >= 0 */
    double weight;         /* poisson, bernoulli, spike_times: per input spike */
    double amplitude;      /* dc, ac: pA */
    double start, stop;    /* ms; active for start <= t < stop (default 0, inf) */
    const char *synapse;   /* spike input: synapse model of the receptor */
    const char *receptor;  /* spike input: receptor name (default by sign of weight) */
    const char *const *syn_param_names; /* spike input: synapse parameters */
    const double *syn_param_values;
    int n_syn_params;
    const double *times;   /* step: switch times; spike_times: spike times (ms) */
    const double *amplitudes; /* step */
    const int64_t *neurons;/* spike_times: target neuron of each time (0-based within
                              the source's target, parts concatenated) */
    int64_t ntimes;
    double from, to;       /* ramp, pA */
    double frequency, phase, offset; /* ac, global: Hz, degrees, pA */
    double mean, std;      /* noise, pA */
    double interval;       /* noise, array: ms (0: dt) */
    double p;              /* bernoulli: per step */
    const double *values;  /* array: rows x cols, row-major */
    int64_t rows, cols;
    int hold;              /* array: keep the last row after the end */
    const char *expr;      /* equation, global: the current, pA */
    nk_source_fn fn;       /* callback */
    void *ud;
    void (*ud_free)(void *ud);  /* called when the source is removed or the net freed
                                   (also when nk_source_add fails) */
    int every;             /* callback: steps between calls (default 1) */
} nk_source_opts;

void nk_source_opts_init(nk_source_opts *o);
/* Reads a numeric 1-D or 2-D dataset into *vals (malloc'd, row-major; free
 * it). dataset NULL: Neurokernel's input layout (/I/data), else /array, else
 * the file's only dataset. */
int nk_read_matrix(const char *path, const char *dataset, double **vals, int64_t *rows,
                   int64_t *cols, char *err, size_t errlen);
/* When HDF5 dataset d (a hid_t) is stored through a filter this HDF5 library
 * does not have (a compression plugin that is not installed: lzf, blosc,
 * ...), writes "compressed with filter 'lzf' (id 32000), which this HDF5
 * library does not have (install its plugin; ...)" into msg and returns 1;
 * 0 when every filter of d is there (or d has none). */
int nk_h5_missing_filter(int64_t d, char *msg, size_t len);
/* The known kinds, NULL-terminated. */
extern const char *const nk_source_kinds[];
/* Adds a source on the neurons of parts (for "global", parts may be NULL).
 * Returns the source index. */
int nk_source_add_sel(nk_net *net, const char *kind, const nk_sel *parts, int nparts,
                      const nk_source_opts *o);
/* The same on one range. */
int nk_source_add(nk_net *net, const char *kind, nk_range target,
                  const nk_source_opts *o);
int nk_source_count(const nk_net *net);
/* The kind of source k, or NULL when it was removed. */
const char *nk_source_kind(const nk_net *net, int k);
/* Neurons the source drives (all parts). */
int64_t nk_source_size(const nk_net *net, int k);
/* Changes a numeric option between runs: rate, weight, amplitude, start,
 * stop, from, to, frequency, phase, offset, mean, std, p. */
int nk_source_set(nk_net *net, int k, const char *name, double value);
int nk_source_get(const nk_net *net, int k, const char *name, double *value);
/* Removes source k (its index is not reused). */
int nk_source_remove(nk_net *net, int k);
/* A one-line description. */
const char *nk_source_describe(nk_net *net, int k);

/* ---- monitors ----------------------------------------------------------- */

/* Monitor kinds:
 *   spikes   every spike of the target
 *   state    variables of the target every `every` steps (a SONATA report)
 *   rate     the target's population rate (Hz) in bins of `bin` ms
 *   field    the sum or mean of one variable over the target every `every` steps
 *   output   like state, and a function is called with the values
 * Sampled monitors (state, field, output) record at the start of each step
 * whose index is a multiple of `every` (from the step they were added at),
 * before that step's update: the first row is the state at that time. */
typedef int (*nk_monitor_fn)(void *ud, double t_ms, int64_t ncols, const double *values,
                             char *err, size_t errlen);

typedef struct nk_monitor_opts {
    const char *const *vars; /* state, output: variables ("v", "exc.g"); field: one */
    int nvars;
    int every;               /* steps between samples (default 1) */
    double bin;              /* rate: bin width, ms (default 1; rounded to steps) */
    const char *op;          /* field: "sum" or "mean" (default "mean") */
    const char *name;        /* the group name in the results file (default: the
                                population's, made unique) */
    nk_monitor_fn fn;        /* output */
    void *ud;
    void (*ud_free)(void *ud);
} nk_monitor_opts;

void nk_monitor_opts_init(nk_monitor_opts *o);
extern const char *const nk_monitor_kinds[];
/* Records from the next step on. Returns the monitor index. */
int nk_monitor_add_sel(nk_net *net, const char *kind, const nk_sel *target,
                       const nk_monitor_opts *o);
int nk_monitor_add(nk_net *net, const char *kind, nk_range target);
int nk_monitor_count_all(const nk_net *net);
const char *nk_monitor_kind(const nk_net *net, int mon);
const char *nk_monitor_name(const nk_net *net, int mon);
nk_range nk_monitor_target(const nk_net *net, int mon);
/* The target's neurons (0-based within the population), n of them. */
int64_t nk_monitor_neurons(const nk_net *net, int mon, const int64_t **idx, int64_t *lo);
/* Spikes: number recorded by the monitor. */
int64_t nk_monitor_count(const nk_net *net, int mon);
/* Copies up to cap spikes (times in ms, 0-based ids within the population)
 * into the arrays (either may be NULL); returns how many were copied. */
int64_t nk_monitor_spikes(const nk_net *net, int mon, double *t_ms, int64_t *ids,
                          int64_t cap);
/* Mean firing rate of the monitored neurons over the recorded time, Hz. */
double nk_monitor_rate(const nk_net *net, int mon);
/* Recorded duration, ms. */
double nk_monitor_duration(const nk_net *net, int mon);
/* Sampled monitors (state, field, output, rate): rows so far, values per
 * row, the rows (row-major; valid until the next run), the time of row 0 and
 * the time between rows (ms). Variables: names and units. */
int64_t nk_monitor_rows(const nk_net *net, int mon, int64_t *ncols, const double **data,
                        double *t0, double *step_ms);
int nk_monitor_vars(const nk_net *net, int mon, const char *const **names,
                    const char *const **units);

/* ---- running ------------------------------------------------------------ */

typedef struct nk_run_opts {
    /* Called about every 0.25 s of wall time with the simulated time done and
     * the total of this run (ms); may be NULL. */
    void (*progress)(void *ud, double done_ms, double total_ms);
    void *ud;
    /* Polled between steps; when it becomes nonzero the run finishes the
     * current step, writes what was recorded and returns NK_EINTR. */
    volatile sig_atomic_t *interrupt;
    /* Rolling checkpoints: every checkpoint_every ms of simulated time (0:
     * none) the network is saved to checkpoint_path (each one replaces the
     * last, atomically). */
    double checkpoint_every;
    const char *checkpoint_path;
    /* Called once the network is built (and its results file open), before
     * the first step; may be NULL. */
    void (*built)(void *ud, nk_net *net);
} nk_run_opts;

/* Runs the network for ms of simulated time (rounded to whole steps),
 * continuing from where the last run stopped. Builds (code generation,
 * compilation, ring buffers, results file) on the first run and after any
 * change. Returns 0, NK_EINTR, NK_EDIVERGED (the message names population,
 * neuron, variable and step) or another error; in every case what was
 * recorded so far is kept and written to the results file. */
int nk_run(nk_net *net, double ms, const nk_run_opts *o);
/* 1 while nk_run is stepping (callbacks then may not change the structure). */
int nk_net_running(const nk_net *net);
/* Notes that the network is closed, its freeing put off until a call that
 * is running ends (the Lua binding's net:close from inside a callback):
 * nk_net_new's refusal of its results file then says so. */
void nk_net_mark_closed(nk_net *net);

/* Makes the results file of a run whose process died (PATH.part) whole
 * again: cut to its last flush and renamed to PATH (path may name either). */
int nk_results_recover(nk_ctx *ctx, const char *path);

/* ---- checkpoints -------------------------------------------------------- */

/* Saves the complete state (description, every variable, ring buffers,
 * recorded data, step; random numbers are counter-based) to path (written
 * as path.part, renamed when complete). During a run (from a callback) the
 * results file is first brought up to date. */
int nk_checkpoint(nk_net *net, const char *path);
/* Loads a checkpoint's state into net, which must be built the same way
 * (same populations, parameters, projections, sources, monitors, dt, seed);
 * else refused with the first difference named. The results file is cut
 * back to what it held at the checkpoint at the next run. */
int nk_checkpoint_apply(nk_net *net, const char *path);
/* A new network from a checkpoint (output: the results file, NULL: the
 * checkpoint's). Callback sources and output monitors come back without
 * their functions: attach them with nk_source_set_fn / nk_monitor_set_fn. */
nk_net *nk_restore(nk_ctx *ctx, const char *path, const char *output);
int nk_source_set_fn(nk_net *net, int k, nk_source_fn fn, void *ud, void (*ud_free)(void *));
int nk_monitor_set_fn(nk_net *net, int mon, nk_monitor_fn fn, void *ud, void (*ud_free)(void *));

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

/* A number as a message shows a value it refuses: the fewest significant
 * digits, 6 (as %g) or more, that read back as v, so that 1000001 is not
 * shown as 1e+06 nor 1.0000001 as 1 beside a bound of 1e6 or 1; NaN as
 * "nan". Writes buf (32 bytes hold any double) and returns it. */
const char *nk_fmt_num(double v, char *buf, size_t len);

/* vsnprintf and snprintf for messages: the same, except that a NaN printed
 * by a floating conversion (%g, %f, %e, %a) reads "nan" whatever its sign
 * (glibc prints "-nan" for the NaN of 0/0, which has its sign bit set). */
int nk_vsnprintf(char *buf, size_t len, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
int nk_snprintf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif
#endif
