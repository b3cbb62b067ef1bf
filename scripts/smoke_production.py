"""Start the app as production runs it and check that it answers; CI runs this after the test suite.

With ``crm_project.settings.production`` and a random secret key: ``check --deploy`` (no issues), migrate a
fresh database on the PostgreSQL server of ``DATABASE_URL``, ``collectstatic`` (manifest + compression), create
a head-office user for the smoke, start gunicorn on a free loopback port behind a simulated TLS proxy (``X-Forwarded-Proto: https``,
``SECURE_PROXY_SSL_HEADER=true``), and expect:

- plain HTTP is redirected to HTTPS; ``/login/`` is 200 with HSTS and references hashed static files;
- the smoke user signs in; ``/api/docs/`` is 200 (whether or not the docs need a login);
- a static file under its hashed name (from the manifest) is 200 with its collected content;
- gunicorn stops on SIGTERM with exit status 0 and frees the port.

Prints one ``OK:`` line per check and exits non-zero with ``FAIL:`` on the first that does not hold.
Usage: ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_smoke .venv/bin/python scripts/smoke_production.py``
(the database is created if missing and then dropped again).
"""

import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import psycopg2
from psycopg2 import sql

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SETTINGS = "crm_project.settings.production"
STATIC_PROBE = "css/crm.css"  # our own stylesheet: every page links it


def fail(message: str):
    raise SystemExit(f"FAIL: {message}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def manage(env: dict, *args: str, timeout: int = 600) -> str:
    started = time.monotonic()
    result = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=timeout, check=False)
    if result.returncode != 0:
        print(result.stdout[-4000:], result.stderr[-4000:], sep="\n")
        fail(f"manage.py {' '.join(args)} exited with {result.returncode}")
    return result.stdout + f"\n({time.monotonic() - started:.1f}s)"


