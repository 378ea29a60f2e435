"""WebSub end to end over loopback: a fake hub we wrote, the publisher's callback served over real
HTTP, real Celery worker. Discovery, subscription, verification of intent, signed pushes stored
through the same parse and upsert as fetches, forged pushes ignored, lease renewal."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import secrets
import shutil
import ssl
import subprocess
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from tests.helpers import publisher_and_worker, reply, trickled_head, wait_until
from wiredesk import keys
from wiredesk.broker import Services, create_celery
from wiredesk.ingester import websub
from wiredesk.ingester.tasks import fetch_feed, websub_renewals
from wiredesk.store import models
from wiredesk.store.feeds import put_feed


def feed_document(self_url: str, hub_url: str | None, guids: list[str]) -> bytes:
    """An RSS feed of ``guids``, advertising ``hub_url`` (none when None)."""
    links = "" if hub_url is None else (
        f'<atom:link rel="hub" href="{hub_url}"/><atom:link rel="self" href="{self_url}"/>')
    items = "".join(
        f"<item><title>Story {g}</title><link>http://127.0.0.1/story/{g}</link>"
        f"<guid isPermaLink='false'>{g}</guid><description>Text of story {g}.</description></item>"
        for g in guids)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
<title>Pushed wire</title><link>http://127.0.0.1/</link><description>d</description>
{links}
{items}</channel></rss>""".encode()


class FakeHub:
    """A WebSub hub on loopback: accepts subscriptions, verifies intent, publishes (signed when
    it was given a secret). Over TLS when given a server context (``hub_tls``)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.subscriptions: dict[str, dict[str, str]] = {}  # callback -> request params
        self.unsubscribed: list[str] = []  # callbacks whose unsubscription they confirmed
        self.requests: list[dict[str, str]] = []  # every (un)subscription request's params
        self.verified: list[tuple[str, int, bool]] = []  # (callback, status, challenge echoed)
        # Set, it answers (un)subscription requests instead, and verifies nothing.
        self.answer: Callable[[BaseHTTPRequestHandler], None] | None = None
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                length = int(self.headers.get("Content-Length", 0))
                params = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                hub.requests.append(params)
                if hub.answer is not None:
                    hub.answer(self)
                    return
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                # Verification of intent happens after the 202, as real hubs do.
                threading.Thread(target=hub._verify, args=(params,), daemon=True).start()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}/hub"

    def _verify(self, params: dict[str, str]) -> None:
        callback = params["hub.callback"]
        challenge = secrets.token_urlsafe(16)
        query = urlencode({"hub.mode": params["hub.mode"], "hub.topic": params["hub.topic"],
                           "hub.challenge": challenge, "hub.lease_seconds": "600"})
        response = httpx.get(f"{callback}?{query}")
        echoed = response.status_code == 200 and response.text == challenge
        if echoed and params["hub.mode"] == "unsubscribe":
            self.subscriptions.pop(callback, None)
            self.unsubscribed.append(callback)
        elif echoed:
            self.subscriptions[callback] = params
        self.verified.append((callback, response.status_code, echoed))

    def publish(self, callback: str, body: bytes, secret: str | None = None,
                method: str = "sha256", **headers: str) -> httpx.Response:
        """Push ``body`` to ``callback``, signed with ``secret`` or the subscription's (none if
        it has none); ``headers`` (``Content_Type=...``) are sent too."""
        secret = secret or self.subscriptions[callback].get("hub.secret")
        sent = {"Content-Type": "application/rss+xml",
                **{name.replace("_", "-"): value for name, value in headers.items()}}
        if secret is not None:
            digest = hmac.new(secret.encode(), body, getattr(hashlib, method)).hexdigest()
            sent["X-Hub-Signature"] = f"{method}={digest}"
        return httpx.post(callback, content=body, headers=sent)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode:  # an openssl too old or too different for these options: say why
        pytest.fail(f"openssl {args[0]} could not make the test hub's certificate "
                    f"(exit {done.returncode}): {done.stderr.strip()[-1000:]}", pytrace=False)


@pytest.fixture(scope="session")
def hub_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ssl.SSLContext]:
    """A throwaway CA and a certificate it signed for 127.0.0.1: (the CA's file, a server
    context presenting the certificate). A hub is sent our secret only over TLS."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a TLS hub's certificate")
    where = tmp_path_factory.mktemp("tls")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=wiredesk test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=where)
    _openssl("req", *ec, "-keyout", "hub.key", "-out", "hub.csr", "-subj", "/CN=127.0.0.1",
             cwd=where)
    (where / "hub.ext").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                                   "extendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", "hub.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "hub.pem", "-days", "2", "-extfile", "hub.ext", cwd=where)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(where / "hub.pem", where / "hub.key")
    return where / "ca.pem", server


@pytest.fixture
def hub(hub_tls: tuple[Path, ssl.SSLContext], monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A hub over TLS, trusted by the clients the test makes (httpx reads SSL_CERT_FILE when it
    builds a client's TLS context; the ingester's client is built on its first use)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(hub_tls[0]))
    fake = FakeHub(hub_tls[1])
    yield fake
    fake.stop()


@pytest.fixture
def http_hub() -> Iterator[FakeHub]:
    """A hub over plain HTTP: anyone on the path reads what is sent to it."""
    fake = FakeHub()
    yield fake
    fake.stop()


@pytest.fixture
def websub_stack(config: Any, database: Any, redis_client: Any) -> Iterator[dict[str, Any]]:
    """The publisher app on a real loopback port, and an ingest worker sharing its config."""
    def configure(c: Any, base: str) -> Any:
        return c.replace(websub_callback_base_url=base, host_max_per_second=0)

    with publisher_and_worker(config, database, "ingest", configure) as (base, app):
        yield {"base": base, "config": app.wiredesk.config}


def pushes(outcome: str) -> float:
    return REGISTRY.get_sample_value("wiredesk_ingest_websub_pushes_total",
                                     {"outcome": outcome}) or 0.0


