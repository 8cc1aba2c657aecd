"""Demo data: the database tables and two readers, made on first start.

DEMO ONLY: the passwords are printed on the login page. ``member`` holds the
permission ``paywall.read_full`` and reads every article in full; ``reader``
has an account but no membership and gets the teaser like anyone else.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

#: (username, password, member?)
DEMO_USERS = (("member", "member-demo-password", True), ("reader", "reader-demo-password", False))


def _prepare() -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    users = get_user_model()
    read_full = Permission.objects.get(content_type__app_label="paywall", codename="read_full")
    for username, password, member in DEMO_USERS:
        if users.objects.filter(username=username).exists():
            continue
        user = users.objects.create_user(username=username, password=password)
        if member:
            user.user_permissions.add(read_full)


def prepare(then: Callable[[], None] | None = None) -> None:
    """Create the tables and the demo users, then run ``then`` (more demo data); safe on every start.

    Run in a thread of its own: servers import the application inside their
    event loop, where Django refuses database work.
    """

    def work() -> None:
        _prepare()
        if then is not None:
            then()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(work).result()
