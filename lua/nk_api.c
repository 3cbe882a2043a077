/* nk_api.c - the reference of the Lua API as data (see nk_api.h).
 *
 * Adding an option: add its line to the option array below. The binding
 * then accepts it, help() and the REPL know it, and
 * `nkshell scripts/gen_reference.lua > docs/reference.md` documents it
 * (the "reference" test fails until that is done). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "nk_api.h"

#include "nk/nk.h"

#define END {NULL, NULL}

/* ---- option arrays ------------------------------------------------------------------------ */

static const nk_api_opt network_opts[] = {
    {"dt", "time step, ms, > 0 (default 0.1)"},
    {"seed", "seeds every random number of the network (default 1, or --seed N)"},
    {"backend", "\"cpu\", \"cuda\" or \"auto\" (default, or --backend): CUDA when usable and "
                "the network fits in its memory, else the CPU; net.backend says which"},
    {"output", "results file (HDF5, SONATA layout); its directory must be writable (default: "
               "none)"},
    {"precision", "\"float\" (float32 state, default) or \"double\"; arithmetic is double"},
    {"threads", "CPU threads, 0..256 (default 0: one per CPU, or --threads N); results are the "
                "same bits for any number"},
    END};

static const nk_api_opt population_opts[] = {
    {"name", "the population's name (default pop1, pop2, ...)"},
    {"params", "shared parameter values, {name = value} (help(model) lists them)"},
    {"init", "initial values, {state = number | nk.uniform(lo, hi) | {one per neuron}}"},
    {"method", "solver instead of the model's: euler, midpoint, heun, rk4, rk45, "
               "exponential_euler, exact"},
    {"rtol", "rk45's relative tolerance (default 1e-6)"},
    {"atol", "rk45's absolute tolerance (default 1e-6)"},
    {"positions", "where the neurons are, um: a layout {kind = \"grid\" | \"box\" | \"sphere\" "
                  "| \"cylinder\", ...} or a list of {x, y, z}"},
    {"ids", "external ids: a list of distinct integers, or an edge list (nk.read_edges)"},
    END};

static const nk_api_opt layout_opts[] = {
    {"kind", "\"grid\", \"box\", \"sphere\" or \"cylinder\""},
    {"center", "{x, y, z}, um (default the origin)"},
    {"size", "box: {x, y, z} edge lengths, um"},
    {"spacing", "grid: {dx, dy, dz}, um"},
    {"shape", "grid: {nx, ny, nz} (default a near-cube)"},
    {"radius", "sphere, cylinder: um"},
    {"height", "cylinder: um (axis along z)"},
    END};

static const nk_api_opt connect_opts[] = {
    {"rule", "all_to_all (default), one_to_one, bernoulli (p), fixed_indegree (indegree), "
             "fixed_outdegree (outdegree), fixed_total (total), distance (p of d), shape "
             "(shape, p), list (pre, post), edges (edges)"},
    {"p", "connection probability, or an expression of d (um) for the distance rule"},
    {"indegree", "fixed_indegree: sources per target"},
    {"outdegree", "fixed_outdegree: targets per source"},
    {"total", "fixed_total: the number of synapses"},
    {"shape", "rule shape: {kind = \"sphere\" | \"box\" | \"cylinder\" | \"cone\", ...} placed "
              "at each source"},
    {"pre", "rule list: 1-based source indices"},
    {"post", "rule list: 1-based target indices"},
    {"edges", "rule edges: an edge list from nk.read_edges"},
    {"skip_unknown", "edges: leave out edges whose ids are not in the populations (default "
                     "false)"},
    {"weight", "in the synapse's unit (pA for current synapses): a number, nk.uniform, "
               "nk.normal, nk.lognormal, an expression of d, or a list (rule list); with edges "
               "it scales the file's weights"},
    {"delay", "ms, likewise; rounded to the nearest step, at least one step (default)"},
    {"synapse", "synapse model name or object (default: the target's receptors, else "
                "exp_curr)"},
    {"receptor", "the receptor on the target this feeds, a name of letters, digits and _ "
                 "(default \"exc\" for weight >= 0, else \"inh\")"},
    {"params", "synapse parameters"},
    {"allow_autapses", "self-connections when pre and post are one population (default true)"},
    {"allow_multapses", "fixed_* rules may pick a pair twice (default true)"},
    END};

