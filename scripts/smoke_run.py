"""Start `make run` as a user would, check the login page and a demo login, then stop it with Ctrl-C.

Fails unless: the app answers within the time limit, /login/ is 200, rm1 can sign in and sees the
customer list, and after SIGINT every process it started has exited and the port is free.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

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
    proc = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, start_new_session=True,
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
        assert resp.status_code == 200 and resp.url.rstrip("/").endswith("/customers"), (resp.status_code, resp.url)
        assert 'data-testid="customer-table"' in resp.text, "customer list not shown after login"
        print(f"OK: login page 200, rm1 signed in and sees the customer list ({resp.url})")
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


if __name__ == "__main__":
    sys.exit(main())
