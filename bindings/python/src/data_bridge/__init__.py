"""data-bridge: clients for data-bridge-kv. See data_bridge.kv."""
