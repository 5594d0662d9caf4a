"""The services the platform keeps state in.

The object store (``storage``: landing zone and lake), the PostGIS compute database
(``compute``) and the MongoDB ledger (``ledger``, ``mongo_schema``), and how an outage of any
of them is recognised (``outages``).
"""
