"""Known-failure patterns (globs, ``re:`` regexes) matched without backtracking."""

from __future__ import annotations

import re

# ------------------------------------------------------------- patterns without backtracking
#
# Known-failure patterns come from a file and are matched against test ids from untrusted logs.
# Python's re backtracks: ``re:(a+)+$`` takes minutes on a 32-character id. So patterns are
# parsed here into a Thompson automaton and run as a lazily built DFA: one pass over the id, each
# character costing at most the automaton's size, whatever the pattern. Bounds, checked when the
# file is loaded: a pattern has at most MAX_PATTERN characters and compiles to at most
# MAX_PATTERN_STATES states (a repeat counts once per copy: ``x{100}`` is 100).

MAX_PATTERN = 1000
MAX_PATTERN_STATES = 2000
_MAX_DFA_STATES = 2000  # cached subsets per pattern; past this the cache starts over


class PatternError(ValueError):
    """A pattern outside the supported language or its bounds; the message says why."""


_CHAR, _SPLIT, _BOL, _EOL, _MATCH = range(5)


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _not(test):
    return lambda ch: not test(ch)


_CATEGORIES = {"d": str.isdecimal, "w": _is_word, "s": str.isspace}
_CATEGORIES.update({k.upper(): _not(v) for k, v in list(_CATEGORIES.items())})
_SIMPLE_ESCAPES = {"a": "\a", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


class _CharSet:
    """A character class: single characters, ranges, categories (\\d \\w \\s ...), negation."""

    __slots__ = ("chars", "ranges", "tests", "negate")

    def __init__(self, chars=(), ranges=(), tests=(), negate=False) -> None:
        self.chars = frozenset(chars)
        self.ranges = tuple(ranges)
        self.tests = tuple(tests)
        self.negate = negate

    def __call__(self, ch: str) -> bool:
        hit = (
            ch in self.chars
            or any(lo <= ch <= hi for lo, hi in self.ranges)
            or any(t(ch) for t in self.tests)
        )
        return hit != self.negate


_ANY = _CharSet(negate=True)  # every character (glob's ? and *)
_ANY_BUT_NEWLINE = _CharSet("\n", negate=True)  # regex '.'

# The parse tree: ("char", str | _CharSet) | ("cat", [nodes]) | ("alt", [nodes])
#                 | ("rep", node, min, max | None) | ("bol",) | ("eol", "$" or "Z")


class _RegexParser:
    """The supported part of Python's regex syntax; anything else is refused by name.

    Supported: literals and escaped punctuation, ``.``, classes ``[...]`` (ranges, ``^``, \\d \\w
    \\s and their negations), ``^ $ \\A \\Z``, groups ``( ) (?: ) (?P<name> )``, ``|``, and the
    repeats ``* + ? {m} {m,} {,n} {m,n}``, lazy or not. Refused: backreferences, lookaround,
    word boundaries, inline flags, atomic groups and possessive repeats, conditionals, comments.
    """

    MAX_DEPTH = 50  # nested groups

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.depth = 0

    def refuse(self, what: str):
        raise PatternError(
            f"{what} (position {self.i}) is not supported: known-failure "
            "regexes are matched without backtracking (see README)"
        )

    def peek(self, k: int = 0) -> str:
        return self.p[self.i + k] if self.i + k < len(self.p) else ""

    def parse(self):
        node = self.alternation()
        if self.i != len(self.p):
            self.refuse(f"{self.peek()!r}")
        return node

    def alternation(self):
        branches = [self.sequence()]
        while self.peek() == "|":
            self.i += 1
            branches.append(self.sequence())
        return branches[0] if len(branches) == 1 else ("alt", branches)

    def sequence(self):
        items = []
        while self.peek() and self.peek() not in "|)":
            atom = self.atom()
            items.append(self.repeats(atom))
        return ("cat", items)

    def repeats(self, atom):
        c = self.peek()
        if c in ("*", "+", "?"):
            self.i += 1
            lo, hi = {"*": (0, None), "+": (1, None), "?": (0, 1)}[c]
        elif c == "{" and (bounds := self.brace()) is not None:
            lo, hi = bounds
        else:
            return atom
        if self.peek() == "?":  # lazy: the same set of matches
            self.i += 1
        elif self.peek() == "+":
            self.refuse("a possessive repeat")
        if self.peek() in ("*", "+", "?") or (self.peek() == "{" and self.brace(False)):
            self.refuse("a repeat of a repeat")
        if max(lo, hi or 0) > 100:
            self.refuse(f"a repeat count over 100 ({max(lo, hi or 0)})")
        return ("rep", atom, lo, hi)

    def brace(self, consume: bool = True):
        """``{m}``, ``{m,}``, ``{,n}``, ``{m,n}`` at self.i as Python reads them, else None."""
        j = self.i + 1
        lo = hi = ""
        while self.p[j : j + 1].isdigit() and self.p[j].isascii():
            lo += self.p[j]
            j += 1
        if self.p[j : j + 1] == ",":
            j += 1
            while self.p[j : j + 1].isdigit() and self.p[j].isascii():
                hi += self.p[j]
                j += 1
        else:
            hi = lo
        if self.p[j : j + 1] != "}" or self.p[self.i + 1 : self.i + 2] == "}":
            return None
        if consume:
            self.i = j + 1
        return int(lo or 0), (int(hi) if hi else None)

    def atom(self):
        c = self.peek()
        self.i += 1
        if c == "(":
            return self.group()
        if c == "[":
            return ("char", self.char_class())
        if c == ".":
            return ("char", _ANY_BUT_NEWLINE)
        if c == "^":
            return ("bol",)
        if c == "$":
            return ("eol", "$")
        if c == "\\":
            return self.escape()
        if c in "*+?":
            self.i -= 1
            self.refuse("a repeat of nothing")
        return ("char", c)

    def group(self):
        if self.peek() == "?":
            ahead = self.p[self.i + 1 : self.i + 3]
            if ahead[:1] == ":":
                self.i += 2
            elif ahead == "P<":
                end = self.p.find(">", self.i)
                if end < 0:
                    self.refuse("an unterminated group name")
                self.i = end + 1
            elif ahead[:1] in ("=", "!") or ahead in ("<=", "<!"):
                self.refuse("lookaround (?=, (?!, (?<=, (?<!)")
            elif ahead == "P=":
                self.refuse("a backreference")
            elif ahead[:1] == ">":
                self.refuse("an atomic group")
            elif ahead[:1] == "(":
                self.refuse("a conditional group")
            elif ahead[:1] == "#":
                self.refuse("a comment")
            else:
                self.refuse("inline flags")
        self.depth += 1
        if self.depth > self.MAX_DEPTH:
            self.refuse(f"nesting groups over {self.MAX_DEPTH} deep")
        node = self.alternation()
        self.depth -= 1
        if self.peek() != ")":
            self.refuse("an unterminated group")
        self.i += 1
        return node

    def escape(self):
        c = self.peek()
        self.i += 1
        if c in _CATEGORIES:
            return ("char", _CharSet(tests=[_CATEGORIES[c]]))
        if c == "A":
            return ("bol",)
        if c == "Z":
            return ("eol", "Z")
        if c in ("b", "B"):
            self.refuse("a word boundary \\b \\B")
        if c.isdigit() and c.isascii():
            self.refuse("a backreference or octal escape")
        return ("char", self.char_escape(c))

    def char_escape(self, c: str) -> str:
        if c in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[c]
        width = {"x": 2, "u": 4, "U": 8}.get(c)
        if width:
            digits = self.p[self.i : self.i + width]
            self.i += width
            try:
                return chr(int(digits, 16))
            except ValueError:
                self.refuse(f"a bad escape \\{c}{digits}")
        if not c or (c.isascii() and c.isalnum()):
            self.refuse(f"the escape \\{c}")
        return c

    def char_class(self) -> _CharSet:
        negate = self.peek() == "^"
        if negate:
            self.i += 1
        start = self.i
        chars, ranges, tests = set(), [], []
        while True:
            c = self.peek()
            if not c:
                self.refuse("an unterminated character class")
            self.i += 1
            if c == "]" and self.i - 1 != start:
                break
            lo = None
            if c == "\\":
                e = self.peek()
                self.i += 1
                if e in _CATEGORIES:
                    tests.append(_CATEGORIES[e])
                    continue
                if e.isdigit() and e.isascii():
                    self.refuse("an octal escape")
                lo = "\b" if e == "b" else self.char_escape(e)
            else:
                lo = c
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.i += 1
                c2 = self.peek()
                self.i += 1
                if c2 == "\\":
                    e = self.peek()
                    self.i += 1
                    hi = "\b" if e == "b" else self.char_escape(e)
                else:
                    hi = c2
                ranges.append((lo, hi))
            else:
                chars.add(lo)
        return _CharSet(chars, ranges, tests, negate)


def _parse_glob(pattern: str):
    """fnmatch's language: ``*`` (anything), ``?`` (one character), ``[seq]``, ``[!seq]``; as
    ``fnmatch.fnmatchcase`` reads it (a ``[`` without its ``]`` is literal, backslash too)."""
    items: list[tuple] = []  # (kind, value, ...) nodes of the pattern, as _parse_regex makes
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            if not (items and items[-1][0] == "rep"):  # ** is *
                items.append(("rep", ("char", _ANY), 0, None))
        elif c == "?":
            items.append(("char", _ANY))
        elif c == "[":
            j = i
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                items.append(("char", "["))
                continue
            stuff, i = pattern[i:j], j + 1
            negate = stuff.startswith("!")
            body = stuff[1:] if negate else stuff
            chars, ranges, k = set(), [], 0
            while k < len(body):
                if k + 2 < len(body) and body[k + 1] == "-":
                    if body[k] <= body[k + 2]:  # fnmatch drops a reversed range
                        ranges.append((body[k], body[k + 2]))
                    k += 3
                else:
                    chars.add(body[k])
                    k += 1
            items.append(("char", _CharSet(chars, ranges, (), negate)))
        else:
            items.append(("char", c))
    return ("cat", items)


class Pattern:
    """A compiled known-failure pattern. ``search=True``: regex semantics of ``re.search``;
    ``False``: the whole text must match (globs). Matching is linear in the text."""

    def __init__(self, source: str, tree, search: bool) -> None:
        self.source = source
        self.search = search
        self.kind: list[int] = []
        self.arg: list = []  # _CHAR: the predicate (str or _CharSet)
        self.out: list = []  # next state(s)
        self.dollar = False  # has a '$' (it also matches before a final newline)
        match = self._add(_MATCH, None, None)
        self.start = self._emit(tree, match)
        self._closures: dict[int, frozenset[int]] = {}
        self._start_any = self._closure([self.start], at_start=False)
        self.required = _required_literal(tree)
        self._ids: dict[frozenset[int], int] = {}  # the lazily built DFA: subset -> state
        self._sets: list[frozenset[int]] = []
        self._moves: list[dict[str, int]] = []
        self._accepts: list[bool] = []
        self._finals: list[bool | None] = []
        self._reset()

    # -- building
    def _add(self, kind: int, arg, out) -> int:
        if len(self.kind) >= MAX_PATTERN_STATES:
            raise PatternError(
                f"pattern is too large (over {MAX_PATTERN_STATES} states once "
                "repeats are expanded); split it or use fewer/smaller {m,n}"
            )
        self.kind.append(kind)
        self.arg.append(arg)
        self.out.append(out)
        return len(self.kind) - 1

    def _emit(self, node, nxt: int) -> int:
        tag = node[0]
        if tag == "char":
            return self._add(_CHAR, node[1], nxt)
        if tag == "cat":
            for item in reversed(node[1]):
                nxt = self._emit(item, nxt)
            return nxt
        if tag == "alt":
            starts = [self._emit(b, nxt) for b in node[1]]
            first = starts.pop()
            while starts:
                first = self._add(_SPLIT, None, (starts.pop(), first))
            return first
        if tag == "bol":
            return self._add(_BOL, None, nxt)
        if tag == "eol":
            self.dollar = self.dollar or node[1] == "$"
            return self._add(_EOL, node[1], nxt)
        _, body, lo, hi = node  # rep
        if hi is None:
            loop = self._add(_SPLIT, None, None)
            self.out[loop] = (self._emit(body, loop), nxt)
            cur = loop
        else:
            cur = nxt
            for _ in range(hi - lo):
                cur = self._add(_SPLIT, None, (self._emit(body, cur), nxt))
        for _ in range(lo):
            cur = self._emit(body, cur)
        return cur

    # -- running
    def _closure(
        self, seeds, at_start: bool, at_end: bool = False, before_newline: bool = False
    ) -> frozenset[int]:
        """States reachable without reading: character states, MATCH, and (not at the end)
        the end-of-text assertions still waiting. ``before_newline``: just before a final
        newline, where '$' (not \\Z) holds."""
        seen, stack, result = set(), list(seeds), set()
        while stack:
            s = stack.pop()
            if s in seen:
                continue
            seen.add(s)
            kind = self.kind[s]
            if kind == _SPLIT:
                stack.extend(self.out[s])
            elif kind == _BOL:
                if at_start:
                    stack.append(self.out[s])
            elif kind == _EOL:
                if at_end or (before_newline and self.arg[s] == "$"):
                    stack.append(self.out[s])
                else:
                    result.add(s)
            else:
                result.add(s)
        return frozenset(result)

    def _reset(self) -> None:
        """Forget the DFA built so far (cleared in place: ``matches`` holds these lists)."""
        for cache in (self._ids, self._sets, self._moves, self._accepts, self._finals):
            cache.clear()
        self._dead = self._state(frozenset())  # no thread left (only where none can start)
        self._initial = self._state(self._closure([self.start], at_start=True))

    def _state(self, subset: frozenset[int]) -> int:
        found = self._ids.get(subset)
        if found is None:
            found = self._ids[subset] = len(self._sets)
            self._sets.append(subset)
            self._moves.append({})
            self._accepts.append(0 in subset)  # state 0 is MATCH
            self._finals.append(None)
        return found

    def _step(self, state: int, ch: str) -> int:
        nxt = self._advance(self._sets[state], ch)
        if len(self._sets) >= _MAX_DFA_STATES:
            self._reset()
            return self._state(nxt)
        found = self._moves[state][ch] = self._state(nxt)
        return found

    def _advance(self, subset: frozenset[int], ch: str) -> frozenset[int]:
        nxt: set[int] = set()
        for s in subset:
            if self.kind[s] == _CHAR:
                test = self.arg[s]
                if test == ch if type(test) is str else test(ch):
                    out = self.out[s]
                    closed = self._closures.get(out)
                    if closed is None:
                        closed = self._closures[out] = self._closure([out], at_start=False)
                    nxt |= closed
        if self.search:
            nxt |= self._start_any
        return frozenset(nxt)

    def _final(self, state: int, empty: bool) -> bool:
        if empty:
            return 0 in self._closure([self.start], at_start=True, at_end=True)
        final = self._finals[state]
        if final is None:
            final = self._finals[state] = 0 in self._closure(self._sets[state], False, True)
        return final

    def matches(self, text: str) -> bool:
        if self.required and self.required not in text:  # a literal every match contains
            return False
        if self.dollar and text.endswith("\n"):
            return self._matches_before_newline(text)
        state, moves, step = self._initial, self._moves, self._step
        if self.search:
            accepts, can_die = self._accepts, not self._start_any
            for ch in text:
                if accepts[state]:
                    return True
                nxt = moves[state].get(ch)
                state = step(state, ch) if nxt is None else nxt
                if can_die and state == self._dead:
                    return False
        else:
            for ch in text:
                nxt = moves[state].get(ch)
                state = step(state, ch) if nxt is None else nxt
                if state == self._dead:
                    return False
        return self._final(state, not text)

    def _matches_before_newline(self, text: str) -> bool:
        """Python's '$' also matches just before a final newline (test ids have none)."""
        state = self._initial
        for ch in text[:-1]:
            if self._accepts[state] and self.search:
                return True
            nxt = self._moves[state].get(ch)
            state = self._step(state, ch) if nxt is None else nxt
        subset = self._closure(self._sets[state], at_start=len(text) == 1, before_newline=True)
        if self.search and 0 in subset:
            return True
        return self._final(self._state(self._advance(subset, "\n")), False)


def _required_literal(node) -> str:
    """The longest literal text every match of ``node`` contains ('' if none is known)."""
    tag = node[0]
    if tag == "char":
        return node[1] if isinstance(node[1], str) else ""
    if tag == "rep":
        return _required_literal(node[1]) if node[2] >= 1 else ""
    if tag != "cat":
        return ""
    best, run = "", ""
    for item in node[1]:
        if item[0] == "char" and isinstance(item[1], str):
            run += item[1]
            continue
        if item[0] in ("bol", "eol"):  # zero-width: the run goes on
            continue
        inner = _required_literal(item)
        best = max(best, run, inner, key=len)
        run = ""
    return max(best, run, key=len)


def compile_pattern(pattern: str, kind: str = "glob") -> Pattern:
    """``kind="regex"``: Python regex syntax, searched (``re.search``); ``"glob"``: fnmatch,
    whole text. PatternError for a pattern outside the language or the bounds."""
    if len(pattern) > MAX_PATTERN:
        raise PatternError(f"pattern is {len(pattern)} characters long; at most {MAX_PATTERN}")
    if kind == "regex":
        try:
            re.compile(pattern)
        except (re.error, OverflowError, RecursionError) as exc:
            raise PatternError(str(exc)) from None
        return Pattern(pattern, _RegexParser(pattern).parse(), search=True)
    return Pattern(pattern, _parse_glob(pattern), search=False)
