# Havana-era nova package (test data).
