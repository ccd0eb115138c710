"""Where typing goes when the input does not have the focus: to the input, so that nothing typed is lost.

Tab moves the focus to the chat log, whose keys scroll it (and, after ``/probs N``, pick an
alternative); every other key typed there, and a paste, goes to the input, and the focus follows it.
The status bar says what the keys do where the focus is. A mixin of the chat app.
"""

from __future__ import annotations

from typing import Any

from textual import events

from . import keys
from .prompt_input import PromptInput


class TypingGoesToTheInput:
    """The chat app's focus handling (it provides chat, status, context, session and Textual's App)."""

    chat: Any
    status: Any
    context: Any
    session: Any
    query_one: Any
    focused: Any
    screen_stack: Any
    screen: Any

    def _focus_moved(self, focused: object) -> None:
        if focused is not self.chat:
            self.status.hint = ()
        elif (position := keys.pick_position(self.context, self.session)) is not None:
            picks = f"1-{keys.PICKS} branch at #{position}"
            self.status.hint = (f"{picks} · other keys type in the input", picks)
        else:
            self.status.hint = ("chat log: arrows, PageUp/PageDown, Home/End scroll · typing goes to the input",
                                "typing goes to the input")

    def on_key(self, event: events.Key) -> None:
        """A key the chat log does not use goes to the input, so that what is typed there is never lost."""
        prompt = self.query_one(PromptInput)
        if self.focused is prompt or len(self.screen_stack) > 1:
            return
        bound = self.screen.active_bindings.get(event.key)
        if bound is not None and bound.enabled:
            return  # a key of the log (scrolling), the screen (Tab) or the app (a pick)
        if event.is_printable and event.character:
            prompt.insert(event.character)
        elif event.key == "enter":
            prompt.submit()
        elif event.key == "backspace":
            prompt.action_delete_left()
        elif event.key != "escape":
            return
        event.prevent_default()
        event.stop()
        self._back_to_the_input()

    def on_paste(self, event: events.Paste) -> None:
        prompt = self.query_one(PromptInput)
        if self.focused is not prompt and len(self.screen_stack) == 1:
            prompt.insert(event.text)
            self._back_to_the_input()

    def _back_to_the_input(self) -> None:
        # The keys of one terminal write all reach the log before the first is handled here, and each is
        # handled here in order; the focus moves once they are through, so that none jumps the queue.
        self.chat.call_later(self.screen.set_focus, self.query_one(PromptInput))
