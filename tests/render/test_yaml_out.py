"""The YAML form of §6.2: key order, literal blocks, and quoting that go-yaml tools read right."""

from __future__ import annotations

import yaml

from cloud_config.render.yaml_out import dump


def test_api_version_and_kind_first_then_alphabetical() -> None:
    text = dump({"spec": {"b": 1, "a": 2}, "kind": "Service", "metadata": {"name": "x"}, "apiVersion": "v1"})
    assert text == "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  a: 2\n  b: 1\n"


def test_yaml_11_words_and_numbers_are_quoted() -> None:
    text = dump({"data": {"a": "yes", "b": "on", "c": "No", "d": "1", "e": "", "f": "0x1f", "g": "plain"}})
    for quoted in ("'yes'", "'on'", "'No'", "'1'", "''", "'0x1f'"):
        assert quoted in text
    assert "g: plain\n" in text
    assert yaml.safe_load(text)["data"]["a"] == "yes"


def test_multi_line_strings_are_literal_blocks_and_round_trip() -> None:
    config = '[a]\nb = "c"\n\n'
    text = dump({"data": {"config.toml": config}, "list": [{"k": "v"}]})
    assert "config.toml: |+\n" in text and "\nlist:\n- k: v\n" in text
    assert yaml.safe_load(text)["data"]["config.toml"] == config
