"""EE-411 homework 3, part 1: reference implementations (the names students write).

Shapes follow the handout: X is B x D, W = {'w_1': D x K, 'w_2': K x 1}, labels and
predictions are vectors in R^B. Outputs of predict: z_1 (B x K), z_2 (B,), y_hat (B,).
"""

from __future__ import annotations

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    # The two branches keep exp() from overflowing for large |z|.
    out = np.empty_like(z, dtype=np.float64)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def predict(X: np.ndarray, W: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    z_1 = X @ W["w_1"]
    x_1 = sigmoid(z_1)
    z_2 = (x_1 @ W["w_2"]).reshape(-1)
    return z_1, z_2, sigmoid(z_2)


def logistic_loss(y: np.ndarray, y_hat: np.ndarray) -> float:
    return float(np.mean(-y * np.log(y_hat) - (1 - y) * np.log(1 - y_hat)))


def stable_logistic_loss(y: np.ndarray, z_2: np.ndarray) -> float:
    # -log(sigmoid(z)) = logaddexp(0, -z) and -log(1 - sigmoid(z)) = logaddexp(0, z)
    return float(np.mean(y * np.logaddexp(0, -z_2) + (1 - y) * np.logaddexp(0, z_2)))


def average_loss(X: np.ndarray, y: np.ndarray, W: dict[str, np.ndarray]) -> float:
    """The loss whose gradient question 1.5 asks for (used for finite differences)."""
    return stable_logistic_loss(y, predict(X, W)[1])


def gradient(X: np.ndarray, y: np.ndarray, W: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    B = X.shape[0]
    z_1, _, y_hat = predict(X, W)
    x_1 = sigmoid(z_1)
    delta_2 = ((y_hat - y) / B).reshape(-1, 1)  # B x 1
    grad_w_2 = x_1.T @ delta_2  # K x 1
    delta_1 = (delta_2 @ W["w_2"].T) * x_1 * (1 - x_1)  # B x K
    grad_w_1 = X.T @ delta_1  # D x K
    return {"w_1": grad_w_1, "w_2": grad_w_2}