def guids(database: Any, feed_id: int) -> set[str]:
    with database.session() as session:
        return set(session.scalars(select(models.Article.guid)
                                   .where(models.Article.feed_id == feed_id)))


def subscribed_by_polling(websub_stack: dict[str, Any], hub: FakeHub, database: Any,
                          feed_server: Any, hub_url: str | None = None) -> tuple[str, int, str]:
    """A feed (one entry, ``polled-1``) naming ``hub`` (or ``hub_url``, which leads there),
    polled once: the poll discovers the hub and subscribes, and the hub verifies. Returns the
    feed's URL, its id and our callback."""
    feed_url = feed_server.url("/pushed.xml")
    feed_server.serve("/pushed.xml", feed_document(feed_url, hub_url or hub.url, ["polled-1"]))
    with database.session() as session:
        feed_id = put_feed(session, {"url": feed_url, "interval": 3600}).id
    callback = f"{websub_stack['base']}/websub/{feed_id}"
    fetch_feed.delay(feed_id)
    wait_until(lambda: callback in hub.subscriptions, message="a verified subscription")
    return feed_url, feed_id, callback


def test_subscribe_verify_push_and_ignore_forgeries(websub_stack: dict[str, Any], hub: FakeHub,
                                                    database: Any, feed_server: Any,
                                                    redis_client: Any) -> None:
    feed_url, feed_id, callback = subscribed_by_polling(websub_stack, hub, database, feed_server)
    params = hub.subscriptions[callback]
    assert (params["hub.mode"], params["hub.topic"]) == ("subscribe", feed_url)
    assert len(params["hub.secret"]) == 64
    with database.session() as session:
        feed = session.get(models.Feed, feed_id)
        assert (feed.websub_state, feed.websub_hub) == ("subscribed", hub.url)
        lease_left = feed.websub_lease_expires_at - datetime.now(UTC)
        assert timedelta(seconds=500) < lease_left <= timedelta(seconds=600)
    assert guids(database, feed_id) == {"polled-1"}

    # A forged push (wrong secret) is acknowledged and dropped: nothing parked, nothing stored.
    forged_before = pushes("bad_signature")
    forged = hub.publish(callback, feed_document(feed_url, hub.url, ["forged-1"]),
                         secret="not-the-secret")
    assert forged.status_code == 202 and pushes("bad_signature") == forged_before + 1
    assert not list(redis_client.scan_iter(keys.websub_push("*")))

    body = feed_document(feed_url, hub.url, ["polled-1", "pushed-1", "pushed-2"])
    assert hub.publish(callback, body, method="sha1").status_code == 202
    wait_until(lambda: guids(database, feed_id) >= {"pushed-1", "pushed-2"},
               message="pushed entries stored")
    assert guids(database, feed_id) == {"polled-1", "pushed-1", "pushed-2"}
    wait_until(lambda: not list(redis_client.scan_iter(keys.websub_push("*"))),
               message="the parked push cleaned up")
    with database.session() as session:
        assert session.get(models.Feed, feed_id).websub_last_push_at is not None


def test_verification_refuses_what_we_did_not_ask_for(websub_stack: dict[str, Any],
                                                      database: Any) -> None:
    with database.session() as session:
        feed = put_feed(session, {"url": "https://example.org/feed"})
        feed.websub_hub, feed.websub_topic = "https://hub.example.org/", "https://example.org/feed"
        feed.websub_state, feed_id = "pending", feed.id
    base = f"{websub_stack['base']}/websub"

    def verify(feed_ref: Any, topic: str, mode: str = "subscribe") -> httpx.Response:
        return httpx.get(f"{base}/{feed_ref}", params={
            "hub.mode": mode, "hub.topic": topic, "hub.challenge": "c-123",
            "hub.lease_seconds": "100"})

    assert verify(feed_id, "https://evil.example.org/feed").status_code == 404
    assert verify(99999, "https://example.org/feed").status_code == 404
    ok = verify(feed_id, "https://example.org/feed")
    assert (ok.status_code, ok.text) == (200, "c-123")
    assert httpx.post(f"{base}/99999", content=b"x").status_code == 410


def renewing_services(config: Any, database: Any) -> Any:
    """Services with WebSub on (a callback URL) that renew a lease in its last hour."""
    services = create_celery(config.replace(websub_callback_base_url="https://wd.example.org",
                                            websub_renew_before_seconds=3600)).wiredesk
    services.__dict__["db"] = database
    return services


def test_leases_are_renewed_before_they_expire(config: Any, database: Any) -> None:
    services = renewing_services(config, database)
    now = datetime.now(UTC)
    with database.session() as session:
        ids = []
        for n, (state, expires) in enumerate([("subscribed", now + timedelta(minutes=30)),
                                              ("subscribed", now + timedelta(days=5)),
                                              ("pending", None)]):
            feed = put_feed(session, {"url": f"https://example.org/{n}"})
            feed.websub_hub, feed.websub_topic = "https://hub.example.org/", feed.url
            feed.websub_state, feed.websub_lease_expires_at = state, expires
            feed.websub_requested_at = now - timedelta(minutes=5)
            ids.append(feed.id)
    assert websub_renewals(services, now) == [ids[0]]
    # A pending request never verified is asked again after an hour.
    assert websub_renewals(services, now + timedelta(hours=2)) == [ids[0], ids[2]]


@pytest.mark.parametrize(("header", "valid"), [
    ("sha1=" + hmac.new(b"k", b"body", hashlib.sha1).hexdigest(), True),
    ("sha256=" + hmac.new(b"k", b"body", hashlib.sha256).hexdigest(), True),
    ("sha512=" + hmac.new(b"k", b"body", hashlib.sha512).hexdigest(), True),
    ("sha256=" + hmac.new(b"other", b"body", hashlib.sha256).hexdigest(), False),
    ("md5=" + hashlib.md5(b"body").hexdigest(), False),
    ("garbage", False),
    (None, False),
])
def test_signature_check(header: str | None, valid: bool) -> None:
    assert websub.signature_valid("k", b"body", header) is valid


