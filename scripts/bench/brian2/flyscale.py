"""Brian2 twin of samples/flyscale.lua: a connectome in FlyWire's shape as
leaky integrate-and-fire neurons with the parameters of Shiu et al. (2024).

    /usr/bin/python3 scripts/bench/brian2/flyscale.py --ms 200 \
        --edges EDGES.csv --neurons NEURONS.csv [--mode ...] [--threads N]

EDGES.csv: pre_root_id,post_root_id,neuropil,syn_count,nt_type (FlyWire's
columns; what nk-flyscale-gen writes); NEURONS.csv: root_id (every neuron).

The model (Shiu et al.'s Brian2 equations, as samples/flyscale.lua runs them):
    dv/dt = (g - (v - v_0))/t_mbr : volt (unless refractory)
    dg/dt = -g/tau : volt
t_mbr 20 ms, v_0 = reset = -52 mV (v starts there), threshold -45 mV,
refractory 2.2 ms for every neuron, tau 5 ms, exponential Euler (nkshell's
lif solver: v exact over the step with g held, g decaying exactly). One
synapse per row of the table (a pair listed in two neuropils is two
synapses, as nk.read_edges keeps it), w = 0.275 mV * syn_count, negative when
nt_type is GABA or GLUT. Neurons are numbered by sorted root id, as nkshell's.

The drive: the same 30 neurons as samples/flyscale.lua, picked the same way
(the root ids at positions 1, 1 + n//30, 1 + 2*(n//30), ... of NEURONS.csv in
file order), each gets a 150 Hz Poisson train whose every spike adds
w_syn * f_poi = 68.75 mV to v, discarded while the neuron is refractory
(nkshell's delta synapse). Here one PoissonGroup of 30 with one-to-one
Synapses (on_pre v += ... * int(not_refractory_post)); Shiu et al. use one
PoissonInput per neuron, the same statistics. nkshell's Poisson source may
put two spikes into one step (probability 1e-4 per step); PoissonGroup one
at most: without consequence, one spike already drives v 61 mV above threshold.

Timing: nkshell delivers a spike sent with a delay of d at the start of the
step d later, before that step's update; Brian2 applies on_pre after the
update, so its delay of d - dt is the same timing: the sample's 1.8 ms is
1.7 ms here (and nkshell's one-step delays are Brian2's no delay).
Differences that remain: Shiu et al. take the refractory period off the
driven neurons and hold g still during refractoriness and zero it at a
spike; neither twin does (see the sample's header). State is float64 here,
float32 in nkshell.

Loading: the CSV is parsed with numpy on the raw bytes (vectorised, in
32 MiB pieces; no pandas on this system, np.loadtxt is far slower): about
0.5 us per row (7.5 s for 15 million rows). Reported as "load_s"; the
Brian2 objects' construction (connect, weights) is part of build_s in
standalone mode, of "construct_s" in runtime mode.
"""
import os
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

import numpy as np  # noqa: E402

PRE_NAMES = ("pre_root_id", "pre", "source", "pre_id", "source_id", "from")
POST_NAMES = ("post_root_id", "post", "target", "post_id", "target_id", "to")
WEIGHT_NAMES = ("syn_count", "weight", "w", "count", "synapses")
SIGN_NAMES = ("nt_type", "sign", "nt", "neurotransmitter")
INHIBITORY = (b"GABA", b"GLUT")


def _column(names, wanted, what):
    low = [n.strip().strip('"').lower() for n in names]
    for w in wanted:
        if w in low:
            return low.index(w)
    raise ValueError("no %s column (expected one of %s) in the header %s" % (what, wanted, names))


