"""Which embedder a setting names: the hashing one for tests, or a sentence-transformers model
run by torch or by ONNX Runtime (embed/onnx.py), whichever `embedding_backend` says.

`auto` picks ONNX Runtime (fp32) on a machine without a GPU, when onnxruntime is installed and
the model is a local folder (the packaged default is): on a CPU it answers a query in about 5 ms
of one core where torch takes 12, with the same vectors (cosine 1.0 to torch's, bench/embed.py).
Its int8 weights (`onnx-int8`) embed about 2x faster in bulk but move the top 10 of a query
(0.90-0.91 overlap), so they are a choice, not the default. A GPU, or a model named on the Hugging
Face Hub, stays with torch; so does `auto` when the export fails, with a note saying why.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from pathlib import Path

from paperboy.embed import Embedder, EmbedderUnavailable, HashingEmbedder

__all__ = ["BACKEND_CHOICES", "load_embedder", "onnx_cache"]

BACKEND_CHOICES = ("auto", "torch", "onnx", "onnx-int8")


def load_embedder(model: str, *, device: str = "", backend: str = "auto",
                  note: object = None) -> Embedder:
    """The embedder for `model`; raises EmbedderUnavailable naming what is missing."""
    if m := re.fullmatch(r"hashing-(\d+)", model):
        return HashingEmbedder(dim=int(m.group(1)))
    if backend not in BACKEND_CHOICES:
        raise EmbedderUnavailable(f"unknown embedding backend {backend!r}: use one of "
                                  f"{', '.join(BACKEND_CHOICES)}")
    folder = _local_folder(model)
    chosen = backend
    if backend == "auto":
        gpu = device.startswith("cuda") or (not device and _has_gpu())
        onnx = importlib.util.find_spec("onnxruntime") is not None
        chosen = "onnx" if folder is not None and onnx and not gpu else "torch"
    if chosen != "torch":
        from paperboy.embed.onnx import FLOAT_FILE, INT8_FILE, OnnxEmbedder
        from paperboy.embed.sentence import DEFAULT_MODEL

        if folder is None:
            raise EmbedderUnavailable(f"{model}: the ONNX backend runs a local model folder; "
                                      "this one is a Hub name (use embedding_backend=torch)")
        name = DEFAULT_MODEL if model in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}") \
            else model
        cache = onnx_cache(name, folder)
        graph = INT8_FILE if chosen == "onnx-int8" else FLOAT_FILE
        if callable(note) and not (cache / graph).is_file():
            note(f"exporting {name} for ONNX Runtime into {cache} (once, offline)")
        try:
            return OnnxEmbedder(name, folder, cache, quantized=chosen == "onnx-int8")
        except EmbedderUnavailable as error:
            if backend != "auto":
                raise
            if callable(note):
                note(f"embedding with torch: {error}")
    from paperboy.embed.sentence import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(model, device=device or None)


def _local_folder(model: str) -> Path | None:
    from paperboy.embed.sentence import DEFAULT_MODEL, packaged_model_path

    if model in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            return packaged_model_path()
        except EmbedderUnavailable:
            return None
    path = Path(model).expanduser()
    return path if (path / "tokenizer.json").is_file() and (path / "config.json").is_file() \
        else None


def _has_gpu() -> bool:
    """Whether an NVIDIA device is present, without importing torch (seconds) to ask."""
    return Path("/dev/nvidiactl").exists()


def onnx_cache(name: str, folder: Path) -> Path:
    """Where the exported graphs of a model folder are kept: one cache for every home on this
    machine (a demo's temporary home included), keyed by the weights they come from."""
    weights = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    stamp = "|".join(f"{w.name}:{w.stat().st_size}:{w.stat().st_mtime_ns}" for w in weights)
    key = hashlib.blake2b(f"{folder.resolve()}|{stamp}".encode(), digest_size=8).hexdigest()
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "paperboy" / "onnx" / f"{re.sub(r'[^A-Za-z0-9._-]+', '-', name)}-{key}"
