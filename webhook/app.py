"""The webhook's ASGI application: ``/mutate``, ``/validate``, ``/healthz``, ``/readyz``.

Handlers return Starlette responses directly (no response models). The
pipeline is CPU-bound and takes well under a millisecond, so it runs inline
on the event loop. The request body is read with a size check before it is
buffered: a Content-Length above the limit is refused at once, a chunked
body stops being read as soon as it passes the limit.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from webhook.handler import Answer, bad_request, handle
from webhook.pipeline import AdmissionPipeline, Endpoint
from webhook.readiness import CertificateState, check_readiness
from webhook.review import MAX_REVIEW_BYTES

__all__ = ["create_app", "read_body"]

_JSON = "application/json"

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class BodyTooLargeError(Exception):
    pass


async def read_body(request: Request, limit: int = MAX_REVIEW_BYTES) -> bytes:
    """The whole body, or BodyTooLargeError as soon as it is known to exceed ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(
            f"request body of {declared} bytes exceeds the limit of {limit} bytes"
        )
    chunks: list[bytes] = []
    size = 0
    stream: AsyncIterator[bytes] = request.stream()
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _response(answer: Answer) -> Response:
    return Response(answer.body, status_code=answer.status_code, media_type=_JSON)


def create_app(
    pipeline: AdmissionPipeline,
    *,
    certificate: CertificateState | None = None,
    lifespan: Lifespan | None = None,
) -> FastAPI:
    """The webhook application around ``pipeline``.

    ``certificate`` is what ``/readyz`` checks besides the policy engine;
    ``lifespan`` starts and stops the background work (reloads) with the server.
    """
    app = FastAPI(
        title="kubernaut admission webhook",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )

    async def admit(request: Request, endpoint: Endpoint) -> Response:
        try:
            body = await read_body(request)
        except BodyTooLargeError as err:
            return _response(bad_request(str(err)))
        return _response(handle(pipeline, endpoint, body))

    async def mutate(request: Request) -> Response:
        return await admit(request, Endpoint.MUTATE)

    async def validate(request: Request) -> Response:
        return await admit(request, Endpoint.VALIDATE)

    async def healthz(_: Request) -> Response:
        return Response(b'{"alive":true}', media_type=_JSON)

    async def readyz(_: Request) -> Response:
        # The OPA engine's status is an HTTP call: keep it off the event loop.
        readiness = await asyncio.to_thread(check_readiness, certificate, pipeline.engine)
        body: dict[str, Any] = readiness.document()
        return Response(
            json.dumps(body).encode(), status_code=200 if readiness.ready else 503, media_type=_JSON
        )

    # Plain Starlette routes: FastAPI's per-route machinery (dependency solving,
    # request validation) has nothing to do here and costs a sizeable share of
    # a review's time.
    app.router.add_route("/mutate", mutate, methods=["POST"], include_in_schema=False)
    app.router.add_route("/validate", validate, methods=["POST"], include_in_schema=False)
    app.router.add_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    app.router.add_route("/readyz", readyz, methods=["GET"], include_in_schema=False)
    return app
