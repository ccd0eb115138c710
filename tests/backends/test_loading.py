import pytest

from backends.errors import ModelUnavailable, UsageError
from backends.loading import models as loading
from backends.loading import plan


def test_presets_folders_gguf_and_hub_ids_resolve(tiny_gpt2, tmp_path):
    assert loading.resolve(str(tiny_gpt2)).kind == "folder"
    assert loading.resolve("codeparrot").location == "codeparrot/codeparrot-small"
    assert loading.resolve("org/some-model") == loading.ModelSource("org/some-model", "hub", "org/some-model")
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert loading.resolve(str(gguf)).gguf_file == "m.gguf"


@pytest.mark.parametrize("spec, words", [
    ("./missing-folder", "no such folder"), ("missing.gguf", "no such file"), ("js", "`parrot finetune js`"),
])
def test_bad_model_names_say_how_to_fix_them(spec, words):
    with pytest.raises(ModelUnavailable, match=words):
        loading.resolve(spec)


def test_a_missing_fine_tune_names_the_command_where_it_is_read():
    with pytest.raises(ModelUnavailable) as caught:
        loading.resolve("js")
    assert "`parrot finetune js`" in str(caught.value)  # on the command line
    assert "`/finetune js`" in str(caught.value.in_chat()) and "parrot finetune" not in str(caught.value)


def test_a_file_that_is_no_model_is_refused_in_one_line(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ModelUnavailable, match="notes.txt is a file, not a model"):
        loading.resolve(str(text))
    junk = tmp_path / "junk.gguf"
    junk.write_text("not a model")
    with pytest.raises(ModelUnavailable, match="could not read junk.gguf: .*GGUF") as caught:
        loading.load(loading.resolve(str(junk)), device="cpu")
    assert "\n" not in str(caught.value)


def test_folder_without_config_is_refused(tmp_path):
    with pytest.raises(ModelUnavailable, match="config.json"):
        loading.resolve(str(tmp_path))


def test_hub_model_not_cached_while_offline_names_the_offline_options(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelUnavailable) as caught:
        loading.load(loading.resolve("someone/not-a-cached-model"), device="cpu")
    message = str(caught.value)
    assert "someone/not-a-cached-model" in message and "smollm2" in message
    assert "\n" not in message


def test_eos_ids_outside_the_vocabulary_are_ignored(tiny_gpt2):
    loaded = loading.load(loading.resolve(str(tiny_gpt2)), device="cpu")
    loaded.model.generation_config.eos_token_id = 50256  # what codeparrot-small's config says
    vocab = loaded.model.get_output_embeddings().weight.shape[0]
    assert loading.eos_token_ids(loaded.model, loaded.tokenizer) == {loaded.tokenizer.eos_token_id}
    assert all(i < vocab for i in loading.eos_token_ids(loaded.model, loaded.tokenizer))


def test_device_choice_falls_back_to_cpu_and_refuses_missing_cuda():
    import torch

    if not torch.cuda.is_available():
        assert plan.choose_device("auto") in {"cpu", "mps"}
        with pytest.raises(UsageError, match="no CUDA device"):  # a usage error (exit 2), as --device says it
            plan.choose_device("cuda")


def test_unreachable_hub_fails_at_once_instead_of_retrying(tmp_path, monkeypatch):
    import socket

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens here now: a refused connection, like a machine without network
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert not loading.hub_reachable()
    with pytest.raises(ModelUnavailable, match="cannot be reached"):
        loading.load(loading.resolve("someone/not-a-cached-model"), device="cpu")


def test_a_gguf_file_cut_short_is_refused_in_one_line(tmp_path):
    """A download that broke off leaves a .gguf whose header promises more than the file holds."""
    embedded = loading.resolve("smollm2")
    whole = embedded.location + "/" + embedded.gguf_file
    cut = tmp_path / "cut.gguf"
    with open(whole, "rb") as source:
        cut.write_bytes(source.read(200_000))
    with pytest.raises(ModelUnavailable, match="could not read cut.gguf: the file ends early") as caught:
        loading.load(loading.resolve(str(cut)), device="cpu")
    assert "\n" not in str(caught.value) and "unpack_from" not in str(caught.value)
