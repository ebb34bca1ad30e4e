"""Custom actions: thin, one module per concern. Rules live in bot/."""
