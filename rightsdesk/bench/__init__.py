"""Benchmarks (``rightsdesk bench …``): speed is measured here, against the raw-SQL floor on
the same data, never in timed tests. Each module adds its command to :data:`bench_group`.
"""

from rightsdesk.bench import campaign, fulfilment, intake, purge, queue  # noqa: F401  (commands)
from rightsdesk.bench.common import bench_group

__all__ = ["bench_group"]
