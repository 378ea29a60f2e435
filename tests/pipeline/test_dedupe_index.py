import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import redis

from wiredesk import keys
from wiredesk.identity import article_id, story_id_for
from wiredesk.pipeline import dedupe_index
from wiredesk.pipeline.dedupe_index import DedupeIndex
from wiredesk.pipeline.stages import dedupe
from wiredesk.schemas import Article

BASE = (
    "Rescue teams searched through the night for survivors after a magnitude 6.1 earthquake "
    "struck off the coast of Aceh province on Tuesday, the disaster agency said. At least "
    "twelve people were killed and dozens injured as houses collapsed in two districts. The "
    "agency said power and telephone lines were cut and roads blocked by landslides, slowing "
    "the arrival of aid. The president ordered the army to help with the search and promised "
    "funds to rebuild schools and mosques damaged in the quake."
)
OTHER = (
    "Parliament voted on Wednesday to extend the state of emergency for three more months, "
    "after a debate in which the opposition accused the government of using it to silence "
    "critics. The interior minister said the measures had helped prevent several attacks."
)
# Keys expire at absolute times, so the test clock must be the real one.
NOW = datetime.now(UTC)


def _copy(n: int, body: str = BASE) -> Article:
    # Each copy: another outlet, its own boilerplate line and a small edit.
    text = body.replace("the disaster agency said", f"the agency said, source {n}")
    text = f"{text}\nOutlet {n} newsletter: sign up for daily news."
    return Article(id=article_id(n, f"guid-{n}", None), feed_id=n, guid=f"guid-{n}", url=None,
                   title=f"Quake {n}", content_hash="-", body_text=text, fetched_at=NOW)


def test_copies_join_the_first_story_and_others_found_their_own(redis_client) -> None:
    index = DedupeIndex(redis_client)
    first = index.find_story(_copy(1))
    assert first.tier is None and first.story_id == story_id_for(_copy(1).id)
    second = index.find_story(_copy(2))
    assert second.story_id == first.story_id and second.tier == "near"
    assert second.score is not None and second.score >= dedupe.NEAR_THRESHOLD
    unrelated = _copy(3, OTHER)
    assert index.find_story(unrelated).story_id == story_id_for(unrelated.id)
    # Running the same article again (a retried task) changes nothing: same story, tier, score.
    again = index.find_story(_copy(2))
    assert (again.story_id, again.tier, again.score) == (first.story_id, "near", second.score)
    assert index.stats().articles == 3


def test_keys_follow_the_layout_in_keys_module_and_expire(redis_client) -> None:
    index = DedupeIndex(redis_client, window_seconds=3600 * 24)
    article = _copy(1)
    index.find_story(article)
    slot = int(NOW.timestamp()) // keys.DEDUPE_SLOT_SECONDS
    bits = int(redis_client.hget(keys.dedupe_slot_key(dedupe.FINGERPRINT_VERSION, slot), "bits"))
    fp = dedupe.fingerprint(article)
    expected = {keys.dedupe_slot_key(1, slot)}
    expected |= {keys.dedupe_bucket_key(1, slot, (b & 0xFFFFFF) % 2**bits) for b in fp.bands}
    h = dedupe_index.handle(article.id)
    expected.add(keys.dedupe_meta_key(1, slot, int.from_bytes(h[:3]) % 2 ** (bits - 4)))
    found = {k.decode() for k in redis_client.keys("*")}
    assert found == expected
    expire_at = keys.dedupe_expire_at(slot, 3600 * 24)
    for key in found:
        assert redis_client.expiretime(key) == expire_at


def test_window_forgets_old_articles(redis_client) -> None:
    index = DedupeIndex(redis_client, window_seconds=12 * 3600)
    index.find_story(_copy(1), at=NOW.timestamp() - 3 * 24 * 3600)
    assert index.find_story(_copy(2)).tier is None


