"""HnswIndex: exact neighbours, upsert, filters, persistence, model changes, recall."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from paperboy.embed import HashingEmbedder
from paperboy.index.vectors import SCHEMA_VERSION, HnswIndex, VectorIndex

DIM = 32
MODEL = "test-model"


def unit_rows(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def brute_force(vectors: np.ndarray, ids: list[str], query: np.ndarray, k: int) -> list[str]:
    scores = vectors @ (query / np.linalg.norm(query))
    return [ids[i] for i in np.argsort(-scores, kind="stable")[:k]]


@pytest.fixture
def filled(tmp_path: Path) -> tuple[HnswIndex, list[str], np.ndarray]:
    vectors = unit_rows(2000)
    ids = [f"p{i}" for i in range(len(vectors))]
    index = HnswIndex.open(tmp_path / "vectors", model=MODEL, dim=DIM)
    index.add(ids, vectors)
    return index, ids, vectors


def test_search_returns_the_exact_nearest(filled: tuple[HnswIndex, list[str], np.ndarray]) -> None:
    index, ids, vectors = filled
    assert isinstance(index, VectorIndex)
    assert len(index) == 2000 and index.ids() == set(ids)
    for row in (0, 17, 1999):
        hits = index.search(vectors[row], limit=5)
        assert hits[0][0] == ids[row]
        assert hits[0][1] == pytest.approx(1.0, abs=1e-3)
        assert [h[1] for h in hits] == sorted((h[1] for h in hits), reverse=True)
    query = unit_rows(1, seed=99)[0]
    hits = index.search(query, limit=5)
    # Vectors are stored as f16: same neighbours, scores within f16 rounding of float32.
    assert {i for i, _ in hits} == set(brute_force(vectors, ids, query, 5))
    for paper_id, score in hits:
        assert score == pytest.approx(float(vectors[ids.index(paper_id)] @ query), abs=2e-3)


def test_upsert_replaces_and_remove_forgets(
    filled: tuple[HnswIndex, list[str], np.ndarray],
) -> None:
    index, ids, vectors = filled
    index.add(["p5"], vectors[[700]])  # p5 now sits where p700 is
    assert len(index) == 2000
    np.testing.assert_allclose(index.vector("p5"), vectors[700], atol=1e-3)
    assert {i for i, _ in index.search(vectors[700], limit=2)} == {"p5", "p700"}
    assert "p5" not in [i for i, _ in index.search(vectors[5], limit=3)]

    index.remove(["p700", "p5", "never-added"])
    assert len(index) == 1998 and "p5" not in index.ids()
    assert index.vector("p5") is None
    assert not {"p5", "p700"} & {i for i, _ in index.search(vectors[700], limit=10)}
    index.add(["p5"], vectors[[5]])  # a removed id can come back
    assert index.search(vectors[5], limit=1)[0][0] == "p5"


def test_exclude_skips_ids_and_still_fills_limit(
    filled: tuple[HnswIndex, list[str], np.ndarray],
) -> None:
    index, ids, vectors = filled
    best = brute_force(vectors, ids, vectors[3], 8)
    hits = index.search(vectors[3], limit=5, exclude={"p3", best[1]})
    assert {i for i, _ in hits} == set([b for b in best if b not in {"p3", best[1]}][:5])


@pytest.mark.parametrize(
    ("full_scan", "exact_allowed"),
    [(100_000, 4096), (100_000, 0), (0, 4096), (0, 0)],
    ids=["scan-exact", "scan-walk", "graph-exact", "graph-walk"],
)
def test_allowed_set_filters_inside_the_search(
    tmp_path: Path, full_scan: int, exact_allowed: int
) -> None:
    vectors = unit_rows(3000, seed=1)
    ids = [f"p{i}" for i in range(3000)]
    index = HnswIndex.open(
        tmp_path / "v",
        model=MODEL,
        dim=DIM,
        full_scan_threshold=full_scan,
        exact_allowed_limit=exact_allowed,
    )
    index.add(ids, vectors)
    query = unit_rows(1, seed=7)[0]
    rng = np.random.default_rng(3)
    for size in (12, 300, 2000):
        allowed = {ids[i] for i in rng.choice(3000, size, replace=False)}
        hits = index.search(query, limit=10, allowed=allowed, exclude={"p0"})
        assert len(hits) == 10
        assert {i for i, _ in hits} <= allowed - {"p0"}
        sub = sorted(allowed - {"p0"}, key=ids.index)
        truth = brute_force(vectors[[ids.index(i) for i in sub]], sub, query, 10)
        assert len({i for i, _ in hits} & set(truth)) >= 9
    # Allowed ids that are not indexed are simply absent; fewer than limit exist.
    hits = index.search(query, limit=10, allowed=["p1", "p2", "unknown"])
    assert sorted(i for i, _ in hits) == ["p1", "p2"]
    assert index.search(query, limit=10, allowed=[]) == []


def test_large_allowed_set_returns_limit_from_the_graph(tmp_path: Path) -> None:
    # Half the index allowed, but the true neighbours all disallowed: post-filtering a top-k
    # would come back empty; the search must keep walking the graph.
    vectors = unit_rows(4000, seed=2)
    ids = [f"p{i}" for i in range(4000)]
    index = HnswIndex.open(
        tmp_path / "v", model=MODEL, dim=DIM, full_scan_threshold=0, exact_allowed_limit=100
    )
    index.add(ids, vectors)
    query = vectors[0]
    nearest = brute_force(vectors, ids, query, 200)
    allowed = set(ids) - set(nearest)
    hits = index.search(query, limit=10, allowed=allowed)
    assert len(hits) == 10 and {i for i, _ in hits} <= allowed


def test_save_and_reopen_keeps_everything(tmp_path: Path) -> None:
    vectors = unit_rows(500, seed=4)
    ids = [f"2401.{i:05d}" for i in range(500)]
    path = tmp_path / "vectors"
    index = HnswIndex.open(path, model=MODEL, dim=DIM)
    assert not index.rebuilt_fresh and len(index) == 0
    index.add(ids, vectors)
    index.remove(ids[:10])
    before = index.search(vectors[42], limit=10)
    index.save()
    index.close()

    meta = json.loads((path / "meta.json").read_text())
    assert meta["model"] == MODEL and meta["dim"] == DIM and meta["count"] == 490
    assert meta["schema_version"] == SCHEMA_VERSION and meta["dtype"] == "i8"
    assert sorted(p.name for p in path.iterdir()) == ["exact.f16", "keys.json", "meta.json",
                                                      "vectors.usearch"]

    again = HnswIndex.open(path, model=MODEL, dim=DIM)
    assert not again.rebuilt_fresh
    assert again.ids() == set(ids[10:])
    assert again.search(vectors[42], limit=10) == before
    np.testing.assert_allclose(again.vector(ids[42]), vectors[42], atol=1e-3)
    again.add(["new"], unit_rows(1, seed=5))  # keys keep counting after a reload
    assert again.search(unit_rows(1, seed=5)[0], limit=1)[0][0] == "new"
    assert again.search(vectors[42], limit=1)[0][0] == ids[42]


def test_an_open_index_answers_while_another_saves_over_its_folder(tmp_path: Path) -> None:
    """A loaded graph is mapped from its file, not copied: a server keeps searching it while
    `paperboy embed` saves a new version in the same folder, and can still change it."""
    vectors = unit_rows(600, seed=6)
    ids = [f"p{i}" for i in range(600)]
    path = tmp_path / "vectors"
    with HnswIndex.open(path, model=MODEL, dim=DIM) as first:
        first.add(ids[:300], vectors[:300])
    serving = HnswIndex.open(path, model=MODEL, dim=DIM)
    assert serving._mapped  # not a private copy
    before = serving.search(vectors[7], limit=10)

    with HnswIndex.open(path, model=MODEL, dim=DIM) as writer:  # another process's save
        writer.remove(ids[:100])
        writer.add(ids[300:], vectors[300:])
    assert serving.search(vectors[7], limit=10) == before  # the version it opened
    assert len(serving) == 300

    serving.add(["late"], unit_rows(1, seed=7))  # its first change copies the graph
    assert not serving._mapped
    assert serving.search(unit_rows(1, seed=7)[0], limit=1)[0][0] == "late"
    assert serving.search(vectors[7], limit=10) == before
    serving.close()


def test_close_saves_pending_changes(tmp_path: Path) -> None:
    with HnswIndex.open(tmp_path / "v", model=MODEL, dim=DIM) as index:
        index.add(["a", "b"], unit_rows(2))
    assert HnswIndex.open(tmp_path / "v", model=MODEL, dim=DIM).ids() == {"a", "b"}


@pytest.mark.parametrize(
    ("model", "dim"), [("other-model", DIM), (MODEL, DIM * 2)], ids=["model", "dim"]
)
def test_reopening_for_another_model_or_dim_starts_empty(
    tmp_path: Path, model: str, dim: int
) -> None:
    path = tmp_path / "v"
    index = HnswIndex.open(path, model=MODEL, dim=DIM)
    index.add(["a", "b"], unit_rows(2))
    index.save()
    other = HnswIndex.open(path, model=model, dim=dim)
    assert other.rebuilt_fresh and len(other) == 0
    assert other.rebuilt_reason
    other.add(["c"], unit_rows(1, dim=dim))
    other.save()
    reopened = HnswIndex.open(path, model=model, dim=dim)
    assert not reopened.rebuilt_fresh and reopened.ids() == {"c"}


def test_corrupt_or_partial_folder_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "v"
    index = HnswIndex.open(path, model=MODEL, dim=DIM)
    index.add(["a"], unit_rows(1))
    index.save()
    (path / "vectors.usearch").write_bytes(b"not an index")
    broken = HnswIndex.open(path, model=MODEL, dim=DIM)
    assert broken.rebuilt_fresh and len(broken) == 0

    index.save()
    (path / "keys.json").unlink()
    assert HnswIndex.open(path, model=MODEL, dim=DIM).rebuilt_fresh

    # keys.json from one save, meta.json and vectors from the next: never mixed.
    index.save()
    old_keys = (path / "keys.json").read_bytes()
    index.add(["b"], unit_rows(1, seed=3))
    index.save()
    (path / "keys.json").write_bytes(old_keys)
    torn = HnswIndex.open(path, model=MODEL, dim=DIM)
    assert torn.rebuilt_fresh and "different saves" in (torn.rebuilt_reason or "")


def test_interrupted_save_leaves_a_whole_version(tmp_path: Path) -> None:
    path = tmp_path / "v"
    index = HnswIndex.open(path, model=MODEL, dim=DIM)
    index.add(["old"], unit_rows(1))
    index.save()
    # Killed while writing the next version: temp files exist, no commit marker.
    (path / "vectors.usearch.tmp").write_bytes(b"half written")
    (path / "keys.json.tmp").write_text('{"ids": ["old", "ne')
    reopened = HnswIndex.open(path, model=MODEL, dim=DIM)
    assert not reopened.rebuilt_fresh and reopened.ids() == {"old"}
    reopened.save()  # the next save replaces the leftovers
    assert not list(path.glob("*.tmp"))

    # Killed after the commit marker, half-way through the renames: the new version wins.
    index.add(["new"], unit_rows(1, seed=9))
    index.save()
    new_files = {n: (path / n).read_bytes()
                 for n in ("vectors.usearch", "keys.json", "exact.f16", "meta.json")}
    reopened.save()  # the "old" version back on disk
    for name, data in new_files.items():
        (path / f"{name}.tmp").write_bytes(data)
    (path / "vectors.usearch.tmp").replace(path / "vectors.usearch")
    (path / "commit").write_text("vectors.usearch\nkeys.json\nexact.f16\nmeta.json\n")
    rolled = HnswIndex.open(path, model=MODEL, dim=DIM)
    assert not rolled.rebuilt_fresh and rolled.ids() == {"old", "new"}
    assert not (path / "commit").exists()


def test_bad_input_is_rejected_before_anything_changes(tmp_path: Path) -> None:
    index = HnswIndex.open(tmp_path / "v", model=MODEL, dim=DIM)
    index.add(["a"], unit_rows(1))
    with pytest.raises(ValueError, match="shape"):
        index.add(["b", "c"], unit_rows(1))
    with pytest.raises(ValueError, match="zero"):
        index.add(["b"], np.zeros((1, DIM), dtype=np.float32))
    with pytest.raises(ValueError, match="dimensions"):
        index.search(np.ones(DIM + 1, dtype=np.float32), limit=3)
    assert index.ids() == {"a"}
    assert index.search(unit_rows(1)[0], limit=0) == []


def test_works_with_hashing_embedder_vectors(tmp_path: Path) -> None:
    embedder = HashingEmbedder(dim=128)
    texts = {
        "k": "kernel methods for nonparametric regression",
        "g": "gaussian process regression with kernels",
        "l": "serving large language models on gpus",
    }
    index = HnswIndex.open(tmp_path / "v", model=embedder.name, dim=embedder.dim)
    index.add(list(texts), embedder.embed(list(texts.values())))
    hits = index.search(embedder.embed(["kernel regression"])[0], limit=3)
    assert hits[-1][0] == "l"


def recall_at_10(index: HnswIndex, vectors: np.ndarray, queries: np.ndarray) -> float:
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    found = 0
    for query, best in zip(queries, truth, strict=True):
        got = {int(i) for i, _ in index.search(query, limit=10)}
        found += len(got & set(best.tolist()))
    return found / truth.size


def test_recall_at_10_on_20k_random_384d_vectors(tmp_path: Path) -> None:
    # Default settings: an index this size is scanned exactly (see FULL_SCAN_THRESHOLD).
    n, dim = 20_000, 384
    vectors = unit_rows(n, dim=dim, seed=11)
    index = HnswIndex.open(tmp_path / "v", model=MODEL, dim=dim)
    index.add([str(i) for i in range(n)], vectors)
    recall = recall_at_10(index, vectors, unit_rows(100, dim=dim, seed=12))
    assert recall >= 0.95, recall


def text_like_rows(n: int, seed: int, dim: int = 384, latent: int = 32) -> np.ndarray:
    """Unit vectors near a 32-d subspace, like sentence embeddings (half their variance sits in
    ~50 directions), unlike uniform random vectors that no graph index serves well."""
    basis = np.random.default_rng(0).standard_normal((latent, dim)).astype(np.float32)
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((n, latent)).astype(np.float32) @ basis
    rows += 0.85 * rng.standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_graph_recall_at_10_on_text_like_vectors(tmp_path: Path) -> None:
    # The HNSW graph itself, at the default connectivity and expansion (no full scan).
    vectors = text_like_rows(20_000, seed=1)
    index = HnswIndex.open(tmp_path / "v", model=MODEL, dim=384, full_scan_threshold=0)
    index.add([str(i) for i in range(len(vectors))], vectors)
    recall = recall_at_10(index, vectors, text_like_rows(100, seed=2))
    assert recall >= 0.95, recall


def test_the_int8_graph_ranks_by_exact_cosines_before_and_after_a_save(tmp_path: Path) -> None:
    # The graph walks int8 vectors; what it finds is ranked by the f16 ones in exact.f16
    # (rows added since the last save are read from memory, older ones from the file).
    vectors = text_like_rows(3000, seed=4)
    ids = [str(i) for i in range(len(vectors))]
    index = HnswIndex.open(tmp_path / "v", model=MODEL, dim=384, full_scan_threshold=0)
    index.add(ids[:2000], vectors[:2000])
    index.save()
    index.add(ids[2000:], vectors[2000:])
    query = text_like_rows(1, seed=5)[0]

    def exact_ranking(hits: list[tuple[str, float]]) -> None:
        scores = [score for _, score in hits]
        assert scores == sorted(scores, reverse=True)
        for paper_id, score in hits:  # int8 scores would be off by about 1e-2
            assert score == pytest.approx(float(vectors[int(paper_id)] @ query), abs=2e-3)

    hits = index.search(query, limit=20)
    exact_ranking(hits)
    assert {int(i) for i, _ in hits} & set(range(2000, 3000))  # pending rows are found too
    index.close()
    reopened = HnswIndex.open(tmp_path / "v", model=MODEL, dim=384, full_scan_threshold=0)
    assert reopened.search(query, limit=20) == hits
    np.testing.assert_allclose(reopened.vector("2999"), vectors[2999], atol=1e-3)
    assert reopened.similarities(query, ["5", "2500"]) == pytest.approx(
        {"5": float(vectors[5] @ query), "2500": float(vectors[2500] @ query)}, abs=2e-3)
