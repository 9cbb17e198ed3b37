"""The test harness: databases, the local chat, fake platforms at their wire, crash workers, paths."""
