"""Telegram through python-telegram-bot: `adapter` (polling, webhook, translation), `webhook` (the ASGI
endpoint), `wire` (limits, rendering, errors), `settings` (from config and the environment)."""
