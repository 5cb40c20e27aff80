"""The rights-request domain in pure Python: no Flask, no SQLAlchemy.

Request kinds, the lifecycle's legal transitions, jurisdiction profiles, the holiday calendar
and the statutory deadline arithmetic. Functions take dates and values and never read the
clock, so every rule is tested with plain tables.
"""
