"""What the API's viewsets share."""

from django.http import Http404

from ..permissions import can


class PermittedObjectMixin:
    """A viewset whose records exist only for who may see them: without ``view_perm`` the whole endpoint is a 404
    (nothing hints that records exist), and a malformed id is a 404 too (not a 500)."""

    view_perm: str = ""

    def check_permissions(self, request):
        super().check_permissions(request)
        if self.view_perm and not can(request.user, self.view_perm):
            raise Http404

    def get_object(self):
        try:
            return super().get_object()
        except (ValueError, TypeError, OverflowError):
            raise Http404 from None
