"""examples/wordcount in Python: counts the words of a text and lists the
most frequent.

Input: {"text": "...", "top": 3} (top optional, 10 by default) or just a
JSON string. Output: {"words": N, "unique": M, "top": [["the", 3], ...]},
the most frequent words first, ties in alphabetical order. Words are runs
of letters, digits and inner apostrophes, compared in lower case.
"""

DEFAULT_TOP = 10
APOSTROPHES = "'\u2019"


def handle(payload):
    text, top = parse(payload)
    counts = {}
    words = 0
    for word in split_words(text):
        words += 1
        word = word.lower()
        counts[word] = counts.get(word, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return {
        "words": words,
        "unique": len(counts),
        "top": [[word, n] for word, n in ranked[:top]],
    }


def parse(payload):
    if isinstance(payload, str):
        return payload, DEFAULT_TOP
    if not isinstance(payload, dict):
        raise ValueError(
            f'expected {{"text": "..."}} or a JSON string, got {kind(payload)}'
        )
    text = payload.get("text")
    if not isinstance(text, str):
        raise ValueError(f'"text" must be a string, got {kind(text)}')
    top = payload.get("top")
    if top is None:
        return text, DEFAULT_TOP
    if isinstance(top, bool) or not isinstance(top, int) or top < 0:
        raise ValueError(f'"top" must be a non-negative integer, got {top!r}')
    return text, top


def split_words(text):
    word = []
    for c in text:
        if c.isalnum() or c in APOSTROPHES:
            word.append(c)
        elif word:
            yield from trimmed("".join(word))
            word = []
    if word:
        yield from trimmed("".join(word))


def trimmed(run):
    word = run.strip(APOSTROPHES)
    if word:
        yield word


def kind(value):
    return {
        type(None): "null",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), type(value).__name__)
