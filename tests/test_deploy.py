"""The deployment kit under deploy/ (and fly.toml, Dockerfile) is consistent with the hub.

Each file is parsed and its relations checked (settings the hub knows, health checks behind every
`service_healthy`, probes on the right paths, shutdown budgets covering the hub's drain). Where the
real tool is on PATH (nginx, promtool, systemd-analyze, caddy, kubectl, docker compose) it checks the
file too; without it the structural checks still run.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import re
import shutil
import subprocess
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
import pytest
import yaml

from hub.config import Settings, load_settings
from hub.config_docs import env_name, example_env
from hub.metrics import Metrics
from storage.postgres.server import free_port
from tests.support import services
from tests.support.server import running_hub
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DEFAULTS = Settings()
SETTING_ENV = {env_name(f.name) for f in fields(Settings)} | {"HUB_CONFIG"}
# Read by uvicorn itself (which proxies it trusts for X-Forwarded-*), not by the hub's settings.
UVICORN_ENV = {"FORWARDED_ALLOW_IPS"}
# The hub drains for this long at most; every stop budget must cover it.
DRAIN_FLOOR = DEFAULTS.ws_ping_interval + DEFAULTS.ws_ping_timeout


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kwargs)


def seconds(value: str | int) -> int:
    text = str(value)
    return int(text[:-1]) if text.endswith("s") else int(text)


# --- example.env --------------------------------------------------------------------------------


def test_example_env_is_current() -> None:
    assert (DEPLOY / "example.env").read_text() == example_env(), (
        "regenerate it: hub config --env-example > deploy/example.env"
    )


def test_example_env_lists_every_setting_at_its_default() -> None:
    lines = (DEPLOY / "example.env").read_text().splitlines()
    assignments = dict(line[2:].split("=", 1) for line in lines if re.match(r"# [A-Z0-9_]+=", line))
    assert set(assignments) == SETTING_ENV - {"HUB_CONFIG"}
    # Uncommented, the file loads, and every value equals the built-in default.
    assert load_settings(environ=assignments) == DEFAULTS
    assert "# HUB_METRICS_TOKEN=" in lines and "(secret)" in lines[lines.index("# HUB_METRICS_TOKEN=") - 1]


def test_env_example_command(capsys: pytest.CaptureFixture[str]) -> None:
    from hub.bootstrap.cli import main

    assert main(["config", "--env-example"]) == 0
    assert capsys.readouterr().out == example_env()


# --- compose ------------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())  # type: ignore[no-any-return]


def interpolate(value: str) -> str:
    """Compose's `${VAR:-default}` with nothing set in the environment; `$$` is a literal `$`."""
    value = re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)
    value = re.sub(r"\$\{[A-Z0-9_]+\}", "", value)
    return value.replace("$$", "$")


HUB_SERVICES = ("hub-1", "hub-2", "worker", "migrate")


