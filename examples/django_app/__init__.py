"""A minimal Django project served over ASGI behind the paywall (see ``asgi.py``)."""
