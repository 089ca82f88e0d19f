"""DVS128 Gesture and CIFAR10-DVS through tonic, as event-count frames ``(P, H, W, T)``.

Files (tonic's own layouts under ``root``; ``download=True`` lets tonic fetch them):

- DVS128 Gesture: ``<root>/DVSGesture/ibmGestureTrain/user<NN>_<light>/<label>.npy`` and
  ``.../ibmGestureTest/...`` (tonic's preprocessed release, 1,077 / 264 samples, 11 classes).
- CIFAR10-DVS: ``<root>/CIFAR10DVS/<class>/*.aedat4`` (10 classes x 1,000 recordings); reading
  aedat4 needs the ``aedat`` package (``pip install aedat``). CIFAR10-DVS has no official split:
  each class's recordings, sorted by path, are permuted by ``numpy.random.default_rng(split_seed)``
  (default seed 0, one generator used class after class in label order) and the first
  ``round(n / 10)`` of each class are the test set: 9,000 training and 1,000 test recordings.

Frames: ``tonic.transforms.ToFrame(sensor_size=(128, 128, 2), n_time_bins=T)`` splits each
recording into T equal time bins of event counts per polarity and pixel; ``img_size`` below 128
(a divisor of 128) sum-pools the counts over ``128 / img_size`` squared pixels, so values stay
integer event counts (the model's ``input_levels: 1`` grid). Output float32 ``(2, H, W, T)``.
``T`` and ``img_size`` come from the model config (``time_steps``, ``img_size``).

Clips (DVS128 Gesture, ``dt_ms: <frame length>``; MA-SNN's protocol): each recording is binned
into frames of ``dt_ms`` from its first event (events at ``t0 + k dt`` and later go to frame k),
and a sample is a clip of ``T`` consecutive frames: a random clip per training sample (start
frame uniform, torch's global RNG), ``test_clips`` clips per test sample with evenly spaced start
frames ``floor(i (n - T) / (K - 1))`` (the first frame for ``K = 1``), returned as
``(K, P, H, W, T)`` for the trainer's voting evaluation. Recordings shorter than ``T`` frames are
padded with empty frames. Without ``dt_ms`` every recording is one sample of ``T`` time bins.

Cache: frames are computed once per configuration and stored as compressed ``.npz`` under
``<cache_dir>/<Dataset>-T<T>-<img_size>px-v1/`` (default ``cache_dir``: ``<root>/ds2ta_frames``);
``cache: false`` recomputes every time. Files are written atomically, so concurrent DDP ranks or
loader workers may fill the cache together.

Neuromorphic data augmentation (NDA, Li et al., ECCV 2022), training split only, ``nda: true``:
a horizontal flip with probability 1/2, then one operation drawn uniformly from roll (shift up to
``img_size * 5 / 48`` pixels each way, as NDA's +-5 at 48x48), rotate (+-15 degrees), shear-x
(+-30 degrees) and cutout (one square of side ``img_size / 3``, as NDA's 16 at 48x48, set to 0).
Geometric operations use nearest-neighbour sampling and zero fill, so frames stay integer event
counts. All randomness comes from torch's global RNG (reseeded by the trainer every epoch).
"""

from __future__ import annotations

import hashlib
import math
import os
import pickle
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tonic
import torch
from torch.utils.data import Dataset
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF

from lava_ds2ta.errors import DataError

SENSOR = 128
POLARITIES = 2
CACHE_VERSION = 1
NDA_OPS = ("roll", "rotate", "shear", "cutout")


