"""Build ``kg/elements.ttl``, a second domain graph (the periodic table), from the ``mendeleev`` package.

The graph links the 118 chemical elements to their group, period, block and category
(e.g. "noble gas"), to their common oxidation states, crystal structure and Goldschmidt
class, to the people and laboratories that discovered them, to the next element by
atomic number, and links naturally occurring isotopes to their element. Literal facts
(symbol, atomic number and weight, discovery year and place, electron configuration,
main producing countries) and a description per element go along with English labels.
The output is deterministic, so rebuilding it gives a byte-identical file.

mendeleev's data needs cleaning, and every rule is spelled out here:

- Discoverers are one free-text field ("G.T.Seaborg, R.A.James, A.Ghiorso"): it is split
  on commas, semicolons, slashes and "and"; "et al" is dropped; the spellings of one
  person or laboratory are merged into one name (``CANONICAL``), initials are spaced, and "Pierre and Marie
  Curie" and "Fausto and Juan José de Elhuyar" become two people each. Elements "known
  to the ancients" have no discoverer.
- Chemical symbols are literals, not aliases: as aliases, "He", "In", "As", "Be", "No",
  "At" and "I" would make entity linking see elements in ordinary English words.
- Places (discovery, production) are literals, not entities, so that no entity of this
  graph shares a name with one of ``kg/countries.ttl``: a question about "China" must be
  routable to one domain. Producer names are normalised (USA -> United States, ...).
- Only the oxidation states mendeleev marks "main" are linked; the rarer "extended"
  ones would make every element look alike.
- Isotopes are those with a natural abundance; the ~3,000 synthetic ones would swamp the graph.
- "litophile" is spelled lithophile; "synthetic" is not a Goldschmidt class and is left out.

Run from the repository root (needs ``pip install kgpeft[build-kg]``)::

    python examples/build_elements_kg.py            # writes kg/elements.ttl
    python examples/build_elements_kg.py -o out.ttl
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from turtle_writer import literal, slug, subject_block, write_graph

BASE = "http://kgpeft.dev/elements/"
PREFIXES = {
    "": BASE,
    "element": f"{BASE}element/",
    "isotope": f"{BASE}isotope/",
    "group": f"{BASE}group/",
    "period": f"{BASE}period/",
    "block": f"{BASE}block/",
    "category": f"{BASE}category/",
    "oxidation": f"{BASE}oxidation-state/",
    "structure": f"{BASE}crystal-structure/",
    "class": f"{BASE}goldschmidt-class/",
    "discoverer": f"{BASE}discoverer/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "kgpeft": "https://kgpeft.dev/ns#",
}

# The vocabulary, labelled in the file so the graph describes itself: (term, label, comment).
VOCABULARY = (
    (":Element", "chemical element", "A chemical element of the periodic table."),
    (":Isotope", "isotope", "A naturally occurring isotope of an element."),
    (":Group", "group", "A column of the periodic table."),
    (":Period", "period", "A row of the periodic table."),
    (":Block", "block", "A set of elements whose outermost electrons fill the same kind of orbital."),
    (":Category", "element category", "A family of elements with similar properties, e.g. the noble gases."),
    (":OxidationState", "oxidation state", "A charge an atom of an element commonly takes in compounds."),
    (":CrystalStructure", "crystal structure", "The lattice structure of an element's solid form."),
    (":GoldschmidtClass", "Goldschmidt class", "A geochemical class: where an element concentrates in the Earth."),
    (":Person", "person", "A scientist credited with discovering an element."),
    (":Laboratory", "laboratory", "A research institution credited with discovering an element."),
    (":group", "group", "The group (column) of an element."),
    (":period", "period", "The period (row) of an element."),
    (":block", "block", "The block of an element."),
    (":category", "category", "The category of an element."),
    (":oxidationState", "oxidation state", "A common oxidation state of an element."),
    (":crystalStructure", "crystal structure", "The crystal structure of an element."),
    (":goldschmidtClass", "Goldschmidt class", "The Goldschmidt class of an element."),
    (":discoveredBy", "discovered by", "Who discovered an element."),
    (":followedBy", "followed by", "The element with the next atomic number."),
    (":isotopeOf", "isotope of", "The element an isotope belongs to."),
    (":symbol", "symbol", "The chemical symbol."),
    (":atomicNumber", "atomic number", "The number of protons."),
    (":atomicWeight", "atomic weight", "The standard atomic weight."),
    (":electronConfiguration", "electron configuration", "The ground-state electron configuration."),
    (":discoveryYear", "discovery year", "The year of discovery."),
    (":discoveredIn", "discovered in", "Where an element was discovered."),
    (":mainProducers", "main producers", "The three largest producing countries, largest first."),
    (":massNumber", "mass number", "The number of protons and neutrons of an isotope."),
    (":abundance", "natural abundance in percent", "The share of an isotope among the element's atoms on Earth."),
)

# Question templates for kgpeft's question synthesis (kgpeft.data.verbalise): relation ->
# (forward, inverse). {topic} may be a name ("Helium") or a phrase ("the period of Helium"),
# so each template reads with both.
QUESTION_TEMPLATES = {
    ":group": ("Which group of the periodic table is {topic} in?", "Which elements are in {topic}?"),
    ":period": ("Which period of the periodic table is {topic} in?", "Which elements are in {topic}?"),
    ":block": ("Which block of the periodic table is {topic} in?", "Which elements belong to {topic}?"),
    ":category": ("What kind of element is {topic}?", "Which elements belong to the category {topic}?"),
    ":oxidationState": (
        "What is a common oxidation state of {topic}?",
        "Which elements commonly take {topic}?",
    ),
    ":crystalStructure": (
        "What is the crystal structure of {topic}?",
        "Which elements have {topic} as their crystal structure?",
    ),
    ":goldschmidtClass": (
        "What is the Goldschmidt class of {topic}?",
        "Which elements have {topic} as their Goldschmidt class?",
    ),
    ":discoveredBy": ("Who discovered {topic}?", "Which elements did {topic} discover?"),
    ":followedBy": (
        "Which element comes after {topic} in the periodic table?",
        "Which element comes before {topic} in the periodic table?",
    ),
    ":isotopeOf": ("Which element is {topic} an isotope of?", "What are the natural isotopes of {topic}?"),
}

# Spellings of one discoverer in mendeleev's data -> one name.
CANONICAL = {
    "A. Ghiorso": "Albert Ghiorso",
    "A.Ghiorso": "Albert Ghiorso",
    "A.F.Fourcory": "Antoine François Fourcroy",
    "Argonne": "Argonne National Laboratory",
    "Baron Rayleigh": "Lord Rayleigh",
    "C.F. Aver von Welsbach": "Carl Auer von Welsbach",
    "E.M. McMillan": "Edwin McMillan",
    "E.M.McMillan": "Edwin McMillan",
    "E.Segré": "Emilio Segrè",
    "Émillo Segrè": "Emilio Segrè",
    "Fausto": "Fausto de Elhuyar",
    "Fredrich Ernst Dorn": "Friedrich Ernst Dorn",
    "Fredrich Soddy": "Frederick Soddy",
    "Fredrich Stromeyer": "Friedrich Stromeyer",
    "Fredrich Wöhler": "Friedrich Wöhler",
    "G. Kirchoff": "Gustav Kirchhoff",
    "Gustov Kirchoff": "Gustav Kirchhoff",
    "G.T.Seaborg": "Glenn T. Seaborg",
    "H.V.Collet-Descoltils": "Hippolyte-Victor Collet-Descotils",
    "Heavy Ion Research Laboratory (HIRL)": "GSI Helmholtz Centre for Heavy Ion Research",
    "J. Berzelius": "Jöns Jacob Berzelius",
    "Jöns Berzelius": "Jöns Jacob Berzelius",
    "Joseph Priestly": "Joseph Priestley",
    "K.Street Jr.": "Kenneth Street Jr.",
    "Karl Klaus": "Karl Ernst Claus",
    "L.N.Vauquelin": "Louis Nicolas Vauquelin",
    "Louis Vauquelin": "Louis Nicolas Vauquelin",
    "Los Alamos": "Los Alamos National Laboratory",
    "M. Klaproth": "Martin Heinrich Klaproth",
    "Martin Klaproth": "Martin Heinrich Klaproth",
    "M. W. Travers": "Morris Travers",
    "M.W. Travers": "Morris Travers",
    "Nils Langet": "Nils Langlet",
    "P.T.Cleve": "Per Teodor Cleve",
    "Per Theodor Cleve": "Per Teodor Cleve",
    "Pierre": "Pierre Curie",
    "R. Bunsen": "Robert Bunsen",
    "S.G.Tompson": "Stanley G. Thompson",
    "S.Tenant": "Smithson Tennant",
    "Smithson Tenant": "Smithson Tennant",
    "Sir H. Davy": "Humphry Davy",
    "Sir Humphrey Davy": "Humphry Davy",
    "Sir William Crookes": "William Crookes",
    "Sir William Ramsay": "William Ramsay",
    "Sir William Ramsey": "William Ramsay",
    "Soviet Nuclear Research": "Joint Institute for Nuclear Research",
    "U of Calif": "University of California, Berkeley",
    "U. of Cal at Berkeley": "University of California, Berkeley",
}
LABORATORIES = {
    "Argonne National Laboratory",
    "GSI Helmholtz Centre for Heavy Ion Research",
    "Joint Institute for Nuclear Research",
    "Lawrence Livermore National Laboratory",
    "Los Alamos National Laboratory",
    "Nobel Institute for Physics",
    "Oak Ridge National Laboratory",
    "RIKEN",
    "University of California, Berkeley",
}
NOT_A_DISCOVERER = {"et al", "Known to the ancients", "Known to the ancients."}
PRODUCER_NAMES = {
    "USA": "United States",
    "DRC": "Democratic Republic of the Congo",
    "Kyrgzstan": "Kyrgyzstan",
    "Republic of Korea": "South Korea",
}
# Other spellings of element names in mendeleev's (American) data.
ELEMENT_ALIASES = {"Aluminum": ["Aluminium"], "Cesium": ["Caesium"], "Sulfur": ["Sulphur"]}

CATEGORY_LABELS = {  # mendeleev's series names (plural) -> a label that reads after "is a"
    "Nonmetals": "nonmetal",
    "Noble gases": "noble gas",
    "Alkali metals": "alkali metal",
    "Alkaline earth metals": "alkaline earth metal",
    "Metalloids": "metalloid",
    "Halogens": "halogen",
    "Poor metals": "post-transition metal",
    "Transition metals": "transition metal",
    "Lanthanides": "lanthanide",
    "Actinides": "actinide",
}
STRUCTURE_LABELS = {
    "BCC": "body-centred cubic",
    "CUB": "cubic",
    "DIA": "diamond cubic",
    "FCC": "face-centred cubic",
    "HEX": "hexagonal",
    "MCL": "monoclinic",
    "ORC": "orthorhombic",
    "RHL": "rhombohedral",
    "SC": "simple cubic",
    "TET": "tetragonal",
}
GOLDSCHMIDT_CLASSES = {  # label (mendeleev spells it "litophile") -> comment
    "atmophile": "Atmophile elements are mostly found in the atmosphere and hydrosphere.",
    "chalcophile": "Chalcophile elements combine readily with sulfur and concentrate in sulfide ores.",
    "lithophile": "Lithophile elements combine readily with oxygen and stay in the Earth's crust.",
    "siderophile": "Siderophile elements dissolve readily in iron and concentrate in the Earth's core.",
}
BLOCK_COMMENTS = "The {b}-block holds the elements whose outermost electrons fill {b} orbitals."


@dataclass
class Element:
    number: int
    symbol: str
    name: str
    group: int | None
    period: int
    block: str
    category: str
    weight: float
    configuration: str
    description: str
    discoverers: list[str] = field(default_factory=list)
    ancient: bool = False
    year: int | None = None
    places: list[str] = field(default_factory=list)
    producers: list[str] = field(default_factory=list)
    structure: str = ""
    goldschmidt: str = ""
    oxidation_states: list[int] = field(default_factory=list)


@dataclass
class Isotope:
    element: int
    mass_number: int
    abundance: float
    radioactive: bool


@dataclass
class Group:
    number: int
    roman: str  # the old CAS name, e.g. VIIIA
    family: str  # e.g. "Noble gases"; "" for most transition-metal groups


def present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and value != ""


def discoverers_of(text: str) -> list[str]:
    """mendeleev's free-text discoverer field -> cleaned, canonical names (see the module docstring)."""
    names = []
    for part in re.split(r"\s*[,;/]\s*|\s+and\s+", text):
        part = part.strip()
        if part and part not in NOT_A_DISCOVERER:
            # "G.T.Seaborg" and "G. T. Seaborg" are one spelling: a space after every initial.
            names.append(CANONICAL.get(part) or re.sub(r"\.(?=\w)", ". ", part))
    return [name for i, name in enumerate(names) if name not in names[:i]]


