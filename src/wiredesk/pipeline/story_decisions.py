"""Tier-3 decisions in flight, so same-story articles processed at once still end as one story.

Tier 3 finds its candidates among articles already committed with a story. Two workers
processing two reports of one event at the same moment would each find none and found two
stories. So before it looks, a worker registers its article here (one atomic script: a sequence
number, the article and its candidate keys) and learns which articles registered before it are
still in flight. It waits for those that share a candidate key with it to decide, and scores
their decisions along with the database's candidates. Articles that could join each other thus
decide in registration order, exactly as if processed one after the other; unrelated articles
never wait. An entry is withdrawn once its article is committed (it is in the database then),
or when its processing fails; a dead worker's entry expires with the article's process lock.

Waiting never deadlocks: an article only waits for articles registered before it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from wiredesk import keys, metrics
from wiredesk.pipeline.stages import dedupe
from wiredesk.schemas import Article, article_schema

log = logging.getLogger(__name__)

_KEYS = (keys.STORY_DECISIONS_SEQUENCE, keys.STORY_DECISIONS_ORDER, keys.STORY_DECISIONS_EXPIRY,
         keys.STORY_DECISIONS_ARTICLES, keys.STORY_DECISIONS_STORIES)

# KEYS: sequence, order, expiry, articles, stories. ARGV: now, article id, expires at, payload,
# key TTL. Returns this registration's sequence number, then the ids registered before it,
# then their payloads, in order.
_REGISTER = r"""
local now, id, expires_at, payload, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)) do
  redis.call('ZREM', KEYS[2], dead)
  redis.call('ZREM', KEYS[3], dead)
  redis.call('HDEL', KEYS[4], dead)
  redis.call('HDEL', KEYS[5], dead)
end
redis.call('HDEL', KEYS[5], id)  -- a retried article decides afresh
local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], seq, id)
redis.call('ZADD', KEYS[3], expires_at, id)
redis.call('HSET', KEYS[4], id, payload)
for i = 1, 5 do redis.call('EXPIRE', KEYS[i], ttl) end
local earlier = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. seq)
local out = {seq}
if #earlier == 0 then return out end
for i, other in ipairs(earlier) do out[1 + i] = other end
local payloads = redis.call('HMGET', KEYS[4], unpack(earlier))
for i = 1, #earlier do out[1 + #earlier + i] = payloads[i] or '' end
return out
"""

POLL_SECONDS = 0.005  # an earlier article decides within milliseconds of registering


class Claim:
    """One article's place in the registration order, from ``decided_before`` to withdrawal."""

    def __init__(self, registry: StoryDecisions):
        self._registry = registry
        self.article_id: str | None = None

    def decided_before(self, article: Article) -> list[Article]:
        """Register ``article``; wait for the articles registered before it that share a
        candidate key to decide, and return them with the story each chose (those committed
        meanwhile are left out: the database has them now)."""
        registry = self._registry
        own_keys = dedupe.candidate_keys([e.id for e in article.entities], article.keywords,
                                         article.language)
        if not own_keys:
            return []  # no article can be its candidate, nor it theirs
        # Everything tier 3 reads (text, entities, keywords, dateline, dates); not the HTML.
        payload = json.dumps({"keys": sorted(own_keys),
                              "article": article_schema.dump(article.replace(body_html=""))})
        now = time.time()
        # Set first: should the reply be lost after Redis ran the script, leaving still withdraws.
        self.article_id = article.id
        raw = registry.register(
            keys=_KEYS, args=[repr(now), article.id, repr(now + registry.entry_ttl), payload,
                              registry.key_ttl])
        own_seq, *earlier = raw
        half = len(earlier) // 2
        rivals: dict[str, dict[str, Any]] = {}
        for other_id, data in zip(earlier[:half], earlier[half:], strict=True):
            if not data:
                continue
            entry = json.loads(data)
            if own_keys & set(entry["keys"]):
                rivals[other_id.decode()] = entry["article"]
        if not rivals:
            return []
        stories = registry.wait_for_decisions(list(rivals), before=int(own_seq))
        return [article_schema.load({**rivals[other_id], "story_id": story})
                for other_id, story in stories.items()]

    def decide(self, story_id: str) -> None:
        """Publish this article's story to the articles registered after it."""
        if self.article_id is not None:
            pipe = self._registry.client.pipeline(transaction=False)
            pipe.hset(keys.STORY_DECISIONS_STORIES, self.article_id, story_id)
            pipe.expire(keys.STORY_DECISIONS_STORIES, self._registry.key_ttl)
            pipe.execute()

    def withdraw(self) -> None:
        if self.article_id is None:
            return
        try:
            self._registry.withdraw(self.article_id)
        except redis.RedisError as error:
            # Often on the way out of a failure (Redis gone): that failure is the one to
            # report. The entry expires on its own; later articles wait for it till then.
            log.warning("tier 3: could not withdraw %s (%s); it expires", self.article_id, error)
        self.article_id = None


