"""Getting messages out and in whatever the platforms and the database do: the outbox loop (paced, retried, never
lost), how long to wait before the next message to a chat, and holding or spooling while the database is down."""
