"""The domain stays free of Flask and SQLAlchemy, so it can be tested and reused alone."""

import subprocess
import sys


def test_importing_the_domain_loads_neither_flask_nor_sqlalchemy():
    code = (
        "import sys\n"
        "import rightsdesk.domain.deadlines, rightsdesk.domain.lifecycle\n"
        "import rightsdesk.domain.profiles, rightsdesk.domain.identity\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
