"""What we ask the twin: scenario files (a base cell plus changes), sweeps, and the commands that run them."""
