"""Segmentation API: policies (see api/__init__.py)."""

ROUTES = []  # (prefix, viewset, basename)
