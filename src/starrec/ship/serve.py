"""``starrec serve``: the trained model behind HTTP, and a web page to try it.

    GET  /         the page (starrec/ship/web/index.html): choose or drop a photo, see the top-k
                   classes as bars and the saliency map over the face; plain HTML/JS, offline
    GET  /health   {"status": "ok", "model" (its file name), "sha256", "classes", "image_size",
                    "saliency_unavailable"}
    POST /predict  a multipart upload in the field ``photo`` ->
                   {"photo", "faces": [{"sure", "predictions": [{"class", "probability"}, ...top-k],
                                        "image": PNG data URI of the crop the model saw,
                                        "saliency": PNG data URI of |dS/dx| over it, or null}]}

A photo takes the training path (:func:`starrec.data.images.decode_bytes`, then
:func:`starrec.data.photos.model_inputs`: face crop with the saved face settings, resize), the model
the rest. The model loads once, when the app is made. /openapi.json types every answer
(:class:`Prediction`, :class:`Health`, :class:`Problem`) and documents each refusal (:data:`PROBLEMS`).

Every bad upload is a 4xx, an RFC 9457 problem (``application/problem+json``: type, title, status and the
reason in ``detail``): no length (411), a body larger than the
limit, counted as it arrives (413), a body that stalls (408), no ``photo`` field or an empty file
(400), not an image, more pixels than the budget or no face (422). Two answers come from beneath the app
as plain text, and the schema says so: a Host header not allowed (400, Starlette's TrustedHostMiddleware) and
connections beyond the limits (503, uvicorn's and :class:`HeaderDeadlineProtocol`'s); headers that do not
arrive in time get a closed connection (:class:`Limits`; docs/shipping.md: Security). No answer names a
path on the server: the model is its file name and sha256.

The saliency map needs gradients, so only a ``.keras`` model gives one; the exports
(:mod:`starrec.ship.classifiers`) give null, and /health says why. Served from an export, nothing here
imports TensorFlow, Keras or matplotlib: an install of ``starrec[serve]`` runs it.
"""

from __future__ import annotations

import asyncio
import base64
import io
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect
from uvicorn.protocols.http.h11_impl import H11Protocol

from starrec import __version__, artifacts
from starrec.data.images import RejectedImage, decode_bytes
from starrec.data.photos import model_inputs
from starrec.ship.classifiers import Classifier, export_digest, load_classifier
from starrec.ship.predict import is_sure, top_classes


