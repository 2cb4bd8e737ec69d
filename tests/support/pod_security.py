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
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
    "secret",
}  # fmt: skip
SECCOMP_OK = {"RuntimeDefault", "Localhost"}


def _containers(spec: Obj) -> Iterator[tuple[str, Obj]]:
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for i, c in enumerate(spec.get(kind, [])):
            yield f"spec.{kind}[{i}]({c.get('name')})", c


def baseline(spec: Obj) -> list[str]:
    """The Baseline level's controls."""
    pod_sc = spec.get("securityContext", {})
    out = _pod_baseline(spec, pod_sc) + _context_baseline("spec.securityContext", pod_sc)
    for where, c in _containers(spec):
        sc = c.get("securityContext", {})
        out += _container_baseline(where, c, sc) + _context_baseline(f"{where}.securityContext", sc)
    return out


def _pod_baseline(spec: Obj, pod_sc: Obj) -> list[str]:
    """HostProcess, Host Namespaces, HostPath Volumes, Sysctls."""
    out = [f"spec.{f} must be unset or false" for f in ("hostNetwork", "hostPID", "hostIPC") if spec.get(f)]
    if pod_sc.get("windowsOptions", {}).get("hostProcess"):
        out.append("spec.securityContext.windowsOptions.hostProcess must be unset or false")
    volumes = enumerate(spec.get("volumes", []))
    out += [f"spec.volumes[{i}].hostPath must be unset" for i, v in volumes if "hostPath" in v]
    names = [s.get("name") for s in pod_sc.get("sysctls", [])]
    out += [
        f"spec.securityContext.sysctls {n} is not in the safe set" for n in names if n not in SAFE_SYSCTLS
    ]
    return out


def _container_baseline(where: str, c: Obj, sc: Obj) -> list[str]:
    """HostProcess, Privileged Containers, Capabilities, Host Ports, /proc Mount Type."""
    out = []
    if sc.get("windowsOptions", {}).get("hostProcess"):
        out.append(f"{where}.securityContext.windowsOptions.hostProcess must be unset or false")
    if sc.get("privileged"):
        out.append(f"{where}.securityContext.privileged must be unset or false")
    added = set(sc.get("capabilities", {}).get("add", [])) - BASELINE_CAPABILITIES
    if added:
        out.append(f"{where}.securityContext.capabilities.add has {sorted(added)}")
    if any(port.get("hostPort") for port in c.get("ports", [])):
        out.append(f"{where}.ports hostPort must be unset or 0")
    if sc.get("procMount", "Default") != "Default":
        out.append(f"{where}.securityContext.procMount must be unset or Default")
    return out


def _context_baseline(where: str, sc: Obj) -> list[str]:
    """AppArmor, SELinux, Seccomp, on the pod's or a container's securityContext."""
    out = []
    if sc.get("appArmorProfile", {}).get("type") not in (None, "RuntimeDefault", "Localhost"):
        out.append(f"{where}.appArmorProfile.type must be unset, RuntimeDefault or Localhost")
    selinux = sc.get("seLinuxOptions", {})
    if selinux.get("type", "") not in SELINUX_TYPES or "user" in selinux or "role" in selinux:
        out.append(f"{where}.seLinuxOptions: type limited, user and role unset")
    if sc.get("seccompProfile", {}).get("type") == "Unconfined":
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
