"""``kgpeft.training.distributed`` across two real processes (gloo on CPU): what runs once, first, and failures."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest
import torch.distributed as dist

from kgpeft.errors import DataError
from kgpeft.training.distributed import (
    MainProcessError,
    is_main_process,
    leave_process_group,
    main_first,
    on_main,
    world_size,
)

pytestmark = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(), reason="torch.distributed with gloo is unavailable"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rank(rank: int, port: int, folder: str) -> None:
    """One rank: the helpers in order, each rank's observations written to rank-N.json."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank)
    )
    from accelerate import PartialState

    state = PartialState(cpu=True)
    log = Path(folder) / "order.txt"
    seen: dict = {"main": is_main_process(), "size": world_size()}

    def build() -> str:
        if rank == 0:
            time.sleep(0.5)  # a slow main process: the other rank must still come after it
        with log.open("a") as handle:
            handle.write(f"{rank}\n")
        return f"built by {rank}"

    seen["first"] = main_first(build, state)
    seen["once"] = on_main(lambda: log.open("a").write("once\n"), state)

    def fail() -> None:
        raise DataError("questions.jsonl:3: no question; add one")

    try:
        on_main(fail, state)
    except MainProcessError as err:
        seen["failure"] = ["MainProcessError", str(err), err.exit_code]
    except DataError as err:
        seen["failure"] = ["DataError", str(err), err.exit_code]
    (Path(folder) / f"rank-{rank}.json").write_text(json.dumps(seen))
    leave_process_group()  # as `kgpeft fit` does: a group left to exit can abort the process


def test_main_runs_first_once_and_its_failure_stops_the_others_with_its_exit_code(tmp_path):
    from torch.multiprocessing import start_processes

    start_processes(_rank, args=(free_port(), str(tmp_path)), nprocs=2, start_method="spawn")
    main, other = (json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in range(2))
    order = (tmp_path / "order.txt").read_text().split()
    assert [line for line in order if line != "once"] == ["0", "1"], "the main process first, then the other"
    assert order.count("once") == 1 and order.index("once") > order.index("0")
    assert main["main"] and not other["main"] and main["size"] == other["size"] == 2
    assert main["first"] == "built by 0" and other["first"] == "built by 1"
    assert other["once"] is None
    message = "questions.jsonl:3: no question; add one"
    assert main["failure"] == ["DataError", message, 2]
    assert other["failure"] == ["MainProcessError", message, 2]


def test_in_one_process_the_work_just_runs():
    assert world_size() == 1 and is_main_process()
    assert main_first(lambda: 3, None) == 3 and on_main(lambda: 4, None) == 4
