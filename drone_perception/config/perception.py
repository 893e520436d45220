"""Camera, detector and tracker configuration."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraConfig(_Strict):
    width_px: int = Field(1280, ge=64, le=8192)
    height_px: int = Field(720, ge=64, le=8192)
    hfov_rad: float = Field(1.2, gt=0.1, le=3.0, description="Horizontal field of view.")
    gimbal_pitch_rad: float = Field(-0.35, ge=-1.5707963, le=0.5,
                                    description="Gimbal elevation; negative = looking down.")
    rate_hz: float = Field(20.0, gt=0.0, le=240.0)


class DetectorConfig(_Strict):
    model_path: str | None = Field(None, description="ONNX or engine file; None = the shipped default.")
    backend: str = Field("onnxruntime", pattern="^(onnxruntime|tensorrt|auto)$")
    confidence_threshold: float = Field(0.35, ge=0.0, le=1.0)
    nms_iou: float = Field(0.5, gt=0.0, le=1.0)
    threads: int = Field(0, ge=0, le=64, description="Intra-op threads; 0 = runtime default.")


class TrackerConfig(_Strict):
    high_threshold: float = Field(0.5, ge=0.0, le=1.0, description="First-stage association confidence.")
    low_threshold: float = Field(0.1, ge=0.0, le=1.0, description="Second-stage (low score) confidence.")
    match_iou: float = Field(0.3, gt=0.0, le=1.0)
    max_lost_s: float = Field(2.0, gt=0.0, le=60.0, description="A lost track is deleted after this.")
    min_confirm_hits: int = Field(3, ge=1, le=30)
    lock_reacquire_s: float = Field(5.0, ge=0.0, le=60.0,
                                    description="How long a locked subject may be unseen and still be "
                                    "re-acquired (only by a detection consistent with its prediction).")
    lock_gate_sigma: float = Field(3.0, gt=0.0, le=10.0,
                                   description="Gate (in sigmas) for re-acquiring the locked subject.")
    ground_gate_chi2: float = Field(13.8, gt=0.0, le=100.0,
                                    description="Gate on the squared ground Mahalanobis distance between a "
                                    "track and a detection (2 dof; 13.8 = 99.9 %). Raise it to tolerate worse "
                                    "camera poses, lower it to separate people walking close together.")
    person_height_m: float = Field(1.75, gt=0.5, le=2.5,
                                   description="Assumed body height for ground positions and projected boxes.")
    lock_size_ratio_max: float = Field(1.6, gt=1.0, le=10.0,
                                       description="Re-acquisition: largest allowed ratio between a candidate's "
                                       "box height and the subject's last box height (either way).")
    lock_appearance_min: float = Field(0.5, ge=0.0, le=1.0,
                                       description="Re-acquisition: smallest colour-histogram similarity "
                                       "(Bhattacharyya coefficient) to the subject, when appearance is given.")
