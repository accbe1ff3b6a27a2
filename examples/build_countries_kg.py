"""Build ``kg/countries.ttl``, kgpeft's default knowledge graph, from the ``countryinfo`` package.

The graph links countries (and territories with an ISO 3166-1 code) to the UN M49 regions
they sit in, to their neighbours and to their capitals, with English labels, labels in a
few other languages, aliases, one-sentence descriptions and two literal facts (population,
area). The output is deterministic (sorted), so rebuilding it gives a byte-identical file.

countryinfo's data needs cleaning, and every rule is spelled out here:

- Only records with a numeric ISO 3166-1 code are countries (this drops the package's
  extra records for Scotland, Wales, Burma, the Netherlands Antilles, ...), and Serbia
  and Montenegro (ISO code withdrawn in 2006) is dropped: Serbia and Montenegro are there.
- Records sharing an alpha-3 code (two Curaçaos, two Vaticans, two Palestines) are merged:
  the fuller record wins, the other's names become aliases.
- Borders naming a code that resolves to nothing (Kosovo's XKX, KOS) are dropped, borders
  given by alpha-2 codes are resolved, and one-directional borders are made symmetric.
- Blank region names are not regions: a country with none is simply not located anywhere.
- "Kralendijk / Oranjestad / The Bottom" is three capitals; capitals that share a name are
  one city only when their countries share a subregion (Jerusalem), so Kingston, Jamaica and
  Kingston, Norfolk Island are two cities.

Run from the repository root (needs ``pip install kgpeft[build-kg]``)::

    python examples/build_countries_kg.py            # writes kg/countries.ttl
    python examples/build_countries_kg.py -o out.ttl
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from turtle_writer import literal, slug, subject_block, write_graph

BASE = "http://kgpeft.dev/countries/"
PREFIXES = {
    "": BASE,
    "country": f"{BASE}country/",
    "region": f"{BASE}region/",
    "city": f"{BASE}city/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
}
# ISO 3166-1 codes withdrawn from the standard whose successors are in the data.
WITHDRAWN = {"SCG"}
# The languages of countryinfo's translations that appear for (almost) every country.
LABEL_LANGUAGES = ("de", "es", "fr", "it", "ja")

# Region names read with "the" in a sentence ("a country in the Caribbean").
WITH_ARTICLE = {"Americas", "Caribbean", "Channel Islands"}

# The vocabulary, labelled in the file so the graph describes itself: (term, label, comment).
# Terms get no rdf:type (rdfs:Class, rdf:Property): those edges would only add meta-level
# detours ("country -> type -> Class") to every path search.
VOCABULARY = (
    (":Country", "country", "A country or territory with an ISO 3166-1 code."),
    (":Region", "region", "A UN M49 region, e.g. Europe."),
    (":Subregion", "subregion", "A UN M49 subregion, e.g. Western Europe."),
    (":IntermediateRegion", "intermediate region", "A UN M49 intermediate region, e.g. the Caribbean."),
    (":City", "city", "A city that is the capital of a country."),
    (":locatedIn", "located in", "A country or region lies within a larger region."),
    (":neighborOf", "neighbor of", "Two countries share a land border (symmetric)."),
    (":capital", "capital", "The capital city of a country."),
    (":population", "population", "Number of inhabitants."),
    (":area", "area in square kilometres", "Surface area in square kilometres."),
    (":isoCode", "ISO code", "The ISO 3166-1 alpha-3 code."),
)


@dataclass
class Country:
    code: str  # ISO 3166-1 alpha-3
    name: str
    aliases: set[str] = field(default_factory=set)
    translations: dict[str, str] = field(default_factory=dict)
    region: str = ""
    subregion: str = ""
    intermediate: str = ""
    capitals: list[str] = field(default_factory=list)
    neighbors: set[str] = field(default_factory=set)
    population: int | None = None
    area: Decimal | None = None


def richness(record: dict[str, Any]) -> int:
    return sum(1 for value in record.values() if value not in (None, "", [], {}))


def capitals_of(record: dict[str, Any]) -> list[str]:
    raw = record.get("capital")
    names = raw if isinstance(raw, list) else [raw or ""]
    return [part.strip() for name in names for part in name.split(" / ") if part.strip()]


def load_countries() -> dict[str, Country]:
    """countryinfo's records as cleaned :class:`Country` objects keyed by alpha-3 code."""
    from countryinfo import CountryInfo

    by_code: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in CountryInfo.all().values():
        iso = record.get("ISO") or {}
        if iso.get("numeric") and iso.get("alpha3") and iso["alpha3"] not in WITHDRAWN:
            by_code[iso["alpha3"]].append(record)
    alpha2 = {records[0]["ISO"]["alpha2"]: code for code, records in by_code.items()}

    countries: dict[str, Country] = {}
    for code, records in sorted(by_code.items()):
        records.sort(key=lambda r: (-richness(r), r["name"]))
        main = records[0]
        country = Country(code=code, name=main["name"])
        for record in records:
            names = [record["name"], *record.get("altSpellings", []), *record.get("alt", [])]
            names.append(record.get("nativeName") or "")
            # Two- and three-letter codes are not names a person would use.
            country.aliases.update(
                n.strip() for n in names if n.strip() and n.strip() not in (code, record["ISO"]["alpha2"])
            )
            for language, text in (record.get("translations") or {}).items():
                if language in LABEL_LANGUAGES and text:
                    country.translations.setdefault(language, text.strip())
            country.region = country.region or (record.get("region") or "").strip()
            country.subregion = country.subregion or (record.get("subregion") or "").strip()
            country.intermediate = country.intermediate or (record.get("intermediateregion") or "").strip()
            country.capitals = country.capitals or capitals_of(record)
            if country.population is None and record.get("population"):
                country.population = int(record["population"])
            if country.area is None and record.get("area"):
                country.area = Decimal(str(record["area"]))
            for border in record.get("borders") or []:
                country.neighbors.add(border if border in by_code else alpha2.get(border, ""))
        country.aliases.discard(country.name)
        countries[code] = country

    for code, country in countries.items():
        country.neighbors = {n for n in country.neighbors if n in countries and n != code}
    for code, country in countries.items():  # symmetrise one-directional borders
        for neighbor in country.neighbors:
            countries[neighbor].neighbors.add(code)
    return countries


