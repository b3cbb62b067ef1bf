"""`make test`: the whole suite on PostgreSQL (DATABASE_URL, or the embedded one under var/).

Exits non-zero when pytest collects no tests (pytest's exit code 5), so an empty run never passes.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv):
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="crm_project.settings.test")
    if not env.get("DATABASE_URL"):
        from crm_project.embedded_db import database_url

        env["DATABASE_URL"] = database_url(ROOT / "var" / "pgdata")
    code = subprocess.run([sys.executable, "-m", "pytest", *argv], env=env, cwd=ROOT, check=False).returncode
    if code == 5:
        print("ERROR: pytest collected no tests.", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
