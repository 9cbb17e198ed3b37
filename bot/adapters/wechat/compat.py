"""wechaty 0.10 loaded on demand, with its working-directory side effects kept under the data dir and two
of its bugs patched (an error payload it cannot build, message types it does not map)."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

log = logging.getLogger("shanzhi.wechat")


_W: SimpleNamespace | None = None
_IMPORT_LOCK = threading.Lock()


def load_wechaty(data_dir: Path) -> SimpleNamespace:
    """Import (once) and patch wechaty; for code that must subclass its types (the tests' puppet)."""
    return load_wechaty_unlocked(data_dir)


def load_wechaty_unlocked(data_dir: Path) -> SimpleNamespace:
    """Import wechaty once per process, with every patch it needs applied before or right after."""
    global _W
    with _IMPORT_LOCK:
        if _W is not None:
            return _W
        cache_dir = (Path(data_dir) / "wechaty").resolve()
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Read lazily by wechaty.config.cache_dir and at import by WechatySchedulerOptions.
        os.environ["CACHE_DIR"] = str(cache_dir)
        os.environ.setdefault("WECHATY_LOG", "warn")
        cwd = os.getcwd()
        os.chdir(cache_dir)  # wechaty_puppet.config does os.makedirs('.wechaty') at import
        try:
            import wechaty_puppet.schemas.puppet as puppet_schema

            puppet_schema.PuppetOptions.__hash__ = object.__hash__  # type: ignore[method-assign]

            from wechaty_puppet.schemas import event as event_schema

            _patch_error_payload(event_schema.EventErrorPayload)
            for cls_name in (
                "EventErrorPayload",
                "EventLogoutPayload",
                "EventReadyPayload",
                "EventResetPayload",
                "EventHeartbeatPayload",
            ):
                cls = getattr(event_schema, cls_name)
                cls.__dataclass_fields__["data"].default = ""

            import grpclib.exceptions
            import wechaty
            import wechaty_puppet
            import wechaty_puppet_service
            import wechaty_puppet_service.puppet as service_puppet_module
            from wechaty import Wechaty, WechatyOptions
            from wechaty.schema import WechatySchedulerOptions
            from wechaty.utils.async_helper import SingleIdContainer
            from wechaty_puppet import MessageType, PuppetOptions

            _patch_message_type_map(service_puppet_module, MessageType)
            # "there is not registed blueprint ... will not start the web service": expected here.
            logging.getLogger("wechaty.plugin").setLevel(logging.ERROR)
            # "<Contact ...> set payload more than once": refreshing a payload on purpose.
            logging.getLogger("Accessory").setLevel(logging.ERROR)
        finally:
            os.chdir(cwd)
        _W = SimpleNamespace(
            wechaty=wechaty,
            wechaty_puppet=wechaty_puppet,
            Wechaty=Wechaty,
            WechatyOptions=WechatyOptions,
            WechatySchedulerOptions=WechatySchedulerOptions,
            PuppetOptions=PuppetOptions,
            PuppetService=wechaty_puppet_service.PuppetService,
            Puppet=wechaty_puppet.Puppet,
            MessageType=MessageType,
            SingleIdContainer=SingleIdContainer,
            GRPCError=grpclib.exceptions.GRPCError,
            StreamTerminatedError=grpclib.exceptions.StreamTerminatedError,
            cache_dir=cache_dir,
        )
        return _W


def _patch_error_payload(cls: Any) -> None:
    """A 1.x server's error event is `{gerror: "..."}`: keep its text as `data` (0.10's only field)."""
    original = cls.__init__

    def __init__(self: Any, **kwargs: Any) -> None:
        gerror = kwargs.pop("gerror", None)
        if gerror and not kwargs.get("data"):
            kwargs["data"] = str(gerror)
        original(self, **kwargs)

    cls.__init__ = __init__


def _patch_message_type_map(module: Any, message_type: Any) -> None:
    """0.10 maps the 1.x puppet's message type by list index: a type it does not know (Post = 16
    and later) raises IndexError inside message_payload and the message is lost. Map to UNSPECIFIED."""
    original = module._map_message_type
    unspecified = message_type.MESSAGE_TYPE_UNSPECIFIED

    def _map_message_type(payload: Any) -> Any:
        try:
            return original(payload)
        except (IndexError, ValueError):
            payload.type = unspecified
            return payload

    module._map_message_type = _map_message_type


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
