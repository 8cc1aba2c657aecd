"""Django: members from Django's own auth, the reader's access in templates, a break tag.

Install with ``pip install 'paywall[django]'``, then in ``settings.py``::

    INSTALLED_APPS = [..., "django.contrib.auth", "django.contrib.contenttypes", "paywall.contrib.django"]
    MIDDLEWARE = [
        ...,
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "paywall.contrib.django.middleware.PaywallMemberMiddleware",
        ...,
    ]
    TEMPLATES = [{..., "OPTIONS": {"context_processors": [..., "paywall.contrib.django.context_processors.paywall"]}}]

* :class:`~paywall.contrib.django.middleware.PaywallMemberMiddleware` makes a
  reader a member when ``request.user`` has the permission ``paywall.read_full``
  (the app ships it: grant it to a group or a user in the admin), or when the
  check named by ``PAYWALL_MEMBER_CHECK`` says so. It tells the paywall with
  ``X-Paywall-Access: member``, so it works behind :class:`paywall.PaywallMiddleware`
  and behind ``paywall proxy`` alike.
* The context processor gives templates ``paywall``: the reader's access
  (``paywall.access``, ``paywall.is_member``, ``paywall.free_articles_left``,
  ``paywall.trial_ends``), computed only when a template uses it.
* ``{% load paywall %}{% paywall_break %}`` writes the explicit break marker.
"""
