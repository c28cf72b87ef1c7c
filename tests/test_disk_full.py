"""A full disk while packing or copying the pictures is said as one: which disk, how much the step
needs and has, and what to do; never "a fault in sagewiz". The disk isn't really filled: the write
that would fail is made to fail with ENOSPC (or EDQUOT), as the kernel would."""

from __future__ import annotations

import errno
import shutil

import pytest

from sagewiz.core.dataset import packer
from sagewiz.core.dataset.recordio import RecordWriter
from sagewiz.core.dataset.sample import write_sample_dataset
from sagewiz.core.dataset.scan import scan_dataset
from sagewiz.core.disk import DiskFullError
from sagewiz.core.ledger import Ledger
from sagewiz.core.local.backend import LocalBackend
from sagewiz.core.prepare import prepare_dataset


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    write_sample_dataset(root, size=28, classes=[1, 7], seed=3)
    return root


def disk_fills_up(monkeypatch, code=errno.ENOSPC, after_records=3):
    """Records go to disk until the disk is 'full', as a write() of the kernel's would say."""
    class FillingWriter(RecordWriter):
        def write_parts(self, head, body, key=None):
            if self.count >= after_records:
                raise OSError(code, "No space left on device" if code == errno.ENOSPC else "Disk quota exceeded")
            return super().write_parts(head, body, key)

    monkeypatch.setattr(packer, "RecordWriter", FillingWriter)


def test_packing_on_a_full_disk_says_which_disk_what_it_needs_and_has_and_what_to_do(digits, tmp_path, monkeypatch):
    report = scan_dataset(digits, mini_batch_size=8)
    disk_fills_up(monkeypatch)
    with pytest.raises(DiskFullError) as raised:
        prepare_dataset(report, tmp_path / "packed", resize=28)
    said = raised.value
    free = shutil.disk_usage(tmp_path).free
    assert said.title == "The disk is full" and "pack the pictures into train.rec" in said.message
    assert "the disk at /" in said.message and "needs about" in said.message and "free there" in said.message
    assert f"{free / 1e9:,.1f} GB" in said.message or f"{free / 1e6:,.1f} MB" in said.message
    assert "Free some space" in said.hint and "SAGEWIZ_HOME" in said.hint
    assert not list((tmp_path / "packed").glob("*.partial"))  # the half-written records went again

    monkeypatch.undo()  # room again: packing again works
    prepared = prepare_dataset(report, tmp_path / "packed", resize=28)
    assert prepared.counts["train"] > 0 and prepared.train_rec.exists()


def test_a_used_up_disk_quota_is_said_as_a_quota(digits, tmp_path, monkeypatch):
    disk_fills_up(monkeypatch, errno.EDQUOT)
    with pytest.raises(DiskFullError) as raised:
        prepare_dataset(scan_dataset(digits, mini_batch_size=8), tmp_path / "packed", resize=28)
    assert "disk quota" in raised.value.message


def test_copying_into_storage_on_a_full_disk_says_so_and_leaves_no_half_copy(tmp_path, monkeypatch):
    source = tmp_path / "train.rec"
    source.write_bytes(b"r" * 3_000_000)
    real_open = open

    def full_disk_open(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        if "w" in mode:
            def write(data):
                raise OSError(errno.ENOSPC, "No space left on device")
            handle.write = write
        return handle

    with Ledger(tmp_path / "home" / "ledger.sqlite3") as ledger:
        backend = LocalBackend(tmp_path / "home", ledger)
        storage = backend.ensure_storage("")
        monkeypatch.setattr("sagewiz.core.local.backend.open", full_disk_open, raising=False)
        with pytest.raises(DiskFullError) as raised:
            backend.upload(storage, source, "run/data/train.rec")
        assert "copy train.rec into storage" in raised.value.message and "needs about 3.0 MB" in raised.value.message
        assert not list((tmp_path / "home").rglob("*.partial"))
        monkeypatch.undo()
        assert backend.upload(storage, source, "run/data/train.rec").endswith("train.rec")


def test_sagewiz_run_on_a_full_disk_says_the_disk_is_full_not_a_fault(digits, tmp_path, monkeypatch, capsys):
    from sagewiz.tui.cli import main

    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    disk_fills_up(monkeypatch)
    assert main(["run", "--data", str(digits), "--yes", "--json", "--hp", "epochs=1"]) == 1
    out, err = capsys.readouterr()
    said = " ".join(err.split())
    assert "The disk is full" in said and "SAGEWIZ_HOME" in said
    assert "did not expect" not in said and "fault in sagewiz" not in said
    error = __import__("json").loads(out)
    assert error["error"] == "DiskFullError" and error["step"] == "prepare"


def test_a_full_disk_anywhere_else_is_not_called_a_bug(tmp_path, monkeypatch, capsys):
    from sagewiz.tui.cli import main

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "home" / "ledger.sqlite3"))

    monkeypatch.setenv("SAGEWIZ_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("sagewiz.core.backends.live_resources", full)
    assert main(["resources"]) == 1
    said = " ".join(capsys.readouterr().err.split())
    assert "The disk is full" in said and "did not expect" not in said and str(tmp_path / "home") in said
