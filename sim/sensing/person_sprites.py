"""Person sprites for the renderer: real photo crops of whole standing people with an alpha matte.

Source: the test photos fetched by ``tests/data/fetch_test_data.py`` (``make testdata``) into
``tests/data/.cache/`` -- ``bus.jpg`` from the ultralytics wheel holds the two full-body people we use
(``zidane.jpg`` and ``astronaut.png`` show only upper bodies, which is not what a drone sees). Each
sprite is cut at its labelled box (``tests/data/labels.json``) and matted with GrabCut seeded by a coarse
hand-drawn silhouette polygon (below, in box-normalised coordinates, drawn by looking at the photo): inside
the polygon "probably person", its erosion "person", outside its dilation "background". Each crop is used
as is and mirrored, so there are four appearances.

Nothing is downloaded here. Without the photos :func:`load_photo_sprites` raises :class:`SpriteSourceError`
saying how to fetch them; :func:`procedural_sprites` draws plain silhouettes instead, and a caller must
choose it explicitly (the renderer never falls back silently). Extracted sprites are cached as PNG next to
the photos, keyed by the photo bytes and the polygon, so GrabCut (~0.6 s) runs once per checkout.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from drone_perception.errors import SourceError

log = logging.getLogger(__name__)

#: Where the test-data step puts the photos (git-ignored).
DEFAULT_PHOTO_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / ".cache"
DEFAULT_LABELS = Path(__file__).resolve().parents[2] / "tests" / "data" / "labels.json"

#: (photo, index in labels.json "people", silhouette polygon as (u, v) fractions of the labelled box).
SILHOUETTES: tuple[tuple[str, int, tuple[tuple[float, float], ...]], ...] = (
    ("bus.jpg", 0, ((.30, .02), (.52, .0), (.58, .06), (.60, .13), (.74, .16), (.80, .30), (.78, .45), (.76, .60),
                    (.74, .66), (.80, .88), (.97, .93), (1.0, .99), (.66, 1.0), (.62, .92), (.50, .72), (.40, .70),
                    (.33, .80), (.30, .92), (.27, 1.0), (0.0, .99), (.04, .93), (.07, .80), (.07, .62), (.03, .58),
                    (.04, .30), (.08, .17), (.24, .13), (.27, .06))),
    ("bus.jpg", 1, ((.33, .03), (.48, 0.0), (.66, .02), (.70, .10), (.64, .16), (.95, .19), (1.0, .33), (.97, .50),
                    (.96, .66), (.90, .75), (.70, .90), (.72, 1.0), (.20, 1.0), (.20, .90), (.15, .75), (0.0, .66),
                    (.02, .45), (.08, .22), (.32, .16), (.30, .10))),
)
_CACHE_VERSION = "1"


class SpriteSourceError(SourceError):
    """The photos the sprites are cut from are missing or unreadable."""


@dataclass(frozen=True)
class Sprite:
    """One person, cropped tight to the matte: ``bgr`` uint8 (H, W, 3), ``alpha`` float32 (H, W) in [0, 1].
    The person's feet are at the bottom edge, horizontally centred; the crop height is the person's height."""

    name: str
    bgr: np.ndarray
    alpha: np.ndarray

    @property
    def aspect(self) -> float:
        """Width / height of the crop."""
        return self.bgr.shape[1] / self.bgr.shape[0]

    def mirrored(self) -> Sprite:
        return Sprite(self.name + ":mirror", np.ascontiguousarray(self.bgr[:, ::-1]),
                      np.ascontiguousarray(self.alpha[:, ::-1]))


@dataclass(frozen=True)
class SpriteBank:
    """The sprites a renderer draws people with. ``mode``: "photos", "video" or "procedural"."""

    sprites: tuple[Sprite, ...]
    mode: str

    def __post_init__(self) -> None:
        if not self.sprites:
            raise SpriteSourceError("SpriteBank: no sprites")

    def for_person(self, person_id: int, seed: int = 0) -> Sprite:
        """The sprite of one person: a fixed choice from its id and the seed (stable across frames)."""
        return self.sprites[(int(person_id) * 7 + int(seed)) % len(self.sprites)]


def _tight(bgr: np.ndarray, alpha: np.ndarray, name: str) -> Sprite:
    ys, xs = np.nonzero(alpha > 0.5)
    if ys.size == 0:
        raise SpriteSourceError(f"sprite {name}: empty matte")
    y1, y2, x1, x2 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    return Sprite(name, np.ascontiguousarray(bgr[y1:y2, x1:x2]), np.ascontiguousarray(alpha[y1:y2, x1:x2]))


def matte_person(image_bgr: np.ndarray, box_xyxy_px: tuple[int, int, int, int],
                 polygon_uv: tuple[tuple[float, float], ...], iterations: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """GrabCut matte of the person in ``box_xyxy_px`` seeded by ``polygon_uv``: returns (bgr crop, alpha float32)
    of the box. The edge is feathered by a 3 px blur so scaled sprites do not show a hard cut."""
    x1, y1, x2, y2 = (int(v) for v in box_xyxy_px)
    h_img, w_img = image_bgr.shape[:2]
    m = 12
    bx1, by1, bx2, by2 = max(x1 - m, 0), max(y1 - m, 0), min(x2 + m, w_img), min(y2 + m, h_img)
    crop = np.ascontiguousarray(image_bgr[by1:by2, bx1:bx2])
    bw, bh = x2 - x1, y2 - y1
    pts = np.array([(x1 - bx1 + u * bw, y1 - by1 + v * bh) for u, v in polygon_uv], np.int32)
    prior = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(prior, [pts], 255)
    r = max(3, int(0.05 * bw))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    mask = np.full(crop.shape[:2], cv2.GC_BGD, np.uint8)
    mask[cv2.dilate(prior, kernel) > 0] = cv2.GC_PR_BGD
    mask[prior > 0] = cv2.GC_PR_FGD
    mask[cv2.erode(prior, kernel) > 0] = cv2.GC_FGD
    bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.setRNGSeed(0)  # GrabCut's GMM initialisation uses OpenCV's RNG: keep the matte reproducible
    cv2.grabCut(crop, mask, (0, 0, 0, 0), bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    alpha = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.float32)
    alpha = cv2.GaussianBlur(alpha, (3, 3), 0)
    sl = (slice(y1 - by1, y2 - by1), slice(x1 - bx1, x2 - bx1))
    return crop[sl], alpha[sl]


def _cache_key(photo_bytes: bytes, index: int, polygon: tuple[tuple[float, float], ...]) -> str:
    h = hashlib.sha256(photo_bytes)
    h.update(json.dumps([_CACHE_VERSION, index, polygon]).encode())
    return h.hexdigest()[:16]


def load_photo_sprites(photo_dir: str | Path | None = None, labels_path: str | Path | None = None, *,
                       use_disk_cache: bool = True) -> SpriteBank:
    """Cut the people out of the fetched test photos. Raises :class:`SpriteSourceError` when a photo or the
    labels are missing (run ``make testdata`` or ``python tests/data/fetch_test_data.py``)."""
    photo_dir = Path(photo_dir) if photo_dir is not None else DEFAULT_PHOTO_DIR
    labels_path = Path(labels_path) if labels_path is not None else DEFAULT_LABELS
    try:
        labels = json.loads(labels_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SpriteSourceError(f"person labels {labels_path} unreadable: {exc}") from None
    sprites: list[Sprite] = []
    for photo, index, polygon in SILHOUETTES:
        path = photo_dir / photo
        if not path.is_file():
            raise SpriteSourceError(
                f"person photo {path} not found: run `make testdata` (python tests/data/fetch_test_data.py) "
                "first, or choose the procedural silhouettes explicitly")
        data = path.read_bytes()
        name = f"{photo}#{index}"
        cached = photo_dir / "sprites" / f"{_cache_key(data, index, polygon)}.png"
        bgra = cv2.imread(str(cached), cv2.IMREAD_UNCHANGED) if use_disk_cache and cached.is_file() else None
        if bgra is None or bgra.ndim != 3 or bgra.shape[2] != 4:
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if image is None:
                raise SpriteSourceError(f"person photo {path} is not a readable image")
            try:
                box = labels[photo]["people"][index]["xyxy_px"]
            except (KeyError, IndexError, TypeError):
                raise SpriteSourceError(f"{labels_path}: no person {index} labelled in {photo}") from None
            bgr, alpha = matte_person(image, tuple(box), polygon)
            bgra = np.dstack([bgr, np.round(alpha * 255).astype(np.uint8)])
            if use_disk_cache:
                try:
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(cached), bgra)
                except OSError as exc:  # a read-only checkout still works, just slower
                    log.info("sprite cache not written (%s)", exc)
        sprite = _tight(np.ascontiguousarray(bgra[:, :, :3]), bgra[:, :, 3].astype(np.float32) / 255.0, name)
        sprites += [sprite, sprite.mirrored()]
    return SpriteBank(tuple(sprites), "photos")


#: The elevated video's frames the video sprites come from: none of them is a labelled test frame
#: (``tests/data/vtest_labels.json`` labels 0, 100, ..., 794), so the detector is not scored on its own sprites.
VIDEO_SPRITE_FRAMES = (50, 150, 250, 350, 450, 550, 650, 750)
#: Every this many frames goes into the per-pixel median background (people move, the camera does not).
_BACKGROUND_STRIDE = 8
#: A foreground pixel differs from the background by more than this (sum over B, G, R).
_FOREGROUND_DIFF = 45
_VIDEO_CACHE_VERSION = "1"


def _video_frames(path: Path, wanted: set[int]) -> tuple[dict[int, np.ndarray], list[np.ndarray]]:
    cap = cv2.VideoCapture(str(path))
    picked: dict[int, np.ndarray] = {}
    background: list[np.ndarray] = []
    i = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if i in wanted:
                picked[i] = frame
            if i % _BACKGROUND_STRIDE == 0:
                background.append(frame)
            i += 1
    finally:
        cap.release()
    return picked, background


def cut_moving_people(frame_bgr: np.ndarray, background_bgr: np.ndarray, min_height_px: int = 60) -> list[Sprite]:
    """The people walking through a fixed camera's view, matted by background subtraction: foreground blobs that
    are upright (height 1.8-4.5 x width), at least ``min_height_px`` tall, fill at least 35 % of their box and
    do not touch the border (a cut or merged pair is left out). Each blob's own mask is its matte (3 px feather)."""
    diff = cv2.absdiff(frame_bgr, background_bgr).astype(np.int32).sum(axis=2)
    mask = (diff > _FOREGROUND_DIFF).astype(np.uint8) * 255
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
    h_img, w_img = mask.shape
    out = []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        if not (h >= min_height_px and 1.8 <= h / w <= 4.5 and area / (w * h) > 0.35):
            continue
        if x == 0 or y == 0 or x + w >= w_img or y + h >= h_img:
            continue
        alpha = cv2.GaussianBlur((labels[y:y + h, x:x + w] == i).astype(np.float32), (3, 3), 0)
        out.append(_tight(np.ascontiguousarray(frame_bgr[y:y + h, x:x + w]), alpha, f"blob@{x},{y}"))
    return out


