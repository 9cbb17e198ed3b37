"""Which platforms `shanzhi run` connects to: Telegram and WeChat when configured, else the local chat."""

from __future__ import annotations

import os

from bot.adapters.base import Adapter
from bot.clock import Clock
from bot.config import Config


def telegram_enabled(config: Config) -> bool:
    tg = config.platforms.telegram
    return tg.enabled is True or (tg.enabled == "auto" and bool(os.environ.get("TELEGRAM_BOT_TOKEN")))


def wechat_enabled(config: Config) -> bool:
    wx = config.platforms.wechat
    configured = bool(os.environ.get("WECHATY_PUPPET_SERVICE_TOKEN"))
    return wx.enabled is True or (wx.enabled == "auto" and configured)


def build_adapters(config: Config, clock: Clock) -> list[Adapter]:
    """The chat SDKs are imported only here, and only when their platform is on."""
    adapters: list[Adapter] = []
    if telegram_enabled(config):
        from bot.adapters.telegram import from_config

        adapter = from_config(config.platforms.telegram, clock=clock)
        if adapter is not None:
            adapters.append(adapter)
    if wechat_enabled(config):
        from bot.adapters.wechat import WeChatAdapter

        adapters.append(WeChatAdapter.from_config(config.platforms.wechat, data_dir=config.data_dir, clock=clock))
    return adapters
