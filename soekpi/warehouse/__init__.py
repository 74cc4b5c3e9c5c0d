"""The warehouse: the only package that opens DuckDB.

``connection`` (the writer lock and connections), ``schema`` (tables from the contracts),
``readers`` and ``load`` (``soekpi load``), ``coverage`` (months with data, ``latest``),
``datacheck`` (``soekpi check``), ``hashing`` (source fingerprints). Nothing heavy is
imported here, so that ``soekpi --help`` stays fast.
"""
