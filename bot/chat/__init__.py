"""The chat side: a stored message routed to a command or the services, who is told what, and every string a user
sees. It writes outbound messages into the caller's transaction; it never sends (that is `bot.delivery`)."""
