-- samples/antennal_lobe.lua: an antennal-lobe-like olfactory circuit of the
-- fly, in the spirit of Neurokernel's antennal lobe LPU: olfactory receptor
-- neurons (ORNs) grouped by receptor type into glomeruli, uniglomerular
-- projection neurons (PNs) and multiglomerular inhibitory local neurons
-- (LNs); an odour that activates some receptor types; and what lateral
-- inhibition through the LNs does to the PNs' response.
--
--   nkshell samples/antennal_lobe.lua [OUTPUT.h5] [DURATION_MS]
--
-- The circuit (a sketch of Drosophila's, after Wilson's reviews and Olsen &
-- Wilson 2008: each ORN type converges on one glomerulus, its PNs sample
-- all of them; GABAergic LNs take input from many glomeruli and inhibit
-- across the lobe; sizes much reduced; the numbers are this sample's, not
-- fitted to data):
--
--   12 glomeruli, each with 25 ORNs of one receptor type and 3 PNs;
--   ORN -> PN of the same glomerulus: all to all, exponential current
--     synapses (40 pA, tau 5 ms), 2 ms delay;
--   16 LNs; ORN -> LN: each ORN to each LN with probability 0.25
--     (25 pA, tau 5 ms), 2 ms delay;
--   LN -> PN: every LN onto every PN of every glomerulus, inhibitory
--     (-6 pA, tau 10 ms), 1 ms delay.
--
-- Every neuron is a leaky integrate-and-fire neuron (tau_m = 10 ms, C_m =
-- 100 pF, rest and reset -60 mV, threshold -45 mV, refractory 2 ms); the
-- PNs get a bias current of 100 pA, which with their ORNs' spontaneous
-- input makes them fire at about 15 Hz at rest. An ORN fires spontaneously
-- (about 8 Hz) from a noise current (mean 120 pA, sd 80 pA, a new value
-- every ms: the transduction noise), and the odour adds a step current from
-- DURATION/3 to 2*DURATION/3 of affinity x 150 pA (an ORN at affinity 1
-- fires at about 100 Hz). The odour activates 4 of the 12 receptor types,
-- with affinities 1, 0.7, 0.45 and 0.25 (made up); the other 8 see
-- nothing. Neurokernel's antennal lobe models the odorant transduction of
-- each receptor type and uses its own neuron models; here the odour is a
-- current and every neuron is LIF.
--
-- A control circuit runs alongside, in the same network: a second set of
-- PNs (pn_ctl) that get the same ORN spikes through the same connections
-- but no LN input. Printed per glomerulus: the ORN and PN rates before the
-- odour (from 100 ms to its onset) and during it, with and without the LNs,
-- the share of the PN response (the rise in rate) that the LNs take away,
-- and the LN rates. It shows the odour's pattern across glomeruli carried
-- by the PNs, and the lateral inhibition: the LNs, silent at rest, fire
-- during the odour; the PNs of the glomeruli the odour does not activate
-- fall silent, while without the LNs they keep their rate; and the LNs
-- take a larger share of a weak response than of a strong one (a divisive
-- normalisation, as Olsen & Wilson describe).
-- The results file holds the spikes of every population (/spikes/orn, pn,
-- pn_ctl, ln; neurons in glomerulus order, 25 ORNs or 3 PNs each) and v of
-- the first PN of every glomerulus, every ms (/report/pn).

local output = arg and arg[1] or "antennal_lobe.h5"
local duration = tonumber(arg and arg[2]) or 3000
if duration < 300 then error("DURATION_MS must be at least 300 ms", 0) end

local n_glom, n_orn, n_pn, n_ln = 12, 25, 3, 16
local odour = {[2] = 1, [5] = 0.7, [9] = 0.45, [11] = 0.25}   -- glomerulus -> affinity
local on, off = duration / 3, 2 * duration / 3
local lif = {tau_m = 10, C_m = 100, v_rest = -60, v_reset = -60, v_thresh = -45, t_ref = 2}
local lif_pn = {tau_m = 10, C_m = 100, v_rest = -60, v_reset = -60, v_thresh = -45, t_ref = 2, I_e = 100}
local w_orn_pn, w_orn_ln, w_ln_pn = 40, 25, -6   -- pA

local t0 = nk.clock()
local net = nk.network{dt = 0.1, output = output}   -- seed: 1, or --seed N
local orn = net:population("lif", n_glom * n_orn, {name = "orn", params = lif})
local pn = net:population("lif", n_glom * n_pn, {name = "pn", params = lif_pn})
local pn_ctl = net:population("lif", n_glom * n_pn, {name = "pn_ctl", params = lif_pn})
local ln = net:population("lif", n_ln, {name = "ln", params = lif})

local function glom(pop, per, g) return pop:slice((g - 1) * per + 1, g * per) end

net:source("noise", orn, {mean = 120, std = 80, interval = 1})
for g, affinity in pairs(odour) do
  net:source("step", glom(orn, n_orn, g), {times = {on, off}, amplitudes = {150 * affinity, 0}})
end

local orn_pn = {rule = "all_to_all", weight = w_orn_pn, delay = 2, synapse = "exp_curr", receptor = "exc",
                params = {tau_syn = 5}}