def _ints(b, s, e):
    """Integers in the byte fields b[s:e] (vectorised by field length)."""
    L = e - s
    val = np.empty(s.size, np.int64)
    for ln in np.unique(L):
        rows = np.flatnonzero(L == ln)
        if ln < 1:
            raise ValueError("empty integer field")
        if ln > 18:   # beyond 18 digits int64 may overflow: do these one by one
            val[rows] = [int(bytes(b[a:z])) for a, z in zip(s[rows], e[rows])]
            continue
        d = b[s[rows][:, None] + np.arange(ln)] - np.uint8(48)
        if (d > 9).any():
            raise ValueError("a field that should be an integer is not")
        val[rows] = d @ (10 ** np.arange(ln - 1, -1, -1, dtype=np.int64))
    return val


def _parse(data, delim, nf, cols):
    """One piece of whole lines: pre, post, count (int64) and inhibitory (bool)."""
    if b'"' in data:
        data = data.replace(b'"', b"")
    b = np.frombuffer(data, np.uint8)
    dl = np.flatnonzero((b == delim) | (b == 10))
    if dl.size % nf or not (b[dl[nf - 1::nf]] == 10).all():
        raise ValueError("every row must have %d fields" % nf)
    dl = dl.reshape(-1, nf)
    starts = np.empty_like(dl)
    starts[:, 0] = np.r_[0, dl[:-1, -1] + 1]
    starts[:, 1:] = dl[:, :-1] + 1
    ends = dl.copy()
    ends[:, -1] -= (b[ends[:, -1] - 1] == 13)           # CRLF
    ipre, ipost, iw, isign = cols
    pre = _ints(b, starts[:, ipre], ends[:, ipre])
    post = _ints(b, starts[:, ipost], ends[:, ipost])
    cnt = _ints(b, starts[:, iw], ends[:, iw])
    s, e = starts[:, isign], ends[:, isign]
    word = np.zeros(s.size, np.uint32)
    for k in range(4):                                   # first 4 bytes, upper case
        word = (word << 8) | (b[np.minimum(s + k, b.size - 1)] & 0xDF).astype(np.uint32)
    inh = np.zeros(s.size, bool)
    for name in INHIBITORY:
        inh |= (e - s == len(name)) & (word == int.from_bytes(name, "big"))
    return pre, post, cnt, inh


def read_edges(path, piece=1 << 25):
    with open(path, "rb") as f:
        header = f.readline()
        text = header.decode().rstrip("\r\n")
        delim = "\t" if "\t" in text else "," if "," in text else ";" if ";" in text else None
        if delim is None:
            raise ValueError("%s: cannot tell the delimiter from the header" % path)
        names = text.split(delim)
        cols = (_column(names, PRE_NAMES, "pre"), _column(names, POST_NAMES, "post"),
                _column(names, WEIGHT_NAMES, "weight"), _column(names, SIGN_NAMES, "sign"))
        out, rest = [], b""
        while True:
            data = f.read(piece)
            if not data:
                if rest.strip():
                    out.append(_parse(rest + b"\n", ord(delim), len(names), cols))
                break
            data = rest + data
            k = data.rfind(b"\n")
            if k < 0:
                rest = data
                continue
            rest = data[k + 1:]
            out.append(_parse(data[:k + 1], ord(delim), len(names), cols))
    if not out:
        return (np.zeros(0, np.int64),) * 3 + (np.zeros(0, bool),)
    return tuple(np.concatenate(c) for c in zip(*out))


def read_nodes(path):
    """root ids in file order (the root_id column, else the first)."""
    with open(path) as f:
        lines = f.read().split("\n")
    first = lines[0].strip()
    delim = "\t" if "\t" in first else "," if "," in first else None
    col = 0
    body = lines
    if not first.split(delim)[0].strip().lstrip("-").isdigit():   # a header
        names = [n.strip().strip('"').lower() for n in first.split(delim)]
        col = names.index("root_id") if "root_id" in names else 0
        body = lines[1:]
    ids = []
    for line in body:
        line = line.strip()
        if line and not line.startswith("#"):
            ids.append(int(line.split(delim)[col].strip().strip('"')))
    return np.array(ids, dtype=np.int64)


p = common.parser("flyscale", __doc__)
p.add_argument("--edges", required=True, help="edges CSV (FlyWire's columns)")
p.add_argument("--neurons", required=True, help="neurons CSV (root_id)")
args = p.parse_args()

