"""Weights files and model bundles: round trip, hash verification, refusal of bad files."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest
import torch

from inference.engine.config import ModelConfig, NetworkConfig, PreprocessConfig
from inference.engine.network import build_network
from inference.engine.weights import (
    ModelFileError,
    check_weights_fit,
    load_state_dict,
    read_bundle,
    save_state_dict,
    write_bundle,
)

TINY = ModelConfig(network=NetworkConfig(channels=(4, 8), strides=(2,), num_res_units=1))


def _state_dict(config: ModelConfig = TINY, seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return build_network(config.network).state_dict()


def test_save_returns_file_hash_and_loads_back(tmp_path):
    state = _state_dict()
    path = tmp_path / "fold_0.safetensors"
    digest = save_state_dict(state_dict=state, path=path)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    loaded = load_state_dict(path=path, expected_sha256=digest)
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_missing_file_refused(tmp_path):
    with pytest.raises(ModelFileError, match="missing"):
        load_state_dict(path=tmp_path / "nope.safetensors", expected_sha256=None)


def test_hash_mismatch_refused(tmp_path):
    path = tmp_path / "w.safetensors"
    save_state_dict(state_dict=_state_dict(), path=path)
    with pytest.raises(ModelFileError, match="SHA-256"):
        load_state_dict(path=path, expected_sha256="0" * 64)


def test_corrupt_file_refused(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all")
    with pytest.raises(ModelFileError, match="corrupt"):
        load_state_dict(path=path, expected_sha256=None)
    truncated = tmp_path / "t.safetensors"
    save_state_dict(state_dict=_state_dict(), path=truncated)
    truncated.write_bytes(truncated.read_bytes()[:-100])
    with pytest.raises(ModelFileError, match="corrupt"):
        load_state_dict(path=truncated, expected_sha256=None)


def test_pickle_checkpoint_only_with_weights_only(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    path = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, path)
    with pytest.raises(ModelFileError):
        load_state_dict(path=path, expected_sha256=None)
    good = tmp_path / "good.pt"
    torch.save(_state_dict(), good)
    assert load_state_dict(path=good, expected_sha256=None).keys() == _state_dict().keys()


def test_channel_mismatch_message():
    three = replace(TINY, network=replace(TINY.network, in_channels=3))
    weights_for_three = _state_dict(three)
    with pytest.raises(ModelFileError, match="model expects 3 input channels, preprocessing gives 2"):
        check_weights_fit(state_dict=weights_for_three, config=TINY)
    # Config itself inconsistent: network wants 3, preprocessing prepares 2.
    with pytest.raises(ModelFileError, match="model expects 3 input channels, preprocessing gives 2"):
        check_weights_fit(state_dict=weights_for_three, config=three)
    one_channel = replace(TINY, preprocess=PreprocessConfig(channels=("pet",)))
    with pytest.raises(
        ModelFileError,
        match="model expects 1 input channels, preprocessing gives 2|"
        "model expects 2 input channels, preprocessing gives 1",
    ):
        check_weights_fit(state_dict=_state_dict(), config=one_channel)


def test_weights_of_other_architecture_refused():
    wider = replace(TINY, network=replace(TINY.network, channels=(8, 16)))
    with pytest.raises(ModelFileError, match="do not fit"):
        check_weights_fit(state_dict=_state_dict(wider), config=TINY)


def test_bundle_round_trip(tmp_path):
    states = [_state_dict(seed=s) for s in range(5)]
    bundle = write_bundle(
        path=tmp_path / "b",
        config=TINY,
        state_dicts=states,
        metrics={"dice_mean": 0.7},
        training={"epochs": 3},
        name="resunet",
        version="1.0",
    )
    again = read_bundle(tmp_path / "b")
    assert again.config == TINY
    assert [f.file for f in again.folds] == [f"fold_{i}.safetensors" for i in range(5)]
    assert again.metrics == {"dice_mean": 0.7} and again.training == {"epochs": 3}
    assert (again.name, again.version) == ("resunet", "1.0")
    assert again.manifest_sha256 == bundle.manifest_sha256
    for fold, state in zip(again.state_dicts, states, strict=True):
        assert all(torch.equal(fold[k], state[k]) for k in state)
    manifest = json.loads((tmp_path / "b" / "model.json").read_text())
    assert manifest["config"] == json.loads(json.dumps(TINY.to_dict()))
    with pytest.raises(ModelFileError, match="already"):
        write_bundle(path=tmp_path / "b", config=TINY, state_dicts=states)


def test_bundle_refuses_tampered_fold(tmp_path):
    write_bundle(path=tmp_path / "b", config=TINY, state_dicts=[_state_dict(seed=s) for s in range(2)])
    other = tmp_path / "other.safetensors"
    save_state_dict(state_dict=_state_dict(seed=9), path=other)
    (tmp_path / "b" / "fold_1.safetensors").write_bytes(other.read_bytes())
    with pytest.raises(ModelFileError, match="fold_1.safetensors has SHA-256"):
        read_bundle(tmp_path / "b")
    (tmp_path / "b" / "fold_1.safetensors").unlink()
    with pytest.raises(ModelFileError, match="missing"):
        read_bundle(tmp_path / "b")


def test_bundle_refuses_bad_manifest(tmp_path):
    with pytest.raises(ModelFileError, match="model.json is missing"):
        read_bundle(tmp_path)
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="not a valid bundle manifest"):
        read_bundle(tmp_path)