static const nk_api_opt shape_opts[] = {
    {"kind", "\"sphere\", \"box\", \"cylinder\" or \"cone\""},
    {"radius", "um"},
    {"length", "cylinder, cone: length along the axis, um"},
    {"angle", "cone: half-angle, degrees"},
    {"size", "box: {x, y, z}, um"},
    {"axis", "cylinder, cone: direction (default {0, 0, 1})"},
    {"offset", "{x, y, z} from the source's position, um"},
    END};

static const nk_api_opt read_edges_opts[] = {
    {"pre", "column of source ids (name or 1-based number; default FlyWire's pre_root_id)"},
    {"post", "column of target ids (default post_root_id)"},
    {"weight", "column of weights (default syn_count)"},
    {"sign", "column of signs: +/- or a neurotransmitter name"},
    {"inhibitory", "sign values that make the weight negative (default GABA, GLUT, -, -1, "
                   "inh)"},
    {"delimiter", "field separator (default: found from the header)"},
    {"nodes", "a file of ids (root_id column) so neurons without edges exist"},
    {"threads", "threads that parse the file (default: --threads, else one per CPU)"},
    END};

static const nk_api_opt sonata_opts[] = {
    {"nodes", "node file(s), HDF5 (a path or a list)"},
    {"node_types", "node type CSV file(s)"},
    {"edges", "edge file(s), HDF5"},
    {"edge_types", "edge type CSV file(s)"},
    {"model", "neuron model for node types that name none"},
    {"synapse", "synapse model for edge types that name none"},
    END};

static const nk_api_opt region_opts[] = {
    {"kind", "\"sphere\", \"box\" or \"cylinder\" (or the first list entry)"},
    {"center", "{x, y, z}, um"},
    {"radius", "sphere, cylinder: um, > 0"},
    {"size", "box: {a, b, c}, um"},
    {"height", "cylinder: um (axis along z)"},
    {"populations", "only these populations (default: every one with positions)"},
    END};

#define WINDOW                                                                                    \
    {"start", "ms, the source acts for start <= t < stop (default 0)"},                          \
        {"stop", "ms (default math.huge)"}

#define SPIKE_INPUT                                                                               \
    {"weight", "per spike, in the synapse's unit (pA, nS or mV for delta); required"},           \
        {"synapse", "synapse model (default: the receptor's, else exp_curr)"},                    \
        {"receptor", "receptor name: letters, digits and _, not starting with a digit (default "  \
                     "\"exc\" for weight >= 0, else \"inh\")"},                                   \
        {"params", "synapse parameters"}, WINDOW

static const nk_api_opt poisson_opts[] = {
    {"rate", "Hz per neuron; required"}, SPIKE_INPUT, END};
static const nk_api_opt bernoulli_opts[] = {
    {"p", "probability of a spike per step; required"}, SPIKE_INPUT, END};
static const nk_api_opt spike_times_opts[] = {
    {"times", "{t, ...} for every target, or one list per target neuron; required"}, SPIKE_INPUT,
    END};

static const nk_api_opt dc_opts[] = {{"amplitude", "pA"}, WINDOW, END};
static const nk_api_opt step_opts[] = {
    {"times", "ms, strictly increasing"},
    {"amplitudes", "pA, one per time"},
    WINDOW,
    END};
static const nk_api_opt ramp_opts[] = {
    {"from", "pA at start"}, {"to", "pA at stop (stop must be finite)"}, WINDOW, END};
static const nk_api_opt ac_opts[] = {
    {"amplitude", "pA"},
    {"frequency", "Hz"},
    {"phase", "degrees (default 0)"},
    {"offset", "pA (default 0)"},
    WINDOW,
    END};
static const nk_api_opt noise_opts[] = {
    {"mean", "pA"},
    {"std", "pA"},
    {"interval", "ms between new draws (default dt)"},
    WINDOW,
    END};
static const nk_api_opt array_opts[] = {
    {"values", "rows of pA: one value per target neuron, or one for all"},
    {"file", "an HDF5 file of rows (Neurokernel's /I/data, /array, or dataset)"},
    {"dataset", "the dataset in file"},
    {"interval", "ms per row (default dt)"},
    {"after", "after the last row: \"zero\" (default) or \"hold\""},
    WINDOW,
    END};
