"""Trending: signal histories built here, ranked through the service and the CLI, on both stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import FIXTURES, make_settings
from typer.testing import CliRunner

from paperboy.cli import app
from paperboy.clock import FixedClock
from paperboy.models import PaperRecord, Signal
from paperboy.service import Paperboy
from paperboy.signals.trending import WINDOWS, events_of, score

NOW = datetime(2026, 6, 20, 12, 0, tzinfo=UTC)
HF_DAILY = FIXTURES / "hf_daily_papers.json"


def _paper(service: Paperboy, paper_id: str, *, age: timedelta = timedelta(days=3),
           category: str = "cs.LG") -> str:
    record = PaperRecord(source="kaggle", position="line 1", arxiv_id=paper_id,
                         title=f"Paper {paper_id}", categories=[category],
                         published=NOW - age)
    with service.store.transaction() as conn:
        service.store.write(conn, [record], NOW - age)
    return paper_id


def _votes(service: Paperboy, paper_id: str, n: int, at: datetime) -> None:
    for reader in range(n):
        assert service.store.signals.vote(f"reader{reader}@example.org", paper_id, at)


def _stars(service: Paperboy, paper_id: str, *snapshots: tuple[datetime, int],
           repo: str = "owner/repo") -> None:
    with service.store.transaction() as conn:
        service.store.signals.observe(conn, [(paper_id, Signal("stars", repo, at, stars))
                                             for at, stars in snapshots])


def _ids(service: Paperboy, window: str = "week", **kwargs: object) -> list[str]:
    return [e.id for e in service.trending(window=window, now=NOW, **kwargs)]  # type: ignore[arg-type]


def test_hf_daily_upvotes_trend_on_their_daily_date(tmp_path: Path, database_url: str) -> None:
    home = tmp_path / "home"
    env = {"PAPERBOY_DATABASE_URL": database_url}
    assert CliRunner().invoke(app, ["--home", str(home), "ingest", str(HF_DAILY)],
                              env=env).exit_code == 0
    result = CliRunner().invoke(app, ["--home", str(home), "trending", "--json", "--window",
                                      "week", "--at", "2026-06-14"], env=env)
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    upvoted = {e["paper"]["id"]: e["paper"]["upvotes"] for e in json.loads(HF_DAILY.read_text())
               if e["paper"]["upvotes"]}
    assert len(entries) == len(upvoted) == 7
    assert {e["id"] for e in entries} == set(upvoted)
    assert [e["score"] for e in entries] == sorted((e["score"] for e in entries), reverse=True)
    assert entries[0]["id"] == max(upvoted, key=upvoted.__getitem__)
    for entry in entries:
        n = upvoted[entry["id"]]
        assert entry["title"] and entry["upvotes"] == n
        assert entry["explanation"] == (
            f"{n} upvote{'s' if n > 1 else ''} on Hugging Face in the 7 days to 2026-06-14")
    # A week later the daily date has left the window; the day before, it had not arrived yet.
    for day in ("2026-06-19", "2026-06-11"):
        later = CliRunner().invoke(app, ["--home", str(home), "trending", "--json", "--at", day],
                                   env=env)
        assert json.loads(later.stdout) == []


def test_reingesting_the_same_daily_papers_adds_no_signal(tmp_path: Path) -> None:
    service = Paperboy(make_settings(tmp_path / "home"), clock=FixedClock(NOW))
    service.ingest([str(HF_DAILY)])
    before = service.trending(day=NOW.date().replace(day=14))
    service.ingest([str(HF_DAILY)])
    after = service.trending(day=NOW.date().replace(day=14))
    assert [(e.id, e.score) for e in after] == [(e.id, e.score) for e in before]
    service.close()


def test_more_and_more_recent_activity_ranks_higher(service: Paperboy) -> None:
    for paper_id in ("2606.00001", "2606.00002", "2606.00003"):
        _paper(service, paper_id)
    _votes(service, "2606.00001", 10, NOW - timedelta(hours=2))
    _votes(service, "2606.00002", 10, NOW - timedelta(days=5))  # as many, but older
    _votes(service, "2606.00003", 3, NOW - timedelta(hours=2))  # 10 votes 5 days ago: 3.7
    assert _ids(service) == ["2606.00001", "2606.00002", "2606.00003"]
    assert _ids(service, "day") == ["2606.00001", "2606.00003"]  # the older votes left the day


def test_ties_go_to_the_newer_paper_then_the_smaller_id(service: Paperboy) -> None:
    _paper(service, "2606.00009", age=timedelta(days=5))
    _paper(service, "2606.00008", age=timedelta(days=1))
    _paper(service, "2606.00007", age=timedelta(days=1))
    for paper_id in ("2606.00009", "2606.00008", "2606.00007"):
        _votes(service, paper_id, 3, NOW - timedelta(hours=1))
    entries = service.trending(now=NOW)
    assert len({round(e.score, 9) for e in entries}) == 1
    assert [e.id for e in entries] == ["2606.00007", "2606.00008", "2606.00009"]


def test_window_edges_start_inclusive_end_exclusive(service: Paperboy) -> None:
    _paper(service, "2606.00001", age=timedelta(days=20))
    _paper(service, "2606.00002", age=timedelta(days=20))
    end = datetime(2026, 6, 15, tzinfo=UTC)  # the end of --at 2026-06-14
    _votes(service, "2606.00001", 1, end - timedelta(days=7))  # the first instant of the week
    _votes(service, "2606.00002", 1, end)  # the first instant after it
    assert _ids(service, day=end.date() - timedelta(days=1)) == ["2606.00001"]
    assert _ids(service, day=end.date()) == ["2606.00002"]


def test_times_in_other_zones_count_by_their_utc_instant(service: Paperboy) -> None:
    _paper(service, "2606.00001", age=timedelta(days=10))
    tokyo = timezone(timedelta(hours=9))
    # 08:00 on the 15th in Tokyo is 23:00 on the 14th in UTC: inside --at 2026-06-14.
    _votes(service, "2606.00001", 2, datetime(2026, 6, 15, 8, 0, tzinfo=tokyo))
    assert _ids(service, day=datetime(2026, 6, 14).date()) == ["2606.00001"]
    assert _ids(service, "day", day=datetime(2026, 6, 13).date()) == []


def test_a_withdrawn_vote_stops_counting_when_withdrawn(service: Paperboy) -> None:
    _paper(service, "2606.00001", age=timedelta(days=10))
    _paper(service, "2606.00002", age=timedelta(days=10))
    voted, withdrawn = NOW - timedelta(days=3), NOW - timedelta(days=1)
    _votes(service, "2606.00001", 2, voted)
    _votes(service, "2606.00002", 1, voted)
    assert not service.store.signals.vote("reader0@example.org", "2606.00001", voted)  # once
    assert service.store.signals.withdraw("reader0@example.org", "2606.00001", withdrawn)
    assert service.store.signals.withdraw("reader1@example.org", "2606.00001", withdrawn)
    assert not service.store.signals.withdraw("reader1@example.org", "2606.00001", withdrawn)
    assert _ids(service) == ["2606.00002"]
    before = service.trending(now=withdrawn - timedelta(hours=1))
    assert [(e.id, e.local_upvotes) for e in before] == [("2606.00001", 2), ("2606.00002", 1)]
    assert service.store.signals.voters("2606.00001") == 0


def test_a_burst_on_an_old_paper_does_not_crowd_the_list(service: Paperboy) -> None:
    _paper(service, "1706.03762", age=timedelta(days=3000))
    _paper(service, "2606.00001")
    _stars(service, "1706.03762", (NOW - timedelta(days=6), 120_000),
           (NOW - timedelta(hours=1), 125_000))
    _votes(service, "2606.00001", 1, NOW - timedelta(hours=1))
    for window in WINDOWS:
        assert _ids(service, window) == ["2606.00001"]


def test_a_steady_climber_beats_an_old_burst(service: Paperboy) -> None:
    _paper(service, "2606.00001", age=timedelta(days=40))  # climbs 30 stars a day
    _paper(service, "2606.00002", age=timedelta(days=40))  # 40 upvotes three weeks ago
    _stars(service, "2606.00001", *[(NOW - timedelta(days=d, hours=1), 3000 - 30 * d)
                                    for d in range(29, -1, -1)])
    _votes(service, "2606.00002", 40, NOW - timedelta(days=21))
    assert _ids(service, "week") == ["2606.00001"]
    assert _ids(service, "month") == ["2606.00001", "2606.00002"]
    (climber, _) = service.trending(window="month", now=NOW)
    assert climber.stars == 29 * 30  # the first snapshot in the window is a baseline
    assert climber.explanation == "+870 stars in the last 30 days"


def test_first_star_count_is_a_baseline_and_growth_is_explained(service: Paperboy) -> None:
    _paper(service, "2606.00001")
    _stars(service, "2606.00001", (NOW - timedelta(days=2), 1000))
    assert _ids(service) == []
    _stars(service, "2606.00001", (NOW - timedelta(hours=3), 1320))
    _votes(service, "2606.00001", 14, NOW - timedelta(hours=3))
    (entry,) = service.trending(now=NOW)
    assert entry.explanation == "14 upvotes and +320 stars in the last 7 days"


def test_category_filter_and_limit(service: Paperboy) -> None:
    _paper(service, "2606.00001", category="cs.CL")
    _paper(service, "2606.00002", category="cs.LG")
    _paper(service, "2606.00003", category="cs.CL")
    _votes(service, "2606.00001", 3, NOW - timedelta(hours=1))
    _votes(service, "2606.00002", 2, NOW - timedelta(hours=1))
    _votes(service, "2606.00003", 1, NOW - timedelta(hours=1))
    assert _ids(service, category="cs.cl") == ["2606.00001", "2606.00003"]
    assert _ids(service, limit=1) == ["2606.00001"]


def test_the_database_computes_the_documented_formula(service: Paperboy) -> None:
    for n in range(1, 5):
        _paper(service, f"2606.0000{n}", age=timedelta(days=n * 5))
    _votes(service, "2606.00001", 3, NOW - timedelta(days=2))
    _stars(service, "2606.00002", (NOW - timedelta(days=10), 10), (NOW - timedelta(days=4), 90),
           (NOW - timedelta(hours=5), 400))
    _votes(service, "2606.00003", 5, NOW - timedelta(days=6, hours=23))
    service.store.signals.withdraw("reader0@example.org", "2606.00003", NOW - timedelta(days=1))
    _votes(service, "2606.00004", 2, NOW - timedelta(minutes=1))
    for window in WINDOWS.values():
        entries = service.trending(window=window.name, now=NOW)
        assert entries
        for entry in entries:
            born = entry.paper["published"]
            history = events_of(service.store.signals.history([entry.id]))
            assert entry.score == pytest.approx(score(history, born=born, until=NOW,
                                                      window=window), rel=1e-9)


def test_a_slow_list_is_served_as_it_was_while_a_thread_computes_the_new_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # a month over millions of events takes seconds: views after a new signal get the kept
    # list at once, one background computation replaces it, and a quick list never goes stale
    import threading
    import time

    from paperboy.signals import cache as trending_cache

    monkeypatch.setattr(trending_cache, "REFRESH_SHARE", 1.0)  # refresh as often as it takes
    slow = trending_cache.QUICK_S + 0.1
    lists = iter([["old"], ["new"], ["newer"]])
    computing: list[str] = []

    def compute(depth: int) -> list:  # type: ignore[type-arg]
        computing.append(threading.current_thread().name)
        time.sleep(slow)
        return next(lists)

    cache = trending_cache.TrendingCache()
    ask = {"window": "month", "day": None, "category": None, "limit": 20, "now": NOW}
    views = {**ask, "stale_ok": True}
    assert cache.get(**views, version=1, compute=compute) == ["old"]  # nothing kept: computed
    time.sleep(slow)  # as long as computing took: a refresh may start
    started = time.monotonic()
    for _ in range(5):  # a new signal: the kept list, at once, and one refresh behind it
        assert cache.get(**views, version=2, compute=compute) == ["old"]
    assert time.monotonic() - started < slow
    deadline = time.monotonic() + 10
    while cache.get(**views, version=2, compute=compute) != ["new"]:
        assert time.monotonic() < deadline, "the list was not refreshed"
        time.sleep(0.02)
    assert computing == ["MainThread", "paperboy-trending"]
    # a digest or the CLI waits for the list as it stands
    assert cache.get(**ask, version=3, compute=compute) == ["newer"]
    assert computing[-1] == "MainThread"

    quick = trending_cache.TrendingCache()
    quick.get(**ask, version=1, compute=lambda depth: ["a"])
    assert quick.get(**ask, version=2, compute=lambda depth: ["b"]) == ["b"]


def test_unknown_window_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--home", str(tmp_path), "trending", "--window", "year"])
    assert result.exit_code == 2
    assert "year" in result.output and "week" in result.output


def test_a_list_is_computed_once_until_a_signal_arrives_or_the_interval_passes(
        service: Paperboy) -> None:
    _paper(service, "2606.00001")
    _paper(service, "2606.00002")
    _votes(service, "2606.00001", 1, NOW - timedelta(hours=2))
    assert _ids(service) == ["2606.00001"]
    _votes(service, "2606.00002", 2, NOW - timedelta(hours=1))  # shows at once
    assert _ids(service) == ["2606.00002", "2606.00001"]
    assert _ids(service, limit=1) == ["2606.00002"]

    from paperboy.signals.cache import INTERVAL_S, TrendingCache

    computed: list[int] = []

    def compute(depth: int) -> list:  # type: ignore[type-arg]
        computed.append(depth)
        return service.trending(now=NOW)[:depth]

    cache = TrendingCache()
    ask = {"window": "week", "day": None, "category": None}
    for limit in (20, 5, 100):  # one list serves every page size up to its depth
        cache.get(**ask, limit=limit, now=NOW, version=7, compute=compute)
    assert computed == [100]
    cache.get(**ask, limit=20, now=NOW + timedelta(seconds=INTERVAL_S), version=7,
              compute=compute)  # the window slid
    cache.get(**ask, limit=20, now=NOW + timedelta(seconds=INTERVAL_S), version=8,
              compute=compute)  # a new signal
    assert computed == [100, 100, 100]
    cache.get(**ask, limit=500, now=NOW + timedelta(seconds=INTERVAL_S), version=8,
              compute=compute)  # deeper than kept, but all there is was kept: no recompute
    assert computed == [100, 100, 100]