def test_compose_services_and_dependencies() -> None:
    doc = compose()
    svc = doc["services"]
    assert {"proxy", "hub-1", "hub-2", "worker", "migrate", "postgres", "redis", "s3", "s3-init"} <= set(svc)
    one_shot = {name for name, s in svc.items() if s.get("restart") == "no"}
    assert {"migrate", "s3-init", "keygen"} <= one_shot
    for name, s in svc.items():
        for dep, spec in s.get("depends_on", {}).items():
            assert dep in svc, (name, dep)
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "test" in svc[dep].get("healthcheck", {}), f"{name} waits for {dep}'s health check"
            else:
                assert condition == "service_completed_successfully" and dep in one_shot, (name, dep)
        if name not in one_shot:
            assert "test" in s.get("healthcheck", {}), f"{name} has no health check"
            assert s.get("restart") == "unless-stopped", name
    # Two replicas behind the proxy, the worker and migrations after the schema and the store exist.
    for hub in ("hub-1", "hub-2"):
        assert svc["proxy"]["depends_on"][hub]["condition"] == "service_healthy"
        assert svc[hub]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert svc[hub]["depends_on"]["s3-init"]["condition"] == "service_completed_successfully"
        assert "/readyz" in " ".join(svc[hub]["healthcheck"]["test"])
    assert svc["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert svc["s3-init"]["depends_on"]["s3"]["condition"] == "service_healthy"
    assert [svc[n]["command"] for n in HUB_SERVICES] == [["serve"], ["serve"], ["worker"], ["migrate"]]
    named = set(doc["volumes"])
    for s in svc.values():
        for mount in s.get("volumes", []):
            source = mount.split(":")[0]
            assert source.startswith(".") or source in named, mount
            if source.startswith("."):
                assert (DEPLOY / source).exists(), mount
    assert {"postgres-data", "redis-data", "s3-data"} <= named


def test_compose_hub_environment_is_a_valid_scaled_configuration() -> None:
    svc = compose()["services"]
    postgres_env = {k: interpolate(str(v)) for k, v in svc["postgres"]["environment"].items()}
    for name in HUB_SERVICES:
        env = {k: interpolate(str(v)) for k, v in svc[name]["environment"].items()}
        assert set(env) <= SETTING_ENV | UVICORN_ENV, set(env) - SETTING_ENV
        assert env.pop("FORWARDED_ALLOW_IPS") == "*"  # only the proxy reaches the hubs
        env["HUB_SIGNING_KEY"] = "A" * 43  # what the keygen container provides
        settings = load_settings(environ=env)
        assert settings.production and settings.trust_forwarded and not settings.migrate_on_start
        assert settings.uses_redis and settings.uses_s3 and not settings.embedded_database
        db = urlsplit(settings.database_url)
        assert (db.hostname, db.username, db.password, db.path) == (
            "postgres",
            postgres_env["POSTGRES_USER"],
            postgres_env["POSTGRES_PASSWORD"],
            "/" + postgres_env["POSTGRES_DB"],
        )
        assert urlsplit(settings.redis_url).hostname == "redis"
        # Browsers reach the store under the name the hub signs for: an alias of the s3 service.
        endpoint = urlsplit(settings.s3_endpoint)
        assert endpoint.hostname in svc["s3"]["networks"]["default"]["aliases"]
        assert f"{endpoint.port}:{endpoint.port}" in svc["s3"]["ports"]
        assert settings.public_url == "http://localhost:8080" and "8080:8080" in svc["proxy"]["ports"]
        assert seconds(svc[name]["stop_grace_period"]) > settings.graceful_shutdown_seconds
    # Each process gets its own metrics address (the worker's is its health check).
    worker_env = svc["worker"]["environment"]
    assert worker_env["HUB_METRICS_LISTEN"] != svc["hub-1"]["environment"]["HUB_METRICS_LISTEN"]
    assert worker_env["HUB_METRICS_LISTEN"].rsplit(":", 1)[1] in " ".join(svc["worker"]["healthcheck"]["test"])


def test_compose_init_creates_the_bucket_with_cors_for_the_public_origin() -> None:
    svc = compose()["services"]
    hub_env = {k: interpolate(str(v)) for k, v in svc["hub-1"]["environment"].items()}
    init = svc["s3-init"]
    script = interpolate(init["entrypoint"][-1])
    assert f"create-bucket --bucket {hub_env['S3_BUCKET']}" in script
    assert f"put-bucket-cors --bucket {hub_env['S3_BUCKET']}" in script
    assert interpolate(init["environment"]["ORIGIN"]) == hub_env["HUB_PUBLIC_URL"]
    assert interpolate(init["environment"]["AWS_ACCESS_KEY_ID"]) == hub_env["S3_ACCESS_KEY"]
    identities = json.loads((DEPLOY / "compose" / "seaweedfs-s3.json").read_text())["identities"]
    assert {"accessKey": hub_env["S3_ACCESS_KEY"], "secretKey": hub_env["S3_SECRET_KEY"]} in identities[0][
        "credentials"
    ]


def test_compose_proxy_is_sticky() -> None:
    caddyfile = (DEPLOY / "compose" / "Caddyfile").read_text()
    assert re.search(r"reverse_proxy hub-1:8000 hub-2:8000", caddyfile)
    assert re.search(r"lb_policy cookie \w+", caddyfile)
    assert "health_uri /readyz" in caddyfile
    if shutil.which("caddy"):
        result = run(["caddy", "validate", "--adapter", "caddyfile", "--config", str(DEPLOY / "compose" / "Caddyfile")])
        assert result.returncode == 0, result.stderr


async def test_compose_proxy_keeps_a_polling_client_on_one_hub(
    make_settings: Callable[..., Settings], redis_service: services.RedisHandle, redis_prefix: str, tmp_path: Path
) -> None:
    """deploy/compose/Caddyfile in front of two real hubs: every request of a long-polling session reaches
    the hub that holds it, which the other hub would refuse."""
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("the tool is not installed here (test_compose_proxy_is_sticky checks the content)")
    key = "B" * 43  # one signing key for both, as in compose
    settings = [
        make_settings(redis_url=redis_service.url, redis_prefix=redis_prefix, signing_key=key) for _ in range(2)
    ]
    async with running_hub(settings[0]) as (url1, _a), running_hub(settings[1]) as (url2, _b):
        proxy_port = free_port()
        caddyfile = (DEPLOY / "compose" / "Caddyfile").read_text()
        caddyfile = caddyfile.replace("hub-1:8000 hub-2:8000", f"{url1[7:]} {url2[7:]}")
        caddyfile = caddyfile.replace(":8080 {", f":{proxy_port} {{")
        (tmp_path / "Caddyfile").write_text(caddyfile)
        proc = await asyncio.create_subprocess_exec(
            caddy,
            "run",
            "--adapter",
            "caddyfile",
            "--config",
            str(tmp_path / "Caddyfile"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env={"HOME": str(tmp_path)},
        )
        proxy = f"http://127.0.0.1:{proxy_port}"
        try:
            async with httpx.AsyncClient(base_url=proxy, timeout=10) as browser:

                async def caddy_up() -> bool:
                    assert proc.returncode is None, "caddy exited"
                    return (await browser.get("/healthz")).status_code == 200

                await eventually(
                    caddy_up, timeout=20, interval=0.1, ignore=(httpx.TransportError,), message="caddy did not start"
                )
                browser.cookies.clear()
                params = {"EIO": "4", "transport": "polling"}
                handshake = await browser.get("/socket.io/", params=params)
                assert handshake.status_code == 200 and "hub_lb" in browser.cookies
                sid = json.loads(handshake.text[1:])["sid"]
                for _ in range(10):  # pongs: 200 "OK" only where the session lives
                    sent = await browser.post("/socket.io/", params={**params, "sid": sid}, content=b"3")
                    assert (sent.status_code, sent.text) == (200, "OK")
            async with httpx.AsyncClient(timeout=10) as direct:
                answers = sorted(
                    [
                        (await direct.post(f"{u}/socket.io/", params={**params, "sid": sid}, content=b"3")).status_code
                        for u in (url1, url2)
                    ]
                )
            assert answers == [200, 400], "without affinity, half the polls would hit a hub that refuses them"
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), timeout=10)


