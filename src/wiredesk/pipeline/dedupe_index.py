"""The near-duplicate index in Redis: LSH buckets over a sliding window, one atomic Lua call.

``find_story`` inserts an article's band keys and queries its candidates in one script, so of
any number of workers processing copies of one text at the same moment, the first to run founds
the story and every later one joins it, whatever the interleaving. Among several verified
candidates the choice is deterministic: highest estimated Jaccard, then earliest, then smallest
story id. The index only holds what ``rebuild`` can refill from the database.

Layout (names in ``wiredesk.keys``): per time slot, buckets are hashes sharded so each stays a
compact listpack (<= ~100 fields); a bucket field is 32 bits of a band key, its value the packed
6-byte handles of the articles in it; article metas (40-byte signature, 17-byte story, 4-byte
time, and for a near duplicate 1 byte of signature agreement) sit in their own sharded hashes.
Shard bits are fixed per slot from the previous slot's volume. Standalone Redis or Sentinel only
(the script names keys it derives), like the broker.
"""

from __future__ import annotations

import math
import re
import struct
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import redis

from wiredesk import config, keys
from wiredesk.identity import story_id_for
from wiredesk.pipeline.stages import dedupe
from wiredesk.schemas import Article

MAX_BUCKET_HANDLES = 8  # 48 bytes: a hot bucket (shared boilerplate) keeps only its newest
MAX_CANDIDATES = 256  # candidates verified per query, bounding the cost of a hot bucket
FIELDS_PER_SHARD = 64  # target hash size; listpack holds up to 128 by default
MIN_SHARD_BITS = 2
MAX_SHARD_BITS = 20

_ID = re.compile(r"^[as](\d+)-([0-9a-f]{32})$")

