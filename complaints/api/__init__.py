"""Complaints API (``/api/v1/complaints/``, ``/api/v1/sla-policies/``, ``/api/v1/complaint-categories/``), one
module per area; ``register(router)`` is called by ``crm_project/api_router.py``. The same selectors and services as
the pages; keys need ``complaints:read`` to read and ``complaints:write`` to record and work on complaints."""


def register(router):
    from . import complaints, settings

    for module in (complaints, settings):
        for prefix, viewset, basename in module.ROUTES:
            router.register(prefix, viewset, basename=basename)
