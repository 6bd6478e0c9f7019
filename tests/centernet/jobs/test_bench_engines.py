"""bench --engines / --load: the busy processes come and go, the table says what could not run and why."""
import os


from centernet.jobs.bench_engines import EngineRow, busy_processes, engine_detectors, format_engines_table


def test_busy_processes_run_during_the_block_and_are_gone_after():
    import multiprocessing
    with busy_processes(2):
        children = multiprocessing.active_children()
        assert len(children) == 2 and all(p.is_alive() for p in children)
    assert not any(p.is_alive() for p in children)


def test_table_rows_with_slowdown_and_unavailable_engines():
    rows = [EngineRow("mobilenetv3 ctdet", 512, "openvino", "fp32", 25.0, 20.0, 50.0),
            EngineRow("dla_34 (random weights)", 512, "openvino", "fp32", None, None, None,
                      "the openvino engine cannot run dla_34's deformable convolutions")]
    text = format_engines_table(rows, load=1).splitlines()
    assert text[0].endswith("| with 1 busy | slow-down |")
    assert text[2] == "| mobilenetv3 ctdet | 512 | openvino | fp32 | 25.0 | 20.0 | 40.0 | 50.0 | 2.00x |"
    assert "n/a: the openvino engine cannot run dla_34" in text[3]


def test_engines_that_cannot_run_a_deformable_model_are_listed_with_the_reason(seeded_checkpoint, tmp_path,
                                                                               monkeypatch):
    from centernet.models.checkpoint import load_checkpoint
    monkeypatch.setenv("CENTERNET_HOME", str(tmp_path))
    model, info = load_checkpoint(seeded_checkpoint("ctdet", "resdcn_18"))
    variants, skipped = engine_detectors(model, info, 128, (("eager", "fp32"), ("onnxruntime", "fp32"),
                                                            ("openvino", "fp32")))
    assert [v.name for v in variants] == ["eager fp32"]
    assert "reference op" in skipped["onnxruntime fp32"] and "deformable" in skipped["openvino fp32"]
    assert not os.listdir(tmp_path)  # nothing exported
