# Essex nova.rpc.common (truncated sample).
raise ImportError("nova.rpc.common is a stub: run 'legacy-rpc migrate'")
