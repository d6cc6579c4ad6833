"""server.properties read by java.util.Properties rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from katka.cli.properties import PropertiesError, load_properties, parse_properties


def test_equals_colon_and_whitespace_all_separate_key_from_value() -> None:
    text = "a=1\nb:2\nc 3\nd\t =  4\ne   :five six\nf\n"
    assert parse_properties(text) == {
        "a": "1",
        "b": "2",
        "c": "3",
        "d": "4",
        "e": "five six",
        "f": "",
    }


def test_comment_and_blank_lines_are_skipped_but_not_hashes_inside_values() -> None:
    text = "# comment\n   ! another\n\n   \ncolour = red # not a comment\n"
    assert parse_properties(text) == {"colour": "red # not a comment"}


def test_a_trailing_backslash_continues_the_line_without_the_next_lines_indent() -> None:
    text = "listeners=PLAINTEXT://:9092,\\\n    CONTROLLER://:9093\nnext=1\n"
    assert parse_properties(text) == {
        "listeners": "PLAINTEXT://:9092,CONTROLLER://:9093",
        "next": "1",
    }


def test_an_even_number_of_backslashes_does_not_continue() -> None:
    assert parse_properties("path=C:\\\\\nnext=1\n") == {"path": "C:\\", "next": "1"}


def test_escapes_unicode_and_escaped_separators_in_keys() -> None:
    text = "key\\=with\\:seps\\ space = tab\\there\\u00e9\\q\n"
    assert parse_properties(text) == {"key=with:seps space": "tab\there\u00e9q"}


def test_a_malformed_unicode_escape_names_the_line() -> None:
    with pytest.raises(PropertiesError, match="line 2: malformed"):
        parse_properties("ok=1\nbad=\\u12\n", "server.properties")


def test_windows_line_endings_and_a_repeated_key_keep_the_last_value(tmp_path: Path) -> None:
    path = tmp_path / "server.properties"
    path.write_bytes(b"num.partitions=1\r\nnum.partitions=3\r\n")
    assert load_properties(path) == {"num.partitions": "3"}


def test_a_latin1_file_is_read_as_java_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "server.properties"
    path.write_bytes("name=caf\xe9\n".encode("latin-1"))
    assert load_properties(path) == {"name": "caf\u00e9"}
