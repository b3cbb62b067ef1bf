"""Segmentation pages, one module per area: ``policies`` (head office), ``runs`` (head office), ``book`` (the
RM's overdue contacts and downgrade watch, overrides on a customer), ``supervision`` (pyramid, Pareto, matrix,
compliance). Each module has its ``urlpatterns``; ``segmentation/urls.py`` joins them."""
