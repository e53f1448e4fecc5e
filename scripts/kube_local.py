"""A throwaway Kubernetes control plane on 127.0.0.1 for the chart's cluster tests.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (simulated nodes: it
marks scheduled pods Running and Ready, and pods of Jobs Succeeded) are built from the Go
module proxy by the wrapper module deploy/local/kube (one ``go install``, binaries cached in
var/kube/<version>/), then started on free loopback ports with a temporary data directory,
certificates made here (cryptography), a static token (system:masters) and RBAC.

    uv run python scripts/kube_local.py build            # build the five binaries (cached)
    uv run python scripts/kube_local.py build --apiserver-only
    uv run python scripts/kube_local.py up               # start, print KUBECONFIG, Ctrl-C stops

Tests use :class:`Cluster` as a context manager (tests/helm_cluster); everything it started is
stopped (SIGTERM, then SIGKILL after 20 s) and its directory removed when the block ends.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import datetime
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parents[1]
MODULE_DIR = REPO / "deploy" / "local" / "kube"
#: Keep in step with k8s.io/kubernetes in deploy/local/kube/go.mod (stamped into the binaries:
#: the chart's kubeVersion check and helm's capabilities read it from /version).
KUBE_VERSION = "v1.36.3"
BIN_DIR = REPO / "var" / "kube" / KUBE_VERSION
RUN_ROOT = REPO / "var" / "kube" / "run"
#: Binary name -> package built by the wrapper module.
PACKAGES = {
    "etcd": "./etcd",
    "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
    "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
    "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
    "kwok": "sigs.k8s.io/kwok/cmd/kwok",
}
APISERVER_ONLY = ("etcd", "kube-apiserver")
SERVICE_CIDR = "10.96.0.0/16"  # addresses handed to Services only; nothing listens on them
STOP_GRACE_S = 20.0

T = TypeVar("T")


def log(message: str) -> None:
    print(f"[kube] {message}", file=sys.stderr, flush=True)


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"/usr/local/go/bin:{env.get('PATH', '')}"
    env["CGO_ENABLED"] = "0"
    env["GOFLAGS"] = "-mod=mod"
    return env


def _ldflags() -> str:
    major, minor = KUBE_VERSION.lstrip("v").split(".")[:2]
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={KUBE_VERSION}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate=1970-01-01T00:00:00Z",
        ]
    return " ".join(flags)


def _stale(binary: Path) -> bool:
    if not binary.exists():
        return True
    built = binary.stat().st_mtime
    return any(p.stat().st_mtime > built for p in MODULE_DIR.rglob("*") if p.is_file())


def build(names: tuple[str, ...] = tuple(PACKAGES)) -> Path:
    """``go install`` the named binaries into var/kube/<version>/ unless built and current."""
    missing = [n for n in names if _stale(BIN_DIR / n)]
    if not missing:
        return BIN_DIR
    if shutil.which("go", path=_go_env()["PATH"]) is None:
        raise SystemExit("[kube] Go is needed to build the local control plane")
    log(f"building {', '.join(missing)} {KUBE_VERSION} from the Go module proxy (minutes, once)")
    start = time.monotonic()
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    # Build into a private dir, then move: a half-written binary is never left in BIN_DIR.
    with tempfile.TemporaryDirectory(dir=BIN_DIR.parent, prefix=".build-") as tmp:
        subprocess.run(
            ["go", "install", "-trimpath", "-ldflags", _ldflags(), *(PACKAGES[n] for n in missing)],
            cwd=MODULE_DIR,
            env={**_go_env(), "GOBIN": tmp},
            check=True,
        )
        for name in missing:
            os.replace(Path(tmp) / name, BIN_DIR / name)
    log(f"built {', '.join(missing)} in {time.monotonic() - start:.0f} s")
    return BIN_DIR


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def until(what: str, check: Callable[[], T | None], timeout_s: float, every_s: float = 0.25) -> T:
    """Poll ``check`` until it returns something truthy (generous bounds, no fixed sleeps)."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except (httpx.HTTPError, OSError) as error:
            last_error, result = error, None
        if result:
            return result
        time.sleep(every_s)
    raise TimeoutError(f"{what}: not within {timeout_s:.0f} s (last error: {last_error})")


