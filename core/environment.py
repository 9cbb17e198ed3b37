"""The environment variables the bot reads, all of them, in one place (pydantic-settings).

Secrets (the Telegram token, the WeChat puppet token, a production database URL) live only here, never in
config.yaml: an operator sets them in the service's environment and a config file can be shared or committed.
Each is read when asked for (`environment()`), so a test or an operator's shell that sets one before the bot is
built is heard.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", frozen=True)

    #: overrides config.yaml's `database`, so production credentials stay out of the file
    database_url: str | None = Field(None, validation_alias="SHANZHI_DATABASE_URL")
    #: off/0/false/no: this process never leads the schedules (e.g. a web-only worker)
    scheduler: bool = Field(True, validation_alias="SHANZHI_SCHEDULER")
    telegram_token: SecretStr | None = Field(None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_webhook_url: str | None = Field(None, validation_alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: SecretStr | None = Field(None, validation_alias="TELEGRAM_WEBHOOK_SECRET")
    telegram_webhook_listen: str | None = Field(None, validation_alias="TELEGRAM_WEBHOOK_LISTEN")
    telegram_webhook_port: int | None = Field(None, validation_alias="TELEGRAM_WEBHOOK_PORT")
    #: a Bot API server's root, e.g. http://127.0.0.1:8081 (a self-hosted telegram-bot-api)
    telegram_api_url: str | None = Field(None, validation_alias="TELEGRAM_API_URL")
    wechat_token: SecretStr | None = Field(None, validation_alias="WECHATY_PUPPET_SERVICE_TOKEN")
    wechat_endpoint: str | None = Field(None, validation_alias="WECHATY_PUPPET_SERVICE_ENDPOINT")

    @property
    def telegram_token_value(self) -> str:
        return self.telegram_token.get_secret_value().strip() if self.telegram_token else ""

    @property
    def wechat_token_value(self) -> str:
        return self.wechat_token.get_secret_value().strip() if self.wechat_token else ""


def environment() -> Environment:
    return Environment()
