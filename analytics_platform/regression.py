"""Least squares with robust standard errors, and Holm's multiple-testing correction: the one
implementation every domain's estimator uses (attribution's strategy skill, TCA's venue / algo /
broker effects).

Conventions (Cameron & Miller 2015, "A Practitioner's Guide to Cluster-Robust Inference"):
HC1 = n/(n − k)·(X'X)⁻¹ X'diag(e²)X (X'X)⁻¹; CR1 = G/(G − 1)·(n − 1)/(n − k)·(X'X)⁻¹ (Σ_g s_g s_g')
(X'X)⁻¹ with s_g = Σ_{i∈g} x_i e_i, the scores summed per cluster (Stata's `vce(cluster)`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OlsFit:
    """Coefficients, residuals, the bread (X'X)⁻¹ and the per-row scores x_i·e_i."""

    coef: np.ndarray
    residuals: np.ndarray
    bread: np.ndarray
    scores: np.ndarray

    @property
    def n(self) -> int:
        return self.scores.shape[0]

    @property
    def k(self) -> int:
        return self.scores.shape[1]


def ols(x: np.ndarray, y: np.ndarray) -> OlsFit:
    """OLS of y on the columns of x (no intercept added). A rank-deficient design gets the
    minimum-norm solution and a pseudo-inverse bread; callers build designs of full rank."""
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    residuals = y - x @ coef
    return OlsFit(coef, residuals, np.linalg.pinv(x.T @ x), x * residuals[:, None])


def hc1_covariance(fit: OlsFit) -> np.ndarray:
    """Heteroscedasticity-robust covariance with the n/(n − k) correction."""
    return fit.n / (fit.n - fit.k) * fit.bread @ (fit.scores.T @ fit.scores) @ fit.bread


def cr1_covariance(fit: OlsFit, clusters: np.ndarray) -> np.ndarray:
    """Cluster-robust covariance (CR1): the scores summed per cluster label, with the
    small-sample correction G/(G − 1)·(n − 1)/(n − k)."""
    _, index = np.unique(clusters, return_inverse=True)
    g = int(index.max()) + 1
    sums = np.zeros((g, fit.k))
    np.add.at(sums, index, fit.scores)
    correction = g / (g - 1) * (fit.n - 1) / (fit.n - fit.k)
    return correction * fit.bread @ (sums.T @ sums) @ fit.bread


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control): the i-th smallest p is
    multiplied by (m − i + 1), made non-decreasing in that order, and capped at 1."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted
