"""dvs-digits: scikit-learn's digits recorded by a simulated DVS the way N-MNIST was recorded.

N-MNIST (Orchard et al. 2015) showed each MNIST digit on a screen to an ATIS camera on a pan-tilt
unit that made three saccades (~100 ms each) along the triangle (0,0) -> (3.5,7) -> (7,0) -> (0,0)
pixels on a 34x34 sensor. This module does the same for the 1797 embedded scikit-learn digits
(no download), with the fixed split of :mod:`lava_ds2ta.data.digits` (1437 train / 360 test):

* Sensor: 16x16 pixels, two polarities. The 8x8 digit is drawn 12x12 (scale 1.5, the ratio of a
  28 px MNIST digit on N-MNIST's 34 px sensor) with bilinear interpolation, integrated over each
  sensor pixel's area (4x4 sub-samples), so sub-pixel motion changes intensities smoothly. With
  ``sps_pool`` holding two pools the token grid is 4x4, as for the 8x8 static digits.
* Saccades: the triangle scaled by 16/34 (amplitude 3.29 px), 100 ms per edge at constant
  speed, 300 ms in all, simulated in 1 ms steps. The digit is centred on the swept area.
* Pixel model: log intensity ``log(I + 0.1)`` (``I`` in [0, 1], 0.1 the screen's background);
  ON and OFF contrast thresholds 0.2 +- 0.03 per pixel (one fixed mismatch map for the sensor,
  seeded); each recording starts with every pixel's reference level at a random point between
  its ON and OFF thresholds (seeded per sample). Log intensity is linear between steps; one event
  per threshold crossing at the linearly interpolated time; the reference moves by one threshold
  per event. No background-activity noise, no refractory period.

Events are tonic-style structured arrays ``[('x','<i2'), ('y','<i2'), ('p','<i2'), ('t','<i8')]``
(p = 1 ON, 0 OFF; t in microseconds in [0, 300000), time-sorted). They are generated on first
use and cached in ``data_root`` (default ``$LAVA_DS2TA_CACHE/dvs_digits``, else
``$XDG_CACHE_HOME/lava_ds2ta/dvs_digits``, else ``~/.cache/lava_ds2ta/dvs_digits``), one file per
split holding its first n samples (sample i does not depend on n, so ``subset=k`` equals the
first k samples of the full set). Files are written atomically; an unreadable or stale file is
regenerated.

Frames come from tonic's ``ToFrame`` with T fixed windows of 300 ms / T (so every event lands in
exactly one frame, unlike ``n_time_bins``, which drops the last event) and are returned as float32
event counts ``(P, H, W, T)`` = ``(2, 16, 16, T)``: integers, hence ``input_levels: 1``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from tonic.transforms import ToFrame
from torch.utils.data import Dataset

from lava_ds2ta.data.digits import NUM_CLASSES
from lava_ds2ta.data.digits import PIXEL_MAX
from lava_ds2ta.data.digits import digits_arrays
from lava_ds2ta.errors import DataError
from lava_ds2ta.utils.atomic import atomic_path

SENSOR = 16  # sensor width = height (pixels)
POLARITIES = 2
DIGIT_PX = 12  # the 8x8 digit is drawn 12x12 on the sensor
SUBSAMPLES = 4  # per sensor pixel and axis (area integration)
NMNIST_SENSOR = 34
SACCADES = ((0.0, 0.0), (3.5, 7.0), (7.0, 0.0), (0.0, 0.0))  # (x, y) px on N-MNIST's sensor
SACCADE_US = 100_000
DURATION_US = SACCADE_US * (len(SACCADES) - 1)
STEP_US = 1_000
BACKGROUND = 0.1  # log(I + BACKGROUND)
THRESHOLD_MEAN = 0.2
THRESHOLD_SIGMA = 0.03
THRESHOLD_MIN = 0.05
SENSOR_SEED = 20150611  # the pixel-mismatch map of "our camera"
RECORDING_SEED = 7  # per-sample initial reference levels
VERSION = 2  # bump when the generator changes: old cache files are then regenerated

EVENT_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("p", "<i2"), ("t", "<i8")])
INFO = {"num_classes": NUM_CLASSES, "in_channels": POLARITIES, "img_size": SENSOR}
SPLITS = ("train", "test")
_PARAMS = (
    f"v{VERSION} sensor={SENSOR} digit={DIGIT_PX} sub={SUBSAMPLES} saccades={SACCADES} "
    f"saccade_us={SACCADE_US} step_us={STEP_US} bg={BACKGROUND} th={THRESHOLD_MEAN}"
    f"+-{THRESHOLD_SIGMA} min={THRESHOLD_MIN} seeds={SENSOR_SEED},{RECORDING_SEED}"
)


# ----------------------------------------------------------------------------------- generator
def saccade_offsets() -> np.ndarray:
    """``(K + 1, 2)`` (x, y) displacement in sensor pixels at every simulation step."""
    scale = SENSOR / NMNIST_SENSOR
    corners = np.asarray(SACCADES) * scale
    steps = SACCADE_US // STEP_US
    frac = np.arange(steps) / steps
    path = [
        corners[i] + frac[:, None] * (corners[i + 1] - corners[i]) for i in range(len(corners) - 1)
    ]
    return np.concatenate([*path, corners[-1:]])


def _axis_weights(offsets: np.ndarray, origin: float) -> np.ndarray:
    """``(K + 1, SENSOR, 8)``: sensor pixel intensity along one axis as weights on source pixels.

    Bilinear interpolation of the 8 source pixels (zero outside), averaged over SUBSAMPLES points
    spread over each sensor pixel.
    """
    scale = DIGIT_PX / 8
    sub = (np.arange(SUBSAMPLES) + 0.5) / SUBSAMPLES  # positions inside a sensor pixel
    pos = np.arange(SENSOR)[:, None] + sub[None, :]  # (S, sub) sensor coordinates
    src = (pos[None] - origin - offsets[:, None, None]) / scale - 0.5  # source pixel index space
    lo = np.floor(src)
    w_hi = src - lo
    weights = np.zeros((len(offsets), SENSOR, 8))
    for idx, w in ((lo, 1.0 - w_hi), (lo + 1, w_hi)):
        valid = (idx >= 0) & (idx <= 7)
        k, s, j = np.nonzero(valid)
        np.add.at(weights, (k, s, idx[k, s, j].astype(np.int64)), w[k, s, j] / SUBSAMPLES)
    return weights


def sensor_thresholds() -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel ON and OFF contrast thresholds ``(SENSOR * SENSOR,)`` of the simulated sensor."""
    rng = np.random.default_rng(SENSOR_SEED)
    on, off = rng.normal(THRESHOLD_MEAN, THRESHOLD_SIGMA, size=(2, SENSOR * SENSOR))
    return np.maximum(on, THRESHOLD_MIN), np.maximum(off, THRESHOLD_MIN)


