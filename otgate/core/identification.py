"""Fitting first-order-plus-dead-time models from recorded data (bump tests), as in commissioning.

Given a record of an input `u` and an output `y` on a regular time grid, find gain K, time constant tau and
dead time theta such that the FOPDT response to the recorded input movements best explains the output's
movements (least squares). For each (tau, theta) on a grid, the unit-gain response x to the input's changes
is computed by convolution; K follows in closed form (K = x.dy / x.x); the pair with the smallest RMS error
wins. Any input signal works (a single bump, a staircase, PRBS); the output must start at rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

TAU_GRID = 90  # time constants tried, log-spaced


@dataclass(frozen=True, slots=True)
class Fit:
    gain: float
    tau_s: float
    dead_time_s: float
    rms: float  # of the output, in its units
    explained: float  # share of the output's movement the model explains (1 - SSE/SST)


def fit_fopdt(
    u: NDArray[np.float64], y: NDArray[np.float64], dt_s: float, max_dead_time_s: float, max_tau_s: float
) -> Fit:
    """The best FOPDT model from `u` to `y`, both sampled every `dt_s` seconds from rest."""
    du = np.asarray(u, dtype=float) - float(u[0])
    n = len(du)
    if n < 3 or not np.any(du):
        raise ValueError("the input never moved: nothing to identify")
    # The output's rest level: the mean before the input first moved (one noisy sample would bias K).
    first_move = int(np.argmax(du != 0.0))
    dy = np.asarray(y, dtype=float) - float(np.mean(np.asarray(y, dtype=float)[: max(first_move, 1)]))
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(du, size)
    k = np.arange(n)
    best: tuple[float, float, float, float] | None = None
    for tau in np.geomspace(max(dt_s, 1e-3), max_tau_s, TAU_GRID):
        a = math.exp(-dt_s / tau)
        impulse = (1.0 - a) * a**k
        x_full = np.fft.irfft(spectrum * np.fft.rfft(impulse, size), size)[:n]
        for delay in range(int(max_dead_time_s / dt_s) + 1):
            x = np.concatenate([np.zeros(delay), x_full[: n - delay]])
            energy = float(x @ x)
            if energy == 0.0:
                continue
            gain = float(x @ dy) / energy
            sse = float(np.sum((dy - gain * x) ** 2))
            if best is None or sse < best[0]:
                best = (sse, gain, float(tau), delay * dt_s)
    if best is None:
        raise ValueError("no model explains the record")
    sse, gain, tau, dead = best
    sst = float(dy @ dy)
    return Fit(gain, tau, dead, math.sqrt(sse / n), 1.0 - sse / sst if sst else 0.0)
