"""Hardware-in-the-loop harness: protocol, transports, flashers, reports, pytest plugin."""
