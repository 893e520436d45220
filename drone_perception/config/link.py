"""MAVLink link and operator-engagement configuration."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LinkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    connection: str = Field(
        "udpin:127.0.0.1:14550",
        description="pymavlink connection string of the autopilot link: 'udpin:ADDR:PORT' listens, "
        "'udpout:HOST:PORT' sends to a fixed address, a device path opens a serial port.")
    autopilot: str = Field(
        "ardupilot", pattern="^(ardupilot|px4)$",
        description="'ardupilot' or 'px4': the MAVLink dialect (companion mode GUIDED or OFFBOARD, parameter "
        "names such as GUID_TIMEOUT or COM_OF_LOSS_T, how safe modes are requested). Must match the vehicle.")
    source_system: int = Field(
        1, ge=1, le=255,
        description="MAVLink system id (1-255) the stack sends as; a companion computer normally shares the "
        "vehicle's system id. Change it only together with the autopilot's SYSID.")
    source_component: int = Field(
        191, ge=1, le=255,
        description="MAVLink component id (1-255) the stack sends as; 191 = MAV_COMP_ID_ONBOARD_COMPUTER. "
        "Change it only when another onboard computer already uses that id.")
    heartbeat_timeout_s: float = Field(
        2.5, gt=0.0, le=5.0,
        description="The link counts as down (the governor holds) when the autopilot's last HEARTBEAT is older "
        "than this (s). Autopilots send one HEARTBEAT per second, so this must exceed 1 s with margin for a "
        "lost one; the fast detector is the telemetry silence rule (no message for 0.5 s once the streams, "
        "requested at the control rate, flow). Raising it tolerates a lossy radio longer; lowering it below "
        "about 2 s declares the link down on one missed or late heartbeat.")
    setpoint_rate_hz: float = Field(
        20.0, ge=2.0, le=100.0,
        description="Command rate (Hz) of a bridge opened without a control rate (the stack's loop passes "
        "control_rate_hz, which then wins): sets the telemetry stream rate requested at connect and the "
        "stall detector (no command for 1.5 periods -> one hold is sent). Raising it reacts faster and adds "
        "link traffic; lowering it saves bandwidth and detects a stalled loop later.")
    deadman_rc_channel: int | None = Field(
        None, ge=1, le=18,
        description="1-based RC channel (1-18) of the pilot's dead-man switch; None = no RC dead-man. When "
        "set, follow runs only while a fresh RC_CHANNELS message reads at least deadman_rc_threshold_us on "
        "it (and, with deadman_gcs_heartbeat on too, both dead-men are required).")
    deadman_rc_threshold_us: int = Field(
        1700, ge=900, le=2100,
        description="PWM (us) at or above which the dead-man switch counts as held. Raising it requires the "
        "switch further over (a middle position no longer counts); lowering it accepts lower positions.")
    deadman_gcs_heartbeat: bool = Field(
        True,
        description="The ground station's HEARTBEAT is a dead-man: follow runs only while it is fresh (with an "
        "RC channel as well, both are required). At least one dead-man must be configured, or the bridge "
        "refuses to start.")
    guided_timeout_s: float = Field(
        1.0, ge=0.1, le=3.0,
        description="Autopilot setpoint timeout (s) the bridge writes at connect and reads back (ArduPilot "
        "GUID_TIMEOUT, PX4 COM_OF_LOSS_T): after the last setpoint the autopilot keeps flying it this long. "
        "Must not exceed safety.autopilot_command_timeout_s (the governor's stopping budget) or the config "
        "is refused. Lowering it stops the vehicle sooner after the companion dies, but a link gap longer than "
        "it trips the autopilot's failsafe; raising it tolerates longer gaps and lengthens the coast.")
    upload_fence: bool = Field(True, description="Before closed-loop control, upload the stack's fence to the "
                               "autopilot (the second layer), download it again and verify it. It replaces the "
                               "fence stored there: put every zone the crew needs into the stack's fence. Off: "
                               "the autopilot keeps whatever fence it has, which may differ from the stack's.")
    fence_altitude_floor: bool = Field(True, description="Upload the altitude floor too (ArduPilot FENCE_ALT_MIN, "
                                       "FENCE_TYPE bit 8). Turn off for an autopilot without it, which never "
                                       "answers that write (the upload then stops with a timeout).")
    signing_key_file: str | None = Field(
        None,
        description="Path to the 32-byte MAVLink 2 signing key (raw, or 64 hex characters); None = unsigned. "
        "When set, every outgoing message is signed and unsigned or badly signed incoming messages are "
        "refused; the autopilot and ground station must hold the same key.")