class ClassProbability(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    name: str = Field(alias="class", description="a class name, as in /health's classes")
    probability: float = Field(ge=0, le=1)


class Face(BaseModel):
    sure: bool = Field(description="false: the top probability is under the model's min_confidence ('not sure')")
    predictions: list[ClassProbability] = Field(description="the top-k classes, most probable first")
    image: str = Field(description="the crop the model saw, a data:image/png;base64 URI")
    saliency: str | None = Field(description="|dS/dx| of the top class over the crop, PNG data URI; null for exports")


class Prediction(BaseModel):
    photo: str = Field(description="the uploaded file's name")
    faces: list[Face] = Field(description="one per face (faces.multiple: all), else one")


class Health(BaseModel):
    status: Literal["ok"]
    model: str = Field(description="the model file served, its name only")
    sha256: str = Field(description="the model's sha256 (of the file; of a SavedModel folder's files)")
    classes: list[str]
    image_size: int = Field(description="the model's input side in pixels")
    saliency_unavailable: str | None = Field(description="why answers carry no saliency map; null when they do")


class Problem(BaseModel):
    """RFC 9457 problem details, sent as ``application/problem+json``."""

    type: str = Field(description="about:blank: the status says it all")
    title: str = Field(description="the status's phrase")
    status: int
    detail: str = Field(description="why the request was refused, in one line")


PROBLEM_TYPE = "application/problem+json"
REFUSALS = {
    400: "no 'photo' field or an empty file; a Host header not allowed (plain text, from Starlette)",
    408: "the request body stalled for longer than --body-timeout, or took longer than --body-deadline",
    411: "no Content-Length",
    413: "a body larger than --max-upload-mb, counted as it arrives",
    422: "not an image, more pixels than --max-megapixels, or no face found (a face model)",
}
PROBLEMS: dict[int | str, dict[str, Any]] = {
    **{status: {"model": Problem, "description": description} for status, description in REFUSALS.items()},
    503: {"description": "more connections than --limit-concurrency or --per-client", "content": {"text/plain": {}}},
}
"""The documented refusals of POST /predict (the OpenAPI schema at /openapi.json)."""
DESCRIPTION = (
    "Recognise the people a starrec model was trained on: POST a photo as the multipart field `photo` to "
    "/predict for each face's most probable classes; GET / is a page to try it. Refusals are RFC 9457 problems."
)


def problem(request: Request, error: Exception) -> Response:
    """An HTTPException (ours, Starlette's 404 and 405) as RFC 9457 problem details."""
    if not isinstance(error, StarletteHTTPException):  # the handler is registered for these only
        raise error
    status = error.status_code
    body = Problem(type="about:blank", title=HTTPStatus(status).phrase, status=status, detail=str(error.detail))
    return JSONResponse(body.model_dump(), status, headers=error.headers, media_type=PROBLEM_TYPE)


def openapi_schema(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema with the problems' media type: it files every response model under application/json."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for path in schema["paths"].values():
            for operation in path.values():
                for status, response in operation.get("responses", {}).items():
                    if status.startswith("4") and "application/json" in response.get("content", {}):
                        response["content"] = {PROBLEM_TYPE: response["content"]["application/json"]}
        app.openapi_schema = schema
    return app.openapi_schema


UPLOAD = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["photo"],
                "properties": {"photo": {"type": "string", "format": "binary", "description": "the photo"}},
            }
        }
    },
}
"""/predict's request body in the schema: the endpoint reads the form itself (limits first), so FastAPI cannot
infer it."""

MULTIPART_OVERHEAD = 16 * 1024
"""Bytes of multipart framing allowed on top of the photo itself."""
SALIENCY_OPACITY = 0.8


