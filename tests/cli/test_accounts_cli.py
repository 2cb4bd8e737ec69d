"""new-account and import-account through the command line, on real chain folders."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cloud_config.crypto.accounts import derive_account
from cloud_config.errors import ConfigError
from cloud_config.store.account_files import read_account, write_account_dir
from tests.support.cli import run_process

KEY = "60e7b47ee260516dbfedf8e80ff38830bae8663cc498a900a610c147cae94344"
NODE = "097913007f2c8d9ac87f89664fc70977fee6bf9a"
BLS = "965e7f200043a8ae543478330faf1c751f4c4d8040f93a7d0b8881085b8583bea6f7166ddc0c5bb9adff8563f7b3cbd2"
CHAIN = "test-chain"


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file and folder under `root` with its bytes and mode."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else b"", p.stat().st_mode)
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture(name="chain")
def _chain(cli, tmp_path: Path):
    """A chain folder with chain_config.toml; call it with extra init-chain-config flags."""

    def make(*flags: str) -> Path:
        assert cli("init-chain", "--config-dir", str(tmp_path)).code == 0
        assert cli("init-chain-config", "--config-dir", str(tmp_path), *flags).code == 0
        return tmp_path / CHAIN

    return make


def test_import_account_on_overlord_prints_the_reference_addresses(cli, chain, tmp_path: Path) -> None:
    folder = chain()
    result = cli("import-account", "--config-dir", str(tmp_path), "--privkey", KEY)
    assert (result.code, result.err) == (0, "")
    assert result.out == f"node_address: {NODE} validator_address: {BLS}\n"
    account_dir = folder / "accounts" / NODE
    assert (account_dir / "private_key").read_bytes() == KEY.encode()
    assert (account_dir / "node_address").read_bytes() == NODE.encode()
    assert (account_dir / "validator_address").read_bytes() == BLS.encode()
    assert stat.S_IMODE(account_dir.stat().st_mode) == 0o700
    for name in ("private_key", "node_address", "validator_address"):
        assert stat.S_IMODE((account_dir / name).stat().st_mode) == 0o600
    assert sorted(p.name for p in (folder / "accounts").iterdir()) == [".gitkeep", NODE]


def test_import_account_on_raft_uses_the_node_address(cli, chain, tmp_path: Path) -> None:
    folder = chain("--consensus_image", "consensus_raft")
    result = cli("import-account", "--config-dir", str(tmp_path), "--privkey", "0x" + KEY.upper())
    assert result.out == f"node_address: {NODE} validator_address: {NODE}\n"
    assert (folder / "accounts" / NODE / "validator_address").read_bytes() == NODE.encode()
    assert (folder / "accounts" / NODE / "private_key").read_bytes() == KEY.encode()


def test_import_account_eth_flavour(cli, chain, tmp_path: Path) -> None:
    chain("--consensus_image", "consensus_raft")
    result = cli(
        "import-account", "--config-dir", str(tmp_path), "--crypto", "eth", "--privkey", "0" * 63 + "1"
    )
    eth = "7e5f4552091a69125d5dfcb7b8c2659029395bdf"
    assert result.out == f"node_address: {eth} validator_address: {eth}\n"


def test_new_account_writes_a_consistent_account(cli, chain, tmp_path: Path) -> None:
    folder = chain()
    result = cli("new-account", "--config-dir", str(tmp_path))
    assert result.code == 0
    words = result.out.split()
    assert words[0] == "node_address:" and words[2] == "validator_address:"
    node, validator = words[1], words[3]
    account = read_account(folder / "accounts" / node)
    assert (account.node_address, account.validator_address) == (node, validator)
    assert len(validator) == 96
    assert len((folder / "accounts" / node / "private_key").read_bytes()) == 64


def test_new_account_as_a_real_process(chain, tmp_path: Path) -> None:
    folder = chain("--consensus_image", "consensus_raft")
    result = run_process("new-account", "--config-dir", str(tmp_path))
    assert result.code == 0, result.err
    node = result.out.split()[1]
    assert result.out == f"node_address: {node} validator_address: {node}\n"
    assert read_account(folder / "accounts" / node).node_address == node


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("0" * 64, "--privkey: not a valid key"),
        ("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001", "--privkey: not a valid key"),
        ("f" * 64, "--privkey: not a valid key"),
        ("12345", "--privkey: expected 64 hex characters"),
        ("g" * 64, "--privkey: expected hexadecimal"),
    ],
    ids=["zero", "bls-order", "sm2-valid-but-above-bls-order", "short", "not-hex"],
)
def test_bad_keys_change_nothing(cli, chain, tmp_path: Path, key: str, expected: str) -> None:
    chain()
    before = snapshot(tmp_path)
    result = cli("import-account", "--config-dir", str(tmp_path), "--privkey", key)
    assert result.code == 2
    assert result.err.startswith(f"error: {expected}") and result.err.count("\n") == 1
    assert key not in result.err and result.out == ""
    assert snapshot(tmp_path) == before


def test_account_needs_chain_config(cli, tmp_path: Path) -> None:
    assert cli("init-chain", "--config-dir", str(tmp_path)).code == 0
    before = snapshot(tmp_path)
    result = cli("new-account", "--config-dir", str(tmp_path))
    assert result.code == 1 and "chain_config.toml does not exist" in result.err
    assert snapshot(tmp_path) == before


def test_unknown_crypto_flavour_is_a_usage_error(cli, chain, tmp_path: Path) -> None:
    chain()
    before = snapshot(tmp_path)
    result = cli("new-account", "--config-dir", str(tmp_path), "--crypto", "rsa")
    assert result.code == 2 and "--crypto" in result.err
    assert snapshot(tmp_path) == before


def test_importing_again_refreshes_the_same_folder(cli, chain, tmp_path: Path) -> None:
    folder = chain()
    first = cli("import-account", "--config-dir", str(tmp_path), "--privkey", KEY)
    before = snapshot(folder)
    second = cli("import-account", "--config-dir", str(tmp_path), "--privkey", KEY)
    assert first.out == second.out
    assert snapshot(folder) == before
    assert not [p for p in (folder / "accounts").iterdir() if p.name.endswith(".partial")]


def test_read_account_refuses_files_that_do_not_belong_together(tmp_path: Path) -> None:
    target = tmp_path / NODE
    write_account_dir(target, derive_account(bytes.fromhex(KEY), "consensus_overlord"))
    assert read_account(target).validator_address == BLS
    (target / "node_address").write_bytes(b"1" * 40)
    with pytest.raises(ConfigError, match="do not belong to private_key"):
        read_account(target)
    (target / "node_address").write_bytes(NODE.encode())
    (target / "private_key").write_bytes(KEY.encode() + b"\n")
    with pytest.raises(ConfigError, match="no newline") as caught:
        read_account(target)
    assert KEY not in str(caught.value)


def test_read_account_refuses_a_missing_file(tmp_path: Path) -> None:
    target = tmp_path / NODE
    write_account_dir(target, derive_account(bytes.fromhex(KEY), "consensus_raft"))
    (target / "validator_address").unlink()
    with pytest.raises(ConfigError, match="validator_address: is missing"):
        read_account(target)


def test_parsing_the_crypto_verbs_imports_no_crypto_library() -> None:
    """`cloud-config --help` and argument errors stay fast: the libraries load only when a verb runs."""
    import subprocess
    import sys

    from tests.support.cli import SRC

    code = (
        "import sys; from cloud_config.cli.main import build_parser\n"
        "for verb in ('new-account', 'import-account', 'create-ca', 'create-csr', 'sign-csr',"
        " 'import-ca', 'import-cert', None):\n"
        "    build_parser([verb] if verb else [])\n"
        "heavy = ('cryptography', 'tongsuopy', 'gmssl_pyx', 'milagro_bls_binding', 'coincurve', 'Crypto')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": str(SRC)}, capture_output=True, text=True, check=True
    )
    assert done.stdout == "[]\n"


@pytest.mark.parametrize("line", [KEY + "\n", "  0x" + KEY + "  \r\n", KEY])
def test_import_account_reads_the_key_from_stdin(chain, tmp_path: Path, line: str) -> None:
    folder = chain()
    result = run_process("import-account", "--config-dir", str(tmp_path), "--privkey", "-", input=line)
    assert (result.code, result.err) == (0, "")
    assert result.out == f"node_address: {NODE} validator_address: {BLS}\n"
    assert (folder / "accounts" / NODE / "private_key").read_bytes() == KEY.encode()


@pytest.mark.parametrize(
    ("stdin", "expected"),
    [
        ("", "--privkey: standard input is empty"),
        ("\n  \n", "--privkey: standard input is empty"),
        (KEY + "\n" + KEY + "\n", "--privkey: standard input holds more than one line"),
        (KEY[:-1] + "\n", "--privkey: expected 64 hex characters"),
        ("0" * 64 + "\n", "--privkey: not a valid key"),
        ("é" * 32, "--privkey: standard input is not ASCII"),
        ("a" * 5000, "--privkey: standard input holds more than 4096 bytes"),
    ],
    ids=["empty", "blank", "two-lines", "short", "zero", "not-ascii", "huge"],
)
def test_bad_stdin_keys_change_nothing(chain, tmp_path: Path, stdin: str, expected: str) -> None:
    chain()
    before = snapshot(tmp_path)
    result = run_process("import-account", "--config-dir", str(tmp_path), "--privkey", "-", input=stdin)
    assert result.code == 2 and result.out == ""
    assert result.err.startswith(f"error: {expected}") and result.err.count("\n") == 1
    assert KEY not in result.err and KEY[:-1] not in result.err
    assert snapshot(tmp_path) == before


def test_privkey_help_mentions_stdin() -> None:
    helped = run_process("import-account", "--help")
    assert "'-' reads it from standard input" in " ".join(helped.out.split())


def test_privkey_dash_on_a_terminal_prompts_without_echo(chain, tmp_path: Path) -> None:
    """stdin a real pseudo-terminal: a prompt on stderr, and the typed key is not echoed back."""
    import os
    import pty
    import subprocess
    import sys

    from tests.support.cli import SRC

    folder = chain()
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cloud_config",
                "import-account",
                "--config-dir",
                str(tmp_path),
                "--privkey",
                "-",
            ],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(SRC)},
            start_new_session=True,  # no controlling terminal: getpass reads the pty on stdin
        )
        os.close(slave)
        slave = -1
        assert proc.stderr is not None
        prompt = b""
        while not prompt.endswith(b"private key: "):
            byte = proc.stderr.read(1)
            assert byte, prompt
            prompt += byte
        os.write(master, KEY.encode() + b"\n")
        out, err = proc.communicate(timeout=60)
        echoed = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            echoed += chunk
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    assert proc.returncode == 0, err
    assert out.decode() == f"node_address: {NODE} validator_address: {BLS}\n"
    assert KEY.encode() not in echoed and KEY.encode() not in prompt + err
    assert (folder / "accounts" / NODE / "private_key").read_bytes() == KEY.encode()