def load_video_sprites(video_path: str | Path | None = None, *, use_disk_cache: bool = True) -> SpriteBank:
    """People cut out of the elevated pedestrian video ``vtest.avi`` (fetched by ``make testdata``; seen from a
    building at 30-45 degrees, the way a drone sees people) on :data:`VIDEO_SPRITE_FRAMES`, matted by subtracting
    the video's median background; each used as is and mirrored. Raises :class:`SpriteSourceError` when the video
    is missing or yields no person. Cached as PNG next to it, keyed by the video's bytes."""
    path = Path(video_path) if video_path is not None else DEFAULT_PHOTO_DIR / "vtest.avi"
    if not path.is_file():
        raise SpriteSourceError(f"person video {path} not found: run `make testdata` "
                                "(python tests/data/fetch_test_data.py) first, or choose another sprite source")
    key = hashlib.sha256(path.read_bytes())
    key.update(json.dumps([_VIDEO_CACHE_VERSION, VIDEO_SPRITE_FRAMES, _BACKGROUND_STRIDE, _FOREGROUND_DIFF]).encode())
    cache_dir = path.parent / "sprites" / f"video-{key.hexdigest()[:16]}"
    sprites: list[Sprite] = []
    cached = sorted(cache_dir.glob("*.png")) if use_disk_cache and cache_dir.is_dir() else []
    for png in cached:
        bgra = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
        if bgra is None or bgra.ndim != 3 or bgra.shape[2] != 4:
            sprites = []
            break
        sprites.append(Sprite(png.stem, np.ascontiguousarray(bgra[:, :, :3]),
                              bgra[:, :, 3].astype(np.float32) / 255))
    if not sprites:
        picked, frames = _video_frames(path, set(VIDEO_SPRITE_FRAMES))
        if len(picked) != len(VIDEO_SPRITE_FRAMES) or not frames:
            raise SpriteSourceError(f"person video {path}: frames {VIDEO_SPRITE_FRAMES} do not all decode")
        background = np.median(np.stack(frames), axis=0).astype(np.uint8)
        for k in VIDEO_SPRITE_FRAMES:
            for j, sprite in enumerate(cut_moving_people(picked[k], background)):
                # alpha as the cache stores it (8 bits), so a first run renders exactly as a cached one
                alpha8 = np.round(sprite.alpha * 255).astype(np.uint8)
                sprites.append(Sprite(f"vtest{k:03d}_{j}", sprite.bgr, alpha8.astype(np.float32) / 255))
        if not sprites:
            raise SpriteSourceError(f"person video {path}: no person found to cut out")
        if use_disk_cache:
            try:
                cache_dir.mkdir(parents=True, exist_ok=True)
                for sp in sprites:
                    cv2.imwrite(str(cache_dir / f"{sp.name}.png"),
                                np.dstack([sp.bgr, np.round(sp.alpha * 255).astype(np.uint8)]))
            except OSError as exc:  # a read-only checkout still works, just slower
                log.info("sprite cache not written (%s)", exc)
    return SpriteBank(tuple(x for sp in sprites for x in (sp, sp.mirrored())), "video")


