"""The shipped model is what training on the project's corpus produces: nobody edited a weight without the data
behind it, and nobody changed the data or the rules without retraining (`shanzhi rules train`)."""

from __future__ import annotations

import pytest

from classifiers import recipe
from classifiers.corpus import fingerprint
from classifiers.handrules import load_rules
from classifiers.model import DEFAULT_MODEL, read_model_file
from classifiers.train import TrainConfig, train

#: lbfgs converges to within its tolerance, and BLAS may add in another order on another machine: weights are
#: compared to within this, and a weight near the cut-off may be in one file and not the other
TOLERANCE = 0.003


@pytest.mark.slow
def test_the_shipped_model_is_what_training_on_the_corpus_produces() -> None:
    shipped_meta, shipped = read_model_file(DEFAULT_MODEL)
    files = recipe.training_files()
    assert {"fingerprint": fingerprint(files)} in shipped_meta["trained_on"], (
        "the training data changed since the model was trained: run `shanzhi rules train`"
    )
    cfg = TrainConfig()
    meta, weights = train(recipe.shipped_examples(), load_rules(), cfg)
    assert meta["config"] == shipped_meta["config"] and meta["features"] == shipped_meta["features"]
    for name, head in meta["heads"].items():
        other = shipped_meta["heads"][name]
        assert head["labels"] == other["labels"]
        assert abs(head["temperature"] - other["temperature"]) < 0.01
        for label, b in head["bias"].items():
            assert abs(b - other["bias"][label]) < TOLERANCE
    assert abs(meta["urgent_threshold"] - shipped_meta["urgent_threshold"]) < 0.005
    differ = []
    for key in set(weights) | set(shipped):
        a, b = weights.get(key, {}), shipped.get(key, {})
        if abs(a.get("idf", 0.0) - b.get("idf", 0.0)) > TOLERANCE:
            differ.append((key, "idf", "", a.get("idf"), b.get("idf")))
        for head in (set(a) | set(b)) - {"idf"}:
            for label in set(a.get(head, {})) | set(b.get(head, {})):
                x, y = a.get(head, {}).get(label, 0.0), b.get(head, {}).get(label, 0.0)
                near_cut = min(abs(x) or 1, abs(y) or 1) < cfg.min_weight + TOLERANCE
                if abs(x - y) > TOLERANCE and not (near_cut and abs(x - y) < cfg.min_weight + TOLERANCE):
                    differ.append((key, head, label, x, y))
    assert not differ, f"{len(differ)} weights differ, e.g. {differ[:5]}: run `shanzhi rules train`"
