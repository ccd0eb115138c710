"""/finetune in the chat app: the progress panel appears under the log and announces the result."""

from __future__ import annotations

from backends.settings import GenerationSettings
from repl.app.chat_app import ChatApp
from repl.app.finetune_panel import FinetunePanel
from tests.support.app_helpers import screen_text, type_text, wait_until


async def test_finetune_in_the_app_shows_a_panel_and_a_notification(tiny_gpt2, js_tree):
    app = ChatApp("local", str(tiny_gpt2), GenerationSettings(greedy=True, max_new_tokens=8), {"device": "cpu"})
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_until(pilot, lambda: app.loader.since is None)
        await type_text(pilot, f"/finetune js --data {js_tree} --steps 3 --block 32 --lr 0.003")
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(app.query(FinetunePanel)), timeout=30)
        panel = app.query_one(FinetunePanel)
        assert panel.job is app.context.finetune_job
        await wait_until(pilot, lambda: panel.progress is not None and panel.progress.finished, timeout=300)
        assert panel.progress.phase == "done", panel.job.log_tail(10)
        await pilot.pause(0.2)
        screen = screen_text(app)
        assert "fine-tuning js" in screen and "step 3/3" in screen  # the panel
        assert "js is ready: perplexity" in screen and "/model js" in screen  # the notification
        assert "/finetune status follows it" in screen  # the command's note in the log
        assert app.query_one("#prompt").has_focus  # the chat kept the input throughout


async def test_a_completion_models_reply_is_shown_as_code_with_its_line_breaks(tiny_gpt2):
    """A model without a chat template continues code: the app shows a code block, not joined Markdown."""
    from textual.containers import VerticalScroll
    from textual.widgets import Markdown
    from textual.widgets._markdown import MarkdownFence

    from repl.app.widgets import AssistantMessage

    app = ChatApp("local", str(tiny_gpt2), GenerationSettings(greedy=True, max_new_tokens=8), {"device": "cpu"})
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: app.loader.since is None)
        await type_text(pilot, "class SimpleAdder {")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.replying and bool(app.query(AssistantMessage)), timeout=60)
        reply = app.query(AssistantMessage).last()
        assert reply.markdown.code and reply.markdown.query(MarkdownFence)  # the model's text, as code
        content = app.session.conversation.turns[-1].message.content  # control characters are shown as symbols
        assert reply.markdown.text.count("\n") == content.count("\n") and len(reply.markdown.text) == len(content)

        # The app's own stream path, with code whose lines Markdown would join into one paragraph.
        widget = AssistantMessage()
        await app.query_one("#log", VerticalScroll).mount(widget)
        stream = Markdown.get_stream(widget.markdown)
        code = "class A {\n  x = 0;\n  y = 0;\n}"
        for piece in [code[i:i + 4] for i in range(0, len(code), 4)]:
            await stream.write(piece)
        await stream.stop()
        await pilot.pause(0.1)
        fence = widget.markdown.query_one(MarkdownFence)
        assert fence.code.rstrip("\n") == code
        assert "  x = 0;" in screen_text(app) and "  y = 0;" in screen_text(app)
