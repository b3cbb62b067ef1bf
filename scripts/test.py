"""`make test`: the whole suite on PostgreSQL (DATABASE_URL, or the embedded one under var/), in parallel.

pytest-xdist runs it on one worker per core (`-n auto`) unless the arguments choose (`-n 2`, `-n 0`,
`-p no:xdist`); pytest-django gives each worker its own test database (`test_<name>_gw0`, ...).
Exits non-zero when pytest collects no tests (pytest's exit code 5), so an empty run never passes.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def chooses_workers(argv) -> bool:
    """Whether the caller's pytest arguments already say how many workers (or turn xdist off)."""
    for arg, following in zip(argv, [*argv[1:], None]):
        if arg in ("-n", "--numprocesses") or arg.startswith("--numprocesses="):
            return True
        if arg.startswith("-n") and not arg.startswith("--"):  # -n2, -nauto
            return True
        if (arg, following) == ("-p", "no:xdist") or arg == "-pno:xdist":
            return True
    return False


def main(argv):
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="crm_project.settings.test")
    if not env.get("DATABASE_URL"):
        from crm_project.embedded_db import database_url

        env["DATABASE_URL"] = database_url(ROOT / "var" / "pgdata")
    workers = [] if chooses_workers(argv) else ["-n", "auto"]
    code = subprocess.run([sys.executable, "-m", "pytest", *workers, *argv], env=env, cwd=ROOT, check=False).returncode
    if code == 5:
        print("ERROR: pytest collected no tests.", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
