"""Core banking → CRM: the bulk API's set-based upserts and the file import, as one package.

Batches: ``columns`` (column parsers), ``batch`` (a batch's columns, results and error rows), ``scope`` (where a
bulk writer may write), ``customers`` and ``children`` (the upserts, called by name), ``initial_load`` (the first
load of an empty customer table). Files: ``kinds`` (what each kind of file holds), ``limits``, ``files`` (CSV) and
``xlsx`` (Excel) reading, ``importer`` (a file through the upserts), ``changes`` (what a dry run would change),
``jobs`` (uploads run by a worker). Pages and command: ``selectors``, ``views``, ``forms``, ``command``.
"""
