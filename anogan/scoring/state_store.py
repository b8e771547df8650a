"""A scorer's heavy state kept with its bundle, so a new process starts warm.

The pruned latent bank of the recommended recipe takes tens of seconds to
draw, generate and prune; its latents and the term statistics are a few
hundred kilobytes. They are stored in the bundle under a key that names
the method, the settings that change its scores and the SHA-256 of every
model file, so a retrained or replaced network never meets a stale state.
"""

from __future__ import annotations

import hashlib
import json
from typing import Optional

import numpy as np

from anogan.gan.bundle import MODEL_FILES


def state_key(bundle, method: str, settings) -> str:
    """The name of the state of ``method`` with ``settings`` on this bundle's current models."""
    files = bundle.metadata.get("files", {})
    described = [method, settings.relevant_to(method), [files.get(name) for name in sorted(MODEL_FILES.values())]]
    return f"{method}-{hashlib.blake2b(json.dumps(described, sort_keys=True).encode(), digest_size=8).hexdigest()}"


def to_arrays(state: dict) -> dict[str, np.ndarray]:
    """A scorer's state as arrays a plain ``.npz`` holds: arrays as they are, the rest as one JSON string."""
    arrays = {key: value for key, value in state.items() if isinstance(value, np.ndarray)}
    rest = {key: value for key, value in state.items() if not isinstance(value, np.ndarray)}
    return {**arrays, "plain_values_json": np.array(json.dumps(rest))}


def from_arrays(arrays: dict[str, np.ndarray]) -> dict:
    state = {key: value for key, value in arrays.items() if key != "plain_values_json"}
    rest = json.loads(str(arrays["plain_values_json"]))
    if rest.get("term_stats") is not None:  # JSON turns the (mean, std, largest) tuples into lists
        rest["term_stats"] = {name: tuple(fitted) for name, fitted in rest["term_stats"].items()}
    return {**state, **rest}


def stored_state(bundle, method: str, settings) -> Optional[dict]:
    arrays = bundle.scorer_state(state_key(bundle, method, settings))
    return None if arrays is None else from_arrays(arrays)


def store_state(bundle, method: str, settings, state: dict) -> None:
    bundle.set_scorer_state(state_key(bundle, method, settings), to_arrays(state))
