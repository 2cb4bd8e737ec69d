"""Golden rendered trees: the five-node example chain, rendered by the real command, byte for byte.

The chain is the reference's five-node example (§6): `8.8.8.8:40000:node0:k8s`, `...node1:k8s`,
`...node2:k8s:cita`, `rivtower.com:40003:node3`, `9.9.9.9:40004:node4`. It is built from fixed inputs
only (tests/data/golden/inputs/: account keys for `import-account`, the CA and node certificates for
`import-ca`/`import-cert`) with a fixed genesis `--timestamp`, so nothing depends on the clock or on
a random key. Each node folder is then rendered by `init-node` + `update-node` (+ `update-yaml` for
the three k8s nodes, each with other deployment flags) in a temporary folder, and compared with
tests/data/golden/<node folder>/: the same file list, the same bytes in every file, and the same
file modes (tests/data/golden/modes.txt; secret files 0600).

After an intended change of the rendered output, regenerate the golden trees and review the diff:

    CLOUD_CONFIG_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/render/test_golden_trees.py

Self-contained on purpose (stdlib and pytest only): it runs `cloud-config` as a process, the console
script next to sys.executable or else `python -m cloud_config`, with this checkout's src/ first.
"""

from __future__ import annotations

import difflib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "golden"
INPUTS = GOLDEN / "inputs"
MODES = GOLDEN / "modes.txt"
REGEN = "CLOUD_CONFIG_REGEN_GOLDEN"

CHAIN = "test-chain"
TIMESTAMP = "1709695109593"
DOMAINS = ("node0", "node1", "node2", "node3", "node4")
FIRST_FOUR = (
    "8.8.8.8:40000:node0:k8s,8.8.8.8:40001:node1:k8s,8.8.8.8:40002:node2:k8s:cita,rivtower.com:40003:node3"
)
FIFTH = "9.9.9.9:40004:node4"
# init-node flags per node (the rest keep the defaults).
NODE_FLAGS: dict[str, tuple[str, ...]] = {
    "node1": ("--log-level", "debug", "--jaeger-agent-endpoint", "jaeger-agent:6831"),
    "node3": ("--enable-tx-persistence", "--is-danger", "--log-file-path", "/var/log/cita"),
    "node4": ("--disable-metrics", "--network-port", "51000", "--controller-port", "51004"),
}
# update-yaml flags of the k8s nodes.
YAML_FLAGS: dict[str, tuple[str, ...]] = {
    "node0": ("--storage-class", "nfs-client"),
    "node1": (
        "--storage-class",
        "nfs-client",
        "--enable-debug",
        "--pull-policy",
        "Always",
        "--docker-registry",
        "registry.example.com",
    ),
    "node2": (
        "--storage-class",
        "local-path",
        "--access-mode",
        "ReadWriteOnce",
        "--storage-capacity",
        "20Gi",
        "--requests-cpu",
        "100m",
        "--limits-memory",
        "4096Mi",
        "--disable-health-check",
        "--legacy-configmaps",
    ),
}
# Generated files that hold keys: whatever the golden modes say, these must be 0600.
SECRET_NAMES = {"config.toml", "private_key", "key.pem"}
SECRET_YAMLS = {"secret-config.yaml", "secret-account.yaml", "cm-config.yaml", "cm-account.yaml"}
SHOWN_DIFFS = 3  # files whose diff is printed on a mismatch; the others are only named
LONG_LINE = 160


def _command() -> list[str]:
    """The installed console script beside this interpreter, else the package run as a module."""
    script = Path(sys.executable).parent / "cloud-config"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cloud_config"]


