"""Stable, versioned identities: article ids, content hashes and canonical links.

Each hash carries its algorithm version in its first characters, so changing the algorithm
makes new ids distinguishable instead of silently re-ingesting everything under new names.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from wiredesk.text.normalize import NORMALIZE_VERSION, normalize

ARTICLE_ID_VERSION = 1
CONTENT_HASH_VERSION = 1

# Query parameters that only track the reader; two links differing in them are the same page.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "_ga",
    "ocid", "cmpid", "ncid", "smid", "sr_share", "wt.mc_id", "ref_src", "guccounter",
})


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def canonical_url(url: str | None) -> str | None:
    """Lower-case scheme and host, drop fragments, default ports and tracking parameters."""
    if not url:
        return None
    url = url.strip()
    parts = urlsplit(url)  # scheme comes back lower-cased, hostname too
    scheme, host = parts.scheme, parts.hostname
    if scheme not in {"http", "https"} or not host:
        return url
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = parts.query
    if query:  # most links have none: skip the split and re-encode
        query = urlencode([
            (k, v) for k, v in parse_qsl(query, keep_blank_values=True)
            if not k.lower().startswith("utm_") and k.lower() not in TRACKING_PARAMS
        ])
    return urlunsplit((scheme, host, parts.path or "/", query, ""))


def without_password(url: str, *, masked: bool = False) -> str:
    """``url`` without the user and password paid wires put in feed URLs
    (``https://user:password@host/feed``): for consumers, none of either; ``masked`` (a log
    line), the user and ``***``. Read by hand, not by ``urlsplit``: a URL it refuses still
    loses its password."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = min((at for at in (rest.find(c) for c in "/?#") if at >= 0), default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    if not at or (masked and ":" not in userinfo):
        return url
    if masked:
        host = f"{userinfo.split(':', 1)[0]}:***@{host}"
    return f"{scheme}://{host}{rest[end:]}"


def article_id(feed_id: int, guid: str | None, link: str | None, fallback: str = "") -> str:
    """The article's id: feed plus guid, else canonical link, else a hash of title and content."""
    if guid:
        key = f"guid:{guid.strip()}"
    elif link:
        key = f"link:{canonical_url(link)}"
    else:
        key = f"content:{normalize(fallback)}"
    return f"a{ARTICLE_ID_VERSION}-{_digest(str(feed_id), key)}"


def content_hash(title: str, text: str) -> str:
    """Hash of the normalized title and text; a change here means a new revision."""
    return f"c{CONTENT_HASH_VERSION}n{NORMALIZE_VERSION}-{_digest(normalize(title), normalize(text))}"


# A story id as story_id_for makes it ("s", the article id's version, its digest): what the
# desk checks an id an editor types against, on the server and (as a form's pattern, whose
# syntax this also is) in the browser.
STORY_ID_PATTERN = r"s[0-9]{1,3}-[0-9a-f]{32}"


def story_id_for(article_id_: str) -> str:
    """A story is named after the article that founded it."""
    return "s" + article_id_[1:]
