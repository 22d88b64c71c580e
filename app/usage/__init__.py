"""Usage arithmetic: the fold of the usage streams into rollups (metering), and the Usage Service's reports
from them. It imports the store and the base."""
