"""The read side runs where pybullet cannot be imported: the period figures and every dashboard page.

The warehouse is built here (that needs physics); a fresh process with ``sys.modules["pybullet"] = None``
then reads it, so an import of the simulator anywhere on the read path fails the test.
"""

from __future__ import annotations

import json
import subprocess
import sys

from dashtest import APP, PAGES, REPO

READ_WITHOUT_PYBULLET = """
import json, os, sys
sys.modules["pybullet"] = None  # any `import pybullet` now raises
from streamlit.testing.v1 import AppTest
from twin import api

warehouse = sys.argv[1]
figures = api.period(warehouse)
out = {
    "oee": figures.oee().oee,
    "cost": figures.cost().per_unit,
    "carbon": figures.carbon().energy_kwh,
    "first_pass_yield": figures.quality().first_pass_yield,
    "pages": {},
}
os.environ["TWIN_WAREHOUSE"] = warehouse
for name, page in json.loads(sys.argv[3]).items():
    at = AppTest.from_file(sys.argv[2], default_timeout=180)
    at.run()
    at.switch_page(page).run()
    out["pages"][name] = [e.value for e in at.exception] + [e.value for e in at.error]
out["pybullet_loaded"] = sys.modules.get("pybullet") is not None
print(json.dumps(out))
"""


def test_period_figures_and_every_page_without_pybullet(demo_warehouse):
    proc = subprocess.run(
        [sys.executable, "-c", READ_WITHOUT_PYBULLET, str(demo_warehouse), str(APP), json.dumps(PAGES)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 0 < out["oee"] <= 1 and out["cost"] > 0 and out["carbon"] > 0 and 0 < out["first_pass_yield"] <= 1
    assert out["pages"] == {name: [] for name in PAGES}, out["pages"]
    assert out["pybullet_loaded"] is False
