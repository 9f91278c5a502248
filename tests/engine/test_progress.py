"""Progress lines when stderr is not a terminal: interval, rate from the first update, ETA, close."""
from __future__ import annotations

import io

import pytest

from samplegen.engine.progress import LineProgress, progress_bar, progress_interval
from samplegen.errors import ConfigError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_line_per_interval_with_rate_and_eta() -> None:
    clock, out = Clock(), io.StringIO()
    bar = LineProgress(1000, "mtcnn", 30.0, out, clock)
    bar.update(200)  # resumed shards: the starting point of the rate
    clock.now += 10
    bar.update(100)  # 10 s < 30 s: no line yet
    assert out.getvalue() == ""
    clock.now += 30
    bar.update(100)  # 200 images in 40 s = 5/s; 600 left = 2 min
    assert out.getvalue() == "samplegen mtcnn: 400 of 1,000 images (40 %), 5.0 images/s, ETA 0:02:00\n"
    clock.now += 5
    bar.update(100)
    assert out.getvalue().count("\n") == 1
    bar.close()
    assert out.getvalue().splitlines()[-1].startswith("samplegen mtcnn: 500 of 1,000 images (50 %)")


def test_a_short_run_writes_nothing_even_at_close() -> None:
    clock, out = Clock(), io.StringIO()
    bar = LineProgress(10, "anchors", 30.0, out, clock)
    bar.update(0)
    clock.now += 1
    bar.update(10)
    bar.close()
    assert out.getvalue() == ""


def test_interval_zero_writes_at_every_update_after_the_first() -> None:
    clock, out = Clock(), io.StringIO()
    bar = LineProgress(3, "anchors", 0.0, out, clock)
    for _ in range(3):
        bar.update(1)
    assert out.getvalue().count("\n") == 2 and "3 of 3 images (100 %)" in out.getvalue()


def test_interval_from_the_environment() -> None:
    assert progress_interval({}) == 30.0
    assert progress_interval({"SAMPLEGEN_PROGRESS_SECONDS": "2.5"}) == 2.5
    with pytest.raises(ConfigError, match="SAMPLEGEN_PROGRESS_SECONDS"):
        progress_interval({"SAMPLEGEN_PROGRESS_SECONDS": "soon"})


def test_disabled_or_a_pipe(capsys) -> None:
    assert isinstance(progress_bar(5, "x", enabled=True), LineProgress)  # pytest's stderr is no terminal
    quiet = progress_bar(5, "x", enabled=False)
    quiet.update(5)
    quiet.close()
    assert capsys.readouterr().err == ""
