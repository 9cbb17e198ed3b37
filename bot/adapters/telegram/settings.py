"""The Telegram adapter from config.yaml and the environment (`shanzhi run`): off, polling or webhook."""

from __future__ import annotations

from typing import Any

from bot.adapters.telegram.adapter import TelegramAdapter
from core.environment import Environment, environment


def from_config(settings: Any = None, env: Environment | None = None, **kwargs: Any) -> TelegramAdapter | None:
    """The adapter for `shanzhi run`, or None when Telegram is off.

    `settings` is `config.platforms.telegram` (enabled: auto|true|false, mode, webhook_url, base_url);
    the token comes only from the environment (TELEGRAM_BOT_TOKEN). `enabled: true` without a token is
    a configuration error; `auto` means "on when the token is set".
    """
    env = environment() if env is None else env
    token = env.telegram_token_value
    enabled = getattr(settings, "enabled", "auto")
    if enabled is False or (enabled == "auto" and not token):
        return None
    if not token:
        raise ValueError("platforms.telegram.enabled is true but TELEGRAM_BOT_TOKEN is not set")
    if settings is not None:
        if getattr(settings, "mode", None):
            kwargs.setdefault("mode", settings.mode)
        if getattr(settings, "webhook_url", None):
            kwargs.setdefault("webhook_url", settings.webhook_url)
        if getattr(settings, "base_url", None):
            kwargs.setdefault("api_root", settings.base_url)
    return from_env(env, **kwargs)


def from_env(env: Environment | None = None, **kwargs: Any) -> TelegramAdapter | None:
    """The adapter if `TELEGRAM_BOT_TOKEN` is set, else None (used by `shanzhi run`)."""
    env = environment() if env is None else env
    token = env.telegram_token_value
    if not token:
        return None
    if env.telegram_webhook_url:
        kwargs.setdefault("mode", "webhook")
        kwargs.setdefault("webhook_url", env.telegram_webhook_url)
    if kwargs.get("mode") == "webhook":
        if env.telegram_webhook_secret:
            kwargs.setdefault("secret_token", env.telegram_webhook_secret.get_secret_value())
        if env.telegram_webhook_listen:
            kwargs.setdefault("listen", env.telegram_webhook_listen)
        if env.telegram_webhook_port:
            kwargs.setdefault("port", env.telegram_webhook_port)
    root = kwargs.pop("api_root", None) or env.telegram_api_url
    if root:  # a Bot API server's root, e.g. http://127.0.0.1:8081 (self-hosted telegram-bot-api)
        kwargs.setdefault("base_url", root.rstrip("/") + "/bot")
        kwargs.setdefault("base_file_url", root.rstrip("/") + "/file/bot")
    return TelegramAdapter(token, **kwargs)
