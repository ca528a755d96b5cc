"""Smoke test of the offline evaluation on a tiny generated dataset (slow: runs ALS and
embeds ~60 item texts)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_recommend_eval_runs(capsys: pytest.CaptureFixture[str]) -> None:
    path = Path(__file__).resolve().parents[2] / "bench" / "recommend_eval.py"
    spec = importlib.util.spec_from_file_location("recommend_eval", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    module.main(["--users", "80", "--items", "60"])
    out = capsys.readouterr().out
    assert "recall@10" in out and "blend (served)" in out and "popularity" in out
