"""The Pod Security Standards' "baseline" and "restricted" levels, field by field.

Rules as written in the Kubernetes docs, https://kubernetes.io/docs/concepts/security/pod-security-standards/
(the "Baseline" and "Restricted" tables: each control names the fields and their allowed values).
`violations(pod_spec)` returns one line per field that breaks a rule, `[]` for a restricted pod.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Obj = dict[str, Any]

# Baseline "Capabilities": what `add` may hold.
BASELINE_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip
# Baseline "Sysctls": the safe set.
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}  # fmt: skip
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
# Restricted "Volume Types": the only volume sources allowed.
RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret",
}  # fmt: skip
SECCOMP_OK = {"RuntimeDefault", "Localhost"}


def _containers(spec: Obj) -> Iterator[tuple[str, Obj]]:
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for i, c in enumerate(spec.get(kind, [])):
            yield f"spec.{kind}[{i}]({c.get('name')})", c


def baseline(spec: Obj) -> list[str]:
    """The Baseline level's controls."""
    out: list[str] = []
    pod_sc = spec.get("securityContext", {})
    if pod_sc.get("windowsOptions", {}).get("hostProcess"):
        out.append("spec.securityContext.windowsOptions.hostProcess must be unset or false")
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            out.append(f"spec.{field} must be unset or false")
    for i, volume in enumerate(spec.get("volumes", [])):
        if "hostPath" in volume:
            out.append(f"spec.volumes[{i}].hostPath must be unset")
    for sysctl in pod_sc.get("sysctls", []):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            out.append(f"spec.securityContext.sysctls {sysctl.get('name')} is not in the safe set")
    contexts = [("spec.securityContext", pod_sc)]
    for where, c in _containers(spec):
        sc = c.get("securityContext", {})
        contexts.append((f"{where}.securityContext", sc))
        if sc.get("windowsOptions", {}).get("hostProcess"):
            out.append(f"{where}.securityContext.windowsOptions.hostProcess must be unset or false")
        if sc.get("privileged"):
            out.append(f"{where}.securityContext.privileged must be unset or false")
        added = set(sc.get("capabilities", {}).get("add", [])) - BASELINE_CAPABILITIES
        if added:
            out.append(f"{where}.securityContext.capabilities.add has {sorted(added)}")
        for port in c.get("ports", []):
            if port.get("hostPort"):
                out.append(f"{where}.ports hostPort must be unset or 0")
        if sc.get("procMount", "Default") != "Default":
            out.append(f"{where}.securityContext.procMount must be unset or Default")
    for where, sc in contexts:
        apparmor = sc.get("appArmorProfile", {}).get("type")
        if apparmor not in (None, "RuntimeDefault", "Localhost"):
            out.append(f"{where}.appArmorProfile.type must be unset, RuntimeDefault or Localhost")
        selinux = sc.get("seLinuxOptions", {})
        if selinux.get("type", "") not in SELINUX_TYPES or "user" in selinux or "role" in selinux:
            out.append(f"{where}.seLinuxOptions: type limited, user and role unset")
        seccomp = sc.get("seccompProfile", {}).get("type")
        if seccomp == "Unconfined":
            out.append(f"{where}.seccompProfile.type must not be Unconfined")
    return out


def restricted(spec: Obj) -> list[str]:
    """The Restricted level: Baseline's controls and its own."""
    out = baseline(spec)
    pod_sc = spec.get("securityContext", {})
    for i, volume in enumerate(spec.get("volumes", [])):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            out.append(f"spec.volumes[{i}] is {sorted(kinds)}, not an allowed volume type")
    if pod_sc.get("runAsUser") == 0:
        out.append("spec.securityContext.runAsUser must not be 0")
    pod_non_root = pod_sc.get("runAsNonRoot") is True
    pod_seccomp = pod_sc.get("seccompProfile", {}).get("type") in SECCOMP_OK
    for where, c in _containers(spec):
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{where}.securityContext.allowPrivilegeEscalation must be false")
        non_root = sc.get("runAsNonRoot")
        if non_root is False or (non_root is None and not pod_non_root):
            out.append(f"{where}: runAsNonRoot must be true (on the pod or the container)")
        if sc.get("runAsUser") == 0:
            out.append(f"{where}.securityContext.runAsUser must not be 0")
        seccomp = sc.get("seccompProfile", {}).get("type")
        if (seccomp is None and not pod_seccomp) or (seccomp is not None and seccomp not in SECCOMP_OK):
            out.append(f"{where}: seccompProfile.type must be RuntimeDefault or Localhost")
        caps = sc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []):
            out.append(f"{where}.securityContext.capabilities.drop must include ALL")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            out.append(f"{where}.securityContext.capabilities.add may only hold NET_BIND_SERVICE")
    return out
