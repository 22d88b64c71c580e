"""The bottom layer: settings, the database handle, column types and field rules, the error catalogue as
data, and the metrics every layer records. It imports nothing else of the app."""
