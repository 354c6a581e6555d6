"""Raw text to PAN-X-style words and sentences, each with character offsets into the original.

The model was trained on PAN-X, whose Wikipedia sentences come pre-split into words with
punctuation apart ("Credit Suisse ." is three words) and hold one sentence of about ten words.
XLM-R's tokenizer splits raw text on whitespace only, so feeding it raw text glues the period to
"Suisse" and a paragraph reads as one long sentence the model never saw in training. We therefore
split raw text the way PAN-X does (:func:`split_words`), cut it into sentences
(:func:`split_sentences`) and hand the model each word in NFC form (:func:`model_words`), while
every offset stays an index into the text the caller gave us.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

Word = tuple[str, int, int]

# Abbreviations whose period PAN-X keeps on the word ("St. Gallen", "Dr. Meier", "Nr. 5").
# Case-sensitive on purpose: sentence-final "no." or "art." must lose its period.
ABBREVIATIONS: frozenset[str] = frozenset(
    "St Ste Dr Prof Nr No Mr Mrs Ms Mme Mlle Jr Sr vs Vol Gen Rep Sgt Co Inc Ltd Mt Ft Hr Fr Abs "
    "bzw ca usw vgl Mio Mrd etc Dott Sig Avv Ing".split()
)

# Combining marks (NFD accents) and format characters (soft hyphen, zero-width space and
# joiners, BOM) belong to the word they sit in: they never break it and never stand alone.
JOINED_CATEGORIES: frozenset[str] = frozenset({"Mn", "Mc", "Me", "Cf"})
BOM = "\ufeff"

# English clitics PAN-X splits off: "Switzerland's" -> "Switzerland" "'s", "don't" -> "do" "n't".
# Only after the ASCII apostrophe: PAN-X keeps typographic ones on the word ("Women’s", "Don’t").
_CLITIC = re.compile(r"(?i)(?<=\w)(n't|'(?:s|m|re|ve|ll|d))$")

_LETTER = r"[^\W\d_]"
# Alternatives in priority order:
#   a clitic that already stands apart ("Switzerland 's");
#   dotted acronyms, which keep their last period ("U.S.", "d.h.", "S.p.A.");
#   initials, which keep their period ("J. R. Tolkien"; lower-case ones are split again below);
#   words with inner hyphens, elisions and number separators ("États-Unis", "l'Office", "6:3");
#   punctuation, a run of one character making one word ("''", "...").
_TOKEN = re.compile(
    rf"""
      (?i:n't|'(?:s|m|re|ve|ll|d))(?!\w)
    | (?:{_LETTER}\.){{2,}}(?!\w)
    | {_LETTER}\.(?!\w)
    | \w+(?:(?:[-‐'’.·]|(?<=\d)[,:–](?=\d))\w+)*
    | ([^\w\s])\1*
    """,
    re.VERBOSE,
)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")

# A sentence ends on a word of these characters ("." "?!" "..."), then closing quotes/brackets,
# when the next word starts in upper case, with a digit or with an opening quote or bracket.
_SENTENCE_END = frozenset(".!?…")
_OPENING = frozenset("«„‚‹([{¿¡")
_CLOSING = frozenset("»”’›)]}")
# Straight and English quotes open or close: opening when glued to the next word only.
_EITHER_WAY = frozenset("\"'“‘")
# A blank line (or a paragraph separator) ends a sentence whatever precedes it.
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n|\u2029")
# "am 1. August", "im 19. Jahrhundert": a period glued to a short number is an ordinal.
_ORDINAL = re.compile(r"\d{1,2}")


def split_words(text: str) -> list[Word]:
    """Split raw text into PAN-X-style words, each with its ``(word, start, end)`` offsets.

    Punctuation stands apart ("Suisse." -> "Suisse" "."), but words keep inner hyphens and French
    or Italian elisions ("États-Unis", "l'Office", "d'Italia"), numbers keep inner separators
    ("6-4", "6:3", "3.5", "1,000"), initials, dotted acronyms and common abbreviations keep their
    period ("J.", "U.S.", "St."), and English clitics split off ("'s", "n't"), as in the data.
    Combining marks and format characters stay inside the word they follow ("Zu\\u0308rich",
    "Mer\\u00adkel"); a leading BOM belongs to no word. ``text[start:end] == word`` always holds.
    """
    joined = _joined_positions(text)
    if not joined:
        return _split_plain(text)
    # Split the text without those characters, then map offsets back and let each word take the
    # joined characters that follow it.
    kept = [index for index in range(len(text)) if index not in joined]
    view = "".join(text[index] for index in kept)
    words: list[Word] = []
    for _, start, end in _split_plain(view):
        first, last = kept[start], kept[end - 1] + 1
        while last < len(text) and last in joined:
            last += 1
        words.append((text[first:last], first, last))
    return words


def _joined_positions(text: str) -> set[int]:
    """Indices of the combining marks and format characters in ``text`` (none in ASCII text)."""
    return {
        match.start()
        for match in _NON_ASCII.finditer(text)
        if unicodedata.category(match.group()) in JOINED_CATEGORIES
    }


def _split_plain(text: str) -> list[Word]:
    """:func:`split_words` for text without combining marks or format characters."""
    words: list[Word] = []
    for match in _TOKEN.finditer(text):
        word, start, end = match.group(), match.start(), match.end()
        if len(word) == 2 and word[1] == "." and not word[0].isupper():
            words.append((word[0], start, start + 1))
            words.append((".", start + 1, end))
            continue
        if word == "." and words and words[-1][0] in ABBREVIATIONS and words[-1][2] == start:
            previous, previous_start, _ = words.pop()
            words.append((previous + ".", previous_start, end))
            continue
        clitic = _CLITIC.search(word)
        if clitic and clitic.start() > 0:
            cut = start + clitic.start()
            words.append((word[: clitic.start()], start, cut))
            words.append((clitic.group(), cut, end))
            continue
        words.append((word, start, end))
    return words


def split_sentences(text: str, words: Sequence[Word]) -> list[tuple[int, int]]:
    """Sentences of ``text`` as word ranges ``(first, end)``, end exclusive, covering every word.

    A sentence ends after a word made of ``. ! ? …`` (and any closing quotes or brackets after
    it) when the next word starts in upper case, with a digit or an opening quote or bracket,
    and at every blank line. Abbreviations
    and initials keep their period on the word (:func:`split_words`), so "Dr. Meier" and
    "J. R. Tolkien" stay whole, and so do ordinals like "am 1. August".
    """
    sentences: list[tuple[int, int]] = []
    first = 0
    for index in range(1, len(words)):
        if _ends_sentence(text, words, index):
            sentences.append((first, index))
            first = index
    if words:
        sentences.append((first, len(words)))
    return sentences


def _ends_sentence(text: str, words: Sequence[Word], index: int) -> bool:
    """True when a sentence ends between ``words[index - 1]`` and ``words[index]``."""
    if _PARAGRAPH_BREAK.search(text, words[index - 1][2], words[index][1]):
        return True
    initial = words[index][0][0]
    if not (initial.isupper() or initial.isdigit() or _opens(words, index)):
        return False
    last = index - 1
    while last > 0 and set(words[last][0]) <= _CLOSING | _EITHER_WAY and not _opens(words, last):
        last -= 1
    if not set(words[last][0]) <= _SENTENCE_END:
        return False
    if words[last][0] == "." and last > 0 and _glued(words, last - 1):
        return not _ORDINAL.fullmatch(words[last - 1][0])
    return True


def _opens(words: Sequence[Word], index: int) -> bool:
    """True for an opening quote or bracket: «, (, or a straight quote glued to the next word
    and not to the previous one ('sagte. "Dann' opens, 'sagte." Dann' closes)."""
    word = words[index][0]
    if word[0] in _OPENING:
        return True
    if not set(word) <= _EITHER_WAY or index + 1 == len(words):
        return False
    return _glued(words, index) and not (index > 0 and _glued(words, index - 1))


def _glued(words: Sequence[Word], index: int) -> bool:
    """True when ``words[index]`` and the next word touch, without a space between them."""
    return words[index][2] == words[index + 1][1]


def model_words(words: Sequence[str]) -> list[str]:
    """The words as the model should read them: NFC-composed, without format characters.

    Offsets keep pointing into the original text; only what the tokenizer sees changes, so
    "Zu\\u0308rich" reads as the "Zürich" of the training data and "Mer\\u00adkel" as "Merkel".
    """
    return [word if word.isascii() else _model_word(word) for word in words]


def _model_word(word: str) -> str:
    visible = "".join(char for char in word if unicodedata.category(char) != "Cf")
    return unicodedata.normalize("NFC", visible or word)
