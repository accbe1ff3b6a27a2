"""Tiny offline models for tests and benchmarks (as ``transformers.testing_utils`` does).

Everything here is built locally from a config and a few sentences: no hub, no network,
seconds on a CPU. The tokenizer is a byte-level BPE with a ChatML chat template, like
the default base model's, so prompt rendering and masking are exercised for real.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kgpeft.types import StrPath

CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# Enough text for the BPE to learn merges for the words kgpeft's prompts and paths use.
_CORPUS = [
    "Germany -> located in -> Western Europe -> located in -> Europe",
    "Europe <- located in <- Western Europe <- located in <- France",
    "France -> capital -> Paris. Spain -> neighbor of -> Portugal. Italy -> capital -> Rome.",
    "<path> Japan -> located in -> Eastern Asia </path> Answer: Eastern Asia",
    "You answer questions with reasoning paths in a knowledge graph. Question: Which region is Germany in?",
    "What is the capital of France? The capital of France is Paris. <ent> France </ent> </ent_desc>",
    "The quick brown fox jumps over the lazy dog. 0123456789 population area country city region",
]


def build_tiny_tokenizer(vocab_size: int = 512):
    """A byte-level BPE ``PreTrainedTokenizerFast`` with ChatML special tokens and template.

    >>> tok = build_tiny_tokenizer()
    >>> tok.decode(tok("Paris")["input_ids"])
    'Paris'
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(_CORPUS * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def build_tiny_model(vocab_size: int, *, hidden_size: int = 64, num_layers: int = 2, seed: int = 0):
    """A randomly initialised ``LlamaForCausalLM`` small enough to train in seconds on a CPU."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=False,
    )
    return LlamaForCausalLM(config)


def save_tiny_checkpoint(path: StrPath, *, hidden_size: int = 64, num_layers: int = 2) -> Path:
    """Write a tiny model + tokenizer folder that loads like any local checkpoint."""
    path = Path(path)
    tokenizer = build_tiny_tokenizer()
    model = build_tiny_model(len(tokenizer), hidden_size=hidden_size, num_layers=num_layers)
    model.config.eos_token_id = tokenizer.eos_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.config.bos_token_id = tokenizer.bos_token_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def oxigraph_binary() -> str | None:
    """The ``oxigraph`` server command (PyPI ``oxigraph``, kgpeft's ``dev`` extra) beside this Python, else on PATH."""
    import shutil
    import sys

    beside = Path(sys.executable).with_name("oxigraph")
    return str(beside) if beside.is_file() else shutil.which("oxigraph")


@contextmanager
def oxigraph_server(rdf_file: StrPath, folder: StrPath, *, startup_s: float = 30.0) -> Iterator[str]:
    """An Oxigraph SPARQL server on a free loopback port holding ``rdf_file``; yields its query URL.

    ``oxigraph load`` fills a store in ``folder``, ``oxigraph serve`` serves it read-only to
    kgpeft (which only sends SELECT queries); the server is stopped when the block ends.
    """
    import socket
    import subprocess
    import time
    import urllib.request

    binary = oxigraph_binary()
    if binary is None:
        raise FileNotFoundError("the oxigraph server is not installed: pip install 'oxigraph>=0.5,<0.6'")
    location = Path(folder) / "store"
    subprocess.run(
        [binary, "load", "--location", str(location), "--file", str(rdf_file)], check=True, capture_output=True
    )
    with socket.socket() as probe:  # a port the system just gave out is free for the server to take
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [binary, "serve-read-only", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/query"
    try:
        deadline = time.monotonic() + startup_s
        while True:  # ready when it answers a query; bounded, and a server that died is reported at once
            try:
                with urllib.request.urlopen(f"{url}?query=ASK%7B%7D", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"oxigraph did not start on port {port}") from None
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
