"""A user's own settings for the interface; today their language (issue 14)."""
