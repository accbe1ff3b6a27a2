"""Bad input: each case fails with its own one-line KGLoadError; the CLI exits 2 and writes nothing."""

from __future__ import annotations

import gzip
import os
import re
import socket

import pytest

from kgpeft.cli import main
from kgpeft.errors import KGLoadError
from kgpeft.io import cache_dir
from kgpeft.kg import load_graph

MALFORMED = {
    "bad.ttl": ("@prefix ex: <http://example.org/> .\nex:a ex:p ex:b .\nex:c ex:p ex:d ;; ex:e .\n", 3),
    "bad.nt": ("<http://a> <http://b> <http://c> .\n<http://a> <http://b> .\n", 2),
    "bad.nq": ("<http://a> <http://b> <http://c> <http://g> .\n<http://a> <http://b> <http://c> <g\n", 2),
    "bad.trig": ("<http://g> {\n<http://a> <http://b> <http://c> .\n<http://a> <http://b> \n}\n", 4),
    "bad.rdf": (
        '<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about="http://a">\n    <x\n</rdf:RDF>\n',
        5,
    ),
    "bad.jsonld": ('{"@id": "http://a",\n "http://b": {"@id": "http://c"},\n oops}\n', 3),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_files_name_file_line_and_column(write, name):
    text, line = MALFORMED[name]
    path = write(name, text)
    with pytest.raises(KGLoadError) as caught:
        load_graph(path)
    message = str(caught.value)
    assert re.match(rf"{re.escape(str(path))}:{line}:\d+: malformed \w+: ", message), message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.ttl", "", "the graph is empty"),
        ("prefixes.ttl", "@prefix ex: <http://example.org/> .\n", "the graph is empty"),
        ("literals.ttl", '<http://a> <http://b> "x" .\n', "no triple links two entities"),
        ("graph.xyz", "<http://a> <http://b> <http://c> .\n", "cannot tell the RDF format of graph.xyz"),
        ("remote.jsonld", '{"@context": "https://schema.org/", "@id": "http://a", "name": "A"}', "remote @context"),
        ("fake.ttl.gz", "<http://a> <http://b> <http://c> .\n", "not gzip-compressed"),
        ("cut.ttl.gz", gzip.compress(b"<http://a> <http://b> <http://c> .\n")[:-6], "corrupt gzip"),
        ("bad.trix", "<TriX xmlns='http://www.w3.org/2004/03/trix/trix-1/'><graph><triple><uri>http://a</uri></triple>",
         "malformed trix"),
    ],
)  # fmt: skip
def test_unusable_input_has_its_own_message(write, name, content, expected):
    with pytest.raises(KGLoadError, match=re.escape(expected)):
        load_graph(write(name, content))


def test_unknown_format_missing_file_and_directory(tmp_path, small_ttl):
    with pytest.raises(KGLoadError, match="unknown RDF format 'yaml'"):
        load_graph(small_ttl, format="yaml")
    with pytest.raises(KGLoadError, match="no such file"):
        load_graph(tmp_path / "missing.ttl")
    with pytest.raises(KGLoadError, match="is a directory"):
        load_graph(tmp_path)
    with pytest.raises(KGLoadError, match=r"pass a path to an RDF file or an rdflib\.Graph"):
        load_graph(42)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(small_ttl):
    small_ttl.chmod(0)
    with pytest.raises(KGLoadError, match="permission denied"):
        load_graph(small_ttl)


def test_loading_never_touches_the_network(write, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    kg = load_graph(
        write(
            "imports.ttl",
            "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
            "<http://example.org/onto> owl:imports <http://www.w3.org/2004/02/skos/core> .\n",
        )
    )
    assert kg.num_triples == 1  # the import is an ordinary triple, never followed


def cache_files() -> set[str]:
    return {str(p) for p in cache_dir("kg").rglob("*")}


@pytest.mark.parametrize("action", [["stats"], ["paths", "--from", "a", "--max-hops", "2"]])
def test_cli_bad_input_exits_2_with_one_line_and_writes_nothing(write, capsys, action):
    bad = write("bad.ttl", "@prefix ex: <http://example.org/> .\nex:a ex:p .\n")
    before = cache_files()
    assert main(["kg", action[0], str(bad), *action[1:]]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and f"{bad}:2:" in err
    assert cache_files() == before


def test_cli_unknown_entity_exits_2(small_ttl, capsys):
    assert main(["kg", "paths", str(small_ttl), "--from", "Atlantis"]) == 2
    assert "no entity with IRI, label or alias 'Atlantis'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("entity.rdf", '<?xml version="1.0"?>\n<!DOCTYPE r [\n<!ENTITY e "x">\n]>\n<r/>', "entity.rdf:3: the XML declares an entity ('e')"),
        ("entity.trix", "<!DOCTYPE TriX [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>\n<TriX/>", "entity.trix:1: the XML declares"),
        ("space.trix", "<TriX xmlns='http://www.w3.org/2004/03/trix/trix-1/'><graph>\n<triple><uri>http://a</uri>"
         "<uri>http://p</uri><uri>http://c</uri></triple>\n<triple><uri>http://a b</uri><uri>http://p</uri>"
         "<uri>http://c</uri></triple></graph></TriX>", "space.trix:3: 'http://a b' is not a valid IRI"),
        ("relative.hext", '["http://a", "http://p", "http://c", "globalId", "", ""]\n["rel", "http://p", "http://c", "globalId", "", ""]\n',
         "relative.hext:2: 'rel' is not a valid IRI (no scheme"),
        ("lang.hext", '["http://a", "http://p", "x", "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString", "e n", ""]\n',
         "lang.hext:1: malformed hext: 'e n' is not a valid language tag"),
        ("garbage.ttl.gz", gzip.compress(b"<http://a> <http://b> <http://c> .\n") + b"junk", "corrupt gzip data"),
    ],
)  # fmt: skip
def test_hostile_and_invalid_terms_have_one_line_with_file_and_line(write, name, content, expected):
    with pytest.raises(KGLoadError) as caught:
        load_graph(write(name, content))
    assert expected in str(caught.value) and "\n" not in str(caught.value), str(caught.value)


def test_gzip_members_load_and_a_bomb_is_stopped_at_the_ratio(write, monkeypatch):
    from kgpeft.kg import parse

    members = gzip.compress(b"<http://a> <http://b> <http://c> .\n") + gzip.compress(
        b"<http://c> <http://b> <http://d> .\n"
    )
    assert load_graph(write("two.nt.gz", members + b"\0\0")).num_entities == 3
    monkeypatch.setattr(parse, "MIN_GZIP_LIMIT", 1 << 10)
    monkeypatch.setattr(parse, "GZIP_CHUNK", 1 << 10)
    bomb = gzip.compress(b"<http://a> <http://b> <http://c> .\n" * 20_000)  # about 700 KB in 3 KB: over 100x
    with pytest.raises(KGLoadError, match=r"bomb\.nt\.gz: gzip content over 0 MiB \(100x its compressed size\)"):
        load_graph(write("bomb.nt.gz", bomb))
