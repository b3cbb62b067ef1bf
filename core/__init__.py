"""The kernel: what every app uses and that knows no app (errors, pagination, API filters and rendering, the
safe export writer, rate limits, the GC pause, middleware). Imports nothing from crm_project or any app."""
