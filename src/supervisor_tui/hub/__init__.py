"""The collector: adapters → store → rules, and the write-back outbox."""
