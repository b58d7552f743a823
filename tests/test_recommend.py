"""Per-reader recommendations: a reader gets papers like the ones they saved, never the ones
they saved, dismissed or were already shown, each with the saved paper it resembles most."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import LISTING

from paperboy.embed import HashingEmbedder, normalize_rows, paper_text
from paperboy.models import PaperRecord
from paperboy.readers.recommend import (
    Recommendation,
    cold_start,
    library_fingerprint,
    recommend,
)
from paperboy.sources import listing

CLUSTERS = 6
PER_CLUSTER = 40
DIM = 48


def clustered(seed: int = 1) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Ids "c{cluster}-{n}", unit vectors scattered around CLUSTERS random centres, the centres."""
    rng = np.random.default_rng(seed)
    centres = normalize_rows(rng.standard_normal((CLUSTERS, DIM)))
    ids, rows = [], []
    for c, centre in enumerate(centres):
        for n in range(PER_CLUSTER):
            ids.append(f"c{c}-{n}")
            rows.append(centre + 0.08 * rng.standard_normal(DIM))
    return ids, normalize_rows(np.array(rows)), centres


def cluster(paper_id: str) -> int:
    return int(paper_id[1 : paper_id.index("-")])


def vectors_of(ids: list[str], matrix: np.ndarray, chosen: list[str]) -> dict[str, np.ndarray]:
    return {paper_id: matrix[ids.index(paper_id)] for paper_id in chosen}


def test_recommendations_come_from_the_readers_cluster() -> None:
    ids, matrix, _ = clustered()
    library = vectors_of(ids, matrix, ["c2-0", "c2-1", "c2-2", "c2-3"])

    recs = recommend(library=library, dismissed={}, candidates=ids, matrix=matrix, k=20)

    assert len(recs) == 20
    assert all(isinstance(r, Recommendation) for r in recs)
    assert {cluster(r.paper_id) for r in recs} == {2}
    scores = [r.score for r in recs]
    assert scores == sorted(scores, reverse=True)


def test_a_library_spanning_two_interests_gets_both() -> None:
    ids, matrix, _ = clustered()
    library = vectors_of(ids, matrix, ["c1-0", "c1-1", "c1-2", "c4-0", "c4-1", "c4-2"])

    recs = recommend(library=library, dismissed={}, candidates=ids, matrix=matrix, k=30)

    assert {cluster(r.paper_id) for r in recs} == {1, 4}


def test_library_dismissed_and_excluded_papers_never_come_back() -> None:
    ids, matrix, _ = clustered()
    saved = [f"c3-{n}" for n in range(10)]
    dismissed = [f"c3-{n}" for n in range(10, 20)]
    shown = [f"c3-{n}" for n in range(20, 25)] + ["not-a-candidate"]

    recs = recommend(
        library=vectors_of(ids, matrix, saved), dismissed=vectors_of(ids, matrix, dismissed),
        candidates=ids, matrix=matrix, k=len(ids), exclude=shown,
    )

    returned = [r.paper_id for r in recs]
    assert not set(returned) & (set(saved) | set(dismissed) | set(shown))
    assert len(returned) == len(set(returned)) == len(ids) - 25
    # What remains of the reader's cluster still leads.
    assert {cluster(p) for p in returned[:15]} == {3}


def test_dismissing_papers_pushes_their_kind_down() -> None:
    # Cluster 0 has two halves, A (n < 20) and B; the reader saved some of each but keeps
    # dismissing B.
    ids, matrix, _ = clustered()
    rng = np.random.default_rng(5)
    offset = normalize_rows(rng.standard_normal(DIM))[0]
    matrix = matrix.copy()
    for n in range(20, PER_CLUSTER):
        row = ids.index(f"c0-{n}")
        matrix[row] = normalize_rows(matrix[row] + 0.5 * offset)[0]
    saved = ["c0-0", "c0-1", "c0-2", "c0-20", "c0-21", "c0-22"]
    dismissed = [f"c0-{n}" for n in range(23, 30)]

    plain = recommend(library=vectors_of(ids, matrix, saved), dismissed={}, candidates=ids,
                      matrix=matrix, k=10)
    steered = recommend(library=vectors_of(ids, matrix, saved),
                        dismissed=vectors_of(ids, matrix, dismissed), candidates=ids,
                        matrix=matrix, k=10)

    def half_b(recs: list[Recommendation]) -> int:
        return sum(int(r.paper_id.split("-")[1]) >= 20 for r in recs)

    assert half_b(steered) <= 2 <= half_b(plain) - half_b(steered)
    assert all(cluster(r.paper_id) == 0 for r in steered)


