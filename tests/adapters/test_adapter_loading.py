from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from kgpeft.adapters.loading import load_adapters
from kgpeft.errors import AdapterError


def test_each_adapter_is_named_after_its_domain_and_duplicates_get_a_suffix(alpha: Path, beta: Path):
    model = load_adapters(None, [alpha, beta, alpha])
    assert list(model.peft_config) == ["alpha", "beta", "alpha_2"]
    assert model.active_adapter == "alpha"


def test_another_base_model_is_refused_with_the_reason(alpha: Path, other_checkpoint: Path):
    with pytest.raises(AdapterError, match=r"trained on base model .* not on") as err:
        load_adapters(str(other_checkpoint), [alpha])
    assert "\n" not in str(err.value)


def test_changed_kg_warns_or_fails_when_strict(
    make_adapter: Callable[..., Path], write_kg: Callable[..., Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    kg = write_kg(tmp_path / "kg.ttl")
    adapter = make_adapter(tmp_path / "a", domain="a", kg=kg)
    write_kg(kg, extra=':Spain <http://www.w3.org/2000/01/rdf-schema#label> "Spain" .\n')
    with caplog.at_level(logging.WARNING, logger="kgpeft.adapters.loading"):
        load_adapters(None, [adapter])
    assert "changed since training" in caplog.text
    with pytest.raises(AdapterError, match="changed since training"):
        load_adapters(None, [adapter], strict_kg=True)
    kg.unlink()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="kgpeft.adapters.loading"):
        load_adapters(None, [adapter])
    assert "is missing" in caplog.text