def test_compose_config_when_docker_compose_works(tmp_path: Path) -> None:
    """`docker compose config` (v2), else `docker-compose config` (v1, which predates the top-level `name`)."""
    docker = shutil.which("docker")
    if docker is not None and run([docker, "compose", "version"]).returncode == 0:
        result = run([docker, "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"])
        assert result.returncode == 0, result.stderr
        return
    legacy = shutil.which("docker-compose")
    if legacy is None:
        pytest.skip("the tool is not installed here (structure is checked above; no compose CLI on this machine)")
    (tmp_path / "deploy").mkdir()
    shutil.copytree(DEPLOY / "compose", tmp_path / "deploy" / "compose")
    text = (DEPLOY / "compose.yaml").read_text()
    assert "\nname: collab-hub\n" in text
    (tmp_path / "deploy" / "compose.yaml").write_text(text.replace("\nname: collab-hub\n", "\n"))
    result = run([legacy, "-f", str(tmp_path / "deploy" / "compose.yaml"), "config", "--quiet"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_bucket_cors_template_works_on_a_real_store(s3_service: services.S3Handle) -> None:
    """deploy/s3-cors.json, applied as docs/deployment.md says, lets the hub's origin upload and no other."""
    rules = json.loads((DEPLOY / "s3-cors.json").read_text())
    origin = rules["CORSRules"][0]["AllowedOrigins"][0]
    client = boto3.client(
        "s3",
        endpoint_url=s3_service.endpoint,
        aws_access_key_id=s3_service.access_key,
        aws_secret_access_key=s3_service.secret_key,
        region_name=s3_service.region,
    )
    bucket = "cors-" + datetime.datetime.now(datetime.UTC).strftime("%H%M%S%f")
    client.create_bucket(Bucket=bucket)
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration=rules)

    def preflight(from_origin: str, method: str) -> tuple[int, dict[str, str]]:
        request = urllib.request.Request(
            f"{s3_service.endpoint}/{bucket}/spaces/x",
            method="OPTIONS",
            headers={
                "Origin": from_origin,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "content-type",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers)

    for method in ("POST", "PUT", "GET"):
        status, headers = preflight(origin, method)
        assert status == 200 and headers["Access-Control-Allow-Origin"] == origin, (method, status)
        assert "ETag" in headers["Access-Control-Expose-Headers"]
    status, headers = preflight("https://elsewhere.example", "PUT")
    assert status == 403 and "Access-Control-Allow-Origin" not in headers


# --- nginx --------------------------------------------------------------------------------------


def nginx_conf() -> str:
    return (DEPLOY / "nginx" / "collab-hub.conf").read_text()


def block(text: str, head: str) -> str:
    """The body of the first `head { ... }` block (braces balanced)."""
    start = text.index(head)
    depth, i = 0, text.index("{", start)
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j]
    raise AssertionError(f"unbalanced block {head}")


def test_nginx_structure() -> None:
    conf = re.sub(r"#.*", "", nginx_conf())
    upstream = block(conf, "upstream collab_hub")
    assert re.search(r"^\s*(ip_hash|hash \S+ consistent);", upstream, re.M), "sticky sessions for long-polling"
    assert len(re.findall(r"^\s*server \S+", upstream, re.M)) >= 2
    plain, tls = (block(conf[m.start() :], "server") for m in re.finditer(r"^server\s*\{", conf, re.M))
    assert "listen 80;" in plain and "return 301 https://$host$request_uri;" in plain
    assert re.search(r"listen 443 ssl", tls) and "ssl_certificate " in tls and "ssl_certificate_key " in tls
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in tls
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in tls
    socket = block(tls, "location /socket.io/")
    assert "proxy_set_header Upgrade $http_upgrade;" in socket
    assert "proxy_set_header Connection $connection_upgrade;" in socket
    assert "proxy_http_version 1.1;" in tls
    read_timeout = int(re.search(r"proxy_read_timeout (\d+)s;", socket).group(1))  # type: ignore[union-attr]
    assert read_timeout > DRAIN_FLOOR, "a WebSocket or long-poll must outlive the ping interval and timeout"
    assert "return 404;" in block(tls, "location = /metrics")


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


def self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hub.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return directory / "cert.pem", directory / "key.pem"


def nginx_setup(tmp_path: Path, site: str) -> Path:
    """A minimal nginx.conf around the site (with this test's certificate); returns its path."""
    cert, key = self_signed(tmp_path)
    site = site.replace("/etc/letsencrypt/live/hub.example.com/fullchain.pem", str(cert))
    site = site.replace("/etc/letsencrypt/live/hub.example.com/privkey.pem", str(key))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {tmp_path}/site.conf;\n}}\n"
    )
    return tmp_path / "nginx.conf"


