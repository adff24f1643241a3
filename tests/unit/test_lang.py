"""postlog's English catalogue (``GET /api/lang/en``) has listmonk's shape."""

from __future__ import annotations

from services.query_api.server.routes import catalogue, languages


def test_catalogue_has_listmonks_shape() -> None:
    lang = catalogue()
    assert lang["_.code"] == "en" and lang["_.name"] == "English (en)"
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in lang.items())
    assert all(k.startswith("_.") or "." in k for k in lang)
    assert languages() == [{"code": "en", "name": "English (en)"}]


def test_catalogue_holds_the_messages_postlog_answers_with() -> None:
    from services.command_api.public.subscribe import INVALID_CAPTCHA
    from services.command_api.subscribers.domains import DOMAIN_REFUSED
    from services.command_api.subscribers.fields import INVALID_EMAIL

    lang = catalogue()
    assert lang["public.invalidCaptcha"] == INVALID_CAPTCHA
    assert lang["subscribers.domainBlocklisted"] == DOMAIN_REFUSED
    assert lang["subscribers.invalidEmail"] == INVALID_EMAIL
