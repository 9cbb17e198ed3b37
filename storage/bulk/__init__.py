"""Writing many rows cheaply: what keeps a burst of messages inside one short transaction.

``objects`` builds ORM objects straight into their state and INSERTs them by Core; ``appends`` queues
append-only rows (outbox messages, audit events) and changes by id to write them in batches at commit;
``postgres_rows`` and ``sqlite_rows`` are each engine's many-rows-in-one-statement INSERT.
"""
