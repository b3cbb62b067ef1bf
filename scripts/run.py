"""`make run`: migrate, load demo data the first time, collect the static files, start web + Celery worker + beat.

The app runs as users get it: DEBUG off unless DJANGO_DEBUG=true, its own error pages, static files served
by WhiteNoise from var/static. PORT (default 8000) and HOST (default 127.0.0.1) choose the address.
With no DATABASE_URL an embedded PostgreSQL (pgserver, data under var/pgdata) is started and
owned by this process; with no REDIS_URL Celery uses kombu's filesystem transport under var/.
Every process logs in one time zone, the display zone (DISPLAY_TIME_ZONE, default Asia/Shanghai), with
the UTC offset on each line.
Ctrl-C (or SIGTERM) stops everything this script started.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
DEMO_CUSTOMERS = os.environ.get("DEMO_CUSTOMERS", "3000")


def main():
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="crm_project.settings.base", PYTHONUNBUFFERED="1")
    # One log time zone: gunicorn's master and Celery log before Django (which sets TZ to TIME_ZONE) is loaded.
    env["TZ"] = env.get("DISPLAY_TIME_ZONE") or "Asia/Shanghai"
    if not env.get("DATABASE_URL"):
        from crm_project.embedded_db import database_url

        env["DATABASE_URL"] = database_url(ROOT / "var" / "pgdata")
        print(f"Embedded PostgreSQL started (data in {ROOT / 'var' / 'pgdata'}).", flush=True)
    host = env.get("HOST", "127.0.0.1")
    port = env.get("PORT", "8000")
    manage = [PY, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], env=env, check=True, cwd=ROOT)
    subprocess.run([*manage, "seed_demo", "--customers", DEMO_CUSTOMERS, "--if-empty", "--no-logins"], env=env,
                   check=True, cwd=ROOT)  # the logins are printed once, below
    subprocess.run([*manage, "collectstatic", "--noinput", "--verbosity", "0"], env=env, check=True, cwd=ROOT)

    # Each in its own process group (same session): Ctrl-C in the terminal reaches this script only, which stops
    # them gracefully with SIGTERM (gunicorn finishes the requests in flight, Celery its tasks) instead of every
    # process quitting at once on SIGINT, mid-request, with a traceback.
    procs = [
        subprocess.Popen([PY, "-m", "gunicorn", "crm_project.wsgi", "--bind", f"{host}:{port}",
                          "--workers", env.get("WEB_CONCURRENCY", "2"), "--access-logfile", "-"], env=env, cwd=ROOT,
                         process_group=0),
        subprocess.Popen([PY, "-m", "celery", "-A", "crm_project", "worker", "--beat", "--loglevel=INFO",
                          "--concurrency", "2", "--schedule", str(ROOT / "var" / "celerybeat-schedule")],
                         env=env, cwd=ROOT, process_group=0),
    ]
    stopping = False

    def stop(*_):
        nonlocal stopping
        if stopping:
            return
        stopping = True
        print("\nStopping web, worker and beat...", flush=True)
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"""
  Bank-branch CRM is running at http://{host}:{port}/
  API docs: http://{host}:{port}/api/docs/

  Demo logins (password Demo-Pass-2026):
    rm1, rm2   relationship managers, first branch
    rm3        relationship manager, second branch
    sup1, sup2 supervisors of the first and second branch
    officer1   complaint officer, first branch
    hq, hq2    head office (two: a segmentation policy needs a second person's approval)
  Press Ctrl-C to stop.
""", flush=True)
    try:
        while not stopping and all(p.poll() is None for p in procs):
            time.sleep(0.5)
    finally:
        stop()
    codes = [p.returncode for p in procs]
    print("Stopped.", flush=True)
    return 0 if all(c in (0, -signal.SIGTERM, None) for c in codes) or stopping else 1


if __name__ == "__main__":
    sys.exit(main())