# KEYS: none (derived from the prefix; see module doc).
# ARGV: prefix, slot, first_slot (the oldest slot in the window), expire_at, threshold, handle,
#       signature, story, ts, force, default_bits, bands,
#       then per band: shard source (24 bits), field (32 bits).
# Which meta shard of a slot (of ``bits`` shard bits) holds a handle: both scripts find metas.
_META_SHARD_LUA = r"""
local function meta_shard(h, bits)
  local v = string.byte(h, 1) * 65536 + string.byte(h, 2) * 256 + string.byte(h, 3)
  return v % (2 ^ math.max(bits - 4, 0))
end
"""
_LUA = _META_SHARD_LUA + r"""
local prefix, slot, first_slot = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local expire_at, threshold = tonumber(ARGV[4]), tonumber(ARGV[5])
local handle, sig, story, ts = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local force, default_bits, nb = ARGV[10] == '1', tonumber(ARGV[11]), tonumber(ARGV[12])
local B_COLLIDE = 1 / 256

local function slot_bits(s, create)
  local key = prefix .. 's:' .. s
  local bits = redis.call('HGET', key, 'bits')
  if bits then return tonumber(bits) end
  if not create then return nil end
  -- A new slot is sized by its predecessor's volume (rebuild sizes slots by their own count).
  local prev = tonumber(redis.call('HGET', prefix .. 's:' .. (s - 1), 'n') or '0')
  local b = default_bits
  if prev > 0 then
    b = math.ceil(math.log(prev * nb / __FIELDS_PER_SHARD__) / math.log(2))
    b = math.max(2, math.min(20, math.max(b, default_bits)))
  end
  redis.call('HSET', key, 'bits', b)
  redis.call('EXPIREAT', key, expire_at)
  return b
end

local function score_of(eq)
  return math.max(0, (eq / #sig - B_COLLIDE) / (1 - B_COLLIDE))
end

local cur_bits = slot_bits(slot, true)

-- Idempotent: an article already indexed answers with the story it joined then, and the
-- score it joined with (a run that died before its commit is redelivered: same outcome).
local own_meta_key = prefix .. 'm:' .. slot .. ':' .. meta_shard(handle, cur_bits)
local own = redis.call('HGET', own_meta_key, handle)
if own then
  if #own > 61 then
    return {string.sub(own, 41, 57), 'again', tostring(score_of(string.byte(own, 62)))}
  end
  return {string.sub(own, 41, 57), 'again', ''}
end

local best_story, best_score, best_ts, best_handle, best_eq = story, -1, 0, '', 0
if not force then
  local seen, n_cand = {}, 0
  for s = first_slot, slot + 1 do
    local bits = slot_bits(s, false)
    if bits then
      local mod = 2 ^ bits
      for i = 0, nb - 1 do
        local src, field = tonumber(ARGV[13 + 2 * i]), ARGV[14 + 2 * i]
        local packed = redis.call('HGET', prefix .. 'b:' .. s .. ':' .. (src % mod), field)
        if packed then
          for p = 1, #packed, 6 do
            local h = string.sub(packed, p, p + 5)
            if h ~= handle and not seen[h] and n_cand < __MAX_CANDIDATES__ then
              seen[h] = true
              n_cand = n_cand + 1
              local meta = redis.call('HGET', prefix .. 'm:' .. s .. ':' .. meta_shard(h, bits), h)
              if meta then
                local eq = 0
                for k = 1, #sig do
                  if string.byte(meta, k) == string.byte(sig, k) then eq = eq + 1 end
                end
                local score = score_of(eq)
                if score >= threshold then
                  local cstory = string.sub(meta, 41, 57)
                  local cts = struct.unpack('>I4', string.sub(meta, 58, 61))
                  if score > best_score
                     or (score == best_score and (cts < best_ts
                         or (cts == best_ts and cstory < best_story))) then
                    best_story, best_score, best_ts, best_handle, best_eq = cstory, score, cts, h, eq
                  end
                end
              end
            end
          end
        end
      end
    end
  end
end

-- Insert this article into the current slot, pointing at the story it founded or joined.
local mod = 2 ^ cur_bits
for i = 0, nb - 1 do
  local src, field = tonumber(ARGV[13 + 2 * i]), ARGV[14 + 2 * i]
  local key = prefix .. 'b:' .. slot .. ':' .. (src % mod)
  local packed = redis.call('HGET', key, field) or ''
  packed = packed .. handle
  if #packed > 6 * __MAX_HANDLES__ then packed = string.sub(packed, #packed - 6 * __MAX_HANDLES__ + 1) end
  redis.call('HSET', key, field, packed)
  redis.call('EXPIREAT', key, expire_at)
end
-- A near match keeps its signature agreement (one byte) for the 'again' answer.
local joined = ''
if best_score >= 0 then joined = string.char(best_eq) end
redis.call('HSET', own_meta_key, handle, sig .. best_story .. ts .. joined)
redis.call('EXPIREAT', own_meta_key, expire_at)
redis.call('HINCRBY', prefix .. 's:' .. slot, 'n', 1)
if best_score < 0 then
  return {best_story, 'new', '0'}
end
return {best_story, best_handle, tostring(best_score)}
"""
# An indexed article now in another story (an editor merged, moved or split): its meta's
# story bytes, in whichever slot of the window holds it (where it was first indexed: a
# revision is not indexed again, so its current fetch time does not say which).
# ARGV: prefix, first_slot, last_slot, handle, story. Returns how many entries changed.
_MOVE_LUA = _META_SHARD_LUA + r"""
local prefix, first_slot, last_slot = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local handle, story = ARGV[4], ARGV[5]
local changed = 0
for slot = first_slot, last_slot do
  local bits = redis.call('HGET', prefix .. 's:' .. slot, 'bits')
  if bits then
    local key = prefix .. 'm:' .. slot .. ':' .. meta_shard(handle, tonumber(bits))
    local meta = redis.call('HGET', key, handle)
    if meta then
      redis.call('HSET', key, handle, string.sub(meta, 1, 40) .. story .. string.sub(meta, 58))
      changed = changed + 1
    end
  end
end
return changed
"""
_LUA = (
    _LUA.replace("__MAX_CANDIDATES__", str(MAX_CANDIDATES))
    .replace("__MAX_HANDLES__", str(MAX_BUCKET_HANDLES))
    .replace("__FIELDS_PER_SHARD__", str(FIELDS_PER_SHARD))
)


def _pack_id(value: str) -> bytes:
    match = _ID.match(value)
    if not match:
        raise ValueError(f"not a Wiredesk article or story id: {value!r}")
    return bytes([int(match.group(1))]) + bytes.fromhex(match.group(2))


