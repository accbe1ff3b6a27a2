"""Hostile input is refused in bounded time and memory (issue 14, section 3), one line, nothing written.

Each class runs in a child process with a capped address space, its time and peak memory
measured, against the issue's bounds: 10 s and 1 GB for any input of <= 1 MB.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from kgpeft.cli import main
from tests.robustness.conftest import MAX_MEMORY_MB, MAX_SECONDS, assert_refused, run_bounded, snapshot

COUNTRIES = Path(__file__).parents[2] / "kg" / "countries.ttl"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
TRIX_NS = "http://www.w3.org/2004/03/trix/trix-1/"


def _laughs(levels: int = 9) -> str:
    """Nested entity declarations: each level references the previous one ten times (10^9 expansions)."""
    lines = ['<!ENTITY l0 "ha! ha! ha! ha! ha! ha! ha! ha!">']
    lines += [f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, levels + 1)]
    return "\n".join(lines), f"&l{levels};"


def _quadratic(size: int = 100_000, uses: int = 20_000) -> tuple[str, str]:
    """One 100 KB entity referenced 20,000 times: a 160 KB file expanding to 2 GB."""
    return f'<!ENTITY big "{"x" * size}">', "&big;" * uses


def _xml(fmt: str, declarations: str, value: str) -> str:
    if fmt == "rdf":
        body = (
            f'<rdf:RDF xmlns:rdf="{RDF_NS}" xmlns:ex="http://example.org/">\n'
            f'<rdf:Description rdf:about="http://example.org/a"><ex:p>{value}</ex:p>'
            '<ex:q rdf:resource="http://example.org/b"/></rdf:Description>\n</rdf:RDF>\n'
        )
        root = "rdf:RDF"
    else:
        body = (
            f'<TriX xmlns="{TRIX_NS}"><graph>\n<triple><uri>http://example.org/a</uri><uri>http://example.org/p</uri>'
            f"<plainLiteral>{value}</plainLiteral></triple>\n<triple><uri>http://example.org/a</uri>"
            "<uri>http://example.org/q</uri><uri>http://example.org/b</uri></triple>\n</graph></TriX>\n"
        )
        root = "TriX"
    return f'<?xml version="1.0"?>\n<!DOCTYPE {root} [\n{declarations}\n]>\n{body}'


XML_CASES = {
    f"{kind}.{fmt}": (_xml(fmt, *attack()), 3)
    for fmt in ("rdf", "trix")
    for kind, attack in (("laughs", _laughs), ("quadratic", _quadratic))
} | {
    "xxe.rdf": (_xml("rdf", '<!ENTITY secret SYSTEM "file:///etc/passwd">', "&secret;"), 3),
    "xxe.trix": (_xml("trix", '<!ENTITY % remote SYSTEM "http://example.org/x.dtd"> %remote;', "a"), 3),
}


def _kg_stats(path: Path) -> str:
    return f"from kgpeft.cli import main; sys.exit(main(['kg', 'stats', {str(path)!r}]))"


def _check(result, before: dict[str, str], folder: Path) -> str:
    """The bounded run refused its input with one line, within the bounds, leaving ``folder`` as it was."""
    lines = result.err.splitlines()
    assert result.code == 2 and len(lines) == 1 and "Traceback" not in result.err, result.err[-2000:]
    assert result.seconds <= MAX_SECONDS, f"{result.seconds:.1f} s"
    assert result.peak_mb <= MAX_MEMORY_MB, f"{result.peak_mb:.0f} MB"
    assert snapshot(folder) == before, "something was written or lost"
    return lines[0]


@pytest.fixture
def place(tmp_path):
    """(folder, env): a folder holding the input and the private cache the child uses."""
    cache = tmp_path / "cache"
    (cache / "kg").mkdir(parents=True)  # the cache's folders are made on first use; no entry may appear in them
    return tmp_path, {"KGPEFT_CACHE": str(cache)}


@pytest.mark.parametrize("name", sorted(XML_CASES))
def test_xml_entity_expansion_is_refused_in_every_xml_format(place, name):
    folder, env = place
    text, line = XML_CASES[name]
    path = folder / name
    path.write_text(text, encoding="utf-8")
    assert len(text.encode()) < 1 << 20
    before = snapshot(folder)
    message = _check(run_bounded(_kg_stats(path), cwd=folder, env=env), before, folder)
    assert message.startswith(f"kgpeft kg: error: {path}:{line}: the XML declares an entity"), message


def test_xml_entities_in_another_encoding_are_refused(place):
    folder, env = place
    text = _xml("rdf", *_laughs()).replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    path = folder / "laughs16.rdf"
    path.write_bytes(text.encode("utf-16"))
    before = snapshot(folder)
    message = _check(run_bounded(_kg_stats(path), cwd=folder, env=env), before, folder)
    assert "the XML declares an entity ('l0')" in message


def test_gzip_bomb_is_refused_early(place):
    folder, env = place
    member = gzip.compress(b"\n" * (1 << 20), 9)  # 1 MiB in about 1 KB; members may follow one another
    path = folder / "bomb.nt.gz"
    path.write_bytes(member * (2_000_000 // len(member)))
    assert 1 << 20 < path.stat().st_size < 3 << 20
    before = snapshot(folder)
    message = _check(run_bounded(_kg_stats(path), cwd=folder, env=env), before, folder)
    assert "gzip content over" in message and "decompression bomb" in message and "gunzip" in message


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_a_kg_path_that_is_no_regular_file_is_refused_without_reading(place, kind):
    """What an adapter's kgpeft.json may name: every caller reads the KG through the same loader."""
    folder, env = place
    path = folder / "graph.ttl"
    if kind == "fifo":
        os.mkfifo(path)  # opening it for reading would wait for a writer forever
    elif kind == "device":
        path.symlink_to("/dev/zero")  # reading it would never end
    else:
        path.mkdir()
    before = snapshot(folder)
    code = (
        "from kgpeft.errors import KGPeftError\nfrom kgpeft.inference.loading import load_kg\n"
        f"try:\n    load_kg({str(path)!r})\nexcept KGPeftError as err:\n    sys.exit(print(err, file=sys.stderr) or 2)"
    )
    message = _check(run_bounded(code, cwd=folder, env=env, timeout=30), before, folder)
    expected = "is a directory" if kind == "directory" else "is not a regular file (a device, FIFO or socket)"
    assert message.startswith(f"{path}") and expected in message, message


