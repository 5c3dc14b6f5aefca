"""Every run leaves one TensorBoard HParams row: its flattened config with its final metrics, on disk as
soon as the run returns (not only when the process exits)."""

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2


def test_a_run_writes_its_hparams_row_with_final_metrics(train_cfg, tmp_path):
    summary, cfg = train_cfg("data=airfoil", "optimizer.lr=0.07", "trainer.max_epochs=1")
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    content = events.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hparams = start.session_start_info.hparams
    assert hparams["optimizer.lr"].number_value == pytest.approx(0.07)
    assert hparams["data._target_"].string_value == cfg.data._target_
    assert not any(k.startswith(("hydra.", "paths.")) for k in hparams)
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    assert "final/val/loss" in {m.name.tag for m in experiment.metric_infos}
    final = events.Scalars("final/val/loss")[-1].value
    assert final == pytest.approx(summary["val/loss"], rel=1e-6)
