"""Access: who is reading, and what they may read.

Reader identification, members and their tokens, trials and meters, and the
store that shares this state between instances. It knows nothing of HTML.
"""
