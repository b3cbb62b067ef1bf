"""Segmentation API: runs (see api/__init__.py)."""

ROUTES = []  # (prefix, viewset, basename)
