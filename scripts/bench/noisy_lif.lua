-- scripts/bench/noisy_lif.lua: 4000 leaky integrate-and-fire neurons driven
-- by white noise alone (an Ornstein-Uhlenbeck membrane: no synapses), the
-- benchmark suite's model of a normal draw per neuron and step. Its Brian2
-- twin is scripts/bench/brian2/noisy_lif.py.
--
--   nkshell scripts/bench/noisy_lif.lua [OUTPUT.h5] [DURATION_MS]
--
-- dv = (mu - v)/tau dt + sigma sqrt(2/tau) dW, Euler-Maruyama (Brian2's
-- `xi` with method "euler"): xi = randn() once per step, divided by
-- sqrt(dt) so that one Euler step adds sigma sqrt(2 dt / tau) xi. The mean
-- mu = -52 mV lies below the threshold (-50 mV): the neurons fire from the
-- noise (about 50 Hz). Work: 4000 neurons x 10,000 steps per simulated
-- second, each a Philox block, a logarithm, a cosine and a square root.

local output = arg and arg[1] or "noisy_lif.h5"
local duration = tonumber(arg and arg[2]) or 1000

nk.model{name = "noisy_lif", kind = "neuron", states = {v = -60},
         params = {tau = 10, sigma = 5, mu = -52, v_thresh = -50, v_reset = -60},
         equations = [[
           xi = randn() : 1 (constant over dt)
           dv/dt = (mu - v)/tau + sigma*sqrt(2/tau)*xi/sqrt(dt) : mV (unless refractory)
         ]],
         threshold = "v > v_thresh", reset = "v = v_reset", refractory = 2}

local net = nk.network{dt = 0.1, output = output, precision = "double"}
local p = net:population("noisy_lif", 4000, {name = "neurons", method = "euler"})
local sp = net:monitor("spikes", p)
net:run(duration)
local build_s, run_s = net:timing()
print(string.format("%d spikes, %.2f Hz; build %.3f s, run %.3f s", sp:count(), sp:rate(),
                    build_s, run_s))