def procedural_sprites(seed: int = 0, count: int = 4, height_px: int = 240) -> SpriteBank:
    """Plain drawn silhouettes (head, torso, arms, legs in random clothing colours). Not a substitute for the
    photo sprites when measuring a real detector: choose it explicitly, e.g. when the photos are absent."""
    rng = np.random.default_rng(seed)
    sprites = []
    for i in range(count):
        h = height_px
        w = int(0.38 * h)
        bgr = np.zeros((h, w, 3), np.uint8)
        mask = np.zeros((h, w), np.uint8)
        skin, top, legs = (tuple(int(c) for c in rng.integers(40, 230, 3)) for _ in range(3))
        cx = w // 2
        # (x1, y1, x2, y2) as fractions of the height around the centre line, and which colour.
        rects = [((-0.12, 0.15, 0.12, 0.55), top), ((-0.17, 0.16, -0.12, 0.5), top), ((0.12, 0.16, 0.17, 0.5), top),
                 ((-0.11, 0.55, -0.01, 1.0), legs), ((0.01, 0.55, 0.11, 1.0), legs)]
        for target, value in ((bgr, None), (mask, 255)):
            cv2.ellipse(target, (cx, int(0.07 * h)), (int(0.07 * h), int(0.075 * h)), 0, 0, 360,
                        skin if value is None else value, -1)
            for (a, b, c, d), colour in rects:
                cv2.rectangle(target, (int(cx + a * h), int(b * h)), (int(cx + c * h), int(d * h) - 1),
                              colour if value is None else value, -1)
        sprites.append(_tight(bgr, mask.astype(np.float32) / 255.0, f"procedural#{i}"))
    return SpriteBank(tuple(sprites), "procedural")