class Database:
    """The smoke's own database on the server of DATABASE_URL: created when missing, dropped afterwards."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.name = parts.path.lstrip("/")
        if not re.fullmatch(r"[A-Za-z0-9_]+", self.name or ""):
            fail(f"DATABASE_URL must name a database (letters, digits, _): {url!r}")
        self.server = {"host": parts.hostname or "127.0.0.1", "port": parts.port or 5432,
                       "user": parts.username or "postgres", "password": parts.password, "dbname": "postgres"}
        self.created = False

    def _run(self, statement):
        conn = psycopg2.connect(**self.server)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
                return cur.fetchone() if cur.description else None
        finally:
            conn.close()

    def create(self):
        exists = self._run(sql.SQL("SELECT 1 FROM pg_database WHERE datname = {}").format(sql.Literal(self.name)))
        if not exists:
            self._run(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(
                sql.Identifier(self.name)))
            self.created = True

    def drop(self):
        if self.created:
            self._run(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))


class Client:
    """HTTP to gunicorn as a TLS-terminating proxy forwards it: plain HTTP with X-Forwarded-Proto: https.
    Cookies are kept by hand: they are Secure, and an ordinary client would not send them over plain HTTP."""

    def __init__(self, port: int):
        self.port = port
        self.origin = f"https://127.0.0.1:{port}"
        self.cookies: dict[str, str] = {}
        self.secure: dict[str, bool] = {}  # whether the server marked each cookie Secure

    def request(self, method: str, path: str, *, body: str | None = None, headers: dict | None = None,
                forwarded: bool = True):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        all_headers = {"Host": f"127.0.0.1:{self.port}", "Accept-Language": "zh-hans"}
        if forwarded:
            all_headers["X-Forwarded-Proto"] = "https"
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        all_headers.update(headers or {})
        try:
            conn.request(method, path, body=body, headers=all_headers)
            resp = conn.getresponse()
            content = resp.read()
        finally:
            conn.close()
        for header in resp.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
                self.secure[name] = bool(morsel["secure"])
        return resp, content


def wait_until_up(client: Client, proc: subprocess.Popen, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail(f"gunicorn exited with {proc.returncode} before answering")
        try:
            return client.request("GET", "/login/")
        except OSError:
            time.sleep(0.5)
    fail(f"gunicorn did not answer within {timeout:.0f}s")


def main():
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        fail("set DATABASE_URL to a database on the machine's PostgreSQL (it is created and dropped)")
    secret_key = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)
    static_root = Path(tempfile.mkdtemp(prefix="crm-smoke-static-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "SESSION_COOKIE", "CSRF_COOKIE"))}
    env.update(DJANGO_SETTINGS_MODULE=SETTINGS, DJANGO_SECRET_KEY=secret_key, DATABASE_URL=database_url,
               DJANGO_ALLOWED_HOSTS="127.0.0.1", SECURE_PROXY_SSL_HEADER="true", STATIC_ROOT=str(static_root),
               PYTHONUNBUFFERED="1")
    env.pop("DJANGO_DEBUG", None)
    db = Database(database_url)
    db.create()
    proc = None
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (gunicorn writes it until the end; closed in finally)
    try:
        out = manage(env, "check", "--deploy", "--fail-level", "WARNING")
        if "System check identified no issues" not in out:
            fail(f"check --deploy: {out}")
        print(f"OK: manage.py check --deploy with {SETTINGS}: System check identified no issues")
        took = manage(env, "migrate", "--noinput").rsplit("(", 1)[1].rstrip(")")
        print(f"OK: migrate with {SETTINGS} on database {db.name} ({took})")
        out = manage(env, "collectstatic", "--noinput")
        manifest = json.loads((static_root / "staticfiles.json").read_text(encoding="utf-8"))["paths"]
        summary = re.search(r"\d+ static files? copied.*", out)
        print(f"OK: collectstatic with {SETTINGS}: {summary[0] if summary else ''}; "
              f"{len(manifest)} hashed names in the manifest ({out.rsplit('(', 1)[1].rstrip(')')})")

        password = secrets.token_urlsafe(24)
        manage(env, "shell", "-c", (
            "from org.constants import BranchLevel, Role\n"
            "from org.services import branch_create, staff_create\n"
            "hq = branch_create(code='SMOKEHQ', name='Smoke head office', level=BranchLevel.HEAD_OFFICE)\n"
            f"staff_create(username='smoke-hq', password={password!r}, role=Role.HEAD_OFFICE, branch=hq)\n"))
        print("OK: smoke user smoke-hq (head office) created through org.services.staff_create")

        proc = subprocess.Popen([PY, "-m", "gunicorn", "crm_project.wsgi", "--bind", f"127.0.0.1:{port}",
                                 "--workers", "2", "--access-logfile", "-", "--graceful-timeout", "20"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        client = Client(port)
        resp, body = wait_until_up(client, proc, timeout=90)
        print(f"OK: gunicorn crm_project.wsgi with {SETTINGS} listening on 127.0.0.1:{port} (pid {proc.pid})")

        plain, _ = client.request("GET", "/login/", forwarded=False)
        if plain.status != 301 or not (plain.getheader("Location") or "").startswith("https://"):
            fail(f"plain HTTP /login/ answered {plain.status} {plain.getheader('Location')} (want 301 to https://)")
        print(f"OK: plain HTTP is redirected: GET /login/ -> {plain.status} {plain.getheader('Location')}")

        if resp.status != 200:
            fail(f"GET /login/ answered {resp.status}")
        hsts = resp.getheader("Strict-Transport-Security") or ""
        if "max-age=" not in hsts or "includeSubDomains" not in hsts or "preload" not in hsts:
            fail(f"/login/ has no full HSTS header: {hsts!r}")
        hashed = manifest[STATIC_PROBE]
        page = body.decode("utf-8")
        if f"/static/{hashed}" not in page:
            fail(f"/login/ does not link the hashed {STATIC_PROBE} ({hashed})")
        print(f"OK: GET /login/ -> 200; Strict-Transport-Security: {hsts}; links /static/{hashed}")

        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if not token or "csrftoken" not in client.cookies:
            fail("the login page set no CSRF token")
        form = urlencode({"username": "smoke-hq", "password": password, "csrfmiddlewaretoken": token[1]})
        resp, _ = client.request("POST", "/login/", body=form, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Referer": f"{client.origin}/login/"})
        if resp.status != 302 or "sessionid" not in client.cookies:
            fail(f"signing in answered {resp.status} (want 302 and a session cookie)")
        if not (client.secure["sessionid"] and client.secure["csrftoken"]):
            fail(f"session/CSRF cookies not marked Secure: {client.secure}")
        print(f"OK: POST /login/ -> 302 {resp.getheader('Location')}: smoke-hq signed in (session and CSRF cookies Secure)")

        landing = resp.getheader("Location")
        resp, _ = client.request("GET", landing)
        if resp.status != 200:
            fail(f"GET {landing} after signing in answered {resp.status}")
        print(f"OK: GET {landing} -> 200")

        resp, body = client.request("GET", "/api/docs/")
        if resp.status != 200 or b"swagger" not in body.lower():
            fail(f"GET /api/docs/ answered {resp.status}")
        assets = sorted(set(re.findall(r'/static/[^"\'\s?#]+', body.decode("utf-8"))))
        for asset in assets:
            asset_resp, _ = client.request("GET", asset)
            if asset_resp.status != 200:
                fail(f"GET {asset} (linked by /api/docs/) answered {asset_resp.status}")
        print(f"OK: GET /api/docs/ -> 200 (signed in; Swagger UI, its {len(assets)} static files 200)")
        resp, body = client.request("GET", "/api/schema/")
        if resp.status != 200 or b"openapi" not in body:
            fail(f"GET /api/schema/ answered {resp.status}")
        print(f"OK: GET /api/schema/ -> 200 ({len(body)} bytes)")

        resp, body = client.request("GET", f"/static/{hashed}")
        if resp.status != 200 or body != (static_root / hashed).read_bytes():
            fail(f"GET /static/{hashed} answered {resp.status} or not the collected file")
        print(f"OK: GET /static/{hashed} -> 200 ({len(body)} bytes, "
              f"Cache-Control: {resp.getheader('Cache-Control')})")
        vendored = manifest["vendor/htmx-2.0.11.min.js"]
        resp, body = client.request("GET", f"/static/{vendored}", headers={"Accept-Encoding": "gzip"})
        if resp.status != 200 or resp.getheader("Content-Encoding") != "gzip":
            fail(f"GET /static/{vendored} answered {resp.status}, encoding {resp.getheader('Content-Encoding')}")
        print(f"OK: GET /static/{vendored} -> 200 gzip ({len(body)} bytes)")

        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            fail("gunicorn did not stop within 40s of SIGTERM")
        deadline = time.monotonic() + 10
        while not port_free(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        if code != 0 or not port_free(port):
            fail(f"gunicorn stopped with exit status {code}; port {port} free: {port_free(port)}")
        print(f"OK: gunicorn stopped on SIGTERM with exit status 0; port {port} is free")
    except BaseException:
        if proc is not None:
            log.seek(0)
            print("--- gunicorn output (last lines)", *log.read().splitlines()[-40:], sep="\n")
        raise
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        db.drop()
        shutil.rmtree(static_root, ignore_errors=True)


if __name__ == "__main__":
    main()