def test_window_finds_every_article_younger_than_the_window(redis_client) -> None:
    """A copy of an article 48-72 h old is found with the default 72 h window, wherever the
    original fell in its 24 h slot (one from a slot's end was forgotten after 48 h)."""
    index = DedupeIndex(redis_client)
    slot_start = int(NOW.timestamp()) // keys.DEDUPE_SLOT_SECONDS * keys.DEDUPE_SLOT_SECONDS
    # The last second of a slot, 48-72 h before now: inside the window.
    original_at = slot_start - 2 * keys.DEDUPE_SLOT_SECONDS - 1
    assert NOW.timestamp() - original_at < index.window_seconds
    first = index.find_story(_copy(1), at=original_at)
    assert index.find_story(_copy(2)).story_id == first.story_id


def test_rebuild_keeps_story_ids(redis_client) -> None:
    index = DedupeIndex(redis_client)
    story = story_id_for(_copy(1).id)
    stored = [_copy(1).replace(story_id=story), _copy(2).replace(story_id=story)]
    assert dedupe_index.rebuild(index, stored, now=NOW.timestamp()) == 2
    assert index.find_story(_copy(7)).story_id == story
    assert index.stats().articles == 3


def test_rebuild_keeps_what_workers_index_while_it_runs(redis_url, redis_client) -> None:
    """``wiredesk dedupe rebuild`` runs once Redis is back, with the workers already busy again:
    an article a worker indexes after the rebuild has read the database (it was not committed
    yet) must still be found by its next copy once the rebuild is done."""
    story = story_id_for(_copy(1).id)
    stored = [_copy(1).replace(story_id=story), _copy(2).replace(story_id=story)]
    in_flight = _copy(3, OTHER)
    worker = DedupeIndex(redis.Redis.from_url(redis_url))  # another process's connection

    def read_from_the_database() -> Any:
        yield from stored
        # The rebuild has its rows (fingerprinting them takes a while); a worker meanwhile:
        assert worker.find_story(in_flight).story_id == story_id_for(in_flight.id)

    index = DedupeIndex(redis_client)
    assert dedupe_index.rebuild(index, read_from_the_database(), now=NOW.timestamp()) == 2
    assert index.find_story(_copy(4, OTHER)).story_id == story_id_for(in_flight.id)
    assert index.find_story(_copy(7)).story_id == story


def _worker(url: str, ids: list[int], start: Any, out: "multiprocessing.Queue[Any]") -> None:
    index = DedupeIndex(redis.Redis.from_url(url))
    index.client.ping()
    start.wait(timeout=60)  # line the workers up so their calls truly overlap
    out.put([index.find_story(_copy(n)).story_id for n in ids])


def test_concurrent_workers_end_with_one_story(redis_url, redis_client) -> None:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start = ctx.Barrier(4)
    procs = [ctx.Process(target=_worker, args=(redis_url, list(range(w, 48, 4)), start, out))
             for w in range(4)]
    for p in procs:
        p.start()
    stories = [s for _ in procs for s in out.get(timeout=60)]
    for p in procs:
        p.join(timeout=30)
    assert len(stories) == 48
    assert len(set(stories)) == 1
    # The founder is whichever ran first; every other copy names it.
    assert stories[0] in {story_id_for(_copy(n).id) for n in range(48)}


def test_concurrent_threads_end_with_one_story(redis_client) -> None:
    index = DedupeIndex(redis_client)
    with ThreadPoolExecutor(8) as pool:
        stories = list(pool.map(lambda n: index.find_story(_copy(n)).story_id, range(64)))
    assert len(set(stories)) == 1


def test_a_tier3_fallback_is_what_later_copies_join(redis_client) -> None:
    index = DedupeIndex(redis_client)
    story = dedupe.StoryMatch("s1-" + "e" * 32, "story", 0.9, None)
    assert index.find_story(_copy(1), fallback=story) == story
    assert index.find_story(_copy(2)).story_id == story.story_id
