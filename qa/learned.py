"""Small learned scorers shipped as JSON data files (``qa/weights/<name>.json``).

The read path ranks chunks, candidate answer spans and the evidence for abstention with
models fitted on the PIAF dev set by ``ancre.qa.measure`` (the training code writes these
files). Scoring needs only numpy and this module: no scikit-learn or LightGBM at answer time.

Two kinds of model are read:

- ``logistic``: standardised features, a weight vector and a bias; the score is the
  probability ``sigmoid(bias + sum(w * (x - mean) / scale))``;
- ``trees``: gradient-boosted regression trees (fitted with LightGBM, stored as one flat
  table of nodes: a node with ``feature >= 0`` sends a row left when its value is
  ``<= threshold``; a leaf has ``feature == -1`` and a ``value``); the score is
  ``sigmoid(bias + sum of the leaves reached)``, computed for all rows and trees at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

WEIGHTS_PACKAGE = "ancre.qa.weights"


@dataclass(frozen=True)
class Model:
    """A fitted scorer over named features (missing features count as 0)."""

    name: str
    kind: str
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    nodes: dict[str, np.ndarray] = field(default_factory=dict)
    """Trees: ``feature``, ``threshold``, ``left``, ``right``, ``value`` per node."""
    roots: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int64"))
    info: dict[str, Any] = field(default_factory=dict)
    """What the model was fitted on and what it measured (for reports)."""

    def matrix(self, rows: list[dict[str, float]]) -> np.ndarray:
        return np.array(
            [[row.get(f, 0.0) for f in self.features] for row in rows], dtype="float64"
        ).reshape(len(rows), len(self.features))

    def margin(self, rows: list[dict[str, float]]) -> np.ndarray:
        """The raw score (log-odds) of each row."""
        x = self.matrix(rows)
        if self.kind == "logistic":
            return self.bias + ((x - self.mean) / self.scale) @ self.weights
        return self._trees(x) + self.bias

    def _trees(self, x: np.ndarray) -> np.ndarray:
        n = self.nodes
        feature, threshold, left, right = n["feature"], n["threshold"], n["left"], n["right"]
        at = np.tile(self.roots, (len(x), 1))  # (rows, trees): the node each row is at
        rows = np.arange(len(x))[:, None]
        for _ in range(64):
            f = feature[at]
            inner = f >= 0
            if not inner.any():
                break
            value = x[rows, np.where(inner, f, 0)]
            step = np.where(value <= threshold[at], left[at], right[at])
            at = np.where(inner, step, at)
        return n["value"][at].sum(axis=1)

    def score(self, rows: list[dict[str, float]]) -> np.ndarray:
        """Probability of each row (0..1)."""
        if not rows:
            return np.zeros(0)
        return 1.0 / (1.0 + np.exp(-np.clip(self.margin(rows), -50, 50)))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "features": self.features}
        if self.kind == "logistic":
            out.update(
                mean=[round(float(v), 6) for v in self.mean],
                scale=[round(float(v), 6) for v in self.scale],
                weights=[round(float(v), 6) for v in self.weights],
            )
        else:
            out["roots"] = [int(v) for v in self.roots]
            out["nodes"] = {
                k: [round(float(v), 6) if k in ("threshold", "value") else int(v) for v in a]
                for k, a in self.nodes.items()
            }
        out.update(bias=round(self.bias, 6), info=self.info)
        return out


def from_dict(data: dict[str, Any]) -> Model:
    features = tuple(data["features"])
    n = len(features)
    if data["kind"] == "logistic":
        return Model(
            name=data["name"],
            kind="logistic",
            features=features,
            mean=np.asarray(data["mean"], dtype="float64"),
            scale=np.asarray(data["scale"], dtype="float64"),
            weights=np.asarray(data["weights"], dtype="float64"),
            bias=float(data["bias"]),
            info=data.get("info", {}),
        )
    if data["kind"] == "trees":
        return Model(
            name=data["name"],
            kind="trees",
            features=features,
            mean=np.zeros(n),
            scale=np.ones(n),
            weights=np.zeros(n),
            bias=float(data.get("bias", 0.0)),
            nodes={
                k: np.asarray(v, dtype="float64" if k in ("threshold", "value") else "int64")
                for k, v in data["nodes"].items()
            },
            roots=np.asarray(data["roots"], dtype="int64"),
            info=data.get("info", {}),
        )
    raise ValueError(f"model {data.get('name')!r}: unknown kind {data['kind']!r}")


@lru_cache(maxsize=16)
def load_model(name: str) -> Model:
    """The model ``name`` shipped in ``qa/weights/`` (read once per process)."""
    path = files(WEIGHTS_PACKAGE).joinpath(f"{name}.json")
    if not path.is_file():
        raise FileNotFoundError(
            f"qa/weights/{name}.json is missing: refit it with `ancre eval --calibrate`"
        )
    return from_dict(json.loads(path.read_text(encoding="utf-8")))


def save_model(model: Model, folder: str | Path) -> Path:
    """Write ``model`` as ``folder/<name>.json`` (the training code's output)."""
    path = Path(folder) / f"{model.name}.json"
    path.write_text(json.dumps(model.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n")
    return path
