"""The local runtime: template reader, gateway, queue consumers, scheduler, servers, stack."""
