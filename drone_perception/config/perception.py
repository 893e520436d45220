"""Camera, detector and tracker configuration."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraConfig(_Strict):
    width_px: int = Field(
        1280, ge=64, le=8192,
        description="Image width (px) of the frames the camera delivers; with hfov_rad it sets the intrinsics "
        "that place people on the ground. Must match the real frames: a wrong value biases every bearing and "
        "ground position.")
    height_px: int = Field(
        720, ge=64, le=8192,
        description="Image height (px) of the frames the camera delivers (square pixels assumed). Must match "
        "the real frames: a wrong value biases every elevation and ground position.")
    hfov_rad: float = Field(
        1.2, gt=0.1, le=3.0,
        description="Horizontal field of view (rad) of the lens. Must match it: a value too large makes people "
        "seem farther off-axis and nearer than they are, a value too small farther away.")
    gimbal_pitch_rad: float = Field(
        -0.45, ge=-1.5707963, le=0.5,
        description="Gimbal elevation (rad); negative = looking down, 0 = horizon, -pi/2 = straight down. The "
        "simulator's fixed camera pitch, and the pitch assumed when the vehicle reports no gimbal attitude "
        "(-0.45 rad: the subject at the default 15 m / 12.5 m offset sits in the lower half of the image). "
        "Lowering it looks more steeply down (people below stay in view, less range); raising it sees "
        "farther but loses people close below.")
    rate_hz: float = Field(
        20.0, gt=0.0, le=240.0,
        description="Camera frame rate (Hz); 1/rate_hz is the tracker's time step when two frames' stamps give "
        "none (first frame, stamp fault). Set it to the real rate: too high makes the tracker predict too "
        "little motion for such a frame, too low too much.")


class DetectorConfig(_Strict):
    model_path: str | None = Field(
        None,
        description="ONNX or engine file; None = the shipped default. A .engine / .plan file implies TensorRT. "
        "The reliable detection range is measured per model: a different model needs its own measurement.")
    backend: str = Field(
        "onnxruntime", pattern="^(onnxruntime|tensorrt|auto)$",
        description="Inference runtime: 'onnxruntime' (CPU, plus CUDA/TensorRT execution providers if "
        "installed), 'tensorrt' (native engine; an error when TensorRT is missing) or 'auto' (TensorRT when "
        "usable, else ONNX Runtime).")
    confidence_threshold: float = Field(
        0.35, ge=0.0, le=1.0,
        description="Detections scoring below this (0-1) are discarded before tracking. Raising it gives fewer "
        "false alarms but misses far or occluded people (shorter reliable detection range); lowering it "
        "finds more people and more false ones. Tracker thresholds below it have no effect.")
    nms_iou: float = Field(
        0.5, gt=0.0, le=1.0,
        description="Non-maximum suppression: boxes overlapping more than this IoU (0-1) are merged into the "
        "best-scoring one. Raising it keeps more overlapping boxes (people in a group, but also duplicates of "
        "one person); lowering it merges more (people standing close may become one box).")
    threads: int = Field(
        0, ge=0, le=64,
        description="Intra-op threads (count); 0 = runtime default. Raising it speeds up CPU inference but "
        "leaves fewer cores to the rest of the stack; lowering it the reverse.")


class TrackerConfig(_Strict):
    high_threshold: float = Field(
        0.5, ge=0.0, le=1.0,
        description="First-stage association confidence (0-1): detections at or above it are matched first and "
        "may start new tracks. Raising it starts fewer false tracks but confirms real people later; lowering "
        "it starts tracks on weaker detections. Must be at least low_threshold.")
    low_threshold: float = Field(
        0.1, ge=0.0, le=1.0,
        description="Second-stage (low score) confidence (0-1): detections in [low_threshold, high_threshold) "
        "only continue confirmed tracks, below it they are ignored. Lowering it keeps tracks alive through "
        "blur and occlusion on weak detections (and risks latching onto clutter); raising it up to "
        "high_threshold disables the second stage. Must not exceed high_threshold.")
    match_iou: float = Field(
        0.3, gt=0.0, le=1.0,
        description="Smallest IoU (0-1) between a track's predicted box and a detection for a match (the "
        "low-score stage uses at least 0.5). Raising it avoids wrong matches between people close together "
        "but loses tracks on fast motion; lowering it keeps them through fast motion and risks id switches.")
    max_lost_s: float = Field(
        2.0, gt=0.0, le=60.0,
        description="A lost track is deleted after this (s) unseen. Raising it bridges longer occlusions under "
        "the same id (and keeps ghosts longer); lowering it deletes sooner (a returning person gets a new id).")
    tentative_max_lost_s: float = Field(
        0.1, ge=0.0, le=5.0,
        description="How long (s) an unconfirmed (tentative) track may go unmatched and still be confirmed later; "
        "0 = deleted at its first miss (ByteTrack's rule). The default bridges two missed frames at 20 Hz: the "
        "shipped detector finds a person ~50 px tall in only about half the frames, and with 0 such a person is "
        "never confirmed, so never locked. Raising it confirms people seen more sparsely, and clutter more "
        "easily; lowering it the reverse.")
    min_confirm_hits: int = Field(
        3, ge=1, le=30,
        description="Matched detections (count) a new track needs before it is confirmed and reported; 1 = "
        "at once. Raising it suppresses flickering false tracks but reports real people later; lowering it "
        "reports them sooner.")
    lock_reacquire_s: float = Field(
        5.0, ge=0.0, le=60.0,
        description="How long (s) a locked subject may be unseen and still be re-acquired (only by a detection "
        "consistent with its prediction). Raising it survives longer occlusions without the operator; "
        "lowering it gives up sooner (LOST: the follow holds until the operator locks again).")
    lock_gate_sigma: float = Field(
        3.0, gt=0.0, le=10.0,
        description="Gate (in sigmas of the predicted subject position) for re-acquiring the locked subject; "
        "while locked, a jump outside it counts as an id switch (LOST). Raising it re-acquires after larger "
        "unpredicted moves but admits more candidates (ambiguity -> LOST); lowering it is stricter.")
    ground_gate_chi2: float = Field(
        13.8, gt=0.0, le=100.0,
        description="Gate on the squared ground Mahalanobis distance (dimensionless) between a track and a "
        "detection (2 dof; 13.8 = 99.9 %). Raise it to tolerate worse camera poses, lower it to separate "
        "people walking close together.")
    person_height_m: float = Field(
        1.75, gt=0.5, le=2.5,
        description="Assumed body height (m) for ground positions and projected boxes. Raising it makes a box "
        "of given size read as a person farther away, lowering it nearer: set it to the people expected, "
        "erring low.")
    lock_size_ratio_max: float = Field(
        1.6, gt=1.0, le=10.0,
        description="Re-acquisition: largest allowed ratio (dimensionless) between a candidate's box height "
        "and the subject's last box height (either way). Raising it accepts candidates after larger range "
        "changes (and more look-alikes at other distances); lowering it is stricter.")
    lock_appearance_min: float = Field(
        0.5, ge=0.0, le=1.0,
        description="Re-acquisition: smallest colour-histogram similarity (Bhattacharyya coefficient, 0-1) to "
        "the subject, when appearance is given. Raising it rejects more look-alikes (and the subject under "
        "changed light); lowering it accepts more; 0 turns the check off.")

    @model_validator(mode="after")
    def _low_within_high(self) -> TrackerConfig:
        if self.low_threshold > self.high_threshold:
            raise ValueError(
                f"low_threshold={self.low_threshold} exceeds high_threshold={self.high_threshold}: the low-score "
                "stage takes detections in [low_threshold, high_threshold), a range that must not be inverted; "
                "lower low_threshold or raise high_threshold")
        return self
