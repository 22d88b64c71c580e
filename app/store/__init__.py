"""The event store: its tables, every write and delete (the write path, retention, purges), the usage
streams' cursor, the maintained counts, filters, pages, the known resources and the event-type catalogue.
It imports only the base."""
