"""Per-host slots in real Redis: concurrency across holders, starts per second, expiry."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from wiredesk import keys
from wiredesk.ingester.hostlimit import feed_slot, host_of, host_slot, settle

URL = "http://News.Example.org:8080/feed.xml"


def test_host_is_host_and_port_lower_cased() -> None:
    assert host_of(URL) == "news.example.org:8080"
    assert host_of("https://user:pw@example.org/x") == "example.org"


def test_concurrency_is_shared_and_freed(redis_client: Any) -> None:
    with ExitStack() as stack:
        grants = [stack.enter_context(host_slot(redis_client, URL, 2, 0)) for _ in range(3)]
        assert grants == [None, None, "host_busy"]
        # Another path on the same host shares the limit; another host does not.
        with host_slot(redis_client, "http://news.example.org:8080/other", 2, 0) as denied:
            assert denied == "host_busy"
        with host_slot(redis_client, "http://elsewhere.example.org/", 2, 0) as denied:
            assert denied is None
    with host_slot(redis_client, URL, 2, 0) as denied:
        assert denied is None  # released on exit
    assert redis_client.zcard(keys.host_inflight(host_of(URL))) == 0


def test_a_crashed_holder_is_forgotten_after_the_token_ttl(redis_client: Any) -> None:
    # A token left behind by a killed worker: expired as of now.
    redis_client.zadd(keys.host_inflight(host_of(URL)), {"dead-worker": 1})
    with host_slot(redis_client, URL, 1, 0) as denied:
        assert denied is None


def test_starts_per_second(redis_client: Any) -> None:
    def at(t: float) -> list[str | None]:
        results = []
        for _ in range(3):
            with host_slot(redis_client, URL, 0, 2, clock=lambda: t) as denied:
                results.append(denied)
        return results

    assert at(1000.1) == [None, None, "host_rate"]
    assert at(1001.0) == [None, None, "host_rate"]  # a new second, a new window
    # Below one per second: one start per window of ceil(1/rate) seconds.
    with host_slot(redis_client, URL, 0, 0.25, clock=lambda: 2000.0) as first, \
            host_slot(redis_client, URL, 0, 0.25, clock=lambda: 2003.0) as second:
        assert (first, second) == (None, "host_rate")


def test_feed_slot_takes_the_feed_lock_and_the_host_slot_together(redis_client: Any) -> None:
    lock = keys.feed_fetch_lock(991)
    inflight = keys.host_inflight(host_of(URL))
    with feed_slot(redis_client, lock, 60, URL, 2, 0) as first:
        assert first is None and redis_client.zcard(inflight) == 1
        with feed_slot(redis_client, lock, 60, URL, 2, 0) as second:
            assert second == "locked"  # same feed: refused, host slot untouched
        assert redis_client.zcard(inflight) == 1
    settle(redis_client)  # the release's reply read: another connection now sees it
    assert redis_client.get(lock) is None and redis_client.zcard(inflight) == 0


def test_feed_slot_refused_by_the_host_gives_the_lock_back(redis_client: Any) -> None:
    lock, other = keys.feed_fetch_lock(992), keys.feed_fetch_lock(993)
    with feed_slot(redis_client, other, 60, URL, 1, 0) as held:
        assert held is None
        with feed_slot(redis_client, lock, 60, URL, 1, 0) as denied:
            assert denied == "host_busy"
        assert redis_client.get(lock) is None
    with feed_slot(redis_client, lock, 60, URL, 0, 0.25, clock=lambda: 4000.0) as first, \
            feed_slot(redis_client, other, 60, URL, 0, 0.25, clock=lambda: 4001.0) as second:
        assert (first, second) == (None, "host_rate")


def test_feed_slot_release_leaves_a_lock_taken_over_by_another(redis_client: Any) -> None:
    lock = keys.feed_fetch_lock(994)
    with feed_slot(redis_client, lock, 60, URL, 0, 0) as denied:
        assert denied is None
        redis_client.set(lock, "someone-else")  # ours expired and another fetch took it
    assert redis_client.get(lock) == b"someone-else"
    redis_client.delete(lock)


def test_feed_slots_on_threads_each_release_before_their_next_command(redis_client: Any) -> None:
    """Each thread's release is sent at once; its reply is read before that thread's next
    command: after the threads are done no lock or host token is left."""
    from concurrent.futures import ThreadPoolExecutor

    inflight = keys.host_inflight(host_of(URL))

    def run(worker: int) -> list[str | None]:
        outcomes = []
        for n in range(25):
            with feed_slot(redis_client, keys.feed_fetch_lock(10_000 + n), 60, URL, 8, 0) as d:
                outcomes.append(d)
                if d is None:
                    assert redis_client.get(keys.feed_fetch_lock(10_000 + n)) is not None
        settle(redis_client)  # this thread's last release, before the checks below
        return outcomes

    with ThreadPoolExecutor(4) as pool:
        outcomes = [o for result in pool.map(run, range(4)) for o in result]
    assert set(outcomes) <= {None, "locked"} and outcomes.count(None) >= 25
    assert redis_client.zcard(inflight) == 0
    assert not redis_client.keys(keys.feed_fetch_lock(10_000)[:-5] + "*")


def test_feed_slot_survives_a_dropped_connection_and_an_empty_script_cache(
        redis_client: Any) -> None:
    from wiredesk.ingester import hostlimit

    lock = keys.feed_fetch_lock(995)
    with feed_slot(redis_client, lock, 60, URL, 2, 0) as denied:
        assert denied is None
    # The server drops this thread's slot connection (a restart, an idle timeout) while the
    # last release's reply is still unread.
    channel = hostlimit._Channel.of(redis_client)
    assert channel is not None and channel.conn is not None
    channel._drain()
    channel.conn.send_command("CLIENT", "ID")
    own_id = channel.conn.read_response()
    channel.send(hostlimit._script(redis_client, hostlimit._RELEASE_FEED),
                 [lock, keys.host_inflight(host_of(URL))], ["x"])
    assert redis_client.client_kill_filter(_id=own_id)
    with feed_slot(redis_client, lock, 60, URL, 2, 0) as denied:
        assert denied is None and redis_client.get(lock) is not None
    # A script the server does not know (its cache emptied, as after a restart): sent whole.
    redis_client.script_flush()
    with feed_slot(redis_client, lock, 60, URL, 2, 0) as denied:
        assert denied is None and redis_client.get(lock) is not None
    settle(redis_client)
    assert redis_client.get(lock) is None
    assert redis_client.zcard(keys.host_inflight(host_of(URL))) == 0
