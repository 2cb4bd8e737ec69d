"""`cloud-config merge-driver` as git runs it: a real `git rebase` of parallel appends."""

from __future__ import annotations

import subprocess
import sys

from tests.support.cli import SRC
from tests.support.gate_corpus import ChainRepo, Cli, verify_json


def _enable_driver(chain: ChainRepo) -> None:
    """docs/verify.md's lines: the driver in the repo config, the attributes for both files."""
    driver = f"env PYTHONPATH={SRC} {sys.executable} -m cloud_config merge-driver %O %A %B %L %P"
    chain.git("config", "merge.cloud-config.name", "cloud-config: chain data")
    chain.git("config", "merge.cloud-config.driver", driver)
    attributes = chain.repo / ".git" / "info" / "attributes"
    attributes.parent.mkdir(exist_ok=True)
    attributes.write_text("chain_config.toml merge=cloud-config\nmembers.toml merge=cloud-config\n")


def _rebase(chain: ChainRepo, onto: str, signer: str) -> subprocess.CompletedProcess[str]:
    key = str(chain.people[signer].key)
    argv = ["git", "-C", str(chain.repo), "-c", "gpg.format=ssh", "-c", f"user.signingkey={key}",
            "rebase", "-q", "--gpg-sign", onto]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def test_two_validator_appends_rebase_without_conflict(cli: Cli, chain: ChainRepo) -> None:
    chain.parallel_validator_branches()
    plain = _rebase(chain, "p1-pr", "p2")
    assert plain.returncode != 0  # without the driver: the one-line array conflicts
    chain.git("rebase", "--abort")
    _enable_driver(chain)
    done = _rebase(chain, "p1-pr", "p2")
    assert done.returncode == 0, done.stderr
    text = (chain.repo / "chain_config.toml").read_text()
    assert chain.validators["node0"] in text and chain.validators["node2"] in text
    assert "<<<<<<<" not in text
    from cloud_config.model.chain import ChainConfig

    loaded = ChainConfig.loads(text, "chain_config.toml")
    assert loaded.system_config.validators == [chain.validators["node0"], chain.validators["node2"]]
    assert loaded.dumps() == text  # the canonical layout
    code, report = verify_json(cli, chain, "p1-pr")  # the rebased, re-signed PR passes the gate
    assert code == 0, report


def test_node_moved_two_ways_is_left_as_a_conflict(chain: ChainRepo) -> None:
    chain.git("checkout", "-q", "-b", "one", "certs")
    chain.edit_config('host = "www.node0.com"', 'host = "10.0.0.1"')
    chain.commit("node0 here", "p1")
    chain.git("checkout", "-q", "-b", "two", "certs")
    chain.edit_config('host = "www.node0.com"', 'host = "10.0.0.2"')
    chain.commit("node0 there", "p1")
    _enable_driver(chain)
    done = _rebase(chain, "one", "p1")
    assert done.returncode != 0
    text = (chain.repo / "chain_config.toml").read_text()
    assert text.startswith("# cloud-config merge-driver: CONFLICT in node_network_address_list[node0].host")
    assert "<<<<<<< " in text and "10.0.0.1" in text and "10.0.0.2" in text
    chain.git("rebase", "--abort")


def test_members_merge_as_keyed_sets(cli: Cli, chain: ChainRepo) -> None:
    """Two admins' member changes from one base: a new member on one side, a new key on the other."""
    flags = ("--chain-name", "gitops-test-chain", "--config-dir", str(chain.workspace))
    chain.git("checkout", "-q", "-b", "one", "certs")
    assert cli("member", "add", "--name", "p3", "--ssh-key", chain.people["p3"].public, *flags).code == 0
    chain.commit("p3 joins", "admin")
    chain.git("checkout", "-q", "-b", "two", "certs")
    assert cli("member", "add", "--name", "p1", "--domain", "node4", *flags).code == 0
    chain.commit("p1 gets node4", "admin")
    _enable_driver(chain)
    done = _rebase(chain, "one", "admin")
    assert done.returncode == 0, done.stderr
    listed = cli("member", "list", *flags).out
    assert "p3" in listed and "node4" in listed