def _unpack_story(raw: bytes) -> str:
    return f"s{raw[0]}-{raw[1:].hex()}"


def handle(article_id: str) -> bytes:
    """The article's 6-byte handle in the index (48 bits of its id hash)."""
    match = _ID.match(article_id)
    if not match:
        raise ValueError(f"not a Wiredesk article id: {article_id!r}")
    return bytes.fromhex(match.group(2)[:12])


@dataclass(frozen=True)
class IndexStats:
    """Size of the index: slots in the window and indexed articles (for a gauge)."""

    slots: int
    articles: int


class DedupeIndex:
    """The Redis LSH index over a sliding window; one instance per process is enough."""

    def __init__(
        self,
        client: redis.Redis,
        window_seconds: int = 72 * 3600,
        threshold: float = dedupe.NEAR_THRESHOLD,
        default_shard_bits: int = 8,
    ) -> None:
        self.client = client
        self.window_seconds = window_seconds
        self.threshold = threshold
        self.default_shard_bits = default_shard_bits
        self.version = dedupe.FINGERPRINT_VERSION
        self.prefix = keys.dedupe_index_prefix(self.version)
        self._script = client.register_script(_LUA)  # EVALSHA, loaded once per server
        self._move_script = client.register_script(_MOVE_LUA)

    @classmethod
    def from_config(cls, client: redis.Redis, cfg: config.Config) -> DedupeIndex:
        """The index with the window and threshold of the configuration."""
        return cls(
            client,
            window_seconds=cfg.dedupe_window_seconds,
            threshold=cfg.dedupe_near_threshold or dedupe.NEAR_THRESHOLD,
        )

    def _n_slots(self) -> int:
        return math.ceil(self.window_seconds / keys.DEDUPE_SLOT_SECONDS)

    def _first_slot(self, at: float) -> int:
        """The oldest slot that may hold an article younger than the window at ``at``: the one
        ``window`` seconds back (``window / slot`` slots back from ``at``'s missed up to a slot)."""
        return int(at - self.window_seconds) // keys.DEDUPE_SLOT_SECONDS

    def _args(self, article_id: str, story_id: str, fp: dedupe.Fingerprint, at: float,
              force: bool) -> list[object]:
        slot = int(at) // keys.DEDUPE_SLOT_SECONDS
        args: list[object] = [
            self.prefix, slot, self._first_slot(at),
            keys.dedupe_expire_at(slot, self.window_seconds),
            repr(self.threshold), handle(article_id), fp.signature, _pack_id(story_id),
            struct.pack(">I", max(0, int(at))), "1" if force else "0", self.default_shard_bits,
            len(fp.bands),
        ]
        for band in fp.bands:
            args += [band & 0xFFFFFF, (band >> 32) & 0xFFFFFFFF]
        return args

    def find_story(
        self,
        article: Article,
        fp: dedupe.Fingerprint | None = None,
        at: datetime | float | None = None,
        fallback: dedupe.StoryMatch | None = None,
    ) -> dedupe.StoryMatch:
        """Insert the article and return the story it joins (tier 'near') or founds.

        ``fallback`` (a tier-3 ``match_story`` result) is the story the article joins when no
        near-duplicate is found; it is what the index then records for later copies.
        """
        fp = fp if fp is not None else dedupe.fingerprint(article)
        own_story = (fallback.story_id if fallback else None) or article.story_id or story_id_for(
            article.id
        )
        if not fp.bands:
            return fallback or dedupe.StoryMatch(own_story, None, None)
        when = _seconds(at if at is not None else (article.fetched_at or article.published_at))
        story_raw, what, score = self._script(
            args=self._args(article.id, own_story, fp, when, force=False)
        )
        story = _unpack_story(story_raw)
        if what == b"new":
            return fallback or dedupe.StoryMatch(story, None, None)
        if what == b"again":
            if score:  # it joined a near duplicate then: the same answer again
                return dedupe.StoryMatch(story, "near", round(float(score), 4))
            if fallback and story == fallback.story_id:
                return fallback
            tier = None if story == own_story else "near"
            return dedupe.StoryMatch(story, tier, None)
        return dedupe.StoryMatch(story, "near", round(float(score), 4), bytes(what).hex())

    def move(self, article_id: str, story_id: str, now: float | None = None) -> bool:
        """Point an indexed article at another story, so its later copies join that one.
        False when the index does not hold it (out of the window, too short, Redis lost it)."""
        now = time.time() if now is None else now
        return bool(self._move_script(args=[
            self.prefix, self._first_slot(now), int(now) // keys.DEDUPE_SLOT_SECONDS + 1,
            handle(article_id), _pack_id(story_id)]))

    def insert_many(
        self, items: Iterable[tuple[str, str, dedupe.Fingerprint, float]], batch: int = 2000
    ) -> int:
        """Index (article id, story id, fingerprint, time) as they are, pipelined; no query."""
        items = [it for it in items if it[2].bands]
        self.size_slots(Counter(int(at) // keys.DEDUPE_SLOT_SECONDS for *_, at in items))
        pipe = self.client.pipeline(transaction=False)
        done = 0
        for i, (article_id, story_id, fp, at) in enumerate(items, 1):
            self._script(args=self._args(article_id, story_id, fp, at, force=True), client=pipe)
            if i % batch == 0:
                pipe.execute()
            done += 1
        pipe.execute()
        return done

    def size_slots(self, counts: Mapping[int, int]) -> None:
        """Fix the shard bits of slots about to be bulk-filled from their article counts."""
        pipe = self.client.pipeline(transaction=False)
        for slot, n in counts.items():
            bits = math.ceil(math.log2(max(2, n * dedupe.BANDS / FIELDS_PER_SHARD)))
            bits = max(MIN_SHARD_BITS, min(MAX_SHARD_BITS, max(bits, self.default_shard_bits)))
            key = keys.dedupe_slot_key(self.version, slot)
            pipe.hsetnx(key, "bits", bits)  # a slot already in use keeps its layout
            pipe.expireat(key, keys.dedupe_expire_at(slot, self.window_seconds))
        pipe.execute()

    def stats(self, now: float | None = None) -> IndexStats:
        """Slots and indexed articles in the window (reads only the slot keys: cheap)."""
        slot = int(time.time() if now is None else now) // keys.DEDUPE_SLOT_SECONDS
        slots = articles = 0
        for s in range(slot - self._n_slots(), slot + 2):
            n = self.client.hget(keys.dedupe_slot_key(self.version, s), "n")
            if n is not None or self.client.exists(keys.dedupe_slot_key(self.version, s)):
                slots += 1
                articles += int(n or 0)
        return IndexStats(slots, articles)

    def clear(self) -> int:
        """Delete every key of the index (before a rebuild); returns how many."""
        n = 0
        for key in self.client.scan_iter(match=keys.dedupe_index_prefix(self.version) + "*",
                                         count=1000):
            n += self.client.unlink(key)
        return n


def _seconds(at: datetime | float | None) -> float:
    if at is None:
        return time.time()
    if isinstance(at, datetime):
        return at.timestamp()
    return float(at)


def rebuild(index: DedupeIndex, articles: Iterable[Article], now: float | None = None) -> int:
    """Refill the index from stored articles of the window (each keeps its story).

    Safe while the pipeline workers run: nothing is cleared first, and an article already in
    the index keeps its entry, so what a worker indexed after ``articles`` were read (not yet
    committed, so not among them) stays findable. Returns the number of articles given.
    """
    now = time.time() if now is None else now
    oldest = now - index.window_seconds
    items = []
    # Fingerprinted as the pipeline did: without the sentences the feed's articles before it
    # repeat (``articles`` come oldest first).
    recent: dict[int, deque[frozenset[str]]] = {}
    for article in articles:
        when = article.fetched_at or article.published_at
        at = when.timestamp() if when else now
        if at < oldest:
            continue
        before = recent.setdefault(article.feed_id, deque(maxlen=dedupe.BOILERPLATE_ARTICLES))
        matching = dedupe.without_boilerplate(article, dedupe.feed_boilerplate(before))
        before.appendleft(dedupe.sentence_keys(article.body_text, article.summary))
        story = article.story_id or story_id_for(article.id)
        items.append((article.id, story, dedupe.fingerprint(matching), at))
    items.sort(key=lambda it: (it[3], it[0]))
    return index.insert_many(items)