def region_parents(countries: Iterable[Country]) -> dict[str, tuple[str, str]]:
    """Each region name -> (its class, the region it lies in or "" for a top-level region)."""
    parents: dict[str, tuple[str, str]] = {}

    def add(name: str, kind: str, parent: str) -> None:
        if not name:
            return
        if parents.setdefault(name, (kind, parent)) != (kind, parent):
            raise ValueError(f"region {name!r} has two parents: {parents[name]} and {(kind, parent)}")

    for c in countries:
        add(c.region, ":Region", "")
        add(c.subregion, ":Subregion", c.region)
        add(c.intermediate, ":IntermediateRegion", c.subregion)
    return parents


def capital_cities(countries: dict[str, Country]) -> dict[tuple[str, str], str]:
    """(country code, capital name) -> the city's IRI local name (see the module docstring)."""
    holders: dict[str, list[Country]] = defaultdict(list)
    for country in countries.values():
        for name in country.capitals:
            holders[name].append(country)
    cities: dict[tuple[str, str], str] = {}
    for name, group in holders.items():
        shared = len({c.subregion for c in group}) == 1
        for country in group:
            cities[country.code, name] = slug(name) if shared else f"{slug(name)}_{slug(country.name)}"
    return cities


def in_sentence(region: str) -> str:
    return f"the {region}" if region in WITH_ARTICLE else region


def place_name(country: Country) -> str:
    return country.intermediate or country.subregion or country.region


