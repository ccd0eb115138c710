"""/device: show or switch where the local model runs; a device this machine lacks is refused at once."""

from __future__ import annotations

from backends.devices import DEVICE_CHOICES, check_device
from backends.errors import UsageError

from .context import Context
from .table import command, require


@command("device", "/device [NAME]", f"show or switch the local model's device: {DEVICE_CHOICES}", group="models",
         arguments=("auto", "cpu", "cuda", "mps"))
def device_(ctx: Context, args: list[str]) -> None:
    require(args, (0, 1))
    session = ctx.session
    if not args:
        running = session.backend.describe().device
        asked = session.backend_options.get("device") or "auto"
        ctx.ui.show(f"device: {running or asked}" + (f" (asked for {asked})" if running and asked != running else ""))
        return
    device = check_device(args[0])  # before anything is rebuilt: a bad name changes nothing
    if session.backend_name != "local":
        raise UsageError(f"the {session.backend_name} backend runs on its server, not on a device here",
                         "/backend local first")
    session.use_backend("local", session.model, device=device)
    # A mode that loads in the background says this after loading worked, so a failure is the one word.
    getattr(ctx.ui, "after_load", ctx.ui.show)(f"device: {device} (the conversation is kept)")
