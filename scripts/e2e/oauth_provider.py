"""A fake OAuth2 provider for the e2e suite (issue 13).

Two listeners on 127.0.0.1, each served by a daemon thread of the suite's own process:

* HTTPS (the suite's server certificate): ``POST /token`` with
  ``grant_type=refresh_token`` answers a fresh access token for a refresh token it knows
  (``REFRESH_TOKEN``); anything else is ``invalid_grant``. This is what postie talks to.
* plain HTTP: ``POST /introspect`` (RFC 7662, ``token=...``) answers
  ``{"active": true, "username": USER}`` for an access token it issued, else
  ``{"active": false}``. Dovecot's ``passdb oauth2`` asks it (``introspection_mode = post``),
  so Postfix accepts XOAUTH2/OAUTHBEARER only with a token postie really obtained.

It counts the token requests (``token_requests``) so a case can see a cached token used.
"""

from __future__ import annotations

import json
import secrets
import ssl
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CLIENT_ID = "e2e-client"
REFRESH_TOKEN = "e2e-refresh-token"
# The SASL user: not in Dovecot's passwd-file, so only the oauth2 passdb can accept it.
USER = "oauth-user"


class Provider:
    def __init__(self) -> None:
        self.issued: set[str] = set()
        self.token_requests = 0
        self.introspections = 0
        self.lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(min(n, 65536)).decode()))
                status, body = provider.answer(self.path, form, self.server is provider.https)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.https = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.https.daemon_threads = self.http.daemon_threads = True
        self.threads: list[threading.Thread] = []

    @property
    def token_url(self) -> str:
        return f"https://127.0.0.1:{self.https.server_address[1]}/token"

    @property
    def introspection_url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}/introspect"

    def answer(self, path: str, form: dict[str, str], tls: bool) -> tuple[int, dict]:
        with self.lock:
            if tls and path == "/token":
                self.token_requests += 1
                if (form.get("grant_type") != "refresh_token"
                        or form.get("client_id") != CLIENT_ID
                        or form.get("refresh_token") != REFRESH_TOKEN):
                    return 400, {"error": "invalid_grant",
                                 "error_description": "unknown refresh token"}
                token = "e2e-at-" + secrets.token_urlsafe(24)
                self.issued.add(token)
                return 200, {"access_token": token, "token_type": "Bearer",
                             "expires_in": 3600}
            if not tls and path == "/introspect":
                self.introspections += 1
                if form.get("token") in self.issued:
                    return 200, {"active": True, "username": USER}
                return 200, {"active": False}
            return 404, {"error": "not_found"}

    def start(self, cert: Path, key: Path) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        self.https.socket = ctx.wrap_socket(self.https.socket, server_side=True)
        for server in (self.https, self.http):
            t = threading.Thread(target=server.serve_forever, daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        for server in (self.https, self.http):
            if self.threads:
                server.shutdown()
            server.server_close()
        self.threads.clear()

    def dovecot_conf(self, path: Path) -> str:
        """Writes dovecot-oauth2.conf.ext at ``path``; returns the passdb block."""
        path.write_text(
            f"introspection_mode = post\n"
            f"introspection_url = {self.introspection_url}\n"
            f"username_attribute = username\n"
            f"active_attribute = active\n"
            f"active_value = true\n"
            f"force_introspection = yes\n")
        path.chmod(0o644)
        return (f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
                f"  args = {path}\n}}\n")
