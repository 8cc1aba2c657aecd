"""Visible text marked as a label (:class:`Label`), for the fingerprint's reading of the page's chrome.

A module of its own, left to the interpreter when the engine is compiled: a compiled class cannot derive from
``str``.
"""

from __future__ import annotations


class Label(str):
    """Visible text that names rather than tells: a link's (menus, related-story lists) or a heading's.

    A long copy of the article in the chrome is prose; labels are chrome, whatever runs they share with it
    (a headline that the story's last line repeats, a list of the other stories' headlines)."""

    __slots__ = ()