def _run(config_dir: Path, *args: str, stdin: str | None = None) -> str:
    """`cloud-config ARGS --chain-name test-chain --config-dir DIR` as a process; its stdout."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [*_command(), *args, "--chain-name", CHAIN, "--config-dir", str(config_dir)],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, f"cloud-config {' '.join(args)} failed:\n{done.stderr}"
    return done.stdout


def _import_account(config_dir: Path, name: str) -> tuple[str, str]:
    """import-account from inputs/accounts/NAME.key (the key goes in on stdin); (node, validator)."""
    key = (INPUTS / "accounts" / f"{name}.key").read_text().strip()
    words = _run(config_dir, "import-account", "--privkey", "-", stdin=key + "\n").split()
    assert words[0] == "node_address:" and words[2] == "validator_address:", words
    return words[1], words[3]


def build(config_dir: Path) -> None:
    """The chain from the fixed inputs and every node folder, through the command line."""
    _run(config_dir, "init-chain")
    _run(config_dir, "init-chain-config", "--timestamp", TIMESTAMP)
    admin, _ = _import_account(config_dir, "admin")
    _run(config_dir, "set-admin", "--admin", admin)
    accounts = {domain: _import_account(config_dir, domain) for domain in DOMAINS}
    for _, validator in accounts.values():
        _run(config_dir, "append-validator", "--validator", validator)
    _run(config_dir, "set-stage", "--stage", "finalize")
    _run(config_dir, "set-nodelist", "--nodelist", FIRST_FOUR)
    _run(config_dir, "append-node", "--node", FIFTH)
    ca = INPUTS / "ca_cert"
    _run(config_dir, "import-ca", "--ca-cert", str(ca / "cert.pem"), "--ca-key", str(ca / "key.pem"))
    for domain in DOMAINS:
        certs = INPUTS / "certs" / domain
        _run(
            config_dir,
            "import-cert",
            *("--domain", domain, "--cert", str(certs / "cert.pem"), "--key", str(certs / "key.pem")),
        )
    for domain, (node_address, _) in accounts.items():
        flags = NODE_FLAGS.get(domain, ())
        _run(config_dir, "init-node", *("--domain", domain, "--account", node_address, *flags))
        _run(config_dir, "update-node", "--domain", domain)
        if domain in YAML_FLAGS:
            _run(config_dir, "update-yaml", "--domain", domain, *YAML_FLAGS[domain])


def node_folders(config_dir: Path) -> list[str]:
    """The node folders the build made, in node-list order."""
    return [f"{CHAIN}-{domain}" for domain in DOMAINS if (config_dir / f"{CHAIN}-{domain}").is_dir()]


def files_of(root: Path, folders: list[str]) -> dict[str, Path]:
    """Every file under the node folders, by its path relative to `root` (posix)."""
    return {
        path.relative_to(root).as_posix(): path
        for folder in folders
        for path in sorted((root / folder).rglob("*"))
        if path.is_file()
    }


def modes_text(files: dict[str, Path]) -> str:
    """modes.txt: one `MODE PATH` line per file, sorted by path."""
    return "".join(
        f"{stat.S_IMODE(path.stat().st_mode):04o} {name}\n" for name, path in sorted(files.items())
    )


def is_secret(name: str) -> bool:
    """Whether `NODE_FOLDER/...` holds key material: config.toml, private_key, TLS key, account, Secret."""
    parts = name.split("/")
    in_yamls = len(parts) == 3 and parts[1] == "yamls" and parts[2] in SECRET_YAMLS
    return parts[-1] in SECRET_NAMES or parts[1] == "accounts" or in_yamls


def regenerate(built: Path, folders: list[str]) -> None:
    """Replace the golden node folders and modes.txt by the ones just built."""
    for old in GOLDEN.glob(f"{CHAIN}-*"):
        shutil.rmtree(old)
    files = files_of(built, folders)
    for name, path in files.items():  # plain files, as a checkout makes them: modes.txt keeps the modes
        (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
        (GOLDEN / name).write_bytes(path.read_bytes())
    MODES.write_text(modes_text(files))


def _clip(line: str, at: int) -> str:
    """A diff line as printed: a long line (the base64 of a Secret) cut to a window around `at`."""
    body, end = (line[:-1], "\n") if line.endswith("\n") else (line, "\n\\ No newline at end of file\n")
    if len(body) <= LONG_LINE:
        return body + end
    start = max(1, at - LONG_LINE // 4)
    window = body[start : start + LONG_LINE]
    return f"{body[0]}[...{start - 1} characters]{window}[...{len(body) - start - len(window)} more]{end}"


def _shown(lines: list[str]) -> str:
    """Print the diff lines; the k-th removed and the k-th added line of a change block are cut
    around the place where they start to differ."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        removed = _run_of(lines, i, "-")
        added = _run_of(lines, i + len(removed), "+")
        if not removed and not added:  # a context line, a hunk header or a file header
            out.append(_clip(lines[i], 0))
            i += 1
            continue
        starts = [_first_difference(a, b) for a, b in zip(removed, added, strict=False)]
        for block in (removed, added):
            out += [_clip(line, starts[k] if k < len(starts) else 0) for k, line in enumerate(block)]
        i += len(removed) + len(added)
    return "".join(out)


