"""Integrations with web frameworks, each an optional extra; the core imports none of them.

* :mod:`paywall.contrib.fastapi`: the reader's access as a FastAPI/Starlette dependency.
* :mod:`paywall.contrib.django`: members from Django's auth, the access in templates, a break tag.
* :mod:`paywall.contrib.wagtail`: a StreamField break block and a page-level access choice.
"""
