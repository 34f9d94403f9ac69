"""An Entra-shaped token issuer for API tests: an RSA key, its JWKS served over real HTTP on loopback."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

AUDIENCE = "api://matterline-test"


class TokenMint:
    """Signs access tokens the way Entra ID does and publishes the public key as JWKS."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        self._jwks = {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}
        self.jwks_fetches = 0
        mint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                mint.jwks_fetches += 1
                body = json.dumps(mint._jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.jwks_url = f"{self.base_url}/common/discovery/v2.0/keys"
        self.issuer_template = self.base_url + "/{tenant}/v2.0"

    def token(
        self,
        *,
        tenant: str,
        oid: str,
        email: str | None = None,
        scopes: str = "access_as_user",
        audience: str = AUDIENCE,
        lifetime: int = 3600,
        issuer_tenant: str | None = None,
        key: Any = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A signed access token; each argument can be bent to make a bad one."""
        now = int(time.time())
        claims = {
            "aud": audience,
            "iss": self.issuer_template.format(tenant=issuer_tenant or tenant),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "tid": tenant,
            "oid": oid,
            "sub": oid,
            "scp": scopes,
            "ver": "2.0",
            **({"preferred_username": email} if email else {}),
            **(extra or {}),
        }
        return jwt.encode(claims, key or self._key, algorithm="RS256", headers={"kid": self.kid})

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
