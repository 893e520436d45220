"""Config: conservative defaults; hard floors are code; errors name field, value and allowed range."""

from __future__ import annotations

from collections.abc import Iterator
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from drone_perception.config import StackConfig, config_from_dict, load_config, load_config_text
from drone_perception.config import limits as L
from drone_perception.errors import ConfigError


def test_defaults_are_conservative():
    c = StackConfig()
    assert c.safety.min_standoff_m == 10.0
    assert c.safety.max_horizontal_speed_mps <= L.HARD_MAX_HORIZONTAL_SPEED_MPS
    assert not c.fence.tethered


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("safety: {min_standoff_m: 4.9}", r"safety\.min_standoff_m = 4\.9: .*greater than or equal to 5"),
        ("safety: {min_standoff_m: 0}", r"safety\.min_standoff_m"),
        ("safety: {max_horizontal_speed_mps: 13}", r"max_horizontal_speed_mps = 13: .*less than or equal to 12"),
        ("safety: {max_yaw_rate_radps: 3}", r"max_yaw_rate_radps"),
        ("safety: {command_ttl_s: 2}", r"command_ttl_s = 2"),
        ("safety: {braking_decel_mps2: 5, max_accel_mps2: 3}", r"braking_decel_mps2=5.0 exceeds"),
        ("fence: {polygon_ne_m: [[0,0],[10,10],[0,10],[10,0]]}", r"polygon_ne_m is not simple"),
        ("fence: {polygon_ne_m: [[0,0],[10,10]]}", r"at least 3 vertices"),
        ("fence: {polygon_ne_m: [[0,0],[1,1],[2,2]]}", r"zero area"),
        ("fence: {altitude_ceiling_m: 500}", r"altitude_ceiling_m = 500"),
        ("fence: {altitude_floor_m: 1}", r"altitude_floor_m = 1"),
        ("fence: {tethered: true}", r"tether_length_m"),
        ("safty: {min_standoff_m: 20}", r"safty = .*Extra inputs are not permitted"),
        ("safety: {min_standoff_m: lots}", r"min_standoff_m = 'lots'"),
        ("- a\n- b", r"mapping at the top level"),
        ("safety: [", r"malformed YAML"),
    ],
)
def test_bad_config_is_rejected_with_field_value_and_range(text, error):
    with pytest.raises(ConfigError, match=error):
        load_config_text(text)


def test_config_may_raise_the_standoff():
    c = load_config_text("safety: {min_standoff_m: 25}\nfollow: {height_m: 27.5, distance_m: 40}\n"
                         "fence: {tethered: true, tether_length_m: 40}")
    assert c.safety.min_standoff_m == 25.0
    assert c.fence.tether_length_m == 40.0


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.yaml")
    assert load_config(None) == StackConfig()


