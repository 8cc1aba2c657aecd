"""URL routes: sign-in and subscribe from the Django example, Wagtail's admin, then the pages."""

from __future__ import annotations

from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls

from examples.django_app.urls import urlpatterns as django_example_urls

urlpatterns = [
    *(p for p in django_example_urls if p.name in ("login", "logout", "subscribe")),
    path("admin/", include(wagtailadmin_urls)),
    path("", include(wagtail_urls)),
]
