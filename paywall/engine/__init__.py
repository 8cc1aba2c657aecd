"""The HTML engine: find the article in a page, cut it at its teaser, sweep copies of the rest.

Its stages are modules: :mod:`.decode` (bytes to text), parse (Lexbor, the
HTML5 tree a browser builds), :mod:`.outline` and :mod:`.detect` (where the
article is), :mod:`.cut` (the teaser), :mod:`.sweep` with :mod:`.fingerprint`,
:mod:`.text` and :mod:`.code` (copies of the withheld text anywhere else).
:mod:`.head` holds the byte-level helpers used without a parse. The middleware
uses :class:`Page` and those helpers only; feeds and JSON bodies use
:func:`cut_fragment`, which reads an article's body on its own as a page.
"""

from paywall.engine.decode import decode_body
from paywall.engine.fingerprint import Fingerprint
from paywall.engine.head import canonical_path, is_amp
from paywall.engine.page import FragmentCut, GateReport, Page, cut_fragment

__all__ = [
    "Fingerprint",
    "FragmentCut",
    "GateReport",
    "Page",
    "canonical_path",
    "cut_fragment",
    "decode_body",
    "is_amp",
]
