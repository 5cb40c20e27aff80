"""The operator's systems, as the data map names them: connecting to their databases, checking
the map against them, collecting and erasing a subject's rows, and posting jobs to webhook systems.

The map itself (what it says, and whether it is well formed) is pure domain code in
``rightsdesk.domain.datamap``; :mod:`.configured` reads the operator's map and retention schedule.
"""
