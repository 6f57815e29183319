"""geofm.digest: the one SHA-256 of a file, and the same remembered per (file, size, modification time)."""

import hashlib
import os

from geofm.digest import file_sha256, remembered_sha256


def test_file_sha256_is_the_sha256_of_the_bytes(tmp_path):
    data = os.urandom(3 * (1 << 20) + 17)  # more than one read buffer
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert file_sha256(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()


def test_remembered_sha256_hashes_again_when_the_file_changes(tmp_path):
    path = tmp_path / "w.pt"
    path.write_bytes(b"first")
    assert remembered_sha256(path) == hashlib.sha256(b"first").hexdigest()
    path.write_bytes(b"second, longer")
    os.utime(path, ns=(1, 1))
    assert remembered_sha256(path) == hashlib.sha256(b"second, longer").hexdigest()
