"""Start `make run` as a user would, check the login page and a demo login, then stop it with Ctrl-C.

Fails unless: the app answers within the time limit, /login/ is 200, rm1 can sign in and sees the
customer list, and after SIGINT every process it started has exited and the port is free. Also that it
runs as users get it: DEBUG off (the app's own 403/404 pages, not Django's debug pages), static files
served, no traceback in the console for those 403/404s, the demo logins printed once, and every
timestamp of web, worker and beat in one time zone (the display zone, with its UTC offset).

SMOKE_RUN_CMD replaces `make run` (e.g. `.venv/bin/python scripts/run.py` where .venv is shared).
"""

import datetime as dt
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

ROOT = Path(__file__).resolve().parent.parent
PORT = os.environ.get("SMOKE_PORT", "8765")
BASE = f"http://127.0.0.1:{PORT}"


def wait_for(url, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return requests.get(url, timeout=5)
        except requests.ConnectionError:
            time.sleep(1)
    raise SystemExit(f"FAIL: {url} did not answer within {timeout}s")


def port_free():
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", int(PORT))) != 0


def main():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(PORT=PORT, DEMO_CUSTOMERS="500")
    command = shlex.split(os.environ.get("SMOKE_RUN_CMD", "make run"))
    proc = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = []
    try:
        import threading

        threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True).start()
        login = wait_for(f"{BASE}/login/", timeout=600)
        assert login.status_code == 200, f"/login/ answered {login.status_code}"
        session = requests.Session()
        page = session.get(f"{BASE}/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        resp = session.post(f"{BASE}/login/", data={"username": "rm1", "password": "Demo-Pass-2026",
                                                    "csrfmiddlewaretoken": token},
                            headers={"Referer": f"{BASE}/login/"}, allow_redirects=True)
        assert resp.status_code == 200 and resp.url == f"{BASE}/", (resp.status_code, resp.url)
        assert 'data-testid="section-tasks"' in resp.text, "the RM's workbench not shown after login"
        customers = session.get(f"{BASE}/customers/")
        assert customers.status_code == 200 and 'data-testid="customer-table"' in customers.text, "no customer list"
        campaigns = session.get(f"{BASE}/campaigns/")
        assert campaigns.status_code == 200 and 'data-testid="campaign-table"' in campaigns.text, "no campaign list"
        print(f"OK: login page 200, rm1 signed in and lands on the workbench ({resp.url}); customers and campaigns "
              f"listed")
        check_as_users_get_it(session)
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            print("".join(output)[-5000:])
            raise SystemExit("FAIL: the run command did not stop within 60s of Ctrl-C") from None
    deadline = time.monotonic() + 15  # pool children may take a moment after their parent
    while True:
        leftovers = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True, check=False).stdout.split()
        if not leftovers or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    pid_file = ROOT / "var" / "pgdata" / "postmaster.pid"
    if pid_file.exists():
        raise SystemExit("FAIL: the embedded PostgreSQL is still running after Ctrl-C")
    if leftovers or not port_free():
        print("".join(output)[-5000:])
        raise SystemExit(f"FAIL: processes left running after Ctrl-C: {leftovers}; port free: {port_free()}")
    text = "".join(output)
    if "Stopped." not in text:
        print(text[-5000:])
        raise SystemExit("FAIL: the run command did not report a clean stop")
    print("OK: Ctrl-C stopped web, worker, beat and the embedded PostgreSQL cleanly")
    check_console(text)


def check_as_users_get_it(session):
    """DEBUG off: the app's own error pages; static files still served."""
    static = requests.get(f"{BASE}/static/css/crm.css", timeout=10)
    assert static.status_code == 200 and "text/css" in static.headers.get("Content-Type", ""), static.status_code
    assert ".pii" in static.text, "the stylesheet came back empty"
    for path, status in [("/customers/999999999/", 404), ("/no-such-page/", 404), ("/audit/", 403)]:
        r = session.get(f"{BASE}{path}", timeout=10)
        assert r.status_code == status, (path, r.status_code)
        assert 'data-testid="error-page"' in r.text, f"{path}: not the app's own error page"
        assert "URLconf" not in r.text and "Traceback" not in r.text, f"{path}: Django's debug page (DEBUG on?)"
    print("OK: static files served; the app's own 403/404 pages (DEBUG off)")


# "[2026-11-22 10:30:00 +0800]" (Django, Celery, gunicorn's error log) or "[22/Nov/2026:10:30:00 +0800]" (access log)
_STAMP = re.compile(r"\[(?:\d{4}-\d{2}-\d{2} |\d{2}/\w{3}/\d{4}:)\d{2}:\d{2}:\d{2}(?:[,.]\d+)?(?: ?([+-]\d{4}))?")


def check_console(text):
    running = text.split("Stopping web, worker and beat")[0]  # what the requests above printed
    if "Traceback" in running:
        print(text[-5000:])
        raise SystemExit("FAIL: a traceback in the console (for ordinary 403/404s there should be none)")
    logins = text.count("Demo-Pass-2026")
    if logins != 1:
        raise SystemExit(f"FAIL: the demo logins were printed {logins} times (once expected)")
    zone = ZoneInfo(os.environ.get("DISPLAY_TIME_ZONE") or "Asia/Shanghai")
    expected = dt.datetime.now(zone).strftime("%z")
    offsets = [m.group(1) for m in _STAMP.finditer(text)]
    if len(offsets) < 5 or set(offsets) != {expected}:
        print(text[-5000:])
        raise SystemExit(f"FAIL: log times not all in the display zone ({expected}): offsets seen {sorted(set(map(str, offsets)))}"
                         f" in {len(offsets)} stamps")
    print(f"OK: no traceback; demo logins printed once; {len(offsets)} log stamps, all at UTC{expected}")


if __name__ == "__main__":
    sys.exit(main())
