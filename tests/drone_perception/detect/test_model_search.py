"""Where the shipped default model is found: $DRONE_PERCEPTION_MODELS, the checkout's models/, then the
wheel's <prefix>/share/drone-perception/models; a clear error naming every place when it is nowhere."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from drone_perception.detect import factory
from drone_perception.errors import ModelError


def test_checkout_models_folder_is_found() -> None:
    assert factory.default_model_path() == Path(factory.__file__).resolve().parents[2] / "models" / \
        factory.DEFAULT_MODEL_NAME


def test_environment_folder_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(factory.default_model_path(), tmp_path / factory.DEFAULT_MODEL_NAME)
    monkeypatch.setenv(factory.MODELS_ENV, str(tmp_path))
    assert factory.default_model_path() == tmp_path / factory.DEFAULT_MODEL_NAME
    assert factory.models_dir() == tmp_path


def test_wheel_install_location_is_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As after ``pip install .`` (no checkout next to the package): the data-files folder under the prefix."""
    share = tmp_path / "share" / "drone-perception" / "models"
    share.mkdir(parents=True)
    (share / factory.DEFAULT_MODEL_NAME).write_bytes(b"onnx")
    monkeypatch.setattr(factory, "__file__", str(tmp_path / "site" / "drone_perception" / "detect" / "factory.py"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    monkeypatch.delenv(factory.MODELS_ENV, raising=False)
    assert factory.default_model_path() == share / factory.DEFAULT_MODEL_NAME


def test_missing_everywhere_names_every_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory, "__file__", str(tmp_path / "a" / "b" / "c" / "factory.py"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "prefix"))
    monkeypatch.setattr(sys, "base_prefix", str(tmp_path / "base"))
    monkeypatch.setenv(factory.MODELS_ENV, str(tmp_path / "env"))
    with pytest.raises(ModelError, match="DRONE_PERCEPTION_MODELS") as info:
        factory.default_model_path()
    for where in ("env", "models", "prefix", "base"):
        assert where in str(info.value)
