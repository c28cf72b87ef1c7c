"""`sagewiz check DIR`: a person points it at their photos and learns, in plain words, whether
they can train on them; scripts get the same report as JSON and an exit code."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

from corpus import encode, make_malformed_corpus, noise_image
from sagewiz.tui.cli import main

_rng = random.Random(3)


def two_class_dataset(root: Path, per_class: int = 4) -> Path:
    for split, n in (("train", per_class), ("test", 2)):
        for animal in ("cat", "dog"):
            for i in range(n):
                path = root / split / animal / f"{i}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(encode(noise_image(_rng), "JPEG"))
    return root


def test_a_good_dataset_exits_0_and_shows_classes_and_verdict(tmp_path, capsys):
    two_class_dataset(tmp_path / "photos")
    assert main(["check", str(tmp_path / "photos"), "--mini-batch-size", "2"]) == 0
    out = capsys.readouterr()
    text = out.out + out.err
    assert "cat" in text and "dog" in text and "train" in text and "Ready" in text
    assert "Traceback" not in text


def test_json_is_the_only_thing_on_stdout_and_lists_the_classes(tmp_path, capsys):
    two_class_dataset(tmp_path / "photos")
    assert main(["check", str(tmp_path / "photos"), "--json", "--mini-batch-size", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in report["classes"]] == ["cat", "dog"]
    assert report["counts"]["train"] == {"cat": 4, "dog": 4} and report["usable"] is True


def test_the_malformed_corpus_is_reported_file_by_file_without_a_traceback(tmp_path, capsys):
    make_malformed_corpus(tmp_path / "photos")
    code = main(["check", str(tmp_path / "photos"), "--mini-batch-size", "1"])
    text = "".join(capsys.readouterr())
    assert code == 2  # one picture is both a cat and a dog
    for name in ("truncated.jpg", "bomb.png", "cmyk.jpg", "notes.txt", "cat/loop", "dog/iphone.heic", "dog/which.jpg", "cat/good1.jpg"):
        assert name in text
    assert "skipped" in text and "not followed" in text and "converted to JPEG" in text and "Traceback" not in text


def test_without_the_label_conflict_the_corpus_is_ready_and_the_summary_counts_each_conversion(tmp_path, capsys):
    make_malformed_corpus(tmp_path / "photos", label_conflict=False)
    assert main(["check", str(tmp_path / "photos"), "--mini-batch-size", "1"]) == 0
    said = " ".join("".join(capsys.readouterr()).split())
    assert "6 pictures will be converted to JPEG when packed (BMP 1, GIF 2, HEIC 1, TIFF 1, WebP 1)." in said


def test_a_dataset_that_cant_train_exits_2_and_says_what_to_do(tmp_path, capsys):
    two_class_dataset(tmp_path / "photos", per_class=3)
    assert main(["check", str(tmp_path / "photos")]) == 2  # 6 training images < batch of 32
    text = "".join(capsys.readouterr())
    assert "mini_batch_size" in text and "Traceback" not in text


def test_json_of_an_unusable_dataset_still_parses_and_exits_2(tmp_path, capsys):
    (tmp_path / "photos" / "cat").mkdir(parents=True)
    assert main(["check", str(tmp_path / "photos"), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["usable"] is False


def test_a_missing_folder_is_not_usable_exits_2_with_a_hint(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nowhere")]) == 2  # as README says of a folder that can't be trained on
    out = capsys.readouterr()
    assert out.out == "" and "nowhere" in out.err and "What to do" in out.err and "Traceback" not in out.err


def test_a_file_given_as_the_folder_exits_2_and_json_gets_the_error(tmp_path, capsys):
    (tmp_path / "photo.jpg").write_bytes(b"not a folder")
    assert main(["check", str(tmp_path / "photo.jpg"), "--json"]) == 2
    said = json.loads(capsys.readouterr().out)
    assert "is a file, not a folder" in said["message"] and said["hint"] and said["title"]


def test_a_bad_mini_batch_size_exits_1(tmp_path, capsys):
    two_class_dataset(tmp_path / "photos")
    assert main(["check", str(tmp_path / "photos"), "--mini-batch-size", "lots"]) == 1
    assert "mini-batch-size" in capsys.readouterr().err


def test_the_real_console_script_checks_the_malformed_corpus_and_a_missing_folder(tmp_path):
    make_malformed_corpus(tmp_path / "photos", label_conflict=False)
    command = [sys.executable, "-m", "sagewiz.tui.cli", "check"]
    ok = subprocess.run([*command, str(tmp_path / "photos"), "--json", "--mini-batch-size", "1"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert {c["name"] for c in json.loads(ok.stdout)["classes"]} == {"cat", "dog"}
    missing = subprocess.run([*command, str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert missing.returncode == 2 and "Traceback" not in missing.stdout + missing.stderr + ok.stderr


def test_help_says_that_no_command_opens_the_wizard_and_offers_plain(capsys):
    import pytest

    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "With no COMMAND, sagewiz opens the wizard" in said
    assert "--plain" in said and "plain questions, one by one" in said


def test_the_readme_and_check_agree_on_the_exit_status_of_an_unusable_folder():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    check_line = next(line for line in readme.splitlines() if line.startswith("| `sagewiz check"))
    assert "2 when not" in check_line and "missing" in check_line
