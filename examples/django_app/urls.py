"""URL routes of the example project."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("articles/<slug:slug>", views.article, name="article"),
    path("subscribe", views.subscribe, name="subscribe"),
    path("api/articles", views.api_articles, name="api-articles"),
    path("api/whoami", views.whoami, name="whoami"),
    path("login", auth_views.LoginView.as_view(template_name="login.html"), name="login"),
    path("logout", auth_views.LogoutView.as_view(), name="logout"),
]
