"""The same sentence-transformers model run by ONNX Runtime: the `Embedder` seam without torch
at query time.

The graph is exported once from the model's own weights (torch's exporter, offline) into a
cache folder, its attention, layer norms and GELUs fused into ONNX Runtime's own kernels (its
transformer optimizer, for BERT-like models: the model is traced with its plain attention,
which that optimizer recognises), optionally quantised to int8 per channel (ONNX Runtime's
dynamic quantisation; the first layer stays float), and run on the CPU with the model's own
tokenizer (`tokenizer.json`), mean pooling over the attention mask and unit length, as the
model's sentence-transformers configuration does. The vectors are the same model's:
`bench/embed.py` measures their agreement with torch's (cosine and top-10 overlap), and the
store records the backend beside the model name.

Each text runs alone (`batch_size` 1): a batch is padded to its longest text, and on a CPU the
padding is all a batch adds, as the cores are filled by running texts side by side instead
(below). 512 abstracts, this project's 2-core machine: int8 69-70 papers/s alone against 49 in
batches of 32 (length-sorted, 67-68 in pairs), fp32 39 against 30. A few hundred recent queries
are kept, so a repeated query (a page reloaded, a feed polled) costs nothing.

Each run of the graph uses one thread, and a bulk embedding runs its batches side by side on
`threads` threads instead: on this project's 2-core machine one query took 4.7 ms with one
thread and 4.8 ms with two, which spent 7.1 ms of CPU against 4.7 (the CPU a server under load
runs out of), and 512 abstracts embedded 10% faster as two one-thread batches at a time than as
one two-thread batch.
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from paperboy.embed import EmbedderUnavailable, normalize_rows

__all__ = ["BACKENDS", "FLOAT_FILE", "INT8_FILE", "OnnxEmbedder", "export_onnx"]

BACKENDS = ("torch", "onnx", "onnx-int8")
QUERY_CACHE = 512  # queries whose vectors are kept
# the recipe in the names: a new one, a new file
FLOAT_FILE = "model-fused.onnx"
INT8_FILE = "model-fused-int8-float-first-layer.onnx"
_OPSET = 17


def export_onnx(model_dir: Path, folder: Path, *, quantized: bool) -> Path:
    """`folder/FLOAT_FILE` (or the int8 `INT8_FILE`) exported from the weights in `model_dir`;
    kept there and reused. Writes to a temporary name first, so a crash leaves no half file."""
    target = folder / (INT8_FILE if quantized else FLOAT_FILE)
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    plain = folder / FLOAT_FILE
    if not plain.is_file():
        _export(model_dir, plain)
    if quantized:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        partial = target.with_suffix(f".{os.getpid()}.partial")
        quantize_dynamic(str(plain), str(partial), per_channel=True,
                         weight_type=QuantType.QInt8, nodes_to_exclude=_first_layer(plain),
                         # the fused operators' outputs have no type shape inference knows
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        partial.replace(target)
    return target


def _first_layer(graph: Path) -> list[str]:
    """The token embeddings and the first transformer layer's operators with weights (its
    fused attention, the first in the graph's order, and its matrix products), which the int8
    graph keeps in float: the raw token embeddings are where rounding costs the most
    agreement. On 512 abstracts (bench/embed.py) keeping the first layer raised the top-10
    overlap with the float vectors on the dev queries from 0.89 to 0.90, and the lowest
    cosine from 0.990 to 0.992; on 256, keeping the fused embedding layer too raised the
    lowest cosine from 0.9933 to 0.9945."""
    import onnx

    nodes = onnx.load(str(graph), load_external_data=False).graph.node
    attention = [node.name for node in nodes if node.op_type == "Attention"][:1]
    return attention + [node.name for node in nodes
                        if node.op_type == "EmbedLayerNormalization"
                        or node.op_type == "MatMul" and "/layer.0/" in node.name]


def _export(model_dir: Path, target: Path) -> None:
    """The model's graph, fused where ONNX Runtime's transformer optimizer knows its parts."""
    traced = target.with_suffix(f".{os.getpid()}.traced")
    _trace(model_dir, traced)
    partial = target.with_suffix(f".{os.getpid()}.partial")
    try:
        _fuse(model_dir, traced, partial)
    except Exception:  # noqa: BLE001 - not a BERT-like graph: the plain one serves as well
        traced.replace(partial)
    traced.unlink(missing_ok=True)
    partial.replace(target)


def _fuse(model_dir: Path, graph: Path, target: Path) -> None:
    """Attention, layer norms and GELUs as ONNX Runtime's fused operators. On 512 abstracts
    (bench/embed.py, 2 cores): float 16.9 -> 20.6-21.8 papers/s, int8 27.0 -> 34.5-36.4, at
    the same agreement with torch."""
    from onnxruntime.transformers import optimizer

    config = json.loads((model_dir / "config.json").read_text())
    if config.get("model_type") not in ("bert", "roberta", "xlm-roberta", "distilbert"):
        raise ValueError(f"no fusion for {config.get('model_type')!r}")
    fused = optimizer.optimize_model(
        str(graph), model_type="bert", num_heads=int(config["num_attention_heads"]),
        hidden_size=int(config["hidden_size"]), opt_level=0)
    fused.save_model_to_file(str(target))


def _trace(model_dir: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel

    class Encoder(torch.nn.Module):
        """The transformer with its inputs by name (their order varies between versions)."""

        def __init__(self) -> None:
            super().__init__()
            # plain attention, not torch's fused kernel: traced as products and a softmax,
            # the pattern ONNX Runtime's optimizer fuses into its own attention operator
            self.model = AutoModel.from_pretrained(str(model_dir), local_files_only=True,
                                                   attn_implementation="eager")

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    model = Encoder().eval()
    sample = torch.ones((1, 8), dtype=torch.long)
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shapes it keeps dynamic
        torch.onnx.export(
            model, (sample, sample, torch.zeros_like(sample)), str(target),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in
                          ("input_ids", "attention_mask", "token_type_ids",
                           "last_hidden_state")},
            opset_version=_OPSET, dynamo=False)


class OnnxEmbedder:
    """An `Embedder` running `name`'s weights (in `model_dir`) with ONNX Runtime on the CPU."""

    def __init__(self, name: str, model_dir: Path, cache: Path, *, quantized: bool = True,
                 batch_size: int = 1, max_seq_length: int = 256,
                 threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as error:
            raise EmbedderUnavailable(f"the ONNX backend needs onnxruntime and tokenizers "
                                      f"(pip install onnxruntime): {error}") from None
        self.name = name
        self.backend = "onnx-int8" if quantized else "onnx"
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        try:
            path = export_onnx(model_dir, cache, quantized=quantized)
        except Exception as error:  # noqa: BLE001 - any exporter failure: say which model
            raise EmbedderUnavailable(f"{name}: cannot export it to ONNX into {cache}: "
                                      f"{type(error).__name__}: {error}") from None
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_seq_length)
        self._tokenizer.no_padding()
        self.threads = threads or max(1, os.cpu_count() or 1)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # batches run side by side instead (module docstring)
        options.inter_op_num_threads = 1
        # no idle thread spins: a search's word half runs beside the model call, and other
        # requests' work beside both (spinning took that CPU and slowed hybrid search by a
        # fifth on 2 cores, bench/search.py)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(path), options,
                                             providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.dim = int(self._session.get_outputs()[0].shape[-1] or
                       _hidden_size(model_dir))
        self.device = "cpu"
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None  # started by the first bulk embedding

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single str")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        batches = [order[start:start + self.batch_size]
                   for start in range(0, len(order), self.batch_size)]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for rows, vectors in zip(batches, self._map(
                lambda rows: self._run([encodings[i] for i in rows]), batches), strict=True):
            out[rows] = vectors
        return normalize_rows(out)

    def _map(self, function: Any, batches: list[list[int]]) -> Any:
        """`function` over the batches, `threads` at a time (ONNX Runtime lets go of the GIL
        while it runs); in the calling thread when there is one batch (a query)."""
        if len(batches) == 1 or self.threads == 1:
            return map(function, batches)
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="onnx")
        return self._pool.map(function, batches)

    def _run(self, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = (encoding.ids,
                                                           encoding.attention_mask,
                                                           encoding.type_ids)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        weights = mask[..., None].astype(np.float32)
        return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)

    def embed_query(self, text: str) -> np.ndarray:
        """The vector of one query, shape (dim,); recent queries come from a small cache."""
        with self._lock:
            if (found := self._cache.get(text)) is not None:
                self._cache.move_to_end(text)
                return found
        vector = self.embed([text])[0]
        vector.setflags(write=False)
        with self._lock:
            self._cache[text] = vector
            while len(self._cache) > QUERY_CACHE:
                self._cache.popitem(last=False)
        return vector

    def __repr__(self) -> str:
        return f"OnnxEmbedder({self.name!r}, backend={self.backend!r})"


def _hidden_size(model_dir: Path) -> int:
    return int(json.loads((model_dir / "config.json").read_text())["hidden_size"])
