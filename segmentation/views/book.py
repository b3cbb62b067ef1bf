"""Segmentation pages: book (see views/__init__.py)."""

urlpatterns = []
