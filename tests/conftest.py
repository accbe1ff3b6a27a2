"""Shared fixtures: a tiny Llama and tokenizer built locally, and an offline, private cache.

Every test runs with ``HF_HUB_OFFLINE=1``: nothing may come from a hub.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory):
    """Caches (KG index, datasets, converted models) go to a per-session folder unless the user set one."""
    if "KGPEFT_CACHE" not in os.environ:
        os.environ["KGPEFT_CACHE"] = str(tmp_path_factory.mktemp("kgpeft-cache"))
    import torch

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory):
    """A folder with a tiny random LlamaForCausalLM and a ChatML BPE tokenizer, loadable by path."""
    from kgpeft.testing import save_tiny_checkpoint

    return save_tiny_checkpoint(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_checkpoint):
    from kgpeft.modeling import load_tokenizer

    return load_tokenizer(str(tiny_checkpoint))


@pytest.fixture(scope="session")
def sparql_store(tmp_path_factory: pytest.TempPathFactory):
    """``sparql_store(rdf_file)`` -> the query URL of an Oxigraph server holding that file (one per file, per session).

    Skipped, saying why, only where the ``oxigraph`` server (kgpeft's ``dev`` extra) is not installed.
    """
    from contextlib import ExitStack

    from kgpeft.testing import oxigraph_binary, oxigraph_server

    if oxigraph_binary() is None:
        pytest.skip("the oxigraph server is not installed (pip install 'oxigraph>=0.5,<0.6', in kgpeft's dev extra)")
    servers: dict[str, str] = {}
    with ExitStack() as stack:

        def serve(rdf_file) -> str:
            key = str(rdf_file)
            if key not in servers:
                servers[key] = stack.enter_context(oxigraph_server(rdf_file, tmp_path_factory.mktemp("oxigraph")))
            return servers[key]

        yield serve
