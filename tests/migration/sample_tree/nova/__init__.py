# An Essex-era nova, vendored by acme for its scheduler client (truncated sample).
