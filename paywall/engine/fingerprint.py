"""The fingerprint of withheld text: the runs of words that must not remain anywhere in a gated page.

The fingerprint is the set of k-word runs ("shingles", k = :data:`SHINGLE_WORDS`,
or :data:`SHINGLE_UNSPACED` tokens for text mostly in scripts written without
spaces) of the withheld text, minus the runs readers may see anyway:

* every run of the teaser (it is shown on purpose);
* every run of the page's visible chrome outside the article (header,
  navigation, related stories, newsletter box...), because a phrase that is
  already on screen is not a secret, and scrubbing it would damage the page.
  The exception is a long passage (:data:`LONG_COPY_WORDS` words or more in a
  row, mostly outside links) of withheld text in the chrome: that is a copy of
  the article, not chrome, and it is scrubbed. Lists of links (related
  stories, menus) that repeat headlines the removed part also showed stay.

When the withheld text itself is shorter than k words, its whole word
sequence is the fingerprint, so a short removed paragraph still cannot leak.

The fingerprint also names its *markers*: its words of four or more letters
that readers see nowhere else on the page and that are not common words of
prose, code or markup (:data:`COMMON_WORDS`). The sweep looks for them first,
at C speed, to know whether and where a copy may stand.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence, Set
from dataclasses import dataclass, field
from itertools import chain, compress, filterfalse

from paywall.engine.label import Label
from paywall.engine.text import (
    BASE64_RUN,
    IGNORABLE,
    LONG_COPY_WORDS,
    MARKUP,
    MERGING,
    PERCENT,
    UNSPACED_WORD,
    WORD,
    decode_layers,
    read_as_bytes,
    readings,
    runs_of,
    shingle_length,
    shingles,
    streams,
    unspaced_count,
    word_offset,
    word_spans,
    words,
)

_ENCODED = re.compile(r"[\\&<%]")
"""What :func:`~paywall.engine.text.decode_layers` reads otherwise: an escape, an entity, markup, percent-encoding."""
CLUSTER_MARKERS = 3
"""Different markers that must stand together for a copy to be looked for there (within
:data:`~paywall.engine.sweep.CLUSTER_BYTES`): code and markup use an odd rare word, a copy uses several.
A withheld passage that holds fewer has :attr:`Fingerprint.lone_markers`."""
SHORT_PASSAGE_CHARS = 300
"""A withheld passage longer than this holds enough markers for a copy of it to be found by their clusters."""
EARLY_CHARS = 2048
"""A text longer than this has its start read first for a withheld run (see :meth:`Fingerprint.leaks`)."""
TEASER_END_WORDS = 8
"""The teaser's last words that, standing in a row in a text which goes on after them, mark the text as a copy of
the article from its start (see :meth:`Fingerprint.teaser_copy`)."""
_TRAILING = " \t\r\n,;:-\u2013\u2014(\"'\u201c\u2018"
"""What a shortened text loses at its end (a copy is cut before the separator that led to the withheld text)."""
CONTEXT_WORDS = 2
"""The words either side of a marker that :meth:`Fingerprint.context_of` names (markup between two words of a copy,
``the <em>word``, stands as one word of the page's word table)."""


@dataclass
class Fingerprint:
    """The runs of words that must not remain anywhere in the document.

    A built fingerprint makes its runs when they are first read
    (:attr:`runs`): the markers tell first whether and where a copy may
    stand, and a page whose bytes hold no cluster of them is served without
    a run being made (one tuple per withheld word, the larger part of the
    fingerprint's cost).
    """

    k: int
    known_runs: frozenset[tuple[str, ...]] | None
    """The runs, or None when :attr:`make_runs` makes them on first use (see :attr:`runs`)."""
    vocabulary: frozenset[str]
    markers: frozenset[str] = frozenset()
    """Withheld words that readers see nowhere else on the page: any copy worth finding holds one."""
    lone_markers: frozenset[str] = frozenset()
    """The markers of a withheld passage too short to hold :data:`CLUSTER_MARKERS` of them (a closing line, a
    caption): a copy of it holds no cluster of markers, so any one of them tells where it may stand."""
    lone_runs: frozenset[tuple[str, ...]] = frozenset()
    """The runs of those passages: a place near such a marker is read for them first (see :meth:`may_copy`)."""
    chrome_copies: bool = False
    """Whether the visible chrome holds a long copy of the withheld text (a share box quoting the story)."""
    withheld_words: int = 0
    """Words of the withheld text."""
    make_runs: Callable[[], Set[tuple[str, ...]]] | None = field(default=None, repr=False, compare=False)
    """Makes the runs when :attr:`known_runs` is None (called once)."""
    teaser_end: tuple[str, ...] = ()
    """The last :data:`TEASER_END_WORDS` words of the teaser (none when it has fewer): see :meth:`teaser_copy`."""
    teaser_chars: int = 0
    """The length of the teaser's text."""
    streams: Sequence[list[str]] = ()
    """The withheld text's words (:func:`~paywall.engine.text.streams`): where :meth:`runs_with` finds a marker's
    runs."""

    _runs: Set[tuple[str, ...]] | None = field(init=False, repr=False, compare=False)
    _ascii_markers: frozenset[bytes] | None = field(init=False, repr=False, compare=False)
    _marker_runs: dict[str, frozenset[tuple[str, ...]]] = field(init=False, repr=False, compare=False)
    _marker_context: dict[str, frozenset[bytes]] = field(init=False, repr=False, compare=False)

    # The fields above keep what the properties of the same names make on first read (the last two, what
    # :meth:`runs_with` and :meth:`context_of` made). Compiled, a class keeps no ``__dict__``, where
    # ``functools.cached_property`` would keep it: it would be made on every read.

    def __post_init__(self) -> None:
        self._runs = None
        self._ascii_markers = None
        self._marker_runs = {}
        self._marker_context = {}

    @property
    def runs(self) -> Set[tuple[str, ...]]:
        """The withheld runs readers see nowhere else: a copy holding one is removed."""
        runs = self._runs
        if runs is None:
            if self.known_runs is not None:
                runs = self.known_runs
            else:
                runs = self.make_runs() if self.make_runs is not None else frozenset()
            self._runs = runs
        return runs

    @property
    def runs_made(self) -> bool:
        """Whether :attr:`runs` has been read, and so made (a page whose bytes hold no cluster of markers is
        served without)."""
        return self._runs is not None

    @property
    def ascii_markers(self) -> frozenset[bytes]:
        """The ASCII markers as bytes, for the search of the serialised page (made in C: no loop in Python)."""
        markers = self._ascii_markers
        if markers is None:
            markers = self._ascii_markers = frozenset(map(str.encode, filter(str.isascii, self.markers)))
        return markers

    @classmethod
    def build(cls, removed: Sequence[str], teaser: Sequence[str], chrome: Sequence[str] = ()) -> Fingerprint:
        """Fingerprint of the ``removed`` text pieces, minus what readers see anyway.

        ``teaser`` and ``chrome`` are the visible text pieces of the kept
        article and of the page outside the article, in document order.
        """
        removed_streams = streams(removed)
        count = len(removed_streams[0])
        if count == 0:
            return cls(0, frozenset(), frozenset())
        k = min(shingle_length(removed, count), count)
        # The words of the withheld text (a word only in runs readers see stands in the teaser or the chrome too).
        vocabulary = frozenset(chain.from_iterable(removed_streams))
        withheld = _Runs(removed_streams, k)
        teaser_streams = streams(teaser)
        chrome_safe, chrome_copies, chrome_words = _chrome_runs(chrome, k, vocabulary, withheld)
        seen = set(teaser_streams[0])
        if not chrome_copies:  # words of a copy shown in the chrome are no less secret elsewhere
            seen.update(chrome_words)
        markers = _markers(list(vocabulary.difference(seen, COMMON_WORDS)))

        def make_runs() -> Set[tuple[str, ...]]:
            # The set is the fingerprint's own (taken from the withheld runs): read, never changed, not copied.
            runs = withheld.take()
            for stream in teaser_streams:
                runs.difference_update(runs_of(stream, k))
            runs.difference_update(chrome_safe)
            return runs

        lone, lone_runs = _short_passages(removed, markers, k)
        shown = teaser_streams[0]
        end = tuple(shown[-TEASER_END_WORDS:]) if len(shown) >= max(TEASER_END_WORDS, k) else ()
        teaser_chars = sum(map(len, teaser))
        return cls(
            k,
            None,
            vocabulary,
            markers,
            lone,
            lone_runs,
            chrome_copies,
            count,
            make_runs,
            end,
            teaser_chars,
            removed_streams,
        )

    def runs_with(self, marker: str) -> frozenset[tuple[str, ...]]:
        """The withheld runs that hold ``marker`` (made from the places it stands in the withheld text,
        which a marker, a word readers see nowhere else, has few of; kept)."""
        made = self._marker_runs.get(marker)
        if made is None:
            k = self.k
            runs: set[tuple[str, ...]] = set()
            for stream, at in self._places_of(marker):
                runs.update(runs_of(stream[max(0, at - k + 1) : at + k], k))
            made = self._marker_runs[marker] = frozenset(runs)
        return made

    def context_of(self, marker: str) -> frozenset[bytes]:
        """The words that stand within :data:`CONTEXT_WORDS` of ``marker`` in the withheld text, as bytes: a copy
        of a run that holds it has one of them beside it. Empty where one of them is not ASCII, which the page's
        word table may spell otherwise: every place of the marker is then read. Kept."""
        made = self._marker_context.get(marker)
        if made is None:
            near: list[str] = []
            for stream, at in self._places_of(marker):
                near += stream[max(0, at - CONTEXT_WORDS) : at]
                near += stream[at + 1 : at + 1 + CONTEXT_WORDS]
            made = frozenset(map(str.encode, near)) if "".join(near).isascii() else frozenset()
            self._marker_context[marker] = made
        return made

    def _places_of(self, marker: str) -> Iterator[tuple[list[str], int]]:
        """Each withheld stream with each index ``marker`` stands at in it (found in C)."""
        for stream in self.streams:
            at = -1
            while True:
                try:
                    at = stream.index(marker, at + 1)
                except ValueError:
                    break
                yield stream, at

    def may_copy(self, window: str) -> bool:
        """Whether a place around a marker that stands in no cluster of them holds a withheld run, plain or
        decoded: a run of a :attr:`lone_markers` passage, or one that holds a marker the place holds (a
        sentence quoted to be shared, whose other words readers see elsewhere). Read before the fingerprint's
        runs, which a page without such a copy never needs made (a word of a caption in a link's address, a
        closing line's word in a script)."""
        if self._holds_marker_run(words(window)):
            return True
        if _ENCODED.search(window) is None:
            return False
        if self._holds_marker_run(words(decode_layers(window, url=True))):
            return True
        # Markup read as text too: the place may be an attribute (a share link's quotation).
        return "<" in window and self._holds_marker_run(words(decode_layers(window, url=True, tags=False)))

    def _holds_marker_run(self, tokens: list[str]) -> bool:
        runs = set(runs_of(tokens, self.k))
        if not self.lone_runs.isdisjoint(runs):
            return True
        return any(not self.runs_with(marker).isdisjoint(runs) for marker in self.markers.intersection(tokens))

    def __bool__(self) -> bool:
        return bool(self.runs)

    def first_match(self, tokens: Sequence[str]) -> int | None:
        """Index of the first token that starts a withheld run, or None."""
        return next(self.matches(tokens), None)

    def holds(self, tokens: Sequence[str]) -> bool:
        """Whether ``tokens`` hold a withheld run (set operations in C: no loop over the tokens in Python)."""
        return bool(self.runs) and not self.runs.isdisjoint(runs_of(tokens, self.k))

    def matches(self, tokens: Sequence[str]) -> Iterator[int]:
        """Indexes of every token that starts a withheld run."""
        if not self.holds(tokens):
            return
        runs = self.runs
        for i, run in enumerate(runs_of(tokens, self.k)):
            if run in runs:
                yield i

    def leaks(self, text: str, *, url: bool = False, css: bool = False) -> bool:
        """Whether ``text``, in any of its :func:`readings`, still carries withheld text.

        Text that may hold markup is also read with its markup kept as text
        (an attribute of markup held in a script string, a share link's query).
        """
        if not self.runs:
            return False
        found = readings(text, url=url, css=css)
        primary = next(found)
        # A copy of the article most often starts as the article does, its teaser then the withheld
        # text: in a long text, its start is read first (the words wholly inside it, the last one
        # dropped, are the text's own first words).
        if len(primary) > EARLY_CHARS and self.holds(words(primary[:EARLY_CHARS])[:-1]):
            return True
        if self.holds(words(primary)) or any(self.holds(words(reading)) for reading in found):
            return True
        return self.leaks_in_markup(text, url=url, css=css)

    def leaks_in_markup(self, text: str, *, url: bool = False, css: bool = False) -> bool:
        """Whether the attributes of markup that ``text`` holds as text carry withheld text."""
        if not self.runs or MARKUP.search(text) is None:
            return False
        return any(self.holds(words(reading)) for reading in readings(text, url=url, css=css, tags=False))

    def leaks_encoded(self, text: str) -> bool:
        """Whether a percent- or base64-encoded reading of ``text`` carries withheld text.

        For text nodes, whose plain reading is checked across node boundaries.
        """
        if not self.runs:
            return False
        if BASE64_RUN.search(text) is None and PERCENT.search(text) is None:
            return False
        found = readings(text)
        next(found)  # the plain reading
        return any(self.holds(words(reading)) for reading in found)

    def teaser_copy(self, text: str) -> str | None:
        """``text`` decoded up to the end of the teaser, where it is a copy of the article from its start (an
        ``articleBody``, a script's copy of the story): the teaser's last words stand in it in a row, near its
        start, and more words follow. None otherwise.

        What follows the teaser in a copy of the article is the withheld text, so the copy is cut there without
        a withheld run being looked for (the runs are not made for it). What is kept is read as the teaser
        reads, and holds none of the :attr:`markers` (what precedes the teaser, a headline, is words readers
        see): a copy with withheld words before the teaser's end is read as any other text.
        """
        end = self.teaser_end
        if not end or len(text) <= self.teaser_chars:
            return None
        head = text[: 2 * self.teaser_chars + 1024]  # where the teaser's end must stand
        if end[0] not in head.casefold():
            return None  # (casefolded: a cheap test that the words may be there; words() casefolds too)
        decoded = decode_layers(head)
        tokens = words(decoded)
        # Searched in C, in the words joined by spaces (no word holds one): the spaces before the match count
        # the words before it.
        joined = f" {' '.join(tokens)} "
        at = joined.find(f" {' '.join(end)} ")
        after = joined.count(" ", 0, at + 1) - 1 + len(end) if at >= 0 else len(tokens)
        if after >= len(tokens) or not self.markers.isdisjoint(tokens[:after]):
            return None  # not there, nothing after it, or withheld words before it (read as any other text)
        start = word_offset(decoded, after)  # where the first word after the teaser starts
        return None if start is None else decoded[:start].rstrip(_TRAILING)

    def safe_prefix(self, text: str, *, url: bool = False) -> str:
        """The decoded text up to where withheld text starts (the teaser part).

        "" when what would be kept still carries withheld text in another
        reading (base64, percent-encoding): such a copy cannot be shortened.
        """
        decoded = decode_layers(text, url=url)
        prefix = decoded
        # The withheld text usually starts right after the teaser: look in growing prefixes.
        for size in (2048, 16384, len(decoded)):
            part = decoded[:size]
            start = self._first_run_start(part)
            if start is not None:
                prefix = decoded[:start].rstrip(_TRAILING)
                break
            if size >= len(decoded):
                break
        if prefix and self.leaks(prefix, url=url):
            return ""
        return prefix

    def _first_run_start(self, text: str) -> int | None:
        """Where in ``text`` the first withheld run starts, or None.

        The words are read in C (:func:`words`). Where they are read as bytes
        (ASCII, or ASCII but for prose punctuation: :func:`read_as_bytes`),
        :func:`word_spans` reads the same words, and the run's offset is found
        in C too (:func:`word_offset`). In other text only the words up to the
        first run are read again with their offsets and compared, and where
        they differ up to the run, or where :func:`words` finds none, every
        word is read with its offset, as the run's place is defined.
        """
        tokens = words(text)
        first = self.first_match(tokens)
        at = None if first is None else word_offset(text, first)
        if at is not None:
            return at
        if first is None and read_as_bytes(text):  # word_spans would read the same words: no run there either
            return None
        return self._spans_first_run(text, tokens, first)

    def _spans_first_run(self, text: str, tokens: list[str], first: int | None) -> int | None:
        """:meth:`_first_run_start` of text that :func:`words` reads character by character: where
        :func:`words` found the run (``first`` of ``tokens``), its words read again with their offsets."""
        if first is not None:
            spans = word_spans(text, limit=first + self.k)
            if [token for token, _ in spans[: first + self.k]] == tokens[: first + self.k]:
                return spans[first][1]
        spans = word_spans(text)
        first = self.first_match([token for token, _ in spans])
        return None if first is None else spans[first][1]


class _Runs:
    """The runs of the withheld streams, made on first use: the set is made once, then taken by the fingerprint."""

    def __init__(self, streams: list[list[str]], k: int):
        self._streams = streams
        self._k = k
        self._made: set[tuple[str, ...]] | None = None

    def get(self) -> set[tuple[str, ...]]:
        if self._made is None:
            self._made = set()
            for stream in self._streams:
                self._made.update(runs_of(stream, self._k))
        return self._made

    def take(self) -> set[tuple[str, ...]]:
        """The set, for its owner to change (made again if asked for after)."""
        made = self.get()
        self._made = None
        return made


def _may_share_runs(tokens: Sequence[str], k: int, vocabulary: frozenset[str]) -> bool:
    """Whether ``tokens`` hold ``k`` words of ``vocabulary`` in a row, the least a run shared with it needs.

    Told in C: a byte per token, 1 for a word of the vocabulary, and a search for ``k`` of them.
    """
    return bytes(map(vocabulary.__contains__, tokens)).find(b"\x01" * k) >= 0


def _chrome_runs(
    pieces: Sequence[str], k: int, vocabulary: frozenset[str], withheld: _Runs
) -> tuple[set[tuple[str, ...]], bool, list[str]]:
    """Withheld runs that visible chrome shows too, except inside long copies; whether there was one; its words.

    A copy counts as long when it has :data:`LONG_COPY_WORDS` words in a row
    of withheld text, most of them outside links and headings (:class:`Label`):
    lists of links (related stories, menus) repeating headlines the article
    also showed are chrome.
    The withheld runs are only made when ``k`` words of the chrome in a row
    are words of the withheld text (``vocabulary``).
    """
    safe: set[tuple[str, ...]] = set()
    copies = False
    spaced: list[str] = []
    for separator in (" ", ""):
        # Most chrome shares no run with the withheld text: one reading of it all tells, in C.
        quick = words(separator.join(pieces))
        if separator == " ":
            spaced = quick
        elif quick == spaced:
            continue
        if not _may_share_runs(quick, k, vocabulary) or withheld.get().isdisjoint(runs_of(quick, k)):
            continue
        tokens, owners = joined_tokens(pieces, separator)
        in_link = [isinstance(pieces[first], Label) for first, _ in owners]
        runs, copied = _without_long_copies(tokens, in_link, k, withheld.get())
        safe |= runs
        copies = copies or copied
    return safe, copies, spaced


def joined_tokens(texts: Sequence[str], separator: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Tokens of ``texts`` joined by ``separator``, each with the first and last text it spans.

    ``separator`` is " " (no token spans two texts) or "" (a word split over
    texts, ``zephyr<em>quill</em>``, is one token spanning them). Each text is
    tokenised on its own (:func:`words`), so the cost is that of tokenising.
    """
    if separator and WORD.search(separator):
        raise ValueError("the separator must not hold word characters")
    tokens: list[str] = []
    owners: list[tuple[int, int]] = []
    open_end = False  # the last token reaches the end of the texts so far, and a word may go on
    for index, text in enumerate(texts):
        parts = words(text)
        if separator:
            tokens.extend(parts)
            owners.extend([(index, index)] * len(parts))
            continue
        core = text if text.isascii() else IGNORABLE.sub("", text)
        if not core:
            continue
        if open_end and parts and MERGING.match(core):
            tokens[-1] += parts[0]
            owners[-1] = (owners[-1][0], index)
            parts = parts[1:]
        tokens.extend(parts)
        owners.extend([(index, index)] * len(parts))
        open_end = MERGING.match(core[-1]) is not None
    return tokens, owners


def _without_long_copies(
    tokens: Sequence[str],
    in_link: Sequence[bool],
    k: int,
    withheld: set[tuple[str, ...]],
) -> tuple[set[tuple[str, ...]], bool]:
    hits = [i for i, run in enumerate(runs_of(tokens, k)) if run in withheld]
    runs = {tuple(tokens[i : i + k]) for i in hits}
    if not runs:
        return runs, False
    copied = False
    covered = [False] * len(tokens)
    for i in hits:
        for j in range(i, i + k):
            covered[j] = True
    start = 0
    while start < len(tokens):
        if not covered[start]:
            start += 1
            continue
        end = start
        while end < len(tokens) and covered[end]:
            end += 1
        prose = sum(1 for j in range(start, end) if not in_link[j])
        if _length_in_words(tokens[start:end]) >= LONG_COPY_WORDS and prose * 2 >= end - start:
            runs -= shingles(tokens[start:end], k)
            copied = True
        start = end
    return runs, copied


def _short_passages(
    pieces: Sequence[str], markers: frozenset[str], k: int
) -> tuple[frozenset[str], frozenset[tuple[str, ...]]]:
    """The markers and the runs of the withheld ``pieces`` of ``k`` words or more that hold fewer than
    :data:`CLUSTER_MARKERS` markers.

    Only pieces of up to :data:`SHORT_PASSAGE_CHARS` are read again (a caption, a closing line): a longer one
    holds more markers.
    """
    lone: set[str] = set()
    runs: set[tuple[str, ...]] = set()
    for piece in pieces:
        if len(piece) <= SHORT_PASSAGE_CHARS:
            tokens = words(piece)
            held = markers.intersection(tokens)
            if held and len(held) < CLUSTER_MARKERS and len(tokens) >= k:
                lone |= held
                runs.update(runs_of(tokens, k))
    return frozenset(lone), frozenset(runs)


def _length_in_words(tokens: Sequence[str]) -> float:
    """How many words ``tokens`` make, a token of a script written without spaces weighing
    :data:`~paywall.engine.text.UNSPACED_WORD`."""
    unspaced = sum(1 for token in tokens if not token.isascii() and unspaced_count(token))
    return len(tokens) - unspaced * (1 - UNSPACED_WORD)


MIN_MARKER_LENGTH = 4
"""Markers are words of at least this many characters (for scripts written with spaces)."""

COMMON_WORDS = frozenset(
    """
    about above after again against also although among another anyone anything around away back been before
    being below between both came come could didn does doing done down during each either else even ever every
    from further have having here hers herself himself however into itself just least less like made make many
    might more most much must near neither never next none nothing once only other others ours over same shall
    should since some such than that their theirs them themselves then there these they this those though
    through thus till under until upon very want well were what when where whether which while whom whose will
    with within without would your yours yourself async await break case catch class const continue debugger
    default delete else enum export extends false finally function import instanceof null return static super
    switch throw true typeof undefined void while window document length prototype object string number boolean
    array json http https html script style width height color display none block inline auto font size margin
    padding border left right center image content type text name value data href title link meta icon page item
    list button form input label span
    """.split()  # noqa: SIM905
)
"""Words too common in prose, code and markup to mark a copy of an article."""


def _markers(candidates: list[str]) -> frozenset[str]:
    """The ``candidates`` that can mark a copy: every word with other characters than ASCII, and the ASCII
    words of :data:`MIN_MARKER_LENGTH` characters or more that are not numbers.

    Where every candidate is ASCII (one test of them all joined), the two tests of each are one
    comprehension; otherwise they are picked with ``filter`` and ``compress`` over C functions.
    """
    if "".join(candidates).isascii():
        return frozenset([word for word in candidates if len(word) >= MIN_MARKER_LENGTH and not word.isdigit()])
    long_enough = map((MIN_MARKER_LENGTH - 1).__lt__, map(len, candidates))
    return frozenset(
        chain(filterfalse(str.isdigit, compress(candidates, long_enough)), filterfalse(str.isascii, candidates))
    )
