"""One adapter from several: PEFT's ``add_weighted_adapter``, after checking the adapters fit together.

The method names are PEFT's ``combination_type``s. What each does, in short: ``cat``
concatenates the LoRA factors, so the result is exactly the weighted sum of the adapters'
weight changes (rank = sum of ranks); ``svd`` computes that sum and truncates it back to
the largest rank; ``linear`` mixes the A and B factors separately (cheap, approximate,
equal ranks needed); ``ties`` / ``dare_*`` / ``magnitude_prune`` prune and resolve sign
conflicts first (``density`` is the fraction kept), with ``*_svd`` variants working on
the full weight changes. PEFT's own checks come late and read as internals, so every
incompatibility is refused here first, with the reason.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass

from kgpeft.adapters.loading import adapter_names, adapter_tokenizer, load_adapters
from kgpeft.adapters.record import RECORD_FILE, AdapterRecord
from kgpeft.adapters.registry import AdapterInfo, read_adapter
from kgpeft.errors import AdapterError
from kgpeft.io import atomic_dir, check_output_dir
from kgpeft.types import StrPath


@dataclass(frozen=True)
class Method:
    equal_ranks: bool  # PEFT mixes the factors entry by entry, so their shapes must agree
    uses_density: bool


METHODS: dict[str, Method] = {
    "linear": Method(equal_ranks=True, uses_density=False),
    "cat": Method(equal_ranks=False, uses_density=False),
    "svd": Method(equal_ranks=False, uses_density=False),
    "ties": Method(equal_ranks=True, uses_density=True),
    "dare_ties": Method(equal_ranks=True, uses_density=True),
    "dare_linear": Method(equal_ranks=True, uses_density=True),
    "magnitude_prune": Method(equal_ranks=True, uses_density=True),
    "ties_svd": Method(equal_ranks=False, uses_density=True),
    "dare_ties_svd": Method(equal_ranks=False, uses_density=True),
    "dare_linear_svd": Method(equal_ranks=False, uses_density=True),
    "magnitude_prune_svd": Method(equal_ranks=False, uses_density=True),
}
DEFAULT_DENSITY = 0.5


def check_combinable(infos: Sequence[AdapterInfo], method: str, weights: Sequence[float]) -> None:
    """Raise :class:`AdapterError` saying why these adapters cannot be combined with ``method``."""
    if method not in METHODS:
        raise AdapterError(f"unknown combination method '{method}'; choose one of {', '.join(METHODS)}")
    if len(infos) < 2:
        raise AdapterError("combining needs at least two adapters")
    if len(weights) != len(infos):
        raise AdapterError(f"{len(weights)} weights for {len(infos)} adapters; give one weight per adapter")
    first = infos[0]
    for info in infos[1:]:
        if info.record.base_model_fingerprint != first.record.base_model_fingerprint:
            raise AdapterError(
                f"{info.path} was trained on base model '{info.record.base_model}' and {first.path} on "
                f"'{first.record.base_model}' (different architecture or sizes): they cannot be combined"
            )
        # A module that only some adapters change would get those adapters' change alone,
        # re-weighted as if it were a share of a mix: refuse rather than guess.
        if info.target_modules != first.target_modules:
            raise AdapterError(
                f"{info.path} and {first.path} adapt different modules "
                f"({_modules_text(info)} vs {_modules_text(first)}): they cannot be combined"
            )
        if METHODS[method].equal_ranks and info.rank != first.rank:
            raise AdapterError(
                f"method '{method}' needs equal LoRA ranks, but {info.path} has r={info.rank} and {first.path} "
                f"r={first.rank}; use --method cat or svd, which accept different ranks"
            )


def _modules_text(info: AdapterInfo) -> str:
    modules = info.target_modules
    return modules if isinstance(modules, str) else ", ".join(modules)


def _combined_record(
    infos: Sequence[AdapterInfo], domain: str, method: str, weights: Sequence[float], density: float | None, rank: int
) -> AdapterRecord:
    """The record of the combination: the shared base, the method, and every source's KGs."""
    kgs: list[tuple[str, str]] = []
    for info in infos:
        kgs.extend(kg for kg in info.record.kgs() if kg not in kgs)
    first = infos[0].record
    return AdapterRecord(
        domain=domain,
        base_model=first.base_model,
        base_model_fingerprint=first.base_model_fingerprint,
        base_weights_fingerprint=first.base_weights_fingerprint,
        load_in_4bit=first.load_in_4bit,
        kg_path="",
        kg_sha256="",
        # The model section `kgpeft fit` writes (ModelConfig's); add_weighted_adapter sets alpha = r (scale 1).
        config={
            "model": {
                **first.config.get("model", {}),
                "lora_r": rank,
                "lora_alpha": rank,
                "target_modules": infos[0].target_modules,
            }
        },
        combination={
            "method": method,
            "weights": list(weights),
            "density": density,
            "sources": [{"domain": info.record.domain, "path": str(info.path)} for info in infos],
            "kgs": [{"path": path, "sha256": sha256} for path, sha256 in kgs],
        },
    )


def combine_adapters(
    adapter_dirs: Sequence[StrPath],
    output: StrPath,
    *,
    method: str = "cat",
    weights: Sequence[float] | None = None,
    density: float | None = None,
    domain: str | None = None,
    overwrite: bool = False,
) -> AdapterRecord:
    """Combine adapters into a new adapter folder at ``output`` (written atomically); return its record.

    ``weights`` default to 1.0 each: every domain's change at full strength, which with
    ``cat`` is exactly what all the adapters active at once do. ``density`` (methods that
    prune) defaults to 0.5. ``domain`` defaults to the sources' domains joined by ``+``.
    An existing ``output`` is replaced only if it is an adapter folder (``kgpeft.json``)
    and ``overwrite`` is set; anything else there is refused before any work.

    >>> combine_adapters(["adapters/countries", "adapters/elements"], "adapters/both", method="cat")  # doctest: +SKIP
    AdapterRecord(domain='countries+elements', ...)
    """
    infos = [read_adapter(folder) for folder in adapter_dirs]
    check_output_dir(output, marker=RECORD_FILE, what="adapter folder", overwrite=overwrite, inputs=adapter_dirs)
    weights = [1.0] * len(infos) if weights is None else [float(w) for w in weights]
    check_combinable(infos, method, weights)
    if METHODS[method].uses_density:
        density = DEFAULT_DENSITY if density is None else density
        if not 0.0 < density <= 1.0:
            raise AdapterError(f"density must be in (0, 1], got {density}")
    elif density is not None:
        raise AdapterError(f"method '{method}' does not prune; --density applies to ties, dare_* and magnitude_prune")

    # Only the LoRA factors are combined: a full-precision base is enough and exact.
    model = load_adapters(None, [info.path for info in infos], load_in_4bit=False)
    names = adapter_names(infos)
    combined = "combined"
    while combined in names:
        combined = f"_{combined}"
    model.add_weighted_adapter(names, weights, combined, combination_type=method, density=density)
    record = _combined_record(infos, domain or "+".join(names), method, weights, density, model.peft_config[combined].r)
    with atomic_dir(output) as tmp:
        # PEFT saves a non-default adapter into a subfolder named after it; lift its files up.
        model.save_pretrained(str(tmp), selected_adapters=[combined])
        for path in (tmp / combined).iterdir():
            path.rename(tmp / path.name)
        shutil.rmtree(tmp / combined)
        adapter_tokenizer(infos[0]).save_pretrained(str(tmp))
        record.save(tmp)
    return record
