"""Config: conservative defaults; hard floors are code; errors name field, value and allowed range."""

from __future__ import annotations

import pytest

from drone_perception.config import StackConfig, load_config, load_config_text
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
    c = load_config_text("safety: {min_standoff_m: 25}\nfence: {tethered: true, tether_length_m: 40}")
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
