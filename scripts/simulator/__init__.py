"""The vendor simulator: a local stand-in for an asynchronous image vendor (never deployed)."""