def png_data_uri(pixels: np.ndarray) -> str:
    """An (h, w, 3) uint8 image as a ``data:image/png;base64,...`` URI."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def saliency_overlay(crop: np.ndarray, saliency: np.ndarray) -> np.ndarray:
    """The crop under |dS/dx| in the inferno colours: h = saliency / max, opacity 0.8 h per pixel
    (where the class score does not depend on a pixel, the pixel shows as it is)."""
    from matplotlib import colormaps  # only with a .keras model, which has TensorFlow and matplotlib anyway

    heat = (saliency / max(float(saliency.max()), 1e-12))[..., None]
    colours = colormaps["inferno"](heat[..., 0])[..., :3] * 255
    opacity = SALIENCY_OPACITY * heat
    return (crop * (1 - opacity) + colours * opacity).astype(np.uint8)


def predict_crops(
    classifier: Classifier,
    explain: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None,
    crops: list[np.ndarray],
    top_k: int,
) -> list[dict]:
    """Top-k classes of each crop, the crop and its saliency overlay (with ``explain``, a
    :func:`starrec.evaluation.visualize.saliency_function`; else only the probabilities of ``classifier``)."""
    batch = np.stack(crops).astype(np.float32)
    if explain is None:
        probabilities, saliency = classifier.probabilities(batch), None
    else:
        probabilities, saliency = explain(batch)
    faces = []
    for number, (crop, row) in enumerate(zip(crops, probabilities, strict=True)):
        faces.append(
            {
                "sure": is_sure(row, classifier.info.min_confidence),
                "predictions": top_classes(row, classifier.info.classes, top_k),
                "image": png_data_uri(crop),
                "saliency": None if saliency is None else png_data_uri(saliency_overlay(crop, saliency[number])),
            }
        )
    return faces


@dataclass(frozen=True)
class Limits:
    """What one client may cost the service (``starrec serve`` flags of the same names)."""

    max_upload_bytes: int = 10 * 2**20
    """A request body over this (plus multipart framing), counted as it arrives, chunked or not: 413."""
    max_pixels: int = 24_000_000
    """A photo of more pixels is refused from its header (convert allows MAX_PIXELS: a user's own files)."""
    decodes: int = 2
    """Photos decoded and predicted at once; the others wait (each holds up to ~4 bytes x 3 x max_pixels)."""
    body_timeout_s: float = 10.0
    """A request whose next body part takes longer gets 408."""
    header_timeout_s: float = 10.0
    """A connection whose request line and headers take longer is closed."""
    body_deadline_s: float = 60.0
    """A request whose whole body takes longer gets 408, however steadily it trickles in."""
    per_client: int = 32
    """Open connections one client address may hold; more are answered 503 and closed, so that idle or slow
    sockets from one client cannot take the whole ``--limit-concurrency`` (64) from the others. Behind a
    reverse proxy every client has the proxy's address: raise it to ``--limit-concurrency`` there."""


DEFAULT_HOSTS = ("127.0.0.1", "localhost")
CLOSE = {"Connection": "close"}
"""uvicorn closes the connection after such a response, rather than reading and discarding the rest of the body."""


class BodyLimit:
    """ASGI middleware: counts each request's body bytes as they are received and raises 413 past
    ``limit`` (a Content-Length can lie, chunked bodies have none), 408 when the next part takes longer
    than ``timeout_s`` or the whole body longer than ``deadline_s``. Starlette and uvicorn have none of
    these (Starlette limits only multipart parts)."""

    def __init__(self, app, limit: int, timeout_s: float, deadline_s: float = Limits.body_deadline_s) -> None:
        self.app, self.limit, self.timeout_s, self.deadline_s = app, limit, timeout_s, deadline_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        received, deadline = 0, asyncio.get_running_loop().time() + self.deadline_s

        async def limited_receive():
            nonlocal received
            left = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(receive(), min(self.timeout_s, max(left, 0.0)))
            except TimeoutError:
                if left <= self.timeout_s:
                    raise HTTPException(408, f"the request body took over {self.deadline_s:g} s", CLOSE) from None
                raise HTTPException(408, f"the request body stalled for {self.timeout_s:g} s", CLOSE) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, f"request body larger than the limit of {self.limit} bytes", CLOSE)
            return message

        await self.app(scope, limited_receive, send)


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose request line and headers have not arrived
    ``header_timeout_s`` after it opened or after its last response, and answering 503 to a client address
    that already holds ``per_client`` connections. uvicorn has neither limit, so a slow-loris client holding
    hundreds of half-sent requests, or idle keep-alive sockets, would keep the others out."""

    header_timeout_s = Limits.header_timeout_s
    per_client = Limits.per_client
    open_by_client: Counter[str] = Counter()  # each server gets its own (header_deadline_protocol)
    _deadline: asyncio.TimerHandle | None = None
    _counted: str | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        address = self.client[0] if self.client else None
        if address is not None and self.open_by_client[address] >= self.per_client:
            transport.write(TOO_MANY_FROM_ONE_CLIENT)
            transport.close()
            return
        if address is not None:
            self.open_by_client[address] += 1
            self._counted = address
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        if self._counted is not None:
            self.open_by_client[self._counted] -= 1
            if not self.open_by_client[self._counted]:
                del self.open_by_client[self._counted]
            self._counted = None
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(self.header_timeout_s, self._expire)

    def _expire(self) -> None:
        waiting_for_headers = self.cycle is None or self.cycle.response_complete
        if waiting_for_headers and not self.transport.is_closing():
            self.transport.close()


TOO_MANY = b"more connections from this address than the service's --per-client limit\n"
TOO_MANY_FROM_ONE_CLIENT = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(TOO_MANY), TOO_MANY)
)


def header_deadline_protocol(timeout_s: float, per_client: int = Limits.per_client) -> type[HeaderDeadlineProtocol]:
    """:class:`HeaderDeadlineProtocol` with its limits and its own count of connections per client address,
    for ``uvicorn.Config(http=...)``."""
    settings = {"header_timeout_s": timeout_s, "per_client": per_client, "open_by_client": Counter()}
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), settings)


def create_app(
    model_path: Path, top_k: int = 3, limits: Limits = Limits(), allowed_hosts: Sequence[str] = DEFAULT_HOSTS
) -> FastAPI:
    """The service for the model at ``model_path`` (loaded here, once); requests whose Host header is not
    in ``allowed_hosts`` get 400 (DNS rebinding: a web page that makes a browser call this machine)."""
    classifier = load_classifier(model_path)
    explain = None
    no_saliency: str | None = (
        f"{classifier.path.name} is an export, without gradients; serve {artifacts.MODEL.name} for one"
    )
    if classifier.keras_model is not None:  # saliency needs TensorFlow's gradients; an export is served without it
        from starrec.evaluation.visualize import saliency_function

        explain, no_saliency = saliency_function(classifier.keras_model), None
    sha256 = export_digest(classifier.path)
    app = FastAPI(title="starrec", version=__version__, description=DESCRIPTION, docs_url=None, redoc_url=None)
    app.openapi = lambda: openapi_schema(app)  # type: ignore[method-assign]  # docs pages: scripts from a CDN
    app.add_exception_handler(StarletteHTTPException, problem)
    body_limits = {"timeout_s": limits.body_timeout_s, "deadline_s": limits.body_deadline_s}
    app.add_middleware(BodyLimit, limit=limits.max_upload_bytes + MULTIPART_OVERHEAD, **body_limits)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    page = files("starrec.ship").joinpath("web/index.html").read_text(encoding="utf-8")
    decoding = asyncio.Semaphore(limits.decodes)

    @app.get("/", response_class=HTMLResponse, operation_id="page")
    def index() -> str:
        return page

    @app.get("/health", response_model=Health, operation_id="health")
    def health() -> dict:
        return {
            "status": "ok",
            "model": classifier.path.name,
            "sha256": sha256,
            "classes": classifier.info.classes,
            "image_size": classifier.image_size,
            "saliency_unavailable": no_saliency,
        }

    @app.post(
        "/predict",
        response_model=Prediction,
        responses=PROBLEMS,
        openapi_extra={"requestBody": UPLOAD},
        operation_id="predict",
    )
    async def predict(request: Request) -> Any:
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            raise HTTPException(411, "send the upload with a Content-Length")
        limit = limits.max_upload_bytes
        if int(length) > limit + MULTIPART_OVERHEAD:
            raise HTTPException(413, f"upload of {length} bytes is larger than the limit of {limit} bytes")
        try:
            async with request.form(max_files=1, max_fields=1) as form:
                upload = form.get("photo")
                if not isinstance(upload, UploadFile):
                    raise HTTPException(400, "send the photo as the multipart form field 'photo'")
                data = await upload.read(limit + 1)
        except ClientDisconnect:  # the client went away mid-upload: nobody to answer
            return Response(status_code=400)
        if len(data) > limit:
            raise HTTPException(413, f"photo larger than the limit of {limit} bytes")
        if not data:
            raise HTTPException(400, f"{upload.filename}: empty file")

        def answer() -> dict:
            crops = model_inputs(decode_bytes(data, limits.max_pixels), classifier.info.faces, classifier.image_size)
            return {"photo": upload.filename, "faces": predict_crops(classifier, explain, crops, top_k)}

        try:
            async with decoding:
                return await run_in_threadpool(answer)
        except RejectedImage as error:
            raise HTTPException(422, f"{upload.filename}: {error}") from None

    return app


def serve(
    model_path: Path,
    host: str,
    port: int,
    *,
    top_k: int,
    limits: Limits,
    allowed_hosts: Sequence[str],
    limit_concurrency: int,
    timeout_keep_alive: int,
) -> None:
    """Run the service with uvicorn until stopped: at most ``limit_concurrency`` connections and tasks
    (more get 503), idle keep-alive connections closed after ``timeout_keep_alive`` s, slow headers after
    ``limits.header_timeout_s``."""
    import uvicorn

    app = create_app(model_path, top_k, limits, allowed_hosts)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=header_deadline_protocol(limits.header_timeout_s, limits.per_client),
        limit_concurrency=limit_concurrency,
        timeout_keep_alive=timeout_keep_alive,
    )
    uvicorn.Server(config).run()
