"""After deploying, the user sees how the model does on the test images: accuracy, top-k, per-class
scores, the confusion matrix and the images it got most confidently wrong — whichever backend
answers the predictions."""

import json

import pytest

from sagewiz.core.backend import Prediction
from sagewiz.core.errors import InputError, WizardError
from sagewiz.core.evaluate import ImageRejectedError, content_type_of, evaluate

CLASSES = ("apple", "banana", "cherry")
JPEG, PNG = b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n"

# name: (true label, magic, what the fake model answers)
ANSWERS = {
    "a1": (0, JPEG, (0.7, 0.2, 0.1)),    # right
    "a2": (0, PNG, (0.2, 0.5, 0.3)),     # wrong (banana, 0.5), apple not even in the top 2
    "a3": (0, JPEG, (0.3, 0.6, 0.1)),    # wrong (banana, 0.6), apple second
    "b1": (1, PNG, (0.1, 0.8, 0.1)),     # right
    "b2": (1, JPEG, (0.9, 0.06, 0.04)),  # wrong (apple, 0.9), banana second
    "c1": (2, JPEG, (0.15, 0.05, 0.8)),  # right
    "c2": (2, PNG, (0.2, 0.7, 0.1)),     # wrong (banana, 0.7), cherry last
}


class FakeModel:
    """Answers each test file by its name (written into the file after the magic bytes)."""

    def __init__(self):
        self.content_types = {}

    def __call__(self, data: bytes, content_type: str) -> Prediction:
        name = data[8:].decode()
        if name == "rejected":
            raise ImageRejectedError("The body is not an image.", hint="Send a JPEG or PNG.")
        self.content_types[name] = content_type
        return Prediction(ANSWERS[name][2])


@pytest.fixture
def test_set(tmp_path):
    images = []
    for name, (label, magic, _) in ANSWERS.items():
        path = tmp_path / f"{name}.img"
        path.write_bytes(magic.ljust(8, b"\0") + name.encode())
        images.append((str(path), label))
    rejected = tmp_path / "rejected.img"
    rejected.write_bytes(b"GIF89a\0\0rejected")
    images.append((str(rejected), 1))
    images.append((str(tmp_path / "vanished.jpg"), 0))  # listed, but gone from disk
    return images


def test_the_scores_match_a_hand_counted_confusion_matrix(test_set):
    result = evaluate(test_set, FakeModel(), CLASSES, top_k=2, workers=3)

    assert result.evaluated == 7
    assert result.confusion == ((1, 2, 0), (1, 1, 0), (0, 1, 1))  # rows: true, columns: predicted
    assert result.accuracy == pytest.approx(3 / 7)
    assert result.top_k == 2
    assert result.top_k_accuracy == pytest.approx(5 / 7)
    scores = {score.name: score for score in result.per_class}
    assert (scores["apple"].precision, scores["apple"].recall, scores["apple"].f1) == pytest.approx((1 / 2, 1 / 3, 0.4))
    assert (scores["banana"].precision, scores["banana"].recall, scores["banana"].f1) == pytest.approx((1 / 4, 1 / 2, 1 / 3))
    assert (scores["cherry"].precision, scores["cherry"].recall, scores["cherry"].f1) == pytest.approx((1.0, 1 / 2, 2 / 3))
    assert [score.support for score in result.per_class] == [3, 2, 2]
    assert result.macro_f1 == pytest.approx((0.4 + 1 / 3 + 2 / 3) / 3)


def test_the_most_confidently_wrong_images_come_first(test_set):
    result = evaluate(test_set, FakeModel(), CLASSES, top_k=2)

    wrong = [(m.path.rsplit("/", 1)[1], m.true_class, m.predicted_class, m.confidence) for m in result.misclassified]
    assert wrong == [
        ("b2.img", "banana", "apple", 0.9),
        ("c2.img", "cherry", "banana", 0.7),
        ("a3.img", "apple", "banana", 0.6),
        ("a2.img", "apple", "banana", 0.5),
    ]


def test_unreadable_and_refused_images_are_reported_not_fatal(test_set):
    result = evaluate(test_set, FakeModel(), CLASSES)

    reasons = {u.path.rsplit("/", 1)[1]: u.reason for u in result.unreadable}
    assert set(reasons) == {"rejected.img", "vanished.jpg"}
    assert "can't read the file" in reasons["vanished.jpg"]
    assert "refused" in reasons["rejected.img"] and "not an image" in reasons["rejected.img"]
    assert result.evaluated == 7


def test_each_image_is_sent_with_the_content_type_its_bytes_say(test_set):
    model = FakeModel()
    evaluate(test_set, model, CLASSES)

    assert model.content_types == {name: "image/jpeg" if magic == JPEG else "image/png"
                                   for name, (_, magic, _) in ANSWERS.items()}
    assert content_type_of(b"GIF89a...") == "application/x-image"


def test_progress_counts_every_image_including_the_unreadable(test_set):
    calls = []
    evaluate(test_set, FakeModel(), CLASSES, progress=lambda done, total: calls.append((done, total)))

    assert calls == [(n, 9) for n in range(1, 10)]


def test_top_k_is_capped_at_the_number_of_classes(test_set):
    result = evaluate(test_set, FakeModel(), CLASSES, top_k=5)

    assert result.top_k == 3 and result.top_k_accuracy == 1.0


def test_the_result_is_plain_json(test_set):
    data = json.loads(json.dumps(evaluate(test_set, FakeModel(), CLASSES, top_k=2).to_dict()))

    assert data["confusion"] == [[1, 2, 0], [1, 1, 0], [0, 1, 1]]
    assert data["class_names"] == list(CLASSES)
    assert data["misclassified"][0]["predicted_class"] == "apple"
    assert data["per_class"][2] == {"name": "cherry", "precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert {u["path"].rsplit("/", 1)[1] for u in data["unreadable"]} == {"rejected.img", "vanished.jpg"}


def test_an_endpoint_that_goes_down_stops_the_evaluation(test_set):
    def down(data, content_type):
        raise WizardError("The endpoint isn't running.", hint="Deploy it again.")

    with pytest.raises(WizardError, match="isn't running"):
        evaluate(test_set, down, CLASSES)


def test_a_model_with_other_classes_than_the_test_set_is_named(test_set):
    with pytest.raises(WizardError, match="answered 2 probabilities .* 3 classes"):
        evaluate(test_set[:1], lambda data, content_type: Prediction((0.5, 0.5)), CLASSES)


def test_a_label_outside_the_classes_is_refused(tmp_path):
    image = tmp_path / "x.jpg"
    image.write_bytes(JPEG)
    with pytest.raises(InputError, match="label 3, but there are only 3 classes"):
        evaluate([(str(image), 3)], FakeModel(), CLASSES)


def test_no_images_gives_an_empty_result():
    result = evaluate([], FakeModel(), CLASSES)

    assert (result.evaluated, result.accuracy, result.misclassified) == (0, 0.0, ())
    assert result.confusion == ((0, 0, 0),) * 3
