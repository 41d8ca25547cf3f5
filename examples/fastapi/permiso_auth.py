"""Verify Permiso access tokens locally in a FastAPI service.

A short dependency, no Permiso SDK needed: the issuer's keys (JWKS, found
through RFC 8414 metadata) and its revocation list are kept in memory and
followed, so a request costs no call to Permiso. Checks: signature with an
allowed asymmetric algorithm, header typ at+jwt (RFC 9068), iss, aud, exp,
nbf, iat, not revoked (jti, sid, root_jti, iss entries), not bound to a key,
and the scopes a route requires (Permiso's implied-scope rule included).

A token bound to a key (a cnf claim: DPoP or a client certificate) is
refused: this dependency does not check proof of possession, and taking such
a token as a bearer token would let whoever copied it use it. Put those
services behind `permiso gateway`, which checks both.

    auth = PermisoAuth(issuer="https://auth.example.com", audience="https://mt5.example.com")
    @app.get("/api/v1/trades")
    def trades(claims: dict = Depends(auth.require("trade:read"))): ...

Debian packages only: python3-fastapi, python3-jwt, python3-httpx,
python3-cryptography.
"""

import threading
import time

import httpx
import jwt
from fastapi import HTTPException, Request

ALGORITHMS = ["ES256", "EdDSA", "RS256"]
ADMIN_SYSTEM_IMPLIES = {"read:profile", "write:profile", "read:trades", "write:trades",
                        "admin:users", "admin:clients", "service:mt5", "service:api"}


def has_scope(granted, required):
    """Permiso's rule: admin:X implies read:X and write:X; admin:system a fixed set."""
    if required in granted:
        return True
    action, _, resource = required.partition(":")
    if resource and action in ("read", "write") and "admin:" + resource in granted:
        return True
    return "admin:system" in granted and required in ADMIN_SYSTEM_IMPLIES


