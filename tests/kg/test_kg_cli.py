"""`kgpeft kg stats` and `kgpeft kg paths` on a small graph."""

from __future__ import annotations

import json

from kgpeft.cli import main


def test_stats_json(small_ttl, capsys):
    assert main(["kg", "stats", str(small_ttl), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["entities"] == 7 and stats["triples"] == 9 and stats["literal_triples"] == 11
    assert 0 < stats["label_coverage"] < 1 and set(stats["degree_percentiles"]) == {"p50", "p90", "p99", "p100"}
    assert stats["top_relations"][0]["label"] == "located in"


def test_stats_table(small_ttl, capsys):
    assert main(["kg", "stats", str(small_ttl)]) == 0
    out = capsys.readouterr().out
    assert "entities" in out and "label coverage" in out and "located in" in out


def test_paths_by_label_and_iri(small_ttl, capsys):
    assert main(["kg", "paths", str(small_ttl), "--from", "Germany", "--max-hops", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "Germany -> located in -> Western Europe" in lines
    assert "Germany -> located in -> Western Europe -> located in -> Europe" in lines
    assert "Germany <- neighbor of <- France" in lines
    assert main(["kg", "paths", str(small_ttl), "--from", "http://example.org/Germany", "--limit", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_no_action_is_an_error(capsys):
    assert main(["kg"]) == 2
    assert "choose an action" in capsys.readouterr().err
