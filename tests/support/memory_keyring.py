"""An in-memory OS keyring backend (also usable in a subprocess via PYTHON_KEYRING_BACKEND)."""

from __future__ import annotations

import keyring.backend
from jaraco.classes import properties
from keyring.errors import PasswordDeleteError


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A real keyring backend that keeps passwords in a dict."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.passwords:
            raise PasswordDeleteError("not found")
        del self.passwords[(service, username)]


class FileKeyring(MemoryKeyring):
    """The same, kept in the JSON file named by $PARROT_TEST_KEYRING, so separate processes share it
    (as an OS keyring is shared): `parrot login` in one run, a download in the next."""

    @properties.classproperty
    def priority(cls) -> float:
        import os

        if "PARROT_TEST_KEYRING" not in os.environ:  # never chosen by keyring's own detection in other tests
            raise RuntimeError("PARROT_TEST_KEYRING is not set")
        return 1

    @property
    def path(self) -> str:
        import os

        return os.environ["PARROT_TEST_KEYRING"]

    def _load(self) -> dict[str, str]:
        import json

        try:
            with open(self.path, encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}\n{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        import json

        data = {**self._load(), f"{service}\n{username}": password}
        with open(self.path, "w", encoding="utf-8") as f:
            json.dump(data, f)

    def delete_password(self, service: str, username: str) -> None:
        raise PasswordDeleteError("not needed by the tests")
