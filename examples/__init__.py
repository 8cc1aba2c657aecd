"""Examples of the paywall in front of real applications.

* ``examples.news_site``: a small news site (Starlette), with and without the paywall.
* ``examples.fastapi_app``: the middleware added to a FastAPI app.
* ``examples.litestar_app``, ``examples.quart_app``: a Litestar and a Quart app wrapped, members known from
  their own sessions (the three share ``examples.hydrogen``'s pages).
* ``examples.django_app``: a Django project served over ASGI behind the paywall.
"""