# --------------------------------------------------------------------------- augmentation
def nda_augment(frames: torch.Tensor) -> torch.Tensor:
    """Apply one random NDA policy to ``(P, H, W, T)`` event-count frames (torch global RNG)."""
    p, h, w, t = frames.shape
    x = frames.permute(0, 3, 1, 2).reshape(p * t, h, w)  # channels first for torchvision
    if torch.rand(()) < 0.5:
        x = torch.flip(x, dims=(-1,))
    op = NDA_OPS[int(torch.randint(len(NDA_OPS), ()))]
    if op == "roll":
        r = max(1, round(w * 5 / 48))
        dy, dx = (int(v) for v in torch.randint(-r, r + 1, (2,)))
        x = torch.roll(x, shifts=(dy, dx), dims=(-2, -1))
    elif op == "rotate":
        angle = float(torch.empty(()).uniform_(-15.0, 15.0))
        x = TF.rotate(x, angle, interpolation=InterpolationMode.NEAREST, fill=0.0)
    elif op == "shear":
        shear = float(torch.empty(()).uniform_(-30.0, 30.0))
        x = TF.affine(
            x,
            angle=0.0,
            translate=[0, 0],
            scale=1.0,
            shear=[shear, 0.0],
            interpolation=InterpolationMode.NEAREST,
            fill=0.0,
        )
    else:  # cutout
        side = max(1, round(w / 3))
        cy, cx = int(torch.randint(h, ())), int(torch.randint(w, ()))
        y0, y1 = max(0, cy - side // 2), min(h, cy + side - side // 2)
        x0, x1 = max(0, cx - side // 2), min(w, cx + side - side // 2)
        x = x.clone()
        x[:, y0:y1, x0:x1] = 0
    return x.reshape(p, t, h, w).permute(0, 2, 3, 1).contiguous()


# --------------------------------------------------------------------------- frames
def events_to_frames(events: np.ndarray, time_steps: int, img_size: int) -> np.ndarray:
    """tonic events -> int64 ``(P, img_size, img_size, T)`` event counts."""
    to_frame = tonic.transforms.ToFrame(
        sensor_size=(SENSOR, SENSOR, POLARITIES), n_time_bins=time_steps
    )
    frames = np.asarray(to_frame(events)).astype(np.int64)  # (T, P, H, W)
    if frames.shape[0] != time_steps:  # tonic drops trailing bins of very short recordings
        pad = np.zeros((time_steps - frames.shape[0], *frames.shape[1:]), np.int64)
        frames = np.concatenate([frames, pad])[:time_steps]
    f = SENSOR // img_size
    if f > 1:
        t, p = frames.shape[:2]
        frames = frames.reshape(t, p, img_size, f, img_size, f).sum(axis=(3, 5))
    return frames.transpose(1, 2, 3, 0)


def events_to_dt_frames(events: np.ndarray, dt_us: int, img_size: int) -> np.ndarray:
    """tonic events -> int64 ``(P, img_size, img_size, n)`` counts in frames of ``dt_us``
    microseconds from the first event (``n = last // dt_us + 1``; empty recordings: one frame)."""
    t = events["t"].astype(np.int64)
    k = (t - t.min(initial=0)) // dt_us if len(t) else t
    n = int(k.max(initial=0)) + 1
    f = SENSOR // img_size
    frames = np.zeros((POLARITIES, img_size, img_size, n), np.int64)
    np.add.at(frames, (events["p"].astype(np.int64), events["y"].astype(np.int64) // f,
                       events["x"].astype(np.int64) // f, k), 1)  # fmt: skip
    return frames


class EventFrames(Dataset):
    """Wraps a tonic data set (sample list ``paths``/``targets``) as cached event-count frames."""

    def __init__(
        self,
        tonic_ds,
        indices: list[int],
        time_steps: int,
        img_size: int,
        cache_dir: Path | None,
        augment: Callable[[torch.Tensor], torch.Tensor] | None,
        root: Path,
    ) -> None:
        self.tonic_ds = tonic_ds
        self.indices = list(indices)
        self.time_steps = time_steps
        self.img_size = img_size
        self.cache_dir = cache_dir
        self.augment = augment
        self.root = root

    def __len__(self) -> int:
        return len(self.indices)

    def __getstate__(self) -> dict:
        """Picklable (spawned loader workers): the tonic data set travels as its tonic base class
        and attributes (our subclass, made at run time, cannot be pickled by reference)."""
        state = self.__dict__.copy()
        ds = self.tonic_ds
        cls = type(ds).__mro__[1] if getattr(type(ds), "_ds2ta_present", False) else type(ds)
        state["tonic_ds"] = (cls, ds.__dict__)
        return state

    def __setstate__(self, state: dict) -> None:
        cls, attrs = state["tonic_ds"]
        ds = cls.__new__(cls)
        ds.__dict__.update(attrs)
        self.__dict__.update({**state, "tonic_ds": ds})

    def _cache_file(self, i: int) -> Path | None:
        if self.cache_dir is None:
            return None
        rel = os.path.relpath(self.tonic_ds.data[i], self.root)
        stem = hashlib.sha1(rel.encode()).hexdigest()[:16]
        return self.cache_dir / f"{stem}.npz"

    def _compute(self, events: np.ndarray) -> np.ndarray:
        """A recording's frames ``(P, H, W, T)`` (what the cache holds)."""
        return events_to_frames(events, self.time_steps, self.img_size)

    def _frames(self, i: int) -> np.ndarray:
        path = self._cache_file(i)
        if path is not None and path.is_file():
            try:
                with np.load(path) as z:
                    return z["frames"]
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
                pass  # a damaged cache entry: computed again and replaced below
        events = self._events(i)
        frames = self._compute(events)
        dtype = np.uint16 if frames.max(initial=0) < 2**16 else np.int64
        frames = frames.astype(dtype)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".npz")
            try:
                with os.fdopen(fd, "wb") as fh:
                    np.savez_compressed(fh, frames=frames)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return frames

    def _events(self, i: int) -> np.ndarray:
        """The events of sample ``i`` as tonic reads them; one-line errors for damaged files."""
        source = self.tonic_ds.data[i]
        try:
            events, _ = self.tonic_ds[i]
        except ModuleNotFoundError as exc:
            if exc.name == "aedat":
                raise DataError(
                    "data: reading CIFAR10-DVS .aedat4 files needs the 'aedat' package: "
                    "pip install aedat"
                ) from None
            raise
        except (OSError, ValueError, EOFError, IndexError, KeyError, pickle.UnpicklingError) as exc:
            reason = " ".join(str(exc).split())[:100] or type(exc).__name__
            raise DataError(
                f"data: {source} is corrupt or truncated ({reason}); download the data set "
                "again (--download into an empty folder) or replace that file"
            ) from None
        return events

    def __getitem__(self, k: int) -> tuple[torch.Tensor, int]:
        i = self.indices[k]
        x = torch.from_numpy(self._frames(i).astype(np.float32))
        if self.augment is not None:
            x = self.augment(x)
        return x, int(self.tonic_ds.targets[i])


class EventClips(EventFrames):
    """T-frame clips of ``dt_us`` frames (module docstring): one random clip per sample
    (``clips=None``, training) or ``clips`` evenly spaced ones, ``(K, P, H, W, T)``."""

    def __init__(self, *args, dt_us: int, clips: int | None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.dt_us, self.clips = dt_us, clips

    def _compute(self, events: np.ndarray) -> np.ndarray:
        return events_to_dt_frames(events, self.dt_us, self.img_size)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, int]:
        i, t = self.indices[k], self.time_steps
        frames = torch.from_numpy(self._frames(i).astype(np.float32))
        frames = torch.nn.functional.pad(frames, (0, max(0, t - frames.shape[-1])))
        last = frames.shape[-1] - t
        if self.clips is None:
            start = int(torch.randint(last + 1, ()))
            x = frames[..., start:start + t]
            x = self.augment(x) if self.augment is not None else x
        else:
            starts = [j * last // (self.clips - 1) if self.clips > 1 else 0
                      for j in range(self.clips)]  # fmt: skip
            x = torch.stack([frames[..., s:s + t] for s in starts])
        return x, int(self.tonic_ds.targets[i])


# --------------------------------------------------------------------------- builders
def _tonic_class(name: str, present: bool):
    """tonic's class, with its archive check replaced by ours when the files are present
    (tonic wants the downloaded archive next to the extracted files, else it downloads)."""
    base = getattr(tonic.datasets, name)
    if not present:
        return base
    # Same class name: tonic derives the data folder from it.
    return type(name, (base,), {"_check_exists": lambda self: True, "_ds2ta_present": True})


def _sorted(ds) -> None:
    """Sort tonic's sample list by path (os.walk file order is not deterministic)."""
    order = sorted(range(len(ds.data)), key=lambda i: ds.data[i])
    ds.data = [ds.data[i] for i in order]
    ds.targets = [ds.targets[i] for i in order]


def _validate(name, time_steps, img_size, subset, cache, cache_dir) -> None:
    def is_int(v) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if not is_int(time_steps) or time_steps < 1:
        raise DataError(f"{name}: time_steps must be an integer >= 1, got {time_steps!r}")
    if not is_int(img_size) or img_size < 1 or SENSOR % img_size:
        raise DataError(
            f"{name}: img_size must divide {SENSOR} (e.g. 128, 64, 32), got {img_size!r}"
        )
    if subset is not None and (not is_int(subset) or subset < 1):
        raise DataError(f"{name}: subset must be a positive integer or null, got {subset!r}")
    if not isinstance(cache, bool):
        raise DataError(f"{name}: cache must be true or false, got {cache!r}")
    if cache_dir is not None and not isinstance(cache_dir, str):
        raise DataError(f"{name}: cache_dir must be a path or null, got {cache_dir!r}")


def _cache_for(root: Path, cache: bool, cache_dir: str | None, tag: str) -> Path | None:
    if not cache:
        return None
    base = Path(cache_dir).expanduser() if cache_dir else root / "ds2ta_frames"
    return base / tag


def _take(indices: list[int], subset: int | None) -> list[int]:
    return indices if subset is None else indices[:subset]


def _info(num_classes: int, img_size: int, time_steps: int) -> dict:
    return {
        "num_classes": num_classes,
        "in_channels": POLARITIES,
        "img_size": img_size,
        "time_steps": time_steps,
        "input_levels": 1,
    }


def build_dvsgesture(
    root: str | None = None, download: bool = False, subset: int | None = None,
    time_steps: int = 10, img_size: int = SENSOR, nda: bool = True,
    cache: bool = True, cache_dir: str | None = None, dt_ms: float | None = None,
    test_clips: int = 10,
) -> tuple[Dataset, Dataset, dict]:  # fmt: skip
    """DVS128 Gesture (11 classes) as ``(2, img_size, img_size, time_steps)`` frames: whole
    recordings in T time bins, or with ``dt_ms`` clips of T frames of ``dt_ms`` (test samples
    as ``(test_clips, 2, H, W, T)``)."""
    _validate("dvsgesture", time_steps, img_size, subset, cache, cache_dir)
    if dt_ms is not None and (isinstance(dt_ms, bool) or not isinstance(dt_ms, (int, float))
                              or not dt_ms * 1000 >= 1):  # fmt: skip
        raise DataError(f"dvsgesture: dt_ms must be null or a frame length >= 0.001, got {dt_ms!r}")
    if isinstance(test_clips, bool) or not isinstance(test_clips, int) or test_clips < 1:
        raise DataError(f"dvsgesture: test_clips must be an integer >= 1, got {test_clips!r}")
    base = Path(root if root is not None else "data").expanduser()
    folder = base / "DVSGesture"
    splits = []
    for train, sub in ((True, "ibmGestureTrain"), (False, "ibmGestureTest")):
        present = any((folder / sub).glob("user*/*.npy"))
        if not present and not download:
            what = "not found" if not folder.is_dir() else f"incomplete (no {sub}/user*/*.npy)"
            raise DataError(
                f"data: DVS128 Gesture {what} under {folder / sub}: download it with --download "
                "or place tonic's extracted ibmGestureTrain/ibmGestureTest folders there"
            )
        try:
            ds = _tonic_class("DVSGesture", present)(str(base), train=train)
        except OSError as exc:
            raise DataError(
                f"data: could not download DVS128 Gesture into {folder}: {exc}; place tonic's "
                "files there"
            ) from None
        _sorted(ds)
        splits.append(ds)
    dt_us = None if dt_ms is None else int(round(dt_ms * 1000))
    bins = f"T{time_steps}" if dt_us is None else f"dt{dt_us}us"
    cdir = _cache_for(base, cache, cache_dir, f"DVSGesture-{bins}-{img_size}px-v{CACHE_VERSION}")
    out = []
    for ds, train in zip(splits, (True, False), strict=True):
        args = (ds, _take(list(range(len(ds))), subset), time_steps, img_size, cdir,
                nda_augment if (train and nda) else None, base)  # fmt: skip
        if dt_us is None:
            out.append(EventFrames(*args))
        else:
            out.append(EventClips(*args, dt_us=dt_us, clips=None if train else test_clips))
    return out[0], out[1], _info(11, img_size, time_steps)


def cifar10dvs_split(targets: list[int], seed: int = 0) -> tuple[list[int], list[int]]:
    """Indices ``(train, test)``: 9:1 per class, fixed by ``seed`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in sorted(set(targets)):
        members = [i for i, t in enumerate(targets) if t == label]  # already sorted by path
        perm = [members[j] for j in rng.permutation(len(members))]
        n_test = int(math.floor(len(members) / 10 + 0.5))
        test += perm[:n_test]
        train += perm[n_test:]
    return sorted(train), sorted(test)


def build_cifar10dvs(
    root: str | None = None, download: bool = False, subset: int | None = None,
    time_steps: int = 10, img_size: int = SENSOR, nda: bool = True,
    cache: bool = True, cache_dir: str | None = None, split_seed: int = 0,
) -> tuple[Dataset, Dataset, dict]:  # fmt: skip
    """CIFAR10-DVS (10 classes) as ``(2, img_size, img_size, time_steps)`` frames, 9:1 split."""
    _validate("cifar10dvs", time_steps, img_size, subset, cache, cache_dir)
    if not isinstance(split_seed, int) or isinstance(split_seed, bool) or split_seed < 0:
        raise DataError(f"cifar10dvs: split_seed must be an integer >= 0, got {split_seed!r}")
    base = Path(root if root is not None else "data").expanduser()
    folder = base / "CIFAR10DVS"
    classes = list(tonic.datasets.CIFAR10DVS.classes)
    empty = [c for c in classes if not any((folder / c).glob("*.aedat4"))]
    present = not empty
    if not present and not download:
        what = "not found" if len(empty) == len(classes) else f"incomplete (no {empty[0]}/*.aedat4)"
        raise DataError(
            f"data: CIFAR10-DVS {what} under {folder}: download it with --download or place "
            "tonic's extracted <class>/*.aedat4 folders there"
        )
    try:
        ds = _tonic_class("CIFAR10DVS", present)(str(base))
    except OSError as exc:
        raise DataError(
            f"data: could not download CIFAR10-DVS into {folder}: {exc}; place tonic's files there"
        ) from None
    _sorted(ds)
    train_idx, test_idx = cifar10dvs_split(ds.targets, split_seed)
    tag = f"CIFAR10DVS-T{time_steps}-{img_size}px-v{CACHE_VERSION}"
    cdir = _cache_for(base, cache, cache_dir, tag)
    train = EventFrames(
        ds, _take(train_idx, subset), time_steps, img_size, cdir, nda_augment if nda else None, base
    )
    test = EventFrames(ds, _take(test_idx, subset), time_steps, img_size, cdir, None, base)
    return train, test, _info(10, img_size, time_steps)