def test_closest_id_names_the_nearest_saved_paper() -> None:
    ids, matrix, _ = clustered()
    saved = ["c1-0", "c1-1", "c4-0", "c4-1", "c5-7"]
    library = vectors_of(ids, matrix, saved)

    recs = recommend(library=library, dismissed={}, candidates=ids, matrix=matrix, k=25)

    for r in recs:
        vector = matrix[ids.index(r.paper_id)]
        similarity = {s: float(vector @ library[s]) for s in saved}
        assert r.closest_id == max(similarity, key=similarity.__getitem__)
        assert r.closest_similarity == pytest.approx(similarity[r.closest_id], abs=1e-5)
        assert cluster(r.closest_id) == cluster(r.paper_id)


def test_cold_start_follows_the_topics() -> None:
    ids, matrix, centres = clustered()
    topics = {"KV cache": centres[2], "mixture of experts": centres[5]}

    recs = cold_start(topics=topics, candidates=ids, matrix=matrix, k=40, exclude=["c2-0"])

    assert len(recs) == 40
    assert "c2-0" not in {r.paper_id for r in recs}
    by_label = {"KV cache": 2, "mixture of experts": 5}
    for r in recs:
        assert r.closest_id in by_label
        assert cluster(r.paper_id) == by_label[r.closest_id]
        assert r.score == r.closest_similarity
    assert {r.closest_id for r in recs} == set(by_label)


def test_real_text_a_kv_cache_reader_gets_kv_cache_papers() -> None:
    papers = [r for r in listing.parse(LISTING.read_bytes()) if isinstance(r, PaperRecord)]
    ids = [p.title for p in papers]
    text = {p.title: paper_text({"title": p.title, "abstract": p.abstract}) for p in papers}
    embedder = HashingEmbedder(256)
    matrix = embedder.embed([text[t] for t in ids])
    saved = [t for t in ids if "KV Cache" in t][:3]

    recs = recommend(library=vectors_of(ids, matrix, saved), dismissed={}, candidates=ids,
                     matrix=matrix, k=4)
    assert all(re.search(r"KV\)?[- ]cache", text[r.paper_id], re.I) for r in recs)
    assert all(r.closest_id in saved for r in recs)

    first = cold_start(topics={"KV cache": embedder.embed_query("KV cache")}, candidates=ids,
                       matrix=matrix, k=3)
    assert all("KV Cache" in r.paper_id for r in first)


def test_same_inputs_and_seed_give_the_same_list() -> None:
    ids, matrix, _ = clustered()
    saved = ["c0-0", "c0-1", "c3-5"]
    library = vectors_of(ids, matrix, saved)
    dismissed = vectors_of(ids, matrix, ["c0-9"])

    def run(lib: dict[str, np.ndarray]) -> list[Recommendation]:
        return recommend(library=lib, dismissed=dismissed, candidates=ids, matrix=matrix,
                         k=30, negatives=50, seed=3)

    first = run(library)
    assert run(library) == first
    assert run(dict(reversed(library.items()))) == first  # the mapping's order does not matter


def test_nothing_to_go_on_gives_nothing() -> None:
    ids, matrix, _ = clustered()
    assert recommend(library={}, dismissed=vectors_of(ids, matrix, ["c0-0"]), candidates=ids,
                     matrix=matrix) == []
    assert cold_start(topics={}, candidates=ids, matrix=matrix) == []
    library = vectors_of(ids, matrix, ["c0-0"])
    assert recommend(library=library, dismissed={}, candidates=ids, matrix=matrix, k=0) == []
    assert recommend(library=library, dismissed={}, candidates=[],
                     matrix=np.zeros((0, DIM), dtype=np.float32)) == []


def test_one_saved_paper_and_no_other_papers_to_contrast_still_works() -> None:
    ids, matrix, _ = clustered()
    one = recommend(library=vectors_of(ids, matrix, ["c2-0"]), dismissed={}, candidates=ids,
                    matrix=matrix, k=5)
    assert {cluster(r.paper_id) for r in one} == {2}
    assert {r.closest_id for r in one} == {"c2-0"}

    # Every candidate but one is in the library: no negatives can be sampled.
    candidates = ids[:5]
    recs = recommend(library=vectors_of(ids, matrix, candidates[:4]), dismissed={},
                     candidates=candidates, matrix=matrix[:5], k=5)
    assert [r.paper_id for r in recs] == [candidates[4]]


def test_vectors_from_another_model_are_refused() -> None:
    ids, matrix, _ = clustered()
    with pytest.raises(ValueError, match="'c0-0'.*48 columns"):
        recommend(library={"c0-0": np.ones(DIM + 1, dtype=np.float32)}, dismissed={},
                  candidates=ids, matrix=matrix)
    with pytest.raises(ValueError, match="one row per candidate"):
        recommend(library=vectors_of(ids, matrix, ["c0-0"]), dismissed={},
                  candidates=ids[:-1], matrix=matrix)


def test_library_fingerprint_changes_only_when_the_library_does() -> None:
    base = library_fingerprint(["2401.00001", "2401.00002"])
    assert library_fingerprint(["2401.00002", "2401.00001", "2401.00002"]) == base
    assert library_fingerprint(["2401.00001"]) != base
    assert library_fingerprint(["2401.00001", "2401.00002"], dismissed_ids=["x"]) != base
