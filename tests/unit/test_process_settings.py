"""The process settings (``kernel/settings.py``, read from ``POSTLOG_*``): the root URL that
mail links use follows the port when it is not given."""

from __future__ import annotations

import pytest

from kernel.settings import Settings


def test_the_root_url_names_the_port_unless_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POSTLOG_ROOT_URL", raising=False)
    monkeypatch.delenv("POSTLOG_PORT", raising=False)
    assert Settings().root_url == "http://localhost:9000"
    monkeypatch.setenv("POSTLOG_PORT", "9100")
    assert Settings().root_url == "http://localhost:9100"
    assert Settings(port=9200).root_url == "http://localhost:9200"
    monkeypatch.setenv("POSTLOG_ROOT_URL", "https://lists.example.org")
    assert Settings().root_url == "https://lists.example.org"
    assert Settings(port=9300, root_url="https://a.example").root_url == "https://a.example"
