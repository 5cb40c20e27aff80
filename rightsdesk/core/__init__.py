"""What every capability uses: the audit trail, settings, links, leases, keys and stored files."""
