"""The jobs API: submit, look at, requeue and cancel jobs; batches; the fleet. OpenAPI at /docs."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import redis
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, field_validator
from redis import Redis

from app import __version__, place
from app.access import bearer_matches, names_this_machine
from app.api import docs, ui
from app.api.models import BatchCreated, BatchList, BatchSummary, FleetView, JobCreated, JobPage, JobView, Status
from app.errors import ClaudeWorkersError
from app.fleet import clients, events
from app.fleet.clients import Client
from app.fleet.gate import Gate
from app.fleet.keys import Keys
from app.fleet.snapshot import take
from app.jobs import batch, files, service
from app.jobs.callback_url import CallbackRefused
from app.jobs.policy import PolicyViolation
from app.jobs.spec import JobSpec, callback_url_grammar
from app.jobs.submit import enqueue
from app.jobs.tenancy import OverLimit, SessionNotYours
from app.redis_conn import connect
from app.settings import Settings
from app.states import State


class BatchItemIn(JobSpec):
    custom_id: str = Field(
        min_length=1, max_length=200, description="Your key for this item; results are matched to it."
    )


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jobs: list[BatchItemIn] = Field(
        min_length=1, max_length=batch.MAX_BATCH, description="The jobs, each with its custom_id."
    )
    batch_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Your id for the batch; submitting the same id again queues only the items not queued yet.",
    )
    callback_url: str | None = Field(
        default=None,
        max_length=2048,
        description="When the batch's last job ends, POST the batch summary here, signed (docs/webhooks.md).",
    )

    @field_validator("callback_url")
    @classmethod
    def _callback_url(cls, value: str | None) -> str | None:
        return None if value is None else callback_url_grammar(value)


class FieldProblem(BaseModel):
    loc: list[str | int] = Field(description='Where the problem is, e.g. ["body", "max_turns"].')
    msg: str = Field(description="What is wrong with it.")
    type: str = Field(description="The kind of problem.")


class TarResponse(StreamingResponse):
    """A tar archive."""

    media_type = "application/x-tar"


class NDJSONResponse(StreamingResponse):
    """One JSON object per line."""

    media_type = "application/x-ndjson"


class EventStreamResponse(StreamingResponse):
    """Server-sent events."""

    media_type = "text/event-stream"


class Problem(BaseModel):
    detail: str | list[FieldProblem] = Field(description="What happened and what to do; per field for a 422.")


def _install_guards(app: FastAPI, settings: Settings) -> None:
    """Host check, body-size limit, and user errors mapped to 4xx (a 5xx only when Redis is down: 503)."""

    if settings.claude_workers_api_token is None:
        # without a token, the API trusts "this machine"; a page a browser loaded from another
        # name (DNS rebinding) or a neighbour container must not get through
        @app.middleware("http")
        async def loopback_hosts_only(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            if not names_this_machine(request.headers.get("host")):
                return JSONResponse(
                    {
                        "detail": "Without CLAUDE_WORKERS_API_TOKEN the API only answers requests addressed to "
                        "localhost or 127.0.0.1. Set a token to serve other names."
                    },
                    status_code=403,
                )
            return await call_next(request)

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        limit = settings.claude_workers_api_max_body
        too_big = JSONResponse({"detail": f"The request body is larger than {limit} bytes."}, status_code=413)
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return too_big
        if declared is None and request.method in ("POST", "PUT", "PATCH") and len(await request.body()) > limit:
            return too_big
        return await call_next(request)

    _install_error_handlers(app)


def _install_error_handlers(app: FastAPI) -> None:
    """Every error a client can cause is a 4xx that says what to fix; a 5xx means Redis."""

    @app.exception_handler(ClaudeWorkersError)
    async def user_error(request: Request, exc: ClaudeWorkersError) -> JSONResponse:
        if isinstance(exc, service.JobNotFound | batch.BatchNotFound | files.WorkspaceGone):
            status = 404
        elif isinstance(exc, PolicyViolation):
            status = 403
        elif isinstance(exc, batch.BatchInvalid | CallbackRefused | files.PathRefused | SessionNotYours):
            status = 422
        elif isinstance(exc, OverLimit):
            body: dict[str, Any] = {"detail": str(exc), "retry_at": exc.retry_at}
            wait = {"retry-after": str(max(1, int(exc.retry_at - time.time())))} if exc.retry_at else {}
            return JSONResponse(body, status_code=429, headers=wait)
        else:
            status = 409
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid_input(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the input, which may hold what JSON cannot carry (NaN)
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "invalid")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(RecursionError)
    async def too_deep(request: Request, exc: RecursionError) -> JSONResponse:
        return JSONResponse({"detail": "The JSON body nests too deeply."}, status_code=422)

    @app.exception_handler(redis.exceptions.OutOfMemoryError)
    async def redis_full(request: Request, exc: redis.RedisError) -> JSONResponse:
        return JSONResponse(
            {
                "detail": "Redis is out of memory (maxmemory reached, noeviction): nothing was queued. "
                "Free memory (delete old failed jobs: claude-workers jobs list --status failed) or raise "
                "Redis's maxmemory."
            },
            status_code=507,
        )

    @app.exception_handler(redis.RedisError)
    async def redis_down(request: Request, exc: redis.RedisError) -> JSONResponse:
        return JSONResponse({"detail": "Redis is not reachable; check REDIS_URL."}, status_code=503)


#: declared so the OpenAPI document has a bearer scheme (the docs page's Authorize button); the check is ours
_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="The fleet's CLAUDE_WORKERS_API_TOKEN. Not needed when the API runs without one (loopback only).",
)


def streaming_responses(
    errors: dict[int | str, dict[str, Any]], media_type: str, description: str
) -> dict[int | str, dict[str, Any]]:
    """The responses of a streaming route: its 200 is text of ``media_type``; its errors stay JSON
    (FastAPI would give them the stream's type)."""
    problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {
        **{code: {"description": "What happened and what to do.", "content": problem} for code in errors},
        200: {"description": description, "content": {media_type: {"schema": {"type": "string"}}}},
    }


@dataclass(frozen=True)
class Principal:
    """Who is asking: the operator (who sees everything), or one client (who sees its own jobs only)."""

    client: Client | None = None

    @property
    def name(self) -> str | None:
        return self.client.name if self.client is not None else None


OPERATOR = Principal()


def _principal(request: Request) -> Principal:
    """Who the route's own ``authorize`` dependency found (every route with a ``Who`` has it)."""
    found = getattr(request.state, "principal", None)
    if not isinstance(found, Principal):
        raise HTTPException(500, "The route was not authorized (a bug: report it).")
    return found


Who = Annotated[Principal, Depends(_principal)]


def _authorizer(conn: Redis, settings: Settings, token: str | None) -> Callable[..., Principal]:
    keys = Keys(settings.claude_workers_prefix)

    def authorize(
        request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None
    ) -> Principal:
        request.state.principal = who = identify(request)
        return who

    def identify(request: Request) -> Principal:
        scheme, _sep, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and given.startswith(clients.KEY_PREFIX):
            client = clients.by_key(conn, keys, given)
            if client is None:  # revoked or never issued: looked up on every request, so at once
                raise HTTPException(
                    401,
                    "This client key is not valid (revoked, or never issued); ask the operator for a new one.",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            return Principal(client)
        if token is None:
            return OPERATOR
        if request.method == "GET" and ui.cookie_matches(request, token):
            return OPERATOR  # the dashboard's session: reads only
        if not bearer_matches(request.headers.get("authorization"), token):
            raise HTTPException(
                401,
                "Send Authorization: Bearer <CLAUDE_WORKERS_API_TOKEN> (or your client key).",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return OPERATOR

    return authorize


def create_app(settings: Settings, conn: Redis | None = None) -> FastAPI:
    conn = conn or connect(settings, socket_timeout=5, connect_timeout=2)
    token = settings.claude_workers_api_token.get_secret_value() if settings.claude_workers_api_token else None
    app = FastAPI(
        title="claude-workers",
        version=__version__,
        description="Queue Claude jobs on a fleet that shares one Claude login. "
        "Send `Authorization: Bearer <CLAUDE_WORKERS_API_TOKEN>` when a token is configured.",
        docs_url=None,  # served from the package by app.api.docs, not from a CDN
        redoc_url=None,
    )
    docs.install(app)
    ui.install(app, token)
    _install_guards(app, settings)
    authorize = _authorizer(conn, settings, token)

    auth = [Depends(authorize)]
    errors: dict[int | str, dict[str, Any]] = {
        401: {"model": Problem},
        403: {"model": Problem},
        404: {"model": Problem},
        409: {"model": Problem},
        413: {"model": Problem},
        429: {"model": Problem},
        422: {"model": Problem},
        503: {"model": Problem},
        507: {"model": Problem},
    }

    def gate() -> Any:
        return Gate.of(conn, settings).read()

    matched: dict[int | str, dict[str, Any]] = {
        200: {
            "model": JobCreated,
            "description": "The idempotency key matched an existing job: that job, not a new one.",
        }
    }

    @app.post(
        "/jobs",
        tags=["jobs"],
        status_code=201,
        response_model=JobCreated,
        dependencies=auth,
        responses={**errors, **matched},
    )
    def submit_job(spec: JobSpec, response: Response, who: Who) -> JobCreated:
        """Queue a job. The same `idempotency_key` returns the same job (200), never a second one."""
        job, created = enqueue(conn, settings, spec, client=who.client)
        if not created:
            response.status_code = 200
        view = service.job_view(job, gate())
        return JobCreated.model_validate({"id": job.id, "status": view["status"], "created": created, "job": view})

    @app.get("/jobs/{job_id}", tags=["jobs"], response_model=JobView, dependencies=auth, responses=errors)
    def get_job(job_id: str, who: Who) -> dict[str, Any]:
        """One job: status, attempts, next attempt time, result or error with its instructions."""
        return service.job_view(service.fetch_for(conn, settings, job_id, who.name), gate())

    @app.get("/jobs", tags=["jobs"], response_model=JobPage, dependencies=auth, responses=errors)
    def list_jobs(
        status: Status | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, Query(max_length=64)] = None,
        *,
        who: Who,
    ) -> JobPage:
        """Jobs, newest first within each status; pass `next_cursor` back for the next page. A client sees its own."""
        views, next_cursor = service.list_jobs(conn, settings, gate(), status, limit, cursor, client=who.name)
        return JobPage.model_validate({"jobs": views, "next_cursor": next_cursor})

    @app.post("/jobs/{job_id}/requeue", tags=["jobs"], response_model=JobView, dependencies=auth, responses=errors)
    def requeue_job(job_id: str, who: Who) -> dict[str, Any]:
        """Put a failed or canceled job back on the queue with fresh retry budgets."""
        return service.job_view(service.requeue(conn, settings, job_id, who.name), gate())

    @app.get(
        "/jobs/{job_id}/files",
        tags=["jobs"],
        dependencies=auth,
        response_class=TarResponse,
        responses=streaming_responses(
            errors, TarResponse.media_type, "A tar archive of the job's workspace, or of the paths asked for."
        ),
    )
    def job_files(
        job_id: str,
        who: Who,
        path: Annotated[
            list[str], Query(max_length=files.MAX_NAMES, description="Only these paths (relative to the workspace).")
        ] = [],  # noqa: B006 - FastAPI reads the default, never mutates it
    ) -> StreamingResponse:
        """The job's workspace while it is kept (keep_workspace, a named workspace, or a job not ended yet)."""
        full_id, root = files.workspace_of(conn, settings, job_id, who.name)
        chosen = files.select(root, path)  # refused before the stream starts
        return TarResponse(
            files.tar_stream(root, chosen),
            headers={"content-disposition": f'attachment; filename="job-{full_id}.tar"'},
        )

    @app.delete("/jobs/{job_id}", tags=["jobs"], response_model=JobView, dependencies=auth, responses=errors)
    def cancel_job(job_id: str, who: Who) -> dict[str, Any]:
        """Cancel a queued, waiting or scheduled job."""
        return service.job_view(service.cancel(conn, settings, job_id, who.name), gate())

    @app.get("/fleet", tags=["fleet"], response_model=FleetView, dependencies=auth, responses=errors)
    def fleet(who: Who) -> dict[str, Any]:
        """The fleet state with what to do about it, workers, queue depths, and what jobs cost today.

        A client sees the fleet's state and its own spend: not which job a worker runs, nor what the
        other clients' jobs cost."""
        view = take(conn, settings).to_dict()
        if State(view["state"]).needs_a_login:
            view["command"] = place.setup_commands()[0]
        if who.name is not None:
            own = clients.spend(conn, Keys(settings.claude_workers_prefix), who.name, settings.timezone)
            view["spend"] = {**own, "timezone": view["spend"]["timezone"]}
            for worker in view["workers"]:
                worker["current_job"] = None
        return view

    _batch_routes(app, conn, settings, auth, errors)
    _event_routes(app, conn, settings, auth, errors)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app


def _batch_routes(
    app: FastAPI,
    conn: Redis,
    settings: Settings,
    auth: list[Any],
    errors: dict[int | str, dict[str, Any]],
) -> None:

    def mine(batch_id: str, who: Principal) -> str:
        if who.client is not None and batch.owner(batch_id) != who.name:
            raise batch.BatchNotFound(f"No batch {batch_id!r}.")
        return batch_id

    @app.post(
        "/batches", tags=["batches"], status_code=201, response_model=BatchCreated, dependencies=auth, responses=errors
    )
    def submit_batch(body: BatchIn, who: Who) -> dict[str, Any]:
        """Queue many jobs keyed by `custom_id`. Submitting the same batch again enqueues nothing twice."""
        items = batch.parse_items((i + 1, job.model_dump(exclude_unset=True)) for i, job in enumerate(body.jobs))
        return batch.submit(conn, settings, items, body.batch_id, callback=body.callback_url, client=who.client)

    @app.get("/batches", tags=["batches"], response_model=BatchList, dependencies=auth, responses=errors)
    def list_batches(who: Who, limit: Annotated[int, Query(ge=1, le=200)] = 20) -> dict[str, Any]:
        """The most recent batches and how many of each one's jobs have ended."""
        return {"batches": batch.recent(conn, settings, limit, client=who.name)}

    @app.get("/batches/{batch_id}", tags=["batches"], response_model=BatchSummary, dependencies=auth, responses=errors)
    def batch_summary(batch_id: str, who: Who) -> dict[str, Any]:
        """How many jobs of the batch are in each status, whether all are done, and its webhook's tries."""
        return batch.view(conn, settings, mine(batch_id, who))

    @app.get(
        "/batches/{batch_id}/results",
        tags=["batches"],
        response_class=NDJSONResponse,
        dependencies=auth,
        responses=streaming_responses(
            errors, NDJSONResponse.media_type, "One JSON object per line: custom_id, id, status, result, error."
        ),
    )
    def batch_results(batch_id: str, who: Who) -> StreamingResponse:
        """JSONL: one line per `custom_id`, in submission order."""
        rows = list(batch.results(conn, settings, mine(batch_id, who)))  # raises 404 before streaming starts

        def lines() -> Iterator[bytes]:
            for row in rows:
                yield (json.dumps(row, default=str) + "\n").encode()

        return NDJSONResponse(lines())


EventKind = Literal[(*events.KINDS, "job", "fleet", "worker")]  # type: ignore[valid-type]
#: an event id from the stream ("1764400000000-0"), "0" for every event kept, or "now"
EVENT_ID = r"^(\d{1,20}-\d{1,20}|0|now)$"


def _event_routes(
    app: FastAPI,
    conn: Redis,
    settings: Settings,
    auth: list[Any],
    errors: dict[int | str, dict[str, Any]],
) -> None:
    keys = Keys(settings.claude_workers_prefix)

    @app.get(
        "/events",
        tags=["events"],
        dependencies=auth,
        response_class=EventStreamResponse,
        responses=streaming_responses(
            errors,
            EventStreamResponse.media_type,
            "Server-sent events: `id` (send it back as Last-Event-ID), `event` (the kind), "
            "`data` (JSON: kind, at, job, batch and the event's own fields).",
        ),
    )
    def event_stream(
        request: Request,
        who: Who,
        job: Annotated[str | None, Query(max_length=128, description="Only this job's events.")] = None,
        batch: Annotated[str | None, Query(max_length=64, description="Only this batch's events.")] = None,
        kind: Annotated[
            list[EventKind], Query(description="Only these kinds (job.finished, ...) or families (job, fleet).")
        ] = [],  # noqa: B006 - FastAPI reads the default, never mutates it
        since: Annotated[
            str | None,
            Query(pattern=EVENT_ID, description="Start after this event id; 0: every event kept; now (default)."),
        ] = None,
    ) -> StreamingResponse:
        """Job and fleet events as they happen (SSE). Reconnect with `Last-Event-ID` and none is missed."""
        start = request.headers.get("last-event-id") or since or "now"
        if not re.match(EVENT_ID, start):
            raise HTTPException(422, "Last-Event-ID must be an id this stream sent.")
        after = events.latest_id(conn, keys) if start == "now" else start
        job_id = service.fetch_for(conn, settings, job, who.name).id if job else None

        def stream() -> Iterator[bytes]:
            yield b"retry: 2000\n\n"
            for event in events.follow(
                conn, keys, after, job=job_id, batch=batch, kinds=tuple(kind), client=who.name, block_ms=3000
            ):
                if event is None:
                    yield b": keep-alive\n\n"
                    continue
                yield f"id: {event.id}\nevent: {event.kind}\ndata: {json.dumps(event.to_dict())}\n\n".encode()

        return EventStreamResponse(stream(), headers={"cache-control": "no-cache", "x-accel-buffering": "no"})
