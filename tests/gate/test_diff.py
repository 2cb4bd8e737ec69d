"""`cloud-config diff`: the change of a PR in words, on the walkthrough repo."""

from __future__ import annotations

import re

from tests.support.gate_corpus import ChainRepo, Cli


def diff(cli: Cli, chain: ChainRepo, base: str, head: str = "HEAD", fmt: str = "text") -> str:
    result = cli("diff", "--repo", str(chain.repo), "--base", base, "--head", head, "--format", fmt)
    assert result.code == 0 and result.err == ""
    return result.out


def test_nodes_added(cli: Cli, prepared: ChainRepo) -> None:
    assert diff(cli, prepared, "nodes-p1", "nodes-p2") == (
        "Nodes added:\n  www.node2.com:40002:node2:k8s\n  www.node3.com:40003:node3:k8s\n"
    )


def test_stage_and_admin(cli: Cli, prepared: ChainRepo) -> None:
    admin = re.search(r'admin = "([0-9a-f]{40})"', prepared.git("show", "public:chain_config.toml"))
    assert admin is not None
    assert diff(cli, prepared, "init", "public") == (
        f"Stage:\n  stage Init -> Public\nSystem config:\n  system_config.admin: '' -> '{admin[1]}'\n"
    )


def test_validators_and_members(cli: Cli, prepared: ChainRepo) -> None:
    assert diff(cli, prepared, "members", "validators-p1") == (
        f"Validators added:\n  {prepared.validators['node0']}\n  {prepared.validators['node1']}\n"
    )
    assert diff(cli, prepared, "public", "members") == (
        "Members:\n  p1 added (member; node0, node1; 1 key(s))\n  p2 added (member; node2, node3; 1 key(s))\n"
    )


def test_certificates_issued(cli: Cli, prepared: ChainRepo) -> None:
    out = diff(cli, prepared, "csrs-p2", "certs")
    assert out == "Certificates:\n" + "".join(f"  node{i}: certificate issued\n" for i in range(4))
    assert diff(cli, prepared, "nodes-p2", "ca") == "CA certificate:\n  CA certificate created\n"


def test_moved_removed_image_and_validator_removed(cli: Cli, chain: ChainRepo) -> None:
    chain.pr("certs")
    chain.edit_config('host = "www.node0.com"', 'host = "10.0.0.10"')
    chain.edit_config('tag = "v6.7.4"', 'tag = "v6.7.5"')
    chain.run("delete-node", "--domain", "node3")
    chain.commit("several", "admin")
    assert diff(cli, chain, "certs") == (
        "Micro-service images:\n  consensus_overlord v6.7.4 -> v6.7.5\n"
        "Nodes removed:\n  www.node3.com:40003:node3:k8s\n"
        "Nodes moved or changed:\n  www.node0.com:40000:node0:k8s -> 10.0.0.10:40000:node0:k8s\n"
    )
    chain.pr("validators-p2")
    chain.run("delete-validator", "--validator", chain.validators["node3"])
    chain.commit("p2 shrinks", "p2")
    assert diff(cli, chain, "validators-p2") == f"Validators removed:\n  {chain.validators['node3']}\n"


def test_markdown_for_a_pr_comment(cli: Cli, prepared: ChainRepo) -> None:
    out = diff(cli, prepared, "validators-p2", "nodes-p1", fmt="markdown")
    assert out == (
        "### Chain configuration changes\n\n**Stage**\n- stage Public -> Finalize\n\n"
        "**Nodes added**\n- www.node0.com:40000:node0:k8s\n- www.node1.com:40001:node1:k8s\n"
    )


def test_no_change(cli: Cli, prepared: ChainRepo) -> None:
    assert diff(cli, prepared, "certs", "certs") == "no change to the chain configuration\n"
    assert diff(cli, prepared, "certs", "certs", fmt="markdown").endswith(
        "No change to the chain configuration.\n"
    )


def test_bad_revision(cli: Cli, prepared: ChainRepo) -> None:
    result = cli("diff", "--repo", str(prepared.repo), "--base", "nope", "--head", "HEAD")
    assert result.code == 2 and result.err.startswith("error: --base: 'nope' is not a commit")