static const nk_api_opt equation_opts[] = {
    {"I", "pA, an expression of t, i, N, x, y, z, dt, rand(), randn()"}, WINDOW, END};
static const nk_api_opt callback_opts[] = {
    {"fn", "function(t) returning one number or one per target neuron (pA)"},
    {"every", "steps between calls (default 1)"},
    WINDOW,
    END};
static const nk_api_opt global_opts[] = {
    {"I", "pA, an expression of t, dt, pi, e"},
    {"amplitude", "pA (sine form)"},
    {"frequency", "Hz"},
    {"phase", "degrees"},
    {"offset", "pA"},
    WINDOW,
    END};

static const nk_api_opt spikes_monitor_opts[] = {END};
static const nk_api_opt state_monitor_opts[] = {
    {"vars", "a state name or a list (\"v\", \"exc.isyn\" for a receptor's state)"},
    {"every", "steps between rows (default 1)"},
    {"name", "name in the results file (default the population's)"},
    END};
static const nk_api_opt rate_monitor_opts[] = {
    {"bin", "ms, a whole number of steps (default 1)"},
    {"name", "name in the results file"},
    END};
static const nk_api_opt field_monitor_opts[] = {
    {"var", "the variable"},
    {"vars", "the same, as a one-entry list"},
    {"op", "\"mean\" (default) or \"sum\" over the target"},
    {"every", "steps between rows (default 1)"},
    {"name", "name in the results file"},
    END};
static const nk_api_opt output_monitor_opts[] = {
    {"vars", "a state name or a list"},
    {"every", "steps between calls (default 1)"},
    {"fn", "function(t, values) called at each sample"},
    {"name", "name in the results file"},
    END};

static const nk_api_opt run_opts[] = {
    {"progress", "show progress on the terminal (default: when stderr is a terminal and the run "
                 "takes over a second)"},
    {"checkpoint_every", "ms between rolling checkpoints (NAME.ckpt.h5)"},
    {"checkpoint", "file of the rolling checkpoint (default from the output's name)"},
    {"profile", "time this run's phases (net:profile() shows them)"},
    END};

static const nk_api_opt restore_opts[] = {
    {"output", "results file of the restored network (default: the checkpointed network's own, which the restored one goes on writing, cut back to the checkpoint; refused when a file of that name is another run's; it may not be the checkpoint file itself)"}, END};

static const nk_api_opt read_opts[] = {
    {"max_values", "refuse datasets larger than this many values (default 50 million)"}, END};

static const nk_api_opt model_opts[] = {
    {"name", "letters, digits and _ (required)"},
    {"kind", "\"neuron\" (default) or \"synapse\""},
    {"doc", "a one-line description"},
    {"params", "{name = value | {value, \"unit\", range = ...}} or model syntax text"},
    {"states", "the same; a value may be a parameter's name"},
    {"equations", "a string or a list: \"dv/dt = ... : mV\", \"y = ...\""},
    {"threshold", "expression, e.g. \"v > v_thresh\""},
    {"reset", "a string or a list of assignments"},
    {"refractory", "ms, or an expression"},
    {"on_pre", "synapses: what a spike does (\"g += w\")"},
    {"current", "synapses: the current into the neuron"},
    {"graded", "synapses: graded transmission, an expression of the presynaptic state"},
    {"receptors", "neurons: default receptors, {exc = \"exp_cond(tau_syn = 2)\", ...}"},
    {"aliases", "{V_m = \"v\", ...}"},
    {"method", "solver: euler, midpoint, heun, rk4, rk45, exponential_euler, exact"},
    {"max_dt", "largest internal step, ms"},
    {"replace", "true to redefine an existing model"},
    END};

#define PLOT_COMMON                                                                              \
    {"width", "figure width: pixels (PNG) or points (SVG, PDF), default 800; in a preview, "     \
              "columns (default the terminal's)"},                                                \
        {"height", "figure height (default 500); in a preview, rows (default 12)"},             \
        {"title", "the title (\"\" for none)"},                                                  \
        {"xlim", "{min, max}: the time window shown, ms"},                                      \
        {"ylim", "{min, max}: the y range shown"},                                              \
        {"xlabel", "x axis label (default \"time (ms)\")"},                                     \
        {"ylabel", "y axis label (default from the data and its unit)"},                        \
        {"font_size", "tick label size, pixels or points (default 12, scaled with the size)"},  \
        {"grid", "light grid lines at the ticks (default false)"}

