"""API keys: each configured key belongs to a tenant; keys are kept only as SHA-256 hashes.

``TRAINYARD_API_KEYS`` is a comma-separated list of ``<tenant>:<sha256 hex of the key>``.
Make an entry with ``python -m app.core.auth <tenant> <key>`` (or let it make a random key).
With no keys configured the API is open and every job belongs to the tenant ``""``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sys
from dataclasses import dataclass

from app.core.exceptions import AuthenticationError

_ENTRY = re.compile(r"^(?P<tenant>[A-Za-z0-9._-]{1,128}):(?P<digest>[0-9a-f]{64})$")
OPEN_TENANT = ""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class KeyRing:
    entries: tuple[tuple[str, str], ...]  # (tenant, sha256 hex)

    @classmethod
    def parse(cls, configured: list[str]) -> KeyRing:
        entries = []
        for raw in configured:
            match = _ENTRY.match(raw.strip())
            if match is None:
                raise ValueError(
                    "each TRAINYARD_API_KEYS entry must be <tenant>:<sha256 hex of the key>; "
                    "make one with `python -m app.core.auth <tenant>`"
                )
            entries.append((match["tenant"], match["digest"]))
        return cls(tuple(entries))

    @property
    def enabled(self) -> bool:
        return bool(self.entries)

    def tenant_for(self, presented: str | None) -> str:
        """The tenant of ``presented``; every entry is compared, in constant time each."""
        if not self.enabled:
            return OPEN_TENANT
        if not presented:
            raise AuthenticationError(
                "an API key is required: send `Authorization: Bearer <key>` or `X-API-Key`"
            )
        digest = hash_key(presented)
        found: str | None = None
        for tenant, expected in self.entries:
            if hmac.compare_digest(digest, expected):
                found = tenant
        if found is None:
            raise AuthenticationError("the API key is not valid")
        return found


def main(argv: list[str]) -> int:
    if not argv or len(argv) > 2:
        print("usage: python -m app.core.auth <tenant> [key]", file=sys.stderr)  # noqa: T201
        return 2
    tenant = argv[0]
    key = argv[1] if len(argv) == 2 else secrets.token_urlsafe(32)
    print(f"key:                 {key}")  # noqa: T201
    print(f"TRAINYARD_API_KEYS entry: {tenant}:{hash_key(key)}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
