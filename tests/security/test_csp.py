"""A strict Content-Security-Policy, and no page carries inline script (browser-free check of the HTML)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

DATA_SCRIPT_TYPES = {"application/json"}


class InlineScriptFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name.lower().startswith("on"):
                self.problems.append(f"<{tag} {name}=...> inline event handler")
            if name.lower() in {"href", "src", "action", "formaction"} and (value or "").strip().lower().startswith(
                    "javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:...>")
        if tag == "script" and not attributes.get("src"):
            if (attributes.get("type") or "").lower() not in DATA_SCRIPT_TYPES:
                self._in_inline_script = True

    def handle_data(self, data):
        if self._in_inline_script and data.strip():
            self.problems.append(f"inline <script>: {data.strip()[:60]!r}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_inline_script = False


def inline_script_problems(html: str) -> list[str]:
    finder = InlineScriptFinder()
    finder.feed(html)
    return finder.problems


def test_finder_catches_what_it_should():
    assert inline_script_problems('<script>alert(1)</script>')
    assert inline_script_problems('<button onclick="go()">x</button>')
    assert inline_script_problems('<a href="javascript:go()">x</a>')
    assert not inline_script_problems('<script type="application/json" id="c">{"a": 1}</script>')
    assert not inline_script_problems('<script type="module" src="/static/x.mjs"></script>')


def page_paths(resolver=None, prefix: str = ""):
    """Every page URL without parameters (the API and admin excluded)."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route.startswith(("admin/", "api/")):
                continue
            yield from page_paths(entry, route)
        elif isinstance(entry, URLPattern) and "<" not in route and not route.startswith("api/"):
            yield "/" + route.lstrip("^").rstrip("$")


def test_policy_header_is_strict_for_scripts(client):
    response = client.get("/accounts/login/")
    policy = response.headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives["script-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in directives["script-src"] and "'unsafe-eval'" not in policy


def test_no_page_has_inline_script(users, client_for, case, study):
    from studies.models import ReadingSession

    pages = set(page_paths())
    session = ReadingSession.objects.filter(study=study).first()
    pages |= {f"/cases/{case.code}/", f"/studies/{study.pk}/", f"/studies/{study.pk}/results/",
              f"/studies/ground-truth/{case.code}/", "/accounts/login/", "/api/docs/"}
    if session is not None:
        pages.add(f"/studies/sessions/{session.pk}/")
    checked = 0
    for role in ("superuser", "study_admin", "reader", "pathologist", None):
        client = client_for(role)
        for path in sorted(pages):
            if path.startswith("/accounts/logout"):
                continue
            response = client.get(path)
            if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
                continue
            checked += 1
            problems = inline_script_problems(response.content.decode())
            assert not problems, f"{path} as {role}: {problems}"
    assert checked >= 15  # the loop really looked at pages


def test_admin_pages_have_no_inline_script(users, client_for):
    client = client_for("superuser")
    for path in ("/admin/", "/admin/auth/user/", f"/admin/auth/user/{users['reader'].pk}/change/"):
        response = client.get(path)
        assert response.status_code == 200
        problems = [p for p in inline_script_problems(response.content.decode())]
        assert not problems, f"{path}: {problems}"
