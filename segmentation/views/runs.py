"""Segmentation pages: runs (see views/__init__.py)."""

urlpatterns = []
