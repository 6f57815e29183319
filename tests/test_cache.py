"""tests/cache.py: session fixtures built once per content hash of their generators, renamed into place whole."""

import pytest

from tests.cache import ROOT, cached_folder, content_hash, linked_copy


def test_built_once_reused_and_rebuilt_when_a_generator_changes(tmp_path):
    gen = ROOT / "tests" / "cache.py"
    calls = []

    def build(folder):
        calls.append(folder)
        (folder / "w.bin").write_bytes(b"x" * 10)

    a = cached_folder("w", [gen], build, cache=tmp_path)
    b = cached_folder("w", [gen], build, cache=tmp_path)
    assert a == b and len(calls) == 1 and (a / "w.bin").read_bytes() == b"x" * 10
    c = cached_folder("w", [gen], build, extra="torch 9", cache=tmp_path)
    assert c != a and len(calls) == 2
    assert content_hash([gen]) != content_hash([gen], "other")


def test_an_interrupted_build_leaves_nothing_behind(tmp_path):
    def broken(folder):
        (folder / "half.bin").write_bytes(b"x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cached_folder("w", [ROOT / "tests" / "cache.py"], broken, cache=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_linked_copy_takes_new_files_without_touching_the_cache(tmp_path):
    src = cached_folder("w", [ROOT / "tests" / "cache.py"], lambda f: (f / "a.pt").write_bytes(b"abc"),
                        cache=tmp_path / "cache")
    session = linked_copy(src, tmp_path / "session")
    (session / "a.pt.ready").write_bytes(b"copy")
    (session / "b.pt").write_bytes(b"new")
    assert sorted(p.name for p in src.iterdir()) == [".complete", "a.pt"]
    assert (session / "a.pt").read_bytes() == b"abc"
