"""`kgpeft merge`: merge adapters into a full model for deployment.

kgpeft merge --adapter A [--adapter B ...] -o DIR [--dtype float32] [--into dequantized|original] [--overwrite]
"""

from __future__ import annotations

import argparse

from kgpeft.cli.options import add_overwrite_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "merge",
        help="Merge adapters into a full model for deployment.",
        description=(
            "Merge adapters into their base model and write a full model folder that plain transformers loads "
            "(no peft, no bitsandbytes). Reports the largest logit difference against the unmerged adapters."
        ),
    )
    parser.add_argument(
        "--adapter", action="append", required=True, help="adapter folder; repeat to merge several (summed)"
    )
    parser.add_argument("-o", "--output", required=True, help="folder of the merged model")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"], help="saved dtype")
    parser.add_argument(
        "--into",
        default="dequantized",
        choices=["dequantized", "original"],
        help="for adapters trained on a 4-bit base: merge into the dequantised nf4 weights they were trained "
        "against (default) or into the original-precision weights",
    )
    parser.add_argument("--base-model", help="base model to merge into (default: the one the adapters record)")
    add_overwrite_argument(parser, "merged model written by kgpeft")
    parser.set_defaults(func=run, command="merge")


def run(args: argparse.Namespace) -> int:
    from kgpeft.adapters.merge import merge_adapters

    result = merge_adapters(
        args.adapter,
        args.output,
        dtype=args.dtype,
        into=args.into,
        base_model=args.base_model,
        overwrite=args.overwrite,
    )
    base = "the dequantised 4-bit base" if result.dequantized else "the original-precision base"
    print(
        f"wrote {result.path}: {len(args.adapter)} adapter(s) merged into {base}, saved as {result.dtype}; "
        f"max |logit diff| vs the unmerged adapters over {result.num_examples} sample prompts: {result.max_logit_diff:.3g}"
    )
    return 0
