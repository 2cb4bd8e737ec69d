"""--format json: every document parses, is stable, and has exactly the keys docs/cli.md shows."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import ROOT

ADMIN = "ab" * 20
KEY = "60e7b47ee260516dbfedf8e80ff38830bae8663cc498a900a610c147cae94344"


def documented() -> dict[str, dict[str, Any]]:
    """`### \\`verb\\`` heading -> its JSON example, from docs/cli.md."""
    text = (ROOT / "docs" / "cli.md").read_text()
    found = {}
    for match in re.finditer(r"^### (.+?)\n.*?^```json\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        example = json.loads(match.group(2))
        for verb in re.findall(r"`([^`]+)`", match.group(1)):
            found[verb] = example
    return found


def shape(value: Any) -> Any:
    """The keys of a document, recursively (lists by their first element)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def same_shape(doc: Any, actual: Any) -> bool:
    """Documented keys in the same order; an empty documented or actual list matches any list."""
    if isinstance(doc, dict):
        return (
            isinstance(actual, dict)
            and list(doc) == list(actual)
            and all(same_shape(doc[k], actual[k]) for k in doc)
        )
    if isinstance(doc, list):
        return isinstance(actual, list) and (not doc or not actual or same_shape(doc[0], actual[0]))
    return bool(doc == actual)


def test_every_json_verb_is_documented() -> None:
    assert set(documented()) >= {"new-account", "import-account", "create", "append", "member list", "diff"}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Each verb's --format json output, run twice where that is meaningful."""
    from cloud_config.cli.main import main

    root = tmp_path_factory.mktemp("json")
    cfg = ["--config-dir", str(root)]
    got: dict[str, list[str]] = {}

    def run(name: str, *args: str) -> None:
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main([*args, *cfg, "--format", "json", "-q"]) == 0
        got.setdefault(name, []).append(out.getvalue())

    run("create", "create", "--admin", ADMIN, "--nodelist", "1.1.1.1:40000:node0:k8s,h:40001:node1")
    run("append", "append", "--node", "3.3.3.3:40000:node2:k8s")
    run("new-account", "new-account")
    run("import-account", "import-account", "--privkey", KEY)
    run("import-account", "import-account", "--privkey", KEY)
    assert main(["member", "add", "--name", "alice", "--domain", "node0", *cfg, "-q"]) == 0
    run("member list", "member", "list")
    run("member list", "member", "list")
    repo = root / "test-chain"
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "base"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True)
    assert main(["delete-node", "--domain", "node2", *cfg, "-q"]) == 0
    subprocess.run(["git", "-C", str(repo), "commit", "-qam", "head"], check=True)
    got["diff"] = []
    for _ in range(2):
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            main(["diff", "--repo", str(repo), "--base", "HEAD~1", "--head", "HEAD", "--format", "json"])
        got["diff"].append(out.getvalue())
    return got


@pytest.mark.parametrize("verb", ["new-account", "import-account", "create", "append", "member list", "diff"])
def test_json_parses_and_matches_the_docs(outputs: dict[str, list[str]], verb: str) -> None:
    docs = documented()
    for text in outputs[verb]:
        data = json.loads(text)
        assert data["version"] == 1
        assert same_shape(shape(docs[verb]), shape(data)), (verb, shape(data))
    if len(outputs[verb]) == 2:
        assert outputs[verb][0] == outputs[verb][1]  # stable


def test_json_carries_the_facts(outputs: dict[str, list[str]]) -> None:
    create = json.loads(outputs["create"][0])
    assert [n["domain"] for n in create["nodes"]] == ["node0", "node1"]
    append = json.loads(outputs["append"][0])
    assert append["nodes"][0]["domain"] == "node2" and "not a validator" in append["warnings"][0]
    imported = json.loads(outputs["import-account"][0])
    assert imported["node_address"] == "097913007f2c8d9ac87f89664fc70977fee6bf9a"
    assert Path(imported["account_dir"]).name == imported["node_address"]
    diff = json.loads(outputs["diff"][0])
    assert {"kind": "node-removed", "subject": "node2", "detail": "3.3.3.3:40000:node2:k8s"} in diff[
        "changes"
    ]
    members = json.loads(outputs["member list"][0])["members"]
    assert members == [
        {"name": "alice", "role": "member", "domains": ["node0"], "validators": [], "ssh_keys": []}
    ]
