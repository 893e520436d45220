"""Camera geometry: pixels <-> rays <-> ground points, and where a person box puts the person.

Pure numpy, vectorised over N points/boxes, no I/O.

Frames (see DESIGN.md): world NED (x north, y east, z down, metres); camera optical ``_cam`` (x right,
y down, z forward). Pixel coordinates ``uv_px`` are (u = column, v = row) with the origin at the top-left
corner of the image, v growing downwards. The ground is the horizontal plane ``z = ground_down_m``
(NED down, so a ground 2 m below home is ``ground_down_m = 2``).

A person is modelled as a vertical body standing on the ground: a rectangle ``width_m`` wide (facing the
camera) from the foot point up ``height_m``. :func:`person_box` renders it into a box; :func:`locate_people`
inverts that, fusing two range cues with their propagated uncertainty.

One source per formula: :func:`project_points` is the stack's pinhole projection (NED point -> pixel and
optical depth) and :func:`wrap_angle_rad` its angle wrap. Independent copies are kept on purpose only where one
checks the other: the plain-Python mirror :mod:`drone_perception.geometry_scalar` (fast path for a few rows,
compared with the numpy code by ``tests/drone_perception/test_geometry_scalar.py``) and the simulator's detection
model (:mod:`sim.sensing.sensors`, the ground truth, compared by ``tests/sim/test_sensors.py``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from drone_perception import geometry_scalar as _scalar
from drone_perception.errors import InvalidValueError
from drone_perception.types import CameraIntrinsics, CameraModel

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Rays closer than this (direction cosine) to horizontal never meet the ground (at/above the horizon).
_MIN_DOWN_COSINE = 1e-6
#: A box edge within this many pixels of the image border is treated as truncated by the border.
_BORDER_MARGIN_PX = 1.0
#: ... and a bottom or top edge within this share of the box height: a detector's box edges jitter by a few
#: per cent of the box height, so a box cut by the image bottom often ends a few pixels above it, and its foot
#: cue then lands on a knee: a range biased far with a small sigma (#12 item 3, +0.55 m, up to 1.4 m). Such a
#: box is placed from its head instead.
_BORDER_CUT_REL = 0.1
#: ... or this share of the image height (a heavily cut box is short, its jitter is not).
_BORDER_CUT_IMAGE_REL = 0.02
#: Boxes shorter than this carry no usable height cue.
_MIN_BOX_HEIGHT_PX = 2.0
#: Regularisation (m^2) of the 2x2 horizontal covariances before they are inverted.
_REG_VAR_M2 = 1e-9
#: Finite-difference steps of the Jacobians (pixels, metres of body height).
_FD_STEP_PX = 1e-3
_FD_STEP_M = 1e-4
_E_DOWN = np.array([0.0, 0.0, 1.0])
#: Up to this many boxes, :func:`locate_people` runs the plain-Python path (numpy overhead dominates).
_SCALAR_MAX_ROWS = 8


def _points(name: str, value: npt.ArrayLike, width: int) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == width:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != width:
        raise InvalidValueError(f"{name}: expected shape (N, {width}), got {np.shape(value)}")
    return arr


def _per_item(name: str, value: npt.ArrayLike, n: int) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise InvalidValueError(f"{name}: expected a scalar or shape ({n},), got {arr.shape}")
    return arr


# --------------------------------------------------------------------------------------------------
# Angles


def wrap_angle_rad(angle_rad: float) -> float:
    """``angle_rad`` wrapped into [-pi, pi): ``(a + pi) mod 2 pi - pi`` (floor modulo, so -pi maps to -pi and
    pi to -pi). Works elementwise on numpy arrays too."""
    return (angle_rad + math.pi) % (2.0 * math.pi) - math.pi


# --------------------------------------------------------------------------------------------------
# Rays and projection


def _rays_cam_unnormalised(intrinsics: CameraIntrinsics, uv: FloatArray) -> FloatArray:
    """Optical-frame directions (x/z, y/z, 1) through pixel centres ``uv`` (N, 2)."""
    x = (uv[:, 0] - intrinsics.cx_px) / intrinsics.fx_px
    y = (uv[:, 1] - intrinsics.cy_px) / intrinsics.fy_px
    return np.column_stack([x, y, np.ones_like(x)])


def pixel_to_ray_cam(intrinsics: CameraIntrinsics, uv_px: npt.ArrayLike) -> FloatArray:
    """Unit rays (N, 3) in the optical frame (x right, y down, z forward) through pixels ``uv_px`` (N, 2)."""
    rays = _rays_cam_unnormalised(intrinsics, _points("uv_px", uv_px, 2))
    return rays / np.linalg.norm(rays, axis=1, keepdims=True)


def rays_ned(camera: CameraModel, uv_px: npt.ArrayLike) -> FloatArray:
    """Unit rays (N, 3) in NED from the optical centre through pixels ``uv_px`` (N, 2)."""
    return pixel_to_ray_cam(camera.intrinsics, uv_px) @ camera.R_ned_from_cam.T


def project_points(camera: CameraModel, points_ned_m: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Project NED points (N, 3) into the image: ``p_cam = R_ned_from_cam^T (p - position_ned_m)``,
    ``u = fx * x / z + cx``, ``v = fy * y / z + cy`` (the stack's one pinhole projection; the renderer uses it).

    Returns ``(uv_px (N, 2), depth_m (N,))``; ``depth_m`` is the distance along the optical axis
    (z of the optical frame). Points with ``depth_m <= 0`` are behind the camera and get NaN pixels.
    Pixels outside the image are returned as they are (not clipped).
    """
    pts = _points("points_ned_m", points_ned_m, 3)
    p_cam = (pts - camera.position_ned_m) @ camera.R_ned_from_cam  # row-wise R^T (p - c)
    depth = p_cam[:, 2]
    k = camera.intrinsics
    with np.errstate(divide="ignore", invalid="ignore"):
        u = k.fx_px * p_cam[:, 0] / depth + k.cx_px
        v = k.fy_px * p_cam[:, 1] / depth + k.cy_px
    uv = np.column_stack([u, v])
    uv[~(depth > 0.0)] = np.nan
    return uv, depth


