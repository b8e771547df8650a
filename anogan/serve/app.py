"""The HTTP API: FastAPI over one :class:`~anogan.serve.service.ScoringService`.

``GET /healthz`` answers as soon as the process runs; ``GET /readyz`` once
the scorer is warm; ``GET /v1/model`` describes the model; ``POST /v1/score``
takes multipart files in the field ``files`` or JSON ``{"images": [base64, …],
"names": […]}`` and answers ``{"model": …, "results": [...]}`` in input order,
``?maps=true`` adding the reconstruction and the residual heat map as base64
PNGs. A file that cannot be read gets its error in its own entry and the
others still score (200); a request with no readable image at all is 422.

Limits: a token, when one is set, on every endpoint but ``/healthz``
(``Authorization: Bearer …``, compared in constant time); a body larger than
``max_body_bytes`` (or without a length) is refused before it is read (413,
411); more than ``max_files`` images is 413; a request that takes longer than
``request_timeout`` seconds, reading its body included, is 408.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Optional

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from anogan.data.images import MAX_FILE_BYTES
from anogan.serve.service import ScoringService


@dataclass(frozen=True)
class ServeLimits:
    max_body_bytes: int = MAX_FILE_BYTES
    max_files: int = 256
    request_timeout: float = 30.0


def create_app(service: ScoringService, token: Optional[str] = None, limits: ServeLimits = ServeLimits()):
    """The FastAPI app over ``service``; the service starts with the app and stops with it."""

    @asynccontextmanager
    async def lifespan(app):
        await service.start()
        yield
        await service.stop()

    app = FastAPI(title="anogan", summary="GAN-based anomaly scores for images", lifespan=lifespan)

    app.add_middleware(_Guard, token=token, limits=limits)

    @app.get("/healthz")
    async def healthz():
        return {"status": "alive"}

    @app.get("/readyz")
    async def readyz():
        if not service.ready:
            return JSONResponse({"status": "warming up"}, status_code=503)
        return {"status": "ready"}

    @app.get("/v1/model")
    async def model():
        if not service.ready:
            return JSONResponse({"detail": "the scorer is warming up"}, status_code=503)
        return service.info

    @app.post("/v1/score")
    async def score(request: Request, maps: bool = False):
        if not service.ready:
            return JSONResponse({"detail": "the scorer is warming up"}, status_code=503)
        try:  # one deadline for reading the body and scoring it
            return await asyncio.wait_for(_answer(request, maps), limits.request_timeout)
        except asyncio.TimeoutError:
            return JSONResponse({"detail": f"the request took longer than {limits.request_timeout:g} s"},
                                status_code=408)

    async def _answer(request: Request, maps: bool):
        files = await _read_files(request, limits)
        if isinstance(files, JSONResponse):
            return files
        results = await service.score_files(files, maps)
        status = 422 if results and all(r["error"] for r in results) else 200
        return JSONResponse({"model": service.info["name"], "results": results}, status_code=status)

    return app


class _Guard:
    """Refuses a request before it is read (token, body size), as plain ASGI middleware: Starlette's
    ``@app.middleware("http")`` wraps every body in a stream and took a tenth of a call under load."""

    def __init__(self, app, token: Optional[str], limits: ServeLimits):
        self.app, self.token, self.limits = app, token, limits

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            refusal = _refusal(Request(scope), self.token, self.limits)
            if refusal is not None:
                status, detail = refusal
                headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
                await JSONResponse({"detail": detail}, status_code=status, headers=headers)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _refusal(request, token: Optional[str], limits: ServeLimits) -> Optional[tuple[int, str]]:
    """Why a request is refused before it is read (status and message), or ``None``."""
    if token and request.url.path != "/healthz":
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, f"Bearer {token}".encode()):
            return 401, "missing or wrong bearer token"
    if request.method == "POST":
        length = request.headers.get("content-length")
        if length is None:
            return 411, "send the body with a Content-Length"
        if not length.isdigit():
            return 400, "bad Content-Length"
        if int(length) > limits.max_body_bytes:
            return 413, f"the body is larger than {limits.max_body_bytes} bytes"
    return None


async def _read_files(request, limits: ServeLimits):
    """(name, contents) of every image in the request, or the answer refusing it."""

    kind = request.headers.get("content-type", "")
    if kind.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=limits.max_files, max_fields=limits.max_files,
                                      max_part_size=limits.max_body_bytes)
        except HTTPException as exc:
            status = 413 if "Too many" in str(exc.detail) else 422
            return JSONResponse({"detail": f"cannot read the form: {exc.detail}"}, status_code=status)
        uploads = form.getlist("files")
        files = [(getattr(u, "filename", None) or f"file-{i}", await u.read()) for i, u in enumerate(uploads)
                 if hasattr(u, "read")]
    elif kind.startswith("application/json"):
        files = await _json_images(request)
        if isinstance(files, str):
            return JSONResponse({"detail": files}, status_code=422)
    else:
        return JSONResponse({"detail": "send multipart/form-data (field files) or application/json (images)"},
                            status_code=415)
    if not files:
        return JSONResponse({"detail": "no image in the request"}, status_code=422)
    if len(files) > limits.max_files:
        return JSONResponse({"detail": f"{len(files)} images; at most {limits.max_files} per request"},
                            status_code=413)
    return files


async def _json_images(request):
    """The images of a JSON body ``{"images": [base64, …], "names": […]}``, or what is wrong with it."""
    try:
        body = await request.json()
        images, names = body["images"], body.get("names") or [f"image-{i}" for i in range(len(body["images"]))]
        if not isinstance(images, list) or len(names) != len(images):
            raise TypeError
    except (ValueError, KeyError, TypeError, AttributeError):
        return 'expected {"images": [base64 strings], "names": [optional, one per image]}'
    files = []
    for name, text in zip(names, images):
        try:
            files.append((str(name), base64.b64decode(str(text), validate=True)))
        except (binascii.Error, ValueError):
            files.append((str(name), b""))  # decoded as "not an image": its own entry gets the error
    return files
