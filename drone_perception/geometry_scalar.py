"""Plain-Python (scalar) fast paths of :mod:`drone_perception.geometry` for a few boxes.

For one to a few rows the vectorised numpy code is dominated by per-call overhead (hundreds of small
array operations); these functions compute the same quantities row by row with Python floats. They are
private helpers: :mod:`drone_perception.geometry` calls them for small N after its own input checks, and
``tests/drone_perception/test_geometry_scalar.py`` compares them with the numpy implementation (the oracle)
over random inputs. Frames, units and conventions are those of :mod:`drone_perception.geometry`.

Independent copy kept on purpose: the pinhole projection, the rays and the ground intersection are written
out again here in scalar form (calling the numpy functions per row would cost what this module saves), and
the oracle tests hold the two implementations to each other.

Division follows numpy's semantics (x/0 gives +-inf or NaN, never an exception), so undefined cues come
out NaN exactly where the vectorised code's do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from drone_perception.types import CameraModel

_NAN = math.nan
_INF = math.inf
#: Same constants as :mod:`drone_perception.geometry` (kept in sync by the oracle tests).
_MIN_DOWN_COSINE = 1e-6
_BORDER_MARGIN_PX = 1.0
#: A bottom or top edge this share of the box height from the border counts as cut (see geometry.py).
_BORDER_CUT_REL = 0.1
_BORDER_CUT_IMAGE_REL = 0.02
_MIN_BOX_HEIGHT_PX = 2.0
_REG_VAR_M2 = 1e-9
_FD_STEP_PX = 1e-3
_FD_STEP_M = 1e-4
_STEPS = (_FD_STEP_PX,) * 4 + (_FD_STEP_M,) * 2


def _div(a: float, b: float) -> float:
    """``a / b`` with numpy's IEEE semantics (no ZeroDivisionError)."""
    if b != 0.0:
        return a / b
    if a != a or a == 0.0:
        return _NAN
    return math.copysign(_INF, a) * math.copysign(1.0, b)


def _isfinite(x: float) -> bool:
    return x - x == 0.0


class Cam:
    """Per-call camera constants (floats)."""

    __slots__ = ("ax", "bx", "cx", "cxv", "cy", "fx", "fy", "h_img", "px", "py", "pz", "r", "w_img")

    def __init__(self, camera: CameraModel) -> None:
        k = camera.intrinsics
        self.fx, self.fy, self.cx, self.cy = float(k.fx_px), float(k.fy_px), float(k.cx_px), float(k.cy_px)
        self.r = tuple(camera.R_ned_from_cam.ravel().tolist())  # (tolist: the same Python floats, cheaper)
        self.px, self.py, self.pz = camera.position_ned_m.tolist()
        r20, r21, r22 = self.r[6], self.r[7], self.r[8]
        # K @ R[2, :] (the nadir vanishing point, homogeneous)
        self.ax = self.fx * r20 + self.cx * r22
        self.bx = self.fy * r21 + self.cy * r22
        self.cxv = r22
        self.w_img, self.h_img = float(k.size_wh_px[0]), float(k.size_wh_px[1])

    def ray(self, u: float, v: float) -> tuple[float, float, float]:
        """Unnormalised NED direction through pixel (u, v): R @ (x/z, y/z, 1)."""
        x = (u - self.cx) / self.fx
        y = (v - self.cy) / self.fy
        r = self.r
        return (r[0] * x + r[1] * y + r[2], r[3] * x + r[4] * y + r[5], r[6] * x + r[7] * y + r[8])


