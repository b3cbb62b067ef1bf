from functools import wraps

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import BasePermission

from .api_router import router


class DocsPermission(BasePermission):
    """The API schema needs a signed-in user or an API key unless ``CRM_API_DOCS_PUBLIC`` (anonymous → 401)."""

    def has_permission(self, request, view):
        return settings.CRM_API_DOCS_PUBLIC or bool(request.user and request.user.is_authenticated)


def docs_login_required(view):
    """The docs page (and its init script) sends an anonymous browser to the sign-in page, unless public."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not settings.CRM_API_DOCS_PUBLIC and not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapped


urlpatterns = [
    path("", include("dashboards.urls")),
    path("", include("org.urls")),
    path("customers/", include("customers.urls")),
    path("segments/", include("segmentation.urls")),
    path("complaints/", include("complaints.urls")),
    path("campaigns/", include("campaigns.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[DocsPermission]), name="schema"),
    # The split view serves Swagger UI's init script as a file (…/api/docs/?script): no inline script (CSP).
    path("api/docs/", docs_login_required(SpectacularSwaggerSplitView.as_view(
        url_name="schema", permission_classes=[DocsPermission])), name="api-docs"),
]

handler403 = "org.views.error_403"
handler404 = "org.views.error_404"
handler500 = "org.views.error_500"