def log_intensity(images: np.ndarray) -> np.ndarray:
    """``(N, K + 1, SENSOR * SENSOR)`` log intensity seen by the sensor while the image moves.

    ``images``: (N, 8, 8) floats in [0, 1].
    """
    offsets = saccade_offsets()
    span = offsets.max(0) - offsets.min(0)
    origin = (SENSOR - DIGIT_PX - span) / 2 - offsets.min(0)  # centre the swept area
    wx = _axis_weights(offsets[:, 0], origin[0])  # (K+1, S, 8)
    wy = _axis_weights(offsets[:, 1], origin[1])
    # One sample at a time, always with the same shapes: a sample's result is bit-identical
    # whatever batch it is generated in, so cached prefixes and subsets agree.
    wxt = wx.transpose(0, 2, 1).copy()
    frames = np.stack([(wy @ img) @ wxt for img in images])  # (N, K+1, S, S)
    return np.log(frames.reshape(len(images), len(offsets), -1) + BACKGROUND)


def simulate_dvs(images: np.ndarray, sample_ids: np.ndarray) -> list[np.ndarray]:
    """Event streams (tonic structured arrays) of ``images`` (N, 8, 8) in [0, 1].

    ``sample_ids`` seed each recording's initial reference levels, so a sample's events do not
    depend on which other samples are generated with it.
    """
    n = len(images)
    if n == 0:
        return []
    logi = log_intensity(images)  # (N, K+1, P)
    c_on, c_off = sensor_thresholds()
    phase = np.stack(
        [
            np.random.default_rng([RECORDING_SEED, int(i)]).random(SENSOR * SENSOR)
            for i in sample_ids
        ]
    )
    # Reference strictly inside (L - c_on, L + c_off): no event until the image moves.
    ref = logi[:, 0] - c_on + (0.01 + 0.98 * phase) * (c_on + c_off)
    chunks: list[tuple[np.ndarray, ...]] = []
    for k in range(1, logi.shape[1]):
        prev, cur = logi[:, k - 1], logi[:, k]
        d = cur - ref
        n_on = np.floor(np.maximum(d, 0.0) / c_on).astype(np.int64)
        n_off = np.floor(np.maximum(-d, 0.0) / c_off).astype(np.int64)
        for count, step, pol in ((n_on, c_on, 1), (n_off, -c_off, 0)):
            b, pix = np.nonzero(count)
            if len(b) == 0:
                continue
            reps = count[b, pix]
            b, pix = np.repeat(b, reps), np.repeat(pix, reps)
            # j = 1..count for each (sample, pixel): the j-th crossing level
            j = np.arange(len(b)) - np.repeat(np.cumsum(reps) - reps, reps) + 1
            level = ref[b, pix] + j * step[pix]
            frac = (level - prev[b, pix]) / (cur[b, pix] - prev[b, pix])
            t = (k - 1 + np.clip(frac, 0.0, 1.0)) * STEP_US
            t = np.minimum(np.floor(t).astype(np.int64), DURATION_US - 1)
            chunks.append((b, pix, np.full(len(b), pol, np.int64), t))
        ref = ref + n_on * c_on - n_off * c_off
    if chunks:
        b, pix, pol, t = (np.concatenate(c) for c in zip(*chunks, strict=True))
    else:
        b = pix = pol = t = np.zeros(0, np.int64)
    order = np.lexsort((t, b))  # by sample, then time; stable within equal times
    b, pix, pol, t = b[order], pix[order], pol[order], t[order]
    ev = np.empty(len(b), EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"], ev["t"] = pix % SENSOR, pix // SENSOR, pol, t
    bounds = np.concatenate([[0], np.cumsum(np.bincount(b, minlength=n))])
    return [ev[bounds[i] : bounds[i + 1]] for i in range(n)]


def generate(images: np.ndarray, sample_ids: np.ndarray, chunk: int = 256) -> list[np.ndarray]:
    """:func:`simulate_dvs` in chunks of samples (bounded memory)."""
    out: list[np.ndarray] = []
    for s in range(0, len(images), chunk):
        out += simulate_dvs(images[s : s + chunk], sample_ids[s : s + chunk])
    return out


# ----------------------------------------------------------------------------------- cache
def default_root() -> Path:
    """``$LAVA_DS2TA_CACHE/dvs_digits``, else ``$XDG_CACHE_HOME/lava_ds2ta/dvs_digits``, else
    ``~/.cache/lava_ds2ta/dvs_digits``."""
    if os.environ.get("LAVA_DS2TA_CACHE"):
        return Path(os.environ["LAVA_DS2TA_CACHE"]).expanduser() / "dvs_digits"
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg).expanduser() / "lava_ds2ta" / "dvs_digits"


