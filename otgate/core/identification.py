"""Fitting step-response models from recorded data (bump tests), as in commissioning.

Given a record of an input `u` and an output `y` on a regular time grid, find gain K, time constant tau and
dead time theta such that the FOPDT response to the recorded input movements best explains the output's
movements (least squares). For each (tau, theta) on a grid, the unit-gain response x to the input's changes
is computed by convolution; K follows in closed form (K = x.dy / x.x); the pair with the smallest RMS error
wins. Any input signal works (a single bump, a staircase, PRBS); the output must start at rest.

A response that one first-order term cannot draw is fitted as a sum of two terms (`fit_two_terms`), each
first order or, where asked, underdamped second order (a slow oscillation as a coupled plant settles).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from otgate.core.step_response import StepModel, step

TAU_GRID = 90  # time constants tried, log-spaced


@dataclass(frozen=True, slots=True)
class Fit:
    gain: float
    tau_s: float
    dead_time_s: float
    rms: float  # of the output, in its units
    explained: float  # share of the output's movement the model explains (1 - SSE/SST)
    damping: float | None = None  # an underdamped second-order term


def fit_fopdt(
    u: NDArray[np.float64], y: NDArray[np.float64], dt_s: float, max_dead_time_s: float, max_tau_s: float
) -> Fit:
    """The best FOPDT model from `u` to `y`, both sampled every `dt_s` seconds from rest."""
    # The output's rest level is the mean before the input first moved (one noisy sample would bias K).
    du, dy = _prepared(u, y, 3)
    n = len(du)
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
# Second-order candidates (`second_order=True`): damping ratios from a ringing to a barely overshooting
# response, fewer time constants, and at most this many dead times (their grid grows with all three).
DAMPINGS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
SECOND_ORDER_TAUS = 20
SECOND_ORDER_DELAYS = 12
BLOCK = 256  # rows of the pair search at a time: its arrays are BLOCK x candidates, not candidates squared


@dataclass(frozen=True, slots=True)
class TermsFit:
    """A step response drawn as a sum of terms (e.g. a fast negative term and a slow positive one: inverse
    response; an oscillating term on a first-order rise)."""

    terms: tuple[Fit, ...]  # each term's own rms/explained are those of the sum
    rms: float
    explained: float


@dataclass(frozen=True, slots=True)
class _Label:
    tau_s: float
    dead_time_s: float
    damping: float | None = None


def _prepared(u: NDArray[np.float64], y: NDArray[np.float64], least: int) -> tuple[NDArray[np.float64], ...]:
    """The input's deviation from its rest and the output's from its rest level (the mean before the input
    first moved)."""
    du = np.asarray(u, dtype=float) - float(u[0])
    if len(du) < least or not np.any(du):
        raise ValueError("the input never moved: nothing to identify")
    first_move = int(np.argmax(du != 0.0))
    dy = np.asarray(y, dtype=float) - float(np.mean(np.asarray(y, dtype=float)[: max(first_move, 1)]))
    return du, dy


def _candidates(
    du: NDArray[np.float64], dt_s: float, max_dead_time_s: float, max_tau_s: float, second_order: bool
) -> tuple[NDArray[np.float64], list[_Label]]:
    """Columns: the unit-gain response to the input's movements of each candidate term (first order on
    TWO_TERM_TAUS time constants and every dead time; with `second_order`, also underdamped second order
    on a coarser grid). The response is the convolution of the input's deviation with the term's sampled
    impulse response s((k+1) dt) - s(k dt), from the core's own step response."""
    n = len(du)
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(du, size)
    grid = np.arange(n + 1, dtype=np.float64) * dt_s
    delays = int(max_dead_time_s / dt_s)
    shapes: list[tuple[float, float | None, range]] = [
        (float(tau), None, range(delays + 1))
        for tau in np.geomspace(max(dt_s, 1e-3), max_tau_s, TWO_TERM_TAUS)
    ]
    if second_order:
        coarse = range(0, delays + 1, max(1, -(-delays // (SECOND_ORDER_DELAYS - 1))))
        shapes += [
            (float(tau), damping, coarse)
            for tau in np.geomspace(max(dt_s, 1e-3), max_tau_s, SECOND_ORDER_TAUS)
            for damping in DAMPINGS
        ]
    columns, labels = [], []
    for tau, damping, delay_grid in shapes:
        impulse = np.diff(step(StepModel("u", "y", 1.0, tau, 0.0, damping), grid))
        x_full = np.fft.irfft(spectrum * np.fft.rfft(impulse, size), size)[:n]
        for delay in delay_grid:
            columns.append(np.concatenate([np.zeros(delay), x_full[: n - delay]]))
            labels.append(_Label(tau, delay * dt_s, damping))
    return np.array(columns).T, labels


def _summed(labels: list[_Label], gains: list[float], dy: NDArray[np.float64], sse: float) -> TermsFit:
    n = len(dy)
    sst = float(dy @ dy)
    rms, share = math.sqrt(sse / n), 1.0 - sse / sst if sst else 0.0
    terms = tuple(
        Fit(gain, label.tau_s, label.dead_time_s, rms, share, label.damping)
        for label, gain in zip(labels, gains, strict=True)
    )
    return TermsFit(tuple(sorted(terms, key=lambda term: term.tau_s)), rms, share)


def fit_one_term(
    u: NDArray[np.float64],
    y: NDArray[np.float64],
    dt_s: float,
    max_dead_time_s: float,
    max_tau_s: float,
    *,
    second_order: bool = False,
) -> TermsFit:
    """The best single term of either form from `u` to `y` (first order only: `fit_fopdt`'s finer grid)."""
    if not second_order:
        fit = fit_fopdt(u, y, dt_s, max_dead_time_s, max_tau_s)
        return TermsFit((fit,), fit.rms, fit.explained)
    du, dy = _prepared(u, y, 3)
    x, labels = _candidates(du, dt_s, max_dead_time_s, max_tau_s, second_order)
    energy = np.einsum("ij,ij->j", x, x)
    c = x.T @ dy
    explained_ss = np.where(energy > 0, c**2 / np.where(energy > 0, energy, 1.0), -np.inf)
    best = int(np.argmax(explained_ss))
    gain = float(c[best] / energy[best])
    residual = dy - gain * x[:, best]
    return _summed([labels[best]], [gain], dy, float(residual @ residual))


def fit_two_terms(
    u: NDArray[np.float64],
    y: NDArray[np.float64],
    dt_s: float,
    max_dead_time_s: float,
    max_tau_s: float,
    *,
    second_order: bool = False,
) -> TermsFit:
    """The best sum of two terms from `u` to `y`: every pair of candidates on a grid, the two gains by
    linear least squares in closed form (the 2x2 normal equations, a block of pairs at a time)."""
    du, dy = _prepared(u, y, 5)
    x, labels = _candidates(du, dt_s, max_dead_time_s, max_tau_s, second_order)
    gram = x.T @ x
    c = x.T @ dy
    d = np.diag(gram)
    best: tuple[float, int, int, float, float] | None = None
    for top in range(0, len(labels), BLOCK):
        rows = slice(top, min(top + BLOCK, len(labels)))
        g, di, ci = gram[rows], d[rows], c[rows]
        det = di[:, None] * d[None, :] - g**2
        # Only distinct terms (each pair once): a near-collinear pair fits noise with huge opposing gains.
        upper = np.arange(rows.start, rows.stop)[:, None] < np.arange(len(labels))[None, :]
        usable = upper & (det > (1.0 - COLLINEAR**2) * di[:, None] * d[None, :])
        safe = np.where(usable, det, 1.0)
        g1 = (d[None, :] * ci[:, None] - g * c[None, :]) / safe
        g2 = (di[:, None] * c[None, :] - g * ci[:, None]) / safe
        explained_ss = np.where(usable, g1 * ci[:, None] + g2 * c[None, :], -np.inf)
        r, k = np.unravel_index(int(np.argmax(explained_ss)), explained_ss.shape)
        if usable[r, k] and (best is None or explained_ss[r, k] > best[0]):
            best = (float(explained_ss[r, k]), rows.start + int(r), int(k), float(g1[r, k]), float(g2[r, k]))
    if best is None:
        raise ValueError("no two distinct terms fit the record")
    _, i, j, gain_i, gain_j = best
    residual = dy - gain_i * x[:, i] - gain_j * x[:, j]
    return _summed([labels[i], labels[j]], [gain_i, gain_j], dy, float(residual @ residual))
