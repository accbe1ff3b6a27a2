"""Build ``kg/isles.ttl``: an invented archipelago whose facts no model was pre-trained on.

The shipped countries and elements graphs are about things a pre-trained model already
half-knows, so they cannot show whether knowledge infilling puts facts *into* a model.
This graph is generated, seeded, from syllables: seas, isles, towns, guilds, crafts,
people and ships with pronounceable invented names, linked by nine relations (lies in,
located on, based in, born in, member of, practises, mentor of, built in, captain of),
with English labels, aliases, one-sentence descriptions (rdfs:comment) that state some of
an entity's facts and leave the others to the graph, and a few dozen *namesakes*: people
who share a name (told apart by their facts only), for entity disambiguation.

Names are made of syllables and checked against each other (no name is used twice, except
the namesakes on purpose); any resemblance to a real place or person is chance. The output
depends on nothing but the seed, so rebuilding gives a byte-identical file. No package is
needed beyond kgpeft's own (pyoxigraph checks the output parses).

Run from the repository root::

    python examples/build_isles_kg.py            # writes kg/isles.ttl
    python examples/build_isles_kg.py -o out.ttl
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from turtle_writer import literal, subject_block, write_graph

BASE = "http://kgpeft.dev/isles/"
PREFIXES = {
    "": BASE,
    "e": f"{BASE}entity/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
}
SEED = 19
COUNTS = {"sea": 3, "isle": 10, "town": 48, "guild": 16, "craft": 12, "person": 150, "ship": 40}
NAMESAKE_GROUPS = 40  # names carried by two people (three in every fourth group)
# (predicate, label): the vocabulary, labelled in the file so the graph describes itself.
RELATIONS = (
    (":liesIn", "lies in"),
    (":locatedOn", "located on"),
    (":basedIn", "based in"),
    (":bornIn", "born in"),
    (":memberOf", "member of"),
    (":practises", "practises"),
    (":mentorOf", "mentor of"),
    (":builtIn", "built in"),
    (":captainOf", "captain of"),
)
CLASSES = (
    (":Sea", "sea"),
    (":Isle", "isle"),
    (":Town", "town"),
    (":Guild", "guild"),
    (":Craft", "craft"),
    (":Person", "person"),
    (":Ship", "ship"),
)
_ONSETS = ("b", "br", "d", "dr", "f", "g", "k", "kel", "l", "m", "n", "p", "r", "s", "sk", "t", "th", "v", "z", "")
_VOWELS = ("a", "e", "i", "o", "u", "ae", "ei", "ou")
_CODAS = ("", "n", "r", "l", "s", "th", "m", "sk", "nd")


@dataclass
class Entity:
    kind: str
    iri: str
    name: str
    edges: dict[str, list[str]] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    comment: str = ""


def _word(rng: random.Random, syllables: int) -> str:
    parts = [rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables)]
    return ("".join(parts) + rng.choice(_CODAS)).capitalize()


class _Names:
    """Unique invented words: a name is never given twice (namesakes are made on purpose, elsewhere)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def new(self, syllables: tuple[int, int] = (2, 3), pattern: str = "{}") -> str:
        while True:
            word = _word(self.rng, self.rng.randint(*syllables))
            name = pattern.format(word)
            # Five letters at least: short syllable strings are too often real words ("Moth", "Tour").
            if name.casefold() not in self.used and len(word) >= 5:
                self.used.add(name.casefold())
                return name


