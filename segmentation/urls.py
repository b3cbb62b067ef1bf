from .views import book, policies, runs, supervision

app_name = "segmentation"
urlpatterns = [*policies.urlpatterns, *runs.urlpatterns, *book.urlpatterns, *supervision.urlpatterns]
