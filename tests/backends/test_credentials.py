"""Where the token comes from, how it is stored, and what a machine without a keyring says."""

from __future__ import annotations

import pytest

from backends import credentials
from backends.credentials import Secret, find_hf_token, find_server_key
from backends.errors import BackendError, UsageError

FAKE = "hf_FakeTokenForTests0123456789"


def test_lookup_order_env_then_keyring_then_token_file(memory_keyring, hf_home, monkeypatch):
    assert find_hf_token() is None
    (hf_home / "token").write_text(FAKE + "-file\n")
    found = find_hf_token()
    assert found.secret.reveal() == FAKE + "-file" and "hf auth login" in found.source
    credentials.login(FAKE + "-ring")
    found = find_hf_token()
    assert found.secret.reveal() == FAKE + "-ring" and found.source.startswith("the OS keyring")
    monkeypatch.setenv("HF_TOKEN", FAKE + "-env")
    found = find_hf_token()
    assert found.secret.reveal() == FAKE + "-env" and found.source == "the HF_TOKEN environment variable"


def test_login_status_logout_never_show_the_token(memory_keyring, hf_home):
    assert "no Hugging Face token" in credentials.status()
    said = credentials.login(f"  {FAKE}\n")
    assert "saved in the OS keyring" in said and FAKE not in said
    assert memory_keyring.passwords[("parrot", "huggingface")] == FAKE
    status = credentials.status()
    assert status.startswith("token from the OS keyring") and FAKE not in status
    assert credentials.logout() == "removed the Hugging Face token from the OS keyring"
    assert credentials.logout() == "the Hugging Face token was not in the OS keyring"
    (hf_home / "token").write_text(FAKE)
    assert "`hf auth logout` removes it" in credentials.logout()
    with pytest.raises(UsageError, match="no token given"):
        credentials.login("   ")
    with pytest.raises(UsageError, match="plain ASCII"):
        credentials.login("hf_é")


def test_no_keyring_backend_gives_one_clear_message(no_keyring, hf_home):
    with pytest.raises(BackendError) as caught:
        credentials.login(FAKE)
    assert str(caught.value) == ("no OS keyring is available on this machine, so the token was not saved "
                                 "(install a keyring backend (`pip install keyrings.alt` stores it in a file) "
                                 "or set HF_TOKEN in the environment)")
    assert find_hf_token() is None  # lookup goes on past the missing keyring
    assert "no OS keyring is available" in credentials.status() and "keyrings.alt" in credentials.status()
    (hf_home / "token").write_text(FAKE)
    assert "hf auth login" in find_hf_token().source
    with pytest.raises(BackendError, match="keyrings.alt"):
        credentials.logout()


def test_server_keys_go_only_to_the_server_they_were_given_for(memory_keyring, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", FAKE)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
    credentials.login("key-for-a", base_url="http://127.0.0.1:8000/v1")
    assert find_server_key("http://127.0.0.1:8000/v1/").secret.reveal() == "key-for-a"
    assert find_server_key("http://127.0.0.1:8001/v1") is None
    assert find_server_key("http://localhost:8000/v1") is None
    assert find_server_key("https://router.huggingface.co/v1").secret.reveal() == FAKE
    assert find_server_key("https://api.openai.com/v1").secret.reveal() == "sk-fake"
    assert "no key for http://127.0.0.1:9:" in credentials.status("http://127.0.0.1:9/v1")


def test_secret_hides_itself():
    secret = Secret(FAKE)
    assert FAKE not in repr(secret) and FAKE not in str(secret) and FAKE not in f"{secret} {[secret]}"
    assert credentials.redact(f"bad token {FAKE}!", secret) == "bad token ***!"
