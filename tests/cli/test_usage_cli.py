"""Bad usage through the real command: at most two lines, exit 2, a suggestion where one is close."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import run_process
from tests.support.render import snapshot

# (arguments, the first line's start, the suggestion line or None)
CASES = [
    (("init-chian",), "error: unknown command 'init-chian'", "did you mean init-chain"),
    (("set-admn", "--admin", "ab" * 20), "error: unknown command 'set-admn'", "did you mean set-admin"),
    (("upate-node", "--domain", "a"), "error: unknown command 'upate-node'", "did you mean update-node"),
    (("xyzzy",), "error: unknown command 'xyzzy' (see cloud-config --help)", None),
    (("member", "ad", "--name", "x"), "error: unknown command 'ad'", "did you mean add?"),
    (
        ("set-admin", "--admn", "ab" * 20),
        "error: unknown flag --admn (see cloud-config set-admin",
        "--admin?",
    ),
    (("init-node", "--domian", "n0", "--account", "ab" * 20), "error: unknown flag --domian", "--domain?"),
    (("create-csr", "--domain", "a", "--forse"), "error: unknown flag --forse", "--force?"),
    (("init-chain", "--chain_name", "x"), "error: unknown flag --chain_name", "--chain-name?"),
    (("update-yaml", "--domain", "a", "--storage-clas", "nfs"), "error: unknown flag --storage-clas", None),
    (("new-account", "--zzz"), "error: unknown flag --zzz (see cloud-config new-account --help)", None),
    (("--verbose", "init-chain"), "error: unknown flag --verbose (see cloud-config --help)", None),
    (("set-admin",), "error: --admin is required (see cloud-config set-admin --help)", None),
    (("init-node", "--domain", "a"), "error: --account is required", None),
    (("import-ca",), "error: --ca-cert, --ca-key are required", None),
    ((), "error: a command is required (see cloud-config --help)", None),
    (("set-admin", "--admin"), "error: --admin: expected a value", None),
    (
        ("new-account", "--crypto", "smm"),
        "error: --crypto: invalid choice 'smm' (choose from sm, eth)",
        "sm?",
    ),
    (("verify", "--base", "a", "--head", "b", "--format", "jsn"), "error: --format: invalid choice", "json?"),
    (("completion", "bsh"), "error: shell: invalid choice 'bsh'", "bash?"),
    (
        ("init-chain-config", "--block_interval", "x"),
        "error: --block_interval: expected a whole number",
        None,
    ),
    (
        ("init-node", "--domain", "a", "--account", "b", "--network-port", "70000"),
        "error: --network-port",
        None,
    ),
    (
        ("init-chain", "extra"),
        "error: unexpected argument(s): extra (see cloud-config init-chain --help)",
        None,
    ),
    (("update-yaml", "--domain", "a", "--enable-debug=yes"), "error: --enable-debug: ignored explicit", None),
]


@pytest.mark.parametrize(("args", "first", "suggestion"), CASES, ids=[" ".join(c[0]) or "-" for c in CASES])
def test_bad_usage_is_two_lines_at_most(cli, tmp_path: Path, args, first, suggestion) -> None:
    before = snapshot(tmp_path)
    result = cli(*args, "--config-dir", str(tmp_path)) if args and args[0] == "set-admin" else cli(*args)
    lines = result.err.splitlines()
    assert result.code == 2 and result.out == "", result
    assert 1 <= len(lines) <= 2, result.err
    assert lines[0].startswith(first), lines[0]
    if suggestion is None:
        assert len(lines) == 1 or lines[1].startswith("did you mean"), result.err
    else:
        assert len(lines) == 2 and lines[1].startswith("did you mean") and suggestion in lines[1], result.err
    assert snapshot(tmp_path) == before


def test_table_is_big_enough() -> None:
    assert len(CASES) >= 20


def test_a_typo_flag_is_reported_before_a_missing_one_as_a_process(tmp_path: Path) -> None:
    # 6.7.4-era argparse said "the following arguments are required: --admin" for `--admn`.
    result = run_process("set-admin", "--admn", "ab" * 20, cwd=tmp_path)
    assert result.code == 2
    assert result.err == (
        "error: unknown flag --admn (see cloud-config set-admin --help)\ndid you mean --admin?\n"
    )