def render(countries: dict[str, Country]) -> str:
    parents = region_parents(countries.values())
    cities = capital_cities(countries)
    region_iri = {name: f"region:{slug(name)}" for name in parents}
    country_iri = {code: f"country:{code}" for code in countries}

    out = [f"@prefix {prefix}: <{iri}> .\n" for prefix, iri in PREFIXES.items()]
    out.append(
        "\n# kgpeft's default knowledge graph: countries, UN M49 regions, borders and capitals.\n"
        "# Built by examples/build_countries_kg.py from the countryinfo package (MIT licence); do not edit by hand.\n"
    )
    out.append("\n# Vocabulary\n\n")
    for term, label, comment in VOCABULARY:
        out.append(
            subject_block(term, [("rdfs:label", [literal(label, "en")]), ("rdfs:comment", [literal(comment, "en")])])
        )

    out.append("# Regions\n\n")
    for name in sorted(parents):
        kind, parent = parents[name]
        kind_label = {":Region": "region", ":Subregion": "subregion", ":IntermediateRegion": "intermediate region"}[
            kind
        ]
        comment = (
            f"{in_sentence(name)} is {'an' if kind_label[0] in 'aeiou' else 'a'} {kind_label} of {in_sentence(parent)}."
            if parent
            else f"{in_sentence(name)} is a world region."
        )
        comment = comment[0].upper() + comment[1:]
        out.append(
            subject_block(
                region_iri[name],
                [
                    ("a", [kind]),
                    ("rdfs:label", [literal(name, "en")]),
                    ("rdfs:comment", [literal(comment, "en")]),
                    (":locatedIn", [region_iri[parent]] if parent else []),
                ],
            )
        )

    out.append("# Countries\n\n")
    for code, c in sorted(countries.items()):
        where = place_name(c)
        capitals = " and ".join(c.capitals)
        comment = (
            f"{c.name} is a country"
            + (f" in {in_sentence(where)}" if where else "")
            + (f" with capital {capitals}" if capitals else "")
            + "."
        )
        labels = [literal(c.name, "en")] + [literal(text, lang) for lang, text in sorted(c.translations.items())]
        out.append(
            subject_block(
                country_iri[code],
                [
                    ("a", [":Country"]),
                    ("rdfs:label", labels),
                    ("skos:altLabel", [literal(alias) for alias in sorted(c.aliases)]),
                    ("rdfs:comment", [literal(comment, "en")]),
                    (":isoCode", [literal(code)]),
                    (":locatedIn", [region_iri[where]] if where else []),
                    (":capital", [f"city:{cities[code, name]}" for name in c.capitals]),
                    (":neighborOf", [country_iri[n] for n in sorted(c.neighbors)]),
                    (":population", [str(c.population)] if c.population is not None else []),
                    # A decimal point makes the Turtle shorthand an xsd:decimal rather than an integer.
                    (
                        ":area",
                        [f"{c.area:f}" if "." in f"{c.area:f}" else f"{c.area:f}.0"] if c.area is not None else [],
                    ),
                ],
            )
        )

    out.append("# Capital cities\n\n")
    city_countries: dict[str, list[Country]] = defaultdict(list)
    for (code, _name), city in cities.items():
        city_countries[city].append(countries[code])
    for city in sorted(city_countries):
        holders = sorted(city_countries[city], key=lambda c: c.name)
        name = next(n for n in holders[0].capitals if cities[holders[0].code, n] == city)
        comment = f"{name} is the capital of {' and '.join(c.name for c in holders)}."
        out.append(
            subject_block(
                f"city:{city}",
                [
                    ("a", [":City"]),
                    ("rdfs:label", [literal(name, "en")]),
                    ("rdfs:comment", [literal(comment, "en")]),
                ],
            )
        )
    return "".join(out)


def main() -> None:
    write_graph(__doc__.split("\n")[0], "kg/countries.ttl", lambda: render(load_countries()))


if __name__ == "__main__":
    main()
