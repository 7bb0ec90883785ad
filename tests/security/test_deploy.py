"""Production settings: `check --deploy` is clean behind a TLS proxy, and whitenoise serves hashed static files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Test-process settings that production never has (tests/conftest.py sets the first for Playwright).
NOT_IN_PRODUCTION = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x7Gq2vN9pL4sR8tY1wE6uI3oP5aS0dF7gH2jK9lZ4xC8vB1nM6qW3eR5tY0uI2oP",
    "ALLOWED_HOSTS": "petct.example.org",
    "PETCTWEB_BEHIND_TLS_PROXY": "1",
}


def run_manage(tmp_path, env_extra: dict, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in NOT_IN_PRODUCTION}
    env.update({"PETCTWEB_VAR_DIR": str(tmp_path / "var"), **env_extra})
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = run_manage(tmp_path, PRODUCTION, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow
def test_check_deploy_warns_without_the_tls_settings(tmp_path):
    """The same check fails when HTTPS is not enforced, so the test above can fail."""
    plain = {**PRODUCTION, "PETCTWEB_BEHIND_TLS_PROXY": "0"}
    result = run_manage(tmp_path, plain, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # no HSTS


SERVE_HASHED = """
import django, sys
django.setup()
from django.templatetags.static import static
from django.test import Client
url = static("frontend/forms.mjs")
assert "forms." in url and url != "/static/frontend/forms.mjs", url  # a hashed name
client = Client()
hashed = client.get(url, HTTP_ACCEPT_ENCODING="gzip")
plain = client.get("/static/frontend/forms.mjs")
print(url, hashed.status_code, hashed.headers.get("Cache-Control"), hashed.headers.get("Content-Encoding"),
      plain.status_code, plain.headers.get("Cache-Control"), sep="|")
"""


@pytest.mark.slow
def test_whitenoise_serves_hashed_static_files_forever_cacheable(tmp_path):
    env = {**PRODUCTION, "PETCTWEB_BEHIND_TLS_PROXY": "0", "PETCTWEB_STATIC_HASHED": "1",
           "ALLOWED_HOSTS": "testserver", "STATIC_ROOT": str(tmp_path / "static")}
    collected = run_manage(tmp_path, env, "collectstatic", "--noinput", "--verbosity", "0")
    assert collected.returncode == 0, collected.stderr
    assert (tmp_path / "static" / "staticfiles.json").is_file()
    full_env = {k: v for k, v in os.environ.items() if k not in NOT_IN_PRODUCTION}
    full_env.update({"PETCTWEB_VAR_DIR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "petctweb.settings", **env})
    result = subprocess.run([sys.executable, "-c", SERVE_HASHED], cwd=REPO, env=full_env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    url, status, cache, encoding, plain_status, plain_cache = result.stdout.strip().splitlines()[-1].split("|")
    assert status == "200" and "immutable" in cache and "max-age=315360000" in cache
    assert encoding == "gzip"  # the compressed copy collectstatic made
    assert plain_status == "200" and "immutable" not in plain_cache