def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    nginx = nginx_binary()
    if nginx is None:
        pytest.skip("the tool is not installed here (test_nginx_structure checks the content)")
    conf = nginx_setup(tmp_path, nginx_conf())
    result = run([nginx, "-t", "-q", "-p", str(tmp_path), "-c", str(conf)])
    assert result.returncode == 0, result.stderr


async def test_nginx_serves_two_hubs_with_tls_websockets_and_sticky_polling(
    make_settings: Callable[..., Settings], redis_service: services.RedisHandle, redis_prefix: str, tmp_path: Path
) -> None:
    """deploy/nginx/collab-hub.conf (on free ports) in front of two real hubs."""
    nginx = nginx_binary()
    if nginx is None:
        pytest.skip("the tool is not installed here (test_nginx_structure checks the content)")
    from tests.support.realtime import Sock, guest, space, stroke

    settings = [
        make_settings(
            redis_url=redis_service.url, redis_prefix=redis_prefix, signing_key="C" * 43, trust_forwarded=True
        )
        for _ in range(2)
    ]
    async with running_hub(settings[0]) as (url1, _a), running_hub(settings[1]) as (url2, _b):
        plain, tls = free_port(), free_port()
        site = nginx_conf().replace("listen [::]:80;", "").replace("listen [::]:443 ssl http2;", "")
        site = site.replace("listen 80;", f"listen 127.0.0.1:{plain};")
        site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{tls} ssl http2;")
        site = site.replace("server 127.0.0.1:8001", f"server {url1[7:]}").replace(
            "server 127.0.0.1:8002", f"server {url2[7:]}"
        )
        (tmp_path / "logs").mkdir()
        conf = nginx_setup(tmp_path, site)
        proc = await asyncio.create_subprocess_exec(
            nginx,
            "-p",
            str(tmp_path),
            "-c",
            str(conf),
            "-g",
            "daemon off;",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        base = f"https://127.0.0.1:{tls}"
        try:
            async with httpx.AsyncClient(base_url=base, timeout=10, verify=False) as http:

                async def nginx_up() -> bool:
                    assert proc.returncode is None, "nginx exited"
                    return (await http.get("/healthz")).status_code == 200

                await eventually(
                    nginx_up, timeout=20, interval=0.1, ignore=(httpx.TransportError,), message="nginx did not start"
                )
                redirect = await http.get(f"http://127.0.0.1:{plain}/spaces?x=1")
                assert redirect.status_code == 301
                assert redirect.headers["location"] == "https://127.0.0.1/spaces?x=1"
                assert (await http.get("/metrics")).status_code == 404

                params = {"EIO": "4", "transport": "polling"}
                handshake = await http.get("/socket.io/", params=params)
                assert handshake.status_code == 200
                sid = json.loads(handshake.text[1:])["sid"]
                for _ in range(10):  # ip_hash: every poll of this client reaches the hub holding the session
                    sent = await http.post("/socket.io/", params={**params, "sid": sid}, content=b"3")
                    assert (sent.status_code, sent.text) == (200, "OK")

                # A WebSocket through the Upgrade headers, to a whiteboard round trip.
                user = await guest(http)
                board = await space(http, user)
                sock = Sock()
                sock.client = type(sock.client)(reconnection=False, ssl_verify=False)
                sock.client.on("*", sock._record)
                await sock.connect(base, user.token)
                try:
                    assert sock.client.transport() == "websocket"
                    assert (await sock.call("join", {"space_id": board}))["ok"]
                    assert (await sock.call("stroke", stroke(board)))["ok"]
                finally:
                    await sock.close()
        finally:
            proc.terminate()
            _out, err = await asyncio.wait_for(proc.communicate(), timeout=10)
        assert b"[emerg]" not in err and b"[error]" not in err, err.decode()[-2000:]


# --- systemd ------------------------------------------------------------------------------------


def unit(name: str) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in (DEPLOY / "systemd" / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        else:
            key, _, value = line.partition("=")
            assert key not in current, f"{name}: {key} set twice"
            current[key] = value
    return sections


def test_systemd_units() -> None:
    for name, command in (("collab-hub@.service", "hub serve"), ("collab-hub-worker.service", "hub worker")):
        service = unit(name)["Service"]
        assert service["ExecStart"].endswith(command)
        assert service.get("DynamicUser") == "yes" or service.get("User") not in (None, "", "root", "0")
        assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes"
        assert service["Restart"] in ("on-failure", "always")
        assert service["EnvironmentFile"] == "/etc/collab-hub/hub.env"
        env = dict(item.split("=", 1) for item in service["Environment"].split())
        assert set(env) <= SETTING_ENV
        data_dir = env["HUB_DATA_DIR"]
        writable = service["ReadWritePaths"].split()
        assert any(data_dir == p or data_dir.startswith(p.rstrip("/") + "/") for p in writable), (data_dir, writable)
        assert all(f"collab-hub/{d}" in service["StateDirectory"] for d in ("%i" if "@" in name else "worker",))
        assert seconds(service["TimeoutStopSec"]) > DRAIN_FLOOR // 2 + DEFAULTS.graceful_shutdown_seconds
    # Several serve instances on one machine listen on their own ports; the worker on its own metrics port.
    serve_env = unit("collab-hub@.service")["Service"]["Environment"]
    assert "HUB_PORT=%i" in serve_env and "HUB_DATA_DIR=/var/lib/collab-hub/%i" in serve_env
    assert "HUB_METRICS_LISTEN=" in unit("collab-hub-worker.service")["Service"]["Environment"]
    assert "collab-hub@8001.service" in unit("collab-hub.target")["Unit"]["Wants"]
    assert "u collab-hub " in (DEPLOY / "systemd" / "collab-hub.sysusers.conf").read_text()


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("the tool is not installed here (test_systemd_units checks the content)")
    hub_bin = shutil.which("hub") or "/bin/true"
    for name in ("collab-hub@.service", "collab-hub-worker.service", "collab-hub.target"):
        text = (DEPLOY / "systemd" / name).read_text().replace("/opt/collab-hub/venv/bin/hub", hub_bin)
        (tmp_path / name).write_text(text)
    for instance in ("8001", "8002"):
        shutil.copy(tmp_path / "collab-hub@.service", tmp_path / f"collab-hub@{instance}.service")
    result = run(
        [
            analyze,
            "verify",
            "--man=no",
            *(str(tmp_path / n) for n in ("collab-hub@8001.service", "collab-hub-worker.service", "collab-hub.target")),
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


# --- Kubernetes ---------------------------------------------------------------------------------


def manifests() -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and "kind" in doc and path.name != "kustomization.yaml":
                out[(doc["kind"], doc["metadata"]["name"])] = doc
    return out


def container_env(pod: dict[str, Any], config: dict[str, str]) -> dict[str, str]:
    (c,) = pod["containers"]
    env = dict(config)
    env.update({e["name"]: e["value"] for e in c.get("env", [])})
    return env


def test_kubernetes_manifests() -> None:
    m = manifests()
    kustomization = yaml.safe_load((DEPLOY / "kubernetes" / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (DEPLOY / "kubernetes" / resource).exists(), resource
    config = m[("ConfigMap", "collab-hub")]["data"]
    secret = m[("Secret", "collab-hub")]["stringData"]
    assert set(config) | set(secret) <= SETTING_ENV

    app = m[("Deployment", "collab-hub")]
    pod = app["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["command"] == ["hub", "serve"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    env = container_env(pod, config)
    assert set(env) <= SETTING_ENV
    assert int(env["HUB_PORT"]) == ports["http"]
    assert env["HUB_METRICS_LISTEN"].endswith(f":{ports['metrics']}")
    assert app["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(ports["metrics"])
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    # SIGTERM comes after preStop; the drain must then fit in what is left of the grace period.
    pre_stop = c["lifecycle"]["preStop"]
    sleep = int(pre_stop["sleep"]["seconds"]) if "sleep" in pre_stop else int(pre_stop["exec"]["command"][-1])
    assert sleep >= 1
    graceful = int(env["HUB_GRACEFUL_SHUTDOWN_SECONDS"])
    assert pod["terminationGracePeriodSeconds"] >= sleep + graceful + 1
    assert c["securityContext"]["allowPrivilegeEscalation"] is False and pod["securityContext"]["runAsNonRoot"]
    assert {v["mountPath"] for v in c["volumeMounts"]} >= {config["HUB_DATA_DIR"]}
    for ref in c["envFrom"]:
        kind, name = (
            ("ConfigMap", ref["configMapRef"]["name"])
            if "configMapRef" in ref
            else ("Secret", ref["secretRef"]["name"])
        )
        assert (kind, name) in m

    labels = app["spec"]["template"]["metadata"]["labels"]
    assert app["spec"]["selector"]["matchLabels"].items() <= labels.items()
    pdb = m[("PodDisruptionBudget", "collab-hub")]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert int(pdb["spec"]["minAvailable"]) < app["spec"]["replicas"], "a drain must be able to evict one pod"
    service = m[("Service", "collab-hub")]
    assert service["spec"]["selector"].items() <= labels.items()
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    ingress = m[("Ingress", "collab-hub")]
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert int(ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"]) > DRAIN_FLOOR
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "collab-hub" and backend["port"]["name"] == "http"

    worker = m[("Deployment", "collab-hub-worker")]
    wpod = worker["spec"]["template"]["spec"]
    (w,) = wpod["containers"]
    assert w["command"] == ["hub", "worker"]
    wenv = container_env(wpod, config)
    metrics_port = {p["name"]: p["containerPort"] for p in w["ports"]}["metrics"]
    assert wenv["HUB_METRICS_LISTEN"].endswith(f":{metrics_port}")
    assert w["livenessProbe"]["httpGet"]["port"] == "metrics"
    assert not worker["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert not service["spec"]["selector"].items() <= worker["spec"]["template"]["metadata"]["labels"].items()
    assert m[("Job", "collab-hub-migrate")]["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "hub",
        "migrate",
    ]


def test_kustomize_builds() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("the tool is not installed here (test_kubernetes_manifests checks the content)")
    result = run([kubectl, "kustomize", str(DEPLOY / "kubernetes")])
    assert result.returncode == 0, result.stderr
    kinds = {doc["kind"] for doc in yaml.safe_load_all(result.stdout)}
    assert {"Deployment", "Service", "PodDisruptionBudget", "ConfigMap", "Job", "Ingress"} <= kinds


# --- Fly.io and the image -----------------------------------------------------------------------


def test_fly_toml() -> None:
    fly = tomllib.loads((ROOT / "fly.toml").read_text())
    assert fly["processes"] == {"app": "hub serve", "worker": "hub worker"}
    assert fly["deploy"]["release_command"] == "hub migrate"
    http = fly["http_service"]
    assert http["processes"] == ["app"], "workers serve no HTTP: the service and its checks are the app's"
    assert {c["path"] for c in http["checks"]} == {"/healthz", "/readyz"}
    assert http["internal_port"] == int(fly["env"]["HUB_PORT"])
    env = dict(fly["env"])
    assert set(env) <= SETTING_ENV | UVICORN_ENV
    settings = load_settings(
        environ={**env, "DATABASE_URL": "postgresql://h/db", "REDIS_URL": "redis://r", "HUB_SIGNING_KEY": "A" * 43}
    )
    assert settings.production and settings.trust_forwarded
    assert seconds(fly["kill_timeout"]) > settings.graceful_shutdown_seconds
    metrics_port = settings.metrics_address[1] if settings.metrics_address else -1
    assert [m["port"] for m in fly["metrics"]] == [metrics_port]
    for check in fly["checks"].values():
        assert check["processes"] == ["worker"] and check["port"] == metrics_port
    assert {p for vm in fly["vm"] for p in vm["processes"]} == {"app", "worker"}


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER (?!root)\w+", text, re.M)
    assert "/healthz" in text and 'CMD ["hub", "serve"]' in text
    assert "-c requirements/lock.txt" in text  # the image installs the locked versions


# --- monitoring ---------------------------------------------------------------------------------


def known_series() -> set[str]:
    metrics = Metrics()
    metrics.track_redis_bus()
    names: set[str] = {"up"}
    for family in metrics.registry.collect():
        base = family.name
        names.add(base)
        names.update({f"{base}_total", f"{base}_bucket", f"{base}_count", f"{base}_sum"})
    return names


def test_alert_rules() -> None:
    path = DEPLOY / "monitoring" / "alerts.yml"
    rules = [r for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"]]
    expected = {
        "HubDown",
        "HubNotReady",
        "HubHigh5xxRate",
        "HubHighLatencyP99",
        "HubStrokeAckP99",
        "HubSocketsDropped",
        "HubJobQueueBacklog",
        "HubJobDeadLetters",
        "HubRedisBusDisconnected",
        "HubDatabasePoolExhausted",
    }
    assert expected <= {r["alert"] for r in rules}
    known = known_series()
    for rule in rules:
        used = set(re.findall(r"\b(hub_[a-z0-9_]+|up)\b", rule["expr"]))
        assert used and used <= known, (rule["alert"], used - known)
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        assert rule["annotations"]["summary"]
    promtool = shutil.which("promtool")
    if promtool is not None:
        result = run([promtool, "check", "rules", str(path)])
        assert result.returncode == 0, result.stdout + result.stderr
        result = run([promtool, "check", "config", "--syntax-only", str(DEPLOY / "monitoring" / "prometheus.yml")])
        assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_covers_the_metrics_to_watch() -> None:
    dashboard = json.loads((DEPLOY / "monitoring" / "grafana-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    used = set(re.findall(r"\b(hub_[a-z0-9_]+)\b", exprs))
    assert used <= known_series(), used - known_series()
    readme = (ROOT / "README.md").read_text()
    watch = readme[readme.index("Metrics to watch") :]
    watch = watch[: watch.index("\n\n")]
    listed = set(re.findall(r"`(hub_[a-z0-9_]+)`", watch))
    assert len(listed) > 10
    for name in listed:
        assert any(u == name or u.startswith(name + "_") for u in used), f"no panel shows {name}"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
