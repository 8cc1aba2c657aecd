from collections.abc import Sequence

def word_hits(
    table: bytes, words: set[bytes] | frozenset[bytes], ranges: Sequence[tuple[int, int]], /
) -> tuple[list[tuple[int, bytes]], int]: ...
