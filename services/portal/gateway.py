"""The portal's gateway: the static pages, the service guide, and the HTTP API
passed through to the service that answers each path.

`make run` and the browser tests run it with the API passed on, so the pages
call one origin as they do behind the ingress. In Kubernetes the ingress routes
the API itself and the gateway serves the pages only (`pass_api=False`): an API
path that reaches it is answered 404, never sent on.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path

import requests
from werkzeug.wrappers import Request, Response

from services.common.settings import SettingError, Settings
from services.portal.routes import service_for

# The pages beside the code in a checkout; the image sets XJCERT_PORTAL_PAGES.
DEFAULT_PAGES = Path(__file__).resolve().parents[2] / "portal"
GUIDE_NAME = "guide.zh.json"

# Headers that belong to one hop, not to the request or answer passed on.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-encoding",
    "host",
}
UPSTREAM_TIMEOUT = 30


class Gateway:
    def __init__(
        self,
        settings: Settings,
        guide_file: str | None = None,
        pages: Path = DEFAULT_PAGES,
        pass_api: bool = True,
    ) -> None:
        self.pages = pages.resolve()
        if not (self.pages / "index.html").is_file():
            raise SettingError(f"XJCERT_PORTAL_PAGES: no index.html in {self.pages}")
        self.guide = _guide(Path(guide_file) if guide_file else pages / GUIDE_NAME)
        self.upstreams = {
            service: f"http://{settings.http_host}:{port}"
            for service, port in settings.http_ports.items()
        }
        self.pass_api = pass_api
        self.session = requests.Session()

    def __call__(self, environ, start_response):
        request = Request(environ)
        return self.answer(request)(environ, start_response)

    def answer(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/v1/"):
            return self._pass_on(request)
        if path == "/guide.json":
            return _json(self.guide)
        if path in ("/health/live", "/health/ready"):
            # Pages and guide were read at start; nothing else can fail.
            return _json({"status": "ok"})
        return self._page(path)

    def _pass_on(self, request: Request) -> Response:
        service = service_for(request.path) if self.pass_api else None
        if service is None:
            return _error(404, "not_found", "没有这个地址。")
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in HOP_BY_HOP
        }
        forwarded = request.headers.get("X-Forwarded-For")
        client = request.remote_addr or ""
        headers["X-Forwarded-For"] = f"{forwarded}, {client}" if forwarded else client
        try:
            upstream = self.session.request(
                request.method,
                self.upstreams[service] + request.full_path.rstrip("?"),
                headers=headers,
                data=request.get_data(),
                timeout=UPSTREAM_TIMEOUT,
                allow_redirects=False,
            )
        except requests.RequestException:
            return _error(503, "service_unavailable", "服务暂时无法访问，请稍后再试。")
        return Response(
            upstream.content,
            status=upstream.status_code,
            headers=[
                (name, value)
                for name, value in upstream.headers.items()
                if name.lower() not in HOP_BY_HOP
            ],
        )

    def _page(self, path: str) -> Response:
        relative = path.lstrip("/") or "index.html"
        file = (self.pages / relative).resolve()
        if not file.is_relative_to(self.pages) or not file.is_file():
            # Page addresses (/verify) are the single page's; it routes itself.
            file = self.pages / "index.html"
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            content_type += "; charset=utf-8"
        return Response(
            file.read_bytes(),
            content_type=content_type,
            headers={
                "Cache-Control": "no-cache",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )


def _guide(file: Path) -> dict:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SettingError(
            f"XJCERT_SERVICE_GUIDE: cannot read {file}: {error}"
        ) from error


def _json(body: object) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False), content_type="application/json"
    )


def _error(status: int, code: str, message: str) -> Response:
    response = _json({"error": {"code": code, "message": message}})
    response.status_code = status
    return response
