from django.urls import path

from . import views
from .ingest import views as ingest_views

app_name = "customers"
urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("export.csv", views.customer_export, name="export"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/edit/", views.customer_edit, name="edit"),
    path("<int:pk>/tags/", views.customer_tags, name="tags"),
    path("<int:pk>/reveal/<str:field>/", views.customer_reveal, name="reveal"),
    path("<int:pk>/interactions/new/", views.interaction_create, name="interaction-create"),
    path("<int:pk>/tasks/new/", views.customer_task_create, name="customer-task-create"),
    path("<int:pk>/tasks/<int:task_pk>/done/", views.customer_task_done, name="customer-task-done"),
    path("<int:pk>/tasks/<int:task_pk>/snooze/", views.customer_task_snooze, name="customer-task-snooze"),
    path("tasks/", views.task_list, name="tasks"),
    path("import/", ingest_views.import_index, name="import"),
    path("import/jobs/<int:pk>/", ingest_views.import_job_detail, name="import-job"),
    path("import/jobs/<int:pk>/apply/", ingest_views.import_job_apply, name="import-apply"),
    path("import/jobs/<int:pk>/rejects.csv", ingest_views.import_job_rejects, name="import-rejects"),
    path("tasks/<int:pk>/done/", views.task_done, name="task-done"),
    path("tasks/<int:pk>/snooze/", views.task_snooze, name="task-snooze"),
]
