"""URL routes of the example project."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("articles/<slug:slug>", views.article, name="article"),
    path("api/articles", views.api_articles, name="api-articles"),
]
