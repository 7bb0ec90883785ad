"""Browser test helpers; the Playwright fixtures (browser, page, shot) live in tests/conftest.py."""

from __future__ import annotations


def login(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(f"{live_server.url}/")
