"""Image paths: keys with forward slashes, resolution under the root, escapes refused."""
from __future__ import annotations

from pathlib import Path

import pytest

from samplegen.datasets.paths import image_key, image_size_under, resolve_image
from samplegen.errors import InputError


def test_key_turns_backslashes_into_slashes() -> None:
    assert image_key("lfw_5590\\Aaron_Eckhart_0001.jpg") == "lfw_5590/Aaron_Eckhart_0001.jpg"
    assert image_key("a/b.jpg") == "a/b.jpg"


def test_resolve_under_root(tmp_path: Path) -> None:
    assert resolve_image(tmp_path, "a\\b.jpg", Path("ann.txt"), 3) == tmp_path / "a" / "b.jpg"
    assert resolve_image(tmp_path, "a/./c/../b.jpg", Path("ann.txt"), 3) == tmp_path / "a" / "b.jpg"


def test_default_extension_only_when_missing(tmp_path: Path) -> None:
    assert resolve_image(tmp_path, "a/b", Path("x"), 1, ".jpg") == tmp_path / "a" / "b.jpg"
    assert resolve_image(tmp_path, "a/b.png", Path("x"), 1, ".jpg") == tmp_path / "a" / "b.png"


@pytest.mark.parametrize("written", ["../secret.jpg", "a/../../secret.jpg", "..\\secret.jpg",
                                     "/etc/passwd", "\\etc\\passwd", "C:\\x.jpg", ".."])
def test_escape_is_refused_with_file_and_line(tmp_path: Path, written: str) -> None:
    with pytest.raises(InputError) as info:
        resolve_image(tmp_path, written, Path("ann.txt"), 7)
    assert info.value.line == 7 and str(info.value).startswith("ann.txt:7: ")
    assert "escapes the images root" in info.value.message


def test_size_under_without_root_is_unknown() -> None:
    assert image_size_under(None, "../x.jpg", Path("a"), 1) == (None, None)


def test_size_under_checks_escape_even_for_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        image_size_under(tmp_path, "../x.jpg", Path("a"), 1)
    assert image_size_under(tmp_path, "x.jpg", Path("a"), 1) == (None, None)