_USER_FILE_READERS = {  # every other file a user names, read by the one bounded reader (kgpeft.io.read_user_file)
    "question_file": "from kgpeft.data import build_dataset\nfrom kgpeft.data.dataset import DataConfig\n"
    "from kgpeft.kg import load_graph\nkg = load_graph({kg!r}, cache=False)\n"
    "try:\n    build_dataset(kg, DataConfig(question_file={path!r}))\n"
    "except KGPeftError as err:\n    sys.exit(print(err, file=sys.stderr) or 2)",
    "templates": "from kgpeft.data.verbalise import load_templates\n"
    "try:\n    load_templates({path!r})\nexcept KGPeftError as err:\n    sys.exit(print(err, file=sys.stderr) or 2)",
    # the run file's reader itself: `kgpeft fit` would add seconds of TRL imports to the time measured
    "config": "from kgpeft.cli.options import load_config_file\n"
    "try:\n    load_config_file({path!r})\nexcept KGPeftError as err:\n    sys.exit(print(err, file=sys.stderr) or 2)",
}


@pytest.mark.parametrize("reader", sorted(_USER_FILE_READERS))
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_other_user_files_that_are_no_regular_file_are_refused_without_reading(place, reader, kind):
    folder, env = place
    path = folder / "input.yaml"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    before = snapshot(folder)
    code = "from kgpeft.errors import KGPeftError\n" + _USER_FILE_READERS[reader].format(
        kg=str(COUNTRIES), path=str(path)
    )
    message = _check(run_bounded(code, cwd=folder, env=env, timeout=30), before, folder)
    assert str(path) in message and "is not a regular file (a device, FIFO or socket)" in message, message


def test_a_term_over_16_mib_is_one_line_with_its_line(place):
    folder, env = place
    path = folder / "huge.ttl"
    path.write_text(f'<http://a> <http://b> <http://c> .\n<http://a> <http://p> "{"x" * (17 << 20)}" .\n')
    before = snapshot(folder)
    message = _check(run_bounded(_kg_stats(path), cwd=folder, env=env), before, folder)
    assert f"{path}:2: a literal or IRI longer than 16 MiB" in message


def test_a_100_kb_question_is_refused_before_anything_loads(place, tiny_checkpoint):
    folder, env = place
    question = "Which region is Germany in? " * 3700
    code = (
        "from kgpeft.cli import main\n"
        f"sys.exit(main(['ask', '--base-model', {str(tiny_checkpoint)!r}, '--kg', {str(COUNTRIES)!r}, "
        f"{question!r}]))"
    )
    before = snapshot(folder)
    message = _check(run_bounded(code, cwd=folder, env=env), before, folder)
    assert "the question is 103600 characters long, over the 2000 a question may have: shorten it" in message


def test_a_question_over_the_models_context_is_refused(tmp_path, tiny_checkpoint, capsys):
    """Under the character limit but over the tiny model's 1024 positions (digits cost a token each)."""
    question = "France " + " ".join("7" for _ in range(990))
    argv = ["ask", "--base-model", str(tiny_checkpoint), "--kg", str(COUNTRIES), "--no-4bit", "--topic", "France"]
    before = snapshot(tmp_path)
    message = assert_refused(main([*argv, question]), capsys, tmp_path, before)
    assert "tokens with its prompt" in message and "over the model's context of 1024 tokens" in message


def test_a_megabyte_of_bad_question_lines_is_refused_in_bounded_time(place, tmp_path_factory):
    folder, env = place
    env = {"KGPEFT_CACHE": str(tmp_path_factory.mktemp("kg-cache"))}  # the graph, which is fine, gets cached
    path = folder / "bad.jsonl"
    with path.open("w") as handle:
        for i in range(26_000):  # unknown topics (each would want a fuzzy suggestion) and broken JSON, alternating
            record = json.dumps({"question": "Where?", "topic": f"Atlantis{i}", "answers": ["Paris"]})
            handle.write((record if i % 2 else record[:9]) + "\n")
    assert path.stat().st_size <= 1 << 20
    code = (
        "from kgpeft.errors import KGPeftError\nfrom kgpeft.kg import load_graph\n"
        "from kgpeft.data import load_question_file\n"
        f"kg = load_graph({str(COUNTRIES)!r})\n"
        f"try:\n    load_question_file(kg, {str(path)!r})\n"
        "except KGPeftError as err:\n    sys.exit(print(err, file=sys.stderr) or 2)"
    )
    before = snapshot(folder)
    message = _check(run_bounded(code, cwd=folder, env=env), before, folder)
    assert "26000 bad lines" in message and "and 25995 more" in message
