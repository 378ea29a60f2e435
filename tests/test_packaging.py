"""The wheel the Docker image installs carries every file the code reads at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.helpers import REPO


def test_wheel_has_every_package_file(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "-w", str(tmp_path), str(REPO)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("wiredesk-*.whl"))
    shipped = set(zipfile.ZipFile(wheel).namelist())
    package = REPO / "src" / "wiredesk"
    wanted = {f"wiredesk/{p.relative_to(package).as_posix()}" for p in package.rglob("*")
              if p.is_file() and "__pycache__" not in p.parts}
    assert sorted(wanted - shipped) == []
