"""ecozone.web: the web app (FastAPI) for planners and reviewers.

``create_app(store=None, *, settings=None)`` builds the application (pages and
REST API over a layer store); ``ecozone serve`` runs it with uvicorn. Options are a
validated :class:`WebSettings` (:func:`load_settings`).
"""

from ecozone.web.app import create_app
from ecozone.web.settings import WebSettings, load_settings

__all__ = ["WebSettings", "create_app", "load_settings"]
