"""Property-based fuzzing of the input parsers: valid snippets, garbled at random.

Property: loading either succeeds or raises a :class:`~kgpeft.errors.KGPeftError` whose
message is one line naming the file; never another exception, never a hang (hypothesis'
deadline), and no cache entry written for an input that failed. Derandomised, so CI
sees the same cases every run; the number of cases per class is ``EXAMPLES``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgpeft.cli import main
from kgpeft.errors import KGLoadError, KGPeftError
from kgpeft.io import cache_dir
from kgpeft.kg import load_graph
from tests.robustness.conftest import assert_refused, snapshot

EXAMPLES = 150
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same cases every run
    database=None,  # nothing written into the checkout
    deadline=2000,  # ms per case: a hang or a blow-up fails the property
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

SEEDS = {
    "ttl": b"""@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:Germany rdfs:label "Germany"@en ; ex:borders ex:France , ex:Poland ;
    ex:population 83000000 ; ex:note \"\"\"multi
line\"\"\" .
ex:France rdfs:label "France" ; ex:capital [ rdfs:label "Paris" ] .
""",
    "nt": b"""<http://example.org/Germany> <http://example.org/borders> <http://example.org/France> .
<http://example.org/Germany> <http://www.w3.org/2000/01/rdf-schema#label> "Germany"@en .
<http://example.org/France> <http://example.org/capital> _:b0 .
_:b0 <http://www.w3.org/2000/01/rdf-schema#label> "Paris\\u00e9\\n"^^<http://www.w3.org/2001/XMLSchema#string> .
""",
    "nq": b"""<http://example.org/a> <http://example.org/p> <http://example.org/b> <http://example.org/g> .
<http://example.org/a> <http://example.org/q> "x"@en .
""",
    "trig": b"""@prefix ex: <http://example.org/> .
ex:g { ex:a ex:p ex:b ; ex:q "x"^^ex:t . }
ex:a ex:p ex:c .
""",
    "rdf": b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/">
  <rdf:Description rdf:about="http://example.org/a"><ex:p rdf:resource="http://example.org/b"/>
    <ex:q xml:lang="en">x</ex:q></rdf:Description>
</rdf:RDF>
""",
    "trix": b"""<TriX xmlns="http://www.w3.org/2004/03/trix/trix-1/"><graph>
<triple><uri>http://example.org/a</uri><uri>http://example.org/p</uri><uri>http://example.org/b</uri></triple>
<triple><uri>http://example.org/a</uri><uri>http://example.org/q</uri><plainLiteral xml:lang="en">x</plainLiteral></triple>
</graph></TriX>
""",
    "hext": b"""["http://example.org/a", "http://example.org/p", "http://example.org/b", "globalId", "", ""]
["http://example.org/a", "http://example.org/q", "x", "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString", "en", ""]
""",
    "jsonld": b"""{"@context": {"ex": "http://example.org/"}, "@id": "ex:a", "ex:p": {"@id": "ex:b"}, "ex:q": "x"}
""",
}
# What breaks parsers: structure characters, escapes, huge numbers, NULs, bad UTF-8, IRIs with spaces, DOCTYPEs.
SPECIAL = [
    b"\x00", b"<", b">", b'"', b"'", b"\\", b"\\u12", b"\\U0001F600", b"\\x", b"99999999999999999999999999999e99999",
    b"\xff\xfe", b"\xc3", "Zürich ∑ 𝄞".encode(), b"\n", b" ", b".", b";", b",", b"[", b"]", b"(", b")", b"{", b"}",
    b"@prefix", b"@base <x> .", b"_:", b"^^", b"@en-", b"@", b"<<", b">>", b"<http://a b>", b"<rel>", b'"""', b"#",
    b"\r", b"\t", b"\x0b", b"ex:", b":", b"<!DOCTYPE x [<!ENTITY a 'b'>]>", b"a", b"true", b"-", b"+1.5e3",
]  # fmt: skip


@st.composite
def garbled(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` after 1-6 random edits: a byte replaced, a span deleted, a special token inserted, a cut."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["replace", "delete", "insert", "insert", "truncate"]))
        if edit == "replace" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif edit == "delete":
            del data[at : at + draw(st.integers(1, 20))]
        elif edit == "insert":
            data[at:at] = draw(st.sampled_from(SPECIAL) | st.binary(min_size=1, max_size=8))
        elif edit == "truncate":
            del data[at:]
    return bytes(data)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def _entries() -> set[str]:
    return {p.name for p in cache_dir("kg").iterdir()}


def _load_property(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    before = _entries()
    try:
        load_graph(path)
    except KGLoadError as err:
        message = str(err)
        assert "\n" not in message and path.name in message, message
        assert _entries() == before, "a cache entry was written for an input that failed"


@pytest.mark.parametrize("suffix", sorted(SEEDS))
def test_garbled_rdf_loads_or_is_refused_with_one_line(folder, suffix):
    path = folder / f"graph.{suffix}"
    load_graph(_write(path, SEEDS[suffix]))  # the seed itself loads (and warms the imports up)

    @FUZZ
    @given(data=garbled(SEEDS[suffix]))
    def check(data: bytes) -> None:
        _load_property(path, data)

    check()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


QUESTION_SEEDS = [
    {"question": "Which country borders Germany?", "topic": "Germany", "answers": ["France"]},
    {"question": "Where is Paris?", "topic": "http://kgpeft.dev/countries/country/FRA", "id": 7, "hops": 1},
    {"question": "What is the capital of Spain?"},
]


@pytest.fixture(scope="module")
def countries():
    return load_graph(Path(__file__).parents[2] / "kg" / "countries.ttl")


def test_garbled_question_lines_load_or_are_refused_with_one_line(folder, countries):
    from kgpeft.data import load_question_file

    path = folder / "questions.jsonl"
    seed = "\n".join(json.dumps(q, ensure_ascii=False) for q in QUESTION_SEEDS).encode() + b"\n"
    assert len(load_question_file(countries, _write(path, seed))) == len(QUESTION_SEEDS)

    @FUZZ
    @given(data=garbled(seed))
    def check(data: bytes) -> None:
        path.write_bytes(data)
        try:
            load_question_file(countries, path)
        except KGPeftError as err:
            assert "\n" not in str(err) and path.name in str(err), str(err)

    check()


# Classes the fuzzing found or covers, each through the CLI: exit 2, one line on stderr, nothing written.
CLI_CASES = {
    "nul.ttl": b"<http://a> <http://b> <http://c> .\n<http://a>\x00 <http://b> <http://c> .\n",
    "escape.nt": b'<http://a> <http://b> "bad \\x escape" .\n',
    "utf8.ttl": b'<http://a> <http://b> "caf\xe9" .\n',
    "space.nt": b"<http://a b> <http://b> <http://c> .\n",
    "number.ttl": b"@prefix ex: <http://e/> .\nex:a ex:b 99999999999999999999999999e99999999 ; ex:c ex:d ; ;\n",
    "cut.ttl": b'@prefix ex: <http://e/> .\nex:a ex:b """never closed\n',
    "space.hext": b'["http://a b", "http://p", "http://c", "globalId", "", ""]\n',
}


@pytest.mark.parametrize("name", sorted(CLI_CASES))
def test_cli_refuses_each_found_class_with_one_line(folder, capsys, name):
    place = folder / name.replace(".", "-")
    place.mkdir()
    path = _write(place / name, CLI_CASES[name])
    before = snapshot(place)
    entries = _entries()
    message = assert_refused(main(["kg", "stats", str(path)]), capsys, place, before)
    assert message.startswith(f"kgpeft kg: error: {path}:"), message
    assert _entries() == entries