t0 = time.perf_counter()
pre_id, post_id, syn_count, inhibitory = read_edges(args.edges)
node_ids = read_nodes(args.neurons)
load_s = time.perf_counter() - t0


def index(ids, x):
    """Positions of x in the sorted ids, or None when one is missing."""
    k = np.searchsorted(ids, x)
    ok = k < ids.size
    ok[ok] = ids[k[ok]] == x[ok]
    return k.astype(np.int32) if ok.all() else None


# neuron k is ids[k]: the sorted distinct ids of the nodes file and the edges
# (the nodes file normally lists them all: then no sort of the edges is needed)
ids = np.unique(node_ids)
pre, post = index(ids, pre_id), index(ids, post_id)
if pre is None or post is None:
    ids = np.unique(np.concatenate([node_ids, pre_id, post_id]))
    pre, post = index(ids, pre_id), index(ids, post_id)
N = int(ids.size)
# The driven neurons: samples/flyscale.lua's ids[1 + (k - 1)*(#ids // 30)], k = 1..30.
n_driven_wanted = 30
step = node_ids.size // n_driven_wanted
driven = []
for k in range(n_driven_wanted):
    i = int(np.searchsorted(ids, node_ids[k * step]))
    if i not in driven:
        driven.append(i)
load_s = time.perf_counter() - t0
common.log("connectome: %d neurons, %d rows, read in %.2f s" % (N, pre.size, load_s))

bench = common.Bench("flyscale", args)
from brian2 import (Network, NeuronGroup, PoissonGroup, Synapses, SpikeMonitor, collect,  # noqa: E402
                    Hz, ms, mV, volt)

t_mbr, tau = 20 * ms, 5 * ms
v_0 = v_rst = -52 * mV
v_th = -45 * mV
t_rfc = 2.2 * ms
w_syn = 0.275 * mV
f_poi, r_poi = 250, 150 * Hz

t1 = time.perf_counter()
eqs = """
dv/dt = (g - (v - v_0))/t_mbr : volt (unless refractory)
dg/dt = -g/tau : volt
"""
neu = NeuronGroup(N, eqs, threshold="v > v_th", reset="v = v_rst", refractory=t_rfc,
                  method="exponential_euler")
neu.v = v_0
syn = Synapses(neu, neu, "w : volt", on_pre="g += w", delay=1.7 * ms)
syn.connect(i=pre, j=post)
syn.w = np.where(inhibitory, -1.0, 1.0) * syn_count * float(w_syn) * volt
poi = PoissonGroup(len(driven), rates=r_poi)
drive = Synapses(poi, neu, on_pre="v_post += w_syn*f_poi*int(not_refractory_post)")
drive.connect(i=np.arange(len(driven)), j=np.array(driven))
sp = SpikeMonitor(neu)
construct_s = time.perf_counter() - t1

bench.run(args.ms, Network(collect()), globals())
sec = args.ms / 1000.0
counts = np.bincount(np.asarray(sp.i[:]), minlength=N)
is_driven = np.zeros(N, bool)
is_driven[driven] = True
others = counts[~is_driven]
active = int((others > 0).sum())
driven_hz = counts[is_driven].sum() / len(driven) / sec
common.log("%d spikes; driven (%d neurons, 150 Hz Poisson): %.1f Hz; others: %d of %d fired, "
           "%.1f Hz among those" % (counts.sum(), len(driven), driven_hz, active, N - len(driven),
                                    others.sum() / max(active, 1) / sec))
bench.report(N, int(pre.size), int(counts.sum()), args.ms, load_s=round(load_s, 3),
             events=int((np.bincount(np.asarray(pre), minlength=N) * counts).sum()),
             construct_s=round(construct_s, 3), rows=int(pre.size), driven=len(driven),
             driven_hz=round(float(driven_hz), 3), others_active=active,
             others_hz=round(float(others.sum() / max(active, 1) / sec), 3))