def _cues(cam: Cam, x1: float, y1: float, x2: float, y2: float, hgt: float, gnd: float) -> tuple[
    float, float, float, float, float, float, bool, bool, bool
]:
    """One row of ``geometry._box_cues``: (foot n, e, segment n, e, head n, e, foot_ok, seg_ok, head_ok).

    Hot (13 calls per box): rays and divisions are inlined; ``_div`` only runs for a zero divisor.
    """
    a, b, c = cam.ax, cam.bx, cam.cxv
    denom = b - c * y2
    k = (y1 - y2) / denom if abs(denom) > 1e-9 else 0.0
    num, den = 0.5 * (x1 + x2) - 0.5 * a * k, 1.0 - 0.5 * c * k
    u_bot = num / den if den != 0.0 else _div(num, den)
    u_top = u_bot * (1.0 - c * k) + a * k
    px, py, pz = cam.px, cam.py, cam.pz
    r0, r1, r2, r3, r4, r5, r6, r7, r8 = cam.r
    cx, cy, fx, fy = cam.cx, cam.cy, cam.fx, cam.fy
    # foot: bottom-centre ray on the ground plane
    x = (u_bot - cx) / fx
    y = (y2 - cy) / fy
    d0, d1, d2 = r0 * x + r1 * y + r2, r3 * x + r4 * y + r5, r6 * x + r7 * y + r8
    aa = d0 * d0 + d1 * d1 + d2 * d2
    d_norm = math.sqrt(aa)
    num = gnd - pz
    t = num / d2 if d2 != 0.0 else _div(num, d2)
    cos = d2 / d_norm if d_norm != 0.0 else _div(d2, d_norm)
    foot_ok = cos > _MIN_DOWN_COSINE and t > 0.0 and t - t == 0.0
    if foot_ok:
        fn, fe = px + t * d0, py + t * d1
    else:
        fn = fe = _NAN
    # segment: normal equations of s*d_bot - q*d_top = H e_down
    x = (u_top - cx) / fx
    y = (y1 - cy) / fy
    e0, e1, e2 = r0 * x + r1 * y + r2, r3 * x + r4 * y + r5, r6 * x + r7 * y + r8
    ab = -(d0 * e0 + d1 * e1 + d2 * e2)
    bb = e0 * e0 + e1 * e1 + e2 * e2
    ar = d2 * hgt
    br = -e2 * hgt
    det = aa * bb - ab * ab
    if det != 0.0:
        s = (bb * ar - ab * br) / det
        q = (aa * br - ab * ar) / det
    else:
        s, q = _div(bb * ar - ab * br, det), _div(aa * br - ab * ar, det)
    seg_ok = s - s == 0.0 and s > 0.0 and q > 0.0 and abs(det) > 1e-12
    sn, se = px + s * d0, py + s * d1
    # head: top-centre ray on the plane one body height above the ground
    num = (gnd - hgt) - pz
    t = num / e2 if e2 != 0.0 else _div(num, e2)
    e_norm = math.sqrt(bb)
    cos = e2 / e_norm if e_norm != 0.0 else _div(e2, e_norm)
    head_ok = cos > _MIN_DOWN_COSINE and t > 0.0 and t - t == 0.0
    hn, he = px + t * e0, py + t * e1
    return fn, fe, sn, se, hn, he, foot_ok, seg_ok, head_ok


def locate_row(
    cam: Cam, box: Sequence[float], person_height_m: float, pixel_sigma_px: float,
    height_sigma_m: float, ground_down_m: float, ground_sigma_m: float,
) -> tuple[bool, float, float, tuple[float, float, float]]:
    """One row of ``geometry.locate_people`` (inputs already checked).

    Returns ``(valid, north_m, east_m, (cov_nn, cov_ne, cov_ee))`` (meaningless when not valid).
    """
    x1, y1, x2, y2 = box
    theta = [x1, y1, x2, y2, person_height_m, ground_down_m]
    cues = _cues(cam, *theta)
    ne = cues[:6]
    foot_ok, seg_ok, head_ok = cues[6:]
    margin = max(_BORDER_MARGIN_PX, _BORDER_CUT_IMAGE_REL * cam.h_img, _BORDER_CUT_REL * (y2 - y1))
    top_cut = y1 <= margin
    bottom_cut = y2 >= cam.h_img - margin
    tall_enough = y2 - y1 >= _MIN_BOX_HEIGHT_PX
    use_foot = foot_ok and not bottom_cut
    use_seg = seg_ok and not bottom_cut and not top_cut and tall_enough
    use_head = head_ok and bottom_cut and not top_cut
    body = use_foot or use_seg
    head_only = use_head and not body
    if not (body or head_only):
        return False, _NAN, _NAN, (_NAN, _NAN, _NAN)

    sig = [pixel_sigma_px] * 4 + [height_sigma_m, ground_sigma_m]
    box_w = x2 - x1
    if x1 <= _BORDER_MARGIN_PX:
        sig[0] = max(pixel_sigma_px, box_w)
    if x2 >= cam.w_img - _BORDER_MARGIN_PX:
        sig[2] = max(pixel_sigma_px, box_w)
    var = [s * s for s in sig]

    # Central-difference Jacobian, one column per input: jac[k] = d(ne of the 3 cues)/d(theta_k) (6,)
    jac = []
    for k in range(6):
        h = _STEPS[k]
        orig = theta[k]
        theta[k] = orig + h
        plus = _cues(cam, *theta)
        theta[k] = orig - h
        minus = _cues(cam, *theta)
        theta[k] = orig
        two_h = 2.0 * h
        jac.append([(plus[i] - minus[i]) / two_h for i in range(6)])
    if body:
        bn, be = ne[0] - cam.px, ne[1] - cam.py
        if not _isfinite(bn):
            bn = ne[2] - cam.px
        if not _isfinite(be):
            be = ne[3] - cam.py
        norm = math.sqrt(bn * bn + be * be)
        if norm > 1e-9:
            bn, be = bn / norm, be / norm
        else:
            bn, be = 1.0, 0.0
        j_f = [bn * col[0] + be * col[1] for col in jac]
        j_s = [bn * col[2] + be * col[3] for col in jac]
        c00 = c01 = c11 = 0.0
        for k in range(6):
            c00 += j_f[k] * var[k] * j_f[k]
            c01 += j_f[k] * var[k] * j_s[k]
            c11 += j_s[k] * var[k] * j_s[k]
        w_foot = _div(c11 - c01, c00 + c11 - 2.0 * c01)
        if w_foot != w_foot:
            w_foot = 0.5
        else:
            w_foot = min(max(w_foot, 0.0), 1.0)
        if not use_seg:
            w_foot = 1.0
        elif not use_foot:
            w_foot = 0.0
        w = (w_foot, 1.0 - w_foot, 0.0)
    else:
        w = (0.0, 0.0, 1.0)
    pn = pe = 0.0
    jn = [0.0] * 6
    je = [0.0] * 6
    for q in range(3):
        wq = w[q]
        if wq > 0.0:
            pn += wq * ne[2 * q]
            pe += wq * ne[2 * q + 1]
            for k in range(6):
                jn[k] += wq * jac[k][2 * q]
                je[k] += wq * jac[k][2 * q + 1]
    cnn = cne = cee = 0.0
    for k in range(6):
        cnn += jn[k] * var[k] * jn[k]
        cne += jn[k] * var[k] * je[k]
        cee += je[k] * var[k] * je[k]
    return True, pn, pe, (cnn + _REG_VAR_M2, cne, cee + _REG_VAR_M2)


