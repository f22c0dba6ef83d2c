"""Fixed-step classical Runge-Kutta integration.

Fixed steps (never an adaptive solver) keep every run bit-for-bit reproducible and make the cost of a
simulated second independent of what the plant is doing. Stiff regions are handled by sub-stepping.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Derivative = Callable[[FloatArray], FloatArray]
Clamp = Callable[[FloatArray], FloatArray]


def integrate(rhs: Derivative, x0: FloatArray, dt: float, substeps: int, clamp: Clamp) -> FloatArray:
    """Advance `x0` by `dt` (in the unit `rhs` uses) in `substeps` RK4 steps, clamping after each one.

    Clamping after every sub-step, not only at the end, keeps intermediate stages inside the region where
    the model is defined (no negative concentrations fed to a fractional power, no vapour volume ≤ 0).
    """
    h = dt / substeps
    x = x0
    for _ in range(substeps):
        k1 = rhs(x)
        k2 = rhs(x + (0.5 * h) * k1)
        k3 = rhs(x + (0.5 * h) * k2)
        k4 = rhs(x + h * k3)
        x = clamp(x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4))
    return x


def substeps_for(dt: float, max_step: float) -> int:
    """The number of equal sub-steps of at most `max_step` that cover `dt` (at least one)."""
    return max(1, int(np.ceil(dt / max_step - 1e-9)))