def _ground_hit(
    camera: CameraModel, uv: FloatArray, ground_down_m: float | FloatArray
) -> tuple[FloatArray, BoolArray]:
    """Ray-plane intersection on pixels ``uv`` (no input checks); ``ground_down_m`` scalar or (N,).
    Invalid rows are NaN."""
    d = _rays_cam_unnormalised(camera.intrinsics, uv) @ camera.R_ned_from_cam.T
    height_m = ground_down_m - camera.position_ned_m[2]  # > 0 when the camera is above the ground
    d_norm = np.linalg.norm(d, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = height_m / d[:, 2]
        valid = (d[:, 2] / d_norm > _MIN_DOWN_COSINE) & (t > 0.0) & np.isfinite(t)
        pts = camera.position_ned_m + t[:, None] * d
    pts[~valid] = np.nan
    pts[:, 2] = np.where(valid, ground_down_m, np.nan)  # exact, not c + t*d rounded
    return pts, valid


def ground_intersect(
    camera: CameraModel, uv_px: npt.ArrayLike, ground_down_m: float = 0.0
) -> tuple[FloatArray, BoolArray]:
    """Where the rays through ``uv_px`` (N, 2) meet the ground plane ``z = ground_down_m`` (NED).

    Returns ``(points_ned_m (N, 3), valid (N,))``. ``valid`` is False (and the point NaN) when the ray is at
    or above the horizon, or the camera is not above the ground, so the plane is not hit in front of it.
    """
    if not math.isfinite(ground_down_m):
        raise InvalidValueError(f"ground_down_m: must be finite, got {ground_down_m!r}")
    return _ground_hit(camera, _points("uv_px", uv_px, 2), float(ground_down_m))


# --------------------------------------------------------------------------------------------------
# People


@dataclass(frozen=True)
class PersonFix:
    """Ground position of N people located from their boxes.

    ``position_ned_m`` (N, 3): foot point, on the ground plane (z = ground_down_m); NaN where not valid.
    ``cov_ned_m2`` (N, 3, 3): covariance of that point (horizontal block from pixel noise, the body-height
    prior and the ground-height uncertainty; the down variance is ``ground_sigma_m**2``). NaN where not valid.
    ``range_m`` (N,): 3D distance from the optical centre to the foot point (NaN where not valid).
    ``valid`` (N,): False when neither the foot cue nor the height cue could place the person.
    """

    position_ned_m: FloatArray
    cov_ned_m2: FloatArray
    range_m: FloatArray
    valid: BoolArray

    def __len__(self) -> int:
        return int(self.valid.shape[0])


def _axis_columns(camera: CameraModel, boxes: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Columns (bottom row, top row) of the image of a vertical body whose box is ``boxes`` (N, 4).

    The body axis passes through the vanishing point of the down direction, ``V = K R^T e_down``
    (homogeneous; at infinity for a level camera, where the axis is a plain column). With the box centre
    column at the mean of the two axis columns, the bottom column follows in closed form.
    """
    a, b, c = camera.intrinsics.K @ camera.R_ned_from_cam[2, :]
    u_c = 0.5 * (boxes[:, 0] + boxes[:, 2])
    y1, y2 = boxes[:, 1], boxes[:, 3]
    denom = b - c * y2
    safe = np.abs(denom) > 1e-9
    k = np.where(safe, (y1 - y2) / np.where(safe, denom, 1.0), 0.0)  # axis: u(y) = u_f + (a - c u_f) k(y)
    u_bot = (u_c - 0.5 * a * k) / (1.0 - 0.5 * c * k)
    u_top = u_bot * (1.0 - c * k) + a * k
    return u_bot, u_top


def _box_cues(camera: CameraModel, theta: FloatArray) -> tuple[FloatArray, BoolArray]:
    """The three range cues for inputs ``theta`` (N, 6) = (x1, y1, x2, y2 px, body height m, ground down m).

    Returns ``(ne (N, 3, 2), ok (N, 3))``: the horizontal (north, east) foot position of each cue and
    whether it is geometrically defined, in the order of :data:`_CUES`:

    * foot: the bottom-centre ray intersected with the ground plane;
    * segment: the vertical segment of the given height with its bottom on the bottom-centre ray and its
      top on the top-centre ray (least squares over the 3 NED components; the ground plane is not used);
    * head: the top-centre ray intersected with the plane ``height`` above the ground (for feet cut off).

    "Centre" follows the body axis: a vertical body projects along a line through the nadir vanishing
    point, slanted off-centre in a pitched camera, and the box centre column is taken to be the mean of the
    axis columns at the bottom and top rows (:func:`_axis_columns`).
    """
    u_bot, u_top = _axis_columns(camera, theta[:, :4])
    uv_bot = np.column_stack([u_bot, theta[:, 3]])
    uv_top = np.column_stack([u_top, theta[:, 1]])
    foot, foot_ok = _ground_hit(camera, uv_bot, theta[:, 5])
    R = camera.R_ned_from_cam
    d_bot = _rays_cam_unnormalised(camera.intrinsics, uv_bot) @ R.T
    d_top = _rays_cam_unnormalised(camera.intrinsics, uv_top) @ R.T
    # head = foot + H * up, i.e. s*d_bot - q*d_top = H * e_down; solve for (s, q) by the normal equations.
    a, b = d_bot, -d_top
    rhs = theta[:, 4:5] * _E_DOWN
    aa = np.einsum("ij,ij->i", a, a)
    ab = np.einsum("ij,ij->i", a, b)
    bb = np.einsum("ij,ij->i", b, b)
    ar = np.einsum("ij,ij->i", a, rhs)
    br = np.einsum("ij,ij->i", b, rhs)
    det = aa * bb - ab * ab
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (bb * ar - ab * br) / det
        q = (aa * br - ab * ar) / det
    seg_ok = np.isfinite(s) & (s > 0.0) & (q > 0.0) & (np.abs(det) > 1e-12)
    seg = camera.position_ned_m + s[:, None] * d_bot
    # Head plane: one ray, one plane per row (the plane height is part of theta).
    head_h = (theta[:, 5] - theta[:, 4]) - camera.position_ned_m[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = head_h / d_top[:, 2]
        looks_down = d_top[:, 2] / np.linalg.norm(d_top, axis=1) > _MIN_DOWN_COSINE
        head_ok = looks_down & (t > 0.0) & np.isfinite(t)
        head = camera.position_ned_m + t[:, None] * d_top
    ne = np.stack([foot[:, :2], seg[:, :2], head[:, :2]], axis=1)
    return ne, np.column_stack([foot_ok, seg_ok, head_ok])


_CUES = ("foot", "segment", "head")
_FOOT, _SEGMENT, _HEAD = range(3)


def _jacobian(camera: CameraModel, theta: FloatArray) -> FloatArray:
    """d(cue_ne)/d(theta): (N, 3, 2, 6) by central differences (the cues are smooth where defined)."""
    n, m = theta.shape
    steps = np.array([_FD_STEP_PX] * 4 + [_FD_STEP_M] * 2)
    delta = np.concatenate([np.diag(steps), -np.diag(steps)])  # (2m, m): +step then -step per input
    batch = (theta[None, :, :] + delta[:, None, :]).reshape(-1, m)  # one vectorised call for all
    ne = _box_cues(camera, batch)[0].reshape(2, m, n, 3, 2)
    with np.errstate(invalid="ignore"):  # undefined cues are NaN; they get zero weight
        J = (ne[0] - ne[1]) / (2.0 * steps[:, None, None, None])  # (m, N, 3, 2)
    return np.moveaxis(J, 0, -1)


def locate_people(
    camera: CameraModel,
    xyxy_px: npt.ArrayLike,
    *,
    person_height_m: float = 1.75,
    pixel_sigma_px: float = 2.0,
    height_sigma_m: float = 0.15,
    ground_down_m: float = 0.0,
    ground_sigma_m: float = 0.1,
) -> PersonFix:
    """Locate people on the ground from their boxes ``xyxy_px`` (N, 4) = (x1, y1, x2, y2).

    Range cues (see :func:`_box_cues`): (1) foot: the bottom-centre pixel intersected with the ground
    plane; (2) body height: a vertical body ``person_height_m`` tall spanning the box's bottom and top rows
    (or, when the feet are cut off by the image bottom, the top-centre ray meeting the plane one body height
    above the ground). Each box edge carries independent pixel noise ``pixel_sigma_px``, the body height is
    N(person_height_m, height_sigma_m^2) and the ground under the person N(ground_down_m, ground_sigma_m^2)
    (the world is not flat); all are propagated through the (finite-difference) Jacobian of the cues jointly,
    so their correlation (they share box edges) is kept. The foot and body-height cues lie on the same ray,
    so they are fused as two estimates of one range with the minimum-variance weight (clipped to [0, 1]).
    The uncertainty therefore grows with range and at shallow viewing angles, where the foot cue degrades
    (pixel and ground-height errors are magnified) and the body-height cue takes over.

    A cue is dropped when it cannot work: the foot cue when the bottom-centre is at/above the horizon or the
    bottom edge touches the image bottom (feet cut off); the body-height cue when the head is cut off (top
    edge at the image top) or the box is under 2 px tall. A box touching the left/right border has its cut
    edge's noise raised to the visible box width (its centre column is then uncertain).
    """
    for name, val in (("person_height_m", person_height_m), ("pixel_sigma_px", pixel_sigma_px),
                      ("height_sigma_m", height_sigma_m), ("ground_sigma_m", ground_sigma_m)):
        if not (math.isfinite(val) and val > 0.0):
            raise InvalidValueError(f"{name}: must be finite and > 0, got {val!r}")
    if not math.isfinite(ground_down_m):
        raise InvalidValueError(f"ground_down_m: must be finite, got {ground_down_m!r}")
    boxes = _points("xyxy_px", xyxy_px, 4)
    n = boxes.shape[0]
    if n <= _SCALAR_MAX_ROWS:  # the same checks on Python floats (cheaper for a few rows)
        rows = boxes.tolist()
        if not all(math.isfinite(v) for row in rows for v in row):
            raise InvalidValueError("xyxy_px: contains NaN or infinite values")
        if any(x2 < x1 or y2 < y1 for x1, y1, x2, y2 in rows):
            raise InvalidValueError("xyxy_px: boxes must have x2 >= x1 and y2 >= y1")
        return _locate_people_scalar(camera, rows, float(person_height_m), float(pixel_sigma_px),
                                     float(height_sigma_m), float(ground_down_m), float(ground_sigma_m))
    if not np.isfinite(boxes).all():
        raise InvalidValueError("xyxy_px: contains NaN or infinite values")
    if n and ((boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any()):
        raise InvalidValueError("xyxy_px: boxes must have x2 >= x1 and y2 >= y1")
    return _locate_people_numpy(camera, boxes, float(person_height_m), float(pixel_sigma_px),
                                float(height_sigma_m), float(ground_down_m), float(ground_sigma_m))


def _locate_people_scalar(
    camera: CameraModel, boxes: FloatArray | list[list[float]], person_height_m: float, pixel_sigma_px: float,
    height_sigma_m: float, ground_down_m: float, ground_sigma_m: float,
) -> PersonFix:
    """:func:`locate_people` row by row in plain Python (fast for a few boxes; inputs already checked).

    The range is ``sqrt(dn*dn + de*de + dd*dd)`` from the camera, the sum in the order numpy's
    ``linalg.norm(..., axis=1)`` of the vectorised path takes it (NaN for a row without a fix)."""
    cam = _scalar.Cam(camera)
    nan_row = (_scalar._NAN, _scalar._NAN, _scalar._NAN)
    var_down = ground_sigma_m**2
    rows = boxes.tolist() if isinstance(boxes, np.ndarray) else boxes
    position, cov, valid, rng = [], [], [], []
    for box in rows:
        ok, pn, pe, (cnn, cne, cee) = _scalar.locate_row(
            cam, box, person_height_m, pixel_sigma_px, height_sigma_m, ground_down_m, ground_sigma_m
        )
        valid.append(ok)
        if ok:
            position.append((pn, pe, ground_down_m))
            cov.append(((cnn, cne, 0.0), (cne, cee, 0.0), (0.0, 0.0, var_down)))
            dn, de, dd = pn - cam.px, pe - cam.py, ground_down_m - cam.pz
            rng.append(math.sqrt(dn * dn + de * de + dd * dd))
        else:
            position.append(nan_row)
            cov.append((nan_row, nan_row, nan_row))
            rng.append(_scalar._NAN)
    n = len(rows)
    return PersonFix(position_ned_m=np.array(position, dtype=np.float64).reshape(n, 3),
                     cov_ned_m2=np.array(cov, dtype=np.float64).reshape(n, 3, 3),
                     range_m=np.array(rng, dtype=np.float64), valid=np.array(valid, dtype=bool).reshape(n))


def _locate_people_numpy(
    camera: CameraModel, boxes: FloatArray, person_height_m: float, pixel_sigma_px: float,
    height_sigma_m: float, ground_down_m: float, ground_sigma_m: float,
) -> PersonFix:
    """:func:`locate_people` vectorised over the boxes (inputs already checked)."""
    n = boxes.shape[0]
    w_img, h_img = camera.intrinsics.size_wh_px
    theta = np.column_stack([boxes, np.full(n, float(person_height_m)), np.full(n, float(ground_down_m))])

    ne, ok = _box_cues(camera, theta)
    floor_px = max(_BORDER_MARGIN_PX, _BORDER_CUT_IMAGE_REL * h_img)
    margin = np.maximum(floor_px, _BORDER_CUT_REL * (boxes[:, 3] - boxes[:, 1]))
    top_cut = boxes[:, 1] <= margin
    bottom_cut = boxes[:, 3] >= h_img - margin
    tall_enough = boxes[:, 3] - boxes[:, 1] >= _MIN_BOX_HEIGHT_PX
    use = np.column_stack([
        ok[:, _FOOT] & ~bottom_cut,
        ok[:, _SEGMENT] & ~bottom_cut & ~top_cut & tall_enough,
        ok[:, _HEAD] & bottom_cut & ~top_cut,
    ])

    sig = np.tile([pixel_sigma_px] * 4 + [height_sigma_m, ground_sigma_m], (n, 1))
    box_w = boxes[:, 2] - boxes[:, 0]
    cut_left, cut_right = boxes[:, 0] <= _BORDER_MARGIN_PX, boxes[:, 2] >= w_img - _BORDER_MARGIN_PX
    sig[cut_left, 0] = np.maximum(pixel_sigma_px, box_w[cut_left])
    sig[cut_right, 2] = np.maximum(pixel_sigma_px, box_w[cut_right])

    J = _jacobian(camera, theta)  # (N, cue, ne, theta)
    # The foot and segment cues both lie on the bottom-centre ray, so they are two estimates of one
    # range along one bearing: fuse them as a scalar (minimum variance, weight clipped to [0, 1]) and
    # place the point by the convex combination. Fusing the 2D points by GLS instead is ill-conditioned
    # (their lateral errors are identical), and amplifies nonlinearity into overconfidence.
    bearing = ne[:, _FOOT] - camera.position_ned_m[:2]
    seg_dir = ne[:, _SEGMENT] - camera.position_ned_m[:2]
    bearing = np.where(np.isfinite(bearing), bearing, seg_dir)
    norm = np.linalg.norm(bearing, axis=1, keepdims=True)
    bearing = np.where(norm > 1e-9, bearing / np.where(norm > 1e-9, norm, 1.0), [1.0, 0.0])
    j_rho = np.einsum("ni,nqik->nqk", bearing, J[:, :_HEAD])  # d(range of foot, segment)/d(theta)
    c_rho = np.einsum("nik,nk,njk->nij", j_rho, sig**2, j_rho)
    denom = c_rho[:, 0, 0] + c_rho[:, 1, 1] - 2.0 * c_rho[:, 0, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        w_foot = np.clip((c_rho[:, 1, 1] - c_rho[:, 0, 1]) / denom, 0.0, 1.0)
    w_foot = np.where(np.isfinite(w_foot), w_foot, 0.5)
    w_foot = np.where(use[:, _SEGMENT], np.where(use[:, _FOOT], w_foot, 0.0), 1.0)

    body = use[:, _FOOT] | use[:, _SEGMENT]
    head_only = use[:, _HEAD] & ~body
    w = np.zeros((n, 3))
    w[body, _FOOT] = w_foot[body]
    w[body, _SEGMENT] = 1.0 - w_foot[body]
    w[head_only, _HEAD] = 1.0
    ne0 = np.where(w[..., None] > 0.0, ne, 0.0)  # unused cues may be NaN
    pos_ne = np.einsum("nq,nqi->ni", w, ne0)
    J_fix = np.einsum("nq,nqik->nik", w, np.where(w[..., None, None] > 0.0, J, 0.0))
    cov_ne = np.einsum("nik,nk,njk->nij", J_fix, sig**2, J_fix) + _REG_VAR_M2 * np.eye(2)

    valid = body | head_only
    position = np.column_stack([pos_ne, np.full(n, float(ground_down_m))])
    position[~valid] = np.nan
    cov = np.full((n, 3, 3), np.nan)
    cov[valid] = 0.0
    cov[valid, :2, :2] = cov_ne[valid]
    cov[valid, 2, 2] = ground_sigma_m**2
    rng = np.linalg.norm(position - camera.position_ned_m, axis=1)
    return PersonFix(position_ned_m=position, cov_ned_m2=cov, range_m=rng, valid=valid)


def person_box(
    camera: CameraModel,
    foot_ned_m: npt.ArrayLike,
    height_m: npt.ArrayLike,
    width_m: npt.ArrayLike,
) -> tuple[FloatArray, BoolArray]:
    """Image box of vertical person bodies standing at ``foot_ned_m`` (N, 3).

    The body is a rectangle ``width_m`` wide, centred on the foot point along the camera's right axis
    (so it faces the camera), from the foot up ``height_m`` (towards -z). Returns ``(xyxy_px (N, 4),
    visible (N,))``: the bounding box of the projected corners, clipped to the image. ``visible`` is False
    (and the box NaN) when any corner is behind the camera or the box lies wholly outside the image.
    """
    foot = _points("foot_ned_m", foot_ned_m, 3)
    n = foot.shape[0]
    h = _per_item("height_m", height_m, n)
    w = _per_item("width_m", width_m, n)
    if n <= _SCALAR_MAX_ROWS:  # the same checks on Python floats (cheaper for a few rows)
        ok = (all(map(math.isfinite, foot.ravel().tolist())) and all(math.isfinite(v) and v > 0 for v in h.tolist())
              and all(v >= 0 for v in w.tolist()))
    else:
        ok = bool(np.all(np.isfinite(foot)) and np.all(np.isfinite(h)) and np.all(h > 0) and np.all(w >= 0))
    if not ok:
        raise InvalidValueError("person_box: foot_ned_m must be finite, height_m > 0 and width_m >= 0")
    right = _horizontal_right(camera)
    if n <= _SCALAR_MAX_ROWS:
        return _person_box_scalar(camera, right, foot, h, w)
    return _person_box_numpy(camera, np.array(right), foot, h, w)


def _horizontal_right(camera: CameraModel) -> tuple[float, float, float]:
    """The camera's right axis with its down component zeroed, normalised (east if it is vertical).

    On Python floats: the norm is ``sqrt(x*x + y*y + 0*0)``, the sum in the order of numpy's ``linalg.norm``
    of a 3-vector (a dot product), so the values are those of the array version this replaces."""
    r0, r1 = camera.R_ned_from_cam[:2, 0].tolist()
    norm = math.sqrt(r0 * r0 + r1 * r1 + 0.0 * 0.0)
    return (r0 / norm, r1 / norm, 0.0 / norm) if norm > 1e-9 else (0.0, 1.0, 0.0)


def _person_box_scalar(
    camera: CameraModel, right: tuple[float, float, float] | FloatArray, foot: FloatArray, h: FloatArray,
    w: FloatArray,
) -> tuple[FloatArray, BoolArray]:
    """:func:`person_box` row by row in plain Python (fast for a few bodies; inputs already checked)."""
    n = foot.shape[0]
    right_t = (float(right[0]), float(right[1]), float(right[2]))
    rows = [_scalar.person_box_row(camera, right_t, f, h_i, w_i)
            for f, h_i, w_i in zip(foot.tolist(), h.tolist(), w.tolist())]
    box = np.array([b for b, _ in rows], dtype=np.float64).reshape(n, 4)
    visible = np.array([v for _, v in rows], dtype=bool).reshape(n)
    return box, visible


def _person_box_numpy(
    camera: CameraModel, right: FloatArray, foot: FloatArray, h: FloatArray, w: FloatArray
) -> tuple[FloatArray, BoolArray]:
    """:func:`person_box` vectorised over the bodies (inputs already checked)."""
    n = foot.shape[0]
    half = 0.5 * w[:, None] * right
    up = -h[:, None] * _E_DOWN
    corners = np.stack([foot - half, foot + half, foot - half + up, foot + half + up], axis=1)  # (N, 4, 3)
    uv, depth = project_points(camera, corners.reshape(-1, 3))
    uv = uv.reshape(n, 4, 2)
    in_front = np.all(depth.reshape(n, 4) > 0.0, axis=1)
    w_img, h_img = camera.intrinsics.size_wh_px
    # The body's image is a trapezoid: its bottom (and top) corners share a row because they differ only
    # along the camera's x axis. Clip it to the image rows first, so a body cut by the top or bottom border
    # gets the box of its visible part (a slanted body's hidden part would otherwise widen the box).
    v_bot, v_top = uv[:, 0, 1], uv[:, 2, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        v_lo = np.clip(np.minimum(v_bot, v_top), 0.0, h_img)
        v_hi = np.clip(np.maximum(v_bot, v_top), 0.0, h_img)
        span = v_top - v_bot
        flat = np.abs(span) < 1e-9
        us = []
        for side_bot, side_top in ((0, 2), (1, 3)):
            for v in (v_lo, v_hi):
                frac = np.where(flat, 0.0, (v - v_bot) / np.where(flat, 1.0, span))
                us.append(uv[:, side_bot, 0] + frac * (uv[:, side_top, 0] - uv[:, side_bot, 0]))
        u_all = np.column_stack(us)
        v_min, v_max = np.minimum(v_bot, v_top), np.maximum(v_bot, v_top)
        box = np.column_stack([u_all.min(1), v_min, u_all.max(1), v_max])
        overlaps = (box[:, 2] > 0.0) & (box[:, 0] < w_img) & (box[:, 3] > 0.0) & (box[:, 1] < h_img)
    visible = in_front & overlaps
    box = np.clip(box, 0.0, [w_img, h_img, w_img, h_img])
    box[~visible] = np.nan
    return box, visible


def observed_sector(
    camera: CameraModel, *, min_range_m: float = 0.0, ground_down_m: float = 0.0
) -> tuple[float, float]:
    """Horizontal bearings the camera sees: ``(center_yaw_rad, half_width_rad)``.

    Yaw in NED: 0 = north, positive towards east, in (-pi, pi]. The centre is the heading of the image's
    up-direction on the ground (the optical axis' heading for a camera without roll). The half width is
    conservative: the narrowest horizontal extent over the image rows that look forward (for a camera
    looking down, the far top row). With ``min_range_m > 0`` a row only counts if it looks at or above the
    horizon or meets the ground plane ``z = ground_down_m`` at least that far ahead (horizontally), so a
    camera looking steeply down does not claim to observe directions it only sees a few metres into.
    Returns half width 0.0 when no row counts (e.g. camera pointing straight down): every direction is
    then unobserved.
    """
    if not (math.isfinite(min_range_m) and min_range_m >= 0.0):
        raise InvalidValueError(f"min_range_m: must be finite and >= 0, got {min_range_m!r}")
    if not math.isfinite(ground_down_m):
        raise InvalidValueError(f"ground_down_m: must be finite, got {ground_down_m!r}")
    R = camera.R_ned_from_cam
    rn, re = R[:2, 0].tolist()
    if math.sqrt(rn * rn + re * re) < 1e-9:  # (numpy's linalg.norm of the 2-vector, on floats)
        fn, fe = R[:2, 2].tolist()
    else:
        fn, fe = re, -rn  # right rotated 90 deg anticlockwise (seen from above)
    center = math.atan2(fe, fn)
    c, s = math.cos(center), math.sin(center)
    height_m = ground_down_m - camera.position_ned_m[2]
    # Unit rays down the left (x = 0) and right (x = width) image borders, 33 rows each, stacked.
    rays_cam = _border_rays_cam(camera.intrinsics)
    n_rows = rays_cam.shape[0] // 2
    d = rays_cam @ camera.R_ned_from_cam.T
    fwd = d[:, 0] * c + d[:, 1] * s
    side = -d[:, 0] * s + d[:, 1] * c
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ground_fwd_m = np.where(d[:, 2] > _MIN_DOWN_COSINE, height_m * fwd / d[:, 2], np.inf)
    ok = (fwd > 1e-6) & (ground_fwd_m >= min_range_m)
    usable = ok[:n_rows] & ok[n_rows:]
    if not usable.any():
        return center, 0.0
    bearing = np.arctan2(side, fwd)
    half = np.minimum(-bearing[:n_rows][usable], bearing[n_rows:][usable])
    return center, float(max(0.0, half.min()))


@functools.lru_cache(maxsize=16)
def _border_rays_cam(intrinsics: CameraIntrinsics) -> FloatArray:
    """Unit optical-frame rays (66, 3) through the left then the right image border at 33 rows (cached per
    camera intrinsics; read-only)."""
    w_img, h_img = intrinsics.size_wh_px
    rows = np.linspace(0.0, float(h_img), 33)
    uv = np.concatenate([np.column_stack([np.full_like(rows, col), rows]) for col in (0.0, float(w_img))])
    rays = pixel_to_ray_cam(intrinsics, uv)
    rays.setflags(write=False)
    return rays


__all__ = [
    "PersonFix",
    "ground_intersect",
    "locate_people",
    "observed_sector",
    "person_box",
    "pixel_to_ray_cam",
    "project_points",
    "rays_ned",
    "wrap_angle_rad",
]