def build(seed: int = SEED) -> list[Entity]:
    """Every entity with its edges, aliases and description, in a fixed order."""
    rng = random.Random(seed)
    names = _Names(rng)
    made: dict[str, list[Entity]] = {}

    def make(kind: str, name: str) -> Entity:
        entity = Entity(kind, f"e:{kind}_{len(made.setdefault(kind, [])):03d}", name)
        made[kind].append(entity)
        return entity

    for _ in range(COUNTS["sea"]):
        sea = make("sea", names.new(pattern="{} Sea"))
        sea.comment = f"The {sea.name} is a sea of the archipelago."
    for _ in range(COUNTS["isle"]):
        isle = make("isle", names.new())
        sea = rng.choice(made["sea"])
        isle.edges[":liesIn"] = [sea.iri]
        isle.aliases = [f"Isle of {isle.name}"]
        isle.comment = f"{isle.name} is an isle in the {sea.name}."
    for _ in range(COUNTS["town"]):
        town = make("town", names.new())
        isle = rng.choice(made["isle"])
        town.edges[":locatedOn"] = [isle.iri]
        town.comment = f"{town.name} is a town on {isle.name}."
    for _ in range(COUNTS["craft"]):
        craft = make("craft", names.new((2, 2), "{}work"))
        craft.comment = f"{craft.name} is a craft of the archipelago."
    for _ in range(COUNTS["guild"]):
        guild = make("guild", names.new((1, 2), "{} Guild"))
        town = rng.choice(made["town"])
        guild.edges[":basedIn"] = [town.iri]
        guild.comment = f"The {guild.name} is a guild based in {town.name}."
    # Namesakes: a group's people share a full name and differ in everything else.
    extra = [1 if group % 4 else 2 for group in range(NAMESAKE_GROUPS)]
    person_names = [f"{names.new((1, 2))} {names.new((2, 2))}" for _ in range(COUNTS["person"] - sum(extra))]
    for group, copies in enumerate(extra):
        person_names += [person_names[group]] * copies
    for name in person_names:
        person = make("person", name)
        town, guild, craft = rng.choice(made["town"]), rng.choice(made["guild"]), rng.choice(made["craft"])
        person.edges[":bornIn"] = [town.iri]
        person.edges[":memberOf"] = [guild.iri]
        person.edges[":practises"] = [craft.iri]
        first, last = name.split()
        person.aliases = [f"{first[0]}. {last}"]
        # The description states craft and birthplace; guild, pupils and ships are left to the graph.
        person.comment = f"{name} is a {craft.name.lower()}er born in {town.name}."
    people = made["person"]
    for person in people:
        if rng.random() < 0.6:
            pupil = rng.choice([p for p in people if p is not person and p.name != person.name])
            person.edges.setdefault(":mentorOf", []).append(pupil.iri)
    for _ in range(COUNTS["ship"]):
        ship = make("ship", names.new((2, 3), "The {}"))
        town = rng.choice(made["town"])
        ship.edges[":builtIn"] = [town.iri]
        ship.comment = f"{ship.name} is a ship built in {town.name}."
        captain = rng.choice(people)
        captain.edges.setdefault(":captainOf", []).append(ship.iri)
    return [e for kind, _ in CLASSES for e in made.get(kind[1:].lower(), [])]


def render(entities: list[Entity]) -> str:
    out = [f"@prefix {p}: <{iri}> .\n" for p, iri in PREFIXES.items()]
    out.append(f"\n# Generated by examples/build_isles_kg.py (seed {SEED}): invented names, invented facts.\n\n")
    for term, label in CLASSES + RELATIONS:
        out.append(subject_block(term, [("rdfs:label", [literal(label, "en")])]))
    for entity in entities:
        pairs = [
            ("a", [f":{entity.kind.capitalize()}"]),
            ("rdfs:label", [literal(entity.name, "en")]),
            ("skos:altLabel", [literal(a, "en") for a in entity.aliases]),
            ("rdfs:comment", [literal(entity.comment, "en")]),
        ]
        pairs += [
            (predicate, sorted(entity.edges[predicate])) for predicate, _ in RELATIONS if predicate in entity.edges
        ]
        out.append(subject_block(entity.iri, pairs))
    return "".join(out)


def main() -> None:
    write_graph(__doc__.split("\n")[0], "kg/isles.ttl", lambda: render(build()))


if __name__ == "__main__":
    main()
