"""Operations at the edge: metrics, health, request logs, serving behind nginx, and the commands with the loops
they run (the CLI, the follower, the importer, the demo data, make run). It may import every other package."""
