"""``correction_days`` in the settings file: how long the unit may correct its own follow-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from notifications.settings import Settings, load_settings
from rules.errors import InvalidValue


def test_correction_days_defaults_to_14_and_is_read_from_the_file(tmp_path: Path) -> None:
    assert Settings().correction_days == 14
    path = tmp_path / "settings.yaml"
    path.write_text("mailer: file\ncorrection_days: 3\n", encoding="utf-8")
    assert load_settings(path).correction_days == 3


def test_a_negative_correction_days_is_refused_on_its_line(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("mailer: file\ncorrection_days: -1\n", encoding="utf-8")
    with pytest.raises(InvalidValue) as err:
        load_settings(path)
    assert err.value.field == f"{path}:2"
