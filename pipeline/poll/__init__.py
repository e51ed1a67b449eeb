"""One feed poll end to end, and the scheduler that runs polls."""
