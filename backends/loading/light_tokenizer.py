"""The part of a transformers tokenizer that chatting needs, on the ``tokenizers`` library alone.

A fast start (``fast_start``) and a first GGUF load (``gguf_tokenizer``) both hand the chat this: a
``tokenizer.json`` with the chat template and special tokens beside it, so that chatting never waits
for transformers to import.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable


def tokenizer_info(tokenizer: Any) -> dict[str, Any]:
    """What ``LightTokenizer`` needs besides ``tokenizer.json``: the chat template and special tokens."""
    if isinstance(tokenizer, LightTokenizer):
        return tokenizer.info
    return {"chat_template": tokenizer.chat_template, "eos_token": tokenizer.eos_token,
            "eos_token_id": tokenizer.eos_token_id, "bos_token": tokenizer.bos_token,
            "clean_up_tokenization_spaces": bool(getattr(tokenizer, "clean_up_tokenization_spaces", False))}


class LightTokenizer:
    """The part of a transformers tokenizer that chatting needs, on the ``tokenizers`` library alone.

    Anything else (``convert_ids_to_tokens``, batch calls, ...) is passed on to the full transformers
    tokenizer, loaded the first time it is needed.
    """

    def __init__(self, path: Path, info: dict[str, Any], full: Callable[[], Any]) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path))
        self._full_loader, self._full = full, None
        self.info = info
        self.chat_template = info["chat_template"]
        self.eos_token, self.eos_token_id, self.bos_token = info["eos_token"], info["eos_token_id"], info["bos_token"]
        self._clean_up = info["clean_up_tokenization_spaces"]
        self._template = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._full is None:
            self._full = self._full_loader()
        return getattr(self._full, name)

    @property
    def backend_tokenizer(self) -> Any:
        """The ``tokenizers`` core, as transformers' fast tokenizers expose it (/tokens needs no more)."""
        return self._tokenizer

    def __call__(self, text: str, add_special_tokens: bool = True, **kwargs: Any) -> Any:
        if kwargs:
            return self.__getattr__("__call__")(text, add_special_tokens=add_special_tokens, **kwargs)
        from types import SimpleNamespace

        ids = self._tokenizer.encode(text, add_special_tokens=add_special_tokens).ids
        return SimpleNamespace(input_ids=ids)

    def decode(self, ids: Any, skip_special_tokens: bool = False) -> str:
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        if isinstance(ids, int):
            ids = [ids]
        text = self._tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)
        return self.__getattr__("clean_up_tokenization")(text) if self._clean_up else text

    def apply_chat_template(self, conversation: list[dict[str, str]], tokenize: bool = True,
                            add_generation_prompt: bool = False, continue_final_message: bool = False,
                            **kwargs: Any) -> Any:
        """Render the chat template as transformers does (sandboxed Jinja, trimmed blocks)."""
        if kwargs or tokenize:
            return self.__getattr__("apply_chat_template")(
                conversation, tokenize=tokenize, add_generation_prompt=add_generation_prompt,
                continue_final_message=continue_final_message, **kwargs)
        if self._template is None:
            self._template = _compile(self.chat_template)
        text = self._template.render(messages=conversation, add_generation_prompt=add_generation_prompt,
                                     eos_token=self.eos_token, bos_token=self.bos_token)
        if continue_final_message:
            # Cut what the template adds after the last message (its end-of-turn marker).
            final = conversation[-1]["content"]
            end = text.rindex(final.strip()) if final.strip() in text else -1
            if end >= 0:
                text = text[:end + len(final.strip())]
        return text


def _compile(template: str) -> Any:
    import jinja2
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = lambda value, indent=None, **_: json.dumps(value, indent=indent, ensure_ascii=False)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template)
