"""Custom actions: thin, one module per concern. Rules live in bot/."""

# What people type must not reach the action server's log unredacted (bot/privacy).
from bot.privacy.logging import install_redacting_filter  # noqa: E402

install_redacting_filter()