def producers_of(text: str) -> list[str]:
    """ "1) China  2) Russia  3) Germany (likely)" -> ["China", "Russia", "Germany"]."""
    names = [re.sub(r"\s*\(.*\)", "", part).strip() for part in re.split(r"\s*\d\)\s*", text)]
    return [PRODUCER_NAMES.get(name, name) for name in names if name]


def load() -> tuple[list[Element], list[Isotope], list[Group]]:
    from mendeleev.fetch import fetch_table

    table = fetch_table("elements")
    series = dict(zip(fetch_table("series")["id"], fetch_table("series")["name"], strict=True))
    main_states: dict[int, list[int]] = defaultdict(list)
    for row in fetch_table("oxidationstates").itertuples():
        if row.category == "main":
            main_states[int(row.atomic_number)].append(int(row.oxidation_state))

    elements = []
    for row in table.sort_values("atomic_number").itertuples():
        discoverers = discoverers_of(row.discoverers) if present(row.discoverers) else []
        elements.append(
            Element(
                number=int(row.atomic_number),
                symbol=row.symbol,
                name=row.name,
                group=int(row.group_id) if present(row.group_id) else None,
                period=int(row.period),
                block=row.block,
                category=CATEGORY_LABELS[series[row.series_id]],
                weight=float(row.atomic_weight),
                configuration=row.electronic_configuration,
                description=(row.description or "").strip() if present(row.description) else "",
                discoverers=discoverers,
                ancient=present(row.discoverers) and row.discoverers.startswith("Known to the ancients"),
                year=int(row.discovery_year) if present(row.discovery_year) else None,
                places=row.discovery_location.split("/") if present(row.discovery_location) else [],
                producers=producers_of(row.top_3_producers) if present(row.top_3_producers) else [],
                structure=STRUCTURE_LABELS[row.lattice_structure] if present(row.lattice_structure) else "",
                goldschmidt=goldschmidt
                if (goldschmidt := (row.goldschmidt_class or "").replace("lito", "litho")) in GOLDSCHMIDT_CLASSES
                else "",
                oxidation_states=sorted(main_states[int(row.atomic_number)]),
            )
        )

    isotopes = [
        Isotope(int(row.atomic_number), int(row.mass_number), float(row.abundance), bool(row.is_radioactive))
        for row in fetch_table("isotopes").itertuples()
        if present(row.abundance) and row.abundance > 0
    ]
    groups = [
        Group(int(row.group_id), row.symbol, (row.name or "").strip()) for row in fetch_table("groups").itertuples()
    ]
    return elements, sorted(isotopes, key=lambda i: (i.element, i.mass_number)), groups


