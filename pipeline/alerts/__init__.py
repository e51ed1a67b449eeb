"""Alert delivery: the dispatcher and its channels."""
