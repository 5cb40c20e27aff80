"""``rightsdesk jobs …``: the retention jobs' commands (the work is in
:mod:`rightsdesk.services.retention_jobs`)."""
