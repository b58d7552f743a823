"""Schemathesis over every operation of `/openapi.json`: generated valid and invalid requests
(`EXAMPLES` of each per operation), each answered without a server error, with a documented
status code, content type, headers and body shape, valid ones accepted and invalid ones
refused."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from conftest import NOW, PAPER_FIXTURES, make_settings
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from paperboy.clock import FixedClock
from paperboy.embed import HashingEmbedder
from paperboy.service import Paperboy, demo_corpus
from paperboy.web.app import create_app

EXAMPLES = 100  # per operation, of valid and of invalid requests each


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    home: Path = tmp_path_factory.mktemp("fuzz") / "home"
    service = Paperboy(make_settings(home), embedder=HashingEmbedder(dim=64),
                       clock=FixedClock(NOW))
    service.ingest([str(demo_corpus()), *map(str, PAPER_FIXTURES)])
    service.embed()
    app = create_app(service, base_url="https://papers.example.org")
    service.warm_up()
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    service.close()


def test_every_operation_answers_what_its_schema_says(api_schema: object) -> None:
    # schemathesis' own pytest plugin does not run under pytest 9, so each operation's
    # strategy is driven by hypothesis here
    operations = [result.ok() for result in api_schema.get_all_operations()]  # type: ignore[attr-defined]
    assert len(operations) >= 10
    failures, calls = [], 0
    for operation, mode in itertools.product(operations, GenerationMode):
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def answers(case: schemathesis.Case) -> None:
            nonlocal calls
            calls += 1
            # a cursor is an opaque token: a string of the right length is not one, and 400
            # is its documented answer, so only there may schema-valid data be refused
            opaque = "cursor" in (case.query or {})
            response = case.call()
            # a URL over the limit is refused before its parameters are read: 414 is how
            excluded = [negative_data_rejection] if response.status_code == 414 else []
            case.validate_response(
                response, excluded_checks=excluded + ([positive_data_acceptance] if opaque
                                                      else []))

        try:
            answers()
        except Unsatisfiable:  # no invalid request of this operation can be written
            assert mode is GenerationMode.NEGATIVE, operation.label
        except (Exception, BaseExceptionGroup) as error:  # gathered: one run names them all
            failures.append(f"{operation.label} ({mode.value} data): {error}")
    print(f"schemathesis: {calls} requests over {len(operations)} operations")
    assert not failures, "\n\n".join(failures)
