"""The local development signing key: created once, whoever of many processes starts first."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from crm_common.auth import load_or_create_dev_secret


def _load(path: str, results: multiprocessing.Queue[str]) -> None:
    results.put(load_or_create_dev_secret(Path(path)))


def test_processes_starting_together_share_one_key(tmp_path: Path) -> None:
    path = tmp_path / "dev-jwt-secret"
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[str] = context.Queue()
    workers = [context.Process(target=_load, args=(str(path), results)) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0] * len(workers)
    keys = {results.get(timeout=10) for _ in workers}
    assert keys == {path.read_text().strip()}
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["dev-jwt-secret"]  # no temporary left