class PermisoAuth:
    def __init__(self, issuer, audience, leeway=30, revocation_poll=5.0, jwks_min_refresh=10.0,
                 http=None, now=time.time):
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.leeway = leeway
        self.now = now  # the clock, injectable for tests
        self.http = http or httpx.Client(timeout=10.0)
        self.jwks_min_refresh = jwks_min_refresh
        self._keys = {}
        self._keys_fetched = 0.0
        self._lock = threading.Lock()
        self._revoked = {}  # (kind, value) -> exp
        self._cursor = ""
        self._synced = threading.Event()
        md = self.http.get(self.issuer + "/.well-known/oauth-authorization-server")
        md.raise_for_status()
        md = md.json()
        self._jwks_uri = md["jwks_uri"]
        self._revocations_uri = md.get("revocation_list_endpoint")
        self._refresh_keys()
        self._stop = threading.Event()
        if self._revocations_uri and revocation_poll > 0:
            self._poll_revocations()
            threading.Thread(target=self._follow, args=(revocation_poll,), daemon=True).start()

    def close(self):
        self._stop.set()

    # --- keys -----------------------------------------------------------
    def _refresh_keys(self):
        resp = self.http.get(self._jwks_uri)
        resp.raise_for_status()
        keys = {}
        for k in resp.json().get("keys", []):
            if k.get("use", "sig") == "sig" and "kid" in k:
                keys[k["kid"]] = jwt.PyJWK(k)
        with self._lock:
            self._keys, self._keys_fetched = keys, time.monotonic()

    def _key(self, kid):
        with self._lock:
            key, age = self._keys.get(kid), time.monotonic() - self._keys_fetched
        if key is None and age >= self.jwks_min_refresh:  # a rotated key: refetch, rate-limited
            self._refresh_keys()
            with self._lock:
                key = self._keys.get(kid)
        return key

    # --- revocation list ------------------------------------------------
    # The feed's format is docs/revocation-feed.md (version 1): a snapshot
    # is applied only once every page of it has arrived; a delta adds.
    KNOWN_KINDS = ("jti", "sid", "root_jti", "iss")

    def _fetch_answer(self, params):
        """Every page of one answer: (type, cursor, entries)."""
        resp = self.http.get(self._revocations_uri, params=params)
        entries, kind, cursor = [], None, None
        while True:
            resp.raise_for_status()
            page = resp.json()
            kind, cursor = page.get("type"), page.get("cursor")
            entries.extend(page.get("entries") or [])
            nxt = page.get("next")
            if not nxt:
                return kind, cursor, entries
            if httpx.URL(nxt).host != httpx.URL(self._revocations_uri).host:
                raise ValueError("revocation feed page on another host")
            resp = self.http.get(nxt)

    def _poll_revocations(self):
        params = {"since": self._cursor} if self._cursor else {}
        kind, cursor, entries = self._fetch_answer(params)
        if kind not in ("snapshot", "delta") or not isinstance(cursor, str):
            raise ValueError("not a revocation feed answer")
        revoked = {} if kind == "snapshot" else dict(self._revoked)
        for e in entries:
            if e.get("kind") not in self.KNOWN_KINDS:
                continue  # a kind this verifier cannot match: keep it out of decisions
            # An iss entry revokes the tokens of that issuer issued before
            # its "before" (a tenant disabled or deleted); the others, every
            # token whose claim has the value.
            revoked[(e["kind"], e["value"])] = (e.get("exp", 0), e.get("before"))
        cutoff = self.now() - self.leeway
        self._revoked = {k: x for k, x in revoked.items() if not x[0] or x[0] >= cutoff}
        self._cursor = cursor
        self._synced.set()

    def _is_revoked(self, claims):
        held = self._revoked
        for kind in self.KNOWN_KINDS:
            value = claims.get(kind)
            if not isinstance(value, str) or (kind, value) not in held:
                continue
            before = held[(kind, value)][1]
            if before is None or claims["iat"] < before:
                return True
        return False

    def _follow(self, every):
        while not self._stop.wait(every):
            try:
                self._poll_revocations()
            except (httpx.HTTPError, ValueError):
                pass  # keep the list held; the next poll retries

    # --- verification ---------------------------------------------------
    def verify(self, token):
        """Return the claims of a valid access token, or raise jwt.InvalidTokenError."""
        header = jwt.get_unverified_header(token)
        if header.get("typ", "").lower() not in ("at+jwt", "application/at+jwt"):
            raise jwt.InvalidTokenError("typ is not at+jwt")
        if header.get("alg") not in ALGORITHMS:
            raise jwt.InvalidTokenError("algorithm not allowed")
        key = self._key(header.get("kid", ""))
        if key is None:
            raise jwt.InvalidTokenError("unknown key")
        claims = jwt.decode(token, key.key, algorithms=[header["alg"]], audience=self.audience,
                            issuer=self.issuer, leeway=self.leeway,
                            options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"], "verify_exp": False,
                                     "verify_nbf": False, "verify_iat": False})
        now = self.now()  # time checks against the injected clock
        if claims["exp"] + self.leeway <= now:
            raise jwt.ExpiredSignatureError("expired")
        if claims.get("nbf", 0) - self.leeway > now or claims["iat"] - self.leeway > now:
            raise jwt.ImmatureSignatureError("not yet valid")
        if not self._synced.is_set():
            raise jwt.InvalidTokenError("revocation list not loaded")
        if self._is_revoked(claims):
            raise jwt.InvalidTokenError("revoked")
        if "cnf" in claims:
            raise jwt.InvalidTokenError("bound to a key: proof of possession is not checked here")
        if "scopes" not in claims:
            claims["scopes"] = (claims.get("scope") or "").split()
        return claims

    def require(self, *scopes):
        """A FastAPI dependency: a valid token holding every one of scopes."""

        def dependency(request: Request):
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            realm = 'Bearer realm="%s"' % self.audience
            if scheme.lower() != "bearer" or not token.strip():
                raise HTTPException(401, {"error": "unauthorized", "error_description": "Bearer token required"},
                                    headers={"WWW-Authenticate": realm})
            try:
                claims = self.verify(token.strip())
            except jwt.InvalidTokenError:
                raise HTTPException(401, {"error": "invalid_token",
                                          "error_description": "The access token is invalid or expired"},
                                    headers={"WWW-Authenticate": realm + ', error="invalid_token"'})
            missing = [s for s in scopes if not has_scope(claims["scopes"], s)]
            if missing:
                raise HTTPException(403, {"error": "insufficient_scope",
                                          "error_description": "Missing required scopes: " + ", ".join(missing),
                                          "required_scopes": list(scopes), "missing_scopes": missing},
                                    headers={"WWW-Authenticate": realm + ', error="insufficient_scope", scope="%s"'
                                             % " ".join(scopes)})
            return claims

        return dependency