for g = 1, n_glom do
  net:connect(glom(orn, n_orn, g), glom(pn, n_pn, g), orn_pn)
  net:connect(glom(orn, n_orn, g), glom(pn_ctl, n_pn, g), orn_pn)
end
net:connect(orn, ln, {rule = "bernoulli", p = 0.25, weight = w_orn_ln, delay = 2, synapse = "exp_curr",
                      receptor = "exc", params = {tau_syn = 5}})
net:connect(ln, pn, {rule = "all_to_all", weight = w_ln_pn, delay = 1, synapse = "exp_curr",
                     receptor = "inh", params = {tau_syn = 10}})

local sp = {orn = net:monitor("spikes", orn), pn = net:monitor("spikes", pn),
            pn_ctl = net:monitor("spikes", pn_ctl), ln = net:monitor("spikes", ln)}
local firsts = {}
for g = 1, n_glom do firsts[g] = (g - 1) * n_pn + 1 end
net:monitor("state", pn:select(firsts), {vars = "v", every = 10})
local construct_s = nk.clock() - t0

net:run(duration)
local build_s, run_s = net:timing()

-- rates (Hz) per group of `per` neurons, in [a, b) ms
local function rates(mon, per, groups, a, b)
  local r = {}
  for g = 1, groups do r[g] = 0 end
  local times, ids = mon:times(), mon:ids()
  for k = 1, #times do
    if times[k] >= a and times[k] < b then
      local g = (ids[k] - 1) // per + 1
      r[g] = r[g] + 1
    end
  end
  for g = 1, groups do r[g] = r[g] / per / ((b - a) / 1000) end
  return r
end
local pre_a, pre_b, dur_a, dur_b = 100, on, on, off
local orn0, orn1 = rates(sp.orn, n_orn, n_glom, pre_a, pre_b), rates(sp.orn, n_orn, n_glom, dur_a, dur_b)
local pn0, pn1 = rates(sp.pn, n_pn, n_glom, pre_a, pre_b), rates(sp.pn, n_pn, n_glom, dur_a, dur_b)
local ct0, ct1 = rates(sp.pn_ctl, n_pn, n_glom, pre_a, pre_b), rates(sp.pn_ctl, n_pn, n_glom, dur_a, dur_b)
local ln0, ln1 = rates(sp.ln, n_ln, 1, pre_a, pre_b)[1], rates(sp.ln, n_ln, 1, dur_a, dur_b)[1]

print(string.format("simulated %g ms of %d neurons on the %s backend; odour on %g..%g ms",
                    duration, #orn + #pn + #pn_ctl + #ln, net.backend, on, off))
print(string.format("rates in Hz, before the odour (%g..%g ms) -> during it (%g..%g ms):", pre_a, pre_b, dur_a, dur_b))
print("  glomerulus  affinity  ORN            PN (with LNs)   PN (no LNs)     response lost to the LNs")
local act, rest = {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}
local loss = {}
for g = 1, n_glom do
  local a = odour[g] or 0
  local lost = ""
  if a > 0 and ct1[g] > ct0[g] then
    loss[g] = 100 * (1 - (pn1[g] - pn0[g]) / (ct1[g] - ct0[g]))
    lost = string.format("%5.0f %%", loss[g])
  end
  print(string.format("  G%-10d %-8.2f  %5.1f -> %5.1f  %5.1f -> %5.1f   %5.1f -> %5.1f   %s",
                      g, a, orn0[g], orn1[g], pn0[g], pn1[g], ct0[g], ct1[g], lost))
  local acc = a > 0 and act or rest
  acc[1], acc[2], acc[3], acc[4], acc[5] = acc[1] + 1, acc[2] + pn0[g], acc[3] + pn1[g],
                                            acc[4] + ct0[g], acc[5] + ct1[g]
end
print(string.format("  LNs: %.1f -> %.1f Hz", ln0, ln1))
print("what it shows:")
print(string.format("  the odour's pattern: PNs of the %d activated glomeruli %.1f -> %.1f Hz (%.1f -> %.1f without LNs)",
                    act[1], act[2] / act[1], act[3] / act[1], act[4] / act[1], act[5] / act[1]))
print(string.format("  lateral inhibition: PNs of the %d others %.1f -> %.1f Hz with LNs, %.1f -> %.1f without",
                    rest[1], rest[2] / rest[1], rest[3] / rest[1], rest[4] / rest[1], rest[5] / rest[1]))
local weakest, strongest
for g, a in pairs(odour) do
  if loss[g] and (not weakest or a < odour[weakest]) then weakest = g end
  if loss[g] and (not strongest or a > odour[strongest]) then strongest = g end
end
if weakest and strongest then
  print(string.format("  and it divides: the LNs take %.0f %% of the weakest activated glomerulus' response (G%d) " ..
                      "and %.0f %% of the strongest's (G%d)", loss[weakest], weakest, loss[strongest], strongest))
end
print(string.format("  construction %.3f s, build %.3f s, run %.3f s", construct_s, build_s, run_s))
print("  results: " .. output)