def person_box_row(
    camera: CameraModel, right: tuple[float, float, float], foot: tuple[float, float, float], height_m: float,
    width_m: float,
) -> tuple[tuple[float, float, float, float], bool]:
    """One row of ``geometry.person_box`` (inputs already checked; ``right`` is the horizontal unit right
    axis). Returns ``((x1, y1, x2, y2), visible)``; the box is NaN when not visible."""
    k = camera.intrinsics
    fx, fy, cx, cy = float(k.fx_px), float(k.fy_px), float(k.cx_px), float(k.cy_px)
    r = camera.R_ned_from_cam.ravel().tolist()
    c0, c1, c2 = camera.position_ned_m.tolist()
    f0, f1, f2 = foot
    h0, h1, h2 = 0.5 * width_m * right[0], 0.5 * width_m * right[1], 0.5 * width_m * right[2]
    up2 = -height_m
    nan_box = (_NAN, _NAN, _NAN, _NAN)
    uv = []
    # corners: foot - half, foot + half, foot - half + up, foot + half + up
    for p0, p1, p2 in ((f0 - h0, f1 - h1, f2 - h2), (f0 + h0, f1 + h1, f2 + h2),
                       (f0 - h0, f1 - h1, f2 - h2 + up2), (f0 + h0, f1 + h1, f2 + h2 + up2)):
        q0, q1, q2 = p0 - c0, p1 - c1, p2 - c2
        depth = r[2] * q0 + r[5] * q1 + r[8] * q2
        if not depth > 0.0:
            return nan_box, False
        u = fx * (r[0] * q0 + r[3] * q1 + r[6] * q2) / depth + cx
        v = fy * (r[1] * q0 + r[4] * q1 + r[7] * q2) / depth + cy
        uv.append((u, v))
    w_img, h_img = float(k.size_wh_px[0]), float(k.size_wh_px[1])
    v_bot, v_top = uv[0][1], uv[2][1]
    v_min, v_max = min(v_bot, v_top), max(v_bot, v_top)
    v_lo = min(max(v_min, 0.0), h_img)
    v_hi = min(max(v_max, 0.0), h_img)
    span = v_top - v_bot
    flat = abs(span) < 1e-9
    us = []
    for side_bot, side_top in ((0, 2), (1, 3)):
        ub, ut = uv[side_bot][0], uv[side_top][0]
        for v in (v_lo, v_hi):
            frac = 0.0 if flat else (v - v_bot) / span
            us.append(ub + frac * (ut - ub))
    u_min, u_max = min(us), max(us)
    if not (u_max > 0.0 and u_min < w_img and v_max > 0.0 and v_min < h_img):
        return nan_box, False
    return (min(max(u_min, 0.0), w_img), min(max(v_min, 0.0), h_img), min(max(u_max, 0.0), w_img),
            min(max(v_max, 0.0), h_img)), True
