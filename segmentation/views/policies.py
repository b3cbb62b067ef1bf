"""Segmentation pages: policies (see views/__init__.py)."""

urlpatterns = []
