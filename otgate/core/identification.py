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


TWO_TERM_TAUS = 30  # time constants tried per term in the two-term fit, log-spaced
COLLINEAR = 0.999  # two candidate terms whose responses correlate closer than this are one term, not two


@dataclass(frozen=True, slots=True)
class TwoTermFit:
    """A step response drawn as the sum of two FOPDT terms (e.g. a fast negative term and a slow positive
    one: inverse response, overshoot)."""

    terms: tuple[Fit, Fit]  # each term's own rms/explained are those of the sum
    rms: float
    explained: float


def _unit_responses(
    du: NDArray[np.float64], dt_s: float, taus: NDArray[np.float64], delays: int
) -> tuple[NDArray[np.float64], list[tuple[float, float]]]:
    """Columns: the unit-gain FOPDT response to the input's changes for each (tau, dead time) candidate."""
    n = len(du)
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(du, size)
    k = np.arange(n)
    columns, labels = [], []
    for tau in taus:
        a = math.exp(-dt_s / tau)
        x_full = np.fft.irfft(spectrum * np.fft.rfft((1.0 - a) * a**k, size), size)[:n]
        for delay in range(delays + 1):
            columns.append(np.concatenate([np.zeros(delay), x_full[: n - delay]]))
            labels.append((float(tau), delay * dt_s))
    return np.array(columns).T, labels


def fit_two_fopdt(
    u: NDArray[np.float64], y: NDArray[np.float64], dt_s: float, max_dead_time_s: float, max_tau_s: float
) -> TwoTermFit:
    """The best sum of two FOPDT terms from `u` to `y`: every pair of (tau, dead time) candidates on a grid,
    the two gains by linear least squares in closed form (the 2x2 normal equations, all pairs at once)."""
    du = np.asarray(u, dtype=float) - float(u[0])
    n = len(du)
    if n < 5 or not np.any(du):
        raise ValueError("the input never moved: nothing to identify")
    first_move = int(np.argmax(du != 0.0))
    dy = np.asarray(y, dtype=float) - float(np.mean(np.asarray(y, dtype=float)[: max(first_move, 1)]))
    taus = np.geomspace(max(dt_s, 1e-3), max_tau_s, TWO_TERM_TAUS)
    x, labels = _unit_responses(du, dt_s, taus, int(max_dead_time_s / dt_s))
    gram = x.T @ x
    c = x.T @ dy
    d = np.diag(gram)
    det = d[:, None] * d[None, :] - gram**2
    # Only distinct terms: a near-collinear pair fits noise with huge opposing gains.
    usable = np.triu(det > (1.0 - COLLINEAR**2) * d[:, None] * d[None, :], 1)
    safe = np.where(usable, det, 1.0)
    g1 = (d[None, :] * c[:, None] - gram * c[None, :]) / safe
    g2 = (d[:, None] * c[None, :] - gram * c[:, None]) / safe
    explained_ss = np.where(usable, g1 * c[:, None] + g2 * c[None, :], -np.inf)
    if not np.any(usable):
        raise ValueError("no two distinct terms fit the record")
    i, j = np.unravel_index(int(np.argmax(explained_ss)), explained_ss.shape)
    sst = float(dy @ dy)
    residual = dy - g1[i, j] * x[:, i] - g2[i, j] * x[:, j]
    sse = float(residual @ residual)
    rms, share = math.sqrt(sse / n), 1.0 - sse / sst if sst else 0.0
    first = Fit(float(g1[i, j]), labels[i][0], labels[i][1], rms, share)
    second = Fit(float(g2[i, j]), labels[j][0], labels[j][1], rms, share)
    terms = (first, second) if first.tau_s <= second.tau_s else (second, first)
    return TwoTermFit(terms, rms, share)