static const nk_api_opt raster_opts[] = {PLOT_COMMON, END};
static const nk_api_opt trace_opts[] = {
    PLOT_COMMON,
    {"var", "the variable, when the monitor records several"},
    {"neurons", "which monitored neurons, positions within the monitor (default the first 10)"},
    END};
static const nk_api_opt rate_opts[] = {
    PLOT_COMMON, {"bin", "ms per bin for spike monitors (default 5)"}, END};

static const nk_api_opt sandbox_opts[] = {
    {"ms", "how long, ms (default 100)"},
    {"n", "neurons (default 1)"},
    {"dt", "time step, ms (default 0.025)"},
    {"amplitude", "a dc step of this many pA (default: enough to make the model fire)"},
    {"start", "ms, when the step starts (default 10)"},
    {"stop", "ms, when it ends (default ms - 10)"},
    {"stimulus", "instead of the step: {kind, options} of any current source, e.g. {\"ac\", "
                 "amplitude = 100, frequency = 10}"},
    {"params", "model parameters"},
    {"init", "initial values"},
    {"vars", "states to record (default the model's first)"},
    {"plot", "preview on the terminal (default true) or a file name (png, svg, pdf)"},
    {"quiet", "print nothing, only return the result (default false)"},
    END};

/* ---- entries ---------------------------------------------------------------------------- */

#define SRC(k, u, d, o) {"net:source", k, u, d, "source", o}
#define MON(k, u, d, o) {"net:monitor", k, u, d, "monitor", o}

