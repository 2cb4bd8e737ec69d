"""serve.toml's `age_identity_file` per pipeline: the identity every node of it decrypts with.

End to end (serve decrypting node repos encrypted at rest) it runs in `demo --encrypt`
(tests/demo/test_demo.py::test_demo_command)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud_config.errors import ConfigError
from cloud_config.pipeline.service_config import load_config


def _write(tmp: Path, extra: str) -> Path:
    (tmp / "hook").write_text("s3cret\n")
    path = tmp / "serve.toml"
    path.write_text(
        '[[pipeline]]\nname = "c"\nchain_repo = "/x/chain"\nsecret_file = "hook"\n'
        f'{extra}\n[[pipeline.node]]\ndomain = "node0"\nrepo = "/x/n0"\n'
    )
    return path


def test_age_identity_file_reaches_every_target(tmp_path: Path) -> None:
    (tmp_path / "age").mkdir()
    (tmp_path / "age" / "keys.txt").write_text("AGE-SECRET-KEY-1...\n")
    config = load_config(_write(tmp_path, 'age_identity_file = "age/keys.txt"'))
    (target,) = config.pipelines["c"].targets
    assert target.age_identity_file == tmp_path / "age" / "keys.txt"
    assert load_config(_write(tmp_path, "")).pipelines["c"].targets[0].age_identity_file is None


def test_a_missing_identity_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, 'age_identity_file = "nope.agekey"'))
    assert "pipeline[0].age_identity_file" in str(caught.value) and "does not exist" in str(caught.value)
