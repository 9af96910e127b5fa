"""Seeded random streams and fast vectorised helpers (ids, times, categorical draws).

Every component of every tenant draws from its own stream, derived from (seed, names), so
adding a component or changing one's draws never shifts the numbers of another, and no
stream ever touches the wall clock or `uuid4()`.
"""

from __future__ import annotations

import zlib

import numpy as np

DAY = 86_400
HOUR = 3_600
WEEK = 7 * DAY

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def stream(seed: int, *names: str | int) -> np.random.Generator:
    """An independent generator for (seed, names...)."""
    words = [int(seed) & 0xFFFFFFFF, (int(seed) >> 32) & 0xFFFFFFFF]
    words += [zlib.crc32(str(n).encode()) for n in names]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(words)))


def uuids(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` random version-4 UUIDs as canonical strings (numpy '<U36'), from the seeded stream:
    the same bytes `uuid.UUID(bytes=rng.bytes(16), version=4)` would give, vectorised."""
    if n == 0:
        return np.empty(0, dtype="<U36")
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    h = np.empty((n, 32), dtype=np.uint8)
    h[:, 0::2] = _HEX[raw >> 4]
    h[:, 1::2] = _HEX[raw & 0x0F]
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    out[:, 0:8] = h[:, 0:8]
    out[:, 9:13] = h[:, 8:12]
    out[:, 14:18] = h[:, 12:16]
    out[:, 19:23] = h[:, 16:20]
    out[:, 24:36] = h[:, 20:32]
    return out.view("S36").ravel().astype("<U36")


def short_ids(rng: np.random.Generator, n: int, prefix: str, width: int = 12) -> np.ndarray:
    """Opaque non-UUID ids (visitor cookies, e-mail ids...): prefix + `width` hex chars."""
    nbytes = (width + 1) // 2
    raw = np.frombuffer(rng.bytes(nbytes * n), dtype=np.uint8).reshape(n, nbytes)
    h = np.empty((n, nbytes * 2), dtype=np.uint8)
    h[:, 0::2] = _HEX[raw >> 4]
    h[:, 1::2] = _HEX[raw & 0x0F]
    body = h[:, :width].copy().view(f"S{width}").ravel().astype(f"<U{width}")
    return np.char.add(prefix, body)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def categorical(rng: np.random.Generator, logits: np.ndarray) -> np.ndarray:
    """One draw per row of a (n, k) logit matrix (Gumbel-max: vectorised, exact)."""
    g = rng.gumbel(size=logits.shape)
    return np.argmax(logits + g, axis=1)


def pick(rng: np.random.Generator, options: tuple | list, n: int, p: list[float] | None = None) -> np.ndarray:
    """`n` draws from a small list of labels, as a numpy array of the labels."""
    arr = np.asarray(options, dtype=object)
    return arr[rng.choice(len(options), size=n, p=p)]


def allocate(rng: np.random.Generator, total: int, weights: np.ndarray) -> np.ndarray:
    """Exact split of `total` events over cells proportionally to `weights` (multinomial):
    a Poisson process conditioned on its total, so presets hold exactly."""
    w = np.asarray(weights, dtype=float).ravel()
    s = w.sum()
    if total <= 0 or s <= 0:
        return np.zeros(w.size, dtype=np.int64)
    return rng.multinomial(total, w / s).astype(np.int64)


def truncated_exp(rng: np.random.Generator, tau: np.ndarray | float, upper: np.ndarray | float) -> np.ndarray:
    """Samples of Exp(tau) conditioned on < upper (inverse CDF; tau, upper broadcast)."""
    f = 1.0 - np.exp(-upper / tau)
    u = rng.random(np.broadcast(tau, upper).shape) * f
    return -tau * np.log1p(-u)


def weekend_shift(rng: np.random.Generator, ts: np.ndarray, q: float) -> np.ndarray:
    """Move a share `q` of Saturday events to Friday and of Sunday events to Monday
    (deals close and tickets are opened on working days)."""
    dow = ((ts // DAY) + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    move = rng.random(ts.size) < q
    out = ts.copy()
    out[(dow == 5) & move] -= DAY
    out[(dow == 6) & move] += DAY
    return out


def murmur2(keys: list[bytes] | np.ndarray) -> np.ndarray:
    """Kafka's murmur2 (as aiokafka's and the Java client's default partitioner), vectorised
    over keys of equal length; returns uint32 hashes."""
    arr = np.asarray(keys)
    if arr.dtype.kind != "S":
        arr = arr.astype("S")
    n = arr.size
    length = arr.dtype.itemsize
    data = np.frombuffer(arr.tobytes(), dtype=np.uint8).reshape(n, length).astype(np.uint32)
    m = np.uint32(0x5BD1E995)
    h = np.full(n, (0x9747B28C ^ length) & 0xFFFFFFFF, dtype=np.uint32)
    nwords = length // 4
    with np.errstate(over="ignore"):
        for i in range(nwords):
            k = (
                data[:, 4 * i]
                | (data[:, 4 * i + 1] << 8)
                | (data[:, 4 * i + 2] << 16)
                | (data[:, 4 * i + 3] << 24)
            )
            k = k * m
            k ^= k >> 24
            k = k * m
            h = h * m
            h ^= k
        tail = length % 4
        base = nwords * 4
        if tail == 3:
            h ^= data[:, base + 2] << 16
        if tail >= 2:
            h ^= data[:, base + 1] << 8
        if tail >= 1:
            h ^= data[:, base]
            h = h * m
        h ^= h >> 13
        h = h * m
        h ^= h >> 15
    return h


def partitions_for(keys: np.ndarray, n_partitions: int) -> np.ndarray:
    """Partition of each key as Kafka's default partitioner picks it. Keys of several lengths
    are hashed group by group."""
    arr = np.asarray(keys).astype("S")
    lens = np.char.str_len(arr)
    out = np.empty(arr.size, dtype=np.int64)
    for length in np.unique(lens):
        sel = lens == length
        sub = arr[sel].astype(f"S{int(length)}")
        out[sel] = (murmur2(sub) & 0x7FFFFFFF) % n_partitions
    return out