def test_discovery_prefers_the_link_header() -> None:
    meta = {"links": [{"rel": "hub", "href": "https://hub.one/"},
                      {"rel": "self", "href": "https://feeds.example.org/a"}]}
    assert websub.discover(meta, {}, "https://x/") == websub.Discovery(
        "https://hub.one/", "https://feeds.example.org/a")
    headers = {"Link": '<https://hub.two/>; rel="hub", <https://example.org/self>; rel="self"'}
    assert websub.discover(meta, headers, "https://x/") == websub.Discovery(
        "https://hub.two/", "https://example.org/self")
    assert websub.discover({"links": []}, {}, "https://x/") is None


def test_without_a_callback_url_the_hub_is_recorded_but_not_used(
        config: Any, database: Any, redis_client: Any, feed_server: Any, hub: FakeHub) -> None:
    from wiredesk.ingester.tasks import ingest_feed

    app = create_celery(config.replace(host_max_per_second=0))  # no WIREDESK_WEBSUB_CALLBACK_URL
    app.wiredesk.__dict__["db"] = database
    feed_url = feed_server.serve("/pushed.xml", b"")
    feed_server.serve("/pushed.xml", feed_document(feed_url, hub.url, ["polled-1"]))
    with database.session() as session:
        feed_id = put_feed(session, {"url": feed_url}).id
    assert ingest_feed(app.wiredesk, feed_id, enqueue=list).outcome == "ok"
    with database.session() as session:
        feed = session.get(models.Feed, feed_id)
        assert (feed.websub_hub, feed.websub_topic, feed.websub_state) == (hub.url, feed_url, None)
    assert redis_client.llen("ingest") == 0 and hub.verified == []


def test_an_unsubscription_we_did_not_ask_for_is_refused(websub_stack: dict[str, Any],
                                                         database: Any) -> None:
    # Wiredesk never asks a hub to unsubscribe: whoever did, it was not us. A denial is
    # unauthenticated (any GET can claim one), so it must not open the door either.
    topic = "https://example.org/feed"
    with database.session() as session:
        feed = put_feed(session, {"url": topic})
        feed.websub_hub, feed.websub_topic = "https://hub.example.org/", topic
        feed.websub_state, feed_id = "pending", feed.id
    callback = f"{websub_stack['base']}/websub/{feed_id}"

    def verify(mode: str) -> httpx.Response:
        return httpx.get(callback, params={"hub.mode": mode, "hub.topic": topic,
                                           "hub.challenge": "c-123"})

    assert verify("unsubscribe").status_code == 404
    assert verify("denied").status_code == 200
    refused = verify("unsubscribe")
    assert (refused.status_code, refused.text) != (200, "c-123")
    assert refused.status_code == 404


def test_a_signature_that_is_not_ascii_is_ignored_like_any_bad_one(
        websub_stack: dict[str, Any], database: Any, redis_client: Any) -> None:
    with database.session() as session:
        feed = put_feed(session, {"url": "https://example.org/feed"})
        feed.websub_secret, feed_id = websub.new_secret(), feed.id
    before = pushes("bad_signature")
    response = httpx.post(f"{websub_stack['base']}/websub/{feed_id}", content=b"<rss/>",
                          headers={"X-Hub-Signature": b"sha256=\xe9" + b"0" * 63})
    assert response.status_code == 202 and pushes("bad_signature") == before + 1
    assert not list(redis_client.scan_iter(keys.websub_push("*")))


def test_a_renewal_asked_for_is_not_asked_again_on_every_tick(config: Any, database: Any) -> None:
    # The hub verifies asynchronously (or never): until it does, the lease stays near its end,
    # and each beat tick (10 s) must not send the hub another request.
    services = renewing_services(config, database)
    now = datetime.now(UTC)
    with database.session() as session:
        feed = put_feed(session, {"url": "https://example.org/feed"})
        feed.websub_hub, feed.websub_topic = "https://hub.example.org/", feed.url
        feed.websub_state = "subscribed"
        feed.websub_lease_expires_at = now + timedelta(minutes=30)
        feed.websub_requested_at, feed_id = None, feed.id
    assert websub_renewals(services, now) == [feed_id]
    with database.session() as session:  # what websub_subscribe records when it asks
        session.get(models.Feed, feed_id).websub_requested_at = now
    assert websub_renewals(services, now + timedelta(seconds=10)) == []
    assert websub_renewals(services, now + timedelta(minutes=1)) == []
    assert websub_renewals(services, now + timedelta(minutes=3)) == [feed_id]  # never verified
    with database.session() as session:  # asked at `now`, verified, but the hub sent no lease
        feed = session.get(models.Feed, feed_id)
        feed.websub_lease_expires_at, feed.websub_requested_at = None, now
    assert websub_renewals(services, now + timedelta(seconds=10)) == []
    assert websub_renewals(services, now + timedelta(minutes=3)) == [feed_id]


@pytest.mark.parametrize("lease", ["99999999999999999999", "\u00b2", "-5", "soon"])
def test_a_lease_the_hub_cannot_mean_still_confirms_the_subscription(
        websub_stack: dict[str, Any], database: Any, lease: str) -> None:
    topic = "https://example.org/feed"
    with database.session() as session:
        feed = put_feed(session, {"url": topic})
        feed.websub_hub, feed.websub_topic = "https://hub.example.org/", topic
        feed.websub_state, feed_id = "pending", feed.id
    response = httpx.get(f"{websub_stack['base']}/websub/{feed_id}", params={
        "hub.mode": "subscribe", "hub.topic": topic, "hub.challenge": "c-123",
        "hub.lease_seconds": lease})
    assert (response.status_code, response.text) == (200, "c-123")
    with database.session() as session:
        assert session.get(models.Feed, feed_id).websub_state == "subscribed"


