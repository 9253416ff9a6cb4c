"""Evaluate the small part of HCL that tags are written in, and say ``Unknown`` for the rest.

python-hcl2 gives attribute values as expression text (``${merge(local.a, {B = "x"})}``). Tags are
almost always literals, ``var.``/``local.`` references, ``merge()`` and string interpolation, so we
evaluate exactly that (plus a few pure functions and conditionals); anything else (resource
attributes, ``for`` expressions, unknown functions) becomes :class:`Unknown` with the reason, so the
audit reports ``undecidable`` instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Unknown:
    """A value the static audit cannot work out; ``reason`` is shown to the user."""

    reason: str


@dataclass(frozen=True)
class PartialMap:
    """A map whose listed keys are surely present but which may hold more (e.g. merged with a var)."""

    values: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


Resolver = Callable[[str, str], Any]
"""``resolve("var"|"local"|"count"|"each", name)`` -> value or Unknown."""

REFERENCE_ROOTS = ("var", "local", "count", "each")


class _Unsupported(Exception):
    """Syntax we do not parse; the whole expression becomes Unknown."""


def evaluate(value: Any, resolve: Resolver) -> Any:
    """Evaluate a python-hcl2 attribute value (string/dict/list/scalar) to Python values or Unknown."""
    if isinstance(value, str):
        return evaluate_text(value, resolve)
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        partial = ""
        for raw_key, raw in value.items():
            if raw_key.startswith("__") and raw_key.endswith("__"):
                continue
            key = _plain_key(raw_key, resolve)
            if isinstance(key, Unknown):
                partial = key.reason
                continue
            result[key] = evaluate(raw, resolve)
        return PartialMap(result, partial) if partial else result
    if isinstance(value, list):
        return [evaluate(item, resolve) for item in value]
    return value


def evaluate_text(text: str, resolve: Resolver) -> Any:
    """A quoted literal or expression as python-hcl2 writes it: ``"\\"lit\\""`` or ``${expr}``."""
    stripped = text.strip()
    try:
        if stripped.startswith('"<<'):
            return Unknown("heredoc strings are not evaluated")
        if stripped.startswith('"'):
            parser = _Parser(stripped, resolve)
            result = parser.expression()
            parser.end()
            return result
        return _Parser(stripped, resolve).template(end="")
    except _Unsupported as exc:
        return Unknown(f"cannot evaluate `{_short(stripped)}` ({exc})")
    except RecursionError:
        return Unknown(f"`{_short(stripped)}` is nested too deeply")


def evaluate_expression(text: str, resolve: Resolver) -> Any:
    """A bare HCL expression (``{a = "b"}``, ``["x"]``, ``"s"``, JSON too), as ``-var`` values are."""
    parser = _Parser(text.strip(), resolve)
    try:
        result = parser.expression()
        parser.end()
    except _Unsupported as exc:
        return Unknown(f"cannot evaluate `{_short(text)}` ({exc})")
    except RecursionError:
        return Unknown(f"`{_short(text)}` is nested too deeply")
    return result


def _plain_key(raw_key: str, resolve: Resolver) -> str | Unknown:
    if raw_key.startswith('"') or raw_key.startswith("${"):
        key = evaluate_text(raw_key, resolve)
        return key if isinstance(key, str) else Unknown(f"a tag key is computed: {raw_key}")
    return raw_key


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "..."


_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


class _Parser:
    """Recursive descent over HCL expression text that evaluates as it parses."""

    def __init__(self, text: str, resolve: Resolver) -> None:
        self.text = text
        self.pos = 0
        self.resolve = resolve

    # -- lexical helpers -------------------------------------------------------------------
    def skip(self) -> None:
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch in " \t\r\n":
                self.pos += 1
            elif ch == "#" or text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos)
                self.pos = len(text) if end < 0 else end + 2
            else:
                return

    def peek(self, token: str) -> bool:
        self.skip()
        return self.text.startswith(token, self.pos)

    def accept(self, token: str) -> bool:
        if self.peek(token):
            self.pos += len(token)
            return True
        return False

    def expect(self, token: str) -> None:
        if not self.accept(token):
            got = self.text[self.pos : self.pos + 10] or "end of text"
            raise _Unsupported(f"expected {token!r} at {got!r}")

    def end(self) -> None:
        self.skip()
        if self.pos != len(self.text):
            raise _Unsupported(f"unexpected {self.text[self.pos : self.pos + 10]!r}")

    def ident(self) -> str | None:
        self.skip()
        start = self.pos
        text = self.text
        if start < len(text) and (text[start].isalpha() or text[start] == "_"):
            self.pos += 1
            while self.pos < len(text) and (text[self.pos].isalnum() or text[self.pos] in "_-"):
                self.pos += 1
            return text[start : self.pos]
        return None

    # -- expressions -----------------------------------------------------------------------
    def expression(self) -> Any:
        cond = self.binary(0)
        if self.peek("?"):
            self.pos += 1
            yes = self.expression()
            self.expect(":")
            no = self.expression()
            if isinstance(cond, Unknown):
                return cond
            if not isinstance(cond, bool):
                return Unknown("a condition is not a boolean")
            return yes if cond else no
        return cond

    _LEVELS: tuple[tuple[str, ...], ...] = (
        ("||",),
        ("&&",),
        ("==", "!="),
        ("<=", ">=", "<", ">"),
        ("+", "-"),
        ("*", "/", "%"),
    )

    def binary(self, level: int) -> Any:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while True:
            op = self._operator(self._LEVELS[level])
            if op is None:
                return left
            right = self.binary(level + 1)
            left = _apply(op, left, right)

    def _operator(self, ops: tuple[str, ...]) -> str | None:
        self.skip()
        for op in ops:
            if self.text.startswith(op, self.pos) and not self.text.startswith("=>", self.pos):
                if op in ("<", ">") and self.text.startswith(op + "=", self.pos):
                    continue
                self.pos += len(op)
                return op
        return None

    def unary(self) -> Any:
        if self.accept("!"):
            value = self.unary()
            if isinstance(value, Unknown):
                return value
            return (not value) if isinstance(value, bool) else Unknown("`!` on a non-boolean")
        if self.accept("-"):
            value = self.unary()
            if isinstance(value, int | float) and not isinstance(value, bool):
                return -value
            return value if isinstance(value, Unknown) else Unknown("`-` on a non-number")
        return self.postfix(self.primary())

    def postfix(self, value: Any) -> Any:
        while True:
            if self.peek("..."):
                return value  # argument expansion, handled by call()
            if self.peek(".*") or self.peek("[*]"):
                self.pos += 2 if self.peek(".*") else 3
                if not isinstance(value, Unknown):
                    value = Unknown("splat expressions are not evaluated")
            elif self.peek("."):
                self.pos += 1
                self.skip()
                name = self.ident()
                if name is None:
                    start = self.pos
                    while self.pos < len(self.text) and self.text[self.pos].isdigit():
                        self.pos += 1
                    if start == self.pos:
                        raise _Unsupported("bad attribute access")
                    value = _index(value, int(self.text[start : self.pos]))
                else:
                    value = _index(value, name)
            elif self.peek("["):
                self.pos += 1
                key = self.expression()
                self.expect("]")
                value = _index(value, key)
            else:
                return value

    def primary(self) -> Any:
        self.skip()
        if self.pos >= len(self.text):
            raise _Unsupported("unexpected end of expression")
        ch = self.text[self.pos]
        if ch == '"':
            self.pos += 1
            return self.template(end='"')
        if ch.isdigit():
            return self.number()
        if ch == "(":
            self.pos += 1
            value = self.expression()
            self.expect(")")
            return value
        if ch == "[":
            return self.tuple_()
        if ch == "{":
            return self.object_()
        if self.text.startswith("<<", self.pos):
            raise _Unsupported("heredoc")
        name = self.ident()
        if name is None:
            raise _Unsupported(f"unexpected {ch!r}")
        if name in ("true", "false"):
            return name == "true"
        if name == "null":
            return None
        while self.peek("::"):  # provider-defined functions: provider::name::fn
            self.pos += 2
            name += "::" + (self.ident() or "")
        if self.peek("("):
            self.pos += 1
            return self.call(name)
        if name in REFERENCE_ROOTS and self.peek("."):
            self.pos += 1
            attr = self.ident()
            if attr is None:
                raise _Unsupported(f"bad {name}. reference")
            return self.resolve(name, attr)
        end = self.pos
        while self.text.startswith(".", end) and (end + 1 < len(self.text)) and self.text[end + 1].isalpha():
            end += 1
            while end < len(self.text) and (self.text[end].isalnum() or self.text[end] in "_-"):
                end += 1
        reference = self.text[self.pos - len(name) : end]
        return Unknown(f"`{reference}` is only known after apply")

    def number(self) -> Any:
        start = self.pos
        text = self.text
        while self.pos < len(text) and (text[self.pos].isdigit() or text[self.pos] in ".eE"):
            if text[self.pos] in "eE" and self.pos + 1 < len(text) and text[self.pos + 1] in "+-":
                self.pos += 1
            self.pos += 1
        literal = text[start : self.pos]
        try:
            return int(literal)
        except ValueError:
            try:
                return float(literal)
            except ValueError:
                raise _Unsupported(f"bad number {literal!r}") from None

    def tuple_(self) -> Any:
        self.expect("[")
        if self._is_for():
            return self._skip_for("[", "]")
        items: list[Any] = []
        while not self.accept("]"):
            items.append(self.expression())
            if not self.accept(","):
                self.expect("]")
                break
        return items

    def object_(self) -> Any:
        self.expect("{")
        if self._is_for():
            return self._skip_for("{", "}")
        result: dict[str, Any] = {}
        partial = ""
        while not self.accept("}"):
            self.skip()
            start = self.pos
            name = self.ident()
            if name is not None and (self.peek("=") or self.peek(":")) and not self.peek("=="):
                key: Any = name
            else:
                self.pos = start
                key = self.expression()
            if not (self.accept("=") or self.accept(":")):
                raise _Unsupported("expected `=` in an object")
            value = self.expression()
            if isinstance(key, str):
                result[key] = value
            elif isinstance(key, Unknown):
                partial = key.reason
            else:
                result[_text(key)] = value
            self.accept(",")
        return PartialMap(result, partial) if partial else result

    def _is_for(self) -> bool:
        self.skip()
        start = self.pos
        is_for = self.ident() == "for"
        self.pos = start
        return is_for

    def _skip_for(self, opener: str, closer: str) -> Unknown:
        depth = 1
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == '"':
                self.pos += 1
                self.template(end='"')
                continue
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
                if depth == 0:
                    self.pos += 1
                    return Unknown("`for` expressions are not evaluated")
            self.pos += 1
        raise _Unsupported(f"unclosed {opener}for ...{closer}")

    def call(self, name: str) -> Any:
        args: list[Any] = []
        expand = False
        while not self.accept(")"):
            args.append(self.expression())
            if self.accept("..."):
                expand = True
            if not self.accept(","):
                self.expect(")")
                break
        if expand:
            return Unknown(f"{name}(...) with expanded arguments is not evaluated")
        function = _FUNCTIONS.get(name)
        if function is None:
            return Unknown(f"function {name}() is not evaluated")
        if name != "merge":
            for arg in args:
                if isinstance(arg, Unknown):
                    return arg
        try:
            return function(*args)
        except (TypeError, ValueError, KeyError, IndexError) as exc:
            return Unknown(f"{name}() could not be evaluated ({exc})")

    def template(self, end: str) -> Any:
        """String content up to ``end`` (``'"'`` or ``""`` for end of text), with interpolations."""
        parts: list[Any] = []
        buf: list[str] = []
        text = self.text
        while True:
            if self.pos >= len(text):
                if end:
                    raise _Unsupported("unterminated string")
                break
            ch = text[self.pos]
            if end and ch == end:
                self.pos += 1
                break
            if ch == "\\" and end:
                buf.append(self._escape())
                continue
            if text.startswith("$${", self.pos) or text.startswith("%%{", self.pos):
                buf.append(text[self.pos + 1 : self.pos + 3])
                self.pos += 3
                continue
            if text.startswith("%{", self.pos):
                raise _Unsupported("template directives")
            if text.startswith("${", self.pos):
                self.pos += 2
                self.accept("~")
                if buf:
                    parts.append("".join(buf))
                    buf = []
                parts.append(self.expression())
                self.accept("~")
                self.expect("}")
                continue
            buf.append(ch)
            self.pos += 1
        if buf:
            parts.append("".join(buf))
        if len(parts) == 1 and not isinstance(parts[0], str):
            return parts[0]  # "${x}" is x itself, not its string form
        for part in parts:
            if isinstance(part, Unknown | PartialMap):
                return part if isinstance(part, Unknown) else Unknown("a map inside a string")
        return "".join(_text(part) for part in parts)

    def _escape(self) -> str:
        text = self.text
        nxt = text[self.pos + 1 : self.pos + 2]
        if nxt in _SIMPLE_ESCAPES:
            self.pos += 2
            return _SIMPLE_ESCAPES[nxt]
        if nxt in ("u", "U"):
            width = 4 if nxt == "u" else 8
            digits = text[self.pos + 2 : self.pos + 2 + width]
            self.pos += 2 + width
            try:
                return chr(int(digits, 16))
            except ValueError:
                raise _Unsupported(f"bad escape \\{nxt}{digits}") from None
        raise _Unsupported(f"bad escape \\{nxt}")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is None:
        return ""
    if isinstance(value, dict | list):
        raise _Unsupported("a collection used as a string")
    return str(value)


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, Unknown):
        return value
    if isinstance(key, Unknown):
        return key
    if isinstance(value, PartialMap):
        if key in value.values:
            return value.values[key]
        return Unknown(f"key {key!r} may or may not exist ({value.reason})")
    try:
        return value[key]
    except (KeyError, IndexError, TypeError):
        return Unknown(f"no element {key!r}")


def _apply(op: str, left: Any, right: Any) -> Any:
    if op in ("&&", "||"):
        # As Terraform: a known false decides `&&` and a known true decides `||`, whatever the other
        # side is (community modules gate resources as `var.create && length(var.x) > 0 ? n : 0`).
        decisive = op == "||"
        if any(side is decisive for side in (left, right)):
            return decisive
    for side in (left, right):
        if isinstance(side, Unknown):
            return side
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if op in ("&&", "||"):
        if not (isinstance(left, bool) and isinstance(right, bool)):
            return Unknown(f"`{op}` on non-booleans")
        return (left and right) if op == "&&" else (left or right)
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))
    if not numeric:
        return Unknown(f"`{op}` on non-numbers")
    if op in ("/", "%") and right == 0:
        return Unknown("division by zero")
    result: Any = {
        "<": lambda: left < right,
        ">": lambda: left > right,
        "<=": lambda: left <= right,
        ">=": lambda: left >= right,
        "+": lambda: left + right,
        "-": lambda: left - right,
        "*": lambda: left * right,
        "/": lambda: left / right,
        "%": lambda: left % right,
    }[op]()
    return result


def _merge(*maps: Any) -> Any:
    values: dict[str, Any] = {}
    reasons: list[str] = []
    for item in maps:
        if item is None:
            continue
        if isinstance(item, Unknown | PartialMap):
            if isinstance(item, Unknown):
                values = {k: Unknown(f"may be overridden ({item.reason})") for k in values}
            else:
                values = {k: Unknown(f"may be overridden ({item.reason})") for k in values}
                values.update(item.values)
            reasons.append(item.reason)
            continue
        if not isinstance(item, dict):
            return Unknown("merge() of something that is not a map")
        values.update(item)
    if reasons:
        return PartialMap(values, "; ".join(r for r in reasons if r))
    return values


def _lookup(mapping: Any, key: Any, *default: Any) -> Any:
    if isinstance(mapping, PartialMap):
        if key in mapping.values:
            return mapping.values[key]
        return Unknown(f"lookup of {key!r} in a partly known map ({mapping.reason})")
    if not isinstance(mapping, dict):
        raise TypeError("lookup() needs a map")
    if key in mapping:
        return mapping[key]
    if default:
        return default[0]
    raise KeyError(key)


def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    raise ValueError("no non-null argument")


def _format(spec: str, *args: Any) -> str:
    out: list[str] = []
    it = iter(args)
    i = 0
    while i < len(spec):
        if spec[i] == "%" and i + 1 < len(spec):
            verb = spec[i + 1]
            if verb == "%":
                out.append("%")
            elif verb in "sdv":
                out.append(_text(next(it)))
            else:
                raise ValueError(f"format verb %{verb}")
            i += 2
            continue
        out.append(spec[i])
        i += 1
    return "".join(out)


def _tomap(value: Any) -> Any:
    if isinstance(value, dict | PartialMap):
        return value
    raise TypeError("tomap() needs a map")


def _collection(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    raise TypeError("expected a list, set or map")


def _toset(value: Any) -> list[Any]:
    """A set as Terraform iterates it: strings in lexical order, duplicates gone."""
    items = _collection(value)
    if any(isinstance(item, Unknown | PartialMap) for item in items):
        raise ValueError("an element is not known")
    if all(isinstance(item, str) for item in items):
        return sorted(set(items))
    unique: list[Any] = []
    for item in items:
        if item not in unique:
            unique.append(item)
    return unique


def _length(value: Any) -> int:
    if isinstance(value, PartialMap):
        raise ValueError("the map is only partly known")
    if isinstance(value, str | list | dict):
        return len(value)
    raise TypeError("length() needs a string, list or map")


def _numbers(*values: Any) -> list[float | int]:
    if not values or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise TypeError("expected numbers")
    return list(values)


def _element(items: Any, index: Any) -> Any:
    if not isinstance(items, list) or not items or isinstance(index, bool) or not isinstance(index, int):
        raise TypeError("element() needs a non-empty list and a whole number")
    return items[index % len(items)]


def _keys(value: Any) -> list[str]:
    if not isinstance(value, dict):
        raise TypeError("keys() needs a known map")
    return sorted(value)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "merge": _merge,
    "tomap": _tomap,
    "lookup": _lookup,
    "coalesce": _coalesce,
    "format": _format,
    "lower": lambda s: s.lower(),
    "upper": lambda s: s.upper(),
    "title": lambda s: s.title(),
    "trimspace": lambda s: s.strip(),
    "join": lambda sep, items: sep.join(_text(i) for i in items),
    "tostring": lambda s: _text(s),
    "concat": lambda *lists: [item for sub in lists for item in _collection(sub)],
    "toset": _toset,
    "tolist": _collection,
    "length": _length,
    "max": lambda *v: max(_numbers(*v)),
    "min": lambda *v: min(_numbers(*v)),
    "compact": lambda items: [i for i in _collection(items) if i not in (None, "")],
    "distinct": lambda items: [
        i for n, i in enumerate(_collection(items)) if i not in _collection(items)[:n]
    ],
    "element": _element,
    "keys": _keys,
    "values": lambda m: [m[k] for k in _keys(m)],
    "contains": lambda items, v: v in _collection(items),
}
