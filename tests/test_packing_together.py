"""Two runs on the same pictures at once share one packed copy: the second waits for the first's
packing and then uses it, instead of writing the same files at the same time (one run then found
no train.rec to copy into storage, the other failed renaming a file the first had moved)."""

from __future__ import annotations

import threading

import pytest

from sagewiz.core.dataset.recordio import iter_records
from sagewiz.core.dataset.sample import write_sample_dataset
from sagewiz.core.dataset.scan import scan_dataset
from sagewiz.core.prepare import packed_copy_lock, prepare_dataset


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    write_sample_dataset(root, size=20, classes=[2, 6], seed=4)
    return scan_dataset(root, mini_batch_size=8)


def test_a_second_packing_of_the_same_folder_waits_for_the_first_and_uses_its_records(report, tmp_path):
    folder = tmp_path / "packed"
    second: dict = {"packed": [], "said": []}
    second_waits = threading.Event()

    def pack_the_second_time():
        try:
            second["result"] = prepare_dataset(report, folder, resize=20, workers=1,
                                               progress=lambda split, done, n: second["packed"].append(split),
                                               waiting=lambda text: (second["said"].append(text), second_waits.set()))
        except Exception as error:  # noqa: BLE001 - the test says what the second run met
            second["error"] = error
            second_waits.set()

    other = threading.Thread(target=pack_the_second_time)

    def first_progress(split, done, n):
        if not other.is_alive() and not second_waits.is_set():  # halfway through the first packing, the second run starts
            other.start()
            assert second_waits.wait(timeout=60), "the second packing neither waited nor failed"

    first = prepare_dataset(report, folder, resize=20, workers=1, progress=first_progress)
    other.join(timeout=120)
    assert "error" not in second, second.get("error")
    assert second["said"] == ["Another sagewiz is packing or copying these pictures (the same folder): waiting for it to "
                              "finish, then using what it packed."]
    assert second["packed"] == []  # it used the first's records instead of packing them again
    assert second["result"].counts == first.counts
    assert sum(1 for _ in iter_records(first.train_rec)) == first.counts["train"]  # whole, not written twice at once
    assert not list(folder.glob("*.partial"))


def test_the_lock_is_held_on_by_the_thread_that_holds_it(tmp_path):
    # the journey holds it from packing to uploading and packs inside: that must not wait for itself
    with packed_copy_lock(tmp_path / "packed"), packed_copy_lock(tmp_path / "packed"):
        pass
