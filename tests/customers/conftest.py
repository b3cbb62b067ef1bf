"""Fixtures the customer tests share; a module opts in with ``pytestmark = pytest.mark.usefixtures(...)``."""

import pytest
from django.utils import translation


@pytest.fixture
def english():
    """Messages are asserted in English (the catalogue translates them for zh-hans users)."""
    with translation.override("en"):
        yield


@pytest.fixture
def media(settings, tmp_path):
    """Uploaded and written files under a temporary MEDIA_ROOT."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
