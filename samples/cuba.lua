-- samples/cuba.lua: the Vogels & Abbott (2005) current-based network (CUBA),
-- with the parameters of Brian2's CUBA example converted to nkshell's units.
--
--   nkshell samples/cuba.lua [OUTPUT.h5] [DURATION_MS]
--
-- 4000 leaky integrate-and-fire neurons, 3200 excitatory and 800 inhibitory,
-- each pair connected with probability 2 %, exponential current synapses
-- (tau 5 ms excitatory, 10 ms inhibitory). As in Brian2's example, the 4000
-- are one population and the excitatory and inhibitory neurons are slices of
-- it (neurons 1-3200 and 3201-4000): the two kinds share their model and
-- parameters, and one population is updated in one pass with two
-- projections to deliver, where two populations take two passes and four
-- projections (docs/performance.md measures the difference). States are
-- stored in double precision, as Brian2 stores them (nkshell computes in
-- double either way; float, the default, halves the memory a state takes). Brian2 writes the synaptic input in
-- mV (ge, gi) with dv/dt = (ge + gi - (v - El))/taum; here it is a current in
-- pA through a membrane of C_m = 200 pF and tau_m = 20 ms (R = 100 MOhm), so
-- Brian2's we = 1.62 mV is 16.2 pA and wi = -9 mV is -90 pA. The resting
-- potential El = -49 mV lies above threshold (-50 mV): the network fires on
-- its own. Delays are one step (Brian2's CUBA has none: its input acts from
-- the next step, as one step of delay does here).

local output = arg and arg[1] or "cuba.h5"
local duration = tonumber(arg and arg[2]) or 1000

local lif = {tau_m = 20, C_m = 200, v_rest = -49, v_reset = -60, v_thresh = -50, t_ref = 5}
local init = {v = nk.uniform(-60, -50)}   -- Brian2: Vr + rand() * (Vt - Vr)

local t0 = nk.clock()
local net = nk.network{dt = 0.1, output = output,   -- seed: 1, or --seed N
                       precision = "double"}
local neurons = net:population("lif", 4000, {name = "neurons", params = lif, init = init})
local exc, inh = neurons:slice(1, 3200), neurons:slice(3201, 4000)

net:connect(exc, neurons, {rule = "bernoulli", p = 0.02, weight = 16.2, delay = 0.1,
                           synapse = "exp_curr", receptor = "exc", params = {tau_syn = 5}})
net:connect(inh, neurons, {rule = "bernoulli", p = 0.02, weight = -90, delay = 0.1,
                           synapse = "exp_curr", receptor = "inh", params = {tau_syn = 10}})

-- the results file holds the spikes of all 4000 in /spikes/neurons
local sp_exc = net:monitor("spikes", exc)
local sp_inh = net:monitor("spikes", inh)

local construct_s = nk.clock() - t0
print(net)
net:run(duration)
local build_s, run_s = net:timing()

print(string.format("simulated %g ms of %d neurons on the %s backend",
                    duration, #exc + #inh, net.backend))
print(string.format("  exc: %d spikes, %.2f Hz", sp_exc:count(), sp_exc:rate()))
print(string.format("  inh: %d spikes, %.2f Hz", sp_inh:count(), sp_inh:rate()))
print(string.format("  construction %.3f s (populations, connectivity)", construct_s))
print(string.format("  build %.3f s (code generation, compilation, buffers, results file)", build_s))
print(string.format("  run %.3f s (%.3f s per simulated second)", run_s, run_s / (duration / 1000)))
print("  results: " .. output)
