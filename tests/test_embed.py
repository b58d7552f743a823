"""The embedding seam: the hashing test embedder and the packaged sentence-transformers model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from paperboy.embed import Embedder, EmbedderUnavailable, HashingEmbedder, paper_text

KERNEL_ABSTRACT = (
    "Kernel ridge regression and Gaussian process regression with positive definite kernels: "
    "we study the approximation error of random Fourier features for kernel methods in "
    "nonparametric regression and give learning rates."
)
LLM_ABSTRACT = (
    "Serving large language models at scale: we present a system that batches requests, "
    "pages the attention key-value cache and schedules GPU memory to raise LLM inference "
    "throughput by 3x over existing serving engines."
)
QUERY = "kernel methods for regression"


def test_paper_text_joins_title_and_abstract_cleanly() -> None:
    paper = {"title": " Attention Is\nAll You Need ", "abstract": "We propose\n\n the Transformer."}
    assert paper_text(paper) == "Attention Is All You Need. We propose the Transformer."
    assert paper_text({"title": "Why kernels?", "abstract": "Because."}) == "Why kernels? Because."
    assert paper_text({"title": "Only a title", "abstract": None}) == "Only a title"
    assert paper_text({"abstract": "Only an abstract"}) == "Only an abstract"


def test_hashing_embedder_is_deterministic_and_normalised() -> None:
    embedder = HashingEmbedder(dim=64)
    assert isinstance(embedder, Embedder)
    assert (embedder.name, embedder.dim) == ("hashing-64", 64)
    texts = [QUERY, KERNEL_ABSTRACT, LLM_ABSTRACT, "", "the of and"]
    first = embedder.embed(texts)
    again = HashingEmbedder(dim=64).embed(list(reversed(texts)))[::-1]
    assert first.dtype == np.float32 and first.shape == (5, 64)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-6)
    assert np.isfinite(first).all()
    # Texts with no words get one fixed unit vector.
    np.testing.assert_array_equal(first[3], first[4])
    assert embedder.embed([]).shape == (0, 64)


def test_hashing_embedder_is_stable_across_processes() -> None:
    # Same text, same vector in a fresh interpreter (no per-process hash seed involved).
    code = (
        "from paperboy.embed import HashingEmbedder;"
        "print(HashingEmbedder(32).embed(['kernel methods for regression'])[0].tobytes().hex())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout.strip()
    here = HashingEmbedder(32).embed([QUERY])[0].tobytes().hex()
    assert out == here


def test_hashing_embedder_ranks_shared_words_closer() -> None:
    embedder = HashingEmbedder(dim=256)
    query, kernel, llm = embedder.embed([QUERY, KERNEL_ABSTRACT, LLM_ABSTRACT])
    assert float(query @ kernel) > float(query @ llm) + 0.1
    # Plural and singular share a bucket.
    kernels, kernel_word = embedder.embed(["kernels", "kernel"])
    assert float(kernels @ kernel_word) == pytest.approx(1.0)


def test_importing_embed_does_not_import_torch() -> None:
    code = (
        "import paperboy.embed, paperboy.embed.sentence, sys;"
        "assert 'torch' not in sys.modules, 'torch imported';"
        "assert 'sentence_transformers' not in sys.modules"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1]
    )


@pytest.fixture(scope="module")
def minilm() -> object:
    pytest.importorskip("sentence_transformers")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        from paperboy.embed.sentence import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(device="cpu")


def test_packaged_minilm_loads_offline_and_embeds(minilm: object) -> None:
    from paperboy.embed.sentence import SentenceTransformerEmbedder

    assert isinstance(minilm, SentenceTransformerEmbedder)
    assert isinstance(minilm, Embedder)
    assert minilm.name == "all-MiniLM-L6-v2"
    assert minilm.dim == 384
    assert minilm.max_seq_length == 256
    vectors = minilm.embed([QUERY, KERNEL_ABSTRACT, LLM_ABSTRACT])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query, kernel, llm = vectors
    assert float(query @ kernel) > float(query @ llm) + 0.2
    single = minilm.embed_query(QUERY)
    assert single.shape == (384,)
    np.testing.assert_allclose(single, query, atol=1e-5)
    assert minilm.embed([]).shape == (0, 384)


def test_bad_model_path_raises_embedder_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("sentence_transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from paperboy.embed.sentence import SentenceTransformerEmbedder

    missing = tmp_path / "no-such-model"
    with pytest.raises(EmbedderUnavailable) as info:
        SentenceTransformerEmbedder(str(missing), device="cpu")
    assert str(missing) in str(info.value)
    assert info.value.model == str(missing)


def test_precomputed_vectors_answer_known_texts_and_the_model_the_rest(tmp_path: Path) -> None:
    from paperboy.embed.precomputed import Precomputed, load_table, save_table

    model = HashingEmbedder(dim=64)
    known = ["Kernel thinning. We compress a distribution.", "Flash attention. Fast."]
    save_table(tmp_path / "t.npz", model.name, known, model.embed(known))
    name, table = load_table(tmp_path / "t.npz")
    loads: list[int] = []

    def load() -> HashingEmbedder:
        loads.append(1)
        return model

    fronted = Precomputed(name, table, load=load)
    assert (fronted.name, fronted.dim) == (model.name, 64)
    got = fronted.embed(known)
    assert loads == [] and fronted.computed == 0  # the model was never needed
    np.testing.assert_allclose(got, model.embed(known), atol=2e-3)  # stored as float16
    mixed = fronted.embed([known[0], "a query nobody saw"])
    assert loads == [1] and fronted.computed == 1
    np.testing.assert_allclose(mixed[1], model.embed(["a query nobody saw"])[0], atol=1e-6)


def test_the_demo_ships_the_default_models_vector_of_every_demo_paper(
        minilm: object, tmp_path: Path) -> None:
    """So `paperboy demo` never embeds its papers on the CPU (scripts/demo-vectors writes it)."""
    from paperboy.embed import paper_text
    from paperboy.embed.precomputed import load_table, text_key
    from paperboy.service import Paperboy, demo_sources
    from paperboy.settings import Settings

    path = Path(__file__).resolve().parents[1] / "paperboy" / "data" / "demo_vectors.npz"
    name, table = load_table(path)
    assert name == "all-MiniLM-L6-v2"
    service = Paperboy(Settings.load(env={}, home=tmp_path, database_url="",
                                     embedding_model="hashing-8"))
    service.ingest([str(p) for p in demo_sources()])
    texts = [paper_text(p) for p in service.papers()]
    service.close()
    assert all(text_key(t) in table for t in texts), "run scripts/demo-vectors"
    sample = texts[::50]
    fresh = minilm.embed(sample)  # type: ignore[attr-defined]
    for text, vector in zip(sample, fresh, strict=True):
        assert float(table[text_key(text)] @ vector) > 0.999


def test_onnx_runtime_runs_the_same_model_and_the_service_records_it(
        minilm: object, tmp_path: Path) -> None:
    """Exported offline from the packaged weights, fp32 and int8 agree with torch on real
    abstracts (bench/embed.py measures speed); `auto` picks fp32 on a machine without a GPU,
    and the vectors it stores say which backend made them."""
    import gzip
    import json

    from conftest import SHARED

    from paperboy.embed.loader import load_embedder
    from paperboy.embed.onnx import OnnxEmbedder
    from paperboy.service import Paperboy
    from paperboy.settings import Settings

    with gzip.open(SHARED / "corpus" / "arxiv_33k.jsonl.gz", "rt", encoding="utf-8") as f:
        texts = [paper_text(json.loads(line)) for _, line in zip(range(48), f, strict=False)]
    reference = minilm.embed(texts)  # type: ignore[attr-defined]
    for backend, floor in (("onnx", 0.9999), ("onnx-int8", 0.985)):
        onnx = load_embedder("all-MiniLM-L6-v2", device="cpu", backend=backend)
        assert isinstance(onnx, OnnxEmbedder) and onnx.backend == backend
        assert onnx.name == "all-MiniLM-L6-v2" and onnx.dim == 384
        vectors = onnx.embed(texts)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        cosine = (vectors * reference).sum(axis=1)
        assert cosine.min() >= floor and cosine.mean() >= 0.99, (backend, cosine.min())
        query = onnx.embed_query(QUERY)
        assert onnx.embed_query(QUERY) is query  # the second time from the cache
        np.testing.assert_allclose(query, onnx.embed([QUERY])[0], atol=1e-6)
    # the graphs run ONNX Runtime's fused transformer kernels; int8 keeps the first layer float
    import onnx as onnx_format

    from paperboy.embed.loader import _local_folder, onnx_cache
    from paperboy.embed.onnx import FLOAT_FILE, INT8_FILE

    folder = _local_folder("all-MiniLM-L6-v2")
    assert folder is not None
    cache = onnx_cache("all-MiniLM-L6-v2", folder)
    fused = {node.op_type for node in onnx_format.load(str(cache / FLOAT_FILE)).graph.node}
    assert {"Attention", "EmbedLayerNormalization", "SkipLayerNormalization"} <= fused
    quantized = [node.op_type for node in onnx_format.load(str(cache / INT8_FILE)).graph.node]
    assert quantized.count("QAttention") == 5 and quantized.count("Attention") == 1
    assert "EmbedLayerNormalization" in quantized
    with pytest.raises(EmbedderUnavailable, match="unknown embedding backend 'tpu'"):
        load_embedder("all-MiniLM-L6-v2", backend="tpu")
    with pytest.raises(EmbedderUnavailable, match="local model folder"):
        load_embedder("someone/a-hub-model", backend="onnx")

    service = Paperboy(Settings.load(env={}, home=tmp_path, database_url="",
                                     embedding_device="cpu"))
    try:
        service.ingest([str(SHARED / "fixtures" / "arxiv_api_query.xml")])
        summary = service.embed()
        assert summary.embedded > 0
        assert getattr(service.embedder(), "backend", None) == "onnx"
        from sqlalchemy import select

        from paperboy.store.tables import embeddings

        with service.store.engine.connect() as conn:
            assert set(conn.execute(select(embeddings.c.backend)).scalars()) == {"onnx"}
    finally:
        service.close()


def test_onnx_runtime_loads_after_the_vector_index_in_one_process(tmp_path: Path) -> None:
    """A server opens its vector index (usearch) before its first query loads the embedder:
    onnxruntime's extension, loaded after usearch's, crashed the process (SIGSEGV)."""
    code = (
        "import sys; from pathlib import Path\n"
        "from paperboy.index.vectors import HnswIndex\n"
        f"index = HnswIndex.open(Path({str(tmp_path)!r}) / 'vectors', model='m', dim=384)\n"
        "from paperboy.embed.loader import load_embedder\n"
        "embedder = load_embedder('all-MiniLM-L6-v2', device='cpu', backend='onnx')\n"
        "print(embedder.backend, embedder.embed_query('kernel methods').shape)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "onnx (384,)"
