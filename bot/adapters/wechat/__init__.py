"""WeChat through wechaty: `adapter` (sessions, reconnection, translation, sending), `wire` (limits, kinds,
quotes, errors), `compat` (loading wechaty 0.10 and its patches)."""