def decimal(value: float, digits: int) -> str:
    """A Turtle xsd:decimal shorthand: a point is what makes it a decimal rather than an integer."""
    text = f"{value:.{digits}f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def signed(state: int) -> str:
    return f"+{state}" if state > 0 else str(state)


def oxidation_iri(state: int) -> str:
    return f"oxidation:{'plus' if state > 0 else 'minus' if state < 0 else ''}{abs(state)}"


def oxidation_comment(state: int) -> str:
    if state == 0:
        return "The oxidation state 0: an atom in its elemental form."
    electrons = f"{abs(state)} electron{'s' if abs(state) != 1 else ''}"
    return f"The oxidation state {signed(state)}: an atom that has {'lost' if state > 0 else 'gained'} {electrons}."


def ordinal(n: int) -> str:
    return {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth", 7: "seventh"}[n]


def names_text(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def element_comment(e: Element) -> str:
    article = "an" if e.category[0] in "aeiou" else "a"
    where = f"in group {e.group} and period {e.period}" if e.group else f"in period {e.period}"
    first = f"{e.name} ({e.symbol}, atomic number {e.number}) is {article} {e.category} {where} of the periodic table."
    return f"{first} {e.description}" if e.description else first


def render(elements: list[Element], isotopes: list[Isotope], groups: list[Group]) -> str:
    by_number = {e.number: e for e in elements}
    element_iri = {e.number: f"element:{slug(e.name)}" for e in elements}
    discovered: dict[str, list[Element]] = defaultdict(list)
    for e in elements:
        for name in e.discoverers:
            discovered[name].append(e)

    out = [f"@prefix {prefix}: <{iri}> .\n" for prefix, iri in PREFIXES.items()]
    out.append(
        "\n# The periodic table: elements, their groups, periods, blocks, categories, oxidation states,\n"
        "# crystal structures, Goldschmidt classes, discoverers, and natural isotopes.\n"
        "# Built by examples/build_elements_kg.py from the mendeleev package (MIT licence); do not edit by hand.\n"
    )
    out.append("\n# Vocabulary\n\n")
    for term, label, comment in VOCABULARY:
        forward, inverse = QUESTION_TEMPLATES.get(term, ("", ""))
        out.append(
            subject_block(
                term,
                [
                    ("rdfs:label", [literal(label, "en")]),
                    ("rdfs:comment", [literal(comment, "en")]),
                    ("kgpeft:questionTemplate", [literal(forward, "en")] if forward else []),
                    ("kgpeft:inverseQuestionTemplate", [literal(inverse, "en")] if inverse else []),
                ],
            )
        )

    out.append("# Elements\n\n")
    for e in elements:
        out.append(
            subject_block(
                element_iri[e.number],
                [
                    ("a", [":Element"]),
                    ("rdfs:label", [literal(e.name, "en")]),
                    ("skos:altLabel", [literal(alias, "en") for alias in ELEMENT_ALIASES.get(e.name, [])]),
                    ("rdfs:comment", [literal(element_comment(e), "en")]),
                    (":symbol", [literal(e.symbol)]),
                    (":atomicNumber", [str(e.number)]),
                    (":atomicWeight", [decimal(e.weight, 6)]),
                    (":electronConfiguration", [literal(e.configuration)]),
                    (":group", [f"group:{e.group}"] if e.group else []),
                    (":period", [f"period:{e.period}"]),
                    (":block", [f"block:{e.block}"]),
                    (":category", [f"category:{slug(e.category)}"]),
                    (":oxidationState", [oxidation_iri(state) for state in e.oxidation_states]),
                    (":crystalStructure", [f"structure:{slug(e.structure)}"] if e.structure else []),
                    (":goldschmidtClass", [f"class:{e.goldschmidt}"] if e.goldschmidt else []),
                    (":discoveredBy", [f"discoverer:{slug(name)}" for name in e.discoverers]),
                    (":discoveryYear", [str(e.year)] if e.year else []),
                    (":discoveredIn", [literal(place) for place in e.places]),
                    (":mainProducers", [literal(", ".join(e.producers))] if e.producers else []),
                    (":followedBy", [element_iri[e.number + 1]] if e.number + 1 in by_number else []),
                ],
            )
        )

    out.append("# Natural isotopes\n\n")
    for iso in isotopes:
        element = by_number[iso.element]
        name = f"{element.name.lower()}-{iso.mass_number}"
        kind = "radioactive" if iso.radioactive else "stable"
        comment = (
            f"{name[0].upper()}{name[1:]} is a {kind} isotope of {element.name.lower()} with mass number "
            f"{iso.mass_number}, making up {iso.abundance:g}% of natural {element.name.lower()}."
        )
        out.append(
            subject_block(
                f"isotope:{element.symbol}-{iso.mass_number}",
                [
                    ("a", [":Isotope"]),
                    ("rdfs:label", [literal(name, "en")]),
                    ("rdfs:comment", [literal(comment, "en")]),
                    (":massNumber", [str(iso.mass_number)]),
                    (":abundance", [decimal(iso.abundance, 6)]),
                    (":isotopeOf", [element_iri[iso.element]]),
                ],
            )
        )

    out.append("# Groups, periods, blocks and categories\n\n")
    for g in groups:
        family = f", the {g.family.lower()}," if g.family else ""
        out.append(
            subject_block(
                f"group:{g.number}",
                [
                    ("a", [":Group"]),
                    ("rdfs:label", [literal(f"group {g.number}", "en")]),
                    ("skos:altLabel", [literal(f"group {g.roman}", "en")]),
                    ("rdfs:comment", [literal(f"Group {g.number}{family} is a column of the periodic table.", "en")]),
                ],
            )
        )
    for period in sorted({e.period for e in elements}):
        comment = f"Period {period} is the {ordinal(period)} row of the periodic table."
        out.append(
            subject_block(
                f"period:{period}",
                [
                    ("a", [":Period"]),
                    ("rdfs:label", [literal(f"period {period}", "en")]),
                    ("rdfs:comment", [literal(comment, "en")]),
                ],
            )
        )
    for block in sorted({e.block for e in elements}):
        out.append(
            subject_block(
                f"block:{block}",
                [
                    ("a", [":Block"]),
                    ("rdfs:label", [literal(f"{block}-block", "en")]),
                    ("rdfs:comment", [literal(BLOCK_COMMENTS.format(b=block), "en")]),
                ],
            )
        )
    for plural, label in sorted(CATEGORY_LABELS.items(), key=lambda item: item[1]):
        members = [e.name for e in elements if e.category == label]
        comment = f"The {plural.lower()} are a category of {len(members)} elements, from {members[0]} to {members[-1]}."
        out.append(
            subject_block(
                f"category:{slug(label)}",
                [
                    ("a", [":Category"]),
                    ("rdfs:label", [literal(label, "en")]),
                    ("skos:altLabel", [literal(plural.lower(), "en")]),
                    ("rdfs:comment", [literal(comment, "en")]),
                ],
            )
        )

    out.append("# Oxidation states, crystal structures and Goldschmidt classes\n\n")
    for state in sorted({s for e in elements for s in e.oxidation_states}):
        out.append(
            subject_block(
                oxidation_iri(state),
                [
                    ("a", [":OxidationState"]),
                    ("rdfs:label", [literal(f"oxidation state {signed(state)}", "en")]),
                    ("rdfs:comment", [literal(oxidation_comment(state), "en")]),
                ],
            )
        )
    for label in sorted(set(STRUCTURE_LABELS.values())):
        out.append(
            subject_block(
                f"structure:{slug(label)}",
                [
                    ("a", [":CrystalStructure"]),
                    ("rdfs:label", [literal(label, "en")]),
                    ("rdfs:comment", [literal(f"The {label} crystal structure.", "en")]),
                ],
            )
        )
    for label, comment in sorted(GOLDSCHMIDT_CLASSES.items()):
        out.append(
            subject_block(
                f"class:{label}",
                [
                    ("a", [":GoldschmidtClass"]),
                    ("rdfs:label", [literal(label, "en")]),
                    ("rdfs:comment", [literal(comment, "en")]),
                ],
            )
        )

    out.append("# Discoverers\n\n")
    for name in sorted(discovered):
        found = discovered[name]
        comment = f"{name} discovered {names_text([e.name.lower() for e in found])}."
        out.append(
            subject_block(
                f"discoverer:{slug(name)}",
                [
                    ("a", [":Laboratory" if name in LABORATORIES else ":Person"]),
                    ("rdfs:label", [literal(name, "en")]),
                    ("rdfs:comment", [literal(comment, "en")]),
                ],
            )
        )
    return "".join(out)


def main() -> None:
    write_graph(__doc__.split("\n")[0], "kg/elements.ttl", lambda: render(*load()))


if __name__ == "__main__":
    main()
