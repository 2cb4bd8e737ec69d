"""TOML layout: files cloud-config 6.7.4 wrote load, edits touch only what they change, comments survive."""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path

import pytest

from cloud_config.model import toml_edit, toml_format
from cloud_config.model.chain import ChainConfig
from cloud_config.store import atomic

# chain_config.toml as cloud-config 6.7.4 writes it after `create` (reference §1.1), two nodes.
WRITTEN_BY_6_7_4 = """\
stage = "Finalize"

[[micro_service_list]]
image = "network_zenoh"
tag = "latest"

[[micro_service_list]]
image = "consensus_overlord"
tag = "latest"

[[micro_service_list]]
image = "executor_evm"
tag = "latest"

[[micro_service_list]]
image = "storage_opendal"
tag = "latest"

[[micro_service_list]]
image = "controller_hsm"
tag = "latest"

[[node_network_address_list]]
cluster = "k8s"
domain = "node0"
host = "8.8.8.8"
name_space = "default"
port = 40000

[[node_network_address_list]]
cluster = ""
domain = "node3"
host = "rivtower.com"
name_space = "default"
port = 40003

[genesis_block]
prevhash = "0x0000000000000000000000000000000000000000000000000000000000000000"
timestamp = 1709695109593

[system_config]
admin = "ff8456931c10a9b02ec4a657ee05e724ecad9372"
block_interval = 3
block_limit = 100
chain_id = "63586a3c0255f337c77a777ff54f0040b8c388da04f23ecee6bfd4953a6512b4"
quota_limit = 1073741824
validators = [
    "935bf75ab552629c201c67a9de01603ece5eaae970dd1fa39a65c13b31ba94d55c1f3ed3897dd7ce777e5850c4cded8e",
    "a7f2102b16a6f4d5f3066ed54267b49408dc6e6e675bfd74c9c32900d11b0c453e19a1d6e1867cbd07de9dabb041de39",
]
version = 0

"""


@pytest.fixture
def chain_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "test-chain"
    folder.mkdir()
    (folder / "chain_config.toml").write_text(WRITTEN_BY_6_7_4)
    return folder


def _diff(a: str, b: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_written_by_6_7_4_loads_and_redumps_identically() -> None:
    config = ChainConfig.loads(WRITTEN_BY_6_7_4, "chain_config.toml")
    assert config.stage.value == "Finalize"
    assert [n.domain for n in config.node_network_address_list] == ["node0", "node3"]
    assert config.dumps() == WRITTEN_BY_6_7_4


def test_append_node_changes_only_the_new_nodes_lines(cli, chain_dir: Path) -> None:
    result = cli("append-node", "--node", "9.9.9.9:40004:node4", "--config-dir", str(chain_dir.parent))
    assert result.code == 0, result.err
    diff = _diff(WRITTEN_BY_6_7_4, (chain_dir / "chain_config.toml").read_text())
    assert sorted(diff) == sorted(
        [
            "+",
            "+[[node_network_address_list]]",
            '+cluster = ""',
            '+domain = "node4"',
            '+host = "9.9.9.9"',
            '+name_space = "default"',
            "+port = 40004",
        ]
    )


def test_user_comments_survive_edits(cli, chain_dir: Path) -> None:
    path = chain_dir / "chain_config.toml"
    commented = "# Shared by the consortium; edit through pull requests only.\n" + WRITTEN_BY_6_7_4.replace(
        "[system_config]\n", "# genesis settings: frozen\n[system_config]\n"
    ).replace('host = "rivtower.com"', 'host = "rivtower.com"  # moved in May').replace(
        "block_interval = 3", "# seconds\nblock_interval = 3"
    )
    path.write_text(commented)
    args = ("--config-dir", str(chain_dir.parent))
    assert cli("append-node", "--node", "9.9.9.9:40004:node4", *args).code == 0
    assert cli("delete-node", "--domain", "node0", *args).code == 0
    text = path.read_text()
    for comment in (
        "# Shared by the consortium",
        "# genesis settings: frozen",
        "# moved in May",
        "# seconds\nblock_interval = 3",
    ):
        assert comment in text
    assert 'domain = "node0"' not in text
    data = tomllib.loads(text)
    assert [n["domain"] for n in data["node_network_address_list"]] == ["node3", "node4"]


def test_changed_value_keeps_its_leading_comment() -> None:
    old = '# the stage\nstage = "Init"\n\n[t]\n# who\nadmin = ""\nx = [1, 2]\n'
    new = toml_edit.update(old, {"stage": "Public", "t": {"admin": "ab", "x": [1, 2]}})
    assert new == '# the stage\nstage = "Public"\n\n[t]\n# who\nadmin = "ab"\nx = [1, 2]\n'


def test_layouts_the_editor_does_not_follow_fall_back_to_canonical() -> None:
    old = 'stage = "Init"\nnode_network_address_list = [{ domain = "a", port = 1 }]\n'
    data = {"stage": "Init", "node_network_address_list": [{"domain": "b", "port": 2}]}
    assert tomllib.loads(toml_edit.update(old, data)) == data


def test_multi_line_arrays_holding_brackets_quotes_and_comments_keep_their_text() -> None:
    # Where an array ends is found lexically: brackets inside strings and comments do not count.
    old = (
        "a = [\n"
        '    "x]",  # a ] in a comment\n'
        "    'y[',\n"
        '    """z\n'
        ']""",\n'
        '    "esc\\"]",\n'
        "]\n"
        "# kept\n"
        "b = 1\n"
    )
    data = {**tomllib.loads(old), "b": 2}
    assert toml_edit.update(old, data) == old.replace("b = 1", "b = 2")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", '"plain"'),
        ("a\\b", "'a\\b'"),
        ('say "hi"', "'say \"hi\"'"),
        ("tab\there", '"tab\\there"'),
        ("-----BEGIN X-----\nAAA\n-----END X-----\n", '"""\n-----BEGIN X-----\nAAA\n-----END X-----\n"""'),
        ([], "[]"),
        (["a"], '["a"]'),
        ([1, 2], "[\n    1,\n    2,\n]"),
        (True, "true"),
    ],
)
def test_value_rendering(value: object, text: str) -> None:
    assert toml_format.render_value(value) == text
    assert tomllib.loads(f"k = {text}")["k"] == value


def test_nested_tables_and_implicit_headers() -> None:
    data = {"a": {"b": {"c": 1}, "list": [{"x": 1}, {"x": 2}]}, "z": 0}
    assert toml_format.dumps(data) == "z = 0\n\n[[a.list]]\nx = 1\n\n[[a.list]]\nx = 2\n\n[a.b]\nc = 1\n\n"


def test_interrupted_write_leaves_the_old_file(cli, chain_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = chain_dir / "chain_config.toml"
    before = path.read_bytes()

    def crash(src: object, _dst: object) -> None:
        assert Path(str(src)).read_bytes() != before  # the new content was fully written to the temp file
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)  # the os.replace that store.atomic calls
    result = cli("append-node", "--node", "9.9.9.9:40004:node4", "--config-dir", str(chain_dir.parent))
    assert result.code == 130
    assert path.read_bytes() == before


def test_secret_writes_are_0600(tmp_path: Path) -> None:
    target = tmp_path / "acct" / "private_key"
    atomic.write_secret(target, b"00")
    assert target.stat().st_mode & 0o777 == 0o600
    assert target.parent.stat().st_mode & 0o777 == 0o700