def _count_wait(outcome: str, started: float) -> None:
    metrics.STORY_DECISION_WAITS.labels(outcome).inc()
    metrics.STORY_DECISION_WAIT.observe(time.monotonic() - started)


class StoryDecisions:
    """The registry in Redis; one instance per process is enough."""

    def __init__(self, client: redis.Redis, entry_ttl: float,
                 wait_seconds: float | None = None):
        self.client = client
        self.entry_ttl = entry_ttl  # outlives the article's processing (its process lock TTL)
        self.key_ttl = int(entry_ttl) + 1  # the keys outlive every entry in them
        self.wait_seconds = (keys.story_decision_wait_seconds(keys.STORY_LOCK_TTL_SECONDS)
                             if wait_seconds is None else wait_seconds)
        self.register = client.register_script(_REGISTER)

    @contextmanager
    def claim(self) -> Iterator[Claim]:
        """A claim to use while processing one article; withdrawn on leaving, so leave only
        after the article's story is committed (or its processing has failed)."""
        claim = Claim(self)
        try:
            yield claim
        finally:
            claim.withdraw()

    def wait_for_decisions(self, article_ids: list[str], before: float) -> dict[str, str]:
        """The stories the given articles decided, waiting while any is still undecided and
        in flight, registered before sequence number ``before``. Those withdrawn meanwhile are
        left out, and so are those registered again since (a retry: it now waits for us);
        past the wait, so are the rest."""
        started = time.monotonic()
        deadline = started + self.wait_seconds
        pending, decided = list(article_ids), {}
        while True:
            pipe = self.client.pipeline(transaction=False)
            pipe.hmget(keys.STORY_DECISIONS_STORIES, pending)
            pipe.zmscore(keys.STORY_DECISIONS_ORDER, pending)
            stories, registered = pipe.execute()
            still = []
            for article_id, story, seq in zip(pending, stories, registered, strict=True):
                if story is not None:
                    decided[article_id] = story.decode()
                elif seq is not None and seq < before:
                    still.append(article_id)
            if not still:
                _count_wait("decided", started)
                return decided
            if time.monotonic() >= deadline:
                log.warning("tier 3: went on without the decision of %s (still undecided after "
                            "%.0f s)", ", ".join(still), self.wait_seconds)
                _count_wait("timed_out", started)
                return decided
            pending = still
            time.sleep(POLL_SECONDS)

    def withdraw(self, article_id: str) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(keys.STORY_DECISIONS_ORDER, article_id)
        pipe.zrem(keys.STORY_DECISIONS_EXPIRY, article_id)
        pipe.hdel(keys.STORY_DECISIONS_ARTICLES, article_id)
        pipe.hdel(keys.STORY_DECISIONS_STORIES, article_id)
        pipe.execute()

    def in_flight(self) -> int:
        return int(self.client.zcard(keys.STORY_DECISIONS_ORDER))
