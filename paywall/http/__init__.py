"""HTTP: the middleware, the paywall's own pages, the reverse proxy and the server.

This layer reads requests and responses and decides what each reader gets; it
uses :mod:`paywall.access.readers` (who is reading) and :mod:`paywall.engine` (what the
page holds), and nothing below it imports from here.
"""
