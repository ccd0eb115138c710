"""A fine-tuning run loads the transformers model alone: the lean decoder is for chatting."""

from __future__ import annotations

from backends import lean
from finetune.train import RunConfig, run


def test_finetuning_does_not_build_the_fused_lean_copy(tiny_llama, js_tree, tmp_path, monkeypatch):
    built: list[object] = []
    real = lean.LeanDecoder.from_model.__func__

    def recording(cls, *args, **kwargs):
        built.append(args[0])
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(lean.LeanDecoder, "from_model", classmethod(recording))
    config = RunConfig(base=str(tiny_llama), data=str(js_tree), steps=2, block=32, learning_rate=3e-3, warmup=0.0,
                       eval_share=0.2, eval_blocks=2, save_steps=2, device="cpu")
    assert run(config, str(tmp_path / "progress.jsonl")) == "done"
    assert built == []  # on main the run built a fused copy of every weight it never used
