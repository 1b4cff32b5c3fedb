# Essex-era nova package (test data).
