"""The event store: its tables, the write path, the pruning of audit events, the usage streams' cursor and
their rules, the maintained counts, filters, pages, the known resources and the event-type catalogue. It
imports only the base; what a reader may see comes in from identity as a query condition, and the usage
fold hears of new usage events by a signal (writes.usage_events_written)."""
