"""Image -> network input tensor, and network boxes -> original frame pixels.

Letterboxing keeps the aspect ratio: the image is scaled (same factor on both axes) and padded symmetrically to the
network input size. The caller's image is never modified (every step writes into new arrays).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from drone_perception.errors import InvalidValueError


@dataclass(frozen=True)
class Letterbox:
    """How an image of ``src_wh_px`` was placed into the network input of ``dst_wh_px``.

    ``input_x_px = scale_x * image_x_px + pad_x_px`` (same for y). The two scales differ only by the
    rounding of the resized size.
    """

    src_wh_px: tuple[int, int]
    dst_wh_px: tuple[int, int]
    scale_x: float
    scale_y: float
    pad_x_px: float
    pad_y_px: float

    def to_image_px(self, xyxy_input_px: np.ndarray) -> np.ndarray:
        """Map (N, 4) boxes from network-input pixels back to image pixels, clipped to the image."""
        out = np.empty_like(xyxy_input_px, dtype=np.float32)
        out[:, [0, 2]] = (xyxy_input_px[:, [0, 2]] - self.pad_x_px) / self.scale_x
        out[:, [1, 3]] = (xyxy_input_px[:, [1, 3]] - self.pad_y_px) / self.scale_y
        w, h = self.src_wh_px
        out[:, 0::2] = np.clip(out[:, 0::2], 0.0, float(w))
        out[:, 1::2] = np.clip(out[:, 1::2], 0.0, float(h))
        return out


def check_image(image: object) -> np.ndarray:
    """Validate a BGR uint8 H x W x 3 image; raise ``InvalidValueError`` naming what is wrong."""
    if not isinstance(image, np.ndarray):
        raise InvalidValueError(f"image: expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InvalidValueError(f"image: expected uint8 (H, W, 3) BGR, got {image.dtype} {image.shape}")
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise InvalidValueError(f"image: empty or degenerate image of shape {image.shape} (need >= 2x2 px)")
    return image


def _placement(w: int, h: int, dst_wh_px: tuple[int, int]) -> Letterbox:
    dw, dh = dst_wh_px
    scale = min(dw / w, dh / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    return Letterbox((w, h), (dw, dh), scale_x=nw / w, scale_y=nh / h,
                     pad_x_px=float((dw - nw) // 2), pad_y_px=float((dh - nh) // 2))


def letterbox(
    image_bgr: np.ndarray, dst_wh_px: tuple[int, int], pad_value: float = 0.5
) -> tuple[np.ndarray, Letterbox]:
    """Scale + pad a BGR uint8 image into a float32 NCHW RGB tensor in [0, 1] of ``dst_wh_px``.

    ``pad_value`` is the fill in [0, 1] (0.5 for Darknet, 114/255 for ultralytics).
    """
    img = check_image(image_bgr)
    info = _placement(img.shape[1], img.shape[0], dst_wh_px)
    nw, nh = round(info.scale_x * info.src_wh_px[0]), round(info.scale_y * info.src_wh_px[1])
    px, py = int(info.pad_x_px), int(info.pad_y_px)
    # Bilinear, as Darknet and ultralytics resize: INTER_AREA cost 7-9 ms for a 1080p frame (vs 0.7 ms) with the
    # same recall against person height (models/recall_vs_height.md, regenerated with this resize).
    interp = cv2.INTER_LINEAR
    resized = cv2.resize(img, (nw, nh), interpolation=interp)  # a new array; the input is untouched
    canvas = np.full((dst_wh_px[1], dst_wh_px[0], 3), round(pad_value * 255.0), dtype=np.uint8)
    canvas[py:py + nh, px:px + nw] = resized
    # BGR HWC -> RGB CHW as a contiguous uint8 copy first (cheap), then one float pass: converting the strided
    # view straight to float32 cost ~9x more (7.3 vs 0.8 ms at 640x640).
    chw = np.ascontiguousarray(canvas[:, :, ::-1].transpose(2, 0, 1))
    tensor = chw[None].astype(np.float32)
    tensor *= np.float32(1.0 / 255.0)
    return tensor, info


def letterbox_bgr255_topleft(image_bgr: np.ndarray, dst_wh_px: tuple[int, int],
                             pad_value: float = 114.0 / 255.0) -> tuple[np.ndarray, Letterbox]:
    """YOLOX-style input: scaled keeping the aspect ratio into the top-left corner, padded with ``pad_value``
    (in [0, 1]; 114/255 as YOLOX trains), float32 NCHW **BGR** in 0..255 (no normalisation)."""
    img = check_image(image_bgr)
    w, h = img.shape[1], img.shape[0]
    dw, dh = dst_wh_px
    scale = min(dw / w, dh / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    info = Letterbox((w, h), (dw, dh), scale_x=nw / w, scale_y=nh / h, pad_x_px=0.0, pad_y_px=0.0)
    canvas = np.full((dh, dw, 3), round(pad_value * 255.0), dtype=np.uint8)
    canvas[:nh, :nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    tensor = np.ascontiguousarray(canvas.transpose(2, 0, 1))[None].astype(np.float32)
    return tensor, info


def letterbox_uint8_nhwc(image_bgr: np.ndarray, dst_wh_px: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    """Like :func:`letterbox` but returns a uint8 NHWC RGB tensor (TensorFlow-style SSD inputs)."""
    img = check_image(image_bgr)
    info = _placement(img.shape[1], img.shape[0], dst_wh_px)
    nw, nh = round(info.scale_x * info.src_wh_px[0]), round(info.scale_y * info.src_wh_px[1])
    px, py = int(info.pad_x_px), int(info.pad_y_px)
    canvas = np.zeros((dst_wh_px[1], dst_wh_px[0], 3), dtype=np.uint8)
    canvas[py:py + nh, px:px + nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(canvas[None, :, :, ::-1]), info
