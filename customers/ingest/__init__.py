"""Core banking → CRM: the bulk API's set-based upserts and the file import, as one package.

``columns`` (parsers) → ``customers`` / ``children`` (the upserts, by kind) → ``initial_load`` (an empty table's
first load) → ``files`` (reading a file) → ``importer`` (a file through the upserts) → ``jobs`` (uploads run
by a worker) → ``selectors``, ``views``, ``forms``, ``command`` (the pages and ``manage.py import_*``).
"""
