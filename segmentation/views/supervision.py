"""Segmentation pages: supervision (see views/__init__.py)."""

urlpatterns = []
