"""Which platforms `shanzhi run` connects to: Telegram and WeChat when configured, else the local chat."""

from __future__ import annotations

from bot.adapters.base import Adapter
from core.clock import Clock
from core.config import Config
from core.environment import environment


def telegram_enabled(config: Config) -> bool:
    tg = config.platforms.telegram
    return tg.enabled is True or (tg.enabled == "auto" and bool(environment().telegram_token_value))


def wechat_enabled(config: Config) -> bool:
    wx = config.platforms.wechat
    configured = bool(environment().wechat_token_value)
    return wx.enabled is True or (wx.enabled == "auto" and configured)


def build_adapters(config: Config, clock: Clock) -> list[Adapter]:
    """The chat SDKs are imported only here, and only when their platform is on."""
    adapters: list[Adapter] = []
    if telegram_enabled(config):
        from bot.adapters.telegram.settings import from_config

        adapter = from_config(config.platforms.telegram, clock=clock)
        if adapter is not None:
            adapters.append(adapter)
    if wechat_enabled(config):
        from bot.adapters.wechat.adapter import WeChatAdapter

        adapters.append(WeChatAdapter.from_config(config.platforms.wechat, data_dir=config.data_dir, clock=clock))
    return adapters
