"""Segmentation API: assignments (see api/__init__.py)."""

ROUTES = []  # (prefix, viewset, basename)
