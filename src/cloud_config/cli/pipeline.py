"""Verbs of the pipeline group: reconcile, serve, argocd-app, demo."""

from __future__ import annotations

import argparse

from cloud_config.cli.common import Subparsers, add_command, add_verb, layout


def register(sub: Subparsers) -> None:
    """Add this group's verbs."""
    p = add_command(
        sub,
        "reconcile",
        "re-render a node repo from the chain repo's head; commit and push on change",
        run_reconcile,
    )
    p.add_argument("--chain-repo", required=True, help="URL or path of the chain repo")
    p.add_argument("--chain-branch", default="master", help="the chain repo's branch (default: %(default)s)")
    p.add_argument("--node-repo", required=True, help="URL or path of the node repo")
    p.add_argument("--node-branch", default="master", help="the node repo's branch (default: %(default)s)")
    p.add_argument("--domain", required=True, help="the node's domain")
    p.add_argument(
        "--chain-name", default=None, help="chain name (default: the one in the node repo's node_config.toml)"
    )
    p.add_argument(
        "--workdir", default=None, help="where clones are cached (default: ~/.cache/cloud-config/reconcile)"
    )
    p.add_argument(
        "--age-identity-file",
        default=None,
        help="age identity file that decrypts a node repo encrypted at rest (default: SOPS_AGE_KEY_FILE)",
    )
    p.add_argument(
        "--trust-root",
        default=None,
        help="chain commit to start the receipt check from when the node repo has no Chain-Commit "
        "trailer yet (or a newer one, to re-anchor after a review)",
    )
    p.add_argument("--require-members", action="store_true", help="refuse a chain repo without members.toml")
    p.add_argument("--signing-key", default=None, help="GnuPG key id that signs the node commits (OpenPGP)")

    p = add_command(sub, "serve", "webhook service: reconcile node repos on chain pushes", run_serve)
    p.add_argument("--config", required=True, help="the service's TOML file")
    p.add_argument("--listen", default=None, help="host:port to listen on (default: the file's `listen`)")

    p = add_verb(
        sub,
        "argocd-app",
        "print the Argo CD Application (or Flux) for a node repo",
        run_argocd_app,
    )
    p.add_argument("--domain", required=True, help="the node's domain")
    p.add_argument("--repo-url", required=True, help="the node repo's URL")
    p.add_argument(
        "--path",
        default=".",
        help="folder of kustomization.yaml in the node repo (default: %(default)s; 6.7.4's was yamls)",
    )
    p.add_argument("--project", default="default", help="Argo CD project (default: %(default)s)")
    p.add_argument(
        "--namespace",
        default=None,
        help="namespace of the Application (default: argocd) or of the Flux objects (flux-system)",
    )
    p.add_argument("--revision", default="master", help="branch to follow (default: %(default)s)")
    p.add_argument(
        "--dest-server",
        default="https://kubernetes.default.svc",
        help="cluster API URL (default: %(default)s)",
    )
    p.add_argument(
        "--dest-namespace", default="default", help="namespace to deploy into (default: %(default)s)"
    )
    p.add_argument("--flux", action="store_true", help="print a Flux GitRepository + Kustomization instead")
    p.add_argument(
        "--sops-secret",
        default=None,
        help="Flux: Secret holding the age identity (`<name>.agekey`) that decrypts the node's secrets "
        "(default: sops-age when the node folder is encrypted at rest)",
    )
    p.add_argument(
        "--notify-url",
        default=None,
        help="serve's /notify/argocd/<pipeline> (or /notify/flux/<pipeline>) URL: also print the "
        "subscription and the argocd-notifications-cm patch (or the Flux Provider and Alert)",
    )
    p.add_argument(
        "--verify-key",
        default=None,
        help="sync only commits signed with this OpenPGP key: a key id / fingerprint, or an armored "
        "public key file (adds the Argo CD AppProject, or Flux's spec.verify and key Secret)",
    )

    p = add_command(
        sub,
        "demo",
        "replay the walkthrough on a local forge (git over HTTP, webhooks)",
        run_demo,
    )
    p.add_argument("--workdir", default=None, help="work folder (default: a temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the work folder and print where it is")
    p.add_argument(
        "--encrypt", action="store_true", help="encrypt the node repos' secrets at rest (SOPS + age)"
    )
    p.add_argument(
        "--leave", action="store_true", help="a last act: participant 3 leaves (member leave, one admin PR)"
    )


def run_reconcile(args: argparse.Namespace) -> int:
    """reconcile."""
    import sys
    from pathlib import Path

    from cloud_config.pipeline.reconcile import Target, default_workdir, reconcile

    target = Target(
        chain_repo=args.chain_repo,
        node_repo=args.node_repo,
        domain=args.domain,
        chain_branch=args.chain_branch,
        node_branch=args.node_branch,
        chain_name=args.chain_name,
        age_identity_file=Path(args.age_identity_file) if args.age_identity_file else None,
        trust_root=args.trust_root,
        require_members=args.require_members,
        signing_key=args.signing_key,
    )
    workdir = Path(args.workdir) if args.workdir else default_workdir()
    outcome = reconcile(target, workdir)
    for warning in outcome.warnings:
        print(f"warning: {args.domain}: {warning}", file=sys.stderr)
    print(outcome.line())
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """serve."""
    import logging
    from pathlib import Path

    from cloud_config.pipeline.service_config import load_config
    from cloud_config.pipeline.service_http import make_app, run_until_stopped

    config = load_config(Path(args.config))
    server = make_app(config, listen=args.listen)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    print(f"listening on {server.url}", flush=True)
    if server.status_server is not None:
        print(f"status page on {server.status_server.url}/", flush=True)
    run_until_stopped(server, server.service)
    return 0


def run_argocd_app(args: argparse.Namespace) -> int:
    """argocd-app."""
    from cloud_config.app.delivery import delivery_objects
    from cloud_config.render.argocd import AppSpec, to_yaml

    key_id, public_key = None, None
    if args.verify_key is not None:
        from cloud_config.pipeline.signing import verify_key

        key_id, public_key = verify_key(args.verify_key)

    spec = AppSpec(
        chain_name=args.chain_name,
        domain=args.domain,
        repo_url=args.repo_url,
        path=args.path,
        revision=args.revision,
        dest_server=args.dest_server,
        dest_namespace=args.dest_namespace,
        sops_secret=args.sops_secret,
        project=args.project,
        namespace=args.namespace or "",
        verify_key_id=key_id,
        verify_public_key=public_key,
    )
    docs = delivery_objects(layout(args), spec, args.flux, args.notify_url)
    print(to_yaml(docs), end="")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    """demo."""
    from pathlib import Path

    from cloud_config.demo.walkthrough import run_demo as demo

    def say(line: str) -> None:
        print(line, flush=True)

    return demo(
        Path(args.workdir) if args.workdir else None,
        keep=args.keep,
        say=say,
        encrypt=args.encrypt,
        leave=args.leave,
    )