def test_a_subscription_verified_again_unasked_is_refused(websub_stack: dict[str, Any],
                                                          database: Any) -> None:
    # Hubs no longer renew on their own (WebSub dropped that): a verification of a subscription
    # we did not just ask for comes from someone else's request, made with a secret of theirs,
    # and confirming it would have the hub sign our pushes with that secret.
    topic, now = "https://example.org/feed", datetime.now(UTC)
    with database.session() as session:
        feed = put_feed(session, {"url": topic})
        feed.websub_hub, feed.websub_topic = "https://hub.example.org/", topic
        feed.websub_state, feed.websub_lease_expires_at = "subscribed", now + timedelta(days=7)
        feed.websub_requested_at, feed_id = now - timedelta(days=3), feed.id
    callback = f"{websub_stack['base']}/websub/{feed_id}"

    def verify() -> httpx.Response:
        return httpx.get(callback, params={"hub.mode": "subscribe", "hub.topic": topic,
                                           "hub.challenge": "c-123", "hub.lease_seconds": "60"})

    assert verify().status_code == 404
    with database.session() as session:
        feed = session.get(models.Feed, feed_id)
        assert feed.websub_lease_expires_at > now + timedelta(days=6)
        feed.websub_requested_at = now  # our renewal: its verification is confirmed
    renewed = verify()
    assert (renewed.status_code, renewed.text) == (200, "c-123")


def test_a_feed_moved_to_another_url_leaves_the_old_subscription(
        websub_stack: dict[str, Any], hub: FakeHub, database: Any, feed_server: Any,
        redis_client: Any) -> None:
    # An operator moves a feed (`feeds update --url`, the admin API's PATCH): the old URL's
    # hub kept pushing the old feed's entries into it, signed with its secret, and the old
    # topic was renewed at every lease's end, whatever the new URL offered.
    from wiredesk.store.feeds import update_feed

    feed_url, feed_id, callback = subscribed_by_polling(websub_stack, hub, database, feed_server)

    with database.session() as session:
        update_feed(session, feed_id, {"url": feed_server.url("/elsewhere.xml")})
    pushed = hub.publish(callback, feed_document(feed_url, hub.url, ["polled-1", "old-2"]))
    assert pushed.status_code == 410  # the hub drops the subscription
    assert not list(redis_client.scan_iter(keys.websub_push("*")))
    assert guids(database, feed_id) == {"polled-1"}
    with database.session() as session:
        feed = session.get(models.Feed, feed_id)
        assert (feed.websub_hub, feed.websub_topic, feed.websub_state) == (None, None, None)
    services = renewing_services(websub_stack["config"], database)
    assert websub_renewals(services, datetime.now(UTC) + timedelta(days=30)) == []


