"""Reading a Kafka `server.properties` as java.util.Properties.load does, so any file Kafka
accepts reads the same here: `=`, `:` or whitespace between key and value, `#`/`!` comment
lines, a trailing backslash continuing a line, and escapes (\\t \\n \\r \\f \\uXXXX, any other
backslashed character stands for itself). A repeated key keeps its last value."""

from __future__ import annotations

from pathlib import Path

_WHITESPACE = " \t\f"
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


class PropertiesError(ValueError):
    pass


def load_properties(path: str | Path) -> dict[str, str]:
    text = Path(path).read_text(encoding="latin-1" if _not_utf8(path) else "utf-8")
    return parse_properties(text, str(path))


def parse_properties(text: str, origin: str = "properties") -> dict[str, str]:
    result: dict[str, str] = {}
    for number, line in _logical_lines(text):
        key, value = _split(line)
        result[_unescape(key, origin, number)] = _unescape(value, origin, number)
    return result


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, logical line) with comments and blank lines dropped and
    continuation lines joined (their leading whitespace removed)."""
    lines: list[tuple[int, str]] = []
    natural = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    index = 0
    while index < len(natural):
        start = index
        line = natural[index].lstrip(_WHITESPACE)
        index += 1
        if not line or line[0] in "#!":
            continue
        while _continues(line) and index < len(natural):
            line = line[:-1] + natural[index].lstrip(_WHITESPACE)
            index += 1
        if _continues(line):
            line = line[:-1]  # a backslash on the last line of the file continues nothing
        lines.append((start + 1, line))
    return lines


def _continues(line: str) -> bool:
    """An odd number of trailing backslashes: the last one escapes the line end."""
    trailing = len(line) - len(line.rstrip("\\"))
    return trailing % 2 == 1


def _split(line: str) -> tuple[str, str]:
    """Key up to the first unescaped `=`, `:` or whitespace; then whitespace, at most one
    `=` or `:`, whitespace; the rest is the value."""
    position = 0
    while position < len(line):
        char = line[position]
        if char == "\\":
            position += 2
            continue
        if char in "=:" or char in _WHITESPACE:
            break
        position += 1
    key = line[:position]
    rest = line[position:].lstrip(_WHITESPACE)
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(_WHITESPACE)
    return key, rest


def _unescape(text: str, origin: str, line_number: int) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char != "\\" or position + 1 >= len(text):
            out.append(char)
            position += 1
            continue
        escaped = text[position + 1]
        if escaped == "u":
            digits = text[position + 2 : position + 6]
            if len(digits) != 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise PropertiesError(
                    f"{origin}, line {line_number}: malformed \\uxxxx encoding: \\u{digits}"
                )
            out.append(chr(int(digits, 16)))
            position += 6
            continue
        out.append(_ESCAPES.get(escaped, escaped))
        position += 2
    return "".join(out)


def _not_utf8(path: str | Path) -> bool:
    """Java reads properties files as ISO-8859-1; most are ASCII or UTF-8. Fall back to
    Latin-1 only for files that are not valid UTF-8."""
    try:
        Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False