const nk_api_fn nk_api[] = {
    /* module */
    {"nk.network", NULL, "net = nk.network{options}",
     "A new network: populations, connections, sources and monitors, run with net:run.",
     "network", network_opts},
    {"nk.model", NULL, "m = nk.model(name) | nk.model{fields}",
     "An existing model's object, or a new model defined from its equations (docs/models.md).",
     "model", model_opts},
    {"model.name", NULL, "m.name, m.kind, m.doc",
     "A model object's name, \"neuron\" or \"synapse\", and its one-line description.",
     "model", NULL},
    {"model.fires", NULL, "m.fires, m.graded",
     "true for a model with a threshold (a spiking neuron); true for a graded synapse.",
     "model", NULL},
    {"model.params", NULL, "m.params, m.states",
     "Tables by name: a parameter's {default = value, unit = \"...\"}, a state's "
     "{unit = \"...\"}.",
     "model", NULL},
    {"model.description", NULL, "m.description",
     "The text print(m) and nk.describe(m) show.", "model", NULL},
    {"nk.models", NULL, "nk.models([kind]) -> {name, ...}",
     "The names of the models, all or of one kind (\"neuron\" or \"synapse\").", "models", NULL},
    {"nk.describe", NULL, "nk.describe(model) -> string",
     "A model written out: equations, parameters, states and solver (what print(m) shows).",
     "models", NULL},
    {"nk.sandbox", NULL, "nk.sandbox(model[, options]) -> result",
     "One neuron (or a few) of any model under a stimulus: prints its spikes and previews its "
     "trace (or draws it to a file). The result holds t, the recorded traces, spikes and the "
     "network (result.net) to go on with.",
     "sandbox", sandbox_opts},
    {"nk.uniform", NULL, "nk.uniform(lo, hi)",
     "A uniform distribution for initial values, weights and delays, drawn from the network's "
     "seed.",
     "population", NULL},
    {"nk.normal", NULL, "nk.normal(mean, sd[, min, max])",
     "A normal distribution for weights and delays, redrawn while outside [min, max].",
     "connect", NULL},
    {"nk.lognormal", NULL, "nk.lognormal(mu, sigma[, min, max])",
     "exp of a normal(mu, sigma) draw, for weights and delays.", "connect", NULL},
    {"nk.read_edges", NULL, "E = nk.read_edges(path[, options])",
     "A connectome edge list from a CSV/TSV file (FlyWire's column names by default).", "edges",
     read_edges_opts},
    {"nk.load_model", NULL, "net = nk.load_model(dir[, network options])",
     "A new network holding the model net:save_model(dir) wrote (SONATA).", "edges", NULL},
    {"nk.read", NULL, "nk.read(path[, subpath][, options]) -> table",
     "An HDF5 file's groups, datasets and attributes as Lua tables (a results file, or any "
     "HDF5 file). Ctrl-C stops a long read with an error.",
     "results", read_opts},
    {"nk.restore", NULL, "net = nk.restore(checkpoint[, options])",
     "A network continued from a checkpoint file, bit-identically.", "results", restore_opts},
    {"nk.recover", NULL, "nk.recover(path)",
     "Turns the .part file of a run that died into a whole results file.", "results", NULL},
    {"nk.memory", NULL, "nk.memory() -> {rss =, peak =}",
     "This process's resident and peak memory, bytes.", "run", NULL},
    {"nk.clock", NULL, "nk.clock() -> seconds", "A monotonic wall clock, for timing scripts.",
     "run", NULL},
    {"nk.version", NULL, "nk.version", "nkshell's version, a string.", "network", NULL},
    {"nk.plot.raster", NULL, "nk.plot.raster(m | {m, ...}[, file][, options])",
     "A spike raster of one or more spike monitors (stacked), to a .png, .svg or .pdf file, "
     "or without a file a preview on the terminal.",
     "plot", raster_opts},
    {"nk.plot.trace", NULL, "nk.plot.trace(m[, file][, options])",
     "Traces of a state, output or field monitor's variable against time.", "plot",
     trace_opts},
    {"nk.plot.rate", NULL, "nk.plot.rate(m | {m, ...}[, file][, options])",
     "The population rate (Hz) of spike monitors (binned) or rate monitors.", "plot",
     rate_opts},
    /* networks */
    {"net:population", NULL, "pop = net:population(model, n[, options])",
     "n neurons of a model (a name or an nk.model object).", "population", population_opts},
    {"net:connect", NULL, "proj = net:connect(pre, post[, options])",
     "Synapses from pre to post (populations or slices; a selection is refused, with the advice to take slices or rule `list`) by a rule; with edges of "
     "both signs it returns two projections.",
     "connect", connect_opts},
    {"net:source", NULL, "src = net:source(kind, target[, options])",
     "A current or spike input acting on target (a population, slice, selection, region or the "
     "network); the kinds follow.",
     "source", NULL},
    {"shape", NULL, "shape = {kind = \"sphere\" | \"box\" | \"cylinder\" | \"cone\", ...}",
     "The shape of net:connect's shape rule: each source connects to the targets inside it, "
     "placed at the source's position plus offset.",
     "connect", shape_opts},
    SRC("dc", "net:source(\"dc\", target, {amplitude = pA})", "A constant current.", dc_opts),
    SRC("step", "net:source(\"step\", target, {times = {...}, amplitudes = {...}})",
        "A piecewise constant current: amplitudes[k] from times[k] on.", step_opts),
    SRC("ramp", "net:source(\"ramp\", target, {from = pA, to = pA, stop = ms})",
        "A current going linearly from 'from' at start to 'to' at stop.", ramp_opts),
    SRC("ac", "net:source(\"ac\", target, {amplitude = pA, frequency = Hz})",
        "offset + amplitude sin(2 pi frequency t + phase).", ac_opts),
    SRC("noise", "net:source(\"noise\", target, {mean = pA, std = pA})",
        "A Gaussian current, redrawn every interval, independent per neuron.", noise_opts),
    SRC("array", "net:source(\"array\", target, {values = rows | file = path})",
        "Rows of currents from Lua or an HDF5 file, one row per interval.", array_opts),
    SRC("equation", "net:source(\"equation\", target, {I = \"expression\"})",
        "A current computed per neuron and step from an expression.", equation_opts),
    SRC("callback", "net:source(\"callback\", target, {fn = function(t) ... end})",
        "A current a Lua function returns, called every 'every' steps.", callback_opts),
    SRC("global", "net:source(\"global\", {I = \"expression\" | amplitude =, frequency =})",
        "The same current for every neuron of the network.", global_opts),
    SRC("poisson", "net:source(\"poisson\", target, {rate = Hz, weight = w})",
        "Independent Poisson spike trains into a receptor.", poisson_opts),
    SRC("bernoulli", "net:source(\"bernoulli\", target, {p = p, weight = w})",
        "At most one spike per step with probability p, into a receptor.", bernoulli_opts),
    SRC("spike_times", "net:source(\"spike_times\", target, {times = {...}, weight = w})",
        "Spikes at given times into a receptor.", spike_times_opts),
    {"net:monitor", NULL, "m = net:monitor(kind, target[, options])",
     "Records from one population (or a slice or selection of it); the kinds follow.",
     "monitor", NULL},
    MON("spikes", "net:monitor(\"spikes\", target)", "Every spike of the target's neurons.",
        spikes_monitor_opts),
    MON("state", "net:monitor(\"state\", target, {vars = {...}, every = steps})",
        "State variables of every target neuron every 'every' steps.", state_monitor_opts),
    MON("rate", "net:monitor(\"rate\", target, {bin = ms})",
        "The target's mean rate (Hz) per bin.", rate_monitor_opts),
    MON("field", "net:monitor(\"field\", target, {var = name, op = \"mean\"})",
        "The mean or sum of one variable over the target.", field_monitor_opts),
    MON("output", "net:monitor(\"output\", target, {vars = ..., fn = function(t, v) end})",
        "Like state, and calls fn with each sample during the run.", output_monitor_opts),
    {"net:run", NULL, "net:run(ms[, options])",
     "Runs for ms (whole steps), continuing from net.t. Ctrl-C stops at the end of the step "
     "and keeps what was recorded.",
     "run", run_opts},
    {"net:timing", NULL, "build_s, run_s = net:timing()",
     "Build seconds (code generation, compilation, buffers, results file) and run seconds of "
     "the last run.",
     "run", NULL},
    {"net:profile", NULL, "net:profile() -> table | net:profile(on)",
     "Time per phase of building and of the last profiled run; net:profile(true) profiles "
     "every run that follows.",
     "run", NULL},
    {"net:set_threads", NULL, "net:set_threads(n)",
     "CPU threads for the next runs (0: one per CPU).", "network", NULL},
    {"net:code", NULL, "net:code(pop) -> string", "The code generated for a population: C on the CPU backend, CUDA C on the CUDA backend.",
     "run", NULL},
    {"net:populations", NULL, "net:populations() -> {pop, ...}", "The network's populations.",
     "network", NULL},
    {"net:projections", NULL, "net:projections() -> {proj, ...}",
     "The network's projections.", "network", NULL},
    {"net:sources", NULL, "net:sources() -> {src, ...}",
     "The network's sources, by number (removed ones included).", "source", NULL},
    {"net:monitors", NULL, "net:monitors() -> {m, ...}", "The network's monitors.", "monitor",
     NULL},
    {"net:region", NULL, "sel = net:region{kind, options}",
     "The neurons whose positions lie in a sphere, box or cylinder.", "space", region_opts},
    {"net:checkpoint", NULL, "net:checkpoint(path)",
     "Writes the network's complete state; nk.restore continues from it.", "results", NULL},
    {"net:save_model", NULL, "net:save_model(dir)",
     "Writes the model (populations, connections) as SONATA files.", "edges", NULL},
    {"net:load_sonata", NULL, "net:load_sonata(dir | options)",
     "Adds the populations and connections of a SONATA model.", "edges", sonata_opts},
    {"net:load_gexf", NULL, "net:load_gexf(path) -> table",
     "Adds the neurons and synapses of a Neurokernel GEXF file.", "edges", NULL},
    {"net:close", NULL, "net:close()", "Frees the network; its objects then refuse politely.",
     "network", NULL},
    {"net.t", NULL, "net.t", "Simulated time so far, ms.", "network", NULL},
    {"net.dt", NULL, "net.dt", "The time step, ms.", "network", NULL},
    {"net.seed", NULL, "net.seed", "The network's seed.", "network", NULL},
    {"net.backend", NULL, "net.backend", "The backend it runs on: \"cpu\" or \"cuda\".",
     "network", NULL},
    {"net.output", NULL, "net.output", "The results file, or nil.", "network", NULL},
    {"net.threads", NULL, "net.threads", "The most threads a run uses.", "network", NULL},
    /* populations */
    {"pop:slice", NULL, "pop:slice(a, b)", "Neurons a..b (1-based, inclusive).", "population",
     NULL},
    {"pop:select", NULL, "pop:select{i, j, ...}", "Those neurons, in any order.", "population",
     NULL},
    {"pop:get", NULL, "pop:get(var, i)", "State variable var of neuron i.", "population", NULL},
    {"pop:set", NULL, "pop:set{var = value, ...}",
     "Sets states of every neuron of the population or slice: a number, nk.uniform(lo, hi), "
     "or a list with one number per neuron.",
     "population", NULL},
    {"pop:param", NULL, "pop:param(name)", "A parameter's value.", "population", NULL},
    {"pop:place", NULL, "pop:place(positions)",
     "Places the neurons: a layout table (below) or a list of {x, y, z}.", "space", NULL},
    {"positions", NULL, "positions = {kind = \"grid\" | \"box\" | \"sphere\" | \"cylinder\", ...}",
     "A layout, for net:population's positions option and pop:place; random positions are "
     "drawn from the network's seed.",
     "space", layout_opts},
    {"pop:positions", NULL, "pop:positions() -> {{x, y, z}, ...}", "The neurons' positions, um.",
     "space", NULL},
    {"pop:ids", NULL, "pop:ids() -> {id, ...}", "The neurons' external ids.", "edges", NULL},
    {"pop:index_of", NULL, "pop:index_of(id) -> i | nil",
     "The 1-based index of the neuron with external id id.", "edges", NULL},
    {"pop.name", NULL, "pop.name", "The population's name.", "population", NULL},
    {"pop.size", NULL, "pop.size (also #pop)", "The number of neurons.", "population", NULL},
    {"pop.model", NULL, "pop.model", "The model's name.", "population", NULL},
    {"pop.first", NULL, "pop.first, pop.last",
     "The slice's first and last neuron in its population (1-based).", "population", NULL},
    /* projections */
    {"proj:synapses", NULL, "proj:synapses() -> {pre =, post =, weight =, delay =}",
     "The synapses as lists (1-based neurons, ms), by source then target.", "connect", NULL},
    {"proj.size", NULL, "proj.size (also #proj)", "The number of synapses.", "connect", NULL},
    {"proj.pre", NULL, "proj.pre, proj.post, proj.synapse, proj.receptor, proj.params",
     "Its source and target, synapse model, receptor and parameters.", "connect", NULL},
    /* edge lists */
    {"E:ids", NULL, "E:ids() -> {id, ...}", "The distinct neuron ids, sorted.", "edges", NULL},
    {"E:get", NULL, "E:get(k) -> pre, post, weight", "Edge k (1-based).", "edges", NULL},
    {"E:free", NULL, "E:free()", "Frees the edge list now.", "edges", NULL},
    {"E.count", NULL, "E.count (also #E)", "The number of edges.", "edges", NULL},
    {"E.nids", NULL, "E.nids", "The number of distinct neuron ids (the length of E:ids()).",
     "edges", NULL},
    /* selections */
    {"sel:neurons", NULL, "sel:neurons() -> {population = {i, ...}}",
     "The selected neurons, 1-based per population.", "space", NULL},
    {"sel:parts", NULL, "sel:parts() -> {sel, ...}", "One selection per population.", "space",
     NULL},
    /* sources */
    {"src:set", NULL, "src:set{options}",
     "Changes options between runs (amplitude, rate, weight, start, stop, ...).", "source",
     NULL},
    {"src:remove", NULL, "src:remove()", "The source stops acting.", "source", NULL},
    {"src:set_fn", NULL, "src:set_fn(fn)", "A restored callback source's function.", "source",
     NULL},
    {"src.kind", NULL, "src.kind, src.size",
     "The source's kind (\"dc\", \"poisson\", ...) and the number of neurons it drives.",
     "source", NULL},
    {"src.<option>", NULL, "src.<option>",
     "The value of an option of its kind (src.amplitude, src.rate, ...): start, stop and "
     "those src:set can change. Another name is an error that lists the ones it has.",
     "source", NULL},
    /* monitors */
    {"m:count", NULL, "m:count()", "Spikes recorded.", "monitor", NULL},
    {"m:times", NULL, "m:times() -> {t, ...}", "Spike times or sample times, ms.", "monitor",
     NULL},
    {"m:ids", NULL, "m:ids() -> {i, ...}",
     "The neuron of each spike, 1-based in the population.", "monitor", NULL},
    {"m:rate", NULL, "m:rate() -> Hz", "The mean rate since the monitor was added.", "monitor",
     NULL},
    {"m:values", NULL, "m:values([var]) -> rows",
     "Recorded rows (state, output), Hz per bin (rate) or one number per row (field).",
     "monitor", NULL},
    {"m:trace", NULL, "m:trace([var, ]j) -> {v, ...}",
     "The j-th monitored neuron over time.", "monitor", NULL},
    {"m:neurons", NULL, "m:neurons() -> {i, ...}",
     "The monitored neurons, 1-based in the population.", "monitor", NULL},
    {"m:set_fn", NULL, "m:set_fn(fn)", "A restored output monitor's function.", "monitor", NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const nk_api_fn *nk_api_find(const char *name, const char *kind)
{
    for (const nk_api_fn *f = nk_api; f->name; f++)
        if (!strcmp(f->name, name) &&
            (kind ? f->kind && !strcmp(f->kind, kind) : f->kind == NULL))
            return f;
    return NULL;
}

const nk_api_opt *nk_api_opts(const char *name, const char *kind)
{
    const nk_api_fn *f = nk_api_find(name, kind);
    if (!f || !f->opts) {
        fprintf(stderr, "nkshell: internal error: no options listed for %s%s%s\n", name,
                kind ? " " : "", kind ? kind : "");
        abort();
    }
    return f->opts;
}

int nk_api_error(lua_State *L, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    nk_vsnprintf(msg, sizeof msg, fmt, ap); /* a NaN as "nan" (nk.h) */
    va_end(ap);
    luaL_where(L, 1);
    lua_pushstring(L, msg);
    lua_concat(L, 2);
    return lua_error(L);
}

/* Raises an error when table idx has a key not among the options listed
 * (lua/nk_api.c: the same list help() and the reference print). */
void nk_api_check(lua_State *L, int idx, const char *fname, const nk_api_opt *opts)
{
    const char *allowed[64];
    int n = 0;
    while (opts[n].name && n < 63) {
        allowed[n] = opts[n].name;
        n++;
    }
    allowed[n] = NULL;
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            nk_api_error(L, "%s: option names must be strings, got a %s key", fname,
                       luaL_typename(L, -1));
        }
        const char *k = lua_tostring(L, -1);
        int found = 0;
        for (int j = 0; j < n && !found; j++)
            found = !strcmp(allowed[j], k);
        if (!found) {
            if (n == 0)
                nk_api_error(L, "%s takes no options (got '%s')", fname, k);
            const char *s = nk_suggest(k, allowed, n);
            for (int j = 0; !s && j < n && strlen(k) >= 2; j++)
                if (!strncmp(allowed[j], k, strlen(k)))
                    s = allowed[j];
            if (s)
                nk_api_error(L, "unknown option '%s' for %s (did you mean '%s'?)", k, fname, s);
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (int j = 0; j < n; j++) {
                if (j)
                    luaL_addstring(&b, ", ");
                luaL_addstring(&b, allowed[j]);
            }
            luaL_pushresult(&b);
            nk_api_error(L, "unknown option '%s' for %s (expected one of: %s)", k, fname,
                       lua_tostring(L, -1));
        }
    }
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    if (v) {
        lua_pushstring(L, v);
        lua_setfield(L, -2, k);
    }
}

void nk_api_push(lua_State *L)
{
    int n = 0;
    while (nk_api[n].name)
        n++;
    lua_createtable(L, n, 0);
    for (int k = 0; k < n; k++) {
        const nk_api_fn *f = &nk_api[k];
        lua_createtable(L, 0, 6);
        set_str(L, "name", f->name);
        set_str(L, "kind", f->kind);
        set_str(L, "usage", f->usage);
        set_str(L, "doc", f->doc);
        set_str(L, "topic", f->topic);
        if (f->opts) {
            lua_newtable(L);
            for (int j = 0; f->opts[j].name; j++) {
                lua_createtable(L, 0, 2);
                set_str(L, "name", f->opts[j].name);
                set_str(L, "doc", f->opts[j].doc);
                lua_rawseti(L, -2, j + 1);
            }
            lua_setfield(L, -2, "options");
        }
        lua_rawseti(L, -2, k + 1);
    }
}
