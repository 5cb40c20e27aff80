"""Fulfilment: carrying out rights requests in the systems the data map names.

The map itself (what it says, and whether it is well formed) is pure domain code in
``rightsdesk.domain.datamap``; this package reaches the systems: it checks the map against the
real databases (:mod:`.schema_check`) and creates the demo shop's database (:mod:`.demo_shop`).
"""
