"""The pure, clock-free core: no I/O, no threads, no wall clock."""
