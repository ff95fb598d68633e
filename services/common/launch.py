"""Starts a service process: eventlet's monkey-patching first, then the service.

Patching must come before anything imports socket, select or threading, so the
service module is imported by name only after it.
"""

import importlib
import warnings


def launch(module: str, service_class: str) -> None:
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()
    from services.common.runner import run

    run(getattr(importlib.import_module(module), service_class))
