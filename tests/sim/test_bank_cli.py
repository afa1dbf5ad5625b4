"""``fanzha sim banks`` starts the simulator as its own process (the product never imports ``sim``)."""

from __future__ import annotations

import sys
from pathlib import Path

from simbanks import free_port, running, stop_payment

from fanzha.cli import sim_banks_argv


def test_fanzha_sim_banks_serves_the_banks(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "fanzha.cli", "sim", "banks", "--port", str(port), "--keys-dir",
               str(tmp_path), "--seed", "3", "--latency-ms", "0"]
    with running(tmp_path, port=port, command=command) as sim:
        health = sim.http.get("/healthz").json()
        assert health["banks"] > 200 and health["accounts"] > 0 and health["center_keyring"] == "loaded"
        assert sim.send(stop_payment("6228480402564890018", "1000")).status == "held"
    assert (tmp_path / "banks.keyring.json").exists()


def test_sim_banks_argv_runs_the_module_not_an_import() -> None:
    argv = sim_banks_argv(port=9, keys_dir=Path("k"), seed=1, state=Path("s.json"), latency_ms=200)
    assert argv[:3] == [sys.executable, "-m", "sim.banks"]
    assert argv[3:] == ["--host", "127.0.0.1", "--port", "9", "--latency-ms", "200", "--keys-dir", "k",
                        "--seed", "1", "--state", "s.json"]