@pytest.mark.parametrize("channel", ["cli", "api"])
def test_a_feed_moved_by_an_operator_unsubscribes_from_the_old_hub(
        websub_stack: dict[str, Any], hub: FakeHub, database: Any, feed_server: Any,
        channel: str) -> None:
    # The move dropped the old hub without a word to it: the hub kept the subscription to its
    # lease's end, pushing (each answered 410) until it gave up. A feed whose document stops
    # naming its hub unsubscribes (ingest.websub_unsubscribe); a move now does the same.
    feed_url, feed_id, callback = subscribed_by_polling(websub_stack, hub, database, feed_server)
    new_url = feed_server.url("/elsewhere.xml")
    config = websub_stack["config"]
    if channel == "cli":
        from click.testing import CliRunner

        from wiredesk.cli import main

        # The services' settings (the worker here shares this process, and Celery's current
        # app, with the command).
        env = {"DATABASE_URL": config.sqlalchemy_url, "REDIS_URL": config.redis_url,
               "WIREDESK_DATA_DIR": str(config.data_dir),
               "WIREDESK_WEBSUB_CALLBACK_URL": config.websub_callback_base_url,
               "WIREDESK_FETCH_ALLOW_NETWORKS": "127.0.0.1/32"}
        result = CliRunner().invoke(main, ["feeds", "update", str(feed_id), "--url", new_url],
                                    env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    else:
        from wiredesk.publisher.app import create_app

        admin = create_app(config.replace(admin_token="t0ken"))
        admin.extensions.update(wiredesk_db=database, wiredesk_celery=create_celery(config))
        moved = admin.test_client().patch(f"/admin/api/feeds/{feed_id}", json={"url": new_url},
                                          headers={"Authorization": "Bearer t0ken"})
        assert moved.status_code == 200, moved.json
    wait_until(lambda: callback in hub.unsubscribed, message="the old hub unsubscribed")
    assert hub.unsubscribed == [callback]


def test_relative_hub_and_self_links_are_resolved_against_the_feed() -> None:
    # RFC 8288 lets a Link header carry a relative reference: "/hub" was recorded as the hub,
    # and every subscription failed ("scheme '' is not http or https"), hourly, for ever.
    headers = {"Link": '</hub>; rel="hub", <feed.xml?v=2>; rel="self"'}
    assert websub.discover({}, headers, "https://example.org/news/rss") == websub.Discovery(
        "https://example.org/hub", "https://example.org/news/feed.xml?v=2")


def test_a_fetch_of_the_old_url_finishing_after_a_move_records_no_hub(
        config: Any, database: Any, redis_client: Any, feed_server: Any, hub: FakeHub) -> None:
    # The move came while the old URL's document was on its way: its hub and topic were
    # recorded on the moved feed (and, with WebSub on, subscribed to) after the move had
    # dropped them.
    from tests.helpers import respond
    from wiredesk.ingester.tasks import ingest_feed
    from wiredesk.store.feeds import update_feed

    app = create_celery(config.replace(host_max_per_second=0))
    app.wiredesk.__dict__["db"] = database
    feed_url = feed_server.url("/slow.xml")
    asked, go = threading.Event(), threading.Event()

    def slow(handler: Any) -> None:
        asked.set()
        assert go.wait(timeout=30)
        respond(handler, 200, feed_document(feed_url, hub.url, ["old-1"]),
                content_type="application/rss+xml")

    feed_server.routes["/slow.xml"] = slow
    with database.session() as session:
        feed_id = put_feed(session, {"url": feed_url}).id
    fetching = threading.Thread(target=ingest_feed, args=(app.wiredesk, feed_id),
                                kwargs={"enqueue": list})
    fetching.start()
    assert asked.wait(timeout=30)
    with database.session() as session:
        update_feed(session, feed_id, {"url": "https://example.org/elsewhere.xml"})
    go.set()
    fetching.join(timeout=30)
    with database.session() as session:
        feed = session.get(models.Feed, feed_id)
        assert (feed.url, feed.websub_hub, feed.websub_topic) == (
            "https://example.org/elsewhere.xml", None, None)


def test_a_feed_redirected_for_good_records_the_hub_of_its_new_url(
        config: Any, database: Any, redis_client: Any, feed_server: Any, hub: FakeHub) -> None:
    from tests.helpers import reply
    from wiredesk.ingester.tasks import ingest_feed

    app = create_celery(config.replace(host_max_per_second=0))
    app.wiredesk.__dict__["db"] = database
    new_url = feed_server.url("/new.xml")
    feed_server.serve("/new.xml", feed_document(new_url, hub.url, ["moved-1"]))
    feed_server.routes["/old.xml"] = reply(301, Location=new_url)
    with database.session() as session:
        feed_id = put_feed(session, {"url": feed_server.url("/old.xml")}).id
    assert ingest_feed(app.wiredesk, feed_id, enqueue=list).outcome == "ok"
    with database.session() as session:
        feed = session.get(models.Feed, feed_id)
        assert (feed.url, feed.websub_hub, feed.websub_topic) == (new_url, hub.url, new_url)


def test_a_lease_that_ran_out_unrenewed_is_asked_again_at_the_pending_pace(
        config: Any, database: Any) -> None:
    # The hub failed every renewal (down, or refusing) until the lease ended: the
    # subscription is gone, yet it was asked for again every two minutes, for ever (a
    # thousand feeds on one dead hub: 720,000 requests a day).
    services = renewing_services(config, database)
    now = datetime.now(UTC)
    with database.session() as session:
        feed = put_feed(session, {"url": "https://example.org/feed"})
        feed.websub_hub, feed.websub_topic = "https://hub.example.org/", feed.url
        feed.websub_state = "subscribed"
        feed.websub_lease_expires_at = now - timedelta(days=1)
        feed.websub_requested_at, feed_id = now - timedelta(minutes=5), feed.id
    assert websub_renewals(services, now) == []
    assert websub_renewals(services, now + timedelta(minutes=56)) == [feed_id]


def subscriptions(outcome: str) -> float:
    return REGISTRY.get_sample_value("wiredesk_ingest_websub_subscriptions_total",
                                     {"outcome": outcome}) or 0.0


def test_a_plain_http_hub_is_never_sent_the_secret_and_its_pushes_only_bring_a_poll(
        websub_stack: dict[str, Any], http_hub: FakeHub, database: Any, feed_server: Any,
        redis_client: Any) -> None:
    # WebSub 5.1: hub.secret SHOULD only be sent over HTTPS. Sent in clear to an http hub,
    # anyone on the path read it and could sign pushes of their own entries into the feed.
    unsigned_before = subscriptions("requested_no_secret")
    feed_url, feed_id, callback = subscribed_by_polling(websub_stack, http_hub, database,
                                                        feed_server)
    assert "hub.secret" not in http_hub.subscriptions[callback]
    assert subscriptions("requested_no_secret") == unsigned_before + 1
    with database.session() as session:
        feed = session.get(models.Feed, feed_id)
        assert (feed.websub_state, feed.websub_secret) == ("subscribed", None)
        last_fetched = feed.last_fetched_at
        assert feed.next_fetch_at > last_fetched + timedelta(minutes=30)  # interval: an hour

    # So nothing can tell the hub's pushes from anyone's: a push is only a ping. Its body is
    # not stored; the feed is polled (from its own URL) soon, never sooner than a minute after
    # its last fetch, however many pings come.
    pings_before = pushes("ping")
    for _ in range(3):
        answer = http_hub.publish(callback, feed_document(feed_url, http_hub.url, ["forged-1"]))
        assert answer.status_code == 202
    assert pushes("ping") == pings_before + 3
    assert not list(redis_client.scan_iter(keys.websub_push("*")))
    with database.session() as session:
        feed = session.get(models.Feed, feed_id)
        assert feed.next_fetch_at == last_fetched + websub.PING_MIN_GAP
        # What an earlier version left: a secret it had sent this hub in clear.
        feed.websub_secret = "sent-in-clear"
    signed = http_hub.publish(callback, feed_document(feed_url, http_hub.url, ["forged-2"]),
                              secret="sent-in-clear")
    assert signed.status_code == 202 and pushes("ping") == pings_before + 4
    assert not list(redis_client.scan_iter(keys.websub_push("*")))
    assert guids(database, feed_id) == {"polled-1"}


def test_a_ping_does_not_cut_short_the_wait_the_feeds_server_asked_for(
        websub_stack: dict[str, Any], http_hub: FakeHub, database: Any,
        feed_server: Any) -> None:
    # Anyone can send a plain-http hub's pings. A feed whose server answered 429 with
    # Retry-After (or that was failing, and backing off) was made due a minute after that
    # answer by each ping: the server that asked for two hours' rest was polled every minute.
    feed_url, feed_id, callback = subscribed_by_polling(websub_stack, http_hub, database,
                                                        feed_server)
    feed_server.routes["/pushed.xml"] = reply(429, b"slow down", Retry_After="7200")
    fetch_feed.delay(feed_id)

    def rate_limited() -> Any:
        with database.session() as session:
            feed = session.get(models.Feed, feed_id)
            return feed.next_fetch_at if feed.error_count else None

    wait_until(rate_limited, message="the 429 recorded")
    asked = rate_limited()
    assert asked > datetime.now(UTC) + timedelta(minutes=100)
    answer = http_hub.publish(callback, feed_document(feed_url, http_hub.url, ["pinged-1"]))
    assert answer.status_code == 202
    assert rate_limited() == asked


def test_a_feed_that_stops_advertising_its_hub_unsubscribes_and_goes_on_polling(
        websub_stack: dict[str, Any], hub: FakeHub, database: Any, feed_server: Any,
        redis_client: Any) -> None:
    # The feed dropped its hub: the subscription was kept (and renewed) for ever, and the hub's
    # pushes were stored as the feed's entries whatever the feed itself now said.
    feed_url, feed_id, callback = subscribed_by_polling(websub_stack, hub, database, feed_server)
    secret = hub.subscriptions[callback]["hub.secret"]
    feed_server.serve("/pushed.xml", feed_document(feed_url, None, ["polled-1", "polled-2"]))
    fetch_feed.delay(feed_id)
    wait_until(lambda: callback in hub.unsubscribed, message="the unsubscription confirmed")
    assert callback not in hub.subscriptions
    assert guids(database, feed_id) == {"polled-1", "polled-2"}
    with database.session() as session:
        feed = session.get(models.Feed, feed_id)
        assert (feed.websub_hub, feed.websub_topic, feed.websub_secret, feed.websub_state) == (
            None, None, None, None)
    # A push the hub sent before it heard us is refused (410: the hub drops it) and not stored.
    late = hub.publish(callback, feed_document(feed_url, hub.url, ["polled-1", "late-1"]),
                       secret=secret)
    assert late.status_code == 410
    assert guids(database, feed_id) == {"polled-1", "polled-2"}
    services = Services(websub_stack["config"])  # the worker's (a second app would take over)
    services.__dict__["db"] = database
    assert websub_renewals(services, datetime.now(UTC) + timedelta(days=30)) == []
    # The hub comes back: subscribed again, and from then on an unsubscription is ours to ask
    # for again, not confirmed for whoever asks within the hour the last one was awaited.
    hub_feed = feed_document(feed_url, hub.url, ["polled-1", "polled-2", "polled-3"])
    feed_server.serve("/pushed.xml", hub_feed)
    fetch_feed.delay(feed_id)
    wait_until(lambda: callback in hub.subscriptions, message="subscribed again")
    unasked = httpx.get(callback, params={"hub.mode": "unsubscribe", "hub.topic": feed_url,
                                          "hub.challenge": "c-123"})
    assert unasked.status_code == 404


def test_a_feed_that_changes_hub_leaves_the_old_one(
        websub_stack: dict[str, Any], hub: FakeHub, hub_tls: Any, database: Any,
        feed_server: Any, redis_client: Any) -> None:
    feed_url, feed_id, callback = subscribed_by_polling(websub_stack, hub, database, feed_server)
    old_secret = hub.subscriptions[callback]["hub.secret"]
    other = FakeHub(hub_tls[1])
    try:
        feed_server.serve("/pushed.xml", feed_document(feed_url, other.url, ["polled-1"]))
        fetch_feed.delay(feed_id)
        wait_until(lambda: callback in hub.unsubscribed and callback in other.subscriptions,
                   message="the old hub left and the new one subscribed")
        # The new hub has a secret of its own: the old hub's pushes no longer pass for ours.
        assert other.subscriptions[callback]["hub.secret"] != old_secret
        before = pushes("bad_signature")
        old = hub.publish(callback, feed_document(feed_url, hub.url, ["old-hub-1"]),
                          secret=old_secret)
        assert old.status_code == 202 and pushes("bad_signature") == before + 1
        new = other.publish(callback, feed_document(feed_url, other.url, ["new-hub-1"]))
        assert new.status_code == 202
        wait_until(lambda: "new-hub-1" in guids(database, feed_id), message="the new hub's push")
        assert "old-hub-1" not in guids(database, feed_id)
    finally:
        other.stop()


BOMB = gzip.compress(b"\0" * 100_000_000)  # ~100 KB sent, 100 MB inflated


@pytest.mark.parametrize("status", [202, 500])
def test_a_hub_answering_with_a_gzip_bomb_is_not_inflated(config: Any, http_hub: FakeHub,
                                                          status: int) -> None:
    # The subscription request's answer was read whole, and inflated, into the ingest worker's
    # memory (httpx decodes Content-Encoding): a hub could make it allocate what it liked.
    from tests.helpers import respond
    from wiredesk.ingester.fetch import make_client

    http_hub.answer = lambda h: respond(h, status, BOMB, Content_Encoding="gzip")
    tracemalloc.start()
    try:
        with make_client(config) as client:
            try:
                websub.subscribe(client, config, feed_id=1, hub=http_hub.url,
                                 topic="https://example.org/feed", secret=None)
            except httpx.HTTPStatusError:
                assert status >= 300
            else:
                assert status < 300
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


def test_a_compressed_push_is_inflated_under_the_cap_and_a_bomb_refused(
        websub_stack: dict[str, Any], hub: FakeHub, database: Any, feed_server: Any,
        redis_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    # The push's Content-Encoding was ignored: a gzip push was parked compressed and failed
    # to parse (its entries lost, nothing counted), and a bomb went to the worker as well.
    feed_url, feed_id, callback = subscribed_by_polling(websub_stack, hub, database, feed_server)
    zipped = gzip.compress(feed_document(feed_url, hub.url, ["polled-1", "zipped-1"]))
    assert hub.publish(callback, zipped, Content_Encoding="gzip").status_code == 202
    wait_until(lambda: "zipped-1" in guids(database, feed_id), message="the gzip push stored")

    before = pushes("too_large")
    refused = hub.publish(callback, BOMB, Content_Encoding="gzip")
    assert refused.status_code == 413 and pushes("too_large") == before + 1
    assert any("decompresses past" in r.getMessage() for r in caplog.records)
    wait_until(lambda: not list(redis_client.scan_iter(keys.websub_push("*"))),
               message="nothing parked")


def test_a_push_the_worker_cannot_parse_is_counted(
        websub_stack: dict[str, Any], hub: FakeHub, database: Any, feed_server: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    # Signed, labelled as a feed, accepted (202): the worker's parse failed and only a log line
    # said so. Its entries are lost until the next poll; now the outcome says how often.
    feed_url, feed_id, callback = subscribed_by_polling(websub_stack, hub, database, feed_server)
    before = pushes("unparsable")
    assert hub.publish(callback, b"<html><body>a proxy's error page</body></html>").status_code \
        == 202
    wait_until(lambda: pushes("unparsable") == before + 1, message="the failed parse counted")
    assert any("WebSub push for feed" in r.getMessage() for r in caplog.records)
    assert guids(database, feed_id) == {"polled-1"}


def queued_tasks(redis_client: Any, name: str) -> int:
    """Messages for task ``name`` waiting in the ingest queue."""
    import json

    return sum(json.loads(raw)["headers"]["task"] == name
               for raw in redis_client.lrange("ingest", 0, -1))


def test_a_renewal_is_asked_for_once_whoever_sees_it_due(
        config: Any, database: Any, redis_client: Any, feed_server: Any) -> None:
    # A renewal was recorded as asked only when the websub_subscribe task ran: until then every
    # beat tick (10 s), and every fetch of the feed, sent another, so a backed-up ingest queue
    # (or a second beat) filled with copies, each a request to the hub.
    from wiredesk.ingester.tasks import ingest_feed

    services = renewing_services(config, database)
    now = datetime.now(UTC)
    feed_url = feed_server.serve("/renewed.xml", b"")
    feed_server.serve("/renewed.xml", feed_document(feed_url, "https://hub.example.org/", ["a"]))
    with database.session() as session:
        ids = []
        for url in (feed_url, "https://example.org/ticked"):
            feed = put_feed(session, {"url": url})
            feed.websub_hub, feed.websub_topic = "https://hub.example.org/", url
            feed.websub_state = "subscribed"
            feed.websub_lease_expires_at = now + timedelta(minutes=30)
            ids.append(feed.id)
    fetched, ticked = ids
    assert websub_renewals(services, now) == [fetched, ticked]
    assert websub_renewals(services, now + timedelta(seconds=10)) == []  # the next tick

    with database.session() as session:  # due again: the fetch sees it first
        session.get(models.Feed, fetched).websub_requested_at = now - timedelta(minutes=5)
    assert ingest_feed(services, fetched, enqueue=list).outcome == "ok"
    assert queued_tasks(redis_client, "ingest.websub_subscribe") == 1
    assert websub_renewals(services, datetime.now(UTC)) == []


def test_a_push_is_read_in_the_charset_its_content_type_names(
        websub_stack: dict[str, Any], hub: FakeHub, database: Any, feed_server: Any) -> None:
    # The push's headers were dropped before the parse: a feed whose charset is named only by
    # its Content-Type (as HTTP lets it be) was guessed at, and a short KOI8-R title stored as
    # mojibake, a new revision of the entry the poll had read right.
    feed_url, feed_id, callback = subscribed_by_polling(websub_stack, hub, database, feed_server)
    title = "Москва: новости дня"
    body = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<link>http://127.0.0.1/</link><description>d</description>
<item><title>{title}</title><guid isPermaLink="false">koi8-1</guid></item></channel></rss>"""
    pushed = hub.publish(callback, body.encode("koi8-r"),
                         Content_Type="application/rss+xml; charset=KOI8-R")
    assert pushed.status_code == 202
    wait_until(lambda: "koi8-1" in guids(database, feed_id), message="the push stored")
    with database.session() as session:
        assert session.scalar(select(models.Article.title).where(
            models.Article.guid == "koi8-1")) == title


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "image/png",
                                          "application/x-www-form-urlencoded"])
def test_a_push_that_is_not_a_feed_is_refused_at_the_door(
        websub_stack: dict[str, Any], hub: FakeHub, database: Any, feed_server: Any,
        redis_client: Any, content_type: str) -> None:
    # It was parked (up to the feed cap) and handed to a worker, whose parse failed with
    # nothing counted.
    feed_url, feed_id, callback = subscribed_by_polling(websub_stack, hub, database, feed_server)
    before = pushes("not_a_feed")
    refused = hub.publish(callback, b"<html><body>Our new site!</body></html>",
                          Content_Type=content_type)
    assert refused.status_code == 415 and pushes("not_a_feed") == before + 1
    assert not list(redis_client.scan_iter(keys.websub_push("*")))


def test_a_push_for_a_topic_the_feed_does_not_have_is_gone(
        websub_stack: dict[str, Any], hub: FakeHub, database: Any, feed_server: Any,
        redis_client: Any) -> None:
    # A hub names the topic of what it pushes (Link rel="self"): one for another topic (the
    # feed's old topic, still subscribed at a hub that shares the callback) was stored as this
    # feed's entries.
    feed_url, feed_id, callback = subscribed_by_polling(websub_stack, hub, database, feed_server)
    other = feed_server.url("/other.xml")
    before = pushes("unknown_topic")
    stray = hub.publish(callback, feed_document(other, hub.url, ["other-1"]),
                        Link=f'<{hub.url}>; rel="hub", <{other}>; rel="self"')
    assert stray.status_code == 410 and pushes("unknown_topic") == before + 1
    assert not list(redis_client.scan_iter(keys.websub_push("*")))
    # Ours however the hub spells it: a false "not yours" would have the hub drop us.
    spelled = feed_url.replace("http://", "HTTP://").replace("/pushed.xml", "/pushed%2Exml")
    ours = hub.publish(callback, feed_document(feed_url, hub.url, ["ours-1"]),
                       Link=f'<{hub.url}>; rel="hub", <{spelled}>; rel="self"')
    assert ours.status_code == 202
    wait_until(lambda: "ours-1" in guids(database, feed_id), message="the push for our topic")
    assert "other-1" not in guids(database, feed_id)


@pytest.fixture
def private_listener() -> Iterator[tuple[str, list[Any]]]:
    """A listener on 127.0.0.2, loopback yet outside the tests' allow-list (127.0.0.1/32), as a
    private address is outside production's: (its URL, the connections it accepted)."""
    import socket

    listener = socket.socket()
    try:
        listener.bind(("127.0.0.2", 0))
    except OSError:
        listener.close()
        pytest.skip("127.0.0.2 cannot be bound here")
    listener.listen()
    accepted: list[Any] = []

    def accept() -> None:
        try:
            while True:
                accepted.append(listener.accept()[0])
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.2:{listener.getsockname()[1]}/hub", accepted
    listener.close()
    for connection in accepted:
        connection.close()


def subscribing_app(config: Any, database: Any, hub_url: str) -> tuple[Any, int]:
    """An app with WebSub on, and a feed whose recorded hub is ``hub_url``."""
    app = create_celery(config.replace(websub_callback_base_url="https://wd.example.org"))
    app.wiredesk.__dict__["db"] = database
    with database.session() as session:
        feed = put_feed(session, {"url": "https://example.org/feed"})
        feed.websub_hub, feed.websub_topic, feed_id = hub_url, feed.url, feed.id
    return app, feed_id


def test_a_hub_redirecting_to_a_private_address_is_blocked_by_the_guard(
        config: Any, database: Any, redis_client: Any, http_hub: FakeHub,
        private_listener: tuple[str, list[Any]]) -> None:
    # A hub's 307 was never followed: a hub that moved (308) was failed hourly for ever. Now
    # a redirect is followed where, and only where, the SSRF guard lets a fetch go.
    from tests.helpers import respond

    private_url, accepted = private_listener
    http_hub.answer = lambda h: respond(h, 307, Location=private_url)
    app, feed_id = subscribing_app(config, database, http_hub.url)
    before = subscriptions("blocked")
    assert app.tasks["ingest.websub_subscribe"].apply(args=[feed_id]).get() == "blocked"
    assert subscriptions("blocked") == before + 1 and len(http_hub.requests) == 1
    assert accepted == []


def test_a_redirect_from_an_https_hub_to_plain_http_is_not_sent_the_secret(
        config: Any, database: Any, redis_client: Any, hub: FakeHub, http_hub: FakeHub) -> None:
    from tests.helpers import respond

    hub.answer = lambda h: respond(h, 308, Location=http_hub.url)
    app, feed_id = subscribing_app(config, database, hub.url)
    assert app.tasks["ingest.websub_subscribe"].apply(args=[feed_id]).get() == "blocked"
    assert "hub.secret" in hub.requests[0] and http_hub.requests == []


def test_an_unsubscription_sent_late_spares_a_hub_the_feed_advertises_again(
        config: Any, database: Any, redis_client: Any, http_hub: FakeHub) -> None:
    # A fetch saw the hub gone and queued its unsubscription; the next fetch saw it back and
    # subscribed again. The first message, run last (a backed-up queue, another worker),
    # ended the new subscription at the hub, and confirmed it ourselves (the leaving mark),
    # while the feed's row still said subscribed: no pushes until the lease ran out.
    app, feed_id = subscribing_app(config, database, http_hub.url)
    with database.session() as session:
        feed = session.get(models.Feed, feed_id)
        feed.websub_state, topic = "subscribed", feed.websub_topic
    late = app.tasks["ingest.websub_unsubscribe"].apply(args=[feed_id, http_hub.url, topic])
    assert late.get() == "skipped"
    assert http_hub.requests == []
    assert not redis_client.exists(keys.websub_leaving(feed_id, topic))


def test_a_hub_that_moved_is_followed_there(
        websub_stack: dict[str, Any], http_hub: FakeHub, database: Any,
        feed_server: Any) -> None:
    from tests.helpers import respond

    moved = FakeHub()
    try:
        http_hub.answer = lambda h: respond(h, 308, Location=moved.url)
        feed_url, feed_id, callback = subscribed_by_polling(websub_stack, moved, database,
                                                            feed_server, hub_url=http_hub.url)
        assert moved.subscriptions[callback]["hub.topic"] == feed_url
        with database.session() as session:  # the feed still names the hub it advertises
            assert session.get(models.Feed, feed_id).websub_hub == http_hub.url
    finally:
        moved.stop()


def test_a_link_header_made_to_backtrack_does_not_hold_the_fetch(
        config: Any, database: Any, redis_client: Any, feed_server: Any) -> None:
    # Discovery read the Link header with a pattern that went back over the rest of the
    # header from every "<" with no ">": a feed answering with 100 KB of "<" (httpcore reads
    # headers up to 100 KB) cost about a minute of CPU, holding the GIL, on every fetch.
    from tests.helpers import respond
    from wiredesk.ingester.tasks import ingest_feed

    app = create_celery(config.replace(host_max_per_second=0))
    app.wiredesk.__dict__["db"] = database
    feed_url = feed_server.url("/links.xml")
    body = feed_document(feed_url, None, ["linked-1"])
    feed_server.routes["/links.xml"] = lambda h: respond(
        h, 200, body, content_type="application/rss+xml", Link="<" * 100_000)
    with database.session() as session:
        feed_id = put_feed(session, {"url": feed_url}).id
    outcome: list[str] = []
    fetching = threading.Thread(target=lambda: outcome.append(
        ingest_feed(app.wiredesk, feed_id, enqueue=list).outcome), daemon=True)
    fetching.start()
    fetching.join(timeout=20)  # a deadline, far past what the fetch takes (milliseconds)
    assert outcome == ["ok"]
    assert guids(database, feed_id) == {"linked-1"}


def test_a_hub_trickling_its_answer_is_given_up_at_the_deadline(
        config: Any, http_hub: FakeHub) -> None:
    # As a feed's server could: the answer's head a byte now and then, never a read timeout,
    # held the ingest thread that asked for the subscription as long as the hub liked.
    from wiredesk.ingester.fetch import make_client

    done = threading.Event()
    http_hub.answer = trickled_head("202 Accepted", done)
    config = config.replace(fetch_read_timeout=0.5)
    failed: list[Exception] = []

    def run() -> None:
        with make_client(config) as client:
            try:
                websub.subscribe(client, config, feed_id=1, hub=http_hub.url,
                                 topic="https://example.org/feed", secret=None)
            except httpx.TimeoutException as exc:
                failed.append(exc)

    asking = threading.Thread(target=run, daemon=True)
    asking.start()
    asking.join(timeout=10)  # a deadline, twenty times the exchange's own
    done.set()
    asking.join(timeout=10)
    assert len(failed) == 1
