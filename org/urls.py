from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("language/", views.language_set, name="language-set"),
    path("audit/", views.audit_log, name="audit-log"),
    path("calendar/", views.calendar, name="calendar"),
    path("calendar/day/remove/", views.calendar_day_remove_view, name="calendar-day-remove"),
]
