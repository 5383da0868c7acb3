"""The regular expressions operators may put in a form's `pattern` (the ReDoS defence).

No linear-time engine ships wheels for every runtime the layer goes to (docs/architecture.md,
Catalog), so two locks, each enough against the known attack and each covering the other:

- at write time `refusal` refuses what can backtrack exponentially: a repeated group that
  holds a quantifier or an alternation (`(a|a)*`, `(a+)+`, `(\\w+\\s?)*`), backreferences,
  lookarounds and every `(?…)` construct but `(?:…)` and named groups, a `{` that is not a
  counted quantifier (the `regex` engine's fuzzy matching), and overlong patterns or counts;
  `form_rules` also makes such a field bound its length (`maxLength`);
- at match time `matches` runs the `regex` engine with a timeout, so a form stored before
  these rules, or a polynomial pattern (`\\d+\\d+\\d+x`), costs at most MATCH_TIMEOUT_S per
  field: a value that takes longer is refused as not matching.

`regex` is imported on first use, so the step functions never load it (14 ms).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from retouch.core.logging import logger

if TYPE_CHECKING:
    from regex import Pattern

MAX_PATTERN_CHARS = 512
# The longest value a pattern may be run on: the most a pattern field's `maxLength` may say.
MAX_VALUE_LENGTH = 4_096
MAX_COUNT = 1_000
MATCH_TIMEOUT_S = 0.05

# A quantifier after an atom; `{` that is not one of these is refused (see `_scan`).
_QUANTIFIER = re.compile(r"[*+?]|\{(\d*)(,(\d*))?\}")
_NAMED_GROUP = re.compile(r"\(\?P?<[A-Za-z_][A-Za-z0-9_]*>")


def compile_pattern(pattern: str) -> Pattern[str]:
    """The `regex` engine's compiled `pattern`; `regex.error` if it does not compile."""
    import regex  # here, not at module level: see the module docstring

    compiled: Pattern[str] = regex.compile(pattern)
    return compiled


def refusal(pattern: object) -> str | None:
    """None if `pattern` may go in a form; else the kind of refusal: `pattern` (not a
    string, too long or not valid), `pattern_construct` or `pattern_backtracking`."""
    import regex

    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN_CHARS:
        return "pattern"
    try:
        compile_pattern(pattern)
    except (regex.error, OverflowError, RecursionError):
        return "pattern"
    return _scan(pattern)


def matches(compiled: Pattern[str], value: str) -> bool:
    """Whether `value` holds a match (JSON Schema's `pattern` searches, it does not anchor);
    False when the engine runs out of time."""
    try:
        return compiled.search(value, timeout=MATCH_TIMEOUT_S) is not None
    except TimeoutError:
        logger.warning(
            "form pattern timed out", extra={"pattern": compiled.pattern, "length": len(value)}
        )
        return False


def _scan(pattern: str) -> str | None:
    # One flag per open group: does it hold a quantifier or an alternation? Such a group
    # repeated is where backtracking goes exponential.
    risky = [False]
    index = 0
    while index < len(pattern):
        char = pattern[index]
        atom_risky = False
        if char == "\\":
            if pattern[index + 1 : index + 2] in set("123456789gkK"):
                return "pattern_construct"  # a backreference
            index = _after_escape(pattern, index)
        elif char == "[":
            index = _after_class(pattern, index)
        elif char == "(":
            opener = _group_opener(pattern, index)
            if opener is None:
                return "pattern_construct"
            risky.append(False)
            index += opener
            continue
        elif char == ")":
            atom_risky = risky.pop() if len(risky) > 1 else False
            index += 1
        elif char == "|":
            risky[-1] = True
            index += 1
            continue
        elif char == "{":
            return "pattern_construct"  # not a counted quantifier (those follow an atom)
        else:
            index += 1
        quantifier = _QUANTIFIER.match(pattern, index)
        if quantifier is not None:
            repeats = _repeats(quantifier)
            if repeats is None:
                return "pattern"
            if atom_risky and repeats:
                return "pattern_backtracking"
            risky[-1] = True
            index = quantifier.end()
            if pattern[index : index + 1] in ("?", "+"):  # lazy or possessive
                index += 1
        risky[-1] = risky[-1] or atom_risky
    return None


def _repeats(quantifier: re.Match[str]) -> bool | None:
    """Whether the quantifier lets its atom repeat (more than once); None for a count
    above MAX_COUNT."""
    if quantifier.group(0) in ("*", "+"):
        return True
    if quantifier.group(0) == "?":
        return False
    low, comma, high = quantifier.group(1), quantifier.group(2), quantifier.group(3)
    counts = [int(number) for number in (low, high) if number]
    if any(count > MAX_COUNT for count in counts):
        return None
    if comma and not high:
        return True
    return int((high if comma else low) or 0) > 1


def _after_escape(pattern: str, index: int) -> int:
    # `\N{name}`, `\p{class}`: the braces belong to the escape.
    if pattern[index + 1 : index + 2] in ("N", "p", "P") and pattern[index + 2 : index + 3] == "{":
        end = pattern.find("}", index)
        return len(pattern) if end < 0 else end + 1
    return index + 2


def _after_class(pattern: str, index: int) -> int:
    index += 1
    if pattern[index : index + 1] == "^":
        index += 1
    if pattern[index : index + 1] == "]":  # a leading `]` is a member
        index += 1
    while index < len(pattern) and pattern[index] != "]":
        index += 2 if pattern[index] == "\\" else 1
    return index + 1


def _group_opener(pattern: str, index: int) -> int | None:
    """How many characters open the group at `index`; None for a construct we refuse."""
    if not pattern.startswith("(?", index):
        return 1
    if pattern.startswith("(?:", index):
        return 3
    named = _NAMED_GROUP.match(pattern, index)
    return None if named is None else named.end() - index