def cache_path(root: Path, split: str) -> Path:
    return Path(root) / f"dvs_digits_v{VERSION}_{split}.npz"


def _read_cache(path: Path, labels: np.ndarray, count: int) -> list[np.ndarray] | None:
    """The first ``count`` event streams from ``path``, or None if missing, short or invalid."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            if str(f["params"]) != _PARAMS:
                return None
            events, bounds, cached = f["events"], f["bounds"], f["labels"]
    except Exception:  # any unreadable file is regenerated
        return None
    n = len(cached)
    if (
        n < count
        or events.dtype != EVENT_DTYPE
        or bounds.shape != (n + 1,)
        or bounds[0] != 0
        or bounds[-1] != len(events)
        or np.any(np.diff(bounds) < 0)
        or not np.array_equal(cached[:count], labels[:count])
    ):
        return None
    return [events[bounds[i] : bounds[i + 1]] for i in range(count)]


def _write_cache(path: Path, streams: list[np.ndarray], labels: np.ndarray) -> None:
    bounds = np.concatenate([[0], np.cumsum([len(s) for s in streams])]).astype(np.int64)
    events = np.concatenate(streams) if streams else np.zeros(0, EVENT_DTYPE)
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, events=events, bounds=bounds, labels=labels, params=np.str_(_PARAMS))
    except OSError as exc:
        raise DataError(
            f"dvs-digits: cannot write the event cache {path} ({exc.strerror}); "
            "pass data_root= or set LAVA_DS2TA_CACHE to a writable folder"
        ) from None


def load_events(
    split: str, count: int | None = None, data_root: str | Path | None = None
) -> tuple[list[np.ndarray], np.ndarray]:
    """``(event streams, labels)`` of the first ``count`` samples (all if None) of ``split``.

    Read from the cache, or generated and cached. Sample ids seeding the recordings are the
    position in the split, offset by 10000 for the test split.
    """
    if split not in SPLITS:
        raise DataError(f"dvs-digits: unknown split {split!r} (known: {', '.join(SPLITS)})")
    x_train, x_test, y_train, y_test = digits_arrays()
    x, y = (x_train, y_train) if split == "train" else (x_test, y_test)
    count = len(y) if count is None else min(count, len(y))
    path = cache_path(Path(data_root) if data_root is not None else default_root(), split)
    streams = _read_cache(path, y, count)
    if streams is None:
        ids = np.arange(count) + (0 if split == "train" else 10_000)
        streams = generate(x[:count].astype(np.float64) / PIXEL_MAX, ids)
        _write_cache(path, streams, y[:count])
    return streams, y[:count]


# ----------------------------------------------------------------------------------- dataset
class DvsDigits(Dataset):
    """``(frames, label)`` pairs: frames float32 ``(2, 16, 16, T)`` event counts (P, H, W, T).

    ``events[i]`` holds sample i's raw event stream; frames come from tonic's ``ToFrame``.
    """

    sensor_size = (SENSOR, SENSOR, POLARITIES)  # tonic order: (W, H, P)

    def __init__(self, events: list[np.ndarray], labels: np.ndarray, time_steps: int) -> None:
        self.events = events
        self.targets = torch.as_tensor(np.asarray(labels, dtype=np.int64))
        self.time_steps = time_steps
        window = DURATION_US / time_steps
        # tonic counts floor((end - start - window) / window) + 1 windows; half a window of slack
        # keeps that at T when 300 ms / T is not exact in floating point (e.g. T = 18).
        self.to_frame = ToFrame(
            sensor_size=self.sensor_size,
            time_window=window,
            start_time=0,
            end_time=DURATION_US + window / 2,
        )

    def __len__(self) -> int:
        return len(self.events)

    def frames(self, i: int) -> np.ndarray:
        """Sample i as tonic frames ``(T, P, H, W)`` (int16 event counts)."""
        frames = self.to_frame(self.events[i])
        if frames.shape != (self.time_steps, POLARITIES, SENSOR, SENSOR):
            raise DataError(
                f"dvs-digits: tonic ToFrame gave frames {frames.shape}, expected "
                f"{(self.time_steps, POLARITIES, SENSOR, SENSOR)}"
            )
        return frames

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.from_numpy(self.frames(i).astype(np.float32)).permute(1, 2, 3, 0).contiguous()
        return x, self.targets[i]


def build_dvs_digits(
    subset: int | None = None, time_steps: int = 10, data_root: str | Path | None = None
) -> tuple[DvsDigits, DvsDigits, dict]:
    """Build the dvs-digits train/test datasets (events generated and cached on first use).

    ``subset`` keeps the first k samples of each split; ``time_steps`` is the number of frames
    T (the trainer passes the model's); ``data_root`` is the cache folder (the trainer passes
    ``data.root``; see the module docstring for the default). ``info`` also holds ``time_steps``
    and ``input_levels`` (1: event counts are the integer input levels).
    """
    if subset is not None and (
        isinstance(subset, bool) or not isinstance(subset, int) or subset < 1
    ):
        raise DataError(f"dvs-digits: subset must be a positive integer or null, got {subset!r}")
    if isinstance(time_steps, bool) or not isinstance(time_steps, int) or time_steps < 1:
        raise DataError(f"dvs-digits: time_steps must be a positive integer, got {time_steps!r}")
    out = []
    for split in SPLITS:
        events, labels = load_events(split, subset, data_root)
        out.append(DvsDigits(events, labels, time_steps))
    # Event counts are the integer input levels: the model must not scale them (input_levels 1).
    return out[0], out[1], {**INFO, "time_steps": time_steps, "input_levels": 1}
