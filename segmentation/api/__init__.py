"""Segmentation API, one module per area (``policies``, ``runs``, ``assignments``); ``register(router)`` is
called by ``crm_project/api_router.py``."""


def register(router):
    from . import assignments, policies, runs

    for module in (policies, runs, assignments):
        for prefix, viewset, basename in module.ROUTES:
            router.register(prefix, viewset, basename=basename)
