"""Failed logins are throttled per editor name and per client address, over real HTTP from
several loopback addresses: after 5 failures in 15 minutes the desk answers 429 a while."""

from __future__ import annotations

import http.client
import re
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from prometheus_client import REGISTRY
from werkzeug.serving import make_server

from tests.desk.conftest import EDITOR, PASSWORD
from tests.helpers import wait_until
from wiredesk import keys
from wiredesk.store.editors import add_editor

OTHER, OTHER_PASSWORD = "omar", "another long password"


@pytest.fixture
def desk_port(desk_app: Any, database: Any) -> Iterator[int]:
    with database.session() as session:
        add_editor(session, OTHER, OTHER_PASSWORD)
    server = make_server("127.0.0.1", 0, desk_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join(timeout=10)


def log_in(port: int, name: str, password: str, source: str = "127.0.0.1",
           forwarded_for: str = "") -> Any:
    """A fresh browser at ``source`` (or, through a proxy at ``source``, at ``forwarded_for``):
    the login page (cookie, CSRF token), then the form."""
    def request(method: str, body: str = "", cookie: str = "") -> Any:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10,
                                                source_address=(source, 0))
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        if forwarded_for:
            headers["X-Forwarded-For"] = forwarded_for
        if cookie:
            headers["Cookie"] = cookie
        connection.request(method, "/login", body=body or None, headers=headers)
        response = connection.getresponse()
        response.text = response.read().decode()
        connection.close()
        return response

    page = request("GET")
    cookie = page.getheader("Set-Cookie").split(";", 1)[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return request("POST", urlencode({"name": name, "password": password,
                                      "csrf_token": token}), cookie)


def throttled_count() -> float:
    return REGISTRY.get_sample_value("wiredesk_desk_logins_total", {"outcome": "throttled"}) or 0


def test_five_failures_for_one_name_refuse_it_from_anywhere(desk_port: int,
                                                            redis_client: Any) -> None:
    for n in range(5):  # a guesser spread over several addresses
        assert log_in(desk_port, EDITOR, f"guess {n}", f"127.0.0.{n + 1}").status == 401
    before = throttled_count()
    refused = log_in(desk_port, EDITOR, PASSWORD, "127.0.0.9")  # even the right password
    assert refused.status == 429
    assert "Too many failed logins for this name or from this address" in refused.text
    assert "Try again in 5 minutes." in refused.text
    assert 0 < int(refused.getheader("Retry-After")) <= keys.DESK_LOGIN_BLOCKED_TTL_SECONDS
    assert throttled_count() == before + 1
    # Another editor, from the same addresses, is not affected.
    assert log_in(desk_port, OTHER, OTHER_PASSWORD, "127.0.0.1").status == 303
    blocked = keys.desk_login_blocked("name", EDITOR)
    assert blocked.startswith("wiredesk:") and EDITOR not in blocked
    assert 0 < redis_client.ttl(blocked) <= keys.DESK_LOGIN_BLOCKED_TTL_SECONDS


def test_five_failures_from_one_address_refuse_it_for_any_name(desk_port: int,
                                                               redis_client: Any) -> None:
    for n in range(5):  # one address trying names
        assert log_in(desk_port, f"user{n}", "guess", "127.0.0.20").status == 401
    assert log_in(desk_port, EDITOR, PASSWORD, "127.0.0.20").status == 429
    assert log_in(desk_port, EDITOR, PASSWORD, "127.0.0.21").status == 303
    failures = [k.decode() for k in redis_client.keys(keys.PREFIX + "desk:login:failures:*")]
    assert failures and all(0 < redis_client.ttl(k) <= keys.DESK_LOGIN_FAILURES_TTL_SECONDS
                            for k in failures)


def test_the_refusal_ends_and_a_success_forgives_the_names_failures(
        desk_app: Any, desk_port: int) -> None:
    for n in range(4):
        assert log_in(desk_port, EDITOR, "guess", f"127.0.0.{30 + n}").status == 401
    assert log_in(desk_port, EDITOR, PASSWORD, "127.0.0.34").status == 303
    for n in range(4):  # four more do not block: her success reset the name's count
        assert log_in(desk_port, EDITOR, "guess", f"127.0.0.{40 + n}").status == 401
    assert log_in(desk_port, EDITOR, PASSWORD, "127.0.0.44").status == 303

    desk_app.config["DESK_LOGIN_BLOCKED_SECONDS"] = 1
    for _ in range(5):
        log_in(desk_port, OTHER, "guess", "127.0.0.50")
    assert log_in(desk_port, OTHER, OTHER_PASSWORD, "127.0.0.51").status == 429
    wait_until(lambda: log_in(desk_port, OTHER, OTHER_PASSWORD, "127.0.0.51").status == 303,
               timeout=10, message="the refusal to end")


@pytest.mark.parametrize("proxies", [0, 1])
def test_behind_a_proxy_each_editor_keeps_their_own_address(
        config: Any, database: Any, redis_client: Any, proxies: int) -> None:
    """Behind an ingress every request came from the proxy's address: five failed logins by
    anyone refused every editor in the newsroom for five minutes. With the proxies the desk
    trusts set (WIREDESK_DESK_TRUSTED_PROXIES), the address is the client's the proxy names;
    unset, a client's own X-Forwarded-For is ignored, so it cannot dodge the count."""
    from tests.desk.conftest import SECRET
    from wiredesk.desk.app import create_app

    with database.session() as session:
        add_editor(session, EDITOR, PASSWORD)
    app = create_app(config.replace(desk_secret_key=SECRET, desk_trusted_proxies=proxies))
    app.extensions["wiredesk_db"] = database
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for n in range(5):  # one guesser out there, through the proxy at 127.0.0.50
            assert log_in(server.server_port, f"user{n}", "guess", "127.0.0.50",
                          forwarded_for="203.0.113.7").status == 401
        colleague = log_in(server.server_port, EDITOR, PASSWORD, "127.0.0.50",
                           forwarded_for="198.51.100.4")
        assert colleague.status == (303 if proxies else 429)
    finally:
        server.shutdown()
        thread.join(timeout=10)