def _first_difference(a: str, b: str) -> int:
    return next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def _run_of(lines: list[str], i: int, sign: str) -> list[str]:
    """The removed (`-`) or added (`+`) lines from `i` on, not the `--- `/`+++ ` file headers."""
    run = []
    while i < len(lines) and lines[i].startswith(sign) and not lines[i].startswith(sign * 3 + " "):
        run.append(lines[i])
        i += 1
    return run


def _diff(name: str, want: bytes, got: bytes) -> str:
    """The unified diff of one file, golden first."""
    try:
        want_lines = want.decode("utf-8").splitlines(keepends=True)
        got_lines = got.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return f"--- golden/{name}\n+++ rendered/{name}\n(not UTF-8) {want[:200]!r}\n    vs {got[:200]!r}\n"
    lines = list(difflib.unified_diff(want_lines, got_lines, f"golden/{name}", f"rendered/{name}"))
    return _shown(lines) or f"golden/{name} and rendered/{name} differ\n"


def mismatches(built: Path, folders: list[str]) -> list[str]:
    """What differs between the built folders and the golden ones, diffs of the first files first."""
    got = files_of(built, folders)
    want = files_of(GOLDEN, [p.name for p in sorted(GOLDEN.glob(f"{CHAIN}-*")) if p.is_dir()])
    problems = [f"missing (in golden, not rendered): {name}" for name in sorted(want.keys() - got.keys())]
    problems += [f"extra (rendered, not in golden): {name}" for name in sorted(got.keys() - want.keys())]
    changed = [
        name for name in sorted(want.keys() & got.keys()) if want[name].read_bytes() != got[name].read_bytes()
    ]
    problems += [
        _diff(name, want[name].read_bytes(), got[name].read_bytes()) for name in changed[:SHOWN_DIFFS]
    ]
    problems += [f"also differs: {name}" for name in changed[SHOWN_DIFFS:]]
    if changed:
        problems.insert(0, f"{len(changed)} of {len(want)} golden files differ")
    golden_modes = MODES.read_text() if MODES.exists() else ""
    if want.keys() == got.keys() and modes_text(got) != golden_modes:
        problems.append(_diff("modes.txt", golden_modes.encode(), modes_text(got).encode()))
    return problems


def test_rendered_node_folders_match_the_golden_trees(tmp_path: Path) -> None:
    build(tmp_path)
    folders = node_folders(tmp_path)
    assert folders == [f"{CHAIN}-{domain}" for domain in DOMAINS]
    files = files_of(tmp_path, folders)
    loose = [
        f"{name} is {stat.S_IMODE(p.stat().st_mode):04o}" for name, p in files.items() if is_secret(name)
    ]
    loose = [line for line in loose if not line.endswith(" is 0600")]
    assert not loose, "secret files not 0600:\n" + "\n".join(loose)
    if os.environ.get(REGEN):
        regenerate(tmp_path, folders)
        return
    problems = mismatches(tmp_path, folders)
    if problems:
        pytest.fail(
            f"the rendered trees differ from {GOLDEN.relative_to(ROOT)}; if the change is intended, run\n"
            f"  {REGEN}=1 .venv/bin/python -m pytest tests/render/test_golden_trees.py\n"
            "and review the diff.\n\n" + "\n".join(problems),
            pytrace=False,
        )
