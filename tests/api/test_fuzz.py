"""Every public route, fuzzed from the OpenAPI description the app itself serves (issue #6).

schemathesis reads ``/openapi.json`` from a whole service on loopback and, for each operation,
sends schema-valid requests (positive) and schema-breaking ones (negative) with alice's bearer
token. Every answer must be:

- no 5xx (``not_a_server_error``);
- a documented status code, content type and headers (``status_code_conformance``,
  ``content_type_conformance``, ``response_headers_conformance``);
- a body that fits the schema documented for that status (``response_schema_conformance``);
- a refusal (4xx) when the request breaks the schema (``negative_data_rejection``);
- a refusal without credentials where the route declares security (``ignored_auth``: it
  sends the request again without them, and with wrong ones).

Not checked: ``positive_data_acceptance``. A request can fit the JSON Schema and still be
refused by a documented rule that spans fields (a prompt unless there is a ``source``; the
pixel budget of width × height × frames; an upload that must exist; an integer
``Last-Event-ID``). Those refusals are documented 4xx answers whose shape is checked here.

Requests reach real rows, not only 404s: half the cases of a route with a ``job_id`` name a
job of alice's that completed (with a webhook delivery), or one of bob's (which alice must
not see). Callbacks get the job's valid HMAC token when they name such a job, and whatever
schemathesis makes up otherwise: a wrong token must be a 401, never a 5xx. Admin routes get a
``service_role`` token. URLs the worker or the webhook deliverer would fetch are pointed at a
closed loopback port, so the run sends nothing off this machine.

Then a few requests the fuzzing finds only by luck, each once an answer of 500 (NUL characters
PostgreSQL cannot store, ids that are no UUID, a cursor without its offset, event ids past
64 bits, callback bodies JSONB cannot hold), get the same checks and their expected status.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict
from schemathesis import GenerationMode
from schemathesis.auths import AuthStorage
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pixelmotion.api.docs import OPERATIONS
from pixelmotion.api.schemas import HTTP_URL
from pixelmotion.security import callback_token, issue_token
from tests.running import Running
from tests.server import free_port

Operation = schemathesis.APIOperation[Any, Any, Any, Any]
FuzzCase = schemathesis.Case[Operation]

CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
EXAMPLES = 25  # per operation and mode; ~50 operation×mode pairs
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same cases on every run
    database=None,  # and no replay of failures from an earlier run's local database
    deadline=None,  # a request's time depends on the machine, not on the case
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)
REQUEST_TIMEOUT = 10.0
# An event stream stays open: read what comes within this time, then judge what was read.
STREAM_TIMEOUT = 0.3
STREAMS = {"/v1/events", "/v1/jobs/{job_id}/events"}
CALLBACKS = {"/v1/callbacks/luma/{job_id}", "/functions/v1/video-webhook"}
URL = re.compile(HTTP_URL)  # the pattern of every URL field of the requests

JOB = {"prompt": "a fuzzed cat blinking", "width": 16, "height": 16, "colorCount": 4, "fps": 12}


@dataclass(frozen=True)
class Seeds:
    """Rows the fuzzed requests can reach."""

    done: str  # alice's completed job, with a webhook delivery
    others: str  # bob's job: alice must get 404s for it
    delivery: str  # the delivery of ``done``


def seed(app: Running, closed_port: int) -> Seeds:
    with app.client("alice") as alice, app.client("bob") as bob:
        webhook = f"http://127.0.0.1:{closed_port}/hook"
        created = alice.post("/v1/jobs", json={**JOB, "webhookUrl": webhook})
        assert created.status_code == 202, created.text
        done = created.json()["jobId"]
        others = bob.post("/v1/jobs", json=JOB).json()["jobId"]
        job = app.wait_for_status(alice, done, {"completed", "failed"})
        assert job["status"] == "completed", job
        deliveries = alice.get(f"/v1/jobs/{done}/deliveries").json()
        assert deliveries, "the completed job's webhook delivery"
    return Seeds(done=done, others=others, delivery=deliveries[0]["id"])


def auth_for(app: Running, seeds: Seeds) -> AuthStorage[str]:
    """Credentials as schemathesis applies them: it leaves them off the cases that test a
    missing or broken credential, and its ``ignored_auth`` check knows they were valid."""
    alice = app.token("alice")
    operator = issue_token(
        app.settings.jwt_secret, "operator", audience=app.settings.jwt_audience, role="service_role"
    )
    ours = {seeds.done, seeds.others}
    storage: AuthStorage[str] = AuthStorage()

    class Credentials:
        def get(self, case: FuzzCase, _: schemathesis.AuthContext) -> str | None:
            path = case.operation.path
            if path in CALLBACKS:
                job_id = (case.path_parameters or {}).get("job_id") or (case.query or {}).get("jobId")
                if not isinstance(job_id, str) or job_id not in ours:
                    return None  # keep the made-up token: it must be refused
                return callback_token(app.settings.secret_key, job_id)
            return operator if path.startswith("/v1/admin/") else alice

        def set(self, case: FuzzCase, data: str, _: schemathesis.AuthContext) -> None:
            if case.operation.path in CALLBACKS:
                case.query = {**(case.query or {}), "token": data}
            else:
                headers: CaseInsensitiveDict[Any] = CaseInsensitiveDict(case.headers)  # a copy
                headers["Authorization"] = f"Bearer {data}"
                case.headers = headers

    storage.auth(refresh_interval=None)(Credentials)
    return storage


def strategies(
    operation: Operation, mode: GenerationMode, seeds: Seeds, auth: AuthStorage[str]
) -> st.SearchStrategy[FuzzCase]:
    """Made-up cases, and as many naming the seeded rows."""
    made_up = operation.as_strategy(generation_mode=mode, auth_storage=auth)
    path_names = {p.name for p in operation.path_parameters}
    fixed: list[dict[str, Any]] = []
    if "job_id" in path_names:
        ids = [{"job_id": seeds.done}, {"job_id": seeds.others}]
        if "delivery_id" in path_names:
            ids.append({"job_id": seeds.done, "delivery_id": seeds.delivery})
        fixed = [{"path_parameters": names} for names in ids]
    elif operation.path == "/functions/v1/video-webhook":
        fixed = [{"query": {"jobId": seeds.done}}, {"query": {"jobId": seeds.others}}]
    if not fixed:
        return made_up
    seeded = [operation.as_strategy(generation_mode=mode, auth_storage=auth, **kwargs) for kwargs in fixed]
    return st.one_of(made_up, *seeded)


def stay_on_loopback(case: FuzzCase, closed_port: int) -> None:
    """Point the URLs a job would make the worker fetch (an import's source, a webhook) at a
    closed loopback port. A URL is swapped only for another that fits the same schema, so a
    case stays as valid or as invalid as it was made."""
    body = case.body
    if not isinstance(body, dict):
        return
    loopback = f"http://127.0.0.1:{closed_port}/fuzz"
    url = body.get("webhookUrl")
    if isinstance(url, str) and URL.match(url) and len(url) <= 2048:
        body["webhookUrl"] = loopback
    source = body.get("source")
    if isinstance(source, dict):
        url = source.get("url")
        if isinstance(url, str) and URL.match(url) and 8 <= len(url) <= 2048:
            source["url"] = loopback
    url = body.get("url")  # POST /v1/webhooks
    if case.operation.path == "/v1/webhooks" and isinstance(url, str) and URL.match(url) and len(url) <= 2048:
        body["url"] = loopback


def operations(schema: schemathesis.BaseSchema) -> Iterator[Operation]:
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # a route the description cannot express fails here, by name
        yield result.ok()


def has_inputs(operation: Operation) -> bool:
    """Whether a negative case can be made: something to break besides the credentials."""
    definition = operation.definition.raw
    return bool(definition.get("parameters") or definition.get("requestBody"))


def fuzz(app: Running, subtests: pytest.Subtests) -> None:
    schema = schemathesis.openapi.from_url(f"{app.url}/openapi.json")
    closed_port = free_port()  # nothing listens there
    seeds = seed(app, closed_port)
    auth = auth_for(app, seeds)
    fuzzed: set[tuple[str, str]] = set()
    for operation in operations(schema):
        fuzzed.add((operation.method.lower(), operation.path))
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if has_inputs(operation) else [])
        for mode in modes:
            with subtests.test(msg=f"{operation.label} [{mode.value}]"):
                fuzz_operation(operation, strategies(operation, mode, seeds, auth), closed_port)
    for edge in edge_cases(app, seeds):
        with subtests.test(msg=f"{edge.method} {edge.path} {edge.why}"):
            check_edge_case(app, schema, edge)
    # A route served but left out of the description, or described but not served, would
    # escape the fuzzing; tests/api/test_docs.py holds the description to OPERATIONS.
    assert fuzzed == set(OPERATIONS)


def fuzz_operation(operation: Operation, cases: st.SearchStrategy[FuzzCase], closed_port: int) -> None:
    timeout = STREAM_TIMEOUT if operation.path in STREAMS else REQUEST_TIMEOUT

    @given(case=cases)
    @FUZZ
    def check(case: FuzzCase) -> None:
        stay_on_loopback(case, closed_port)
        response = case.call(timeout=timeout)
        case.validate_response(response, checks=CHECKS)

    check()


RESPONSE_CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass(frozen=True)
class Edge:
    method: str
    path: str  # as the description names it
    why: str
    status: int  # the documented answer expected
    path_parameters: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # sent as is, as application/json
    user: str = "alice"


def edge_cases(app: Running, seeds: Seeds) -> list[Edge]:
    done = {"job_id": seeds.done}
    stored = app.services.repository.jobs.get(seeds.done)
    assert stored is not None and stored.luma_generation_id
    token = {"token": callback_token(app.settings.secret_key, seeds.done)}

    def job(**fields: Any) -> bytes:
        return json.dumps({**JOB, **fields}).encode()

    def generation(extra: str) -> bytes:  # a callback of the job's own generation, plus ``extra``
        return f'{{"id": "{stored.luma_generation_id}", "state": "dreaming", "x": {extra}}}'.encode()

    jobs, events, callback = "/v1/jobs", "/v1/jobs/{job_id}/events", "/v1/callbacks/luma/{job_id}"
    beyond_64_bits = str(2**64)
    return [
        Edge("GET", jobs, "NUL in projectId", 422, query={"projectId": "a\x00b"}),
        Edge("GET", jobs, "cursor without offset", 422, query={"cursor": "2026-01-01T00:00:00"}),
        Edge("GET", jobs, "cursor as Unix seconds", 422, query={"cursor": "37783733374"}),
        Edge("GET", jobs, "cursor past year 9999 in UTC", 422, query={"cursor": "9999-12-31T23:59:59-05:00"}),
        Edge("POST", jobs, "NUL in prompt", 422, body=job(prompt="a c\x00at")),
        Edge("POST", jobs, "NUL in projectId", 422, body=job(projectId="p\x00")),
        Edge("POST", jobs, "NUL in webhookUrl", 422, body=job(webhookUrl="http://127.0.0.1/\x00")),
        Edge("POST", jobs, "body not UTF-8", 400, body=b'{"prompt": "\xff\xfe"}'),
        Edge("POST", "/v1/webhooks", "NUL in url", 422, body=b'{"url": "http://a/\\u0000"}'),
        Edge("GET", "/v1/events", "after past 64 bits", 422, query={"after": beyond_64_bits}),
        Edge("GET", "/v1/events", "Last-Event-ID past 64 bits", 400, headers={"Last-Event-ID": str(2**64)}),
        Edge("GET", events, "after past 64 bits", 422, path_parameters=done, query={"after": beyond_64_bits}),
        Edge(
            "POST",
            "/v1/jobs/{job_id}/deliveries/{delivery_id}/redeliver",
            "delivery id not a UUID",
            404,
            path_parameters={**done, "delivery_id": "0"},
        ),
        Edge("POST", "/v1/admin/jobs/{job_id}/requeue", "job id not a UUID", 409, {"job_id": "0"}, user="op"),
        Edge("POST", callback, "token not ASCII", 401, done, query={"token": "é"}, body=generation("1")),
        Edge("POST", callback, "NUL in the body", 400, done, token, body=generation('"\\u0000"')),
        Edge("POST", callback, "lone surrogate", 400, done, token, body=generation('"\\ud800"')),
        Edge("POST", callback, "NaN", 400, done, token, body=generation("NaN")),
        Edge("POST", callback, "a number past double", 400, done, token, body=generation("1e400")),
        Edge("POST", callback, "nested too deep", 400, done, token, body=b"[" * 100_000 + b"]" * 100_000),
    ]


def check_edge_case(app: Running, schema: schemathesis.BaseSchema, edge: Edge) -> None:
    operation = schema[edge.path][edge.method]
    case = operation.Case(path_parameters=edge.path_parameters, query=edge.query, headers=edge.headers)
    if edge.user == "op":
        credentials = issue_token(
            app.settings.jwt_secret, "operator", audience=app.settings.jwt_audience, role="service_role"
        )
    else:
        credentials = app.token(edge.user)
    headers = {"Authorization": f"Bearer {credentials}", "Content-Type": "application/json", **edge.headers}
    path = edge.path.format(**{name: quote(value, safe="") for name, value in edge.path_parameters.items()})
    with httpx.Client(base_url=app.url, timeout=REQUEST_TIMEOUT) as client:
        # Every edge case is refused, so no event stream stays open.
        answer = client.request(edge.method, path, params=edge.query, headers=headers, content=edge.body)
    assert answer.status_code == edge.status, answer.text
    case.validate_response(answer, checks=RESPONSE_CHECKS)


# schemathesis draws some choices from the global `random`, which Hypothesis seeds per example
# (so runs stay reproducible) while warning that strategies should not use it.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
def test_every_route_answers_as_documented(app: Running, subtests: pytest.Subtests) -> None:
    fuzz(app, subtests)