def test_empty_file_gives_defaults(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("")
    assert load_config(p) == StackConfig()


def test_the_readme_example_config_is_valid():
    """Keep the README true: its example configuration must load."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.S)
    assert blocks, "README has no yaml example"
    for block in blocks:
        cfg = load_config_text(block)
        assert cfg.safety.min_standoff_m >= L.HARD_MIN_STANDOFF_M


def _fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo]]:
    """Every field of ``model`` and, recursively, of every model its fields hold (``Optional``, tuples...)."""
    for name, info in model.model_fields.items():
        yield prefix + name, info
        stack = [info.annotation]
        while stack:
            ann = stack.pop()
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                yield from _fields(ann, f"{prefix}{name}.")
            else:
                stack.extend(get_args(ann))


def test_the_field_walk_reaches_the_nested_models():
    paths = {p for p, _ in _fields(StackConfig)}
    assert {"safety.min_standoff_m", "link.guided_timeout_s", "tracker.low_threshold", "fence.polygon_ne_m"} <= paths
    assert len(paths) > 60


def test_every_config_field_is_described():
    """Every field states its unit, convention and what raising/lowering it does (norfair style)."""
    missing = [p for p, info in _fields(StackConfig) if not (info.description or "").strip()]
    assert not missing, f"config fields without a description: {missing}"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        # the autopilot would coast 3 s on the last setpoint while the governor budgets 1 s
        ("link: {guided_timeout_s: 3.0}",
         r"link\.guided_timeout_s=3\.0 exceeds safety\.autopilot_command_timeout_s=1\.0: .*"
         r"raise safety\.autopilot_command_timeout_s to at least 3\.0 .*lower link\.guided_timeout_s to at most 1\.0"),
        ("link: {guided_timeout_s: 2.0}\nsafety: {autopilot_command_timeout_s: 1.5}",
         r"link\.guided_timeout_s=2\.0 exceeds safety\.autopilot_command_timeout_s=1\.5"),
        ("safety: {autopilot_command_timeout_s: 0.5}",
         r"link\.guided_timeout_s=1\.0 exceeds safety\.autopilot_command_timeout_s=0\.5"),
        ("tracker: {high_threshold: 0.3, low_threshold: 0.4}",
         r"tracker = .*low_threshold=0\.4 exceeds high_threshold=0\.3"),
        ("tracker: {high_threshold: 0.05}", r"low_threshold=0\.1 exceeds high_threshold=0\.05"),
    ],
)
def test_inconsistent_pairs_are_rejected_naming_both_fields_and_values(text, error):
    with pytest.raises(ConfigError, match=error):
        load_config_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "link: {guided_timeout_s: 3.0}\nsafety: {autopilot_command_timeout_s: 3.0}",
        "link: {guided_timeout_s: 0.5}\nsafety: {autopilot_command_timeout_s: 0.5}",
        "link: {guided_timeout_s: 0.1}",
        "tracker: {high_threshold: 0.4, low_threshold: 0.4}",
    ],
)
def test_consistent_pairs_load(text):
    load_config_text(text)


def test_a_zero_autopilot_timeout_budget_is_refused():
    """The autopilot always coasts on the last setpoint for a while (GUID_TIMEOUT >= 0.1 s, COM_OF_LOSS_T):
    a stopping budget without it would not be a budget."""
    with pytest.raises(ConfigError, match=r"autopilot_command_timeout_s"):
        load_config_text("safety: {autopilot_command_timeout_s: 0}")


@given(timeout_s=st.floats(0.1, 3.0), budget_s=st.floats(0.1, 5.0))
@settings(max_examples=60, deadline=None)
def test_a_loaded_config_never_budgets_less_than_the_autopilot_coasts(timeout_s, budget_s):
    data = {"link": {"guided_timeout_s": timeout_s}, "safety": {"autopilot_command_timeout_s": budget_s}}
    if timeout_s > budget_s:
        with pytest.raises(ConfigError, match=r"link\.guided_timeout_s=.*safety\.autopilot_command_timeout_s="):
            config_from_dict(data)
    else:
        c = config_from_dict(data)
        assert c.link.guided_timeout_s <= c.safety.autopilot_command_timeout_s


def test_mission_warnings_name_offsets_the_fixed_camera_cannot_follow_from():
    """#13's first campaign: every config that failed its mission had the subject outside the fixed camera's
    view or too small for the default detector at the follow offset; the load warns about such offsets."""
    from drone_perception.config.envelope import mission_warnings

    ok = load_config_text("")
    assert mission_warnings(ok.follow, ok.camera) == []
    steep = load_config_text("follow: {distance_m: 8, height_m: 16}")
    assert any("outside the fixed camera's view" in w for w in mission_warnings(steep.follow, steep.camera))
    far = load_config_text("safety: {min_standoff_m: 18}\nfollow: {distance_m: 30, height_m: 21}")
    assert any("px tall" in w for w in mission_warnings(far.follow, far.camera))
    # the 10,000-case campaign's unwarned mission failures were borderline: 1.0-1.3 deg inside the image's bottom
    # edge, or a subject of 42-43 input px; both warn now
    edge = load_config_text("safety: {min_standoff_m: 12.9}\nfollow: {distance_m: 16.6, height_m: 17.9}")
    assert any("outside the fixed camera's view" in w for w in mission_warnings(edge.follow, edge.camera))
    small = load_config_text("safety: {min_standoff_m: 14.8}\nfollow: {distance_m: 22.3, height_m: 20.0}")
    assert any("px tall" in w for w in mission_warnings(small.follow, small.camera))
