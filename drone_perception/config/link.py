"""MAVLink link and operator-engagement configuration."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LinkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    connection: str = Field("udpin:127.0.0.1:14550", description="pymavlink connection string.")
    autopilot: str = Field("ardupilot", pattern="^(ardupilot|px4)$")
    source_system: int = Field(1, ge=1, le=255)
    source_component: int = Field(191, ge=1, le=255, description="MAV_COMP_ID_ONBOARD_COMPUTER.")
    heartbeat_timeout_s: float = Field(1.0, gt=0.0, le=5.0)
    setpoint_rate_hz: float = Field(20.0, ge=2.0, le=100.0)
    deadman_rc_channel: int | None = Field(None, ge=1, le=18)
    deadman_rc_threshold_us: int = Field(1700, ge=900, le=2100)
    deadman_gcs_heartbeat: bool = Field(True)
    guided_timeout_s: float = Field(1.0, ge=0.1, le=3.0,
                                    description="GUID_TIMEOUT the bridge writes and reads back.")
    upload_fence: bool = Field(True, description="Before closed-loop control, upload the stack's fence to the "
                               "autopilot (the second layer), download it again and verify it. It replaces the "
                               "fence stored there: put every zone the crew needs into the stack's fence.")
    fence_altitude_floor: bool = Field(True, description="Upload the altitude floor too (ArduPilot FENCE_ALT_MIN, "
                                       "FENCE_TYPE bit 8). Turn off for an autopilot without it, which never "
                                       "answers that write (the upload then stops with a timeout).")
    signing_key_file: str | None = None
