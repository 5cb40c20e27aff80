"""The operator: its identity and privacy officer, promised periods, holidays, staff accounts."""
