"""The JAX cost model: the square-root law as a structural prior, a small residual network for what
it misses, and a heteroscedastic head whose scale gives each order its own interval.

    mean  = x·prior + tanh(z·W1 + b1)·w2 + b2        (x: the linear design; z: standardised inputs)
    scale = exp(z·v + c)
    loss  = mean over orders of log scale + ½((y − mean)/scale)² + λ·(‖W1‖² + ‖w2‖²)

trained with optax's Adam on the window's earlier days (full batch), the prior fixed at the
square-root law's least-squares fit. The 85% interval is mean + [q7.5, q92.5]·scale with the
quantiles of the standardised training residual. The arrays go into a "network" bundle the
service runs in numpy (`serving.model.network_forward`).
"""

from __future__ import annotations

import numpy as np

from analytics_platform.serving.model import network_forward

HIDDEN = 16
STEPS = 600
LEARNING_RATE = 0.01
L2 = 1e-3
SEED = 0


def train_network(
    x: np.ndarray, inputs: np.ndarray, y: np.ndarray, prior: np.ndarray
) -> dict[str, np.ndarray]:
    """The network's arrays, fitted to (x, inputs) → y with `prior` as the linear mean."""
    import jax  # noqa: PLC0415  (JAX loads on first use, never with the code location)
    import jax.numpy as jnp  # noqa: PLC0415
    import optax  # noqa: PLC0415

    mean_in, std_in = inputs.mean(axis=0), inputs.std(axis=0)
    std_in = np.where(std_in > 0, std_in, 1.0)
    z = jnp.asarray((inputs - mean_in) / std_in)
    base = jnp.asarray(x @ prior)
    target = jnp.asarray(y)
    k1, k2 = jax.random.split(jax.random.PRNGKey(SEED))
    width = z.shape[1]
    scale0 = float(np.log(np.std(y - x @ prior) + 1e-9))
    params = {
        "w1": jax.random.normal(k1, (width, HIDDEN)) * 0.1,
        "b1": jnp.zeros(HIDDEN),
        "w2": jax.random.normal(k2, (HIDDEN,)) * 0.1,
        "b2": jnp.zeros(()),
        "v": jnp.zeros(width),
        "c": jnp.asarray(scale0),
    }

    def loss(p):
        mean = base + jnp.tanh(z @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
        log_scale = z @ p["v"] + p["c"]
        nll = log_scale + 0.5 * ((target - mean) / jnp.exp(log_scale)) ** 2
        return nll.mean() + L2 * (jnp.sum(p["w1"] ** 2) + jnp.sum(p["w2"] ** 2))

    optimiser = optax.adam(LEARNING_RATE)
    state = optimiser.init(params)

    @jax.jit
    def step(p, s):
        grads = jax.grad(loss)(p)
        updates, s = optimiser.update(grads, s, p)
        return optax.apply_updates(p, updates), s

    for _ in range(STEPS):  # optimiser steps, not rows
        params, state = step(params, state)
    arrays = {name: np.asarray(value, dtype=float) for name, value in params.items()}
    arrays.update(prior=prior.astype(float), input_mean=mean_in, input_std=std_in)
    return arrays


def standardised_residuals(
    arrays: dict[str, np.ndarray], x: np.ndarray, inputs: np.ndarray, y: np.ndarray
) -> np.ndarray:
    mean, scale = network_forward(arrays, x, inputs)
    return (y - mean) / scale