# --- certificates -------------------------------------------------------------------------


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _certificate(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None,
    sans: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _write_pki(directory: Path) -> None:
    """CA, the API server's serving certificate (127.0.0.1, the in-cluster names) and the
    service-account signing key pair."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca = _certificate("crm-local-kube-ca", ca_key, None)
    service_ip = next(ipaddress.IPv4Network(SERVICE_CIDR).hosts())
    sans: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(service_ip),
        x509.DNSName("localhost"),
        *(x509.DNSName(n) for n in ("kubernetes", "kubernetes.default", "kubernetes.default.svc")),
    ]
    server_key = _key()
    server = _certificate("kube-apiserver", server_key, (ca, ca_key), sans)
    sa_key = _key()
    (directory / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "apiserver.crt").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (directory / "apiserver.key").write_bytes(_pem_key(server_key))
    (directory / "sa.key").write_bytes(_pem_key(sa_key))
    (directory / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


# --- kwok stages --------------------------------------------------------------------------

#: ``helm test`` pods: kwok's own stages mark a pod Running and only pods of a Job Succeeded;
#: a test hook pod is a bare pod, so it is completed like a Job's pod once it runs.
HELM_TEST_POD_STAGE = """\
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: helm-test-pod-complete
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values: ['Running']
    - key: '.metadata.annotations."helm.sh/hook"'
      operator: 'In'
      values: ['test', 'test-success']
  next:
    statusTemplate: |
      {{ $now := Now }}
      containerStatuses:
      {{ range $index, $item := .spec.containers }}
      - image: {{ $item.image | Quote }}
        name: {{ $item.name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated:
            exitCode: 0
            finishedAt: {{ $now | Quote }}
            reason: Completed
            startedAt: {{ $now | Quote }}
      {{ end }}
      phase: Succeeded
"""


def kwok_stages() -> str:
    """kwok's own "fast" stages (from the module the binary was built from) plus ours."""
    module_dir = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok"],
        cwd=MODULE_DIR,
        env=_go_env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    stage_dir = Path(module_dir) / "kustomize" / "stage"
    files = [
        stage_dir / "node" / "fast" / "node-initialize.yaml",
        stage_dir / "pod" / "fast" / "pod-ready.yaml",
        stage_dir / "pod" / "fast" / "pod-complete.yaml",
        stage_dir / "pod" / "fast" / "pod-delete.yaml",
    ]
    return "\n---\n".join([*(f.read_text() for f in files), HELM_TEST_POD_STAGE])


# --- the cluster --------------------------------------------------------------------------

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the Python process that started it dies,
    even by SIGKILL (a killed test run leaves no control plane behind)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Cluster:
    """etcd + kube-apiserver (+ controller-manager, scheduler, kwok and fake nodes unless
    ``apiserver_only``) on loopback; use as a context manager."""

    apiserver_only: bool = False
    nodes: int = 3
    volumes: int = 6
    directory: Path = field(init=False)
    port: int = field(init=False)
    token: str = field(init=False)
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(init=False, default_factory=list)
    client: httpx.Client = field(init=False)
    _resources: dict[tuple[str, str], tuple[str, bool]] = field(init=False, default_factory=dict)

    @property
    def kubeconfig(self) -> Path:
        return self.directory / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def __enter__(self) -> Cluster:
        bins = build(APISERVER_ONLY if self.apiserver_only else tuple(PACKAGES))
        RUN_ROOT.mkdir(parents=True, exist_ok=True)
        self.directory = Path(tempfile.mkdtemp(prefix="cluster-", dir=RUN_ROOT))
        try:
            self._start(bins)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, name: str, argv: list[str]) -> None:
        log_file = (self.directory / f"{name}.log").open("wb")
        process = subprocess.Popen(
            argv,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        log_file.close()
        self.processes.append((name, process))

    def _check_alive(self) -> None:
        for name, process in self.processes:
            if process.poll() is not None:
                tail = (self.directory / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")

    def _start(self, bins: Path) -> None:
        started = time.monotonic()
        pki = self.directory / "pki"
        _write_pki(pki)
        self.token = secrets.token_hex(16)
        (pki / "tokens.csv").write_text(f'{self.token},admin,admin-uid,"system:masters"\n')

        etcd_client, etcd_peer = free_port(), free_port()
        self._spawn(
            "etcd",
            [
                str(bins / "etcd"),
                "--name=default",
                f"--data-dir={self.directory / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_client}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_client}",
                f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-cluster=default=http://127.0.0.1:{etcd_peer}",
                "--unsafe-no-fsync",  # throwaway data
                "--log-level=warn",
            ],
        )

        def etcd_healthy() -> bool:
            self._check_alive()
            response = httpx.get(f"http://127.0.0.1:{etcd_client}/health", timeout=2)
            return response.status_code == 200 and '"health":"true"' in response.text

        until("etcd healthy", etcd_healthy, 60)

        self.port = free_port()
        self._spawn(
            "kube-apiserver",
            [
                str(bins / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{etcd_client}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.port}",
                f"--cert-dir={pki}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--token-auth-file={pki / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                # No Endpoints for the `kubernetes` Service: a loopback address is refused there.
                "--endpoint-reconciler-type=none",
                "--profiling=false",
                "--v=0",
            ],
        )
        self.client = httpx.Client(
            base_url=self.server,
            verify=ssl.create_default_context(cafile=str(pki / "ca.crt")),
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )

        def apiserver_ready() -> bool:
            self._check_alive()
            return self.client.get("/readyz").status_code == 200

        until("kube-apiserver ready", apiserver_ready, 120)
        self._write_kubeconfig(pki)
        elapsed = time.monotonic() - started
        log(f"kube-apiserver {KUBE_VERSION} ready on {self.server} in {elapsed:.1f} s")
        if self.apiserver_only:
            return

        common = [f"--kubeconfig={self.kubeconfig}", "--leader-elect=false"]
        self._spawn(
            "kube-controller-manager",
            [
                str(bins / "kube-controller-manager"),
                *common,
                "--secure-port=0",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--use-service-account-credentials=false",
                "--concurrent-deployment-syncs=10",
                "--concurrent-replicaset-syncs=10",
                "--concurrent-job-syncs=10",
                "--v=0",
            ],
        )
        self._spawn(
            "kube-scheduler", [str(bins / "kube-scheduler"), *common, "--secure-port=0", "--v=0"]
        )
        (self.directory / "kwok.yaml").write_text(kwok_stages())
        self._spawn(
            "kwok",
            [
                str(bins / "kwok"),
                f"--kubeconfig={self.kubeconfig}",
                f"--config={self.directory / 'kwok.yaml'}",
                "--manage-all-nodes=true",
                "--node-lease-duration-seconds=40",
            ],
        )
        for index in range(self.nodes):
            self.create(
                "/api/v1/nodes",
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {
                        "name": f"kwok-node-{index}",
                        "annotations": {"kwok.x-k8s.io/node": "fake"},
                        "labels": {
                            "kubernetes.io/hostname": f"kwok-node-{index}",
                            "kubernetes.io/os": "linux",
                            "kubernetes.io/arch": "amd64",
                            "topology.kubernetes.io/zone": f"zone-{'abc'[index % 3]}",
                            "type": "kwok",
                        },
                    },
                    "status": {
                        "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                        "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                    },
                },
            )

        # Pre-provisioned volumes (no provisioner here) for the StatefulSets' claims; nothing
        # mounts them: kwok runs no containers.
        for index in range(self.volumes):
            self.create(
                "/api/v1/persistentvolumes",
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolume",
                    "metadata": {"name": f"kwok-volume-{index}"},
                    "spec": {
                        "capacity": {"storage": "100Gi"},
                        "accessModes": ["ReadWriteOnce"],
                        "persistentVolumeReclaimPolicy": "Retain",
                        "hostPath": {"path": f"/kwok-volumes/{index}"},
                    },
                },
            )

        def nodes_ready() -> bool:
            self._check_alive()
            items = self.list("/api/v1/nodes")
            ready = [
                n
                for n in items
                for c in n.get("status", {}).get("conditions", [])
                if c["type"] == "Ready" and c["status"] == "True"
            ]
            return len(ready) == self.nodes

        until("kwok nodes Ready", nodes_ready, 120)

        def default_service_account() -> bool:
            self._check_alive()
            return self.client.get("/api/v1/namespaces/default/serviceaccounts/default").is_success

        until("controller-manager running (default ServiceAccount)", default_service_account, 120)
        elapsed = time.monotonic() - started
        log(f"control plane with {self.nodes} kwok nodes ready in {elapsed:.1f} s")

    def _write_kubeconfig(self, pki: Path) -> None:
        ca = base64.b64encode((pki / "ca.crt").read_bytes()).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "local",
                    "cluster": {"server": self.server, "certificate-authority-data": ca},
                }
            ],
            "users": [{"name": "admin", "user": {"token": self.token}}],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": "admin"}}],
            "current-context": "local",
        }
        self.kubeconfig.write_text(yaml.safe_dump(config))
        self.kubeconfig.chmod(0o600)

    def stop(self) -> None:
        """SIGTERM in reverse start order, SIGKILL a process still alive after the grace."""
        with contextlib.suppress(AttributeError):
            self.client.close()
        # One at a time: the API server shuts down fast while etcd still answers.
        for _, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        if hasattr(self, "directory") and not os.environ.get("KUBE_LOCAL_KEEP"):
            shutil.rmtree(self.directory, ignore_errors=True)

    # --- API helpers -------------------------------------------------------------------

    def resource_path(self, api_version: str, kind: str, namespace: str) -> str:
        """Collection path of ``kind`` (namespaced ones in ``namespace``), from discovery."""
        key = (api_version, kind)
        if key not in self._resources:
            base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            response = self.client.get(base)
            response.raise_for_status()
            for resource in response.json()["resources"]:
                if "/" not in resource["name"]:
                    self._resources[(api_version, resource["kind"])] = (
                        f"{base}/{resource['name']}",
                        bool(resource["namespaced"]),
                    )
        base_path, namespaced = self._resources[key]
        if not namespaced:
            return base_path
        prefix, plural = base_path.rsplit("/", 1)
        return f"{prefix}/namespaces/{namespace}/{plural}"

    def get(self, path: str) -> dict[str, Any] | None:
        response = self.client.get(path)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def list(self, path: str, **params: str) -> list[dict[str, Any]]:
        response = self.client.get(path, params=params)
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def create(self, path: str, body: dict[str, Any], **params: str) -> httpx.Response:
        response = self.client.post(path, json=body, params=params)
        if response.status_code >= 400:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")
        return response


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=("build", "up"))
    parser.add_argument(
        "--apiserver-only", action="store_true", help="only etcd and kube-apiserver"
    )
    args = parser.parse_args()
    if args.command == "build":
        build(APISERVER_ONLY if args.apiserver_only else tuple(PACKAGES))
        return 0
    with Cluster(apiserver_only=args.apiserver_only) as cluster:
        print(f"export KUBECONFIG={cluster.kubeconfig}", flush=True)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()  # until Ctrl-C or SIGTERM
    return 0


if __name__ == "__main__":
    sys.exit(main())
