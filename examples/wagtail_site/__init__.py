"""A Wagtail site behind the paywall: editors choose, page by page, and place the break (see ``asgi.py``)."""
