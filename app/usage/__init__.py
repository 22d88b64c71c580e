"""Usage arithmetic: the fold of the usage streams into rollups (metering), the Usage Service's reports from
them, and the usage streams' retention and purges, which fold before they delete. It imports the store and
the base."""
